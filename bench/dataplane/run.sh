#!/usr/bin/env bash
# Benchmark of the built-in data plane (issue 8) against haproxy (TCP mode)
# and nginx stream as L4 peers, all in network namespaces on veth:
#   client --br0-- director --br0-- r1, r2 (nginx HTTP servers)
# Measures
#   1. new connections/s: wrk with "Connection: close" (one TCP connection per
#      request) through the director: built-in LVS-DR, haproxy, nginx stream;
#   2. small-packet forwarding rate: UDP (18-byte payload) through the
#      built-in LVS-DR, counted on the real servers' interfaces; nginx stream
#      UDP as the peer.
# The director process is pinned to one CPU (DIRECTOR_CPU, default 1); the
# load generator to the other. Usage (root):
#   bench/dataplane/run.sh [SECONDS] [WORKERS]
# Needs: iproute2, nftables, wrk, haproxy, nginx (with the stream module).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-10}
WORKERS=${2:-1}
DCPU=${DIRECTOR_CPU:-1}
GCPU=${GEN_CPU:-0}
T=dpb$$
W=$(mktemp -d /tmp/$T.XXXX)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p lvs-dataplane --bin lvs-fwd --example udpgen
FWD=$CARGO_TARGET_DIR/release/lvs-fwd
GEN=$CARGO_TARGET_DIR/release/examples/udpgen
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for n in c d r1 r2 sw; do ip netns del $T-$n 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
# A signal (or a closed output pipe) ends the run through the EXIT trap, so nothing is left behind.
trap 'exit 1' INT TERM HUP PIPE
ns() { ip netns exec $T-$1 "${@:2}"; }
for n in sw c d r1 r2; do ip netns add $T-$n; ip -n $T-$n link set lo up; done
ip -n $T-sw link add br0 type bridge; ip -n $T-sw link set br0 up
for n in c d r1 r2; do
  ip link add eth0 netns $T-$n type veth peer name p$n netns $T-sw
  ip -n $T-sw link set p$n master br0 up; ip -n $T-$n link set eth0 up
done
ip -n $T-c addr add 10.0.0.100/24 dev eth0
ip -n $T-d addr add 10.0.0.1/24 dev eth0; ip -n $T-d addr add 10.0.0.49/32 dev eth0
i=56
for n in r1 r2; do
  ip -n $T-$n addr add 10.0.0.$i/24 dev eth0; ip -n $T-$n addr add 10.0.0.49/32 dev lo
  ns $n sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
  cat > "$W/$n.conf" <<EOC
worker_processes 1; daemon off; pid $W/$n.pid; error_log $W/$n.err;
events { worker_connections 4096; }
http { access_log off; server { listen 80 backlog=4096; location / { return 200 "$n\n"; } } }
EOC
  ip netns exec $T-$n taskset -c $GCPU nginx -c "$W/$n.conf" & PIDS+=($!)
  i=$((i + 1))
done
sleep 1
for n in r1 r2; do ns c curl -sf -o /dev/null http://10.0.0.$([ $n = r1 ] && echo 56 || echo 57)/ ; done

