#!/usr/bin/env bash
# Kernel IPVS against lvsd's built-in data plane in the same real-kernel VM (issue 8): UDP 18-byte
# packets/s through one LVS-DR director, counted on the two real servers. Both run under qemu
# TCG emulation, so the absolute figures are far below bare metal; the ratio is the point.
# Usage (root): bench/dataplane-vm/run.sh [SECONDS] [VCPUS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
SMP=${2:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p lvs-dataplane --bin lvs-fwd --example udpgen
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
tests/vm/vm-run.sh --script bench/dataplane-vm/guest.sh --arg "$SECS" --smp "$SMP" --mem 1024 \
  --bin "$CARGO_TARGET_DIR/release/lvs-fwd" --bin "$CARGO_TARGET_DIR/release/examples/udpgen" \
  --out "$out" --timeout 300
cat "$out/console.log"
k=$(sed -n 's/^RESULT kernel-ipvs delivered_pps=\([0-9]*\).*/\1/p' "$out/console.log")
b=$(sed -n 's/^RESULT lvsd-builtin delivered_pps=\([0-9]*\).*/\1/p' "$out/console.log")
echo
echo "| director (same VM, $SMP vCPU, TCG) | UDP 18 B pkts/s delivered |"
echo "|---|---|"
echo "| kernel IPVS (LVS-DR, rr) | $k |"
echo "| lvsd built-in (AF_PACKET, 1 worker) | $b |"
[ -n "$k" ] && [ "$k" -gt 0 ] && echo "built-in / kernel: $(( 100 * b / k )) %"
