#!/usr/bin/env bash
# Real-kernel acceptance (issue 7, item 1): two lvsd directors (the write-up's master/backup
# configs on a test range, kernel IPVS, lvs_sync_daemon on), two LVS-DR real servers, a client
# requesting through the VIP back to back. kill -9 of the master -> requests through the backup
# within master_down_interval + 1 s; the master returns and takes over; a SIGHUP reload under
# load changing a weight fails no request; a broken config is refused with its file:line and
# nothing changes; a real server whose TCP_CHECK fails leaves IPVS and returns. Exit 0/77/1.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../../.." && pwd)"
"$HERE/../vm-run.sh" --check >/dev/null 2>&1 || exit 77
cd "$ROOT" && cargo build -q -p lvsd || exit 1
BIN="${LVSD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/lvsd}"
out="${TMPDIR:-/tmp}/lvsd-vm-director-failover"; rm -rf "$out"
"$HERE/../vm-run.sh" --bin "$BIN" --script "$HERE/director/failover-guest.sh" --out "$out" --timeout 400 \
  --file "$ROOT/tests/vm/scenarios/pair.sh:/payload/pair.sh" \
  --file "$HERE/director/master.conf:/payload/master.conf" --file "$HERE/director/backup.conf:/payload/backup.conf"
rc=$?
grep -E '^(ok|FAIL)' "$out/console.log" 2>/dev/null
exit $rc
