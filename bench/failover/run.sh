#!/usr/bin/env bash
# Failover benchmark: from `kill -9` of the master (its link goes down at the
# same instant, as when a box dies) to the VIP answering pings again from the
# backup, with lvsd or keepalived as the backup, on one bridge in network
# namespaces. The master is always keepalived 2.2.7 (priority 150).
#
#   RUNS=20 bench/failover/run.sh [v2|v3]...
#
# The lvsd under test is a release build (`cargo build --release -p lvsd`, run
# here unless LVSD is given; honours CARGO_TARGET_DIR); PROFILE=debug picks the
# debug build instead, LVSD="path/to/lvsd run -P -n -l" any binary (or the
# lvs-sys vrrpd example). IMPLS="lvsd" skips the keepalived backup runs.
#
# v2: advert_int 1 (protocol bound 3 × 1 s + (256-100)/256 s = 3.609 s after
#     the last advert); v3: advert_int 0.1 (3 × 0.1 + 156 × 0.1/256 = 0.361 s).
# The client pings the VIP every 10 ms; the figure is the first reply after
# the kill. Prints median and p95 per (version, backup).
#
# With lvsd as the backup, also lvsd's own transition work, from its log: each
# MASTER state line carries advert_us / vips_us / garp_us (µs from the engine
# call that decides MASTER to the first advert sent, the VIPs configured over
# rtnetlink, the first gratuitous ARP sent); median / p95 / max over the runs
# and how many transitions got their first GARP out under 1 ms (all MASTER
# transitions: lvsd also takes the VIP at start-up when it starts before
# keepalived's first advert; and the takeover after the kill alone).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROFILE=${PROFILE:-release}
if [ -z "${LVSD:-}" ]; then
  TGT=${CARGO_TARGET_DIR:-$ROOT/target}
  if [ "$PROFILE" = release ]; then
    (cd "$ROOT" && cargo build -q --release -p lvsd --bin lvsd) || { echo "cargo build failed"; exit 1; }
  else
    (cd "$ROOT" && cargo build -q -p lvsd --bin lvsd) || { echo "cargo build failed"; exit 1; }
  fi
  LVSD="$TGT/$PROFILE/lvsd run -P -n -l"
fi
IMPLS=${IMPLS:-keepalived lvsd}
KEEPALIVED=${KEEPALIVED:-$(command -v keepalived)}
RUNS=${RUNS:-20}
BASE=f$$
N=0
P=$BASE
NSES=()
W=$(mktemp -d /tmp/lvsd-failover.XXXXXX)
PIDS=()
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  for n in "${NSES[@]}"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT

topo() {
  # Fresh names every run: a deleted namespace lingers while its processes exit.
  for n in a b c br; do ip netns del "$P$n" 2>/dev/null; done
  N=$((N+1)); P=${BASE}x$N
  for n in a b c br; do ip netns add "$P$n"; NSES+=("$P$n"); ip -n "$P$n" link set lo up; done
  ip -n "${P}br" link add br0 type bridge mcast_snooping 0; ip -n "${P}br" link set br0 up
  local i=1
  for n in a b c; do
    # (retried: concurrent namespace churn on the host can make the peer reference fail once)
    for _ in 1 2 3 4 5; do ip link add "${P}$n" type veth peer name "v$n" netns "${P}br" 2>/dev/null && break; sleep 0.2; done
    ip link set "${P}$n" netns "$P$n"
    ip -n "$P$n" link set "${P}$n" name eth0
    ip -n "$P$n" addr add "10.77.0.$i/24" dev eth0
    ip -n "$P$n" link set eth0 up
    ip -n "${P}br" link set "v$n" master br0 up
    i=$((i+1))
  done
}

conf() { # conf FILE VERSION PRIO
  local adv=1; [ "$2" = 3 ] && adv=0.1
  printf 'global_defs {\n  vrrp_garp_master_delay 0\n  vrrp_garp_master_repeat 1\n}\nvrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 77\n  priority %s\n  version %s\n  advert_int %s\n  virtual_ipaddress {\n    10.77.0.100/24\n  }\n}\n' "$3" "$2" "$adv" > "$1"
}

owner_is() { ip -n "$P$1" addr show dev eth0 | grep -q " 10.77.0.100/"; }

