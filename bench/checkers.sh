#!/usr/bin/env bash
# Checker CPU/RSS benchmark (issue 6), native: N_TCP real servers under TCP_CHECK and N_HTTP under
# HTTP_GET, delay_loop 1 (the config of bench/checkers-vm/gen-config.py), against local servers
# (the bench_servers example: one tokio thread accepting on all of 127/8 and counting), with
# `lvsd run -C -n --dataplane none`, in a throwaway network namespace.
# Usage: bench/checkers.sh [N_TCP] [N_HTTP] [SECONDS] [WARMUP]     (root)
# Env: LVSD / SERVERS (default: cargo build --release), PERF=1 (perf record -g of lvsd over the
# window; report in $OUT/perf.txt), OUT (default /tmp/lvsd-bench-checkers).
# Prints CPU (user, system) in % of one core and per probe, where the probe count is what the
# servers accepted in the same window (the work done, not the work scheduled), and RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
N_TCP=${1:-10000}; N_HTTP=${2:-2000}; SECS=${3:-30}; WARM=${4:-15}
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
ip netns exec "$NS" "$SERVERS" 8000 8080 "$DIR/counts" & PIDS+=($!); SPID=$!
sleep 1
ip netns exec "$NS" "$LVSD" run -C -n -f "$DIR/keepalived.conf" --control-socket "$DIR/ctl.sock" \
  --dataplane none --seed 1 > "$OUT/lvsd.log" 2>&1 & PIDS+=($!)
LPID=$!
echo "warm-up ${WARM}s (probes start within warmup = delay_loop)…"; sleep "$WARM"
stat2() { awk '{print $14, $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
if [ -n "${PERF:-}" ]; then
  perf record -g -F 999 -p "$LPID" -o "$OUT/perf.data" -- sleep "$SECS" >/dev/null 2>&1 &
  PERFPID=$!
fi
read -r u0 s0 < <(stat2 "$LPID"); read -r su0 ss0 < <(stat2 "$SPID"); read -r _ tcp0 _ http0 < "$DIR/counts"
t0=$(date +%s.%N); l0=$(cut -d' ' -f1 /proc/loadavg)
sleep "$SECS"
read -r u1 s1 < <(stat2 "$LPID"); read -r su1 ss1 < <(stat2 "$SPID"); read -r _ tcp1 _ http1 < "$DIR/counts"
t1=$(date +%s.%N); l1=$(cut -d' ' -f1 /proc/loadavg)
RSS=$(awk '/VmRSS/ {print $2}' "/proc/$LPID/status"); HWM=$(awk '/VmHWM/ {print $2}' "/proc/$LPID/status"); ANON=$(awk '/RssAnon/ {print $2}' "/proc/$LPID/status")
TW=$(ip netns exec "$NS" ss -Htan state time-wait | wc -l); ip netns exec "$NS" nstat -az > "$OUT/nstat.txt" 2>/dev/null || true
[ -n "${PERF:-}" ] && { wait "$PERFPID" || true; perf report -i "$OUT/perf.data" --no-children --percent-limit 0.7 --stdio > "$OUT/perf.txt" 2>/dev/null || true; }
"$LVSD" status --json --control-socket "$DIR/ctl.sock" > "$OUT/status.json"
python3 - "$OUT/status.json" <<PY
import json, sys
st = json.load(open(sys.argv[1]))
rs = [r for v in st["virtual_servers"] for r in v["real_servers"]]
alive = sum(r["alive"] for r in rs)
d = $t1 - $t0; hz = $HZ
user, sys_ = ($u1 - $u0) / hz, ($s1 - $s0) / hz
tcp, http = ($tcp1 - $tcp0) / d, ($http1 - $http0) / d
n = (tcp + http) * d
print(f"lvsd checkers: $N_TCP TCP_CHECK + $N_HTTP HTTP_GET, delay_loop 1, {d:.0f} s; load average $l0 -> $l1")
print(f"  probes/s seen by the servers: TCP {tcp:.0f} HTTP {http:.0f} (configured {$N_TCP + $N_HTTP})")
print(f"  lvsd CPU {100 * (user + sys_) / d:.1f} % of one core (user {100 * user / d:.1f}, sys {100 * sys_ / d:.1f});"
      f" per probe {1e6 * (user + sys_) / max(n, 1):.1f} us (user {1e6 * user / max(n, 1):.1f}, sys {1e6 * sys_ / max(n, 1):.1f})")
print(f"  RSS {$RSS / 1024:.1f} MiB (anonymous {$ANON / 1024:.1f}, peak {$HWM / 1024:.1f}); alive {alive}/{len(rs)}; stalls {st['checker']['stalls']};"
      f" TIME_WAIT sockets in the netns {$TW}; servers CPU {100 * (($su1 - $su0) + ($ss1 - $ss0)) / hz / d:.1f} %")
PY
