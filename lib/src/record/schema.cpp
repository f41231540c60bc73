#include <mutex>

#include "weir/codec.hpp"

namespace weir {

Status SchemaRegistry::add_upcaster(std::string_view type, std::uint32_t from_version, Upcaster upcaster) {
  if (type.empty()) return Status::invalid_argument("upcaster type is empty");
  if (from_version == 0) return Status::invalid_argument("schema versions start at 1");
  if (!upcaster) return Status::invalid_argument("upcaster for '" + std::string(type) + "' is empty");
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto [it, inserted] = upcasters_.emplace(std::make_pair(std::string(type), from_version), std::move(upcaster));
  if (!inserted)
    return Status::already_exists("an upcaster of '" + std::string(type) + "' from version " +
                                  std::to_string(from_version) + " is already registered");
  return Status::ok();
}

Status SchemaRegistry::set_validator(std::string_view type, Validator validator) {
  if (type.empty()) return Status::invalid_argument("validator type is empty");
  if (!validator) return Status::invalid_argument("validator for '" + std::string(type) + "' is empty");
  std::unique_lock<std::shared_mutex> lock(mu_);
  validators_[std::string(type)] = std::move(validator);
  return Status::ok();
}

Result<std::string> SchemaRegistry::upcast(std::string_view type, std::uint32_t version, std::uint32_t target,
                                           std::string_view bytes) const {
  if (version > target)
    return Status::invalid_argument("cannot upcast '" + std::string(type) + "' from version " +
                                    std::to_string(version) + " down to " + std::to_string(target));
  std::string current(bytes);
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (std::uint32_t v = version; v < target; ++v) {
    auto it = upcasters_.find(std::make_pair(std::string(type), v));
    if (it == upcasters_.end())
      return Status::failed_precondition("no upcaster registered for '" + std::string(type) + "' from version " +
                                         std::to_string(v) + " to " + std::to_string(v + 1));
    auto next = it->second(current);
    if (!next)
      return Status(next.status().code(), "upcasting '" + std::string(type) + "' from version " +
                                              std::to_string(v) + ": " + next.status().message());
    current = std::move(next).value();
  }
  return current;
}

Status SchemaRegistry::validate(std::string_view type, std::string_view bytes) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = validators_.find(type);
  if (it == validators_.end()) return Status::ok();
  return it->second(bytes);
}

}  // namespace weir