wrk_cps() { # URL -> requests (= connections) per second
  ns c taskset -c $GCPU wrk -t1 -c32 -d${SECS}s -H "Connection: close" "$1" 2>&1 |
    awk '/Requests\/sec/ {print int($2)} /Non-2xx|Socket errors/ {print "  (" $0 ")" > "/dev/stderr"}'
}
rx() { ns $1 cat /sys/class/net/eth0/statistics/rx_packets; }
# Busy and total jiffies of CPU $1 (user+nice+system+irq+softirq+steal vs all), from /proc/stat.
cpu_j() { awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
# Percentage of CPU $1 busy between two cpu_j samples.
busy_pct() { echo "$2 $3" | { read -r b0 t0 b1 t1; echo $(( 100 * (b1 - b0) / (t1 - t0 > 0 ? t1 - t0 : 1) )); }; }
# CPU ticks (utime + stime, all threads) of process $1 and its direct children (nginx: master and
# worker). Unlike the CPU's busy share this stays meaningful when other work shares the CPU.
proc_ticks() {
  local t=0 q s
  for q in "$1" $(pgrep -P "$1"); do
    s=$(cat "/proc/$q/stat" 2>/dev/null) || continue
    s=${s##*) }; set -- $s; t=$((t + ${12} + ${13}))
  done
  echo $t
}
HZ=$(getconf CLK_TCK)
# wrk_cps with the director CPU's busy share and the director process's own CPU (PID $2) over the
# same window: prints "CPS BUSY% PROC%" (PROC% = CPU time of the process / wall time).
# With perf installed (PERF=0 turns it off), also the share of the director's CPU spent in
# process_backlog: on veth the *receiver's* stack (bridge, the real server's or the client's TCP
# receive) runs in the sender's softirq, so the kernel charges every director for delivering what it
# sends. Prints a fourth field, DELIVERY% (or "-").
PERF=${PERF:-$(command -v perf >/dev/null && echo 1 || echo 0)}
wrk_cps_busy() {
  local s0 s1 cps p0 p1 t0 t1 pp="" del=-
  if [ "$PERF" = 1 ]; then
    perf record -q -g -p "$(echo "$2" $(pgrep -P "$2") | tr ' ' ,)" -o "$W/d.perf" -- sleep $((SECS > 2 ? SECS - 1 : 1)) >/dev/null 2>&1 & pp=$!
  fi
  s0=$(cpu_j "$DCPU"); p0=$(proc_ticks "$2"); t0=$(date +%s%N)
  cps=$(wrk_cps "$1")
  s1=$(cpu_j "$DCPU"); p1=$(proc_ticks "$2"); t1=$(date +%s%N)
  if [ -n "$pp" ]; then
    wait "$pp" || true
    del=$(perf report -i "$W/d.perf" --children --sort sym -g none --stdio 2>/dev/null |
      awk '$NF == "process_backlog" && !f { sub(/%/, "", $1); d = int($1 + 0.5); f = 1 } END { print d + 0 }') || del=-
  fi
  echo "$cps $(busy_pct x "$s0" "$s1") $(( (p1 - p0) * 100000000000 / HZ / (t1 - t0) )) $del"
}

echo "== built-in data plane (lvs-fwd, LVS-DR, rr, $WORKERS worker(s), CPU $DCPU)"
coproc FWDP { exec ip netns exec $T-d taskset -c $DCPU "$FWD" --iface eth0 --workers "$WORKERS" \
  --service tcp:10.0.0.49:80:rr --dest 10.0.0.56:80:dr --dest 10.0.0.57:80:dr \
  --service udp:10.0.0.49:9000:rr --dest 10.0.0.56:9000:dr --dest 10.0.0.57:9000:dr; }
PIDS+=($FWDP_PID)
read -r ready <&"${FWDP[0]}"; [ "$ready" = ready ]
ns c curl -sf -o /dev/null http://10.0.0.49/
read -r BUILTIN_CPS BUILTIN_BUSY BUILTIN_PROC BUILTIN_DEL < <(wrk_cps_busy http://10.0.0.49/ "$FWDP_PID")
echo "new connections/s: $BUILTIN_CPS (director CPU $DCPU busy $BUILTIN_BUSY %, lvs-fwd process $BUILTIN_PROC % of a core, $BUILTIN_DEL % of it delivering to the receivers)"
a=$(( $(rx r1) + $(rx r2) ))
G=$(ns c taskset -c $GCPU "$GEN" 10.0.0.49:9000 "$SECS" 64 18)
b=$(( $(rx r1) + $(rx r2) ))
BUILTIN_PPS=$(( (b - a) / SECS ))
echo "udp generator: $G"
echo "udp packets/s delivered to real servers: $BUILTIN_PPS"
echo counters >&"${FWDP[1]}"; read -r c <&"${FWDP[0]}"; echo "$c"
echo quit >&"${FWDP[1]}"; wait "$FWDP_PID" || true

echo "== haproxy (mode tcp, 1 thread, CPU $DCPU)"
cat > "$W/haproxy.cfg" <<EOC
global
  nbthread 1
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend f
  bind 10.0.0.1:8080
  default_backend b
backend b
  balance roundrobin
  server r1 10.0.0.56:80
  server r2 10.0.0.57:80
EOC
ip netns exec $T-d taskset -c $DCPU haproxy -f "$W/haproxy.cfg" -db & HP=$!; PIDS+=($HP)
sleep 1
read -r HAPROXY_CPS HAPROXY_BUSY HAPROXY_PROC HAPROXY_DEL < <(wrk_cps_busy http://10.0.0.1:8080/ "$HP")
echo "new connections/s: $HAPROXY_CPS (director CPU $DCPU busy $HAPROXY_BUSY %, haproxy process $HAPROXY_PROC % of a core, $HAPROXY_DEL % of it delivering to the receivers)"
kill $HP; wait $HP 2>/dev/null || true

echo "== nginx stream (1 worker, CPU $DCPU)"
cat > "$W/lb.conf" <<EOC
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1; daemon off; pid $W/lb.pid; error_log $W/lb.err;
events { worker_connections 4096; }
stream {
  upstream t { server 10.0.0.56:80; server 10.0.0.57:80; }
  upstream u { server 10.0.0.56:9000; server 10.0.0.57:9000; }
  server { listen 10.0.0.1:8081 backlog=4096; proxy_pass t; }
  server { listen 10.0.0.1:9001 udp; proxy_pass u; proxy_responses 0; }
}
EOC
ip netns exec $T-d taskset -c $DCPU nginx -c "$W/lb.conf" & NP=$!; PIDS+=($NP)
sleep 1
read -r NGINX_CPS NGINX_BUSY NGINX_PROC NGINX_DEL < <(wrk_cps_busy http://10.0.0.1:8081/ "$NP")
echo "new connections/s: $NGINX_CPS (director CPU $DCPU busy $NGINX_BUSY %, nginx processes $NGINX_PROC % of a core, $NGINX_DEL % of it delivering to the receivers)"
a=$(( $(rx r1) + $(rx r2) ))
G=$(ns c taskset -c $GCPU "$GEN" 10.0.0.1:9001 "$SECS" 64 18)
b=$(( $(rx r1) + $(rx r2) ))
NGINX_PPS=$(( (b - a) / SECS ))
echo "udp generator: $G"
echo "udp packets/s delivered to real servers: $NGINX_PPS"
kill $NP; wait $NP 2>/dev/null || true

echo
# Connections per second of a fully busy director CPU: what the director could take if the load
# generator and the servers (on the other CPU) were not the limit. Two estimates: from the CPU's
# busy share (softirq included, but polluted by anything else on that CPU), and from the director
# process's own CPU time (robust to other load; the receive side of veth runs in the sender's
# softirq for every director alike, so it is not counted for any of them).
per_core() { [ "$2" -gt 0 ] && echo $(( $1 * 100 / $2 )) || echo n/a; }
# Connections per second of one core of the director's own work: process CPU minus the delivery
# share (needs perf; "n/a" without it).
own_core() { [ "$3" != - ] && [ "$2" -gt 0 ] && [ "$3" -lt 100 ] && echo $(( $1 * 10000 / ($2 * (100 - $3)) )) || echo n/a; }
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| director | new conn/s (wrk, Connection: close) | director CPU busy | conn/s per busy director core | director process CPU | of it delivering to receivers | conn/s per core of process CPU | conn/s per core of own work | UDP 18 B pkts/s delivered |"
echo "|---|---|---|---|---|---|---|---|---|"
row() { echo "| $1 | $2 | $3 % | $(per_core "$2" "$3") | $4 % | $5 % | $(per_core "$2" "$4") | $(own_core "$2" "$4" "$5") | $6 |"; }
row "lvsd built-in (LVS-DR, AF_PACKET, $WORKERS worker)" "$BUILTIN_CPS" "$BUILTIN_BUSY" "$BUILTIN_PROC" "$BUILTIN_DEL" "$BUILTIN_PPS"
row "haproxy mode tcp (1 thread)" "$HAPROXY_CPS" "$HAPROXY_BUSY" "$HAPROXY_PROC" "$HAPROXY_DEL" n/a
row "nginx stream (1 worker)" "$NGINX_CPS" "$NGINX_BUSY" "$NGINX_PROC" "$NGINX_DEL" "$NGINX_PPS"
