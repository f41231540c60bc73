// Dead-letter administration: list, redrive, purge.
#include "bus/core.hpp"

#include <thread>

#include "base/names.hpp"

namespace weir::internal {

Result<std::shared_ptr<DeadLetterLog>> BusCore::dlq_log(std::string_view group) {
  if (std::string p = name_problem("group", group); !p.empty()) return Status::invalid_argument(p);
  MutexLock lock(mu_);
  auto it = topics_.find(std::string(group) + ".dlq");
  if (it == topics_.end())
    return Status::not_found("group '" + std::string(group) + "' has no dead-letter topic");
  return dead_letter_log(std::string(group), *it->second);
}

Result<std::vector<DeadLetterEvent>> BusCore::dlq_select(std::string_view group, const DeadLetterFilter& f,
                                                std::size_t limit) {
  auto log = dlq_log(group);
  if (!log) return log.status();
  return (*log)->select(f, limit);
}

Result<RedriveReport> BusCore::dlq_redrive(std::string_view group, const DeadLetterFilter& f, const RedriveOptions& o) {
  if (o.max_per_second < 0) return Status::invalid_argument("RedriveOptions::max_per_second must be >= 0");
  auto log = dlq_log(group);
  if (!log) return log.status();
  auto picked = (*log)->select(f, o.limit);
  if (!picked) return picked.status();
  RedriveReport report;
  report.matched = picked->size();
  for (const auto& e : *picked) report.letters.push_back(e.letter);
  if (o.dry_run) return report;
  const auto gap = o.max_per_second > 0 ? std::chrono::duration<double>(1.0 / o.max_per_second)
                                        : std::chrono::duration<double>(0);
  auto next = std::chrono::steady_clock::now();
  for (const auto& e : *picked) {
    std::this_thread::sleep_until(next);
    next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(gap);
    auto fail = [&](const Status& s) {
      return Status(s.code(), "redrive of dead letter " + std::to_string(e.letter.dlq_offset) + ": " +
                                  s.message() + " (moved " + std::to_string(report.moved) + ")");
    };
    auto source = find_topic(e.letter.topic);
    if (!source) return fail(source.status());
    const RedriveRecord original(e, group);
    PublishOptions po;
    if ((*source)->journaled()) po.ack = Ack::kJournal;
    if (auto r = (*source)->publish(original.event(), po); !r) return fail(r.status());
    if (Status s = (*log)->settle({e.letter.dlq_offset}, "redriven"); !s) return s;
    ++report.moved;
  }
  return report;
}

Result<std::size_t> BusCore::dlq_purge(std::string_view group, const DeadLetterFilter& f) {
  auto log = dlq_log(group);
  if (!log) return log.status();
  auto picked = (*log)->select(f, ~std::size_t{0});
  if (!picked) return picked.status();
  std::vector<Offset> offs;
  for (const auto& e : *picked) offs.push_back(e.letter.dlq_offset);
  if (Status s = (*log)->settle(offs, "purged"); !s) return s;
  return offs.size();
}

}  // namespace weir::internal
