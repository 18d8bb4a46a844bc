#!/usr/bin/env python3
"""Benchmarks bpfscope against bpftrace in the same run: wall time and peak RSS, medians of N runs.

Usage (as root):  bench/bench.py [--runs N] [--bpfscope PATH] [--bpftrace PATH] [CASE ...]
Wall times are hyperfine's medians (warm-up runs first, output to /dev/null); peak RSS is the
median of GNU time's figure over the same number of runs.
Prints one line per case with both medians and the ratio bpfscope/bpftrace, and the goal it is held to.
"""
import argparse
import os
import statistics
import subprocess
import json
import shlex
import shutil
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"

# name: (bpfscope args, bpftrace args or None, goal description, goal check(ratio_wall, ratio_rss, bpfscope_wall_s))
CASES = {
    "list-tracepoints": (
        ["-l", "tracepoint:*"], ["-l", "tracepoint:*"],
        "wall <= 1/5, rss <= 1/5", lambda w, r, t: w <= 0.2 and r <= 0.2),
    "list-tracepoints-verbose": (
        ["-lv", "tracepoint:*"], ["-lv", "tracepoint:*"],
        "wall <= 1/3, rss <= 1/5", lambda w, r, t: w <= 1 / 3 and r <= 0.2),
    "list-everything": (
        ["-l"], ["-l"],
        "wall <= 1.5x, rss <= 1/5", lambda w, r, t: w <= 1.5 and r <= 0.2),
    "list-fentry-verbose": (
        ["-lv", "fentry:*"], None,
        "wall < 150 ms", lambda w, r, t: t < 0.150),
    "start-begin-exit": (
        ["-e", 'BEGIN { printf("ready\\n"); exit(); }'], ["-e", 'BEGIN { printf("ready\\n"); exit(); }'],
        "wall <= 1/10, rss <= 1/5", lambda w, r, t: w <= 0.1 and r <= 0.2),
}


def peak_rss_kib(argv):
    """Peak RSS of one run, from GNU time (a child forked from Python would report Python's pages)."""
    with tempfile.NamedTemporaryFile("r") as rss_file:
        status = subprocess.run([GNU_TIME, "-f", "%M", "-o", rss_file.name] + argv, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL).returncode
        if status != 0:
            raise SystemExit(f"bench: {' '.join(argv)} exited with {status}")
        return int(rss_file.read().strip().splitlines()[-1])


def wall_medians(commands, runs):
    """Median wall seconds of each command, from hyperfine: no shell, interleaved warm-up, precise
    timing (a Python-spawned child would add ~1 ms to every run, which skews ratios of small times)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as export:
        hyperfine = ["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json", export.name,
                     "--style", "none"]
        subprocess.run(hyperfine + [shlex.join(command) for command in commands], check=True,
                       stdout=subprocess.DEVNULL)
        results = json.load(open(export.name))["results"]
    return [result["median"] for result in results]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--bpfscope", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "bpfscope"))
    parser.add_argument("--bpftrace", default="bpftrace")
    parser.add_argument("cases", nargs="*", default=list(CASES))
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (both tools need it)")
    if not os.path.exists(GNU_TIME):
        subprocess.run(["apt-get", "install", "-y", "-qq", "time"], check=True)
    for tool, package in ((args.bpftrace, "bpftrace"), ("hyperfine", "hyperfine")):
        if not shutil.which(tool):
            subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True)
    failed = False
    print(f"{'case':28} {'bpfscope':>12} {'bpftrace':>12} {'wall ratio':>10} {'rss KiB':>17} {'rss ratio':>9}  goal")
    for name in args.cases:
        ours_args, theirs_args, goal, check = CASES[name]
        ours = [args.bpfscope] + ours_args
        theirs = [args.bpftrace] + theirs_args if theirs_args else None
        walls = wall_medians([ours] + ([theirs] if theirs else []), args.runs)
        ours_wall = walls[0]
        ours_peak = statistics.median(peak_rss_kib(ours) for _ in range(args.runs))
        if theirs:
            their_wall = walls[1]
            their_peak = statistics.median(peak_rss_kib(theirs) for _ in range(args.runs))
            wall_ratio, rss_ratio = ours_wall / their_wall, ours_peak / their_peak
            theirs_text = f"{their_wall * 1000:9.1f} ms"
            rss_text = f"{ours_peak:>7.0f}/{their_peak:<9.0f}"
        else:
            wall_ratio = rss_ratio = float("nan")
            theirs_text, rss_text = f"{'-':>12}", f"{ours_peak:>7.0f}/{'-':<9}"
        ok = check(wall_ratio, rss_ratio, ours_wall)
        failed |= not ok
        print(f"{name:28} {ours_wall * 1000:9.1f} ms {theirs_text} {wall_ratio:10.3f} {rss_text} {rss_ratio:9.3f}  "
              f"{goal} [{'met' if ok else 'NOT MET'}]")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
