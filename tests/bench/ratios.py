#!/usr/bin/env python3
"""Prints every ratio run_all.sh reports as min / median / max over the repetitions.

  ratios.py SYNCSTORM_JSON [PEERS_FILE]

SYNCSTORM_JSON is syncstorm_bench's --benchmark_out (every repetition, not only aggregates). A figure
pairs with its baseline as bench_main.cpp pairs them ("X/engine/..." with "X/baseline/...",
".../jobs2" with ".../jobs1", ".../v2" with ".../v2-unpinned" and with ".../v1"); repetition i is
divided by repetition i.
PEERS_FILE has one line per peer row: "LABEL FIGURE RATE RATE ...", the peer's rate in each of its
runs, divided in the same way by the figure's repetitions.

Beside the wall-time ratio it gives the same ratio in items per CPU second of the benchmark's own
thread, which a loaded machine disturbs less (it still shares caches and memory bandwidth); the peers
print wall rates only.
"""
import json
import re
import statistics
import sys


def rates_by_name(path):
    """(wall rates, CPU rates) by figure name, one entry per repetition in the order they ran."""
    try:
        runs = json.load(open(path))["benchmarks"]
    except (OSError, ValueError, KeyError) as error:
        sys.exit(f"ratios.py: {path}: no benchmark results ({error})")
    wall, cpu = {}, {}
    for run in runs:
        if run.get("run_type") != "iteration" or run.get("error_occurred") or "items_per_second" not in run:
            continue
        name = re.sub(r"/(real_time|iterations:\d+)", "", run["run_name"])
        wall.setdefault(name, []).append(run["items_per_second"])
        cpu.setdefault(name, []).append(run["items_per_second"] * run["real_time"] / max(run["cpu_time"], 1e-12))
    return wall, cpu


def baselines_of(name):
    if "/engine" in name:
        return [name.replace("/engine", "/baseline", 1)]
    if name.endswith("/v2"):
        return [name + "-unpinned", name[: -len("/v2")] + "/v1"]
    if name.endswith("/jobs2"):
        return [name[: -len("/jobs2")] + "/jobs1"]
    return []


def spread(mine, theirs):
    ratios = [a / b for a, b in zip(mine, theirs) if b > 0]
    if not ratios:
        return "no ratio"
    return f"{min(ratios):6.2f} {statistics.median(ratios):6.2f} {max(ratios):6.2f} ({len(ratios)})"


def main():
    rates, cpu_rates = rates_by_name(sys.argv[1])
    print(f"{'figure':<44} {'median/s':>14} {'baseline/s':>14}   wall ratio: min median max (runs)"
          "   CPU-time ratio: min median max")
    for name in sorted(rates):
        bases = baselines_of(name)
        for base in bases:
            if base not in rates:
                continue
            label = name if len(bases) == 1 else f"{name} vs {base.rsplit('/', 1)[1]}"
            print(f"{label:<44} {statistics.median(rates[name]):14.0f} {statistics.median(rates[base]):14.0f}   "
                  + spread(rates[name], rates[base]) + "   "
                  # Only the engine pairs run on the benchmark's thread alone: jobs2 and the adapters
                  # work on other threads and processes, which its CPU time does not count.
                  + (spread(cpu_rates[name], cpu_rates[base]) if "/engine" in name else "n/a"))
    if len(sys.argv) > 2:
        for line in open(sys.argv[2]):
            label, figure, *peer = line.rstrip("\n").split("\t")
            peer = [float(r) for r in peer if r]
            if figure in rates and peer:
                print(f"{label:<44} {statistics.median(rates[figure]):14.0f} {statistics.median(peer):14.0f}   "
                      + spread(rates[figure], peer))


main()
