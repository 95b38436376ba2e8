# Guest side of bench/ipvs-apply/run.sh (runs inside the real-kernel VM, tests/vm/vm-run.sh).
# Files: /payload/bench.conf (N_VS x N_RS, all weight 1), /payload/bench-w.conf (one weight
# changed to 3), /payload/params (N_VS N_RS RELOADS WHAT). Results: $OUT/results.tsv
# ("tool<TAB>phase<TAB>visible_ms<TAB>exit_ms"), logs in $OUT.
. /vm/lib.sh
vm_load_ipvs || die "no ip_vs"
read N_VS N_RS RELOADS WHAT < /payload/params
P=/payload
W=/usr/local/bin/ipvs_wait
L=/usr/local/bin/lvsd
set -- $(sh $P/target.sh $N_VS $N_RS last); LAST_S=$1; LAST_D=$2
set -- $(sh $P/target.sh $N_VS $N_RS mid); MID_S=$1; MID_D=$2
TOTAL=$((N_VS * N_RS))
R=$OUT/results.tsv; : > $R; fail=0
# keepalived logs through syslog (with -l it also writes the serial console, which under TCG costs
# ~0.1 ms a character): a syslogd writing a file, as lvsd -l writes its log to a file.
/bin/busybox syslogd -O $OUT/syslog.txt
echo "bench: $N_VS virtual servers x $N_RS real servers ($TOTAL), last $LAST_S $LAST_D, changed $MID_S $MID_D"
nproc; free -m | head -2

# Real servers in the kernel table (/proc/net/ip_vs: one "  -> " line per real server).
count() { grep -c '^  -> [0-9A-F]' /proc/net/ip_vs; }
# wait_rec TOOL PHASE WAIT-ARGS...: run ipvs_wait, record its figures.
wait_rec() {
  tool=$1; phase=$2; shift 2
  res=$($W "$@" 2>>$OUT/$tool.log) || { echo "FAIL: $tool $phase: $res"; fail=1; }
  echo "$tool $phase: $res"
  vis=$(echo "$res" | sed -n 's/.*visible_ms=\([^ ]*\).*/\1/p')
  ex=$(echo "$res" | sed -n 's/.*exit_ms=\([^ ]*\).*/\1/p')
  PID=$(echo "$res" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
  printf '%s\t%s\t%s\t%s\n' "$tool" "$phase" "$vis" "$ex" >> $R
}
# complete TOOL: after a cold start, wait until every real server is in and check ipvsadm -Ln.
complete() {
  t=0
  while [ "$(count)" -lt $TOTAL ] && [ $t -lt 600 ]; do sleep 1; t=$((t + 1)); done
  [ $t -gt 0 ] && echo "note: $1: last real server was visible ${t}s before all $TOTAL were"
  s=$(now); n=$(ipvsadm -Ln | grep -c -- '->'); e=$(now)
  # ipvsadm's header line "  -> RemoteAddress:Port" also contains "->".
  if [ "$n" = $((TOTAL + 1)) ]; then
    echo "ok: $1: ipvsadm -Ln shows all $TOTAL real servers ($(awk "BEGIN{printf \"%.1f\", $e - $s}") s to list)"
  else
    echo "FAIL: $1: ipvsadm -Ln shows $((n - 1)) real servers, expected $TOTAL"; fail=1
  fi
  printf '%s\tipvsadm_Ln_s\t%s\t\n' "$1" "$(awk "BEGIN{printf \"%.1f\", ($e - $s)}")" >> $R
}
# cpu TOOL PID PHASE: the process's user and system CPU so far (/proc/PID/stat utime, stime; the
# system part is mostly the kernel's own IPVS work, a floor every tool shares).
cpu() {
  [ -r /proc/$2/stat ] || return 0
  set -- "$1" "$2" "$3" $(sed 's/.*) //' /proc/$2/stat)
  hz=100; u=$(( ${15} * 1000 / hz )); s=$(( ${16} * 1000 / hz )); mf=${11}
  echo "$1 $3: utime_ms=$u stime_ms=$s minflt=$mf"
  printf '%s\t%s_utime_ms\t%s\t\n%s\t%s_stime_ms\t%s\t\n' "$1" "$3" "$u" "$1" "$3" "$s" >> $R
}
reset() { ipvsadm -C; rm -f /tmp/st.json /run/lvsd/ipvs-state.json; sync; sleep 2; }
# reloads TOOL PID: RELOADS SIGHUPs alternating the changed weight 3 / back to 1.
reloads() {
  i=1
  while [ $i -le $RELOADS ]; do
    if [ $((i % 2)) = 1 ]; then cp $P/bench-w.conf /tmp/cur.conf; w=3; else cp $P/bench.conf /tmp/cur.conf; w=1; fi
    sleep 3
    wait_rec $1 reload_sighup --service $MID_S --dest $MID_D --weight $w --timeout 300 --kill $2 --signal HUP
    i=$((i + 1))
  done
}
stop() { kill -TERM $1; t=0; while kill -0 $1 2>/dev/null && [ $t -lt 300 ]; do sleep 1; t=$((t + 1)); done; }

