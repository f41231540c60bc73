#include "weir/status.hpp"

#include <cstdio>
#include <cstdlib>

namespace weir {

std::string_view code_name(Code code) noexcept {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid_argument";
    case Code::kNotFound: return "not_found";
    case Code::kAlreadyExists: return "already_exists";
    case Code::kResourceExhausted: return "resource_exhausted";
    case Code::kDeadlineExceeded: return "deadline_exceeded";
    case Code::kClosed: return "closed";
    case Code::kFailedPrecondition: return "failed_precondition";
    case Code::kDataLoss: return "data_loss";
    case Code::kIoError: return "io_error";
    case Code::kInternal: return "internal";
    default: return "unknown";
  }
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  std::string s(code_name(code_));
  s += ": ";
  s += message_;
  return s;
}

namespace detail {

void result_value_on_error(const Status& status) noexcept {
  const std::string text = status.to_string();
  std::fprintf(stderr, "weir: Result::value() on error: %s\n", text.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace detail

}  // namespace weir
