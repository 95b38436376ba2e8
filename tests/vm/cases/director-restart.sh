#!/usr/bin/env bash
# Real-kernel acceptance (issue 7): kill -9 and restart of lvsd (the write-up's master config,
# kernel IPVS) keeps an established client connection alive: state adopted (no reconcile
# operation, no flush), VIP kept or re-taken, the held connection completes on its real server.
# Exit 0/77/1.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../../.." && pwd)"
"$HERE/../vm-run.sh" --check >/dev/null 2>&1 || exit 77
cd "$ROOT" && cargo build -q -p lvsd || exit 1
BIN="${LVSD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/lvsd}"
out="${TMPDIR:-/tmp}/lvsd-vm-director-restart"; rm -rf "$out"
"$HERE/../vm-run.sh" --bin "$BIN" --script "$HERE/director/restart-guest.sh" --out "$out" --timeout 400 \
  --file "$ROOT/tests/vm/scenarios/pair.sh:/payload/pair.sh" \
  --file "$HERE/director/master.conf:/payload/master.conf"
rc=$?
grep -E '^(ok|FAIL)' "$out/console.log" 2>/dev/null
exit $rc
