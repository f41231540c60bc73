#!/usr/bin/env bash
# Runs each libFuzzer target of build-clang/fuzz for SECONDS (default 15)
# over its seeds in tests/fuzz/corpus/<target>/. New inputs it finds go to
# build-clang/fuzz/work/<target>/ (the seeds in the repository are not
# touched). A crash or sanitizer report stops with exit 1 and names the
# input that caused it (build-clang/fuzz/crash-<target>-*): add it to the
# target's corpus as a regression seed once fixed.
# Usage: scripts/fuzz.sh [SECONDS] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-15}"
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(record_batch header_block cli_positions)
fi
for t in "${targets[@]}"; do
  bin="build-clang/fuzz/fuzz_$t"
  if [[ ! -x "$bin" ]]; then
    echo "fuzz: $bin is not built (cmake --preset clang && cmake --build --preset clang)" >&2
    exit 2
  fi
  work="build-clang/fuzz/work/$t"
  mkdir -p "$work"
  echo "fuzz: $t for ${seconds}s" >&2
  if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="build-clang/fuzz/crash-$t-" "$work" "tests/fuzz/corpus/$t" \
       >"build-clang/fuzz/$t.log" 2>&1; then
    tail -n 40 "build-clang/fuzz/$t.log" >&2
    echo "fuzz: $t failed; the input is build-clang/fuzz/crash-$t-* (log: build-clang/fuzz/$t.log)" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "build-clang/fuzz/$t.log" |
    sed "s/^/fuzz: $t /" >&2 || true
done
