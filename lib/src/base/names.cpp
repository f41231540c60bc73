#include "base/names.hpp"

namespace weir::internal {

std::string name_problem(std::string_view what, std::string_view name) {
  if (name.empty()) return std::string(what) + " name is empty";
  if (name.size() > kMaxNameBytes)
    return std::string(what) + " name is " + std::to_string(name.size()) + " characters long; at most " +
           std::to_string(kMaxNameBytes) + " are allowed";
  if (name == "." || name == "..") return std::string(what) + " name may not be '.' or '..'";
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok)
      return std::string(what) + " name '" + std::string(name) + "' has a character outside [A-Za-z0-9._-]";
  }
  return {};
}

}  // namespace weir::internal
