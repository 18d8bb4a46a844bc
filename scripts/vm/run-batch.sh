#!/usr/bin/env bash
# run-batch.sh - run several prebuilt test binaries one after another and summarize.
# Meant to be the command of ONE vmtest.sh boot (booting under TCG costs seconds, so a
# kernel gets one boot for all its tests), but it works the same on the host.
#
# Usage: scripts/vm/run-batch.sh [-o RESULTS_DIR] [-a 'TEST ARGS'] -- BINARY...
#   -o DIR   also write DIR/<binary name>.log per binary and DIR/summary.txt
#            (share DIR with `vmtest.sh run -w DIR` so the logs survive the guest)
#   -a ARGS  arguments for every binary, split on white space (default: none), e.g.
#            '--test-threads=1' or a test name filter
# Each binary's output goes to our stdout as well; the exit status is 0 only when every
# binary exited 0, otherwise 1 (a missing binary counts as a failure).
set -euo pipefail

results_dir=''
test_arguments=''
while getopts ':o:a:' option; do
  case $option in
    o) results_dir=$OPTARG ;;
    a) test_arguments=$OPTARG ;;
    *)
      echo "run-batch: usage: run-batch.sh [-o RESULTS_DIR] [-a 'TEST ARGS'] -- BINARY..." >&2
      exit 2
      ;;
  esac
done
shift $((OPTIND - 1))
[[ ${1:-} == -- ]] && shift
if (($# == 0)); then
  echo "run-batch: no test binaries given" >&2
  exit 2
fi
if [[ -n $results_dir ]]; then mkdir -p -- "$results_dir"; fi

# Word splitting of the argument string is the point of -a.
read -r -a split_test_arguments <<<"$test_arguments"
summary_lines=()
failures=0
context="kernel $(uname -r)${BPFSCOPE_VM_SERIES:+ (vmtest guest $BPFSCOPE_VM_SERIES)}"
for binary in "$@"; do
  name=${binary##*/}
  log_file=/dev/null
  if [[ -n $results_dir ]]; then log_file=$results_dir/$name.log; fi
  echo "==== run-batch: $name on $context"
  started_at=$SECONDS
  binary_status=0
  if [[ -x $binary ]]; then
    "$binary" "${split_test_arguments[@]}" 2>&1 | tee -- "$log_file" || binary_status=${PIPESTATUS[0]}
  else
    echo "run-batch: $binary is not an executable file" | tee -- "$log_file"
    binary_status=127
  fi
  if ((binary_status == 0)); then verdict=PASS; else
    verdict="FAIL(status $binary_status)"
    failures=$((failures + 1))
  fi
  summary_lines+=("$verdict $name $((SECONDS - started_at))s")
done

{
  echo "==== run-batch summary on $context: $(($# - failures))/$# binaries passed"
  printf '%s\n' "${summary_lines[@]}"
} | if [[ -n $results_dir ]]; then tee -- "$results_dir/summary.txt"; else cat; fi
((failures == 0))
