# wrr with weights 3 (.56) and 1 (.57), no persistence: the choice sequence.
. /extra/topo.sh
$D ipvsadm --set 60 10 10
$D ipvsadm -A -t 10.0.0.49:80 -s wrr
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.56:80 -g -w 3
$D ipvsadm -a -t 10.0.0.49:80 -r 10.0.0.57:80 -g -w 1
lsvc
for i in 1 2 3 4 5 6 7 8 9; do get "$C"; done
snap
sleep 2; snap
lsvc
finish
