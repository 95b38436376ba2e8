#!/bin/sh
# Sync replication over real sockets: lvs-sync master -> lvs-sync backup, 100,000 connections,
# across a veth pair between two network namespaces (root + iproute2).
#   crates/lvs-sync/benches/replication.sh [N]
set -eu
N=${1:-100000}
root=$(cd "$(dirname "$0")/../../.." && pwd)
: "${CARGO_TARGET_DIR:=$root/target}"
cargo build -q --release -p lvs-sync --example sync_probe
bin="$CARGO_TARGET_DIR/release/examples/sync_probe"
a=h8rpa$$ b=h8rpb$$ tmp=$(mktemp -d)
cleanup() { ip netns del $a 2>/dev/null || true; ip netns del $b 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
ip netns add $a; ip netns add $b
ip link add ra0 netns $a type veth peer name rb0 netns $b
ip -n $a addr add 10.209.0.1/24 dev ra0; ip -n $b addr add 10.209.0.2/24 dev rb0
ip -n $a link set ra0 up; ip -n $b link set rb0 up
ip netns exec $b sysctl -qw net.core.rmem_max=134217728 || true
ip netns exec $a sysctl -qw net.core.wmem_max=16777216 || true
ip netns exec $b "$bin" sink rb0 224.0.0.81 8848 "$N" "$tmp/ready" > "$tmp/sink.txt" &
sink=$!
i=0; while [ ! -e "$tmp/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
ip netns exec $a "$bin" blast ra0 224.0.0.81 8848 "$N"
wait $sink
cat "$tmp/sink.txt"
