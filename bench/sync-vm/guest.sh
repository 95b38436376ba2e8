# Guest side of bench/sync-vm/run.sh: connection-sync replication rate at N entries.
#   MODE kernel:  kernel IPVS on dir1 and dir2, kernel master sync daemon on dir1, backup on dir2
#                 (ipvsadm), net.ipv4.vs.sync_threshold "1 50" on dir1 (a UDP entry is synced on
#                 its first packet, as lvsd's master sends any new entry)
#   MODE builtin: lvsd run -C --dataplane builtin on both (lvs_sync_daemon eth0: lvsd's own
#                 master and backup), lvsd.conf
# The client sends one UDP datagram from each of N (address, port) pairs to the VIP through dir1
# (udpgen --pairs; PPS > 0 paces it at PPS datagrams/s); the table sizes of both directors are sampled
# about every second into progress-MODE.txt ("SECONDS MASTER BACKUP"; kernel: connections bound
# to the real servers, from /proc/net/ip_vs; built-in: the table size from `lvsd status`).
. /payload/pair.sh
MODE=$1 N=${2:-100000} PPS=${3:-0}
client_addr 10.0.0.101; client_addr 10.0.0.102
/sbin/ip -n dir1 addr add "$VIP/32" dev eth0
if [ "$MODE" = kernel ]; then
  for n in 1 2; do
    /sbin/ip netns exec dir$n /sbin/ipvsadm -A -u "$VIP:53" -s rr
    for r in 56 57; do /sbin/ip netns exec dir$n /sbin/ipvsadm -a -u "$VIP:53" -r "10.0.0.$r:53" -g; done
  done
  /sbin/ip netns exec dir1 sysctl -qw net.ipv4.vs.sync_threshold="1 50"
  /sbin/ip netns exec dir1 /sbin/ipvsadm --start-daemon master --mcast-interface eth0
  /sbin/ip netns exec dir2 /sbin/ipvsadm --start-daemon backup --mcast-interface eth0
  # Connections bound to the real servers (ActiveConn + InActConn of /proc/net/ip_vs): cheap,
  # where listing /proc/net/ip_vs_conn restarts its hash walk for every page (minutes at 100k).
  count() { awk '$1 == "->" { n += $(NF-1) + $NF } END { print n + 0 }' "/proc/$(cat /tmp/d$1/keeper)/net/ip_vs"; }
else
  for n in 1 2; do start_lvsd $n /payload/lvsd.conf -C --dataplane builtin; done
  for n in 1 2; do
    wait_for 60 grep -q 'sync backup started' "$OUT/dir$n.log" || die "dir$n: sync backup not started"
    wait_for 60 grep -q 'sync master started' "$OUT/dir$n.log" || die "dir$n: sync master not started"
    wait_for 60 sh -c "echo '{\"cmd\":\"status\"}' | /sbin/nc -N -U /tmp/d$n/ctl.sock | grep -q '\"destinations\":2'" || die "dir$n: service not programmed"
  done
  count() { ctl "$1" '{"cmd":"status"}' | sed -n 's/.*"connections":\([0-9]*\).*/\1/p'; }
fi
echo "mode=$MODE n=$N pps=$PPS dir1=$(count 1) dir2=$(count 2)"
T0=$(wall)
UDPGEN_PPS=$PPS nsenter --net=/run/netns/cli /usr/local/bin/udpgen --pairs "$VIP:53" "$N" 10.0.0.100 10.0.0.101 10.0.0.102 2> $R/gen.txt &
GEN=$!
: > "$OUT/progress-$MODE.txt"
last=-1 same=0
while :; do
  t=$(wall); c1=$(count 1); c2=$(count 2)
  echo "$(awk -v a="$T0" -v b="$t" 'BEGIN{printf "%.2f", b - a}') ${c1:-0} ${c2:-0}" >> "$OUT/progress-$MODE.txt"
  [ "${c2:-0}" -ge "$N" ] && break
  # Stop when the backup no longer grows for 20 s after the generator ended.
  if [ "${c2:-0}" = "$last" ] && ! kill -0 $GEN 2>/dev/null; then same=$((same+1)); else same=0; fi
  [ $same -ge 20 ] && break
  last=${c2:-0}
  awk -v a="$T0" -v b="$t" 'BEGIN{exit !(b - a > 600)}' && break
  sleep 1
done
wait $GEN
echo "generator exited at $(awk -v a="$T0" -v b="$(wall)" 'BEGIN{printf "%.2f", b - a}') s"
cat $R/gen.txt
awk -v n="$N" -v mode="$MODE" '
  $3 > 0 && !f { f = $1 }                 # first entry on the backup
  $2 >= n && !m { m = $1 }                 # master table complete
  { last = $1; b = $3; mm = $2 }
  END {
    printf "result: mode=%s n=%d master=%d backup=%d first_on_backup=%.2fs master_complete=%s backup_last=%.2fs rate=%.0f entries/s\n",
      mode, n, mm, b, f, (m ? sprintf("%.2fs", m) : "never"), last, (last > f ? b / (last - f) : 0)
  }' "$OUT/progress-$MODE.txt"
[ "$MODE" = builtin ] && for n in 1 2; do stop_dir $n; done
exit 0
