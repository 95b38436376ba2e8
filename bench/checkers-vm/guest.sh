# Guest side of bench/checkers-vm/run.sh: the same checker config run by lvsd and by keepalived's
# checker process, one after the other, against local servers (bench_servers on 127.x.y.z).
# Results: $OUT/results.tsv (name, CPU % of one core, RSS KiB, peak RSS KiB, TCP probes/s,
# HTTP probes/s, servers' CPU %, anonymous RSS KiB, CPU us per probe).
# TCP probes are the SYNs that reached port 8000 (an nftables counter: a half-open probe is never
# accepted), the same for every implementation; HTTP probes the connections bench_servers accepted.
. /vm/lib.sh
read N_TCP N_HTTP SECS WARM WHAT < /payload/params
C=/payload/checkers.conf
R=$OUT/results.tsv; : > $R; fail=0
# keepalived logs through syslog to a file (-l would also write the slow serial console).
/bin/busybox syslogd -O $OUT/syslog.txt
ulimit -n 65536
/sbin/ip link set lo up
vm_load_ipvs || die "no ip_vs"
echo "bench: $N_TCP TCP_CHECK + $N_HTTP HTTP_GET, delay_loop 1; warm-up ${WARM}s, measure ${SECS}s; $(nproc) vCPU"
modprobe nf_tables 2>/dev/null
/sbin/nft -f - <<'NFT' || die "nft: cannot count SYNs"
table inet lvsdbench {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 8000 tcp flags & (syn | ack) == syn counter
  }
}
NFT
syns() { /sbin/nft list chain inet lvsdbench input | awk '/packets/ {for (i = 1; i < NF; i++) if ($i == "packets") {print $(i + 1); exit}}'; }
/usr/local/bin/bench_servers 8000 8080 /tmp/counts & SPID=$!
sleep 2
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
# measure NAME PID: CPU (utime+stime, USER_HZ 100) over SECS, VmRSS at the end, probe rates
# seen by the servers.
measure() {
  [ -d /proc/$2 ] || { echo "FAIL: $1: process $2 is gone"; fail=1; return; }
  set -- "$1" "$2" $(cat /tmp/counts)
  c0=$(ticks $2); s0=$(now); sv0=$(ticks $SPID)
  tcp0=$(syns); http0=$6
  sleep $SECS
  set -- "$1" "$2" $(cat /tmp/counts)
  c1=$(ticks $2); s1=$(now); sv1=$(ticks $SPID); tcp1=$(syns)
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$2/status); hwm=$(awk '/^VmHWM/ {print $2}' /proc/$2/status); anon=$(awk '/^RssAnon/ {print $2}' /proc/$2/status)
  line=$(awk -v n="$1" -v c0=$c0 -v c1=$c1 -v s0=$s0 -v s1=$s1 -v t0=$tcp0 -v t1=$tcp1 -v h0=$http0 -v h1=$6 \
    -v rss=$rss -v hwm=$hwm -v anon=$anon -v v0=$sv0 -v v1=$sv1 'BEGIN { d = s1 - s0; n_p = t1 - t0 + h1 - h0; pp = 0; if (n_p > 0) pp = 1e6 * (c1 - c0) / 100 / n_p
      printf "%s\t%.1f\t%d\t%d\t%.0f\t%.0f\t%.1f\t%d\t%.1f\n", n, 100 * (c1 - c0) / 100 / d, rss, hwm, (t1 - t0) / d, (h1 - h0) / d, 100 * (v1 - v0) / 100 / d, anon, pp }')
  echo "$line" >> $R
  echo "$line" | awk -F'\t' '{ printf "%s: CPU %s %% of one core (%s us per probe), RSS %.1f MiB (anonymous %.1f, peak %.1f), probes/s seen by the servers: TCP %s HTTP %s (servers %s %%)\n", $1, $2, $9, $3 / 1024, $8 / 1024, $4 / 1024, $5, $6, $7 }'
}
stop() { kill -TERM $1 2>/dev/null; t=0; while kill -0 $1 2>/dev/null && [ $t -lt 120 ]; do sleep 1; t=$((t + 1)); done; }

for what in $WHAT; do
  /sbin/ipvsadm -C
  case $what in
  lvsd-none|lvsd-kernel|lvsd-none-connect|lvsd-kernel-connect)
    dp=${what#lvsd-}; dp=${dp%-connect}; tc=half-open
    case $what in *-connect) tc=connect ;; esac
    /usr/local/bin/lvsd run -C -n -l -f $C --dataplane $dp --tcp-check $tc --control-socket /tmp/lvsd.sock -p /tmp/lvsd.pid \
      > $OUT/$what.log 2>&1 & P=$!
    sleep $WARM
    measure $what $P
    /usr/local/bin/lvsd status --json --control-socket /tmp/lvsd.sock > $OUT/$what-status.json 2>&1
    awk '/"alive": true/ {a++} /"alive": false/ {d++} END {print "'$what': real servers alive " a + 0 ", down " d + 0}' $OUT/$what-status.json
    stop $P ;;
  keepalived)
    rm -f /tmp/k.pid /tmp/kc.pid /tmp/kv.pid
    /sbin/keepalived -C -n -f $C -p /tmp/k.pid -c /tmp/kc.pid -r /tmp/kv.pid > $OUT/keepalived.log 2>&1 & P=$!
    sleep $WARM
    KC=$(cat /tmp/kc.pid 2>/dev/null)
    [ -n "$KC" ] || { echo "FAIL: keepalived: no checker process"; fail=1; continue; }
    measure keepalived-checker $KC
    echo "keepalived: ipvsadm shows $(/sbin/ipvsadm -Ln | grep -c -- '-> 127.') real servers"
    stop $P ;;
  esac
  sleep 3
done
kill $SPID
echo "results:"; cat $R
exit $fail
