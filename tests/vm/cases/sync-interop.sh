#!/usr/bin/env bash
# Real-kernel acceptance (issue 9): kernel sync master -> lvsd built-in backup, and lvsd built-in
# master -> kernel backup. Two lvsd directors with the write-up's configs and lvs_sync_daemon on:
# dir1 --dataplane kernel, dir2 --dataplane builtin; the backup's table (`ipvsadm -lnc` / the
# control socket's conns) must hold the master's template and ESTABLISHED entries; across the
# kill -9 failover the persistent client keeps its real server and its held connection completes.
# Exit 0/77/1.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../../.." && pwd)"
"$HERE/../vm-run.sh" --check >/dev/null 2>&1 || exit 77
cd "$ROOT" && cargo build -q -p lvsd || exit 1
BIN="${LVSD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/lvsd}"
out="${TMPDIR:-/tmp}/lvsd-vm-sync-interop"; rm -rf "$out"
"$HERE/../vm-run.sh" --bin "$BIN" --script "$HERE/sync/interop-guest.sh" --out "$out" --timeout 400 \
  --file "$ROOT/tests/vm/scenarios/pair.sh:/payload/pair.sh" \
  --file "$HERE/director/master.conf:/payload/master.conf" --file "$HERE/director/backup.conf:/payload/backup.conf"
rc=$?
grep -E '^(ok|FAIL)' "$out/console.log" 2>/dev/null
exit $rc
