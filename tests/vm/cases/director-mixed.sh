#!/usr/bin/env bash
# Real-kernel acceptance (issue 7, mixed pair): lvsd and keepalived 2.2.7 as the two directors
# (the write-up's configs on a test range, kernel IPVS, lvs_sync_daemon on), both ways round:
# kill -9 of the master -> the backup carries the client's requests within master_down_interval
# (+ the client's request granularity), none failing; the master returns and takes over. Exit 0/77/1.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../../.." && pwd)"
"$HERE/../vm-run.sh" --check >/dev/null 2>&1 || exit 77
cd "$ROOT" && cargo build -q -p lvsd || exit 1
BIN="${LVSD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/lvsd}"
out="${TMPDIR:-/tmp}/lvsd-vm-director-mixed"; rm -rf "$out"
"$HERE/../vm-run.sh" --bin "$BIN" --script "$HERE/director/mixed-guest.sh" --out "$out" --timeout 400 \
  --file "$ROOT/tests/vm/scenarios/pair.sh:/payload/pair.sh" \
  --file "$HERE/director/master.conf:/payload/master.conf" --file "$HERE/director/backup.conf:/payload/backup.conf"
rc=$?
grep -E '^(ok|FAIL)' "$out/console.log" 2>/dev/null
exit $rc
