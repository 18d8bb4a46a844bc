#!/bin/sh
# Rebuilds the committed ELF fixtures (needs gcc and systemtap-sdt-dev for sys/sdt.h).
# Tests never run this: they use the committed binaries.
set -eu
cd "$(dirname "$0")"
gcc -O1 -g0 -fno-omit-frame-pointer -o usdt_sample usdt_sample.c
strip -s -o usdt_sample.stripped usdt_sample
gcc -O1 -g0 -no-pie -fno-pie -o usdt_sample.nopie usdt_sample.c
