#!/usr/bin/env python3
"""Turns weir-bench JSON lines into SVG plots with gnuplot.

Usage: scripts/plot_bench.py RESULTS.jsonl OUTDIR

Writes OUTDIR/scaling-memory.svg and scaling-journal.svg (events/s against
producer threads, weir beside the baselines, from m1-Np / d1-Np lines),
scaling-custom.svg (custom runs by producer count) and latency-d1.svg (ack
latency percentiles of the d1 run, weir beside raw LMDB).
"""
import collections
import json
import os
import re
import subprocess
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def producers_of(row_or_workload):
    if isinstance(row_or_workload, dict):
        r = row_or_workload
        if r["workload"] == "custom":
            m = re.match(r"(\d+)p ", r.get("note", ""))
            return ("custom", int(m.group(1))) if m else (None, None)
        workload = r["workload"]
    else:
        workload = row_or_workload
    m = re.fullmatch(r"(m1|d1)(?:-(\d+)p)?", workload)
    if not m:
        return None, None
    return m.group(1), int(m.group(2) or 1)


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script.encode(), check=True)


def scaling(rows, family, out, title):
    series = collections.defaultdict(dict)  # system -> producers -> best events/s
    for r in rows:
        fam, n = producers_of(r)
        if fam != family or not r.get("valid") or r.get("events_per_sec") is None:
            continue
        series[r["system"]][n] = max(series[r["system"]].get(n, 0), r["events_per_sec"])
    if not series:
        return False
    data = out + ".dat"
    with open(data, "w") as f:
        for system, points in sorted(series.items()):
            f.write(f'# {system}\n')
            for n in sorted(points):
                f.write(f"{n} {points[n] / 1e6:.3f}\n")
            f.write("\n\n")
    plots = ", ".join(
        f'"{data}" index {i} with linespoints title "{s}"' for i, s in enumerate(sorted(series)))
    gnuplot(f"""set terminal svg size 800,500 dynamic font ',12'
set output '{out}'
set title '{title}'
set xlabel 'producer threads'
set ylabel 'million events/s'
set logscale x 2
set key outside right
set grid
plot {plots}
""")
    return True


def latency(rows, out):
    d1 = [r for r in rows if r["workload"] == "d1" and r.get("p50_us") is not None]
    if not d1:
        return False
    by_system = {}
    for r in d1:  # the last line per system wins (latest run)
        by_system[r["system"]] = r
    data = out + ".dat"
    keys = [("50", "p50_us"), ("90", "p90_us"), ("99", "p99_us"), ("99.9", "p999_us"), ("max", "max_us")]
    with open(data, "w") as f:
        for system, r in sorted(by_system.items()):
            f.write(f'# {system}\n')
            for i, (label, k) in enumerate(keys):
                f.write(f'{i} "{label}" {r[k] / 1000.0:.3f}\n')
            f.write("\n\n")
    plots = ", ".join(
        f'"{data}" index {i} using 1:3:xtic(2) with linespoints title "{s}"'
        for i, s in enumerate(sorted(by_system)))
    gnuplot(f"""set terminal svg size 800,500 dynamic font ',12'
set output '{out}'
set title 'd1 (1 producer, 8 partitions, <= 8192 in flight): publish -> fsync ack latency'
set xlabel 'percentile'
set ylabel 'ms'
set key outside right
set grid
plot {plots}
""")
    return True


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rows = load(sys.argv[1])
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    made = []
    if scaling(rows, "m1", os.path.join(outdir, "scaling-memory.svg"), "m1: producers -> one handler (memory)"):
        made.append("scaling-memory.svg")
    if scaling(rows, "d1", os.path.join(outdir, "scaling-journal.svg"), "d1: fsync-acked publishing (journal)"):
        made.append("scaling-journal.svg")
    if scaling(rows, "custom", os.path.join(outdir, "scaling-custom.svg"),
               "custom: N producers, N workers, 16 partitions, batch 64 (memory)"):
        made.append("scaling-custom.svg")
    if latency(rows, os.path.join(outdir, "latency-d1.svg")):
        made.append("latency-d1.svg")
    print("plots:", ", ".join(os.path.join(outdir, m) for m in made) if made else "none (no matching results)")


if __name__ == "__main__":
    main()
