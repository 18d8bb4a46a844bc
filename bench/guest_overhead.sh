#!/bin/bash
# Per-event overhead of a kprobe and an fentry counting script, bpfscope against bpftrace,
# measured inside a guest kernel that has both (the CI host has neither).
#
# Usage (from the repository root):
#   cc -O2 -o /tmp/getppid_loop_bench bench/getppid_loop.c     # on the HOST, before booting
#   scripts/vmtest.sh run 6.12 -t 900 -- bench/guest_overhead.sh target/release/bpfscope [CALLS]
# Run on the host without a guest (BPFSCOPE_VM_SERIES unset), the script compiles the loop
# itself and then boots the guest with the command above (series from GUEST_SERIES, 6.12).
#
# For each tool and probe kind: start the tool in the background, wait (bounded) until it
# says "Attaching" (bpfscope on stderr, bpftrace 0.17 on stdout), run the getppid() loop
# RUNS times, stop the tool with SIGINT and check its count. The untraced loop runs RUNS
# times too. Figures: median traced seconds minus median untraced seconds, divided by CALLS.
# Progress goes to stderr, results to stdout. Every wait is bounded so the guest never hangs.
# Settings (environment; pass them into the guest with vmtest.sh -e NAME): RUNS (3),
# ATTACH_DEADLINE (240 s), GETPPID_LOOP (/tmp/getppid_loop_bench), PROBE_FUNCTION
# (__do_sys_getppid). Example with steadier medians:
#   RUNS=9 scripts/vmtest.sh run 6.12 -t 900 -e RUNS -- \
#     bench/guest_overhead.sh target/release/bpfscope 500000
set -u

bpfscope_binary=${1:-target/release/bpfscope}
calls=${2:-20000}
runs=${RUNS:-3}
attach_deadline_seconds=${ATTACH_DEADLINE:-240}
loop_binary=${GETPPID_LOOP:-/tmp/getppid_loop_bench}
script_directory=$(cd -- "$(dirname -- "$0")" && pwd)

progress() { echo "guest_overhead[$SECONDS s]: $*" >&2; }

if [[ -z ${BPFSCOPE_VM_SERIES:-} ]]; then
  # On the host: compile here (compiling under TCG is slow) and boot the guest.
  cc -O2 -o "$loop_binary" "$script_directory/getppid_loop.c" || exit 1
  cd -- "$script_directory/.." || exit 1
  exec scripts/vmtest.sh run "${GUEST_SERIES:-6.12}" -t "${GUEST_TIMEOUT:-900}" \
    -e RUNS -e ATTACH_DEADLINE -e GETPPID_LOOP -e PROBE_FUNCTION -- \
    bench/guest_overhead.sh "$bpfscope_binary" "$calls"
fi

progress "kernel $(uname -r), calls=$calls runs=$runs"
if [[ ! -x $loop_binary ]]; then
  # The host's /tmp is visible read-only through the overlay; fall back to a guest build.
  progress "$loop_binary missing (compile it on the host first); compiling in the guest"
  loop_binary=/tmp/getppid_loop_guest
  timeout 300 cc -O2 -o "$loop_binary" "$script_directory/getppid_loop.c" || exit 1
fi
[[ -x $bpfscope_binary ]] || { progress "no bpfscope binary at $bpfscope_binary"; exit 1; }
bpftrace_binary=$(command -v bpftrace) || { progress "bpftrace not found"; exit 1; }
work_directory=$(mktemp -d)

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Runs the loop RUNS times; prints one wall time per line.
run_loop_times() {
  local run
  for ((run = 0; run < runs; run++)); do
    timeout 120 "$loop_binary" "$calls" || echo "nan"
  done
}

untraced_times=$(run_loop_times)
untraced_median=$(median <<<"$untraced_times")
progress "untraced: $(echo $untraced_times) -> median $untraced_median s"
echo "untraced median: $untraced_median s for $calls calls"

# The kernel's own view: a kprobe is listed in debugfs, an fentry program adds a tracing link.
tracing_link_count() { bpftool link show 2>/dev/null | grep -c ': tracing '; }
probe_is_attached() {
  if [[ $1 == kprobe ]]; then
    grep -qs "$probe_function" /sys/kernel/debug/kprobes/list
  else
    (($(tracing_link_count) > tracing_links_before))
  fi
}

