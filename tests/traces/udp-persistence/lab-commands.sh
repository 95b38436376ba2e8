# UDP service, rr, persistence 12 s, udp timeout 10 s. Client A (10.0.0.100) sends from port
# 40001 at 0 s and again ~2-3 s later (refreshing its UDP entry, not the template): the template
# reaches 0 while it still controls that entry and is re-armed for 60 s. Client B (10.0.0.101)
# sends once: its entry and then its template expire normally. Later datagrams from A (new port)
# still follow A's template; B's are scheduled anew.
. /extra/topo.sh
client_addr 10.0.0.101
$D ipvsadm --set 30 10 10
$D ipvsadm -A -u 10.0.0.49:53 -s rr -p 12
$D ipvsadm -a -u 10.0.0.49:53 -r 10.0.0.56:53 -g -w 1
$D ipvsadm -a -u 10.0.0.49:53 -r 10.0.0.57:53 -g -w 1
lsvc
udp "$C" 10.0.0.100 40001
udp "$C" 10.0.0.101 40001
snap
udp "$C" 10.0.0.100 40001
snap
for t in 1 2 3 4 5 6 7 8 9 10 11; do sleep 1; snap; done
udp "$C" 10.0.0.100 40002
udp "$C" 10.0.0.101 40002
snap
lsvc
finish
