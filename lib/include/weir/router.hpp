// Routing by event type: one subscription, a handler per CloudEvents type.
//
//   auto schemas = std::make_shared<weir::SchemaRegistry>();
//   schemas->add_upcaster("shop.order.placed", 1, upcast_v1_to_v2).ignore();
//   weir::TypeRouter router(weir::UnknownType::kDeadLetter, schemas);
//   router.on<OrderPlaced>([](const OrderPlaced& o, const weir::Message&) { return charge(o); })
//         .on<OrderCancelled>([](const OrderCancelled& c, const weir::Message&, weir::State& s) {
//           return s.erase("open", c.order_id) ? weir::Outcome::done() : weir::Outcome::retry();
//         })
//         .renamed<OrderPlaced>("shop.order.created", 1);   // the type's old name
//   bus->subscribe("orders", {.group = "billing"}, router.state_handler().value()).ignore();
//
// Each event goes to the route of its type (Message::type()), decoded with
// Codec<T> (decode_version: an older schema version is upcast by the
// registry's chain to the current one, a newer one refused). What a route
// returns is the event's outcome, with every rule of the group (retries,
// dead letters, breaker). An event that does not decode is a permanent
// failure: Outcome::fail("cannot decode event of type '...': <why>"), the
// route not called. An event of a type without a route gets the router's
// UnknownType policy, which every router names (there is no default).
//
// One router makes one of three handler kinds, so typed routes compose with
// the rest of the subscribe API:
// - handler(): a Handler (per event; memory or journaled topics);
// - state_handler(): a StateHandler: routes may take State& and write state
//   tables and State::publish follow-ups; the group is transactional, so
//   dedupe, the state writes and the offset commit are one LMDB transaction
//   per event (exactly-once effects: typed + state + dedupe in one API);
// - batch_handler(): a BatchHandler: consecutive events of one type with a
//   batch route (on_batch) reach it as one span, in offset order; other
//   events go one by one to their routes.
// Order: the router changes nothing about order: events are handled in the
// group's order (per key per topic-partition), whatever their types.
//
// Thread-safety: register routes (on, on_batch, renamed) from one thread,
// before making handlers: a handler takes a snapshot of the routes, so a
// route added later reaches only handlers made after it. The handlers made
// are thread-safe (routes are called concurrently for different
// partitions, as any handler is); unknown_types() may be read from any
// thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "weir/codec.hpp"
#include "weir/consumer.hpp"
#include "weir/event.hpp"
#include "weir/status.hpp"

namespace weir {

// What a TypeRouter does with an event whose type has no route. The reason
// it gives is "no route for event type '<type>' (schema version V)" ("no
// route for an event without a type" when it has none).
enum class UnknownType : std::uint8_t {
  // Acknowledged without calling a route (in a StateHandler group its dedupe
  // record and offset are committed as for a handled event); counted in
  // TypeRouter::unknown_types(). For consumers that read a topic shared with
  // types they do not care about.
  kSkip = 0,
  // Outcome::fail(reason): a permanent failure, so the event goes to the
  // group's dead-letter topic at once and is then acked (with
  // SubscribeOptions::dead_letter off, the partition stops at it instead).
  kDeadLetter = 1,
  // Outcome::retry(reason): a transient failure: the event is retried with
  // the group's backoff, holding back what waits behind it (its partition,
  // or its key with RetryMode::kNonBlocking), and dead-lettered after
  // max_attempts ("gave up after N attempts; last failure: no route ...").
  // For a consumer deployed before the version of itself that knows the
  // type: nothing passes the unknown event meanwhile.
  kRetry = 2,
};

// A subscription's handlers per event type (see the top of this file).
//
// Thread-safety: see the top of this file.
class TypeRouter {
 public:
  // `unknown`: the policy for types without a route. `registry`: upcasters
  // for older schema versions (may be null when every event is current).
  // The registry must outlive the handlers made.
  explicit TypeRouter(UnknownType unknown, std::shared_ptr<const SchemaRegistry> registry = nullptr)
      : unknown_(unknown), registry_(std::move(registry)) {}

