# Guest side of bench/dataplane-vm/run.sh: UDP packets/s through one director, kernel IPVS
# (LVS-DR, rr) and then lvsd's built-in data plane (lvs-fwd, the same engine `lvsd run
# --dataplane builtin` uses) on the same topology in the same VM.
#   client --br0-- director --br0-- r1, r2
# Arguments: SECONDS. Binaries (vm-run --bin): lvs-fwd, udpgen.
. /vm/lib.sh
SECS=${1:-5}
vm_load_ipvs || die "cannot load ip_vs"
T=b
ns() { n=$1; shift; /sbin/ip netns exec "$T-$n" "$@"; }
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
  i=$((i + 1))
done
# Neighbours resolved before measuring.
ns c ping -c1 -W2 10.0.0.1 >/dev/null 2>&1 || true
ns d ping -c1 -W2 10.0.0.56 >/dev/null 2>&1 || true
ns d ping -c1 -W2 10.0.0.57 >/dev/null 2>&1 || true
rx() { ns $1 cat /sys/class/net/eth0/statistics/rx_packets; }
measure() { # label
  a=$(( $(rx r1) + $(rx r2) ))
  g=$(ns c udpgen 10.0.0.49:9000 "$SECS" 64 18)
  b=$(( $(rx r1) + $(rx r2) ))
  echo "RESULT $1 delivered_pps=$(( (b - a) / SECS )) generator: $g"
}
# 1. Kernel IPVS.
ns d /sbin/ipvsadm -A -u 10.0.0.49:9000 -s rr
ns d /sbin/ipvsadm -a -u 10.0.0.49:9000 -r 10.0.0.56:9000 -g -w 1
ns d /sbin/ipvsadm -a -u 10.0.0.49:9000 -r 10.0.0.57:9000 -g -w 1
measure kernel-ipvs
ns d /sbin/ipvsadm -Ln --stats | sed 's/^/  /'
ns d /sbin/ipvsadm -C
# 2. lvsd's built-in data plane.
mkfifo /tmp/fwd.in
ns d lvs-fwd --iface eth0 --workers 1 \
  --service udp:10.0.0.49:9000:rr --dest 10.0.0.56:9000:dr --dest 10.0.0.57:9000:dr \
  < /tmp/fwd.in > /tmp/fwd.out 2>/tmp/fwd.err &
fp=$!
exec 7>/tmp/fwd.in
i=0; while ! grep -q ready /tmp/fwd.out && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
grep -q ready /tmp/fwd.out || die "lvs-fwd did not start: $(cat /tmp/fwd.err)"
measure lvsd-builtin
echo counters >&7; sleep 0.5; tail -1 /tmp/fwd.out | sed 's/^/  /'
echo quit >&7; exec 7>&-
wait $fp || true
