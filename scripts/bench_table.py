#!/usr/bin/env python3
"""The performance goals as one table: every ratio of a weir figure to its
baseline measured in the same weir-bench run, over the runs in RESULTS.jsonl
(each line tagged with "run": the repetition it came from), as
"median [min - max]" and whether the median meets the goal.

Usage: scripts/bench_table.py RESULTS.jsonl [--markdown]
"""
import json
import statistics
import sys

# (label, workload, numerator system, denominator system, field, goal, direction)
# field "events_per_sec": ratio of throughputs; "p99_us": ratio of ack p99s;
# "cost": 1 - num/den (what metrics sampling costs, as a fraction);
# "open_ms": the figure itself (no denominator).
GOALS = [
    ("s1 exactly-once vs raw LMDB", "s1", "weir", "lmdb-raw", "events_per_sec", 0.7, ">="),
    ("s1 exactly-once vs plain group (weir-d2)", "s1", "weir", "weir-d2", "events_per_sec", 0.5, ">="),
    ("m1 publish_batch vs moodycamel bulk", "m1", "weir-batch", "moodycamel-bulk", "events_per_sec", 0.8, ">="),
    ("m1 publish vs moodycamel single", "m1", "weir", "moodycamel-single", "events_per_sec", 0.8, ">="),
    ("m1-2p publish_batch vs moodycamel bulk", "m1-2p", "weir-batch", "moodycamel-bulk", "events_per_sec", 0.6, ">="),
    ("d1 vs raw LMDB", "d1", "weir", "lmdb-raw", "events_per_sec", 1.0, ">="),
    ("d1 ack p99 vs raw LMDB", "d1", "weir", "lmdb-raw", "p99_us", 1.3, "<="),
    ("d1-2p vs raw LMDB", "d1-2p", "weir", "lmdb-raw", "events_per_sec", 0.9, ">="),
    ("d2 vs raw LMDB", "d2", "weir", "lmdb-raw", "events_per_sec", 0.95, ">="),
    ("m1 metrics cost, publish (sampling on vs off)", "m1", "weir", "weir-nometrics", "cost", 0.05, "<="),
    ("m1 metrics cost, publish_batch (group behind)", "m1", "weir-batch", "weir-batch-nometrics", "cost", 0.05, "<="),
    ("m1-2p metrics cost, publish", "m1-2p", "weir", "weir-nometrics", "cost", 0.05, "<="),
    ("m1-2p metrics cost, publish_batch (group behind)", "m1-2p", "weir-batch", "weir-batch-nometrics", "cost", 0.05, "<="),
    ("p1 urgent lane p99 at 2x load vs its unloaded p99", "p1", "weir-lanes-high", "weir-lanes-high-unloaded", "p99_us",
     2.0, "<="),
    ("p1 urgent lane p99, lanes vs no lanes (same load)", "p1", "weir-lanes-high", "weir-nolanes-high", "p99_us",
     None, None),
    ("p1 other events' p99, lanes vs no lanes (same load)", "p1", "weir-lanes-low", "weir-nolanes-low", "p99_us",
     None, None),
    ("o1 Bus::open after a crash, state group (ms)", "o1", "weir", None, "open_ms", 50.0, "<="),
    ("o1 Bus::open after a crash, plain group (ms)", "o1", "weir-plain", None, "open_ms", None, None),
]


def load(path):
    runs = {}  # (run, workload) -> system -> row
    events = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if "run" not in r:
                continue
            runs.setdefault((r["run"], r["workload"]), {})[r["system"]] = r
            events[r["workload"]] = r.get("events")
    return runs, events


def value(runs, run, workload, num, den, field):
    rows = runs.get((run, workload), {})
    a, b = rows.get(num), rows.get(den) if den else None
    if a is None or not a.get("valid"):
        return None
    if field == "open_ms":
        return a.get("open_ms")
    if b is None or not b.get("valid"):
        return None
    key = "p99_us" if field == "p99_us" else "events_per_sec"
    x, y = a.get(key), b.get(key)
    if not x or not y:
        return None
    return 1 - x / y if field == "cost" else x / y


def fmt(field, v):
    if field == "open_ms":
        return f"{v:.1f}"
    if field == "cost":
        return f"{100 * v:+.1f}%"
    return f"{v:.2f}x" if v >= 0.1 else f"{v:.2g}x"


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    runs, events = load(sys.argv[1])
    run_ids = sorted({r for r, _ in runs})
    print(f"| goal | median [min - max] over {len(run_ids)} runs | target | met |")
    print("| --- | --- | --- | --- |")
    for label, w, num, den, field, goal, direction in GOALS:
        vals = [v for v in (value(runs, r, w, num, den, field) for r in run_ids) if v is not None]
        if w == "o1" and events.get("o1"):
            label += f", {events['o1']:,} events"
        if not vals:
            print(f"| {label} | not measured | {direction or ''} {goal if goal is not None else ''} | |")
            continue
        med = statistics.median(vals)
        cell = f"{fmt(field, med)} [{fmt(field, min(vals))} - {fmt(field, max(vals))}]"
        if goal is None:
            target, met = "-", ""
        else:
            target = f"{direction} " + (f"{100 * goal:.0f}%" if field == "cost" else
                                        f"{goal:g} ms" if field == "open_ms" else f"{goal:g}x")
            met = "yes" if (med >= goal if direction == ">=" else med <= goal) else "no"
        print(f"| {label} | {cell} | {target} | {met} |")
    print("| scaling, custom 1 -> 8 threads, 16 partitions | needs a 16-core machine: scripts/scaling.sh | >= 6x | |")


if __name__ == "__main__":
    main()
