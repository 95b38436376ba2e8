#!/usr/bin/env bash
# Checker CPU/RSS benchmark (issue 6), native: N_TCP real servers under TCP_CHECK and N_HTTP under
# HTTP_GET, delay_loop 1 (the config of bench/checkers-vm/gen-config.py), against local servers
# (the bench_servers example: one tokio thread accepting on all of 127/8 and counting), in a
# throwaway network namespace, for each of WHAT, one after the other:
#   lvsd-half-open  `lvsd run -C -n --dataplane none --tcp-check half-open` (the default)
#   lvsd-connect    the same with `--tcp-check connect`
#   keepalived      keepalived -C (its checker process), if installed
# Usage: bench/checkers.sh [N_TCP] [N_HTTP] [SECONDS] [WARMUP] [WHAT...]     (root)
# Env: LVSD / SERVERS (default: cargo build --release), PERF=1 (perf record -g of lvsd over the
# window; report in $OUT/perf-<what>.txt), OUT (default /tmp/lvsd-bench-checkers).
# Prints CPU (user, system) in % of one core and per probe, and RSS. The probe count is the work
# done as the servers see it, the same way for every implementation: TCP probes are the SYNs
# that reached the TCP port (an nftables counter in the namespace: a half-open probe is never
# accepted; a retransmitted SYN would count twice, and with servers that answer there are none),
# HTTP probes the connections the HTTP server accepted. Without nft, TCP falls back to accepted
# connections (0 for half-open probes).
set -euo pipefail
cd "$(dirname "$0")/.."
N_TCP=${1:-10000}; N_HTTP=${2:-2000}; SECS=${3:-30}; WARM=${4:-15}; shift $(( $# < 4 ? $# : 4 )) || true
WHAT="${*:-lvsd-half-open lvsd-connect keepalived}"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${LVSD:-}" ]; then
  cargo build -q --release -p lvsd; LVSD="$CARGO_TARGET_DIR/release/lvsd"
fi
if [ -z "${SERVERS:-}" ]; then
  cargo build -q --release -p lvs-sys --example bench_servers
  SERVERS="$CARGO_TARGET_DIR/release/examples/bench_servers"
fi
OUT=${OUT:-/tmp/lvsd-bench-checkers}; mkdir -p "$OUT"
NS=lvsd-bench-chk-$$; DIR=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5; ip netns del "$NS" 2>/dev/null || true; rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add "$NS"; ip -n "$NS" link set lo up
ulimit -n "$(ulimit -Hn)"
python3 bench/checkers-vm/gen-config.py "$N_TCP" "$N_HTTP" > "$DIR/keepalived.conf"
# SYNs (no ACK) to the TCP_CHECK port, counted by the kernel.
syns() { ip netns exec "$NS" nft list chain inet lvsdbench input 2>/dev/null | awk '/packets/ {for (i = 1; i < NF; i++) if ($i == "packets") {print $(i + 1); exit}}'; }
if command -v nft >/dev/null && ip netns exec "$NS" nft -f - <<'NFT'
table inet lvsdbench {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 8000 tcp flags & (syn | ack) == syn counter
  }
}
NFT
then :; else echo "no nft: TCP probes counted as accepted connections"; syns() { echo -1; }; fi
ip netns exec "$NS" "$SERVERS" 8000 8080 "$DIR/counts" & PIDS+=($!); SPID=$!
sleep 1
stat2() { awk '{print $14, $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
stop() { kill -TERM "$1" 2>/dev/null || true; t=0; while kill -0 "$1" 2>/dev/null && [ $t -lt 60 ]; do sleep 1; t=$((t + 1)); done; }

# measure NAME PID [CTL]: CPU of PID over SECS, probes seen by the servers, RSS.
measure() {
  local name=$1 pid=$2 ctl=${3:-} perfpid=
  if [ -n "${PERF:-}" ]; then
    perf record -g -F 999 -p "$pid" -o "$OUT/perf-$name.data" -- sleep "$SECS" >/dev/null 2>&1 &
    perfpid=$!
  fi
  read -r u0 s0 < <(stat2 "$pid"); read -r su0 ss0 < <(stat2 "$SPID"); read -r _ acc0 _ http0 < "$DIR/counts"; syn0=$(syns)
  t0=$(date +%s.%N); l0=$(cut -d' ' -f1-3 /proc/loadavg)
  sleep "$SECS"
  read -r u1 s1 < <(stat2 "$pid"); read -r su1 ss1 < <(stat2 "$SPID"); read -r _ acc1 _ http1 < "$DIR/counts"; syn1=$(syns)
  t1=$(date +%s.%N); l1=$(cut -d' ' -f1-3 /proc/loadavg)
  RSS=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status"); HWM=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status"); ANON=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status")
  TW=$(ip netns exec "$NS" ss -Htan state time-wait | wc -l); ip netns exec "$NS" nstat -az > "$OUT/nstat-$name.txt" 2>/dev/null || true
  if [ -n "$perfpid" ]; then
    wait "$perfpid" || true
    perf report -i "$OUT/perf-$name.data" --no-children --percent-limit 0.7 --stdio > "$OUT/perf-$name.txt" 2>/dev/null || true
  fi
  ALIVE="n/a"
  if [ -n "$ctl" ]; then
    "$LVSD" status --json --control-socket "$ctl" > "$OUT/status-$name.json"
    ALIVE=$(python3 -c 'import json,sys; st=json.load(open(sys.argv[1])); rs=[r for v in st["virtual_servers"] for r in v["real_servers"]]; print("%d/%d, stalls %d" % (sum(r["alive"] for r in rs), len(rs), st["checker"]["stalls"]))' "$OUT/status-$name.json")
  fi
  python3 - <<PY | tee -a "$OUT/results.txt"
d = $t1 - $t0; hz = $HZ
user, sys_ = ($u1 - $u0) / hz, ($s1 - $s0) / hz
syn0, syn1 = $syn0, $syn1
tcp_n = (syn1 - syn0) if syn0 >= 0 else ($acc1 - $acc0)
tcp, http, acc = tcp_n / d, ($http1 - $http0) / d, ($acc1 - $acc0) / d
n = (tcp + http) * d
print(f"$name: $N_TCP TCP_CHECK + $N_HTTP HTTP_GET, delay_loop 1, {d:.0f} s; load average $l0 -> $l1")
print(f"  probes/s seen by the servers: TCP {tcp:.0f} (SYNs; accepted {acc:.0f}) HTTP {http:.0f} (configured {$N_TCP + $N_HTTP})")
print(f"  CPU {100 * (user + sys_) / d:.1f} % of one core (user {100 * user / d:.1f}, sys {100 * sys_ / d:.1f});"
      f" per probe {1e6 * (user + sys_) / max(n, 1):.1f} us (user {1e6 * user / max(n, 1):.1f}, sys {1e6 * sys_ / max(n, 1):.1f})")
print(f"  RSS {$RSS / 1024:.1f} MiB (anonymous {$ANON / 1024:.1f}, peak {$HWM / 1024:.1f}); alive $ALIVE;"
      f" TIME_WAIT sockets in the netns {$TW}; servers CPU {100 * (($su1 - $su0) + ($ss1 - $ss0)) / hz / d:.1f} %")
PY
}

for what in $WHAT; do
  case $what in
  lvsd-half-open|lvsd-connect)
    ip netns exec "$NS" "$LVSD" run -C -n -f "$DIR/keepalived.conf" --control-socket "$DIR/ctl.sock" \
      --dataplane none --seed 1 --tcp-check "${what#lvsd-}" > "$OUT/$what.log" 2>&1 & PIDS+=($!)
    P=$!
    echo "$what: warm-up ${WARM}s…"; sleep "$WARM"
    measure "$what" "$P" "$DIR/ctl.sock"
    stop "$P" ;;
  keepalived)
    command -v keepalived >/dev/null || { echo "keepalived: not installed, skipped"; continue; }
    rm -f "$DIR"/k*.pid
    ip netns exec "$NS" keepalived -C -n -f "$DIR/keepalived.conf" -p "$DIR/k.pid" -c "$DIR/kc.pid" -r "$DIR/kv.pid" \
      --no-syslog > "$OUT/keepalived.log" 2>&1 & PIDS+=($!)
    P=$!
    echo "keepalived: warm-up ${WARM}s…"; sleep "$WARM"
    KC=$(cat "$DIR/kc.pid" 2>/dev/null || true)
    [ -n "$KC" ] || { echo "keepalived: no checker process: $(tail -c 300 "$OUT/keepalived.log")"; stop "$P"; continue; }
    measure keepalived-checker "$KC"
    stop "$P" ;;
  *) echo "unknown: $what"; exit 2 ;;
  esac
  sleep 2
done