case " $WHAT " in *" apply "*)
  reset
  wait_rec lvsd-apply cold --service $LAST_S --dest $LAST_D --weight 1 --after-exit --timeout 600 \
    -- $L ipvs apply -f $P/bench.conf --state-file /tmp/st.json
  complete lvsd-apply
  i=1
  while [ $i -le $RELOADS ]; do
    if [ $((i % 2)) = 1 ]; then c=$P/bench-w.conf; w=3; else c=$P/bench.conf; w=1; fi
    wait_rec lvsd-apply reload_apply --service $MID_S --dest $MID_D --weight $w --after-exit --timeout 300 \
      -- $L ipvs apply -f $c --state-file /tmp/st.json
    i=$((i + 1))
  done
  ;; esac

case " $WHAT " in *" daemon "*)
  reset; cp $P/bench.conf /tmp/cur.conf
  wait_rec lvsd-run cold --service $LAST_S --dest $LAST_D --weight 1 --timeout 600 \
    -- $L run -C -n -l -f /tmp/cur.conf --dataplane kernel --control-socket /tmp/lvsd.sock -p /tmp/lvsd.pid
  LPID=$PID
  cpu lvsd-run $LPID cold
  complete lvsd-run
  reloads lvsd-run $LPID
  cpu lvsd-run $LPID end
  awk '/^VmHWM|^VmRSS/' /proc/$LPID/status | sed "s/^/lvsd-run: /"
  stop $LPID
  ;; esac

# restart: lvsd started, killed (SIGKILL: the table stays, as after a crash; a SIGTERM would
# remove it, as keepalived does, and re-adding 40,000 destinations within two minutes of their
# removal is slow in the kernel: each new one is first looked for in the destination trash),
# started again — it adopts the table (no operations) — then the same reloads. Its first reload
# runs code the emulator already translated for the first process (the binary's pages stay in
# the page cache), which separates that one-time cost of a first run under TCG from lvsd's own.
case " $WHAT " in *" restart "*)
  reset; cp $P/bench.conf /tmp/cur.conf
  wait_rec lvsd-first cold --service $LAST_S --dest $LAST_D --weight 1 --timeout 600 \
    -- $L run -C -n -l -f /tmp/cur.conf --dataplane kernel --control-socket /tmp/lvsd.sock -p /tmp/lvsd.pid
  complete lvsd-first
  kill -KILL $PID; sleep 1
  s=$(now)
  $L run -C -n -l -f /tmp/cur.conf --dataplane kernel --control-socket /tmp/lvsd.sock -p /tmp/lvsd.pid \
    2>>$OUT/lvsd-restart.log &
  LPID=$!
  t=0; while ! grep -q "lvsd started" $OUT/lvsd-restart.log 2>/dev/null && [ $t -lt 600 ]; do sleep 0.2; t=$((t + 1)); done
  e=$(now)
  grep "IPVS reconciled\|full IPVS reconcile" $OUT/lvsd-restart.log | sed 's/^/lvsd-restart: /' | head -3
  printf 'lvsd-restart\tstarted_s\t%s\t\n' "$(awk "BEGIN{printf \"%.2f\", $e - $s}")" >> $R
  sleep 3
  reloads lvsd-restart $LPID
  stop $LPID
  ;; esac

case " $WHAT " in *" keepalived "*)
  reset; cp $P/bench.conf /tmp/cur.conf
  wait_rec keepalived cold --service $LAST_S --dest $LAST_D --weight 1 --timeout 900 \
    -- /sbin/keepalived -C -n -f /tmp/cur.conf -p /tmp/k.pid -c /tmp/kc.pid -r /tmp/kv.pid
  KPID=$PID
  cpu keepalived $KPID cold
  [ -f /tmp/kc.pid ] && cpu keepalived-checker $(cat /tmp/kc.pid) cold
  complete keepalived
  reloads keepalived $KPID
  [ -f /tmp/kc.pid ] && awk '/^VmHWM|^VmRSS/' /proc/$(cat /tmp/kc.pid)/status | sed "s/^/keepalived checker: /"
  stop $KPID
  ;; esac

echo "results:"; cat $R
exit $fail
