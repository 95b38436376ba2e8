# Guest side of tests/vm/cases/director-restart.sh (issue 7): kill -9 and restart of lvsd on a
# director (the write-up's master config, kernel IPVS) keeps established client connections
# alive: the restarted daemon adopts the kernel's state (no flush, no real server withdrawn and
# re-added), the VIP is kept or re-taken, the held connection completes on the same real server.
. /payload/pair.sh
cp /payload/master.conf /tmp/d1/keepalived.conf
fail() {
  echo "FAIL: $*"
  echo "--- dir1 ipvsadm -Ln"; /sbin/ip netns exec dir1 /sbin/ipvsadm -Ln
  echo "--- dir1 ipvsadm -lnc"; /sbin/ip netns exec dir1 /sbin/ipvsadm -lnc
  echo "--- dir1 log (tail)"; tail -30 "$OUT/dir1.log"
  exit 1
}
is_master() { has_vip "$1" && [ "$(vrrp_state "$1")" = MASTER ]; }
lsn_cfg() { /sbin/ip netns exec dir1 /sbin/ipvsadm -Ln | awk '{print $1, $2, $3, $4}'; }
rs_of() { echo "$1" | sed 's/10.0.0.\([0-9]*\):80/rs\1/'; }

start_lvsd 1 /tmp/d1/keepalived.conf --dataplane kernel
wait_for 60 is_master 1 || fail "dir1 did not become MASTER"
r=$(get 10.0.0.100); [ -n "$r" ] || fail "no answer through the VIP"
hold h1 10.0.0.100
send h1 "GET / HTTP/1.0"
wait_for 10 sh -c "/sbin/ip netns exec dir1 /sbin/ipvsadm -lnc | grep -q 'ESTABLISHED 10.0.0.100:'" || fail "no ESTABLISHED entry"
lnc_kernel 1 > $R/before.txt
D=$(awk '$4 == "10.0.0.100:0" {print $6; exit}' $R/before.txt)
P=$(awk '$3 == "ESTABLISHED" && index($4, "10.0.0.100:") == 1 {sub(/.*:/, "", $4); print $4; exit}' $R/before.txt)
[ -n "$D" ] && [ -n "$P" ] || fail "no template / held connection"
lsn_cfg > $R/svc-before.txt
ok "dir1 MASTER; client .100 bound to $D (template), connection 10.0.0.100:$P held open mid-request"

# VIP presence sampled every 0.2 s across the kill and the restart.
( while [ ! -f $R/vip.stop ]; do if has_vip 1; then echo "$(up) 1"; else echo "$(up) 0"; fi; sleep 0.2; done > $R/vip ) &
VP=$!
kill9 1
has_vip 1 || fail "the VIP left with the killed daemon"
start_lvsd 1 /tmp/d1/keepalived.conf --dataplane kernel
wait_for 60 is_master 1 || fail "dir1 did not become MASTER again after the restart"
sleep 2
touch $R/vip.stop; wait $VP
n_off=$(awk '$2 == 0' $R/vip | wc -l)
# The restart's log: what the reconciler did.
sed -n '/--- start lvsd/h; /--- start lvsd/!H; ${x;p}' "$OUT/dir1.log" > $R/restart.log
ops=$(grep -c 'IPVS reconciled' $R/restart.log)
[ "$ops" = 0 ] || { grep 'IPVS reconciled' $R/restart.log; fail "the restarted daemon changed IPVS ($ops reconcile steps) instead of adopting it"; }
lsn_cfg > $R/svc-after.txt
cmp -s $R/svc-before.txt $R/svc-after.txt || { diff $R/svc-before.txt $R/svc-after.txt; fail "services changed across the restart"; }
entry_now() { lnc_kernel 1 > $R/after.txt; entry $R/after.txt "$@"; }
entry_now "10.0.0.100:$P" "$D" ESTABLISHED || fail "the ESTABLISHED entry is gone after the restart"
entry_now 10.0.0.100:0 "$D" || fail "the template is gone after the restart"
if [ "$n_off" = 0 ]; then vipnote="VIP kept throughout"; else vipnote="VIP absent in $n_off of $(wc -l < $R/vip) samples, re-taken"; fi
ok "kill -9 + restart: state adopted (no reconcile operation, services unchanged, template and ESTABLISHED 10.0.0.100:$P kept; $vipnote)"
send h1 ""
wait_for 15 grep -q "^rs" "$R/h-h1.out" || fail "the held connection got no answer after the restart: $(cat $R/h-h1.out)"
[ "$(tail -1 $R/h-h1.out)" = "$(rs_of "$D")" ] || fail "held connection answered by $(tail -1 $R/h-h1.out), not $D"
r=$(get 10.0.0.100)
[ "$r" = "$(rs_of "$D")" ] || fail "a new connection of .100 went to $r, not $D"
ok "the connection held across the restart completes (answer from $(rs_of "$D")); a new one of .100 stays on $D"
stop_dir 1
exit 0
