// Typed events: a codec trait the user specialises, a schema registry with
// upcasters and validators, typed publish and typed handlers.
//
//   struct OrderPlaced { std::string order_id; long cents; };
//   template <> struct weir::Codec<OrderPlaced> {
//     static constexpr std::string_view type = "shop.order.placed";
//     static constexpr std::uint32_t version = 2;         // current schema
//     static void encode(const OrderPlaced& v, std::string& out);
//     static weir::Result<OrderPlaced> decode(std::string_view bytes);  // current version only
//   };
//
//   auto schemas = std::make_shared<weir::SchemaRegistry>();
//   schemas->add_upcaster("shop.order.placed", 1, [](std::string_view v1) -> weir::Result<std::string> {...});
//   weir::publish(topic, OrderPlaced{...}, {.key = id}, schemas.get());
//   bus->subscribe("orders", {.group = "billing"},
//                  weir::typed_handler<OrderPlaced>(schemas, [](const OrderPlaced& o, const weir::Message& m) {
//                    return charge(o) ? weir::Outcome::done() : weir::Outcome::retry();
//                  }));
//
// An event whose type does not match, whose version is newer than the
// consumer's, that no upcaster chain can bring to the current version, or
// that does not decode, is a permanent failure: the typed handler returns
// Outcome::fail(reason) without calling the user's function.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "weir/bus.hpp"
#include "weir/consumer.hpp"
#include "weir/event.hpp"
#include "weir/status.hpp"

namespace weir {

// Specialise for each event type T with: `type` (CloudEvents type),
// `version` (current schema version, >= 1), `encode(const T&, std::string&)`
// and `decode(std::string_view) -> Result<T>` (bytes of the current version).
template <typename T>
struct Codec;

// Upcasters and validators per event type.
//
// Thread-safety: thread-safe; registrations take an exclusive lock, lookups a
// shared one. Register before publishing or consuming the type.
class SchemaRegistry {
 public:
  // Turns bytes of version `from` into bytes of version `from + 1`.
  using Upcaster = std::function<Result<std::string>(std::string_view bytes)>;
  // Checks an encoded event before it is published; an error rejects it.
  using Validator = std::function<Status(std::string_view bytes)>;

  // Registers the upcaster from `from_version` to `from_version + 1`.
  // kAlreadyExists if one is registered; kInvalidArgument for an empty type,
  // version 0 or an empty function.
  Status add_upcaster(std::string_view type, std::uint32_t from_version, Upcaster upcaster);
  // Registers the validator of `type` (replacing any earlier one).
  Status set_validator(std::string_view type, Validator validator);

  // Brings `bytes` of (type, version) to `target` by applying the chain
  // version -> version+1 -> ... -> target. kFailedPrecondition names the
  // missing step; an upcaster's error is returned with the step it failed.
  Result<std::string> upcast(std::string_view type, std::uint32_t version, std::uint32_t target,
                             std::string_view bytes) const;
  // Runs the type's validator, if any.
  Status validate(std::string_view type, std::string_view bytes) const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::pair<std::string, std::uint32_t>, Upcaster, std::less<>> upcasters_;
  std::map<std::string, Validator, std::less<>> validators_;
};

// Envelope and routing for a typed publish.
struct TypedPublish {
  std::string_view key{};
  std::string_view id{};  // empty: a derived id (see Event::id)
  std::string_view source{};
  std::string_view traceparent{};
  std::span<const Header> headers = {};
  std::string_view content_type = "application/octet-stream";
  PublishOptions options = {};
};

// Encodes `value` with Codec<T>, stamps the type and schema version, runs
// the registry's validator for the type (if a registry is given) and
// publishes. A validation failure is kInvalidArgument and nothing is
// enqueued. Thread-safe.
template <typename T>
Result<PublishReceipt> publish(const Topic& topic, const T& value, const TypedPublish& how = {},
                               const SchemaRegistry* registry = nullptr) {
  thread_local std::string buffer;
  buffer.clear();
  Codec<T>::encode(value, buffer);
  if (registry) {
    if (Status s = registry->validate(Codec<T>::type, buffer); !s)
      return Status::invalid_argument("event of type '" + std::string(Codec<T>::type) +
                                      "' failed validation: " + s.message());
  }
  Event e;
  e.key = how.key;
  e.payload = buffer;
  e.headers = how.headers;
  e.id = how.id;
  e.source = how.source;
  e.type = Codec<T>::type;
  e.content_type = how.content_type;
  e.schema_version = Codec<T>::version;
  e.traceparent = how.traceparent;
  return topic.publish(e, how.options);
}

// Decodes bytes of schema version `version` (0 is read as 1) of T's type
// into T: the current version directly, an older one upcast with the
// registry's chain first, a newer one refused. Errors say why
// (kInvalidArgument for a newer version, kFailedPrecondition for a missing
// registry or upcast step, the codec's or upcaster's error otherwise).
template <typename T>
Result<T> decode_version(std::uint32_t version, std::string_view bytes, const SchemaRegistry* registry) {
  const std::uint32_t v = version ? version : 1;
  if (v == Codec<T>::version) return Codec<T>::decode(bytes);
  if (v > Codec<T>::version)
    return Status::invalid_argument("event of type '" + std::string(Codec<T>::type) + "' has schema version " +
                                    std::to_string(v) + ", newer than this consumer's " +
                                    std::to_string(Codec<T>::version));
  if (!registry)
    return Status::failed_precondition("event of type '" + std::string(Codec<T>::type) + "' has version " +
                                       std::to_string(v) + " and no schema registry was given to upcast it");
  auto up = registry->upcast(Codec<T>::type, v, Codec<T>::version, bytes);
  if (!up) return up.status();
  return Codec<T>::decode(*up);
}

// Decodes a message into T: checks the type, upcasts older versions with the
// registry, refuses newer ones. Errors say why (kInvalidArgument for type or
// version problems, the codec's or upcaster's error otherwise).
template <typename T>
Result<T> decode_message(const Message& m, const SchemaRegistry* registry) {
  if (m.type() != Codec<T>::type)
    return Status::invalid_argument("event type '" + std::string(m.type()) + "' is not '" +
                                    std::string(Codec<T>::type) + "'");
  return decode_version<T>(m.schema_version(), m.payload(), registry);
}

// A Handler that decodes each event into T (upcasting older versions) and
// calls fn(const T&, const Message&) -> Outcome. An event that cannot be
// decoded is a permanent failure: Outcome::fail with the reason, fn not
// called. The registry must outlive the subscription.
template <typename T, typename Fn>
Handler typed_handler(std::shared_ptr<const SchemaRegistry> registry, Fn fn) {
  return [registry = std::move(registry), fn = std::move(fn)](const Message& m) -> Outcome {
    auto value = decode_message<T>(m, registry.get());
    if (!value) return Outcome::fail("cannot decode: " + value.status().to_string());
    return fn(*value, m);
  };
}

}  // namespace weir
