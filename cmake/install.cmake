# Install and export the final `weir` target: headers, the library (static, or
# shared with BUILD_SHARED_LIBS=ON), find_package(weir CONFIG) files and
# weir.pc. Included at the end of lib/CMakeLists.txt. The Kafka bridge
# installs itself as the component `kafka` (bridge/kafka/CMakeLists.txt), in
# its own export set, so the core's package never needs librdkafka.
include(CMakePackageConfigHelpers)
set(WEIR_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/weir)
install(TARGETS weir EXPORT weirTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/include/weir DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${WEIR_GENERATED_INCLUDE_DIR}/weir/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/weir)
install(EXPORT weirTargets NAMESPACE weir:: FILE weirTargets.cmake DESTINATION ${WEIR_CMAKE_INSTALL_DIR})

# weir_is_static(TARGET OUT): OUT is TRUE for a static library. A static
# library leaves its dependencies (LMDB, librdkafka) for the user's link line;
# a shared one records them itself (DT_NEEDED), so its users need only -lweir.
function(weir_is_static target out)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "STATIC_LIBRARY")
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()
weir_is_static(weir WEIR_STATIC)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/weirConfig.cmake.in
  ${PROJECT_BINARY_DIR}/weirConfig.cmake INSTALL_DESTINATION ${WEIR_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/weirConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/weirConfig.cmake ${PROJECT_BINARY_DIR}/weirConfigVersion.cmake
  DESTINATION ${WEIR_CMAKE_INSTALL_DIR})

# The .pc files find their prefix relative to themselves, so the package can
# be installed (or moved) anywhere. weir_install_pc(NAME TARGET REQUIRES DEPS)
# configures cmake/NAME.pc.in and installs NAME.pc: REQUIRES always under
# "Requires"; DEPS (the libraries TARGET links privately) under "Requires"
# when TARGET is static (its users link them) and under "Requires.private"
# when it is shared. The bridge uses it for weir-kafka.pc.
function(weir_install_pc name target requires deps)
  file(RELATIVE_PATH WEIR_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  weir_is_static(${target} static)
  set(WEIR_PC_REQUIRES "${requires}")
  set(WEIR_PC_REQUIRES_PRIVATE "")
  if(static)
    list(APPEND WEIR_PC_REQUIRES ${deps})
  else()
    set(WEIR_PC_REQUIRES_PRIVATE "${deps}")
  endif()
  list(JOIN WEIR_PC_REQUIRES ", " WEIR_PC_REQUIRES)
  list(JOIN WEIR_PC_REQUIRES_PRIVATE ", " WEIR_PC_REQUIRES_PRIVATE)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${name}.pc.in ${PROJECT_BINARY_DIR}/${name}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${name}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()
weir_install_pc(weir weir "" lmdb)
