# Guest side of tests/vm/cases/sync-follow.sh (issue 9): `lvs_sync_daemon eth0 VI_1` with kernel
# IPVS follows the VRRP instance as keepalived's VRRP process does: the backup sync daemon while
# BACKUP, the master (and no backup) while MASTER, none after a stop.
. /payload/pair.sh
for n in 1 2; do
  sed 's/lvs_sync_daemon eth0$/lvs_sync_daemon eth0 VI_1/' /payload/$([ $n = 1 ] && echo master || echo backup).conf > /tmp/d$n/keepalived.conf
  grep -q 'lvs_sync_daemon eth0 VI_1' /tmp/d$n/keepalived.conf || die "config not rewritten"
done
fail() {
  echo "FAIL: $*"
  for n in 1 2; do echo "--- dir$n daemons"; daemons $n; echo "--- dir$n log (tail)"; tail -20 "$OUT/dir$n.log"; done
  exit 1
}
is_master() { has_vip "$1" && [ "$(vrrp_state "$1")" = MASTER ]; }
is_backup() { [ "$(vrrp_state "$1")" = BACKUP ]; }
# daemons N: "master backup" / "master" / "backup" / "" as ipvsadm lists them.
daemons() { /sbin/ip netns exec "dir$1" /sbin/ipvsadm -L --daemon | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//'; }
runs() { [ "$(daemons "$1")" = "$2" ]; }

start_lvsd 1 /tmp/d1/keepalived.conf --dataplane kernel
start_lvsd 2 /tmp/d2/keepalived.conf --dataplane kernel
wait_for 60 is_master 1 || fail "dir1 did not become MASTER"
wait_for 20 is_backup 2 || fail "dir2 is not BACKUP"
wait_for 15 runs 1 master || fail "dir1 (MASTER) runs [$(daemons 1)], not the master sync daemon alone"
wait_for 15 runs 2 backup || fail "dir2 (BACKUP) runs [$(daemons 2)], not the backup sync daemon alone"
/sbin/ip netns exec dir1 /sbin/ipvsadm -L --daemon | grep -q 'syncid=51' || fail "syncid is not VI_1's VRID 51"
ok "lvs_sync_daemon eth0 VI_1: dir1 MASTER runs the kernel master sync daemon only, dir2 BACKUP the backup only (syncid 51 = VRID)"
r=$(get 10.0.0.100); [ -n "$r" ] || fail "no answer through dir1"
k2() { lnc_kernel 2 > $R/k2.txt; awk '$4 == "10.0.0.100:0"' $R/k2.txt | grep -q .; }
wait_for 15 k2 || fail "dir2 did not receive the template of .100"
ok "the template of .100 -> $(awk '$4 == "10.0.0.100:0" {print $6}' $R/k2.txt) reached dir2 (syncid 51)"
stop_dir 1
wait_for 15 is_master 2 || fail "dir2 did not take over after dir1 stopped"
wait_for 15 runs 2 master || fail "dir2 (MASTER) runs [$(daemons 2)], not the master alone"
wait_for 5 runs 1 "" || fail "the stopped dir1 still runs [$(daemons 1)]"
ok "dir1 stopped (SIGTERM): its sync daemon stopped; dir2 MASTER switched backup -> master"
stop_dir 2
exit 0
