# rr, tcp timeout 5 s. An idle client connection's ESTABLISHED entry counts down and is removed
# although the TCP connection itself is still open at both ends; when the client finally sends its
# request the director has no entry (the packet is not a SYN, so nothing is scheduled) and the
# connection dies. A fresh connection is then scheduled normally.
. /extra/topo.sh
$D ipvsadm --set 5 3 3
$D ipvsadm -A -t 10.0.0.49:80 -s rr
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.56:80 -g -w 1
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.57:80 -g -w 1
lsvc
hold h1 cli 10.0.0.100
sleep 0.5; snap
for t in 1 2 3 4 5 6; do sleep 1; snap; done
send h1 "GET / HTTP/1.0"
sleep 1; snap
get "$C"
snap
release h1
finish
