#include "log/storage.hpp"

#include <algorithm>
#include <bit>

#include "record/record.hpp"

namespace weir::internal {

JournaledPartition::JournaledPartition(Journal& journal, std::unique_ptr<JournalLog> log,
                                       const TopicOptions& o, std::uint32_t capacity_pow2, TopicWakeups wakeups)
    : Partition(log->topic(), log->partition(), capacity_pow2, journal.id()),
      journal_(journal),
      health_(journal.health()),
      log_(std::move(log)),
      retention_age_s_(o.retention_age.count()),
      retention_bytes_(o.retention_bytes),
      retention_events_(o.retention_events),
      readers_(wakeups.readers),
      commits_(wakeups.commits) {
  // The ring restarts where the journal ends; the writer is its one reader.
  const Offset end = log_->committed();
  ring().restart_at(end);
  ring().add_reader(&writer_, end);
}

Status JournaledPartition::writable() const {
  if (health_->stalled())
    if (Status e = health_->error(); !e) return Status::resource_exhausted("journal cannot commit: " + e.to_string());
  return Status::ok();
}

Status JournaledPartition::wait_durable(Offset off, Ack level, std::chrono::milliseconds timeout) const {
  // kFsync: on stable storage (flushed, one flush after the commit); kJournal: committed.
  const bool flush = level == Ack::kFsync;
  auto reached = [&] { return (flush ? log_->flushed() : log_->committed()) > off; };
  auto where = [&] {
    return "offset " + std::to_string(off) + " of topic '" + topic() + "' partition " + std::to_string(index());
  };
  const char* what = flush ? "on stable storage" : "committed";
  std::chrono::steady_clock::time_point deadline{};
  for (;;) {
    if (reached()) return Status::ok();
    // The writer already failed to commit or flush (full disk, the size
    // cap, an I/O error): say so now rather than at the deadline. The event
    // stays queued and is committed (and flushed) if the writer's retries
    // succeed later.
    if (Status w = writable(); !w) return Status(w.code(), where() + " is not " + what + ": " + w.message());
    const auto now = std::chrono::steady_clock::now();
    if (deadline == std::chrono::steady_clock::time_point{}) deadline = now + timeout;
    if (now >= deadline) {
      std::string why = where() + " was not " + what + " within " + std::to_string(timeout.count()) + " ms";
      if (Status e = health_->error(); !e) why += " (journal: " + e.to_string() + ")";
      return Status::deadline_exceeded(why);
    }
    // Flush right after the commit, not one commit later. Through health_,
    // which outlives the journal (a Topic handle may wait after close).
    if (flush) health_->want_flush();
    const std::uint32_t epoch = commits_.prepare();
    if (!reached())
      commits_.wait(epoch, std::min<std::chrono::nanoseconds>(deadline - now, std::chrono::milliseconds(50)));
    commits_.finish();
  }
}

void JournaledPartition::attach(ReaderCursor& cursor, Offset from, bool resumed) {
  // A stored offset below the retained start is kept: the first read
  // reports the retention gap to the group.
  const Offset lo = resumed ? 0 : log_->start();
  cursor.next.store(std::clamp(from, lo, log_->committed()), std::memory_order_release);
}

Result<std::uint32_t> JournaledPartition::read(Offset from, std::uint32_t first_attempt, std::span<Message> out,
                                               ReadBatch& rb) {
  // Copy the batch out of a short read transaction: handlers then run with
  // no LMDB transaction open, however slow they are.
  if (Status s = journal_.read(*log_, from, static_cast<std::uint32_t>(out.size()), rb); !s) return s;
  const auto n = static_cast<std::uint32_t>(rb.recs.size());
  for (std::uint32_t i = 0; i < n; ++i)
    out[i] = decode_record(rb.bytes.data() + rb.recs[i].pos, topic(), index(), rb.recs[i].offset,
                           i == 0 ? first_attempt : 1, origin());
  return n;
}

std::int64_t JournaledPartition::time_at(Offset o) {
  ReadBatch rb;
  if (!journal_.read(*log_, o, 1, rb) || rb.recs.empty()) return 0;
  return record_time_us(rb.bytes.data() + rb.recs[0].pos);
}

Status JournaledPartition::for_each(Offset from, const std::function<bool(const Message&)>& fn) {
  Offset next = std::max(from, log_->start());
  const Offset end = log_->committed();
  ReadBatch rb;
  while (next < end) {
    Status s = journal_.read(*log_, next, 256, rb);
    if (s.code() == Code::kNotFound) {  // retention moved the start meanwhile
      next = log_->start();
      continue;
    }
    if (!s) return s;
    if (rb.recs.empty()) break;
    for (const auto& r : rb.recs) {
      if (!fn(decode_record(rb.bytes.data() + r.pos, topic(), index(), r.offset, 1, origin()))) return Status::ok();
      next = r.offset + 1;
    }
  }
  return Status::ok();
}

void JournaledPartition::journaled(Offset end) noexcept {
  writer_.next.store(end, std::memory_order_release);
  ring().reader_advanced();  // producers waiting for ring space
  commits_.ring();           // ack waiters
  readers_.ring_journal_readers();
}

Result<std::vector<std::unique_ptr<Partition>>> JournalStorage::open_partitions(const std::string& topic,
                                                                                const TopicOptions& options,
                                                                                TopicWakeups wakeups) {
  auto logs = journal_.open_topic(topic, options);
  if (!logs) return logs.status();
  const std::uint32_t cap = std::bit_ceil(options.capacity);
  std::vector<std::unique_ptr<Partition>> out;
  std::vector<JournaledPartition*> parts;
  for (auto& log : *logs) {
    auto p = std::make_unique<JournaledPartition>(journal_, std::move(log), options, cap, wakeups);
    parts.push_back(p.get());
    out.push_back(std::move(p));
  }
  wakeups.readers.set_producer_target(&journal_.bell());
  for (JournaledPartition* p : parts) journal_.attach(p);
  return out;
}

Result<std::vector<std::unique_ptr<Partition>>> MemoryStorage::open_partitions(const std::string& topic,
                                                                               const TopicOptions& options,
                                                                               TopicWakeups) {
  const std::uint32_t cap = std::bit_ceil(options.capacity);
  std::vector<std::unique_ptr<Partition>> out;
  for (std::uint32_t p = 0; p < options.partitions; ++p)
    out.push_back(std::make_unique<MemoryPartition>(topic, p, cap, origin_));
  return out;
}

}  // namespace weir::internal
