// Record batches: how a partition's events are stored in the journal.
//
// A group commit stores each partition's new records as a run of LMDB
// values (as Kafka's log stores record batches), each under the key
// be64(base_offset) in the partition's DBI, each as large as fits inside a
// leaf page (Journal::batch_limit_; a record bigger than that is a batch of
// its own, stored in overflow pages); journals written by earlier versions
// hold one batch per partition per commit, read the same way:
//
//   BatchHeader (32 bytes, crc over the header with crc = 0)
//   count x { u32 crc32c(len | record) | u32 len | record }
//
// where `record` is the encoding of internal/record.hpp. Every record
// carries its own checksum, so a flipped byte is reported at its offset.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "base/crc32c.hpp"
#include "record/record.hpp"
#include "weir/event.hpp"
#include "weir/status.hpp"

namespace weir::internal {

struct BatchHeader {
  std::uint32_t magic;  // kBatchMagic
  std::uint32_t count;
  std::uint64_t base_offset;
  std::int64_t max_time_us;
  std::uint32_t bytes;  // whole value, header included
  std::uint32_t crc;    // crc32c of this header with crc = 0
};
static_assert(sizeof(BatchHeader) == 32, "BatchHeader layout is part of the journal format");

constexpr std::uint32_t kBatchMagic = 0x31425257;  // "WRB1"
constexpr std::size_t kRecordFrame = 8;             // crc + len

inline void seal_batch_header(BatchHeader& h) {
  h.crc = 0;
  h.crc = crc32c(&h, sizeof h);
}

// Appends one record (already encoded) at `out`; returns bytes written.
inline std::size_t frame_record(char* out, const char* rec, std::uint32_t len) {
  std::memcpy(out + 4, &len, 4);
  std::memcpy(out + 8, rec, len);
  const std::uint32_t crc = crc32c(out + 4, 4 + std::size_t{len});
  std::memcpy(out, &crc, 4);
  return kRecordFrame + len;
}

// Checks a stored batch and calls fn(offset, record_view) for each record
// with offset >= from, stopping when fn returns false. Any inconsistency
// (checksums, lengths, a header block that does not match its length and
// count: header_block_valid) is kDataLoss naming topic, partition and
// offset; nothing invalid reaches fn.
//
// The records before `from` are only walked, not checked in full: their
// length is bounded by the batch and must equal what their own head says
// (24 + key + payload + headers), but neither their checksum nor their
// header block is computed, since they are not handed out (a reader that
// resumes inside a batch would otherwise checksum its whole prefix again).
// The walk is what places every returned record at its offset, and a
// damaged length in the prefix is caught twice: by the head's field sum
// (the length is not covered by anything else there) and, if it still
// lands elsewhere, by the checksum of the first record handed out, which
// covers that record's own length and bytes. Callers that must see every
// record checked (verify, recovery) pass from = the batch's base offset.
template <typename Fn>
Status scan_batch(std::string_view value, std::string_view topic, std::uint32_t partition,
                  std::uint64_t key_offset, std::uint64_t from, Fn&& fn) {
  auto where = [&](std::uint64_t off) {
    return "topic '" + std::string(topic) + "' partition " + std::to_string(partition) +
           " offset " + std::to_string(off);
  };
  if (value.size() < sizeof(BatchHeader))
    return Status::data_loss(where(key_offset) + ": batch truncated (" +
                             std::to_string(value.size()) + " bytes)");
  BatchHeader h;
  std::memcpy(&h, value.data(), sizeof h);
  const std::uint32_t stored_crc = h.crc;
  h.crc = 0;
  if (h.magic != kBatchMagic || crc32c(&h, sizeof h) != stored_crc ||
      h.base_offset != key_offset || h.bytes != value.size())
    return Status::data_loss(where(key_offset) + ": batch header checksum mismatch");
  std::size_t pos = sizeof(BatchHeader);
  for (std::uint32_t i = 0; i < h.count; ++i) {
    const std::uint64_t off = h.base_offset + i;
    if (value.size() - pos < kRecordFrame)
      return Status::data_loss(where(off) + ": record truncated");
    std::uint32_t crc, len;
    std::memcpy(&crc, value.data() + pos, 4);
    std::memcpy(&len, value.data() + pos + 4, 4);
    if (len > value.size() - pos - kRecordFrame || len < 24)
      return Status::data_loss(where(off) + ": record length " + std::to_string(len) +
                               " is impossible");
    const bool handed_out = off >= from;
    if (handed_out && crc32c(value.data() + pos + 4, 4 + std::size_t{len}) != crc)
      return Status::data_loss(where(off) + ": record checksum mismatch");
    std::uint32_t lens[4];  // RecordHead's key, payload, headers lengths and count
    std::memcpy(lens, value.data() + pos + kRecordFrame + 8, sizeof lens);
    if (std::uint64_t{24} + lens[0] + lens[1] + lens[2] != len)
      return Status::data_loss(where(off) + ": record fields do not add up to its length");
    if (!handed_out) {
      pos += kRecordFrame + len;
      continue;
    }
    if (!header_block_valid(value.data() + pos + kRecordFrame + 24 + lens[0] + lens[1], lens[2], lens[3]))
      return Status::data_loss(where(off) + ": header block does not match its length and count (" +
                               std::to_string(lens[3]) + " headers, " + std::to_string(lens[2]) + " bytes)");
    if (!fn(off, std::string_view(value.data() + pos + kRecordFrame, len)))
      return Status::ok();
    pos += kRecordFrame + len;
  }
  if (pos != value.size()) return Status::data_loss(where(key_offset) + ": trailing bytes in batch");
  return Status::ok();
}

}  // namespace weir::internal
