// s1: the exactly-once path. d1's 1,000,000 events (16-byte key + 100-byte
// payload, 8 partitions) are already in the journal; a group with a
// StateHandler (dedupe on) reads each event's key in a state table and
// writes it back incremented, so the dedupe record, the state write and the
// offset commit together. Beside it, in the same run:
//   weir-d2   a plain journaled group on the same topic (d2's settings), the
//             figure the "within 2x of a plain group" compares with;
//   weir-pipeline  the same state handler that also publishes one follow-up
//             per event (the input's 100-byte payload, same key) to a
//             journaled topic of 8 partitions with State::publish, inside
//             its transaction: the pipeline path's cost (issue 16), the
//             follow-ups counted in the target topic;
//   lmdb-raw  the strongest simple raw loop: one synced write transaction
//             per batch of up to `in_flight` events that reads the batch
//             with a cursor, does one get + put per event and stores the
//             reader's offset.
// o1: Bus::open after a crash (the process _exits without closing) at N
// state-handled events; reports milliseconds. Beside it, "weir-plain": the
// same N events handled by a plain group.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "journal_common.hpp"
#include "weir/weir.hpp"

namespace weir::bench {

namespace {

constexpr std::string_view kTable = "s1";

// The s1 handler's work: count the event's key in a state table.
Outcome count_key(const Message& m, State& st) {
  auto cur = st.get(kTable, m.key());
  if (!cur) return Outcome::retry();
  std::uint64_t n = 0;
  if (cur->has_value() && (*cur)->size() == 8) std::memcpy(&n, (*cur)->data(), 8);
  ++n;
  char b[8];
  std::memcpy(b, &n, 8);
  if (!st.put(kTable, m.key(), std::string_view(b, 8))) return Outcome::retry();
  return Outcome::done();
}

std::uint64_t id_of(const Message& m) {
  std::uint64_t id;
  std::memcpy(&id, m.payload().data(), 8);
  return id;
}

constexpr std::string_view kPipelineTopic = "s1-out";

// Subscribes the state group `group` to topic "d1" and waits for `events`
// handled events; false if they did not all arrive within `limit`. With
// `forward`, each event's handler also publishes it to kPipelineTopic.
Status run_state_group(Bus& bus, const Config& c, std::uint64_t events, std::atomic<std::uint64_t>& seen,
                       std::atomic<std::uint64_t>& sum, std::chrono::seconds limit, std::string_view group = "s1",
                       bool forward = false) {
  const SubscribeOptions so{.group = std::string(group), .workers = c.workers};
  Status s = bus.subscribe("d1", so, [&, forward](const Message& m, State& st) {
    Outcome o = count_key(m, st);
    if (o.is_done() && forward && !st.publish(kPipelineTopic, {.key = m.key(), .payload = m.payload()}))
      o = Outcome::retry();
    if (o.is_done()) {
      sum.fetch_add(id_of(m), std::memory_order_relaxed);
      seen.fetch_add(1, std::memory_order_release);
    }
    return o;
  });
  if (!s) return s;
  const auto deadline = Clock::now() + limit;
  while (seen.load(std::memory_order_acquire) < events) {
    if (Clock::now() > deadline)
      return Status::deadline_exceeded(std::string(group) + ": " + std::to_string(seen.load()) + " of " +
                                       std::to_string(events) + " handled");
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return Status::ok();
}

Result weir_s1(const Config& c, const fs::path& dir, std::uint64_t events) {
  Options o;
  o.data_dir = dir.string();
  o.metrics_sampling = c.metrics;
  auto bus = Bus::open(o);
  if (!bus) return Result{"weir", "s1", 0, 0, false, bus.status().to_string(), {}};
  std::atomic<std::uint64_t> seen{0}, sum{0};
  const auto t0 = Clock::now();
  Status s = run_state_group(**bus, c, events, seen, sum, std::chrono::seconds(600));
  auto rep = (*bus)->unsubscribe("s1");  // persists the final offsets
  Result res{"weir", "s1", seen.load(), std::chrono::duration<double>(Clock::now() - t0).count(), false, {}, {}};
  res.valid = s && seen.load() == events && sum.load() == expected_sum(events) && rep && rep->journal_status;
  if (!res.valid) res.note = s ? "saw " + std::to_string(seen.load()) + " of " + std::to_string(events) : s.to_string();
  (void)(*bus)->close();
  return res;
}

// weir-pipeline: the s1 handler plus one State::publish per event.
Result weir_s1_pipeline(const Config& c, const fs::path& dir, std::uint64_t events) {
  Options o;
  o.data_dir = dir.string();
  o.metrics_sampling = c.metrics;
  Result res{"weir-pipeline", "s1", 0, 0, false, {}, {}};
  auto bus = Bus::open(o);
  if (!bus) {
    res.note = bus.status().to_string();
    return res;
  }
  if (Status s = (*bus)->create_topic(kPipelineTopic, {.partitions = 8, .durability = Durability::kJournaled}); !s) {
    res.note = s.to_string();
    return res;
  }
  std::atomic<std::uint64_t> seen{0}, sum{0};
  const auto t0 = Clock::now();
  Status s = run_state_group(**bus, c, events, seen, sum, std::chrono::seconds(600), "s1-pipeline", true);
  auto rep = (*bus)->unsubscribe("s1-pipeline");  // persists the final offsets and the last follow-ups
  res.events = seen.load();
  res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  // Every follow-up is in the target topic, exactly once.
  std::uint64_t published = 0;
  if (auto m = (*bus)->metrics())
    for (const auto& t : m->topics)
      if (t.topic == kPipelineTopic)
        for (const auto& p : t.partitions) published += p.end - p.start;
  res.valid = s && seen.load() == events && sum.load() == expected_sum(events) && rep && rep->journal_status &&
              published == events;
  if (!res.valid)
    res.note = !s ? s.to_string()
                  : "saw " + std::to_string(seen.load()) + " of " + std::to_string(events) + ", " +
                        std::to_string(published) + " follow-ups";
  (void)(*bus)->close();
  return res;
}

Result raw_s1(const Config& c, const fs::path& dir, std::uint64_t events) {
  RawEnv raw;
  if (!raw.open(dir)) return Result{"lmdb-raw", "s1", 0, 0, false, "cannot open LMDB", {}};
  const auto t0 = Clock::now();
  std::uint64_t pos = 0, sum = 0;
  bool ok = true;
  while (ok) {
    // One synced transaction per batch: read it, one get + put per event,
    // the offset.
    MDB_txn* txn;
    if (mdb_txn_begin(raw.env, nullptr, 0, &txn)) {
      ok = false;
      break;
    }
    const long n = visit_log(txn, raw, pos, c.in_flight, [&](const char* ev) {
      MDB_val sk{kKeyBytes, const_cast<char*>(ev)}, sv;
      std::uint64_t count = 0;
      const int g = mdb_get(txn, raw.state, &sk, &sv);
      if (g == 0 && sv.mv_size == 8) std::memcpy(&count, sv.mv_data, 8);
      ++count;
      MDB_val nv{8, &count};
      std::uint64_t id;
      std::memcpy(&id, ev + kKeyBytes, 8);
      sum += id;
      return (g == 0 || g == MDB_NOTFOUND) && mdb_put(txn, raw.state, &sk, &nv, 0) == 0;
    });
    if (n <= 0 || !put_raw_offset(txn, raw, pos + static_cast<std::uint64_t>(n))) {
      mdb_txn_abort(txn);
      ok = n == 0;
      break;
    }
    pos += static_cast<std::uint64_t>(n);
    if (mdb_txn_commit(txn)) ok = false;  // synced
  }
  Result res{"lmdb-raw", "s1", pos, std::chrono::duration<double>(Clock::now() - t0).count(), false, {}, {}};
  res.valid = ok && pos == events && sum == expected_sum(events);
  if (!res.valid) res.note = "saw " + std::to_string(pos) + " of " + std::to_string(events);
  return res;
}

// o1's child: writes d1's events, has them handled (by the state group, or
// by a plain group), then dies without closing. Never returns.
[[noreturn]] void crash_after_handling(const Config& c, const fs::path& dir, bool state) {
  const Result wr = weir_d1(loader_config(c), dir);
  if (!wr.valid) _exit(3);
  Options o;
  o.data_dir = dir.string();
  auto bus = Bus::open(o);
  if (!bus) _exit(4);
  std::atomic<std::uint64_t> seen{0}, sum{0};
  if (state) {
    if (!run_state_group(**bus, c, wr.events, seen, sum, std::chrono::seconds(1200))) _exit(5);
  } else {
    if (!(*bus)->subscribe("d1", {.group = "plain", .workers = c.workers}, [&](std::span<const Message> ms) {
          seen.fetch_add(ms.size(), std::memory_order_release);
          return BatchOutcome::all(ms.size());
        }))
      _exit(5);
    while (seen.load(std::memory_order_acquire) < wr.events) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Let the last group commit land (offsets, dedupe, state), then crash.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  _exit(0);
}

Result open_after_crash(const Config& c, const fs::path& dir, bool state) {
  Result res{state ? "weir" : "weir-plain", "o1", c.events, 0, false, {}, {}};
  std::fflush(nullptr);
  const pid_t pid = fork();  // the caller has no other threads yet
  if (pid < 0) {
    res.note = "fork failed";
    return res;
  }
  if (pid == 0) crash_after_handling(c, dir, state);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    res.note = "the writer process failed (status " + std::to_string(status) + ")";
    return res;
  }
  Options o;
  o.data_dir = dir.string();
  const auto t0 = Clock::now();
  auto bus = Bus::open(o);
  res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  res.open_ms = res.seconds * 1000.0;
  if (!bus) {
    res.note = bus.status().to_string();
    return res;
  }
  res.valid = true;
  res.note = state ? "open after a crash at N state-handled events" : "open after a crash at N handled events";
  (void)(*bus)->close();
  return res;
}

}  // namespace

std::vector<Result> run_s1(const Config& c) {
  const Config w = loader_config(c);
  const auto wdir = fresh_dir(c, "weir-s1");
  const auto rdir = fresh_dir(c, "lmdb-s1");
  std::vector<Result> out;
  // Load the events (not reported), then the plain group and the state
  // group read them, each from the start.
  if (Result wr = weir_d1(w, wdir); !wr.valid) {
    out.push_back(wr);
  } else {
    Config plain = c;
    plain.workers = 1;  // d2's settings
    Result d2 = weir_d2(plain, wdir, wr.events);
    d2.system = "weir-d2";
    out.push_back(weir_s1(c, wdir, wr.events));
    out.push_back(weir_s1_pipeline(c, wdir, wr.events));
    out.push_back(d2);
  }
  if (c.baselines) {
    Result rr = raw_d1(w, rdir);
    out.push_back(rr.valid ? raw_s1(c, rdir, rr.events) : rr);
  }
  for (auto& r : out) r.workload = "s1";
  fs::remove_all(wdir);
  fs::remove_all(rdir);
  return out;
}

std::vector<Result> run_o1(const Config& c) {
  const auto sdir = fresh_dir(c, "weir-o1");
  const auto pdir = fresh_dir(c, "weir-o1-plain");
  std::vector<Result> out;
  out.push_back(open_after_crash(c, sdir, true));
  if (c.baselines) out.push_back(open_after_crash(c, pdir, false));
  if (!c.keep) {
    fs::remove_all(sdir);
    fs::remove_all(pdir);
  }
  return out;
}

}  // namespace weir::bench
