# Guest side of tests/vm/cases/ipvs-apply.sh: `lvsd ipvs apply` against the real kernel.
. /vm/topo.sh
P=/payload
fail=0
bad() { echo "FAIL: $*"; fail=1; }
L() { $D /usr/local/bin/lvsd ipvs "$@"; }
A() { $D /sbin/ipvsadm "$@"; }
ST=/tmp/ipvs-state.json
# tuples (proto source virtual destination) of the connection table
conns() { A -Lnc | tail -n +3 | awk '{print $1, $4, $5, $6}' | sort; }

# 0. A service lvsd did not create.
A -A -t 10.9.9.9:80 -s rr
A -a -t 10.9.9.9:80 -r 10.9.9.10:80 -g

# 1. Cold apply of the seed config: exactly the expected ipvsadm -Ln (foreign service untouched).
L apply -f $P/seed.conf --state-file $ST --json > $OUT/apply1.json || bad "apply 1 failed"
A -Ln > $OUT/apply1-Ln.txt
diff -u $P/expected-apply.txt $OUT/apply1-Ln.txt && echo "ok: cold apply gives the expected ipvsadm -Ln" || bad "apply 1: ipvsadm -Ln differs"

# 2. Traffic: two clients through DR with persistence.
client_addr 10.0.0.101
hold h1 cli 10.0.0.100
hold h2 cli 10.0.0.101
get cli 10.0.0.100 >/dev/null
conns > $OUT/conns-before.txt
[ "$(wc -l < $OUT/conns-before.txt)" -ge 4 ] || bad "expected connection entries and templates, got: $(cat $OUT/conns-before.txt)"

# 3. A changed weight is an edit in place; the entries survive.
L apply -f $P/seed-weight.conf --state-file $ST --json > $OUT/apply2.json || bad "apply 2 failed"
grep -q '"op": "edit_dest"' $OUT/apply2.json || bad "apply 2 did not edit the dest: $(cat $OUT/apply2.json)"
grep -Eq '"op": "(del|add)_' $OUT/apply2.json && bad "apply 2 deleted or added: $(cat $OUT/apply2.json)"
A -Ln | grep -q '10.0.0.56:80 *Route *50 ' || bad "weight 50 not in ipvsadm -Ln: $(A -Ln)"
conns > $OUT/conns-after.txt
diff -u $OUT/conns-before.txt $OUT/conns-after.txt && echo "ok: weight edited in place, ipvsadm -Lnc entries survive" || bad "connection entries changed"

# 4. A restart adopts: same config again (with and without the state file) = no operations.
L apply -f $P/seed-weight.conf --state-file $ST --json > $OUT/apply3.json || bad "apply 3 failed"
grep -q '"ops": \[\]' $OUT/apply3.json || bad "restart with state: ops not empty: $(cat $OUT/apply3.json)"
L apply -f $P/seed-weight.conf --state-file /tmp/none.json --json > $OUT/apply4.json || bad "apply 4 failed"
grep -q '"ops": \[\]' $OUT/apply4.json || bad "restart without state: ops not empty: $(cat $OUT/apply4.json)"
grep -q '"adopted_dests": 2' $OUT/apply4.json || bad "apply 4 did not adopt 2 dests"
conns > $OUT/conns-after-restart.txt
diff -u $OUT/conns-before.txt $OUT/conns-after-restart.txt && echo "ok: restart adopts (no ops), entries survive" || bad "entries changed on restart"

# 5. Without ownership nothing is removed; with it only lvsd's service goes.
L apply -f $P/empty.conf --state-file /tmp/none2.json --json > $OUT/apply5.json || bad "apply 5 failed"
grep -q '"ops": \[\]' $OUT/apply5.json || bad "apply 5 (no ownership) removed something: $(cat $OUT/apply5.json)"
L apply -f $P/empty.conf --state-file $ST --json > $OUT/apply6.json || bad "apply 6 failed"
A -Ln > $OUT/apply6-Ln.txt
grep -q '10.0.0.49:80' $OUT/apply6-Ln.txt && bad "lvsd's service still there"
grep -q '10.9.9.9:80' $OUT/apply6-Ln.txt && grep -q '10.9.9.10:80' $OUT/apply6-Ln.txt || bad "foreign service was touched"
[ $fail = 0 ] && echo "ok: only what lvsd created is removed"

release h1; release h2

# 6. A batch: 200 services x 4 real servers in one apply (requests packed many to a sendmsg),
# one real server the kernel refuses (lower threshold above the upper: ERANGE) in the middle.
# Exactly that one is reported, everything else is in, and lvsd's listing equals ipvsadm's.
sh $P/gen-config.sh 200 4 | awk '{print} /real_server 10.2.2.1 80 [{]/ {print "    uthreshold 10"; print "    lthreshold 20"}' > /tmp/batch.conf
L apply -f /tmp/batch.conf --state-file /tmp/batch.json > $OUT/apply7.txt 2>&1 && bad "apply 7 should report the refused real server"
n_fail=$(grep -c '^lvsd: ' $OUT/apply7.txt)
[ "$n_fail" = 1 ] && grep -q '^lvsd: add 10.2.2.1:80 to TCP 10.1.0.101:80: .*' $OUT/apply7.txt \
  || bad "apply 7: expected exactly the refused real server, got: $(cat $OUT/apply7.txt)"
A -Ln > $OUT/apply7-Ln.txt
n=$(grep -c -- '-> 10\.2\.' $OUT/apply7-Ln.txt)
[ "$n" = 799 ] || bad "apply 7: ipvsadm -Ln shows $n batch real servers, expected 799"
L list -n > $OUT/apply7-lvsd.txt
cmp -s $OUT/apply7-Ln.txt $OUT/apply7-lvsd.txt || bad "apply 7: lvsd ipvs list -n differs from ipvsadm -Ln"
# Re-applying adopts everything but the refused one, which is retried (and refused again).
L apply -f /tmp/batch.conf --state-file /tmp/batch.json --json > $OUT/apply8.json
grep -q '"adopted_dests": 799' $OUT/apply8.json || bad "apply 8 did not adopt 799 dests: $(head -c 600 $OUT/apply8.json)"
[ $fail = 0 ] && echo "ok: a batch of 200 services x 4 applies in one go; the one refused real server is reported alone"
exit $fail
