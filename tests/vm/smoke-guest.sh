# Guest side of the CI smoke test (tests/vm/run.sh): the Debian kernel's IPVS answers ipvsadm.
. /vm/lib.sh
set -e
vm_load_ipvs || die "cannot load ip_vs and its schedulers"
grep -q '^ip_vs ' /proc/modules || die "ip_vs not loaded"
ipvsadm -A -t 10.0.0.49:80 -s rr -p 360
ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.56:80 -g -w 100
ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.57:80 -g -w 100
ipvsadm -A -u 10.0.0.49:53 -s sh -b sh-port
ipvsadm -a -u 10.0.0.49:53 -r 10.0.0.56:53 -m -w 1
ipvsadm -A -f 7 -s wlc
ipvsadm --set 5 3 3
ipvsadm -Ln > "$OUT/ipvsadm-Ln.txt"
ipvsadm -Ln --timeout >> "$OUT/ipvsadm-Ln.txt"
# ipvsadm sorts real servers by address (the kernel keeps them newest-first).
cat > /tmp/expected <<'EXP'
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.49:80 rr persistent 360
  -> 10.0.0.56:80                 Route   100    0          0         
  -> 10.0.0.57:80                 Route   100    0          0         
UDP  10.0.0.49:53 sh (sh-port)
  -> 10.0.0.56:53                 Masq    1      0          0         
FWM  7 wlc
Timeout (tcp tcpfin udp): 5 3 3
EXP
diff -u /tmp/expected "$OUT/ipvsadm-Ln.txt" || die "ipvsadm -Ln differs from the expected text"
echo "smoke: ipvsadm -Ln ok"
# The capture tools other tests rely on: generic-netlink capture through nlmon.
ip link add nlmon0 type nlmon || die "nlmon"
ip link set nlmon0 up
: > /tmp/nlmon.err
/sbin/tcpdump -i nlmon0 -U -w /tmp/genl.pcap 2>>/tmp/nlmon.err &
tp=$!
i=0; while ! grep -q listening /tmp/nlmon.err && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
grep -q listening /tmp/nlmon.err || die "tcpdump on nlmon0 did not start: $(cat /tmp/nlmon.err)"
# The capture socket may see traffic a moment after tcpdump reports "listening": ask until the
# dump shows up (at most ~5 s).
n=0; i=0
while [ $i -lt 10 ]; do
  ipvsadm -Ln >/dev/null
  sleep 0.5
  n=$(/sbin/tcpdump -r /tmp/genl.pcap 2>/dev/null | wc -l)
  [ "$n" -ge 2 ] && break
  i=$((i+1))
done
kill -INT $tp 2>/dev/null; wait $tp || true
n=$(/sbin/tcpdump -r /tmp/genl.pcap 2>/tmp/nlmon.read | wc -l)
[ "$n" -ge 2 ] || die "nlmon captured $n netlink messages from ipvsadm ($(cat /tmp/nlmon.err /tmp/nlmon.read))"
echo "smoke: nlmon capture ok ($n messages)"
# keepalived 2.2.7 from the image programs IPVS.
ipvsadm -C
cat > /tmp/ka.conf <<'KA'
virtual_server 10.0.0.50 80 {
  lb_algo wrr
  lb_kind DR
  protocol TCP
  real_server 10.0.0.56 80 {
    weight 2
  }
}
KA
/sbin/keepalived -n -l -f /tmp/ka.conf -p /tmp/ka.pid -c /tmp/kac.pid -r /tmp/kav.pid > /tmp/ka.log 2>&1 &
kp=$!
i=0; while ! ipvsadm -Ln | grep -q '10.0.0.56:80 .*Route *2' && [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done
ipvsadm -Ln | grep -q '10.0.0.56:80 .*Route *2' || { cat /tmp/ka.log; die "keepalived did not program IPVS"; }
echo "smoke: keepalived programmed IPVS"
kill $kp; wait $kp || true
ip link add vx0 type veth peer name vx1 || die "veth"
ip link add brx type bridge || die "bridge"
# The LVS-DR lab used by record.sh (only with the argument "lab": ~5 s on a quiet host, but ~50 s
# when the host is loaded): one persistent rr service, two requests, one snapshot.
if [ "${1:-}" != lab ]; then echo "smoke: ok"; exit 0; fi
set +e
ipvsadm -C
. /extra/topo.sh
$D ipvsadm -A -t 10.0.0.49:80 -s rr -p 30
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.56:80 -g -w 1
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.57:80 -g -w 1
get "$C"; get "$C"
snap
finish > /dev/null
grep -q '^TCP 00:[23][0-9]  ASSURED     10.0.0.100:0       10.0.0.49:80       10.0.0.57:80$' "$OUT/snapshots.txt" ||
  die "lab: no persistence template toward .57 in: $(cat "$OUT/snapshots.txt")"
[ "$(grep -c 'FIN_WAIT    10.0.0.100:.*10.0.0.57:80$' "$OUT/snapshots.txt")" = 2 ] ||
  die "lab: expected two FIN_WAIT entries toward .57 in: $(cat "$OUT/snapshots.txt")"
[ "$(grep -c 'Flags \[S\]' "$OUT/director.txt")" = 2 ] || die "lab: expected two SYNs in the capture"
echo "smoke: lab ok (DR through the VIP, template + entries as ipvsadm -lnc prints them)"
echo "smoke: ok"
