#!/usr/bin/env bash
# `make bench`: every named workload through weir-bench (weir beside its raw
# baselines, same run), a producer-scaling series (1, 2, 4, ... up to the
# CPU count, at least 2), plots, and the Google Benchmark micro-benchmarks,
# all on the Release build. Output in build/bench-results/:
#   results-<stamp>.jsonl   one JSON object per measurement
#   *.svg                   scaling and latency plots (gnuplot)
#   micro-<stamp>.json      micro-benchmarks
# WEIR_BENCH_EVENTS=N shortens every workload (a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench-results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results="$out/results-$stamp.jsonl"
events=()
[[ -n "${WEIR_BENCH_EVENTS:-}" ]] && events=(--events "$WEIR_BENCH_EVENTS")
bench=build/bin/weir-bench

for w in m1 m1-2p d1 d1-2p d2; do
  echo "== $w" >&2
  "$bench" --workload "$w" "${events[@]}" --json-out "$results"
done

cpus=$(nproc)
max=$(( cpus < 2 ? 2 : cpus ))
for ((n = 4; n <= max; n *= 2)); do
  for w in m1 d1; do
    echo "== $w with $n producers" >&2
    "$bench" --workload "$w" --producers "$n" "${events[@]}" --json-out "$results"
  done
done

python3 scripts/plot_bench.py "$results" "$out"
echo "results: $results" >&2
if [[ -z "${WEIR_BENCH_EVENTS:-}" ]]; then
  build/bin/weir-microbench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/micro-$stamp.json" --benchmark_out_format=json
fi
