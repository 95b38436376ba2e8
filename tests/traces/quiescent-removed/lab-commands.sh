# rr with persistence 20 s. Client A (10.0.0.100) is bound to .58, client B (10.0.0.101) to .57.
# Then .58 is quiesced (weight 0, as a keepalived reload of keepalived-quiesced.conf does): A stays
# on .58 through its template, a new client C goes elsewhere. Then .57 is removed (reload of
# keepalived-removed.conf): B's template points to a deleted server and B is scheduled anew.
RS="56 57 58"
. /extra/topo.sh
client_addr 10.0.0.101
client_addr 10.0.0.102
$D ipvsadm --set 30 5 10
$D ipvsadm -A -t 10.0.0.49:80 -s rr -p 20
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.56:80 -g -w 1
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.57:80 -g -w 1
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.58:80 -g -w 1
lsvc
get "$C" 10.0.0.100
get "$C" 10.0.0.101
snap
$D ipvsadm -e -t 10.0.0.49:80 -r 10.0.0.58:80 -g -w 0
mark reload keepalived-quiesced.conf
lsvc
get "$C" 10.0.0.100
get "$C" 10.0.0.102
snap
$D ipvsadm -d -t 10.0.0.49:80 -r 10.0.0.57:80
mark reload keepalived-removed.conf
lsvc
snap
get "$C" 10.0.0.101
get "$C" 10.0.0.100
snap
sleep 2; snap
finish
