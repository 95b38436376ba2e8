#!/usr/bin/env bash
# Checker CPU/RSS benchmark (issue 6): N_TCP real servers under TCP_CHECK and N_HTTP under
# HTTP_GET, delay_loop 1, against local servers, with `lvsd run -C --dataplane none`.
# Runs in a throwaway network namespace (127.0.0.0/8 is all local on its lo).
# Usage: bench/checkers.sh [N_TCP] [N_HTTP] [SECONDS]     (root; builds lvsd --release)
set -euo pipefail
cd "$(dirname "$0")/.."
N_TCP=${1:-10000}; N_HTTP=${2:-2000}; SECS=${3:-30}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${LVSD:-}" ]; then
  cargo build --release -p lvsd >/dev/null
  LVSD="$CARGO_TARGET_DIR/release/lvsd"
fi
NS=lvsd-bench-chk-$$; DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; ip netns del "$NS" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
ip netns add "$NS"; ip -n "$NS" link set lo up
ulimit -n "$(ulimit -Hn)"
python3 - "$N_TCP" "$N_HTTP" > "$DIR/keepalived.conf" <<'PY'
import sys
n_tcp, n_http = int(sys.argv[1]), int(sys.argv[2])
def rs(ip, port, check):
    return f"  real_server {ip} {port} {{\n    weight 1\n    {check}\n  }}\n"
tcp = "TCP_CHECK {\n      connect_timeout 2\n      retry 1\n      delay_before_retry 1\n    }"
http = "HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 2\n      retry 1\n      delay_before_retry 1\n    }"
out = []
for base, n, port, chk, vs in ((1, n_tcp, 8000, tcp, "192.0.2.1"), (2, n_http, 8080, http, "192.0.2.2")):
    out.append(f"virtual_server {vs} {port} {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n")
    for i in range(n):
        out.append(rs(f"127.{base}.{(i >> 8) & 255}.{i & 255}", port, chk))
    out.append("}\n")
print("".join(out))
PY
# Local servers: accept-and-close on 8000, a minimal HTTP/1.0 reply on 8080 (two processes each).
cat > "$DIR/srv.py" <<'PY'
import socket, sys, selectors
port, http = int(sys.argv[1]), sys.argv[2] == "http"
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("0.0.0.0", port)); s.listen(4096)
sel = selectors.DefaultSelector(); sel.register(s, selectors.EVENT_READ)
REPLY = b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
while True:
    for key, _ in sel.select():
        if key.fileobj is s:
            c, _ = s.accept()
            if http: c.setblocking(False); sel.register(c, selectors.EVENT_READ)
            else: c.close()
        else:
            c = key.fileobj
            try:
                if c.recv(4096): c.send(REPLY)
            except OSError: pass
            sel.unregister(c); c.close()
PY
for i in 1 2; do
  ip netns exec "$NS" python3 "$DIR/srv.py" 8000 tcp & PIDS+=($!)
  ip netns exec "$NS" python3 "$DIR/srv.py" 8080 http & PIDS+=($!)
done
sleep 1
ip netns exec "$NS" "$LVSD" run -C -n -f "$DIR/keepalived.conf" --control-socket "$DIR/ctl.sock" --dataplane none --seed 1 \
  > "$DIR/lvsd.log" 2>&1 & PIDS+=($!)
LPID=$!
sleep 2
echo "warm-up 15 s (probes start within warmup = delay_loop)…"; sleep 15
ticks() { awk '{print $14 + $15}' "/proc/$LPID/stat"; }
HZ=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s.%N); sleep "$SECS"; t1=$(ticks); s1=$(date +%s.%N)
RSS=$(awk '/VmRSS/ {print $2}' "/proc/$LPID/status")
CPU=$(python3 -c "print(round(100*($t1-$t0)/$HZ/($s1-$s0), 1))")
"$LVSD" status --json --control-socket "$DIR/ctl.sock" > "$DIR/status.json"
python3 - "$DIR/status.json" "$CPU" "$RSS" "$N_TCP" "$N_HTTP" <<'PY'
import json, sys
st = json.load(open(sys.argv[1])); cpu, rss = sys.argv[2], int(sys.argv[3])
rs = [r for v in st["virtual_servers"] for r in v["real_servers"]]
runs = sum(c["runs"] for r in rs for c in r["checkers"]); fails = sum(c["failures"] for r in rs for c in r["checkers"])
alive = sum(r["alive"] for r in rs)
print(f"lvsd checkers: {sys.argv[4]} TCP_CHECK + {sys.argv[5]} HTTP_GET, delay_loop 1")
print(f"  CPU {cpu} % of one core, RSS {rss/1024:.1f} MiB, probes {st['checker']['probes']}, alive {alive}/{len(rs)}, runs {runs}, failed runs {fails}, stalls {st['checker']['stalls']}")
PY
