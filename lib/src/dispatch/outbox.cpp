#include "dispatch/outbox.hpp"

#include <algorithm>

namespace weir::internal {

Outbox::Run& Outbox::run_for(const std::shared_ptr<TopicState>& t, std::uint32_t p) {
  for (Run& r : runs_)
    if (r.topic == t && r.partition == p) return r;
  runs_.push_back(Run{t, p, {}, false});
  return runs_.back();
}

Status Outbox::add(const BusShared& bus, std::string_view input_id, std::string_view topic, const Event& e) {
  if (!bus.find_topic) return Status::failed_precondition("State::publish is not available on this bus");
  auto t = bus.find_topic(topic);
  if (!t) return t.status();
  const std::string derived = std::string(input_id) + "/" + std::to_string(published_ + 1);
  auto rec = (*t)->follow_up(e, derived);
  if (!rec) return rec.status();
  Run& r = run_for(*t, rec->first);
  const std::uint32_t cap = (*t)->partition(rec->first).ring().capacity();
  if (r.records.size() + 1 > cap / 4)
    return Status::resource_exhausted("State::publish: more than " + std::to_string(cap / 4) +
                                      " events for partition " + std::to_string(rec->first) + " of topic '" +
                                      std::string(topic) + "' in one handler call (a quarter of its capacity)");
  r.records.push_back(std::move(rec->second));
  ++published_;
  return Status::ok();
}

bool Outbox::fits(const Outbox& other) const {
  for (const Run& o : other.runs_)
    for (const Run& r : runs_)
      if (r.topic == o.topic && r.partition == o.partition &&
          r.records.size() + o.records.size() > r.topic->partition(r.partition).ring().capacity() / 2)
        return false;
  return true;
}

void Outbox::append(Outbox&& other) {
  for (Run& o : other.runs_) {
    Run& r = run_for(o.topic, o.partition);
    for (auto& rec : o.records) r.records.push_back(std::move(rec));
  }
  other.runs_.clear();
  other.published_ = 0;
}

bool Outbox::place(std::vector<std::pair<CommitSource*, Offset>>& placed) {
  for (Run& r : runs_) {
    if (r.placed) continue;
    auto first = r.topic->place(r.partition, r.records);
    if (!first && first.status().code() == Code::kClosed) {
      // The topic was deleted after the handler published to it: its
      // follow-ups go with it (as its stored events did), and the write
      // set commits without them instead of holding the writer forever.
      r.placed = true;
      r.records.clear();
      continue;
    }
    if (!first) return false;  // full: the writer tries again
    CommitSource* src = r.topic->partition(r.partition).commit_source();
    for (std::size_t i = 0; i < r.records.size(); ++i) placed.emplace_back(src, *first + i);
    r.placed = true;
    r.records.clear();
    r.records.shrink_to_fit();
  }
  return true;
}

}  // namespace weir::internal
