// HandlerInvoker: calls a group's handler - a Handler, a BatchHandler or a
// StateHandler - with the group's rules, and returns what became of the
// call as a value.
//
// Rules: an exception thrown by the handler is a transient failure
// (Outcome::retry) or, with exceptions_are_transient off, a permanent one
// (Outcome::fail), its what() in the reason; a BatchHandler's exception
// fails the batch's first event transiently (the batch is handed again). A
// single-event call that takes longer than `timeout` (0: no limit) is a
// transient failure whatever it returned (a StateHandler's writes are
// dropped with it).
//
// Handler latency: call() records a sampled call's duration (the caller
// chooses which calls, so it pays two clock reads on those only);
// call_batch() times every batch while metrics sampling is on.
//
// Thread-safety: call() and call_batch() may run on every worker at once
// (the user's handler must allow that, as SubscribeOptions says); the
// latency histogram is lock-free.
#pragma once

#include <chrono>
#include <span>
#include <variant>

#include "metrics/histogram.hpp"
#include "weir/consumer.hpp"

namespace weir::internal {

class HandlerInvoker {
 public:
  using AnyHandler = std::variant<Handler, BatchHandler, StateHandler>;

  struct Rules {
    std::chrono::milliseconds timeout{0};  // 0: none
    bool exceptions_are_transient = true;
    bool sample_latency = true;  // Options::metrics_sampling
  };

  HandlerInvoker(AnyHandler handler, const Rules& rules) : handler_(std::move(handler)), rules_(rules) {}

  const BatchHandler* batch_handler() const noexcept { return std::get_if<BatchHandler>(&handler_); }
  bool is_state_handler() const noexcept { return std::holds_alternative<StateHandler>(handler_); }

  // One event to a Handler or StateHandler (`state`: the StateHandler's
  // view; null for a Handler). `sampled`: record its latency.
  // REQUIRES: the handler is not a BatchHandler.
  Outcome call(const Message& m, State* state, bool sampled);

  // A run of events to the BatchHandler. REQUIRES: batch_handler().
  BatchOutcome call_batch(std::span<const Message> ms);

  const AtomicLatencyHistogram& latency() const noexcept { return latency_; }

 private:
  const AnyHandler handler_;
  const Rules rules_;
  AtomicLatencyHistogram latency_;  // handler call durations, ns
};

}  // namespace weir::internal
