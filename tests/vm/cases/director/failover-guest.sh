# Guest side of tests/vm/cases/director-failover.sh (issue 7, item 1): two lvsd directors with the
# write-up's master/backup configs (kernel IPVS, lvs_sync_daemon on), two DR real servers, a client
# requesting through the VIP back to back.
. /payload/pair.sh
MDI=3.61   # master_down_interval of the backup: 3 * advert_int + (256 - 100) / 256 * advert_int
for n in 1 2; do cp /payload/$([ $n = 1 ] && echo master || echo backup).conf /tmp/d$n/keepalived.conf; done
fail() {
  echo "FAIL: $*"
  for n in 1 2; do echo "--- dir$n ipvsadm -Ln"; /sbin/ip netns exec dir$n /sbin/ipvsadm -Ln; echo "--- dir$n log (tail)"; tail -40 "$OUT/dir$n.log"; done
  [ -f $R/load ] && { echo "--- load"; cat $R/load; }
  exit 1
}
lsn() { /sbin/ip netns exec "dir$1" /sbin/ipvsadm -Ln; }
# The table without its connection counters.
lsn_cfg() { lsn "$1" | awk '{print $1, $2, $3, $4}'; }
is_backup() { [ "$(vrrp_state "$1")" = BACKUP ]; }
is_master() { has_vip "$1" && [ "$(vrrp_state "$1")" = MASTER ]; }
# first_via T N: uptime of the first successful request at/after T that went to dirN.
first_via() {
  awk -v t="$1" -v n="$2" '$1 >= t && $2 != "FAIL" && $3 == n { print $1; exit }' $R/load
}
fails_between() { awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b && $2 == "FAIL"' $R/load | wc -l; }
reqs_between() { awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b' $R/load | wc -l; }

client_addr 10.0.0.101
start_lvsd 1 /tmp/d1/keepalived.conf --dataplane kernel
start_lvsd 2 /tmp/d2/keepalived.conf --dataplane kernel
wait_for 60 is_master 1 || fail "dir1 did not become MASTER"
wait_for 20 is_backup 2 || fail "dir2 is not BACKUP"
has_vip 2 && fail "dir2 holds the VIP too"
ok "election: dir1 (priority 101) MASTER with the VIP, dir2 BACKUP"
for n in 1 2; do
  wait_for 20 sh -c "/sbin/ip netns exec dir$n /sbin/ipvsadm -Ln | grep -c 'Route' | grep -qx 2" || fail "dir$n: services not programmed"
done
ok "both directors programmed 10.0.0.49:80 rr persistent with .56 and .57 (DR), as keepalived does"
for n in 1 2; do
  /sbin/ip netns exec dir$n /sbin/ipvsadm -L --daemon | grep -q 'master sync daemon' || fail "dir$n: no kernel master sync daemon"
  /sbin/ip netns exec dir$n /sbin/ipvsadm -L --daemon | grep -q 'backup sync daemon' || fail "dir$n: no kernel backup sync daemon"
done
ok "lvs_sync_daemon eth0: kernel master and backup sync daemons on both directors"

load_start
sleep 4
[ "$(fails_between 0 99999)" = 0 ] || fail "requests failed before any event"
[ "$(reqs_between 0 99999)" -ge 3 ] || fail "too few requests: $(reqs_between 0 99999)"
ok "client: $(reqs_between 0 99999) requests through dir1, none failed"

# --- lvs_sync_daemon: the backup holds the master's entries (issue 9) -------------------------------
hold h1 10.0.0.101
send h1 "GET / HTTP/1.0"
send h1 "X-One: 1"
k() { lnc_kernel "$1" > "$R/k$1.txt"; }
k_has() { _n=$1; shift; k "$_n"; entry "$R/k$_n.txt" "$@"; }
wait_for 10 sh -c "/sbin/ip netns exec dir1 /sbin/ipvsadm -lnc | grep -q 'ESTABLISHED 10.0.0.101:'" || fail "no ESTABLISHED .101 entry on dir1"
k 1
D100=$(awk '$4 == "10.0.0.100:0" {print $6; exit}' $R/k1.txt)
D101=$(awk '$4 == "10.0.0.101:0" {print $6; exit}' $R/k1.txt)
P1=$(awk '$3 == "ESTABLISHED" && index($4, "10.0.0.101:") == 1 {sub(/.*:/, "", $4); print $4; exit}' $R/k1.txt)
[ -n "$D100" ] && [ -n "$D101" ] && [ -n "$P1" ] || { cat $R/k1.txt; fail "dir1 lacks the templates / the held connection"; }
wait_for 10 k_has 2 10.0.0.100:0 "$D100" || fail "dir2 has no synced template 10.0.0.100:0 -> $D100"
wait_for 10 k_has 2 10.0.0.101:0 "$D101" || fail "dir2 has no synced template 10.0.0.101:0 -> $D101"
wait_for 10 k_has 2 "10.0.0.101:$P1" "$D101" ESTABLISHED || fail "dir2 has no synced ESTABLISHED 10.0.0.101:$P1 -> $D101"
ok "kernel sync dir1 -> dir2: templates .100 -> $D100, .101 -> $D101 and ESTABLISHED .101:$P1 in dir2's table"
rs_of() { echo "$1" | sed 's/10.0.0.\([0-9]*\):80/rs\1/'; }

# --- kill -9 the master -------------------------------------------------------------------------
K=$(up); KW=$(wall)
kill9 1
wait_for 15 is_master 2 || fail "dir2 did not take over"
sleep $(awk -v m=$MDI 'BEGIN{print int(m) + 3}')
# When dir2 became MASTER (its log, wall clock) after the kill.
M=$(log_tod "$OUT/dir2.log" 'Entering MASTER STATE')
dm=$(awk -v k="$KW" -v m="$M" 'BEGIN{printf "%.2f", m - k % 86400}')
awk -v d="$dm" -v m=$MDI 'BEGIN{exit !(d > 0 && d <= m + 1)}' || fail "dir2 became MASTER ${dm}s after the kill (not within $MDI + 1 s)"
# The requests: the first one through dir2, and none failing from the kill on.
first=$(first_via "$K" 2)
[ -n "$first" ] || fail "no request went through dir2 after the kill"
d=$(awk -v a="$K" -v b="$first" 'BEGIN{printf "%.2f", b - a}')
# A request whose SYN reached dir1 and whose next packets reach dir2 (the client's ARP entry
# switched in between) may fail: dir2 has no entry for a connection younger than the kernel's
# sync threshold (3 packets). From the first request through dir2 on, none may fail.
nf=$(fails_between "$first" 99999)
[ "$nf" = 0 ] || fail "$nf requests failed after the first one through dir2"
# Every request started 1 s (ARP update) after dir2's takeover went through dir2.
late=$(awk -v t="$(awk -v a="$K" -v d="$dm" 'BEGIN{print a + d + 1}')" '$1 >= t && $3 != 2' $R/load | wc -l)
[ "$late" = 0 ] || fail "$late requests after dir2's takeover did not go through dir2"
others=$(load_after "$K" | awk -v r="$(rs_of "$D100")" '$2 != r && $2 != "FAIL"' | wc -l)
[ "$others" = 0 ] || fail "$others requests of the persistent client .100 left $D100 after the failover"
send h1 ""
wait_for 10 grep -q "^rs" "$R/h-h1.out" || fail "the held connection got no answer after the failover: $(cat $R/h-h1.out)"
[ "$(tail -1 $R/h-h1.out)" = "$(rs_of "$D101")" ] || fail "held connection answered by $(tail -1 $R/h-h1.out), not $D101"
ok "after the failover (lvs_sync_daemon on): persistent client .100 stays on $D100 ($(load_after "$K" | wc -l) requests through dir2), and .101's established connection completes through dir2 (answer from $(tail -1 $R/h-h1.out))"
ok "kill -9 of the master: dir2 MASTER ${dm}s after the kill (<= master_down_interval $MDI + 1 s); first request through dir2 started ${d}s after the kill; every later one through dir2, none failed ($(fails_between "$K" "$first") failed while the ARP entry moved)"

# --- the master returns and takes over ------------------------------------------------------------
B=$(up)
start_lvsd 1 /tmp/d1/keepalived.conf --dataplane kernel
wait_for 30 is_master 1 || fail "dir1 did not take over again"
wait_for 10 sh -c "! /sbin/ip -n dir2 -4 addr show dev eth0 | grep -q 'inet $VIP/'" || fail "dir2 kept the VIP"
sleep 3
back=$(first_via "$B" 1)
[ -n "$back" ] || fail "no request went through dir1 after it returned"
nf=$(fails_between "$back" 99999)
[ "$nf" = 0 ] || fail "$nf requests failed after dir1 took over again"
ok "the master returns: dir1 MASTER again (preempts), requests through dir1 $(awk -v a="$B" -v b="$back" 'BEGIN{printf "%.1f", b - a}')s after its restart; $(fails_between "$B" 99999) failed"

# --- reload under load changing a weight ------------------------------------------------------------
lsn 1 > $R/before-reload.txt
H=$(up)
first_sub /tmp/d1/keepalived.conf 'weight 100' 'weight 50'
kill -HUP "$(cat /tmp/d1/pid)"
wait_for 10 sh -c "/sbin/ip netns exec dir1 /sbin/ipvsadm -Ln | grep -q '10.0.0.56:80 *Route *50 '" || fail "weight 50 not applied"
sleep 3
H2=$(up)
nf=$(fails_between "$H" "$H2"); nr=$(reqs_between "$H" "$H2")
[ "$nf" = 0 ] || fail "$nf of $nr requests failed across the reload"
[ "$nr" -ge 2 ] || fail "too few requests across the reload ($nr)"
grep -q 'reload applied' "$OUT/dir1.log" || fail "no 'reload applied' in the log"
# Only the changed virtual server was re-read and diffed (lvs_config::reload, the plane's partial
# update): one operation, the weight edit.
grep -q 'only virtual servers changed' "$OUT/dir1.log" || fail "the reload re-read the whole configuration"
ipvs_after=$(tr -d '\033' < "$OUT/dir1.log" | sed 's/\[[0-9;]*m//g' \
  | awk '/only virtual servers changed/ { r = 1 } r && /IPVS reconciled/ { print; exit }')
echo "$ipvs_after" | grep -q 'ops=1 .*scope="changed"' \
  || fail "the reload's IPVS update was not one edit of the changed virtual server: $ipvs_after"
ok "SIGHUP reload under load: .56 weight 100 -> 50 edited in place, $nr requests across it, none failed"

# --- a reload with a broken configuration -----------------------------------------------------------
lsn_cfg 1 > $R/before-bad.txt
cp /tmp/d1/keepalived.conf /tmp/d1/good.conf
first_sub /tmp/d1/keepalived.conf 'weight 100' 'weight 10x'
line=$(grep -n 'weight 10x' /tmp/d1/keepalived.conf | cut -d: -f1)
/usr/local/bin/lvsd reload --control-socket /tmp/d1/ctl.sock > $R/bad-reload.txt 2>&1; rc=$?
cat $R/bad-reload.txt
[ "$rc" != 0 ] || fail "lvsd reload of a broken config exited 0"
grep -q "/tmp/d1/keepalived.conf:$line:" $R/bad-reload.txt || fail "lvsd reload output does not name keepalived.conf:$line"
grep -q "reload refused: /tmp/d1/keepalived.conf:$line:" "$OUT/dir1.log" || fail "the log does not name keepalived.conf:$line"
sleep 2
lsn_cfg 1 > $R/after-bad.txt
cmp -s $R/before-bad.txt $R/after-bad.txt || { diff $R/before-bad.txt $R/after-bad.txt; fail "IPVS changed after a refused reload"; }
is_master 1 || fail "dir1 left MASTER after a refused reload"
ok "broken config refused with keepalived.conf:$line (lvsd reload exit $rc and the log), IPVS unchanged, still MASTER"
cp /tmp/d1/good.conf /tmp/d1/keepalived.conf
load_stop
ok "load: $(wc -l < $R/load) requests in all"

# --- a real server whose check fails leaves IPVS and returns ------------------------------------------
S=$(up)
stop_httpd 57
for n in 1 2; do
  wait_for 20 sh -c "! /sbin/ip netns exec dir$n /sbin/ipvsadm -Ln | grep -q 10.0.0.57:80" || fail "dir$n: .57 still in IPVS after its check failed"
done
out_t=$(awk -v a="$S" -v b="$(up)" 'BEGIN{printf "%.1f", b - a}')
lsn 1 | grep -q '10.0.0.56:80' || fail ".56 left too"
start_httpd 57
S=$(up)
for n in 1 2; do
  wait_for 20 sh -c "/sbin/ip netns exec dir$n /sbin/ipvsadm -Ln | grep -q 10.0.0.57:80" || fail "dir$n: .57 did not return"
done
ok "TCP_CHECK: .57's web server stopped -> .57 left IPVS on both directors (${out_t}s); restarted -> back ($(awk -v a="$S" -v b="$(up)" 'BEGIN{printf "%.1f", b - a}')s)"
for n in 1 2; do lsn $n > "$OUT/dir$n-ipvsadm.txt"; done
stop_dir 2; stop_dir 1
exit 0