  // Routes events of Codec<T>::type to `fn`, which is either
  //   Outcome(const T&, const Message&)          (any handler kind), or
  //   Outcome(const T&, const Message&, State&)  (state_handler() only).
  // A second route for one type is a configuration error (reported by the
  // handler makers, kInvalidArgument).
  template <typename T, typename Fn>
  TypeRouter& on(Fn fn) {
    constexpr bool kState = std::is_invocable_r_v<Outcome, Fn&, const T&, const Message&, State&>;
    static_assert(kState || std::is_invocable_r_v<Outcome, Fn&, const T&, const Message&>,
                  "TypeRouter::on<T>: fn must be Outcome(const T&, const Message&) or "
                  "Outcome(const T&, const Message&, State&)");
    Route r;
    r.type = std::string(Codec<T>::type);
    r.takes_state = kState;
    r.one = [fn = std::move(fn), registry = registry_](const Message& m, std::uint32_t version,
                                                        State* state) mutable -> Outcome {
      auto v = decode_version<T>(version, m.payload(), registry.get());
      if (!v) return cannot_decode(Codec<T>::type, v.status());
      if constexpr (kState) {
        return fn(*v, m, *state);
      } else {
        (void)state;
        return fn(*v, m);
      }
    };
    add(std::move(r));
    return *this;
  }

  // Routes events of Codec<T>::type to a batch route
  //   BatchOutcome(std::span<const T>, std::span<const Message>)
  // (values and their messages, index for index): in batch_handler(), each
  // run of consecutive events of the type in a batch comes as one call; in
  // handler(), each event comes as a span of one. Not in state_handler()
  // (kFailedPrecondition). An event of the run that does not decode ends the
  // run: the events before it go to fn, and it fails permanently as in on().
  template <typename T, typename Fn>
  TypeRouter& on_batch(Fn fn) {
    static_assert(std::is_invocable_r_v<BatchOutcome, Fn&, std::span<const T>, std::span<const Message>>,
                  "TypeRouter::on_batch<T>: fn must be BatchOutcome(std::span<const T>, std::span<const Message>)");
    Route r;
    r.type = std::string(Codec<T>::type);
    r.batch = [fn = std::move(fn), registry = registry_](std::span<const Message> ms,
                                                         std::span<const std::uint32_t> versions) mutable
        -> BatchOutcome {
      std::vector<T> values;
      values.reserve(ms.size());
      for (std::size_t i = 0; i < ms.size(); ++i) {
        auto v = decode_version<T>(versions[i], ms[i].payload(), registry.get());
        if (!v) {
          const Outcome failed = cannot_decode(Codec<T>::type, v.status());
          if (i == 0) return BatchOutcome{0, failed};
          BatchOutcome head = fn(std::span<const T>(values), ms.first(i));
          return head.done < i ? head : BatchOutcome{i, failed};
        }
        values.push_back(std::move(*v));
      }
      return fn(std::span<const T>(values), ms);
    };
    add(std::move(r));
    return *this;
  }

  // Upcasting from an older type name: events of `old_type` go to T's route
  // (registered with on or on_batch, before or after this call), their
  // payload read as schema version `as_version` of T's type (whatever
  // version they carry) and upcast by the registry from there to the
  // current one. kInvalidArgument at the handler makers for an empty or
  // already routed old type, as_version 0 or newer than Codec<T>::version, or
  // no route for T.
  template <typename T>
  TypeRouter& renamed(std::string_view old_type, std::uint32_t as_version) {
    renames_.push_back(Rename{std::string(old_type), std::string(Codec<T>::type), as_version, Codec<T>::version});
    return *this;
  }

