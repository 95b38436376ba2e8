#!/usr/bin/env bash
# Connection-sync benchmark on the host (issue 9; NOT in CI): entries replicated per second at N
# (default 100 000) connections, lvsd built-in master -> lvsd built-in backup. The same topology
# and configuration as bench/sync-vm (builtin mode), but in network namespaces of this machine: the
# built-in data plane needs no kernel IPVS, and qemu TCG made it drop packets in the VM.
#   bench/sync-host/run.sh [N]   (root) PPS=R paces the client (default 20000 datagrams/s; 0 =
#                                unpaced); PASSES=K passes over the N pairs (default 3: until
#                                the master holds N); SAMPLE=S seconds between samples (0.2);
#                                LVSD_BIN=lvsd to use (default: a release build in
#                                $CARGO_TARGET_DIR); UDPGEN_BIN=udpgen (default: built here);
#                                SYNC_THRESHOLD="T P" the master's sync_threshold (default
#                                "1 50" as bench/sync-vm's kernel run: one datagram syncs; given
#                                to lvsd as LVSD_SYNC_THRESHOLD); NOSYNC=1 runs both directors
#                                without lvs_sync_daemon (the data plane's own loss, no backup)
# Topology (one bridge in its own namespace hsN-sw; all in 10.0.0.0/16):
#   cli 10.0.0.100-102   dir1 10.0.0.1 (+ VIP 10.0.0.49)   dir2 10.0.0.2   rs56, rs57 (VIP on lo)
# Both directors run `lvsd run -n -l -C --dataplane builtin -f bench/sync-vm/lvsd.conf`
# (lvs_sync_daemon eth0, no VRRP instance: sync master and backup on both). The client sends one
# UDP datagram from each of N (address, port) pairs to the VIP:53 (`udpgen --pairs`, the example
# of crates/lvs-dataplane), so dir1 creates N entries and its sync master sends them to dir2.
# Both tables (`lvsd status --json`,
# dataplane.connections) are sampled every ~0.2 s into $OUT/progress.txt ("SECONDS MASTER
# BACKUP"); the summary line starts with "result:". Figures: docs/PERFORMANCE.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; ROOT="$(cd "$HERE/../.." && pwd)"
N="${1:-100000}"
PPS="${PPS:-20000}"
[ "$(id -u)" = 0 ] || { echo "sync-host: needs root"; exit 77; }
T="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ -z "${LVSD_BIN:-}" ]; then (cd "$ROOT" && cargo build -q --release -p lvsd); fi
BIN="${LVSD_BIN:-$T/release/lvsd}"
if [ -z "${UDPGEN_BIN:-}" ]; then
  (cd "$ROOT" && cargo build -q --release -p lvs-dataplane --example udpgen)
fi
GEN="${UDPGEN_BIN:-$T/release/examples/udpgen}"
CONF="$ROOT/bench/sync-vm/lvsd.conf"
SYNC_THRESHOLD="${SYNC_THRESHOLD:-1 50}"
VIP=10.0.0.49
P=hs$$
OUT=$(mktemp -d "${TMPDIR:-/tmp}/lvsd-sync-host.XXXX")
NODES="sw cli dir1 dir2 rs56 rs57"
PIDS=()
MADE_RUN=""
cleanup() {
  for p in "${PIDS[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for n in $NODES; do ip netns del "$P-$n" 2>/dev/null || true; done
  [ -n "$MADE_RUN" ] && rmdir /run/lvsd 2>/dev/null || true
  echo "sync-host: logs in $OUT"
}
trap cleanup EXIT
if [ -n "${NOSYNC:-}" ]; then grep -v lvs_sync_daemon "$CONF" > "$OUT/nosync.conf"; CONF="$OUT/nosync.conf"; fi
ns() { ip netns exec "$P-$1" "${@:2}"; }

# /run/lvsd must exist as a mount point for each director's private bind mount.
[ -d /run/lvsd ] || { mkdir -p /run/lvsd; MADE_RUN=1; }
for n in $NODES; do ip netns add "$P-$n"; ip -n "$P-$n" link set lo up; done
ip -n "$P-sw" link add br0 type bridge
# Sync multicast (224.0.0.81) must flood: no IGMP querier here.
ip -n "$P-sw" link set br0 type bridge mcast_snooping 0
ip -n "$P-sw" link set br0 up
node() {
  ip link add eth0 netns "$P-$1" type veth peer name "p-$1" netns "$P-sw"
  ip -n "$P-sw" link set "p-$1" master br0 up
  ip -n "$P-$1" addr add "$2/16" dev eth0
  ip -n "$P-$1" link set eth0 up
}
node cli 10.0.0.100
ip -n "$P-cli" addr add 10.0.0.101/16 dev eth0
ip -n "$P-cli" addr add 10.0.0.102/16 dev eth0
node dir1 10.0.0.1
node dir2 10.0.0.2
ip -n "$P-dir1" addr add "$VIP/32" dev eth0
for r in 56 57; do
  node "rs$r" "10.0.0.$r"
  ip -n "$P-rs$r" addr add "$VIP/32" dev lo
  ns "rs$r" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
done

