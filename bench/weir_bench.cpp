// weir-bench: runs a named workload through weir and, in the same process,
// through the raw parts weir is built from; prints a summary with ratios, or
// with --json one JSON object per line per measurement:
//   {"system", "workload", "events", "events_per_sec", "p50_us", "p99_us", ...}
// Usage: weir-bench --workload m1|m1-2p|d1|d1-2p|d2|s1|o1|p1|custom [--events N] [--dir D] [--json]
//        [--metrics on|off|both]
//        (custom takes --producers, --partitions, --groups, --workers, --payload,
//         --keys, --key-dist, --durability, --ack, --batch, --rate, --duration)
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "workloads.hpp"

namespace {

using weir::bench::Config;
using weir::bench::Result;

nlohmann::json to_json(const Result& r) {
  nlohmann::json j{{"system", r.system},
                   {"workload", r.workload},
                   {"events", r.events},
                   {"events_per_sec", r.valid ? nlohmann::json(r.events_per_sec()) : nlohmann::json(nullptr)},
                   {"seconds", r.seconds},
                   {"valid", r.valid},
                   {"p50_us", nullptr},
                   {"p90_us", nullptr},
                   {"p99_us", nullptr},
                   {"p999_us", nullptr},
                   {"max_us", nullptr}};
  if (r.latency && r.latency->count()) {
    auto us = [&](double q) { return static_cast<double>(r.latency->quantile(q)) / 1000.0; };
    j["p50_us"] = us(0.5);
    j["p90_us"] = us(0.9);
    j["p99_us"] = us(0.99);
    j["p999_us"] = us(0.999);
    j["max_us"] = static_cast<double>(r.latency->max()) / 1000.0;
  }
  if (r.commit && r.commit->count()) {
    j["commit_p50_us"] = static_cast<double>(r.commit->quantile(0.5)) / 1000.0;
    j["commit_p99_us"] = static_cast<double>(r.commit->quantile(0.99)) / 1000.0;
  }
  if (r.open_ms) {
    j["events_per_sec"] = nullptr;
    j["open_ms"] = r.valid ? nlohmann::json(*r.open_ms) : nlohmann::json(nullptr);
  }
  if (!r.note.empty()) j["note"] = r.note;
  return j;
}

void print_summary(const std::vector<Result>& results, const std::string& baseline) {
  double base = 0;
  for (const auto& r : results)
    if (r.system == baseline && r.valid) base = r.events_per_sec();
  const std::string vs = baseline.empty() ? "" : "vs " + baseline;
  std::printf("%-20s %-8s %12s %14s %10s %10s  %s\n", "system", "workload", "events", "events/s",
              "p50 us", "p99 us", vs.c_str());
  for (const auto& r : results) {
    if (r.open_ms) {
      std::printf("%-20s %-8s %12llu   Bus::open after a crash: %.1f ms%s\n", r.system.c_str(), r.workload.c_str(),
                  static_cast<unsigned long long>(r.events), *r.open_ms,
                  r.valid ? "" : ("  INVALID: " + r.note).c_str());
      continue;
    }
    char p50[32] = "-", p99[32] = "-", ratio[32] = "-";
    if (r.latency && r.latency->count()) {
      std::snprintf(p50, sizeof p50, "%.0f", static_cast<double>(r.latency->quantile(0.5)) / 1000.0);
      std::snprintf(p99, sizeof p99, "%.0f", static_cast<double>(r.latency->quantile(0.99)) / 1000.0);
    }
    if (base > 0 && r.valid) std::snprintf(ratio, sizeof ratio, "%.2fx", r.events_per_sec() / base);
    std::printf("%-20s %-8s %12llu %14.0f %10s %10s  %s%s\n", r.system.c_str(), r.workload.c_str(),
                static_cast<unsigned long long>(r.events), r.valid ? r.events_per_sec() : 0.0, p50, p99,
                ratio, r.valid ? "" : ("  INVALID: " + r.note).c_str());
  }
  // s1: the state group against the plain group on the same events.
  const Result* state = nullptr;
  const Result* plain = nullptr;
  for (const auto& r : results) {
    if (r.system == "weir" && r.workload == "s1" && r.valid) state = &r;
    if (r.system == "weir-d2" && r.valid) plain = &r;
  }
  if (state && plain && plain->events_per_sec() > 0)
    std::printf("weir (state + dedupe) vs weir-d2 (plain group): %.2fx\n",
                state->events_per_sec() / plain->events_per_sec());
  for (const auto& r : results)
    if (state && r.system == "weir-pipeline" && r.valid && state->events_per_sec() > 0)
      std::printf("weir-pipeline (state + State::publish) vs weir (state): %.2fx\n",
                  r.events_per_sec() / state->events_per_sec());
  // p1: the urgent lane under 2x load against its unloaded latency (target <= 2x).
  const Result* urgent = nullptr;
  const Result* unloaded = nullptr;
  for (const auto& r : results) {
    if (r.system == "weir-lanes-high" && r.valid && r.latency) urgent = &r;
    if (r.system == "weir-lanes-high-unloaded" && r.valid && r.latency) unloaded = &r;
  }
  if (urgent && unloaded && unloaded->latency->quantile(0.99) > 0)
    std::printf("p1: urgent lane p99 under 2x load = %.2fx its unloaded p99 (target <= 2x)\n",
                static_cast<double>(urgent->latency->quantile(0.99)) /
                    static_cast<double>(unloaded->latency->quantile(0.99)));
  // Durable workloads: ack latency against the time one group commit takes.
  for (const auto& r : results) {
    if (!r.commit || !r.commit->count()) continue;
    const double commit_us = static_cast<double>(r.commit->quantile(0.5)) / 1000.0;
    std::printf("one group commit (%s, p50): %.0f us\n", r.system.c_str(), commit_us);
    for (const auto& w : results)
      if (w.latency && w.latency->count() && w.valid)
        std::printf("  %s ack p99 = %.2fx one commit\n", w.system.c_str(),
                    static_cast<double>(w.latency->quantile(0.99)) / 1000.0 / commit_us);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weir-bench: weir beside the raw parts it is built from, same workload, same run"};
  Config c;
  bool json = false;
  app.add_option("--workload,-w", c.workload, "m1, m1-2p, d1, d1-2p, d2, s1, o1, p1 or custom")
      ->required()
      ->check(CLI::IsMember({"m1", "m1-2p", "d1", "d1-2p", "d2", "s1", "o1", "p1", "custom"}));
  app.add_option("--events,-n", c.events,
                 "events to move (default: the workload's: 10,000,000 for m1, 1,000,000 for d1/d2/s1/o1, "
                 "100,000 per loaded run for p1)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
  app.add_option("--dir", c.dir, "directory for journals (default: the system temp directory)");
  app.add_flag("--json", json, "one JSON object per line per measurement on stdout");
  std::string json_out;
  app.add_option("--json-out", json_out, "also append the JSON lines to this file (keeps the summary)");
  bool baselines = true;
  app.add_flag("--baselines,!--no-baselines", baselines,
               "run the raw baselines too (default for named workloads; custom runs weir only)");
  app.add_flag("--keep", c.keep, "o1: keep the journals in --dir after the run (weir-o1; weir-o1-plain unless --no-baselines)");
  app.add_option("--batch", c.batch, "events per publish_batch call for weir-batch (m-family)")
      ->check(CLI::Range(1, 65536));
  std::string metrics = "on";
  app.add_option("--metrics", metrics,
                 "metrics sampling of weir's buses (Options::metrics_sampling): on, off, or both (m1/m1-2p: "
                 "weir runs with it on, then off as weir-nometrics / weir-batch-nometrics)")
      ->check(CLI::IsMember({"on", "off", "both"}));
  app.add_option("--workers", c.workers, "group workers (d2, custom; s1 and o1: the state group's, default 2)")->check(CLI::Range(1, 256));
  int producers = 0;
  app.add_option("--producers", producers,
                 "producer threads (custom; for m1/d1 a scaling run, reported as m1-Np / d1-Np)")
      ->check(CLI::Range(1, 256));
  app.add_option("--partitions", c.partitions, "custom: partitions")->check(CLI::Range(1, 4096));
  app.add_option("--groups", c.groups, "custom: consumer groups, each sees every event")->check(CLI::Range(1, 64));
  app.add_option("--payload", c.payload, "custom: payload bytes (>= 16)")->check(CLI::Range(16, 1 << 20));
  app.add_option("--keys", c.keys, "custom: distinct keys")->check(CLI::Range(1, 1 << 24));
  app.add_option("--key-dist", c.key_dist, "custom: uniform or zipf")->check(CLI::IsMember({"uniform", "zipf"}));
  app.add_option("--zipf-s", c.zipf_s, "custom: Zipf exponent")->check(CLI::Range(0.01, 5.0));
  app.add_option("--durability", c.durability, "custom: memory or journaled")
      ->check(CLI::IsMember({"memory", "journaled"}));
  app.add_option("--ack", c.ack, "custom: none, journal or fsync (journaled)")
      ->check(CLI::IsMember({"none", "journal", "fsync"}));
  app.add_option("--rate", c.rate, "custom: target events/s over all producers (open loop); 0 = as fast as possible")
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--duration", c.duration_s, "custom: seconds to run instead of --events")->check(CLI::Range(0.0, 3600.0));
  app.add_flag("--progress", c.progress, "custom: live progress line on stderr (when a terminal)");
  app.add_flag("--state", c.state,
               "custom: idempotent handlers (dedupe + a counter per key in a state table); implies --durability journaled");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A usage error: one line naming the problem, exit 2 (like the weir tool).
    std::fprintf(stderr, "weir-bench: %s (see --help)\n", e.what());
    return 2;
  }
  c.baselines = baselines;
  c.metrics = metrics != "off";
  c.metrics_both = metrics == "both";
  if ((c.workload == "s1" || c.workload == "o1") && app.count("--workers") == 0) c.workers = 2;
  if (c.workload == "custom" && app.count("--batch") == 0) c.batch = 1;  // custom: one publish per event unless asked
  if (c.state) c.durability = "journaled";
  const bool memory = c.workload.rfind("m1", 0) == 0;
  const bool custom = c.workload == "custom";
  if (c.events == 0) c.events = memory ? 10'000'000 : c.workload == "p1" ? 100'000 : 1'000'000;
  c.producers = c.workload.find("-2p") != std::string::npos ? 2 : 1;
  if (producers > 0) {
    c.producers = producers;
    if (!custom && c.workload != "d2" && c.workload != "s1" && c.workload != "o1" && c.workload != "p1") c.workload = c.workload.substr(0, 2) + "-" + std::to_string(producers) + "p";
  }

  std::vector<Result> results;
  if (custom) {
    results = weir::bench::run_custom(c);
  } else if (memory) {
    results = weir::bench::run_memory(c);
  } else if (c.workload == "d2") {
    results = weir::bench::run_d2(c);
  } else if (c.workload == "s1") {
    results = weir::bench::run_s1(c);
  } else if (c.workload == "o1") {
    results = weir::bench::run_o1(c);
  } else if (c.workload == "p1") {
    results = weir::bench::run_p1(c);
  } else {
    results = weir::bench::run_d1(c);
  }
  if (!json_out.empty()) {
    std::FILE* f = std::fopen(json_out.c_str(), "a");
    if (!f) {
      std::fprintf(stderr, "weir-bench: cannot open '%s' for appending\n", json_out.c_str());
      return 1;
    }
    for (const auto& r : results) std::fprintf(f, "%s\n", to_json(r).dump().c_str());
    std::fclose(f);
  }
  if (json) {
    for (const auto& r : results) std::cout << to_json(r).dump() << "\n";
  } else {
    print_summary(results, custom || c.workload == "o1" || c.workload == "p1" ? "" : memory ? "moodycamel-bulk" : "lmdb-raw");
    if (custom)
      for (const auto& r : results) {
        if (!r.latency || !r.latency->count()) continue;
        auto us = [&](double q) { return static_cast<double>(r.latency->quantile(q)) / 1000.0; };
        std::printf("%s\npublish -> handled: p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us%s\n",
                    r.note.c_str(), us(0.5), us(0.9), us(0.99), us(0.999),
                    static_cast<double>(r.latency->max()) / 1000.0,
                    c.rate > 0 ? " (open loop, coordinated-omission corrected)" : "");
      }
  }
  for (const auto& r : results)
    if (!r.valid) return 2;
  return 0;
}
