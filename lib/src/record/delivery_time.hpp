// Delayed delivery (Event::deliver_at_us): the publish-time check and the
// consumer's "is it due?" question, one definition for every serve path.
//
// The due time is judged against the system clock (deliver_at_us is wall
// time). A worker that finds an event not yet due waits on the steady clock
// for the remaining time, at most kDueRecheck at a time, and then asks again:
// so a step of the wall clock moves the delivery by at most that much more,
// and never lets an event through before its time.
//
// Thread-safety: pure functions.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "weir/event.hpp"
#include "weir/status.hpp"

namespace weir::internal {

inline constexpr std::chrono::milliseconds kDueRecheck{1000};

inline std::int64_t system_now_us() noexcept {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Whether a publish may carry `deliver_at_us` (see Event::deliver_at_us).
inline Status check_deliver_at(std::int64_t deliver_at_us) {
  if (deliver_at_us < 0)
    return Status::invalid_argument("deliver_at_us " + std::to_string(deliver_at_us) +
                                    " is negative; give microseconds since the Unix epoch, or 0 for at once");
  const std::int64_t now = system_now_us();
  if (deliver_at_us > now && deliver_at_us - now > kMaxDeliveryDelayUs)
    return Status::invalid_argument("deliver_at_us " + std::to_string(deliver_at_us) + " is " +
                                    std::to_string((deliver_at_us - now) / 1000000) +
                                    " s from now; at most " + std::to_string(kMaxDeliveryDelayUs / 86400000000) +
                                    " days (" + std::to_string(kMaxDeliveryDelayUs / 1000000) + " s) ahead are allowed "
                                    "(microseconds since the Unix epoch expected)");
  return Status::ok();
}

// nullopt if `m` may be handed to a handler now; otherwise the steady-clock
// time at which to ask again (its due time, or kDueRecheck from now if that
// is sooner).
inline std::optional<std::chrono::steady_clock::time_point> not_due_until(const Message& m) noexcept {
  const std::int64_t at = m.deliver_at_us();
  if (at == 0) return std::nullopt;
  const std::int64_t now = system_now_us();
  if (at <= now) return std::nullopt;
  const auto wait = std::min<std::chrono::microseconds>(std::chrono::microseconds(at - now), kDueRecheck);
  return std::chrono::steady_clock::now() + wait;
}

}  // namespace weir::internal