for n in 1 2; do
  mkdir -p "$OUT/d$n"
  # `ip netns exec` gives a mount namespace of its own (slave of /): /run/lvsd private to dirN.
  ip netns exec "$P-dir$n" env LVSD_SYNC_THRESHOLD="$SYNC_THRESHOLD" sh -c "mount --bind '$OUT/d$n' /run/lvsd && exec '$BIN' run -n -l -C \
    --dataplane builtin -f '$CONF' --control-socket '$OUT/d$n/ctl.sock'" > "$OUT/dir$n.log" 2>&1 &
  PIDS+=($!)
done
wait_for() { # SECS CMD...: poll CMD every 0.2 s
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done
}
status() { "$BIN" status --json --control-socket "$OUT/d$1/ctl.sock" 2>/dev/null; }
count() { status "$1" | sed -n 's/.*"connections": *\([0-9]*\).*/\1/p'; }
for n in 1 2; do
  if [ -z "${NOSYNC:-}" ]; then
  wait_for 30 grep -q 'sync master started' "$OUT/dir$n.log" || { echo "dir$n: sync master not started"; tail "$OUT/dir$n.log"; exit 1; }
  wait_for 30 grep -q 'sync backup started' "$OUT/dir$n.log" || { echo "dir$n: sync backup not started"; tail "$OUT/dir$n.log"; exit 1; }
  fi
  wait_for 30 sh -c "'$BIN' status --json --control-socket '$OUT/d$n/ctl.sock' | tr -d ' \n' | grep -q '\"destinations\":2'" \
    || { echo "dir$n: service not programmed"; status "$n"; exit 1; }
done
now() { date +%s.%N; }
echo "sync-host: n=$N pps=$PPS sync_threshold=\"$SYNC_THRESHOLD\" nosync=${NOSYNC:-0} dir1=$(count 1) dir2=$(count 2) loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
T0=$(now)
# Up to PASSES passes over the same N (address, port) pairs: datagrams the master's data plane
# missed (see docs/PERFORMANCE.md) create their entries in a later pass, existing ones only hit.
(
  for pass in $(seq "${PASSES:-3}"); do
    [ "$(count 1)" -ge "$N" ] 2>/dev/null && break
    echo "pass $pass at $(awk -v a="$T0" -v b="$(now)" 'BEGIN{printf "%.2f", b - a}') s: master=$(count 1)"
    ip netns exec "$P-cli" env UDPGEN_PPS="$PPS" "$GEN" --pairs "$VIP:53" "$N" 10.0.0.100 10.0.0.101 10.0.0.102 2>&1
    sleep 2
  done
) > "$OUT/gen.txt" 2>&1 &
G=$!; PIDS+=($G)
: > "$OUT/progress.txt"
last=-1; since=$SECONDS
while :; do
  c1=$(count 1); c2=$(count 2)
  echo "$(awk -v a="$T0" -v b="$(now)" 'BEGIN{printf "%.2f", b - a}') ${c1:-0} ${c2:-0}" >> "$OUT/progress.txt"
  [ "${c1:-0}" -ge "$N" ] && { [ "${c2:-0}" -ge "$N" ] || [ -n "${NOSYNC:-}" ]; } && break
  [ -n "${NOSYNC:-}" ] && ! kill -0 "$G" 2>/dev/null && break
  # Stop when the backup has not grown for 10 s after the generator ended (or 300 s in all).
  if [ "${c2:-0}" != "$last" ] || kill -0 "$G" 2>/dev/null; then since=$SECONDS; fi
  [ $((SECONDS - since)) -ge 10 ] && break
  awk -v a="$T0" -v b="$(now)" 'BEGIN{exit !(b - a > 300)}' && break
  last=${c2:-0}
  sleep "${SAMPLE:-0.2}"
done
wait "$G" || true
cat "$OUT/gen.txt"
# Where datagrams went: the client's, dir1's and the real servers' interface counters.
st() { ns "$1" cat "/sys/class/net/eth0/statistics/$2"; }
echo "packets: cli tx=$(st cli tx_packets) dir1 rx=$(st dir1 rx_packets) rx_dropped=$(st dir1 rx_dropped)" \
  "tx=$(st dir1 tx_packets) rs rx=$(( $(st rs56 rx_packets) + $(st rs57 rx_packets) ))" \
  "dir2 rx=$(st dir2 rx_packets) tx=$(st dir2 tx_packets)"
awk -v n="$N" -v pps="$PPS" -v la="$(cut -d' ' -f1-3 /proc/loadavg)" '
  $2 > 0 && f1 == "" { f1 = $1 }           # first entry on the master
  $3 > 0 && f == "" { f = $1; bf = $3 }     # first entry on the backup
  $2 >= n && m == "" { m = $1 }            # master table complete
  $3 != b { l = $1 }                       # last change on the backup
  $2 - $3 > lag { lag = $2 - $3 }          # the backup behind the master (entries)
  { mm = $2; b = $3 }
  END {
    # master_missed: datagrams that created no entry on the master (with PASSES=1: the data
    # plane'"'"'s loss, every datagram being a new pair).
    printf "result: n=%d pps=%d master=%d backup=%d master_missed=%.2f%% master_first=%.2fs master_complete=%s backup_first=%.2fs backup_last=%.2fs rate=%.0f entries/s max_lag=%d loadavg=%s\n",
      n, pps, mm, b, 100 * (n - mm) / n, f1, (m != "" ? sprintf("%.2fs", m) : "never"), f, l, (l > f ? (b - bf) / (l - f) : 0), lag, la
  }' "$OUT/progress.txt"
