// Reading a control request's fields and writing response values (see
// control/request.hpp).
#include "control/request.hpp"

#include <utility>

namespace weir::internal::request {

[[noreturn]] void bad(std::string message) { throw BadRequest{Status::invalid_argument(std::move(message))}; }

json error_json(const Status& s) {
  return json{{"ok", false}, {"code", std::string(code_name(s.code()))}, {"error", s.message()}};
}

void check(const Status& s) {
  if (!s) throw BadRequest{s};
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    i += n;
  }
  return true;
}

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string base64(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> unbase64(std::string_view in) {
  std::string out;
  unsigned v = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (char c : in) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) return std::nullopt;
    const char* p = std::strchr(kB64, c);
    if (c == '\0' || p == nullptr) return std::nullopt;
    v = (v << 6) | static_cast<unsigned>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xFF);
    }
  }
  if (pad > 2 || (in.size() % 4) != 0) return std::nullopt;
  return out;
}

// Bytes as JSON: text under `name` when UTF-8, else base64 under name_b64.
void put_bytes(json& j, const std::string& name, std::string_view bytes) {
  if (valid_utf8(bytes)) j[name] = std::string(bytes);
  else j[name + "_b64"] = base64(bytes);
}

// --- request fields ------------------------------------------------------------

const json* field(const json& req, const char* name) {
  auto it = req.find(name);
  return it == req.end() || it->is_null() ? nullptr : &*it;
}

std::string need_string(const json& req, const char* name) {
  const json* f = field(req, name);
  if (!f) bad(std::string("missing field \"") + name + "\"");
  if (!f->is_string()) bad(std::string("field \"") + name + "\" must be a string");
  return f->get<std::string>();
}

std::optional<std::string> opt_string(const json& req, const char* name) {
  if (!field(req, name)) return std::nullopt;
  return need_string(req, name);
}

std::optional<std::uint64_t> opt_uint(const json& req, const char* name, std::uint64_t max) {
  const json* f = field(req, name);
  if (!f) return std::nullopt;
  if (!f->is_number_unsigned() || f->get<std::uint64_t>() > max)
    bad(std::string("field \"") + name + "\" must be an integer within 0.." + std::to_string(max));
  return f->get<std::uint64_t>();
}

std::uint64_t need_uint(const json& req, const char* name, std::uint64_t max) {
  auto v = opt_uint(req, name, max);
  if (!v) bad(std::string("missing field \"") + name + "\"");
  return *v;
}

std::optional<std::int64_t> opt_int(const json& req, const char* name) {
  const json* f = field(req, name);
  if (!f) return std::nullopt;
  if (!f->is_number_integer()) bad(std::string("field \"") + name + "\" must be an integer");
  return f->get<std::int64_t>();
}

bool opt_bool(const json& req, const char* name) {
  const json* f = field(req, name);
  if (!f) return false;
  if (!f->is_boolean()) bad(std::string("field \"") + name + "\" must be true or false");
  return f->get<bool>();
}

std::optional<std::uint32_t> opt_partition(const json& req) {
  auto p = opt_uint(req, "partition", 0xFFFFFFFFu);
  if (!p) return std::nullopt;
  return static_cast<std::uint32_t>(*p);
}

// Bytes given as "<name>" (text) or "<name>_b64" (base64).
std::string bytes_field(const json& obj, const std::string& name) {
  const json* text = field(obj, name.c_str());
  const json* b64 = field(obj, (name + "_b64").c_str());
  if (text && b64) bad("give \"" + name + "\" or \"" + name + "_b64\", not both");
  if (text) {
    if (!text->is_string()) bad("field \"" + name + "\" must be a string");
    return text->get<std::string>();
  }
  if (b64) {
    auto v = b64->is_string() ? unbase64(b64->get<std::string>()) : std::nullopt;
    if (!v) bad("field \"" + name + "_b64\" is not valid base64");
    return *v;
  }
  return {};
}

DeadLetterFilter filter_of(const json& req) {
  DeadLetterFilter f;
  const json* fj = field(req, "filter");
  if (!fj) return f;
  if (!fj->is_object()) bad("field \"filter\" must be an object");
  f.dlq_offset = opt_uint(*fj, "dlq_offset");
  f.key = opt_string(*fj, "key");
  f.type = opt_string(*fj, "type");
  f.reason_contains = opt_string(*fj, "reason_contains");
  f.failed_from_us = opt_int(*fj, "failed_from_us").value_or(0);
  f.failed_to_us = opt_int(*fj, "failed_to_us").value_or(0);
  return f;
}

json letter_json(const DeadLetter& d) {
  json j{{"dlq_offset", d.dlq_offset}, {"id", d.id}};
  put_bytes(j, "key", d.key);
  j["type"] = d.type;
  j["reason"] = d.reason;
  j["attempts"] = d.attempts;
  j["first_failure_us"] = d.first_failure_us;
  j["last_failure_us"] = d.last_failure_us;
  j["topic"] = d.topic;
  j["partition"] = d.partition;
  j["offset"] = d.offset;
  j["payload_bytes"] = d.payload_bytes;
  j["time_us"] = d.time_us;
  return j;
}

Ack ack_of(const json& req) {
  const std::string a = opt_string(req, "ack").value_or("journal");
  if (a == "none") return Ack::kNone;
  if (a == "journal") return Ack::kJournal;
  if (a == "fsync") return Ack::kFsync;
  bad("field \"ack\" must be none, journal or fsync, not '" + a + "'");
}

SeekTo seek_target_of(const json& req) {
  const std::string to = need_string(req, "to");
  if (to == "earliest") return SeekTo::earliest();
  if (to == "latest") return SeekTo::latest();
  if (to == "offset") return SeekTo::to_offset(need_uint(req, "offset"));
  if (to == "time") {
    auto t = opt_int(req, "time_us");
    if (!t) bad("missing field \"time_us\"");
    return SeekTo::to_time(*t);
  }
  bad("field \"to\" must be earliest, latest, offset or time, not '" + to + "'");
}

// The seek target, with "create": true allowing a group that never
// consumed the topic (SeekTo::create_group).
SeekTo seek_to_of(const json& req) {
  SeekTo st = seek_target_of(req);
  if (auto it = req.find("create"); it != req.end()) {
    if (!it->is_boolean()) bad("field \"create\" must be true or false");
    st.create_group = it->get<bool>();
  }
  return st;
}

}  // namespace weir::internal::request