  // The handlers (see the top of this file). Errors: kInvalidArgument for a
  // configuration error (two routes for a type, a bad renamed()), naming
  // it; kFailedPrecondition when a route needs another kind (a State route
  // outside state_handler(), a batch route in state_handler()).
  Result<Handler> handler() const;
  Result<StateHandler> state_handler() const;
  Result<BatchHandler> batch_handler() const;

  // Events without a route seen by this router's handlers so far (whatever
  // the policy; a retried one counts on each delivery). Thread-safe
  // (relaxed).
  std::uint64_t unknown_types() const noexcept { return counters_->unknown.load(std::memory_order_relaxed); }

 private:
  struct Route {
    std::string type;
    bool takes_state = false;
    // One of the two is set.
    std::function<Outcome(const Message&, std::uint32_t version, State*)> one;
    std::function<BatchOutcome(std::span<const Message>, std::span<const std::uint32_t>)> batch;
  };
  struct Rename {
    std::string old_type, type;
    std::uint32_t as_version, current;
  };
  struct Counters {
    std::atomic<std::uint64_t> unknown{0};
  };
  // What a handler dispatches on: type -> (route, forced version or 0).
  struct Table {
    std::vector<Route> routes;
    std::map<std::string, std::pair<std::size_t, std::uint32_t>, std::less<>> by_type;
    UnknownType unknown{};
    std::shared_ptr<Counters> counters;
    // The route of `m` and the schema version to read it as; null if none.
    const Route* find(const Message& m, std::uint32_t& version) const {
      auto it = by_type.find(m.type());
      if (it == by_type.end()) return nullptr;
      version = it->second.second ? it->second.second : m.schema_version();
      return &routes[it->second.first];
    }
    // The outcome of an event without a route, per the policy.
    Outcome unrouted(const Message& m) const;
    // One event through its route (batch routes get a span of one).
    Outcome one(const Message& m, State* state) const;
  };

  static Outcome cannot_decode(std::string_view type, const Status& why) {
    return Outcome::fail("cannot decode event of type '" + std::string(type) + "': " + why.to_string());
  }
  void add(Route r) {
    if (!routes_.empty())
      for (const Route& have : routes_)
        if (have.type == r.type && problem_.empty()) problem_ = "two routes for event type '" + r.type + "'";
    routes_.push_back(std::move(r));
  }
  // The snapshot a handler dispatches on, or the configuration error (or
  // kFailedPrecondition for a State route, or a batch route, where the
  // handler kind cannot call it).
  Result<std::shared_ptr<const Table>> table(bool state_routes, bool batch_routes) const;

