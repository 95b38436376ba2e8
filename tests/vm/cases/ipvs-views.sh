#!/usr/bin/env bash
# Real-kernel test: `lvsd ipvs list/conns/save` print exactly what ipvsadm prints on several
# IPVS states (see ipvs/views-guest.sh). Exit 0/77/1.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../../.." && pwd)"
"$HERE/../vm-run.sh" --check >/dev/null 2>&1 || exit 77
cd "$ROOT" && cargo build -q -p lvsd || exit 1
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/lvsd"
out="${TMPDIR:-/tmp}/lvsd-vm-ipvs-views"; rm -rf "$out"
"$HERE/../vm-run.sh" --bin "$BIN" --script "$HERE/ipvs/views-guest.sh" --out "$out" --timeout 500
rc=$?
grep -E '^(ok|FAIL|views)' "$out/vm-console.txt" 2>/dev/null | grep -v '^ok' 
exit $rc
