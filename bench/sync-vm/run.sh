#!/usr/bin/env bash
# Connection-sync benchmark in the real-kernel VM (issue 9; NOT in CI): entries replicated per
# second at N (default 100 000) connections, lvsd built-in master -> lvsd built-in backup, and
# kernel master -> kernel backup, two directors in one VM (network namespaces). Figures and the
# command are in docs/PERFORMANCE.md ("Connection sync in the VM").
#   bench/sync-vm/run.sh [N]     # both modes (MODES="kernel builtin"); LVSD_BIN=lvsd to use
#                                # (default: a release build); PPS=R paces the client
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../.." && pwd)"
N="${1:-100000}"
"$ROOT/tests/vm/vm-run.sh" --check >/dev/null 2>&1 || { echo "sync-vm: no VM here"; exit 77; }
T="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ -z "${LVSD_BIN:-}" ]; then (cd "$ROOT" && cargo build -q --release -p lvsd); fi
BIN="${LVSD_BIN:-$T/release/lvsd}"
(cd "$ROOT" && cargo build -q --release -p lvs-dataplane --example udpgen)
GEN="$T/release/examples/udpgen"
for mode in ${MODES:-kernel builtin}; do
  out="${TMPDIR:-/tmp}/lvsd-sync-vm-$mode"; rm -rf "$out"
  "$ROOT/tests/vm/vm-run.sh" --bin "$BIN" --bin "$GEN" --script "$HERE/guest.sh" --arg "$mode" --arg "$N" --arg "${PPS:-0}" \
    --file "$ROOT/tests/vm/scenarios/pair.sh:/payload/pair.sh" --file "$HERE/lvsd.conf:/payload/lvsd.conf" \
    --mem 2048 --smp 2 --timeout 900 --out "$out" || { echo "sync-vm: $mode run failed"; tail -20 "$out/console.log"; exit 1; }
  grep -E '^(result|sent|mode)' "$out/console.log"
done
