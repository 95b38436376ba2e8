#!/usr/bin/env bash
# Acceptance (issue 4): client -> VIP -> real servers through LVS-DR with persistence in the
# real kernel; the kernel's `ipvsadm -lnc` must match `lvsd simulate` on the captured traffic.
# Records the seed scenario live in the VM (lab-commands of tests/traces/persistence-rearm), then
# runs the host's lvsd on the capture. Needs an lvsd binary: $LVSD_BIN, or target/{release,debug}.
# ~2 min under TCG; LVSD_VM_SKIP_DR_SIMULATE=1 skips it (exit 77).
set -uo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
[ "${LVSD_VM_SKIP_DR_SIMULATE:-0}" = 1 ] && { echo "dr-simulate: skipped (LVSD_VM_SKIP_DR_SIMULATE=1)"; exit 77; }
bin="${LVSD_BIN:-}"
for c in "$ROOT/target/release/lvsd" "$ROOT/target/debug/lvsd"; do
  [ -z "$bin" ] && [ -x "$c" ] && bin="$c"
done
[ -n "$bin" ] || { echo "dr-simulate: no lvsd binary (cargo build -p lvsd)"; exit 77; }
sc="$ROOT/tests/traces/persistence-rearm"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
"$HERE/record.sh" --to "$work/rec" "$sc/lab-commands.sh" || exit 1
ats=(); while read -r l; do ats+=(--at "${l#--- at=}"); done < <(grep '^--- at=' "$work/rec/snapshots.txt")
"$bin" simulate -f "$sc/keepalived.conf" --pcap "$work/rec/director.pcap" "${ats[@]}" > "$work/sim.txt" || exit 1
python3 "$HERE/lib/compare-snapshots.py" "$work/rec/snapshots.txt" "$work/sim.txt" || {
  echo "--- kernel"; cat "$work/rec/snapshots.txt"; echo "--- lvsd simulate"; cat "$work/sim.txt"; exit 1; }
