// Key encoders and decoders of the journal's named databases (format.hpp).
#include "journal/format.hpp"

#include <cstdio>
#include <cstring>

#include "base/coding.hpp"

namespace weir::internal {

namespace {

// A 128-bit digest of an over-long id (two independent 64-bit hashes).
std::string digest128(std::string_view s) {
  std::uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  for (unsigned char c : s) {
    a = (a ^ c) * 0x100000001b3ull;
    b = (b + c + 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
    b ^= b >> 29;
  }
  char out[33];
  std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return std::string(out, 32);
}

constexpr std::size_t kMaxKey = 500;  // below LMDB's 511-byte key limit

// "<a>\0<b>\0<c>": the shape of state and internal keys.
std::string nul_joined(std::string_view a, std::string_view b, std::string_view c) {
  std::string k;
  k.reserve(a.size() + b.size() + c.size() + 2);
  k.append(a).push_back('\0');
  k.append(b).push_back('\0');
  k.append(c);
  return k;
}

}  // namespace

std::string offsets_key(std::string_view group, std::string_view topic, std::uint32_t p) {
  std::string k;
  k.reserve(group.size() + topic.size() + 6);
  k.append(group).push_back('\0');
  k.append(topic).push_back('\0');
  char be[4];
  put_be32(be, p);
  k.append(be, 4);
  return k;
}

std::optional<OffsetsKey> parse_offsets_key(std::string_view k) {
  const auto a = k.find('\0');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = k.find('\0', a + 1);
  if (b == std::string_view::npos || k.size() != b + 1 + 4) return std::nullopt;
  return OffsetsKey{std::string(k.substr(0, a)), std::string(k.substr(a + 1, b - a - 1)),
                    get_be32(k.data() + b + 1)};
}

std::string dedupe_key(std::string_view group, std::string_view event_id) {
  std::string k;
  dedupe_key_into(k, group, event_id);
  return k;
}

void dedupe_key_into(std::string& k, std::string_view group, std::string_view event_id) {
  k.assign(group).push_back('\0');
  if (k.size() + event_id.size() <= kMaxKey) {
    k.append(event_id);
  } else {
    // Over-long ids: a prefix (for humans) and a 128-bit digest of the whole
    // id, marked by a 0x01 byte ids cannot start a suffix with here.
    k.append(event_id.substr(0, kMaxKey - k.size() - 34)).push_back('\x01');
    k.append(digest128(event_id));
  }
}

std::string state_key(std::string_view group, std::string_view table, std::string_view key) {
  return nul_joined(group, table, key);
}

void state_key_into(std::string& k, std::string_view group, std::string_view table, std::string_view key) {
  k.assign(group).push_back('\0');
  k.append(table).push_back('\0');
  k.append(key);
}

std::string internal_key(std::string_view group, std::string_view kind, std::string_view rest) {
  return nul_joined(group, kind, rest);
}

std::string attempts_prefix(std::string_view group, std::string_view topic) {
  std::string rest(topic);
  rest.push_back('\0');
  return internal_key(group, kAttemptsKind, rest);
}

std::string attempts_key(std::string_view group, std::string_view topic, std::uint32_t partition) {
  char be[4];
  put_be32(be, partition);
  return attempts_prefix(group, topic).append(be, 4);
}

std::string settled_prefix(std::string_view group) { return internal_key(group, kSettledKind, {}); }

std::string settled_key(std::string_view group, std::uint64_t dlq_offset) {
  char be[8];
  put_be64(be, dlq_offset);
  return internal_key(group, kSettledKind, std::string_view(be, 8));
}

std::optional<InternalKey> parse_internal_key(std::string_view k) {
  const auto a = k.find('\0');
  if (a == std::string_view::npos || a == 0) return std::nullopt;
  const auto b = k.find('\0', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  InternalKey out;
  out.group = std::string(k.substr(0, a));
  const std::string_view kind = k.substr(a + 1, b - a - 1), rest = k.substr(b + 1);
  if (kind == kAttemptsKind) {
    const auto c = rest.find('\0');
    if (c == std::string_view::npos || c == 0 || rest.size() != c + 1 + 4) return std::nullopt;
    out.kind = kAttemptsKind;
    out.topic = std::string(rest.substr(0, c));
    out.partition = get_be32(rest.data() + c + 1);
    return out;
  }
  if (kind == kSettledKind && rest.size() == 8) {
    out.kind = kSettledKind;
    out.offset = get_be64(rest.data());
    return out;
  }
  return std::nullopt;
}

std::string v1_settled_key(std::string_view group, std::uint64_t dlq_offset) {
  char be[8];
  put_be64(be, dlq_offset);
  return state_key(std::string(group) + ".dlq", "settled", std::string_view(be, 8));
}

std::optional<std::string> v1_internal_key(std::string_view k, std::string_view value) {
  // "<pseudo-group>\0<table>\0<key>", the pseudo-group "<group>.attempts"
  // or "<group>.dlq".
  const auto a = k.find('\0');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = k.find('\0', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  const std::string_view pseudo = k.substr(0, a), table = k.substr(a + 1, b - a - 1), key = k.substr(b + 1);
  auto group_of = [&](std::string_view suffix) -> std::optional<std::string_view> {
    if (pseudo.size() <= suffix.size() || pseudo.substr(pseudo.size() - suffix.size()) != suffix) return std::nullopt;
    return pseudo.substr(0, pseudo.size() - suffix.size());
  };
  if (auto g = group_of(".attempts"); g && !table.empty() && key.size() == 4 && !decode_attempts(value).empty())
    return attempts_key(*g, table, get_be32(key.data()));
  if (auto g = group_of(".dlq"); g && table == "settled" && key.size() == 8 && (value == "redriven" || value == "purged"))
    return settled_key(*g, get_be64(key.data()));
  return std::nullopt;
}

void append_attempt(std::string& record, std::uint64_t offset, std::uint32_t attempt) {
  char e[12];
  put_be64(e, offset);
  put_be32(e + 8, attempt);
  record.append(e, 12);
}

std::vector<std::pair<std::uint64_t, std::uint32_t>> decode_attempts(std::string_view v) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> out;
  const bool big_endian = v.size() % 12 == 1 && v[0] == kAttemptsBigEndian;
  if (!big_endian && v.size() % 12 != 0) return out;
  for (std::size_t i = big_endian ? 1 : 0; i + 12 <= v.size(); i += 12) {
    std::uint64_t off;
    std::uint32_t attempt;
    if (big_endian) {
      off = get_be64(v.data() + i);
      attempt = get_be32(v.data() + i + 8);
    } else {
      std::memcpy(&off, v.data() + i, 8);
      std::memcpy(&attempt, v.data() + i + 8, 4);
    }
    out.emplace_back(off, attempt);
  }
  return out;
}

}  // namespace weir::internal
