#include "log/memory_partition.hpp"

#include "record/record.hpp"

namespace weir::internal {

Result<std::uint32_t> MemoryPartition::read(Offset from, std::uint32_t first_attempt, std::span<Message> out,
                                            ReadBatch&) {
  PartitionLog& log = ring();
  const std::uint32_t n = log.readable(from, static_cast<std::uint32_t>(out.size()));
  for (std::uint32_t i = 0; i < n; ++i)
    out[i] = decode_record(log.record(from + i), topic(), index(), from + i, i == 0 ? first_attempt : 1, origin());
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
