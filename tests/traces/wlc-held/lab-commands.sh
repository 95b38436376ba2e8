# wlc, weights 1/1/2, with idle connections held open (ESTABLISHED = active, 256 each in the
# overhead) while short requests come and go (FIN_WAIT = inactive, 1 each).
RS="56 57 58"
. /extra/topo.sh
for a in 101 102 103 104; do client_addr 10.0.0.$a; done
$D ipvsadm --set 60 8 10
$D ipvsadm -A -t 10.0.0.49:80 -s wlc
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.56:80 -g -w 1
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.57:80 -g -w 1
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.58:80 -g -w 2
lsvc
for a in 100 101 102 103 104; do hold h$a cli 10.0.0.$a; done
snap
lsvc
for i in 1 2 3 4 5; do get "$C"; done
snap
lsvc
release h100; release h101
snap
for i in 1 2 3 4; do get "$C"; done
snap
sleep 9
snap
get "$C"; get "$C"
snap
lsvc
release h102; release h103; release h104
finish
