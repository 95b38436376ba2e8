#!/usr/bin/env bash
# Capture the netlink messages of commands run in the VM (for byte fixtures of the IPVS codec).
#   tests/vm/capture-genl.sh --out DIR [--bin PATH]... [--file SRC[:DEST]]... -- 'CMD' ['CMD']...
#   tests/vm/capture-genl.sh --out DIR --cmds FILE     # one command per line ('#' = comment)
# Boots the VM once, loads ip_vs and its schedulers, then for each command N (01, 02, ...):
# captures nlmon0 while it runs into DIR/NN.pcap (LINKTYPE_NETLINK, one record per netlink
# message, both directions), its output into DIR/NN.out, and a line "NN<TAB>exit<TAB>command" into
# DIR/index.tsv. Commands run in order in one kernel, so later ones see the state earlier ones made.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
out="" cmds="" pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --cmds) cmds="$2"; shift 2 ;;
    --bin|--file) pass+=("$1" "$2"); shift 2 ;;
    --) shift; break ;;
    *) echo "capture-genl: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
if [ -n "$cmds" ]; then grep -v '^\s*\(#\|$\)' "$cmds" > "$work/cmds"; else printf '%s\n' "$@" > "$work/cmds"; fi
[ -s "$work/cmds" ] || { echo "capture-genl: no commands" >&2; exit 2; }
cat > "$work/guest.sh" <<'GUEST'
. /vm/lib.sh
vm_load_ipvs || die "cannot load ip_vs"
/sbin/modprobe nlmon || die "no nlmon"
/sbin/ip link add nlmon0 type nlmon && /sbin/ip link set nlmon0 up || die "nlmon0"
n=0
: > "$OUT/index.tsv"
while IFS= read -r cmd; do
  n=$((n+1)); id=$(printf %02d $n)
  /sbin/tcpdump -i nlmon0 -U -w "$OUT/$id.pcap" 2> /tmp/td.err &
  tp=$!
  i=0; while ! grep -q listening /tmp/td.err && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  sh -c "$cmd" > "$OUT/$id.out" 2>&1 < /dev/null
  rc=$?
  sleep 0.3
  kill -INT $tp; wait $tp
  printf '%s\t%s\t%s\n' "$id" "$rc" "$cmd" >> "$OUT/index.tsv"
  echo "$id exit=$rc $(/sbin/tcpdump -r "$OUT/$id.pcap" 2>/dev/null | wc -l) messages: $cmd"
done < /payload/cmds
GUEST
mkdir -p "$out"
"$HERE/vm-run.sh" --script "$work/guest.sh" --file "$work/cmds:/payload/cmds" --out "$out" \
  "${pass[@]+"${pass[@]}"}" --timeout "${LVSD_VM_TIMEOUT:-600}"
