#include <cstring>

#include "weir/event.hpp"

namespace weir {

namespace {
// Walks the encoded header block (see internal/record.hpp).
Header header_at_pos(const char*& p) noexcept {
  std::uint32_t lens[2];
  std::memcpy(lens, p, sizeof lens);
  p += sizeof lens;
  Header h{std::string_view(p, lens[0]), std::string_view(p + lens[0], lens[1])};
  p += lens[0] + lens[1];
  return h;
}
}  // namespace

Header Message::header_at(std::size_t i) const noexcept {
  const char* p = headers_;
  Header h{};
  for (std::size_t k = 0; k <= i && k < header_count_; ++k) h = header_at_pos(p);
  return h;
}

std::optional<std::string_view> Message::header(std::string_view name) const noexcept {
  const char* p = headers_;
  for (std::size_t k = 0; k < header_count_; ++k) {
    Header h = header_at_pos(p);
    if (h.name == name) return h.value;
  }
  return std::nullopt;
}

}  // namespace weir
