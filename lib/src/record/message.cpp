#include <cstring>

#include "weir/event.hpp"

namespace weir {

namespace {
// Walks the encoded header block (see internal/record.hpp) within its
// `left` bytes: false, and nothing read, where an entry would pass the end.
// Stored records are validated before a Message sees them
// (internal::header_block_valid); this bound holds whatever the block says.
bool header_at_pos(const char*& p, std::uint64_t& left, Header& h) noexcept {
  if (left < 8) return false;
  std::uint32_t lens[2];
  std::memcpy(lens, p, sizeof lens);
  const std::uint64_t n = 8ull + lens[0] + lens[1];
  if (n > left) return false;
  h = Header{std::string_view(p + 8, lens[0]), std::string_view(p + 8 + lens[0], lens[1])};
  p += n;
  left -= n;
  return true;
}
}  // namespace

Header Message::header_at(std::size_t i) const noexcept {
  const char* p = headers_;
  std::uint64_t left = headers_bytes_;
  Header h{};
  for (std::size_t k = 0; k <= i && k < header_count_; ++k)
    if (!header_at_pos(p, left, h)) return Header{};
  return h;
}

std::optional<std::string_view> Message::header(std::string_view name) const noexcept {
  const char* p = headers_;
  std::uint64_t left = headers_bytes_;
  Header h{};
  for (std::size_t k = 0; k < header_count_ && header_at_pos(p, left, h); ++k)
    if (h.name == name) return h.value;
  return std::nullopt;
}

}  // namespace weir

// --- Envelope ---------------------------------------------------------------

#include <charconv>
#include <chrono>
#include <limits>
#include <random>
#include <string>

namespace weir {

namespace {

std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Writes the UUIDv7 with the given fields as 36 characters of text.
void format_uuid_v7(std::uint64_t ms, std::uint32_t rand_a, std::uint64_t rand_b, char* out) noexcept {
  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x70 | ((rand_a >> 8) & 0x0f));
  b[7] = static_cast<unsigned char>(rand_a);
  b[8] = static_cast<unsigned char>(0x80 | ((rand_b >> 56) & 0x3f));
  for (int i = 9; i < 16; ++i) b[i] = static_cast<unsigned char>(rand_b >> (8 * (15 - i)));
  static constexpr char kHex[] = "0123456789abcdef";
  int o = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = kHex[b[i] >> 4];
    out[o++] = kHex[b[i] & 15];
  }
}

bool lower_hex(std::string_view s) noexcept {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool all_zero(std::string_view s) noexcept {
  for (char c : s)
    if (c != '0') return false;
  return true;
}

// A header holding a decimal number of at most `max`, digits only; 0 if
// absent, empty, or anything else (weir's numeric headers: schema version,
// delivery time).
std::uint64_t decimal_header(std::optional<std::string_view> v, std::uint64_t max) noexcept {
  if (!v || v->empty()) return 0;
  std::uint64_t n = 0;
  const char* end = v->data() + v->size();
  const auto [ptr, ec] = std::from_chars(v->data(), end, n);
  return ec == std::errc() && ptr == end && n <= max ? n : 0;
}

}  // namespace

std::string_view Message::id() const noexcept {
  if (auto given = header(envelope_header::kId)) return *given;
  char* const out = reinterpret_cast<char*>(derived_id_);
  if (!id_ready_) {
    // A UUIDv7 from the event's time and its place in the log: the same on
    // every delivery, distinct for distinct (log, topic, partition, offset).
    const std::uint64_t a = splitmix64(origin_ ^ fnv1a(topic_));
    const std::uint64_t b = splitmix64(a ^ (std::uint64_t{partition_} << 48) ^ offset_);
    const std::uint64_t c = splitmix64(b ^ 0x5bd1e9955bd1e995ull);
    const std::uint64_t ms = static_cast<std::uint64_t>(time_us_ > 0 ? time_us_ / 1000 : 0);
    format_uuid_v7(ms, static_cast<std::uint32_t>(b & 0xfff), c, out);
    id_ready_ = true;
  }
  return std::string_view(out, 36);
}

std::uint32_t Message::schema_version() const noexcept {
  return static_cast<std::uint32_t>(decimal_header(header(envelope_header::kSchemaVersion), 0xffffffffull));
}

std::int64_t Message::deliver_at_us() const noexcept {
  return static_cast<std::int64_t>(decimal_header(header(envelope_header::kDeliverAt),
                                                  std::numeric_limits<std::int64_t>::max()));
}

std::uint32_t Message::priority() const noexcept {
  if (header_count_ == 0) return 0;
  return static_cast<std::uint32_t>(decimal_header(header(envelope_header::kPriority), kMaxPriorityLevels - 1));
}

std::string new_event_id() {
  // Per thread: the last millisecond used and a 12-bit counter within it
  // (RFC 9562, method 1), so one thread's ids sort in generation order; the
  // 62 random bits keep threads apart.
  struct State {
    std::mt19937_64 rng{std::random_device{}() ^ (std::uint64_t(std::random_device{}()) << 32)};
    std::uint64_t last_ms = 0;
    std::uint32_t counter = 0;
  };
  thread_local State st;
  std::uint64_t ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  if (ms <= st.last_ms) {
    ms = st.last_ms;
    if (++st.counter > 0xfff) {  // counter exhausted: borrow the next millisecond
      ms = ++st.last_ms;
      st.counter = 0;
    }
  } else {
    st.last_ms = ms;
    st.counter = static_cast<std::uint32_t>(st.rng() & 0x3ff);  // leave room to count up
  }
  std::string out(36, '\0');
  format_uuid_v7(ms, st.counter, st.rng(), out.data());
  return out;
}

bool is_valid_traceparent(std::string_view tp) noexcept {
  // version "-" trace-id(32) "-" parent-id(16) "-" flags(2)
  if (tp.size() < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return false;
  const std::string_view version = tp.substr(0, 2), trace = tp.substr(3, 32), parent = tp.substr(36, 16),
                         flags = tp.substr(53, 2);
  if (!lower_hex(version) || !lower_hex(trace) || !lower_hex(parent) || !lower_hex(flags)) return false;
  if (version == "ff" || all_zero(trace) || all_zero(parent)) return false;
  if (version == "00") return tp.size() == 55;
  return tp.size() == 55 || tp[55] == '-';  // later versions may append fields
}

}  // namespace weir
