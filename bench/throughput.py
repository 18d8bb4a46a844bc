#!/usr/bin/env python3
"""Per-event overhead of tracing getppid() with bpfscope versus bpftrace, in the same run.

Usage (as root): bench/throughput.py [--runs N] [--calls N] [--program NAME]
A C loop calls getppid() N times untraced, then while each tracer runs a script on
tracepoint:syscalls:sys_enter_getppid with output to a file. Overhead per call =
(traced time - untraced time) / N, medians over runs. Also checks printed + lost == N for bpfscope.
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time

PROGRAMS = {
    "printf": ('tracepoint:syscalls:sys_enter_getppid { printf("%d %s\\n", pid, comm); }', "<= 1/5", 0.2, True),
    "count": ('tracepoint:syscalls:sys_enter_getppid { @[pid] = count(); }', "<= 1", 1.0, False),
}


def build_loop(workdir):
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "getppid_loop.c")
    binary = os.path.join(workdir, "getppid_loop")
    subprocess.run(["cc", "-O2", "-o", binary, source], check=True)
    return binary


def run_loop(binary, calls):
    out = subprocess.run([binary, str(calls)], check=True, capture_output=True, text=True).stdout
    return float(out.strip())


def traced(tool, script, binary, calls, workdir):
    """Runs the loop while `tool -e script` traces it; returns (loop seconds, output text, stderr text)."""
    out_path = os.path.join(workdir, "trace.out")
    err_path = os.path.join(workdir, "trace.err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        tracer = subprocess.Popen([tool, "-o", out_path, "-e", script], stdout=out, stderr=err,
                                  stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            with open(err_path) as e:
                if "Attaching" in e.read():
                    break
            time.sleep(0.05)
        time.sleep(0.5)
        seconds = run_loop(binary, calls)
        time.sleep(0.5)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=300)
    with open(out_path, errors="replace") as f:
        text = f.read()
    with open(err_path, errors="replace") as f:
        errors = f.read()
    return seconds, text, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2_000_000)
    parser.add_argument("--program", choices=list(PROGRAMS), default="printf")
    parser.add_argument("--bpfscope", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "bpfscope"))
    parser.add_argument("--bpftrace", default="bpftrace")
    args = parser.parse_args()
    script, goal, limit, count_lines = PROGRAMS[args.program]
    with tempfile.TemporaryDirectory() as workdir:
        binary = build_loop(workdir)
        base, ours, theirs = [], [], []
        for _ in range(args.runs):
            base.append(run_loop(binary, args.calls))
            seconds, text, errors = traced(args.bpfscope, script, binary, args.calls, workdir)
            ours.append(seconds)
            if count_lines:
                printed = sum(1 for line in text.splitlines() if re.match(r"^\d+ getppid_loop$", line))
                lost = sum(int(n) for n in re.findall(r"Lost (\d+) events", errors + text))
                print(f"bpfscope: printed {printed} + lost {lost} = {printed + lost} of {args.calls}")
            theirs.append(traced(args.bpftrace, script, binary, args.calls, workdir)[0])
        base_s = statistics.median(base)
        ours_ns = (statistics.median(ours) - base_s) / args.calls * 1e9
        theirs_ns = (statistics.median(theirs) - base_s) / args.calls * 1e9
        print(f"untraced: {base_s / args.calls * 1e9:.0f} ns/call")
        print(f"bpfscope overhead: {ours_ns:.0f} ns/call; bpftrace overhead: {theirs_ns:.0f} ns/call; "
              f"ratio {ours_ns / theirs_ns:.3f} (goal {goal}) [{'met' if ours_ns / theirs_ns <= limit else 'NOT MET'}]")


if __name__ == "__main__":
    main()
