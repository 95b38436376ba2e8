#!/usr/bin/env bash
# Issue 4 benchmark: cold apply of N_VS virtual servers x N_RS real servers and a one-weight
# reload, lvsd vs keepalived 2.2.7, in the real-kernel VM (tests/vm/vm-run.sh: Debian's kernel
# under qemu TCG — slow, but the same VM for both sides).
#   bench/ipvs-apply/run.sh [N_VS] [N_RS] [RELOADS] [WHAT...]     WHAT: apply daemon keepalived
#   (and restart: lvsd started, SIGKILLed, started again on the table it left, then the reloads)
# Env: LVSD (an lvsd binary; default: cargo build --release), IPVS_WAIT (the helper; default:
# cargo build --release -p lvs-sys --example ipvs_wait), OUT (default /tmp/lvsd-bench-ipvs-apply),
# LVSD_VM_MEM / LVSD_VM_SMP (default 3072 / 2).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../.." && pwd)"
N_VS=${1:-10000}; N_RS=${2:-4}; RELOADS=${3:-4}; shift $(( $# < 3 ? $# : 3 )) || true
WHAT="${*:-apply daemon keepalived}"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
"$ROOT/tests/vm/vm-run.sh" --check || exit 77
cd "$ROOT"
if [ -z "${LVSD:-}" ]; then cargo build -q --release -p lvsd; LVSD=$CARGO_TARGET_DIR/release/lvsd; fi
if [ -z "${IPVS_WAIT:-}" ]; then
  cargo build -q --release -p lvs-sys --example ipvs_wait; IPVS_WAIT=$CARGO_TARGET_DIR/release/examples/ipvs_wait
fi
OUT=${OUT:-/tmp/lvsd-bench-ipvs-apply}; rm -rf "$OUT"; mkdir -p "$OUT"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
sh "$HERE/gen-config.sh" "$N_VS" "$N_RS" > "$W/bench.conf"
sh "$HERE/gen-config.sh" "$N_VS" "$N_RS" 3 > "$W/bench-w.conf"
echo "$N_VS $N_RS $RELOADS $WHAT" > "$W/params"
rc=0
LVSD_VM_MEM=${LVSD_VM_MEM:-3072} LVSD_VM_SMP=${LVSD_VM_SMP:-2} "$ROOT/tests/vm/vm-run.sh" \
  ${VM_VERBOSE:+-v} --bin "$LVSD" --bin "$IPVS_WAIT" --script "$HERE/guest.sh" --out "$OUT" --timeout "${TIMEOUT:-3000}" \
  --file "$W/bench.conf:/payload/bench.conf" --file "$W/bench-w.conf:/payload/bench-w.conf" \
  --file "$W/params:/payload/params" --file "$HERE/target.sh:/payload/target.sh" || rc=$?
grep -E '^(ok|FAIL|note|bench|lvsd|keepalived)' "$OUT/vm-console.txt" || true
[ -f "$OUT/results.tsv" ] || { echo "no results (exit $rc); see $OUT/vm-console.txt"; exit 1; }
echo
echo "$N_VS virtual servers x $N_RS real servers; times in ms from start (or SIGHUP) until ipvs_wait saw the real server"
awk -F'\t' '
  { k = $1 SUBSEP $2; n[k]++; v[k, n[k]] = $3; e[k, n[k]] = $4; if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
  function med(k, arr,   i, j, t, a, c) { c = n[k]; for (i = 1; i <= c; i++) a[i] = arr[k, i] + 0
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 }
  function mn(k, arr,   i, x) { x = arr[k, 1] + 0; for (i = 2; i <= n[k]; i++) if (arr[k, i] + 0 < x) x = arr[k, i] + 0; return x }
  function mx(k, arr,   i, x) { x = arr[k, 1] + 0; for (i = 2; i <= n[k]; i++) if (arr[k, i] + 0 > x) x = arr[k, i] + 0; return x }
  END {
    printf "%-12s %-14s %4s %12s %12s %12s %12s\n", "tool", "phase", "runs", "median", "min", "max", "exit median"
    for (i = 1; i <= m; i++) { k = order[i]; split(k, p, SUBSEP)
      printf "%-12s %-14s %4d %12.1f %12.1f %12.1f %12s\n", p[1], p[2], n[k], med(k, v), mn(k, v), mx(k, v), (e[k, 1] !~ /^[0-9.]+$/) ? "-" : sprintf("%.1f", med(k, e)) }
  }' "$OUT/results.tsv"
exit $rc
