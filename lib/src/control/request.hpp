// Reading a control request's fields and writing response values
// (docs/control-protocol.md): the typed field readers every verb uses, the
// bytes-as-JSON rule (UTF-8 text, else base64 under "<name>_b64"), and the
// error that ends a request. Used by control/verbs.cpp only.
//
// Thread-safety: free functions over the values they are given.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "weir/bus.hpp"

namespace weir::internal::request {

using nlohmann::json;

// A request that cannot be served, reported as {"ok":false,...}: thrown by
// the readers below and check(), caught by serve_request (never past it).
struct BadRequest {
  Status status;
};

// Throws BadRequest with kInvalidArgument and `message`.
[[noreturn]] void bad(std::string message);
// {"ok":false,"code":...,"error":...} for `s`.
json error_json(const Status& s);
// Throws BadRequest with `s` when it is an error.
void check(const Status& s);

bool valid_utf8(std::string_view s);
std::string base64(std::string_view in);
// nullopt when `in` is not padded standard base64.
std::optional<std::string> unbase64(std::string_view in);
// Bytes as JSON: text under `name` when UTF-8, else base64 under name_b64.
void put_bytes(json& j, const std::string& name, std::string_view bytes);

// --- request fields: absent or null fields are "not given"; a wrong type
// or range throws BadRequest naming the field ---------------------------------
const json* field(const json& req, const char* name);
std::string need_string(const json& req, const char* name);
std::optional<std::string> opt_string(const json& req, const char* name);
std::optional<std::uint64_t> opt_uint(const json& req, const char* name, std::uint64_t max = ~std::uint64_t{0});
std::uint64_t need_uint(const json& req, const char* name, std::uint64_t max = ~std::uint64_t{0});
std::optional<std::int64_t> opt_int(const json& req, const char* name);
bool opt_bool(const json& req, const char* name);
std::optional<std::uint32_t> opt_partition(const json& req);
// Bytes given as "<name>" (text) or "<name>_b64" (base64).
std::string bytes_field(const json& obj, const std::string& name);

// --- typed values -------------------------------------------------------------
DeadLetterFilter filter_of(const json& req);
json letter_json(const DeadLetter& d);
Ack ack_of(const json& req);
SeekTo seek_target_of(const json& req);
// The seek target, with "create": true allowing a group that never
// consumed the topic (SeekTo::create_group).
SeekTo seek_to_of(const json& req);

}  // namespace weir::internal::request
