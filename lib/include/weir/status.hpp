// Status and Result<T>: how every weir call reports failure.
//
// weir never throws across its public API. A call that can fail returns a
// [[nodiscard]] Status (code + human-readable message) or a Result<T> (a T or
// a Status). Messages name the offending input ("topic 'orders' not found").
//
// Thread-safety: Status and Result are values; distinct objects may be used
// from different threads freely, one object is not thread-safe.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace weir {

// What went wrong, in categories a caller can act on. Switch statements over
// Code must have a `default:` — new codes may be added (see the reserved one).
enum class Code : int {
  kOk = 0,
  // The caller passed something malformed: empty or invalid name, zero or
  // absurd partition count, null handler, payload over the limit. Retrying
  // the same call fails again.
  kInvalidArgument = 1,
  // A named thing does not exist: unknown topic, unknown group.
  kNotFound = 2,
  // Something with that name exists already: topic declared with different
  // options, a group subscribed twice.
  kAlreadyExists = 3,
  // A bound was reached: partition full under the reject policy, quota
  // reached, disk full. Retrying later may succeed.
  kResourceExhausted = 4,
  // A publish blocked on a full partition for longer than its timeout.
  kDeadlineExceeded = 5,
  // The bus (or subscription) is closing or closed; nothing more is accepted.
  kClosed = 6,
  // The call is valid but the state does not allow it now (e.g. seeking a
  // group that is running).
  kFailedPrecondition = 7,
  // Stored data failed validation (checksum mismatch, truncated record).
  kDataLoss = 8,
  // The operating system or storage layer failed (open, write, fsync).
  kIoError = 9,
  // A bug in weir: an invariant did not hold. Please report it.
  kInternal = 10,

  // Not a real code: forces callers' switches to carry a `default:` so that
  // adding a code is not a breaking change.
  kDoNotUseReservedForFutureExpansionUseDefaultInSwitchInstead_ = 20
};

// The name of a code ("invalid_argument"); stable, suitable for logs/metrics.
std::string_view code_name(Code code) noexcept;

// Outcome of an operation: ok, or a code with a message.
class [[nodiscard]] Status {
 public:
  Status() noexcept = default;  // ok
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() noexcept { return Status(); }
  static Status invalid_argument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status already_exists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status resource_exhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
  static Status deadline_exceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
  static Status closed(std::string m) { return {Code::kClosed, std::move(m)}; }
  static Status failed_precondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
  static Status data_loss(std::string m) { return {Code::kDataLoss, std::move(m)}; }
  static Status io_error(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool is_ok() const noexcept { return code_ == Code::kOk; }
  explicit operator bool() const noexcept { return is_ok(); }
  Code code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // "invalid_argument: topic name is empty", or "ok".
  std::string to_string() const;

  // Marks a Status as deliberately ignored.
  void ignore() const noexcept {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

namespace detail {
// Prints "weir: Result::value() on error: <status.to_string()>" and a newline
// to stderr, then calls std::abort(). Out of line so that Result stays small.
[[noreturn]] void result_value_on_error(const Status& status) noexcept;
}  // namespace detail

// A value of type T, or the Status saying why there is none.
//
// value() (and `*`, `->`) of an error Result is a programming error with a
// defined end in every build type: weir prints
//   weir: Result::value() on error: <code_name>: <message>
// to stderr and calls std::abort(). It never throws (no exception crosses
// weir's API). Check `is_ok()`/`operator bool` first, or use value_or().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).is_ok() && "Result built from an ok Status has no value");
  }

  bool is_ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return is_ok(); }

  T& value() & { check(); return *std::get_if<0>(&v_); }
  const T& value() const& { check(); return *std::get_if<0>(&v_); }
  T&& value() && { check(); return std::move(*std::get_if<0>(&v_)); }
  // The value, or `fallback` when this holds an error.
  template <typename U>
  T value_or(U&& fallback) const& {
    return is_ok() ? *std::get_if<0>(&v_) : static_cast<T>(std::forward<U>(fallback));
  }
  template <typename U>
  T value_or(U&& fallback) && {
    return is_ok() ? std::move(*std::get_if<0>(&v_)) : static_cast<T>(std::forward<U>(fallback));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // The error; an ok Status when this holds a value.
  Status status() const { return is_ok() ? Status() : std::get<1>(v_); }

  // Marks a Result as deliberately ignored (value and error alike).
  void ignore() const noexcept {}

 private:
  void check() const {
    if (!is_ok()) detail::result_value_on_error(*std::get_if<1>(&v_));
  }

  std::variant<T, Status> v_;
};

}  // namespace weir
