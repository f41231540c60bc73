// libFuzzer target: the header-block walk. A block header_block_valid()
// accepts must be walked by Message (header_at, header(name), the envelope
// accessors) entirely inside its bytes, and its entries must add up to
// exactly its length; a block it refuses is never walked.
//
// Input: 4 bytes header count | the block.
#include <cstring>
#include <string>

#include "fuzz_util.hpp"
#include "record/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weir::internal;
  if (size < 4) return 0;
  std::uint32_t count;
  std::memcpy(&count, data, 4);
  const std::size_t len = size - 4;
  std::string rec(sizeof(RecordHead) + len, '\0');
  std::memcpy(rec.data() + sizeof(RecordHead), data + 4, len);
  if (!header_block_valid(rec.data() + sizeof(RecordHead), len, count)) return 0;
  const RecordHead head{0, 0, 0, static_cast<std::uint32_t>(len), count};
  std::memcpy(rec.data(), &head, sizeof head);
  const weir::Message m = decode_record(rec.data(), "t", 0, 0, 1);
  if (m.header_count() != count) __builtin_trap();
  std::size_t walked = 0;
  for (std::size_t i = 0; i < m.header_count(); ++i) {
    const weir::Header h = m.header_at(i);
    walked += 8 + h.name.size() + h.value.size();
  }
  if (walked != len) __builtin_trap();
  volatile std::uint64_t sink = weir::fuzz::touch(m);
  (void)sink;
  return 0;
}
