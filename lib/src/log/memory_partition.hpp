// MemoryPartition: the ring is the log (see log/partition.hpp). Groups read
// events in place; a slot is reused once every attached cursor passed it.
//
// Thread-safety: as Partition.
#pragma once

#include "log/partition.hpp"

namespace weir::internal {

class MemoryPartition final : public Partition {
 public:
  MemoryPartition(const std::string& topic, std::uint32_t index, std::uint32_t capacity_pow2,
                  std::uint64_t origin)
      : Partition(topic, index, capacity_pow2, origin) {}

  Offset start() const noexcept override { return ring().head(); }
  Offset readable_end() const noexcept override { return ring().end(); }
  std::uint64_t bytes() const noexcept override { return 0; }
  Result<Offset> offset_for_time(std::int64_t time_us) override;
  Status for_each(Offset from, const std::function<bool(const Message&)>& fn) override;

  Status writable() const override { return Status::ok(); }
  Status wait_durable(Offset, Ack, std::chrono::milliseconds) const override {
    return Status::invalid_argument("topic '" + topic() + "' is a memory topic; it acks at level none only");
  }

  void attach(ReaderCursor& cursor, Offset from, bool) override { ring().add_reader(&cursor, from); }
  void detach(ReaderCursor& cursor) override { ring().remove_reader(&cursor); }
  bool has_events(Offset from, bool seq_cst) const noexcept override {
    // Spinning polls the next slot's sequence, not the claim counter: the
    // producers' claim CAS on the counter would then wait for its line on
    // every publish. The re-check after Doorbell::prepare (seq_cst) reads
    // the claim counter: the reader's half of the wake-up handshake.
    return seq_cst ? ring().end_seq_cst() > from : ring().readable(from, 1) != 0;
  }
  Result<std::uint32_t> read(Offset from, std::uint32_t first_attempt, std::span<Message> out,
                             ReadBatch& scratch) override;
  void advance(ReaderCursor& cursor, Offset to) noexcept override {
    // Release pairs with advance_head()'s acquire: our reads of these slots
    // are finished before a producer may reuse them.
    cursor.next.store(to, std::memory_order_release);
    ring().reader_advanced();
  }
  std::int64_t time_at(Offset o) override;
};

}  // namespace weir::internal
