// weir::build_info(): constants of this library binary, set by
// cmake/version.cmake (WEIR_BUILD_*) when the library is compiled.
#include "weir/version.hpp"

namespace weir {

BuildInfo build_info() noexcept {
  return {.version = WEIR_BUILD_VERSION,
          .major = WEIR_BUILD_VERSION_MAJOR,
          .minor = WEIR_BUILD_VERSION_MINOR,
          .patch = WEIR_BUILD_VERSION_PATCH,
          .compiler = WEIR_BUILD_COMPILER,
          .build_type = WEIR_BUILD_TYPE,
          .shared = WEIR_BUILD_SHARED != 0};
}

}  // namespace weir
