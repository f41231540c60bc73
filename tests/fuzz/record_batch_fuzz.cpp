// libFuzzer target: a stored record batch (journal/batch.hpp), as another
// process or a damaged disk may have left it. scan_batch must reject what
// is inconsistent with kDataLoss and hand on only records that decode and
// walk within their bytes.
//
// Input: 1 mode byte | 8 bytes key offset | the batch value. Mode bit 0
// set: the header and record checksums are recomputed first, so the fuzzer
// reaches the structural checks behind them.
#include <cstring>
#include <string>

#include "fuzz_util.hpp"
#include "journal/batch.hpp"
#include "record/record.hpp"

namespace {

void fix_checksums(std::string& v) {
  using namespace weir::internal;
  if (v.size() < sizeof(BatchHeader)) return;
  BatchHeader h;
  std::memcpy(&h, v.data(), sizeof h);
  seal_batch_header(h);
  std::memcpy(v.data(), &h, sizeof h);
  for (std::size_t pos = sizeof h; v.size() - pos >= kRecordFrame;) {
    std::uint32_t len;
    std::memcpy(&len, v.data() + pos + 4, 4);
    if (len > v.size() - pos - kRecordFrame) break;
    const std::uint32_t crc = crc32c(v.data() + pos + 4, 4 + std::size_t{len});
    std::memcpy(v.data() + pos, &crc, 4);
    pos += kRecordFrame + len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weir::internal;
  if (size < 9) return 0;
  const bool fix = data[0] & 1;
  std::uint64_t key;
  std::memcpy(&key, data + 1, 8);
  std::string value(reinterpret_cast<const char*>(data) + 9, size - 9);
  if (fix) fix_checksums(value);
  // The value as LMDB hands it: its own allocation, so ASan sees overreads.
  volatile std::uint64_t sink = 0;
  const weir::Status s = scan_batch(value, "t", 0, key, 0, [&](std::uint64_t off, std::string_view rec) {
    const weir::Message m = decode_record(rec.data(), "t", 0, off, 1);
    sink = sink + weir::fuzz::touch(m) + static_cast<std::uint64_t>(record_time_us(rec.data()));
    return true;
  });
  if (!s.is_ok() && s.code() != weir::Code::kDataLoss) __builtin_trap();
  return 0;
}
