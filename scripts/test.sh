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
