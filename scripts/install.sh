#!/usr/bin/env bash
# Builds bpfscope and installs it as /usr/local/bin/bpfscope on Debian 12, then shows what the kernel supports.
# Needs root for apt-get and for running bpfscope itself (BPF needs CAP_BPF/CAP_PERFMON or root).
set -euo pipefail
cd "$(dirname "$0")/.."

need_rust="1.95"
if ! command -v cargo >/dev/null 2>&1 || ! printf '%s\n%s\n' "$need_rust" "$(rustc --version | cut -d' ' -f2)" | sort -C -V; then
  echo "install: Rust >= $need_rust is needed; installing it with rustup" >&2
  command -v curl >/dev/null || apt-get install -y --no-install-recommends curl ca-certificates
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
if ! command -v cc >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y --no-install-recommends gcc libc6-dev
fi
cargo build --release --locked -p bpfscope-cli
install -m 0755 target/release/bpfscope /usr/local/bin/bpfscope
echo "installed /usr/local/bin/bpfscope" >&2
exec /usr/local/bin/bpfscope --info