  const UnknownType unknown_;
  const std::shared_ptr<const SchemaRegistry> registry_;
  std::vector<Route> routes_;
  std::vector<Rename> renames_;
  std::string problem_;  // the first configuration error
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
};

// --- implementation -----------------------------------------------------------

inline Outcome TypeRouter::Table::unrouted(const Message& m) const {
  counters->unknown.fetch_add(1, std::memory_order_relaxed);
  std::string why = m.type().empty() ? std::string("no route for an event without a type")
                                     : "no route for event type '" + std::string(m.type()) + "' (schema version " +
                                           std::to_string(m.schema_version() ? m.schema_version() : 1) + ")";
  switch (unknown) {
    case UnknownType::kSkip: return Outcome::done();
    case UnknownType::kDeadLetter: return Outcome::fail(std::move(why));
    case UnknownType::kRetry: return Outcome::retry(std::move(why));
  }
  return Outcome::fail(std::move(why) + "; and UnknownType holds no known policy");
}

inline Outcome TypeRouter::Table::one(const Message& m, State* state) const {
  std::uint32_t version = 0;
  const Route* r = find(m, version);
  if (!r) return unrouted(m);
  if (r->one) return r->one(m, version, state);
  const BatchOutcome b = r->batch(std::span<const Message>(&m, 1), std::span<const std::uint32_t>(&version, 1));
  return b.done >= 1 ? Outcome::done() : b.rest;
}

inline Result<std::shared_ptr<const TypeRouter::Table>> TypeRouter::table(bool state_routes,
                                                                          bool batch_routes) const {
  if (!problem_.empty()) return Status::invalid_argument("TypeRouter: " + problem_);
  for (const Route& r : routes_) {
    if (r.takes_state && !state_routes)
      return Status::failed_precondition("TypeRouter: the route for '" + r.type +
                                         "' takes State&; subscribe state_handler() (a journaled topic)");
    if (r.batch && !batch_routes)
      return Status::failed_precondition("TypeRouter: the route for '" + r.type +
                                         "' is a batch route; a state handler takes one event at a time");
  }
  auto t = std::make_shared<Table>();
  t->routes = routes_;
  t->unknown = unknown_;
  t->counters = counters_;
  for (std::size_t i = 0; i < routes_.size(); ++i) t->by_type.emplace(routes_[i].type, std::make_pair(i, 0u));
  for (const Rename& r : renames_) {
    auto target = t->by_type.find(r.type);
    if (r.old_type.empty()) return Status::invalid_argument("TypeRouter: renamed() to '" + r.type + "' has an empty old type");
    if (r.as_version == 0 || r.as_version > r.current)
      return Status::invalid_argument("TypeRouter: renamed('" + r.old_type + "', " + std::to_string(r.as_version) +
                                      ") to '" + r.type + "': as_version must be 1.." + std::to_string(r.current));
    if (target == t->by_type.end())
      return Status::invalid_argument("TypeRouter: renamed('" + r.old_type + "') to '" + r.type +
                                      "', which has no route (add on<T> or on_batch<T>)");
    if (t->by_type.count(r.old_type))
      return Status::invalid_argument("TypeRouter: renamed('" + r.old_type + "') names a type that already has a route");
    const std::size_t index = target->second.first;
    t->by_type.emplace(r.old_type, std::make_pair(index, r.as_version));
  }
  return std::shared_ptr<const Table>(std::move(t));
}

inline Result<Handler> TypeRouter::handler() const {
  auto snapshot = table(/*state_routes=*/false, /*batch_routes=*/true);
  if (!snapshot) return snapshot.status();
  return Handler([table = *snapshot](const Message& m) { return table->one(m, nullptr); });
}

inline Result<StateHandler> TypeRouter::state_handler() const {
  auto snapshot = table(/*state_routes=*/true, /*batch_routes=*/false);
  if (!snapshot) return snapshot.status();
  return StateHandler([table = *snapshot](const Message& m, State& s) { return table->one(m, &s); });
}

inline Result<BatchHandler> TypeRouter::batch_handler() const {
  auto snapshot = table(/*state_routes=*/false, /*batch_routes=*/true);
  if (!snapshot) return snapshot.status();
  return BatchHandler([table = *snapshot](std::span<const Message> batch) -> BatchOutcome {
    const Table* t = table.get();
    std::vector<std::uint32_t> versions;
    std::size_t i = 0;
    while (i < batch.size()) {
      std::uint32_t version = 0;
      const Route* r = t->find(batch[i], version);
      if (!r) {
        const Outcome o = t->unrouted(batch[i]);
        if (!o.is_done()) return BatchOutcome{i, o};
        ++i;
        continue;
      }
      if (r->one) {
        const Outcome o = r->one(batch[i], version, nullptr);
        if (!o.is_done()) return BatchOutcome{i, o};
        ++i;
        continue;
      }
      // The run of consecutive events with this batch route.
      versions.assign(1, version);
      std::size_t j = i + 1;
      for (; j < batch.size(); ++j) {
        std::uint32_t v = 0;
        if (t->find(batch[j], v) != r) break;
        versions.push_back(v);
      }
      const BatchOutcome b = r->batch(batch.subspan(i, j - i), versions);
      if (b.done < j - i) return BatchOutcome{i + b.done, b.rest};
      i = j;
    }
    return BatchOutcome::all(batch.size());
  });
}

}  // namespace weir