# measure NAME TOOL_BINARY PROGRAM: prints the median traced wall time, or nothing on failure.
measure() {
  local name=$1 tool=$2 program=$3
  local output_file=$work_directory/$name.out error_file=$work_directory/$name.err
  tracing_links_before=$(tracing_link_count)
  "$tool" -e "$program" >"$output_file" 2>"$error_file" &
  local tool_pid=$! started_at=$SECONDS
  until grep -qs Attaching "$output_file" "$error_file"; do
    if ! kill -0 "$tool_pid" 2>/dev/null; then
      progress "$name: exited before attaching:"; cat "$output_file" "$error_file" >&2
      return 1
    fi
    if ((SECONDS - started_at > attach_deadline_seconds)); then
      progress "$name: not attached after ${attach_deadline_seconds}s, giving up:"
      cat "$output_file" "$error_file" >&2
      kill -KILL "$tool_pid"; wait "$tool_pid" 2>/dev/null
      return 1
    fi
    sleep 0.2
  done
  # bpftrace 0.17 prints "Attaching" before it attaches: wait for the kernel to show it.
  local kind=${name%%-*} ready_at=$SECONDS
  until probe_is_attached "$kind"; do
    if ((SECONDS - ready_at > 60)); then
      progress "$name: no sign of the attachment in the kernel after 60s; measuring anyway"
      break
    fi
    sleep 0.2
  done
  progress "$name: attached after $((SECONDS - started_at))s"
  local traced_times
  traced_times=$(run_loop_times)
  kill -INT "$tool_pid" 2>/dev/null
  local stopped_at=$SECONDS
  while kill -0 "$tool_pid" 2>/dev/null && ((SECONDS - stopped_at < 60)); do sleep 0.2; done
  kill -0 "$tool_pid" 2>/dev/null && { progress "$name: no exit on SIGINT, killing"; kill -KILL "$tool_pid"; }
  wait "$tool_pid" 2>/dev/null
  local count
  count=$(sed -n 's/^@: *\([0-9][0-9]*\)$/\1/p' "$output_file" | tail -n1)
  progress "$name: times $(echo $traced_times), count ${count:-none} (expected >= $((calls * runs)))"
  if [[ -z $count ]] || ((count < calls * runs)); then
    progress "$name: the probe did not count every call; output:"; cat "$output_file" "$error_file" >&2
  fi
  median <<<"$traced_times"
}

# __do_sys_getppid: in BTF (fentry) and ftrace-able (kprobe) on 6.1 and 6.12, unlike the
# __x64_sys_getppid wrapper, which BTF lacks.
probe_function=${PROBE_FUNCTION:-__do_sys_getppid}
declare -A traced_median
for kind in kprobe fentry; do
  for tool in bpfscope bpftrace; do
    if [[ $kind == kprobe ]]; then
      program="kprobe:$probe_function { @ = count(); }"
    elif [[ $tool == bpftrace ]]; then
      program="kfunc:$probe_function { @ = count(); }" # bpftrace 0.17 spelling
    else
      program="fentry:$probe_function { @ = count(); }"
    fi
    if [[ $tool == bpfscope ]]; then binary=$bpfscope_binary; else binary=$bpftrace_binary; fi
    progress "$kind/$tool: $program"
    traced_median[$kind/$tool]=$(measure "$kind-$tool" "$binary" "$program")
  done
done

# Results: ns per call for each tool and the bpfscope/bpftrace ratio.
status=0
for kind in kprobe fentry; do
  bpfscope_median=${traced_median[$kind/bpfscope]:-}
  bpftrace_median=${traced_median[$kind/bpftrace]:-}
  if [[ -z $bpfscope_median || -z $bpftrace_median ]]; then
    echo "$kind: no figure (bpfscope median '${bpfscope_median}', bpftrace median '${bpftrace_median}')"
    status=1
    continue
  fi
  awk -v kind="$kind" -v base="$untraced_median" -v ours="$bpfscope_median" \
    -v theirs="$bpftrace_median" -v calls="$calls" 'BEGIN {
      our_ns = (ours - base) * 1e9 / calls; their_ns = (theirs - base) * 1e9 / calls
      ratio = their_ns > 0 ? our_ns / their_ns : 0
      printf "%s: bpfscope %.1f ns/call, bpftrace %.1f ns/call, ratio %.2f (traced medians %.6f s / %.6f s, untraced %.6f s)\n", kind, our_ns, their_ns, ratio, ours, theirs, base
    }'
done
rm -rf -- "$work_directory"
exit "$status"
