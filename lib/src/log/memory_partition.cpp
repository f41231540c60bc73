#include "log/memory_partition.hpp"

#include <algorithm>

#include "record/record.hpp"

namespace weir::internal {

Result<std::uint32_t> MemoryPartition::read(Offset from, std::uint32_t first_attempt, std::span<Message> out,
                                            ReadBatch&) {
  PartitionLog& log = ring();
  // One pass: each slot's sequence is checked (acquire) and its record
  // decoded while the line is at hand (a separate readable() pass touched
  // every slot twice). Slots a few ahead are prefetched: a lagging group
  // reads lines written long ago (a full ring is megabytes), so each would
  // otherwise be one cache miss in turn. The bound is the batch, not the
  // claim counter: loading tail_ here took its line from the producers'
  // claim CAS on every read, which a caught-up group does once per event or
  // two (m1 one-publish 1.4-2.6x without it, docs/performance.md); a hint
  // past the last claimed slot only warms a line a producer writes next.
  constexpr Offset kAhead = 8;
  const Offset bound = from + out.size();
  std::uint32_t n = 0;
  for (; n < out.size(); ++n) {
    const Offset o = from + n;
    if (!log.published(o)) break;
    if (o + kAhead < bound) log.prefetch(o + kAhead);
    out[n] = decode_record(log.record(o), topic(), index(), o, n == 0 ? first_attempt : 1, origin());
  }
  return n;
}

std::int64_t MemoryPartition::time_at(Offset o) {
  return ring().readable(o, 1) ? record_time_us(ring().record(o)) : 0;
}

// The partition may be written concurrently: a temporary reader pins the
// held slots while we look, and only published slots are read.
Result<Offset> MemoryPartition::offset_for_time(std::int64_t time_us) {
  PartitionLog& log = ring();
  ReaderCursor pin;
  log.add_reader(&pin, 0);
  const Offset end = log.end();
  Offset found = end;
  for (Offset o = pin.next.load(std::memory_order_relaxed); o < end; ++o) {
    if (!log.readable(o, 1) || record_time_us(log.record(o)) >= time_us) {
      found = o;
      break;
    }
  }
  log.remove_reader(&pin);
  return found;
}

Status MemoryPartition::for_each(Offset from, const std::function<bool(const Message&)>& fn) {
  PartitionLog& log = ring();
  ReaderCursor pin;
  log.add_reader(&pin, from);
  const Offset end = log.end();
  for (Offset o = pin.next.load(std::memory_order_relaxed); o < end && log.readable(o, 1); ++o)
    if (!fn(decode_record(log.record(o), topic(), index(), o, 1, origin()))) break;
  log.remove_reader(&pin);
  return Status::ok();
}

}  // namespace weir::internal
