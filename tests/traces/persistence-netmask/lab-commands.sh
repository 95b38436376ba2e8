# rr with persistence 30 s and persistence netmask 255.255.255.0: clients in the same /24 share
# one template (10.0.0.0:0 / 10.0.1.0:0) and so one real server.
RS="56 57 58"
. /extra/topo.sh
client_addr 10.0.0.101
client_addr 10.0.1.100
client_addr 10.0.1.101
$D ipvsadm --set 20 5 10
$D ipvsadm -A -t 10.0.0.49:80 -s rr -p 30 -M 255.255.255.0
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.56:80 -g -w 1
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.57:80 -g -w 1
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.58:80 -g -w 1
lsvc
get "$C" 10.0.0.100
get "$C" 10.0.1.100
get "$C" 10.0.0.101
get "$C" 10.0.1.101
get "$C" 10.0.0.100
snap
sleep 3; snap
get "$C" 10.0.1.101
snap
lsvc
finish
