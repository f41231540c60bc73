#!/usr/bin/env bash
# `make bench`: every named workload through weir-bench (weir beside its raw
# baselines, same run) three times, the goals table (every same-run ratio as
# median [min - max] of the runs), a producer-scaling series (1, 2, 4, ... up
# to the CPU count, at least 2), plots, and the Google Benchmark
# micro-benchmarks, all on the Release build. Output in build/bench-results/:
#   results-<stamp>.jsonl   one JSON object per measurement ("run": 1..N on
#                           the repeated named workloads)
#   goals-<stamp>.md        the goals table (also printed)
#   *.svg                   scaling and latency plots (gnuplot)
#   micro-<stamp>.json      micro-benchmarks
# WEIR_BENCH_EVENTS=N shortens every workload (a smoke run);
# WEIR_BENCH_RUNS=N repeats each named workload N times (default 3);
# WEIR_BENCH_O1_EVENTS=N sets o1's state-handled events (default 5,000,000);
# WEIR_BENCH_MICRO=0 skips the micro-benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench-results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results="$out/results-$stamp.jsonl"
events=()
[[ -n "${WEIR_BENCH_EVENTS:-}" ]] && events=(--events "$WEIR_BENCH_EVENTS")
bench=build/bin/weir-bench

runs=${WEIR_BENCH_RUNS:-3}
o1_events=(--events "${WEIR_BENCH_O1_EVENTS:-${WEIR_BENCH_EVENTS:-5000000}}")
for ((run = 1; run <= runs; ++run)); do
  for w in m1 m1-2p d1 d1-2p d2 s1 o1 p1; do
    echo "== $w (run $run of $runs)" >&2
    args=("${events[@]}")
    [[ $w == m1* ]] && args+=(--metrics both)  # metrics-under-load: sampling on and off, same run
    [[ $w == o1 ]] && args=("${o1_events[@]}")
    "$bench" --workload "$w" "${args[@]}" --json |
      python3 -c 'import json, sys
for line in sys.stdin:
    if line.strip(): print(json.dumps(dict(json.loads(line), run=int(sys.argv[1]))))' "$run" >>"$results"
  done
done
python3 scripts/bench_table.py "$results" | tee "$out/goals-$stamp.md"

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
if [[ -z "${WEIR_BENCH_EVENTS:-}" && "${WEIR_BENCH_MICRO:-1}" != 0 ]]; then
  build/bin/weir-microbench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/micro-$stamp.json" --benchmark_out_format=json
fi
