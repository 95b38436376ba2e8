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
# The capture tools other tests rely on.
ip link add nlmon0 type nlmon || die "nlmon"
ip link set nlmon0 up
ip link add vx0 type veth peer name vx1 || die "veth"
ip link add brx type bridge || die "bridge"
echo "smoke: ok"
