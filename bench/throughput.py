#!/usr/bin/env python3
"""Per-event overhead of tracing getppid() with bpfscope versus bpftrace, in the same run.

Usage (as root): bench/throughput.py [--runs N] [--calls N] [--program NAME|all] [--bpfscope PATH]
A C loop calls getppid() N times untraced, then while each tracer runs a script on
tracepoint:syscalls:sys_{enter,exit}_getppid with output to a file. Overhead per call =
(traced time - untraced time) / N, medians over runs, both tracers in the same run.
Programs and goals (bpfscope overhead / bpftrace overhead):
  printf        printf per event                        <= 1/5; checks printed + lost == N
  count         @[pid] = count()                        <= 1;   checks the loop's count == N
  hist-latency  @start[tid] = nsecs / hist(nsecs - @start[tid]) at exit, delete
                                                        <= 1.2; checks the histogram holds >= N
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time

HIST_LATENCY_SCRIPT = (
    "tracepoint:syscalls:sys_enter_getppid { @start[tid] = nsecs; } "
    "tracepoint:syscalls:sys_exit_getppid /@start[tid]/ { @h = hist(nsecs - @start[tid]); delete(@start[tid]); }"
)

# name: (script, goal text, goal as a ratio limit, what to check in the tracer's output)
PROGRAMS = {
    "printf": ('tracepoint:syscalls:sys_enter_getppid { printf("%d %s\\n", pid, comm); }', "<= 1/5", 0.2, "lines"),
    "count": ('tracepoint:syscalls:sys_enter_getppid { @[pid] = count(); }', "<= 1", 1.0, "count"),
    "hist-latency": (HIST_LATENCY_SCRIPT, "<= 1.2", 1.2, "hist"),
}


def check_output(check, text, errors, calls):
    """One line saying whether a tracer's output accounts for the loop's calls (other processes on
    the host call getppid too, so the map checks allow extra events but never missing ones)."""
    if check == "lines":
        printed = sum(1 for line in text.splitlines() if re.match(r"^\d+ getppid_loop$", line))
        lost = sum(int(n) for n in re.findall(r"Lost (\d+) events", errors + text))
        verdict = "ok" if printed + lost == calls else "WRONG"
        return f"printed {printed} + lost {lost} = {printed + lost} of {calls} [{verdict}]"
    if check == "count":
        counts = [int(n) for n in re.findall(r"^@\[\d+\]: (\d+)$", text, re.MULTILINE)]
        largest = max(counts, default=0)
        verdict = "ok" if largest == calls else "WRONG"
        return f"largest per-pid count {largest} of {calls} [{verdict}]"
    if check == "hist":
        total = sum(int(n) for n in re.findall(r"^[\[(][^\])]*[\])]\s+(\d+) \|", text, re.MULTILINE))
        verdict = "ok" if total >= calls else "WRONG"
        return f"histogram holds {total} events for {calls} calls [{verdict}]"
    return "no check"


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


def measure(args, binary, workdir, name):
    """Runs one program `args.runs` times with both tracers; prints the figures; returns whether the goal holds."""
    script, goal, limit, check = PROGRAMS[name]
    print(f"== {name}: {script}")
    base, ours, theirs = [], [], []
    for _ in range(args.runs):
        base.append(run_loop(binary, args.calls))
        seconds, text, errors = traced(args.bpfscope, script, binary, args.calls, workdir)
        ours.append(seconds)
        print(f"bpfscope: {check_output(check, text, errors, args.calls)}")
        seconds, text, errors = traced(args.bpftrace, script, binary, args.calls, workdir)
        theirs.append(seconds)
        if check != "lines":
            print(f"bpftrace: {check_output(check, text, errors, args.calls)}")
    base_s = statistics.median(base)
    ours_ns = (statistics.median(ours) - base_s) / args.calls * 1e9
    theirs_ns = (statistics.median(theirs) - base_s) / args.calls * 1e9
    ratio = ours_ns / theirs_ns if theirs_ns > 0 else float("inf")
    met = ratio <= limit
    print(f"untraced: {base_s / args.calls * 1e9:.0f} ns/call "
          f"(runs: {', '.join(f'{b / args.calls * 1e9:.0f}' for b in base)})")
    print(f"bpfscope overhead: {ours_ns:.0f} ns/call; bpftrace overhead: {theirs_ns:.0f} ns/call; "
          f"ratio {ratio:.3f} (goal {goal}) [{'met' if met else 'NOT MET'}]")
    return met


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2_000_000)
    parser.add_argument("--program", choices=list(PROGRAMS) + ["all"], default="printf")
    parser.add_argument("--bpfscope", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "bpfscope"))
    parser.add_argument("--bpftrace", default="bpftrace")
    args = parser.parse_args()
    names = list(PROGRAMS) if args.program == "all" else [args.program]
    with tempfile.TemporaryDirectory() as workdir:
        binary = build_loop(workdir)
        results = {name: measure(args, binary, workdir, name) for name in names}
    print("summary: " + ", ".join(f"{name} {'met' if met else 'NOT MET'}" for name, met in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
