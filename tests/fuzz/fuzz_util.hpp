// Shared by weir's libFuzzer targets: reading every view of a decoded
// message, so the sanitizers see any read outside the record.
#pragma once

#include <cstddef>
#include <cstdint>

#include "weir/event.hpp"

namespace weir::fuzz {

// Touches every byte a handler could reach through `m`; returns a checksum
// so the compiler keeps the reads.
inline std::uint64_t touch(const Message& m) {
  std::uint64_t sum = m.key().size() + m.payload().size() + m.id().size() + m.type().size() +
                      m.source().size() + m.traceparent().size() + m.content_type().size() +
                      m.dataschema().size() + m.spec_version().size();
  for (char c : m.payload()) sum += static_cast<unsigned char>(c);
  for (std::size_t i = 0; i < m.header_count(); ++i) {
    const Header h = m.header_at(i);
    for (char c : h.name) sum += static_cast<unsigned char>(c);
    for (char c : h.value) sum += static_cast<unsigned char>(c);
    sum += m.header(h.name).has_value();
  }
  return sum + m.header("absent").has_value();
}

}  // namespace weir::fuzz
