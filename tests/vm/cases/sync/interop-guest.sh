# Guest side of tests/vm/cases/sync-interop.sh (issue 9): connection sync between the kernel's
# sync daemon and lvsd's built-in one, both ways. dir1: lvsd --dataplane kernel (VRRP master,
# kernel master+backup sync daemons); dir2: lvsd --dataplane builtin (VRRP backup, lvsd's own
# master+backup sync daemon). Both with the write-up's configs and `lvs_sync_daemon eth0`.
. /payload/pair.sh
cp /payload/master.conf /tmp/d1/keepalived.conf
cp /payload/backup.conf /tmp/d2/keepalived.conf
fail() {
  echo "FAIL: $*"
  echo "--- dir1 ipvsadm -lnc"; lnc_kernel 1
  echo "--- dir2 built-in conns"; lnc_builtin 2
  for n in 1 2; do echo "--- dir$n log (tail)"; tail -30 "$OUT/dir$n.log"; done
  exit 1
}
is_backup() { [ "$(vrrp_state "$1")" = BACKUP ]; }
is_master() { has_vip "$1" && [ "$(vrrp_state "$1")" = MASTER ]; }
# dest_of FILE CLIENTIP: the real server of the client's template.
dest_of() { awk -v c="$2:0" '$4 == c {print $6; exit}' "$1"; }
estab_port() { awk -v c="$2" '$3 == "ESTABLISHED" && index($4, c ":") == 1 {sub(/.*:/, "", $4); print $4; exit}' "$1"; }
k1() { lnc_kernel 1 > $R/k1.txt; }
b2() { lnc_builtin 2 > $R/b2.txt; }
b2_has() { b2; entry $R/b2.txt "$@"; }
k1_has() { k1; entry $R/k1.txt "$@"; }

client_addr 10.0.0.101
start_lvsd 1 /tmp/d1/keepalived.conf --dataplane kernel
start_lvsd 2 /tmp/d2/keepalived.conf --dataplane builtin
wait_for 60 is_master 1 || fail "dir1 did not become MASTER"
wait_for 20 is_backup 2 || fail "dir2 is not BACKUP"
wait_for 20 grep -q 'sync backup started' "$OUT/dir2.log" || fail "dir2: lvsd's sync backup did not start"
ok "dir1 (kernel IPVS, kernel sync daemons) MASTER; dir2 (built-in plane, lvsd sync daemon) BACKUP"

# --- kernel master -> lvsd built-in backup ---------------------------------------------------------
for i in 1 2 3; do r=$(get 10.0.0.100); echo "request from .100 -> $r"; done
[ -n "$r" ] || fail "no answer through dir1"
hold h1 10.0.0.100
send h1 "GET / HTTP/1.0"
send h1 "X-One: 1"
wait_for 10 sh -c "/sbin/ip netns exec dir1 /sbin/ipvsadm -lnc | grep -q 'ESTABLISHED 10.0.0.100:'" || fail "no ESTABLISHED entry on dir1"
k1
D100=$(dest_of $R/k1.txt 10.0.0.100); P1=$(estab_port $R/k1.txt 10.0.0.100)
[ -n "$D100" ] && [ -n "$P1" ] || fail "dir1 has no template / held connection for .100"
wait_for 15 b2_has 10.0.0.100:0 "$D100" || fail "dir2's built-in table has no template 10.0.0.100:0 -> $D100"
wait_for 15 b2_has "10.0.0.100:$P1" "$D100" ESTABLISHED || fail "dir2's built-in table has no ESTABLISHED 10.0.0.100:$P1 -> $D100"
echo "--- dir1 kernel (ipvsadm -lnc)"; cat $R/k1.txt
echo "--- dir2 built-in (control socket conns)"; cat $R/b2.txt
ok "kernel master -> lvsd built-in backup: template 10.0.0.100:0 -> $D100 and ESTABLISHED 10.0.0.100:$P1 -> $D100 in dir2's table"

# --- failover to the built-in director ----------------------------------------------------------------
kill9 1
wait_for 15 is_master 2 || fail "dir2 did not take over"
wait_for 10 via 2 || fail "the client's ARP entry for the VIP is not dir2's"
send h1 ""
wait_for 10 grep -q "^r" "$R/h-h1.out" || fail "the held connection got no answer after the failover: $(cat $R/h-h1.out)"
[ "$(tail -1 $R/h-h1.out)" = "$(echo "$D100" | sed 's/10.0.0.\([0-9]*\):80/rs\1/')" ] || fail "held connection answered by $(tail -1 $R/h-h1.out), not $D100"
ok "established connection opened through the kernel director completes through the built-in one after kill -9 (answer from $(tail -1 $R/h-h1.out))"
r=$(get 10.0.0.100)
[ "$r" = "$(echo "$D100" | sed 's/10.0.0.\([0-9]*\):80/rs\1/')" ] || fail "after the failover .100 went to $r, not $D100"
ok "persistent client .100 keeps $D100 through the built-in director (synced template)"

# --- lvsd built-in master -> kernel backup --------------------------------------------------------------
r=$(get 10.0.0.101); echo "request from .101 -> $r"
[ -n "$r" ] || fail "no answer through dir2 for .101"
hold h2 10.0.0.101
send h2 "GET / HTTP/1.0"
send h2 "X-One: 1"
wait_for 10 sh -c "echo '{\"cmd\":\"conns\"}' | /sbin/nc -N -U /tmp/d2/ctl.sock | grep -q 'ESTABLISHED 10.0.0.101:'" || fail "no ESTABLISHED .101 entry on dir2"
b2
D101=$(dest_of $R/b2.txt 10.0.0.101); P2=$(estab_port $R/b2.txt 10.0.0.101)
[ -n "$D101" ] && [ -n "$P2" ] || fail "dir2 has no template / held connection for .101"
wait_for 15 k1_has 10.0.0.101:0 "$D101" || fail "dir1's kernel table has no template 10.0.0.101:0 -> $D101"
wait_for 15 k1_has "10.0.0.101:$P2" "$D101" ESTABLISHED || fail "dir1's kernel table has no ESTABLISHED 10.0.0.101:$P2 -> $D101"
echo "--- dir2 built-in (control socket conns)"; cat $R/b2.txt
echo "--- dir1 kernel (ipvsadm -lnc)"; cat $R/k1.txt
ok "lvsd built-in master -> kernel backup: template 10.0.0.101:0 -> $D101 and ESTABLISHED 10.0.0.101:$P2 -> $D101 in dir1's kernel table"
release h1; release h2
stop_dir 2
exit 0
