#!/usr/bin/env bash
# Real-kernel test: `lvsd ipvs apply` of the seed config, foreign services left alone, a weight
# change edited in place with connection entries surviving, restart adoption. Exit 0/77/1.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../../.." && pwd)"
"$HERE/../vm-run.sh" --check >/dev/null 2>&1 || exit 77
cd "$ROOT" && cargo build -q -p lvsd || exit 1
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/lvsd"
out="${TMPDIR:-/tmp}/lvsd-vm-ipvs-apply"; rm -rf "$out"
"$HERE/../vm-run.sh" --bin "$BIN" --script "$HERE/ipvs/apply-guest.sh" --out "$out" --timeout 400 \
  --file "$HERE/ipvs/seed.conf:/payload/seed.conf" --file "$HERE/ipvs/seed-weight.conf:/payload/seed-weight.conf" \
  --file "$HERE/ipvs/empty.conf:/payload/empty.conf" --file "$HERE/ipvs/expected-apply.txt:/payload/expected-apply.txt" \
  --file "$ROOT/bench/ipvs-apply/gen-config.sh:/payload/gen-config.sh"
rc=$?
grep -E '^(ok|FAIL)' "$out/vm-console.txt" 2>/dev/null
exit $rc
