# Guest script (tests/vm/vm-run.sh): kernel sync master -> lvs-sync receiver, and
# lvs-sync master (sync_probe send) -> kernel sync backup, on the LVS-DR lab bridge.
#   dir: kernel IPVS director, master sync daemon (syncid 7)
#   bk:  kernel backup sync daemon (syncid 0 = accept all)
#   lm:  sync_probe (lvs-sync over lvs-sys sockets)
. /vm/topo.sh
node bk 10.0.0.2
node lm 10.0.0.3
$D /sbin/ipvsadm -A -t $VIP:80 -s rr -p 360
for n in $RS; do $D /sbin/ipvsadm -a -t $VIP:80 -r 10.0.0.$n:80 -g; done
mkdir -p $OUT/kernel
/sbin/ip netns exec lm /usr/local/bin/sync_probe recv eth0 224.0.0.81 8848 $OUT/kernel 32 12 > $OUT/recv.txt 2>&1 &
RECV=$!
/sbin/ip netns exec bk /sbin/ipvsadm --start-daemon backup --mcast-interface eth0
$D /sbin/ipvsadm --start-daemon master --mcast-interface eth0 --syncid 7
sleep 2
get cli
get cli
sleep 4
$D sysctl -qw net.ipv4.vs.sync_version=0
client_addr 10.0.1.100
get cli 10.0.1.100
sleep 4
/sbin/ip netns exec lm /usr/local/bin/sync_probe send eth0 224.0.0.81 8848 > $OUT/send.txt 2>&1
sleep 2
/sbin/ip netns exec bk cat /proc/net/ip_vs_conn > $OUT/bk-ip_vs_conn.txt
/sbin/ip netns exec bk /sbin/ipvsadm -lnc > $OUT/bk-lnc.txt
$D cat /proc/net/ip_vs_conn > $OUT/dir-ip_vs_conn.txt
$D /sbin/ipvsadm -L --daemon > $OUT/dir-daemon.txt
wait $RECV
finish
