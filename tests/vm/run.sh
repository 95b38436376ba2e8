#!/usr/bin/env bash
# Real-kernel tests (CI step in scripts/test-all.sh). Skips cleanly, exit 0, when no VM can run here.
# Runs the smoke test (LVSD_VM_FULL=1: also a two-request scenario through the LVS-DR lab of
# record.sh), then every executable tests/vm/cases/*.sh (host-side scripts that call
# tests/vm/vm-run.sh themselves; exit 0 = pass, 77 = skip, anything else = fail).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
if ! "$HERE/vm-run.sh" --check >/dev/null 2>"${TMPDIR:-/tmp}/lvsd-vm-check.$$"; then
  echo "SKIP real-kernel VM tests: $(tail -1 "${TMPDIR:-/tmp}/lvsd-vm-check.$$")"
  rm -f "${TMPDIR:-/tmp}/lvsd-vm-check.$$"; exit 0
fi
rm -f "${TMPDIR:-/tmp}/lvsd-vm-check.$$"
fail=0
t0=$(date +%s)
lab=(); [ "${LVSD_VM_FULL:-0}" = 1 ] && lab=(--arg lab)
if "$HERE/vm-run.sh" --script "$HERE/smoke-guest.sh" "${lab[@]+"${lab[@]}"}" --timeout 240; then
  echo "PASS vm smoke: Debian kernel ip_vs programmed with ipvsadm, ipvsadm -Ln as expected ($(( $(date +%s) - t0 ))s)"
else
  rc=$?
  if [ "$rc" = 77 ]; then echo "SKIP vm smoke"; else echo "FAIL vm smoke (exit $rc)"; fail=1; fi
fi
for t in "$HERE"/cases/*.sh; do
  [ -x "$t" ] || continue
  t0=$(date +%s)
  "$t"; rc=$?
  case $rc in
    0) echo "PASS vm $(basename "$t") ($(( $(date +%s) - t0 ))s)" ;;
    77) echo "SKIP vm $(basename "$t")" ;;
    *) echo "FAIL vm $(basename "$t") (exit $rc)"; fail=1 ;;
  esac
done
exit $fail
