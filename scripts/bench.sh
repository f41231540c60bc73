#!/usr/bin/env bash
# `make bench`: runs every named workload through weir-bench (weir beside its
# raw baselines, same run) and the Google Benchmark micro-benchmarks, on the
# Release build. Results: build/bench-results/results-<UTC stamp>.jsonl (one
# JSON object per measurement) and micro-<stamp>.json; a summary is printed.
# WEIR_BENCH_EVENTS=N shortens every workload (e.g. a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench-results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results="$out/results-$stamp.jsonl"
events=()
[[ -n "${WEIR_BENCH_EVENTS:-}" ]] && events=(--events "$WEIR_BENCH_EVENTS")
for w in m1 m1-2p d1 d1-2p d2; do
  echo "== $w" >&2
  build/bin/weir-bench --workload "$w" "${events[@]}" --json-out "$results"
done
echo "results: $results" >&2
if [[ -z "${WEIR_BENCH_EVENTS:-}" ]]; then
  build/bin/weir-microbench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/micro-$stamp.json" --benchmark_out_format=json
fi
