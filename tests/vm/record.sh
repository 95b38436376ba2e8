#!/usr/bin/env bash
# Record real-kernel IPVS scenarios in the VM (tests/vm/README.md, "Recording traces").
#   tests/vm/record.sh NAME...          record tests/traces/NAME/lab-commands.sh into tests/traces/NAME/
#   tests/vm/record.sh --all            record every scenario listed below
#   tests/vm/record.sh --to DIR SCRIPT  run one lab script, write its results to DIR
# Each run writes director.pcap, snapshots.txt, ipvsadm-Ln.txt, requests.txt, director.txt
# (tcpdump text of the pcap, times since the first frame) and events.txt (if the script marks any).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SCENARIOS=(rr-sequence wrr-sequence wlc-held sh-mapping mh-mapping persistence-netmask
           quiescent-removed established-idle-expiry udp-persistence persistence-rearm)

run_one() { # script outdir
  local script="$1" dest="$2" tmp
  tmp="$(mktemp -d)"
  echo "== recording $(basename "$(dirname "$script")") -> $dest" >&2
  if ! "$HERE/vm-run.sh" --script "$script" --out "$tmp" --timeout "${LVSD_VM_TIMEOUT:-400}"; then
    echo "record: $script failed; console in $tmp/vm-console.txt" >&2; return 1
  fi
  mkdir -p "$dest"
  for f in director.pcap snapshots.txt ipvsadm-Ln.txt requests.txt director.txt events.txt; do
    if [ -f "$tmp/$f" ]; then cp "$tmp/$f" "$dest/$f"; fi
  done
  rm -rf "$tmp"
}

[ $# -gt 0 ] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
if [ "$1" = --to ]; then run_one "$3" "$2"; exit; fi
[ "$1" = --all ] && set -- "${SCENARIOS[@]}"
for n in "$@"; do
  d="$ROOT/tests/traces/$n"
  [ -f "$d/lab-commands.sh" ] || { echo "record: no $d/lab-commands.sh" >&2; exit 2; }
  run_one "$d/lab-commands.sh" "$d"
done
