#!/usr/bin/env bash
# Real-kernel test (issue 9): `lvs_sync_daemon eth0 VI_1` with two lvsd kernel-IPVS directors —
# the kernel's sync daemon follows the VRRP instance (backup while BACKUP, master alone while
# MASTER, stopped with the daemon), as keepalived's VRRP process runs it. Exit 0/77/1.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../../.." && pwd)"
"$HERE/../vm-run.sh" --check >/dev/null 2>&1 || exit 77
cd "$ROOT" && cargo build -q -p lvsd || exit 1
BIN="${LVSD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/lvsd}"
out="${TMPDIR:-/tmp}/lvsd-vm-sync-follow"; rm -rf "$out"
"$HERE/../vm-run.sh" --bin "$BIN" --script "$HERE/sync/follow-guest.sh" --out "$out" --timeout 400 \
  --file "$ROOT/tests/vm/scenarios/pair.sh:/payload/pair.sh" \
  --file "$HERE/director/master.conf:/payload/master.conf" --file "$HERE/director/backup.conf:/payload/backup.conf"
rc=$?
grep -E '^(ok|FAIL)' "$out/console.log" 2>/dev/null
exit $rc
