// weir-bench: runs a named workload through weir and, in the same process,
// through the raw parts weir is built from; prints a summary with ratios, or
// with --json one JSON object per line per measurement:
//   {"system", "workload", "events", "events_per_sec", "p50_us", "p99_us", ...}
// Usage: weir-bench --workload m1|m1-2p|d1|d1-2p|d2 [--events N] [--dir D] [--json]
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
  if (!r.note.empty()) j["note"] = r.note;
  return j;
}

void print_summary(const std::vector<Result>& results, const std::string& baseline) {
  double base = 0;
  for (const auto& r : results)
    if (r.system == baseline && r.valid) base = r.events_per_sec();
  const std::string vs = "vs " + baseline;
  std::printf("%-20s %-8s %12s %14s %10s %10s  %s\n", "system", "workload", "events", "events/s",
              "p50 us", "p99 us", vs.c_str());
  for (const auto& r : results) {
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
  bool no_baselines = false;
  app.add_option("--workload,-w", c.workload, "m1, m1-2p, d1, d1-2p or d2")
      ->required()
      ->check(CLI::IsMember({"m1", "m1-2p", "d1", "d1-2p", "d2"}));
  app.add_option("--events,-n", c.events, "events to move (default: the workload's: 10,000,000 for m1, 1,000,000 for d1/d2)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
  app.add_option("--dir", c.dir, "directory for journals (default: the system temp directory)");
  app.add_flag("--json", json, "one JSON object per line per measurement on stdout");
  std::string json_out;
  app.add_option("--json-out", json_out, "also append the JSON lines to this file (keeps the summary)");
  app.add_flag("--no-baselines", no_baselines, "run weir only");
  app.add_option("--batch", c.batch, "events per publish_batch call for weir-batch (m-family)")
      ->check(CLI::Range(1, 65536));
  app.add_option("--workers", c.workers, "group workers for d2")->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  c.baselines = !no_baselines;
  const bool memory = c.workload.rfind("m1", 0) == 0;
  if (c.events == 0) c.events = memory ? 10'000'000 : 1'000'000;
  c.producers = c.workload.find("-2p") != std::string::npos ? 2 : 1;

  std::vector<Result> results;
  if (memory) {
    results = weir::bench::run_memory(c);
  } else if (c.workload == "d2") {
    results = weir::bench::run_d2(c);
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
    print_summary(results, memory ? "moodycamel-bulk" : "lmdb-raw");
  }
  for (const auto& r : results)
    if (!r.valid) return 2;
  return 0;
}
