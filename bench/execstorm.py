#!/usr/bin/env python3
"""Exec storm: N fork+exec of a short program, untraced then traced by `bpfscope execsnoop`.

Reports the exec rate of both runs, their ratio, whether every marker argument was printed
exactly once, and the lost-event count. Run as root:
    python3 bench/execstorm.py --count 100000 --bpfscope target/release/bpfscope
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

PROGRAM = "/bin/true"


def spawner(first, last, run_id):
    """Forks and execs PROGRAM once per marker in [first, last), waiting for each child."""
    for index in range(first, last):
        pid = os.fork()
        if pid == 0:
            try:
                os.execv(PROGRAM, [PROGRAM, f"storm-{run_id}-{index}"])
            finally:
                os._exit(127)
        os.waitpid(pid, 0)


def storm(count, spawners, run_id):
    """Runs the storm with `spawners` parallel processes; returns execs per second."""
    per_spawner = count // spawners
    start = time.monotonic()
    children = []
    for number in range(spawners):
        first = number * per_spawner
        last = count if number == spawners - 1 else first + per_spawner
        pid = os.fork()
        if pid == 0:
            try:
                spawner(first, last, run_id)
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return count / (time.monotonic() - start)


def start_tracer(bpfscope, output_path, stderr_path):
    tracer = subprocess.Popen(
        [bpfscope, "execsnoop", "--ok", "-n", "true", "-o", output_path],
        stdout=subprocess.DEVNULL,
        stderr=open(stderr_path, "w"),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with open(stderr_path, errors="replace") as stderr:
            if "Attaching" in stderr.read():
                time.sleep(0.5)
                return tracer
        if tracer.poll() is not None:
            sys.exit(f"bpfscope exited before attaching: {open(stderr_path).read()}")
        time.sleep(0.1)
    tracer.kill()
    sys.exit("bpfscope did not attach within 120 s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100000)
    parser.add_argument("--spawners", type=int, default=2)
    parser.add_argument("--bpfscope", default="bpfscope")
    options = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (BPF)")
    run_id = f"{os.getpid()}"
    untraced_rate = storm(options.count, options.spawners, run_id + "u")
    directory = tempfile.mkdtemp(prefix="execstorm-")
    output_path = os.path.join(directory, "execsnoop.out")
    stderr_path = os.path.join(directory, "execsnoop.err")
    tracer = start_tracer(options.bpfscope, output_path, stderr_path)
    traced_rate = storm(options.count, options.spawners, run_id + "t")
    time.sleep(1.0)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(timeout=120)
    seen = {}
    marker = re.compile(rf"storm-{run_id}t-(\d+)")
    lost = 0
    with open(output_path, errors="replace") as output:
        for line in output:
            for match in marker.finditer(line):
                index = int(match.group(1))
                seen[index] = seen.get(index, 0) + 1
            lost_match = re.search(r"Lost (\d+) events", line)
            if lost_match:
                lost += int(lost_match.group(1))
    stderr_text = open(stderr_path, errors="replace").read()
    for lost_match in re.finditer(r"Lost (\d+) events", stderr_text):
        lost += int(lost_match.group(1))
    missing = sum(1 for index in range(options.count) if index not in seen)
    duplicated = sum(1 for times in seen.values() if times > 1)
    ratio = traced_rate / untraced_rate
    print(f"execs per run:        {options.count} ({options.spawners} spawners)")
    print(f"untraced rate:        {untraced_rate:.0f} execs/s")
    print(f"traced rate:          {traced_rate:.0f} execs/s")
    print(f"traced / untraced:    {ratio:.3f} (must be >= 0.95)")
    print(f"markers missing:      {missing}")
    print(f"markers duplicated:   {duplicated}")
    print(f"lost events reported: {lost}")
    warnings = [line for line in stderr_text.splitlines() if "warning" in line.lower()]
    for line in warnings:
        print(f"tracer: {line}")
    ok = missing == 0 and duplicated == 0 and lost == 0 and ratio >= 0.95
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
