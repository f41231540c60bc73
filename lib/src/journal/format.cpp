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
  k.append(group).push_back('\0');
  if (k.size() + event_id.size() <= kMaxKey) {
    k.append(event_id);
  } else {
    // Over-long ids: a prefix (for humans) and a 128-bit digest of the whole
    // id, marked by a 0x01 byte ids cannot start a suffix with here.
    k.append(event_id.substr(0, kMaxKey - k.size() - 34)).push_back('\x01');
    k.append(digest128(event_id));
  }
  return k;
}

std::string state_key(std::string_view group, std::string_view table, std::string_view key) {
  std::string k;
  k.reserve(group.size() + table.size() + key.size() + 2);
  k.append(group).push_back('\0');
  k.append(table).push_back('\0');
  k.append(key);
  return k;
}

std::string attempts_key(std::string_view group, std::string_view topic, std::uint32_t partition) {
  char be[4];
  put_be32(be, partition);
  return state_key(std::string(group) + ".attempts", topic, std::string_view(be, 4));
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
