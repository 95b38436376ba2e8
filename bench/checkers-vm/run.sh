#!/usr/bin/env bash
# Issue 6 benchmark in the real-kernel VM: N_TCP real servers under TCP_CHECK and N_HTTP under
# HTTP_GET, delay_loop 1, against local servers; CPU and RSS of lvsd (`run -C`, data plane none
# and kernel) and of keepalived 2.2.7's checker process on the same config, one after the other.
#   bench/checkers-vm/run.sh [N_TCP] [N_HTTP] [SECONDS] [WARMUP] [WHAT...]
#   WHAT: lvsd-none lvsd-kernel (half-open TCP_CHECK, the default), lvsd-none-connect
#   lvsd-kernel-connect (`--tcp-check connect`), keepalived
#   (default: lvsd-none lvsd-none-connect lvsd-kernel keepalived)
# Env: LVSD (default: cargo build --release), SERVERS (default: the bench_servers example),
# OUT (default /tmp/lvsd-bench-checkers-vm), LVSD_VM_MEM / LVSD_VM_SMP (default 2048 / 2).
# The VM runs under qemu TCG (no KVM here): every figure is inflated by emulation, equally for
# both implementations; compare them with each other, not with native figures.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../.." && pwd)"
N_TCP=${1:-10000}; N_HTTP=${2:-2000}; SECS=${3:-30}; WARM=${4:-25}; shift $(( $# < 4 ? $# : 4 )) || true
WHAT="${*:-lvsd-none lvsd-none-connect lvsd-kernel keepalived}"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
"$ROOT/tests/vm/vm-run.sh" --check || exit 77
cd "$ROOT"
if [ -z "${LVSD:-}" ]; then cargo build -q --release -p lvsd; LVSD=$CARGO_TARGET_DIR/release/lvsd; fi
if [ -z "${SERVERS:-}" ]; then
  cargo build -q --release -p lvs-sys --example bench_servers; SERVERS=$CARGO_TARGET_DIR/release/examples/bench_servers
fi
OUT=${OUT:-/tmp/lvsd-bench-checkers-vm}; rm -rf "$OUT"; mkdir -p "$OUT"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
python3 "$HERE/gen-config.py" "$N_TCP" "$N_HTTP" > "$W/checkers.conf"
echo "$N_TCP $N_HTTP $SECS $WARM $WHAT" > "$W/params"
rc=0
LVSD_VM_MEM=${LVSD_VM_MEM:-2048} LVSD_VM_SMP=${LVSD_VM_SMP:-2} "$ROOT/tests/vm/vm-run.sh" \
  ${VM_VERBOSE:+-v} --bin "$LVSD" --bin "$SERVERS" --script "$HERE/guest.sh" --out "$OUT" --timeout "${TIMEOUT:-1800}" \
  --file "$W/checkers.conf:/payload/checkers.conf" --file "$W/params:/payload/params" || rc=$?
grep -E '^(bench|FAIL|lvsd|keepalived)' "$OUT/vm-console.txt" || true
exit $rc
