#!/usr/bin/env bash
# Producer/worker scaling series for a machine with more cores:
#   scripts/scaling.sh [WEIR_BENCH] [OUT_JSONL] [MAX_THREADS]
# Runs m1 and d1 with 1, 2, 4, ... MAX_THREADS producers (weir beside the
# baselines) and the custom workload with as many producers and workers as
# partitions (16 partitions, batch publish), appending JSON lines to OUT.
set -euo pipefail
bench=${1:-build/bin/weir-bench}
out=${2:-build/bench-results/scaling.jsonl}
max=${3:-$(nproc)}
mkdir -p "$(dirname "$out")"
m_events=${M_EVENTS:-4000000}
d_events=${D_EVENTS:-200000}
c_events=${C_EVENTS:-8000000}
for ((n = 1; n <= max; n *= 2)); do
  echo "== $n threads" >&2
  "$bench" --workload m1 --producers "$n" --events "$m_events" --json-out "$out"
  "$bench" --workload d1 --producers "$n" --events "$d_events" --json-out "$out" --dir "${TMPDIR:-/tmp}"
  "$bench" --workload custom --producers "$n" --workers "$n" --partitions 16 --batch 64 \
    --events "$c_events" --json-out "$out"
done