one_run() { # one_run VERSION BACKUP(lvsd|keepalived) -> prints ms
  local ver=$1 impl=$2 kp bp pp
  topo
  conf "$W/a.conf" "$ver" 150; conf "$W/b.conf" "$ver" 100
  ip netns exec "${P}a" "$KEEPALIVED" -n -l -P -f "$W/a.conf" -p "$W/a.kpid" -r "$W/a.vpid" -c "$W/a.cpid" >/dev/null 2>&1 &
  kp=$!; PIDS+=($kp)
  if [ "$impl" = lvsd ]; then
    if [[ "$LVSD" == *" run"* ]]; then
      ip netns exec "${P}b" $LVSD -f "$W/b.conf" -p "$W/b.lpid" --control-socket "$W/b.sock" >"$W/b.log" 2>&1 &
    else
      ip netns exec "${P}b" $LVSD -f "$W/b.conf" >"$W/b.log" 2>&1 &
    fi
  else
    ip netns exec "${P}b" "$KEEPALIVED" -n -l -P -f "$W/b.conf" -p "$W/b.kpid" -r "$W/b.vpid" -c "$W/b.cpid" >/dev/null 2>&1 &
  fi
  bp=$!; PIDS+=($bp)
  for _ in $(seq 200); do owner_is a && break; sleep 0.05; done
  sleep $([ "$ver" = 2 ] && echo 3 || echo 1)
  ip netns exec "${P}c" ping -n -D -i 0.01 10.77.0.100 >"$W/ping" 2>&1 &
  pp=$!; PIDS+=($pp)
  sleep 0.5
  local t0; t0=$(date +%s.%N)
  kill -9 "$(cat "$W/a.vpid" 2>/dev/null)" "$kp" 2>/dev/null
  ip -n "${P}a" link set eth0 down
  for _ in $(seq 400); do owner_is b && break; sleep 0.02; done
  sleep 0.3
  kill "$pp" 2>/dev/null; wait "$pp" 2>/dev/null
  kill -TERM "$bp" 2>/dev/null; wait "$bp" 2>/dev/null; wait "$kp" 2>/dev/null
  rm -f "$W"/*.kpid "$W"/*.vpid "$W"/*.cpid "$W"/*.lpid
  # lvsd's own work on the MASTER transition(s) of this run: "advert vips garp" (µs).
  [ "$impl" = lvsd ] && sed 's/\x1b\[[0-9;]*m//g' "$W/b.log" | grep 'kind=Instance' | grep 'state=MASTER' |
    awk '{ a = v = g = pr = "-"
           for (i = 1; i <= NF; i++) { split($i, kv, "=")
             if (kv[1] == "advert_us") a = kv[2]; if (kv[1] == "vips_us") v = kv[2]; if (kv[1] == "garp_us") g = kv[2]; if (kv[1] == "prepared") pr = kv[2] }
           l[NR] = a " " v " " g; p[NR] = pr }
         END { for (i = 1; i <= NR; i++) print l[i], (i == NR ? "takeover" : "start"), p[i] }' >> "$W/work"
  # The reply that ends the longest silence after the kill.
  awk -v t0="$t0" '/bytes from/ { gsub(/[\[\]]/, "", $1); t = $1 + 0
      if (t > t0 && prev != "" && t - prev > gap) { gap = t - prev; end = t }
      prev = t }
    END { if (end != "") printf "%d\n", (end - t0) * 1000 }' "$W/ping"
}

stats() { sort -n | awk '{a[NR]=$1} END { if (NR==0) {print "no data"; exit} m=a[int((NR+1)/2)]; p=a[int(NR*0.95+0.999)]; if (p=="") p=a[NR]; printf "n=%d median=%d ms p95=%d ms min=%d max=%d\n", NR, m, p, a[1], a[NR] }'; }

# ustats NAME: median / p95 / max of the µs figures on stdin (and the count under 1 ms).
ustats() { grep -v '^-$' | sort -n | awk -v n="$1" '{a[NR]=$1} END { if (NR==0) {printf "  %-9s no data\n", n; exit}
  u=0; for (i=1;i<=NR;i++) if (a[i] < 1000) u++
  m=a[int((NR+1)/2)]; p=a[int(NR*0.95+0.999)]; if (p=="") p=a[NR]
  printf "  %-9s n=%d median=%d us p95=%d us max=%d us (<1 ms: %d/%d)\n", n, NR, m, p, a[NR], u, NR }'; }

echo "lvsd: $LVSD; load average at start: $(cat /proc/loadavg)"
for ver in ${*:-v3 v2}; do
  v=${ver#v}
  for impl in $IMPLS; do
    : > "$W/res"; : > "$W/work"
    for r in $(seq "$RUNS"); do one_run "$v" "$impl" >> "$W/res"; done
    printf 'v%s advert_int %s backup=%-10s ' "$v" "$([ "$v" = 2 ] && echo 1 || echo 0.1)" "$impl"
    stats < "$W/res"
    if [ "$impl" = lvsd ]; then
      echo "  lvsd transition work over $(wc -l < "$W/work") MASTER transitions (load average now: $(cut -d' ' -f1-3 /proc/loadavg)):"
      awk '{print $1}' "$W/work" | ustats advert_us
      awk '{print $2}' "$W/work" | ustats vips_us
      awk '{print $3}' "$W/work" | ustats garp_us
      # The transition after the kill (the others: lvsd taking the VIP at start-up, before
      # keepalived's first advert, while the topology's namespaces were just created).
      awk '$4 == "takeover" {print $3}' "$W/work" | ustats "garp_us after the kill only:"
      echo "  through the prepared transition (prepared=true): $(awk '$5 == "true"' "$W/work" | wc -l)"
      [ -n "${WORK_OUT:-}" ] && cat "$W/work" >> "$WORK_OUT"
    fi
  done
done
