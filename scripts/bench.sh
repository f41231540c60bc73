#!/usr/bin/env bash
# Runs weir's benchmarks on the Release build and writes the results to
# build/bench-results/ (JSON from Google Benchmark, and a ratio summary).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench-results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
json="$out/micro-$stamp.json"
build/bin/weir-microbench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$json" --benchmark_out_format=json "$@"
# Ratios against the raw baseline, from the medians of this same run.
python3 - "$json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
med = {b["run_name"].split("/")[0]: b["items_per_second"]
       for b in data["benchmarks"] if b.get("aggregate_name") == "median" and "items_per_second" in b}
base = med.get("BM_Moodycamel_Bulk")
print("\nm1-shaped handoff, medians of this run (events/s):")
for name, v in sorted(med.items(), key=lambda kv: -kv[1]):
    if name.startswith("BM_EndToEnd") or name.startswith("BM_Moodycamel") or name.startswith("BM_Boost"):
        ratio = f"{v / base:6.2f}x moodycamel bulk" if base else ""
        print(f"  {name:28s} {v/1e6:8.2f} M/s  {ratio}")
PY
