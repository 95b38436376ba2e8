# mh (Maglev hashing of the source address) with three real servers: which client address goes where.
# Eleven client addresses, two requests each (the second must land on the same server).
RS="56 57 58"
. /extra/topo.sh
for a in 101 102 103 104 105 106 107 200; do client_addr 10.0.0.$a; done
client_addr 10.0.1.100
client_addr 10.0.1.7
$D ipvsadm --set 120 60 10
$D ipvsadm -A -t 10.0.0.49:80 -s mh
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.56:80 -g -w 1
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.57:80 -g -w 1
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.58:80 -g -w 1
lsvc
for a in 10.0.0.100 10.0.0.101 10.0.0.102 10.0.0.103 10.0.0.104 10.0.0.105 10.0.0.106 10.0.0.107 10.0.0.200 10.0.1.100 10.0.1.7; do
  get "$C" $a
  get "$C" $a
done
snap
lsvc
finish
