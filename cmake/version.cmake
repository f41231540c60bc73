# weir/version.hpp (WEIR_VERSION_* macros and weir::build_info()) for the
# target `weir`: the header is generated into the build tree and installed by
# cmake/install.cmake; build_info.cpp gets this build's facts as definitions.
set(WEIR_GENERATED_INCLUDE_DIR ${PROJECT_BINARY_DIR}/generated/include)
configure_file(${PROJECT_SOURCE_DIR}/cmake/version.hpp.in ${WEIR_GENERATED_INCLUDE_DIR}/weir/version.hpp @ONLY)
target_include_directories(weir PUBLIC $<BUILD_INTERFACE:${WEIR_GENERATED_INCLUDE_DIR}>)
target_sources(weir PRIVATE ${PROJECT_SOURCE_DIR}/lib/src/build_info.cpp)
set_property(SOURCE ${PROJECT_SOURCE_DIR}/lib/src/build_info.cpp APPEND PROPERTY COMPILE_DEFINITIONS
  WEIR_BUILD_VERSION="${PROJECT_VERSION}"
  WEIR_BUILD_VERSION_MAJOR=${PROJECT_VERSION_MAJOR}
  WEIR_BUILD_VERSION_MINOR=${PROJECT_VERSION_MINOR}
  WEIR_BUILD_VERSION_PATCH=${PROJECT_VERSION_PATCH}
  WEIR_BUILD_COMPILER="${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}"
  WEIR_BUILD_TYPE="$<CONFIG>"
  WEIR_BUILD_SHARED=$<STREQUAL:$<TARGET_PROPERTY:weir,TYPE>,SHARED_LIBRARY>)
