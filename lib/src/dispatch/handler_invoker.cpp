#include "dispatch/handler_invoker.hpp"

#include <string>

namespace weir::internal {

namespace {
using Clock = std::chrono::steady_clock;

// Calls a batch handler; an exception is a transient failure of the first
// event (the batch is handed again).
BatchOutcome invoke_batch(const BatchHandler& h, std::span<const Message> ms) {
  try {
    return h(ms);
  } catch (const std::exception& e) {
    return BatchOutcome{0, Outcome::retry(std::string("exception: ") + e.what())};
  } catch (...) {
    return BatchOutcome{0, Outcome::retry("exception (not a std::exception)")};
  }
}
}  // namespace

Outcome HandlerInvoker::call(const Message& m, State* state, bool sampled) {
  const bool timed = rules_.timeout.count() > 0;
  const auto t0 = timed || sampled ? Clock::now() : Clock::time_point{};
  Outcome o = Outcome::done();
  try {
    if (state) {
      if (const auto* sh = std::get_if<StateHandler>(&handler_)) {
        o = (*sh)(m, *state);
      } else {
        o = std::get<Handler>(handler_)(m);
      }
    } else {
      o = std::get<Handler>(handler_)(m);
    }
  } catch (const std::exception& e) {
    std::string why = std::string("exception: ") + e.what();
    o = rules_.exceptions_are_transient ? Outcome::retry(std::move(why)) : Outcome::fail(std::move(why));
  } catch (...) {
    std::string why = "exception (not a std::exception)";
    o = rules_.exceptions_are_transient ? Outcome::retry(std::move(why)) : Outcome::fail(std::move(why));
  }
  if (timed || sampled) {
    const auto took = Clock::now() - t0;
    if (sampled)
      latency_.record(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count()));
    // Too slow: a transient failure whatever it returned (writes dropped).
    if (timed && took > rules_.timeout)
      o = Outcome::retry("handler timeout after " +
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()) +
                         " ms (handler_timeout " + std::to_string(rules_.timeout.count()) + " ms)");
  }
  return o;
}

BatchOutcome HandlerInvoker::call_batch(std::span<const Message> ms) {
  const BatchHandler& h = *batch_handler();
  if (!rules_.sample_latency) return invoke_batch(h, ms);
  const auto t0 = Clock::now();
  BatchOutcome bo = invoke_batch(h, ms);
  latency_.record(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()));
  return bo;
}

}  // namespace weir::internal
