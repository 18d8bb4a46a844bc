#!/usr/bin/env bash
# Installs what the tests need on Debian 12 and runs every test of the workspace.
# Run as root: many tests load real BPF programs and trigger real kernel events.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
# bpftrace is the reference whose output some tests compare against; bpftool cross-checks BTF.
command -v bpftrace >/dev/null 2>&1 || missing+=(bpftrace)
command -v bpftool >/dev/null 2>&1 || missing+=(bpftool)
command -v readelf >/dev/null 2>&1 || missing+=(binutils)
command -v gcc-12 >/dev/null 2>&1 || missing+=(gcc-12)
# libc's separate debug symbols: user stacks name frames that only the debug file knows.
dpkg -s libc6-dbg >/dev/null 2>&1 || missing+=(libc6-dbg)
if ((${#missing[@]})); then
  echo "test: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "test: cargo is missing; run scripts/install.sh first (it installs Rust)" >&2
  exit 1
fi
cargo test --workspace --locked -- --test-threads="$(nproc)"

# The probe-kind tests again inside Debian's 6.1 and 6.12 kernels, which have the kprobes and
# fentry/fexit this host's kernel lacks (docs/vmtest.md): one boot per kernel. Set
# BPFSCOPE_SKIP_VM=1 to leave them out (e.g. on a machine without network for the kernels).
if [[ "${BPFSCOPE_SKIP_VM:-0}" == 1 ]]; then
  echo "test: BPFSCOPE_SKIP_VM=1: not running the probe-kind tests in the 6.1/6.12 guests" >&2
  exit 0
fi
probe_kinds_binary=$(
  cargo test -p bpfscope-cli --test probe_kinds --no-run --locked --message-format=json 2>/dev/null |
    grep '"name":"probe_kinds"' | grep -o '"executable":"[^"]*"' | cut -d'"' -f4 | tail -n 1
)
if [[ -z "$probe_kinds_binary" || ! -x "$probe_kinds_binary" ]]; then
  echo "test: could not find the probe_kinds test binary" >&2
  exit 1
fi
failed=()
for series in 6.1 6.12; do
  started=$SECONDS
  echo "test: probe-kind tests in the $series guest" >&2
  if ! scripts/vmtest.sh run "$series" -t 900 -- "$probe_kinds_binary" --test-threads=1; then
    failed+=("$series")
  fi
  echo "test: $series guest took $((SECONDS - started)) s" >&2
done
if ((${#failed[@]})); then
  echo "test: probe-kind tests failed in the ${failed[*]} guest(s)" >&2
  exit 1
fi
