# Guest side of tests/vm/cases/ipvs-views.sh: lvsd's views are byte-identical to ipvsadm's
# on several kernel states (DR/NAT/TUN, fwmark, IPv6, persistence with netmask, thresholds,
# sh/mh flags, ops, pe sip, sync daemons, timeouts, live connections).
. /vm/topo.sh
fail=0
bad() { echo "FAIL: $*"; fail=1; }
A() { $D /sbin/ipvsadm "$@"; }
n=0
# same LABEL "lvsd args" "ipvsadm args"  (rates move every 2 s with the kernel's estimator:
# a rate view is read again, up to 5 times, when an estimator tick fell between the two reads)
same() {
  n=$((n+1)); try=0
  while :; do
    $D /usr/local/bin/lvsd ipvs $2 > "$OUT/$1.lvsd" 2>&1
    $D /sbin/ipvsadm $3 > "$OUT/$1.ipvsadm" 2>&1
    try=$((try+1))
    cmp -s "$OUT/$1.lvsd" "$OUT/$1.ipvsadm" && break
    case "$2" in *--rate*) [ $try -lt 5 ] || break ;; *) break ;; esac
  done
  if cmp -s "$OUT/$1.lvsd" "$OUT/$1.ipvsadm"; then echo "ok: $1: lvsd ipvs $2 == ipvsadm $3"
  else bad "$1: lvsd ipvs $2 != ipvsadm $3"; diff -u "$OUT/$1.ipvsadm" "$OUT/$1.lvsd" | head -20; fi
}
views() {
  same "$1-list-n" "list -n" "-Ln"
  same "$1-list" "list" "-L"
  same "$1-stats" "list -n --stats" "-Ln --stats"
  same "$1-rate" "list -n --rate" "-Ln --rate"
  same "$1-thresholds" "list -n --thresholds" "-Ln --thresholds"
  same "$1-pconn" "list -n --persistent-conn" "-Ln --persistent-conn"
  same "$1-tun" "list -n --tun-info" "-Ln --tun-info"
  same "$1-exact" "list -n --stats --exact" "-Ln --stats --exact"
  same "$1-timeout" "list --timeout" "-L --timeout"
  same "$1-daemon" "list --daemon" "-L --daemon"
  same "$1-save-n" "save -n" "-S -n"
  same "$1-save" "save" "-S"
  conns_same "$1-conns-n" -n
  conns_same "$1-conns" ""
}
# The connection table changes every second: render one copy of /proc/net/ip_vs_conn through
# both (a mount namespace whose /proc is a tmpfs holding the copy, as topo.sh does).
conns_same() {
  n=$((n+1))
  nsenter --net=/run/netns/dir cat /proc/net/ip_vs_conn > /tmp/conn.copy
  for who in lvsd ipvsadm; do
    if [ $who = lvsd ]; then cmd="/usr/local/bin/lvsd ipvs conns $2"; else cmd="/sbin/ipvsadm -Lc $2"; fi
    $D unshare -m sh -c "mount -t tmpfs none /proc && mkdir /proc/net && cp /tmp/conn.copy /proc/net/ip_vs_conn && exec $cmd" > "$OUT/$1.$who" 2>&1
  done
  [ "$(wc -l < "$OUT/$1.ipvsadm")" -ge 2 ] || bad "$1: ipvsadm printed nothing"
  if cmp -s "$OUT/$1.lvsd" "$OUT/$1.ipvsadm"; then echo "ok: $1: lvsd ipvs conns $2 == ipvsadm -Lc $2 ($(($(wc -l < "$OUT/$1.lvsd") - 2)) entries)"
  else bad "$1: lvsd ipvs conns $2 != ipvsadm -Lc $2"; diff -u "$OUT/$1.ipvsadm" "$OUT/$1.lvsd" | head -20; fi
}

# State 1: empty table.
views empty

# State 2: the seed service with traffic (DR + persistence), plus many service kinds.
A -A -t 10.0.0.49:80 -s rr -p 360
A -a -t 10.0.0.49:80 -r 10.0.0.56:80 -g -w 100
A -a -t 10.0.0.49:80 -r 10.0.0.57:80 -g -w 100
A -A -t 10.0.0.49:443 -s wlc -p 600 -M 255.255.255.0
A -a -t 10.0.0.49:443 -r 10.0.0.56:443 -m -w 3 -x 100 -y 10
A -a -t 10.0.0.49:443 -r 10.0.0.57:443 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum
A -a -t 10.0.0.49:443 -r 10.0.0.58:443 -i -w 1 --tun-type gre --tun-remcsum
A -a -t 10.0.0.49:443 -r 10.0.0.59:443 -i -w 1
A -A -u 10.0.0.49:53 -s sh -b sh-fallback,sh-port -o
A -a -u 10.0.0.49:53 -r 10.0.0.56:53 -m -w 1
A -A -u 10.0.0.49:5060 -s rr -p 30 --pe sip
A -a -u 10.0.0.49:5060 -r 10.0.0.57:5060 -m
A -A -f 7 -s mh -b mh-fallback,mh-port
A -a -f 7 -r 10.0.0.57:0 -g -w 4
A -A -f 8 -6 -s wrr -p 100 -M 64
A -a -f 8 -6 -r [2001:db8::57]:0 -g -w 2
A -A -t [2001:db8::49]:80 -s lc -p 60 -M 48 -b flag-1,flag-3
A -a -t [2001:db8::49]:80 -r [2001:db8::56]:80 -m -w 7 -x 5 -y 2
A -a -t [2001:db8::49]:80 -r [2001:db8::5]:8080 -m -w 0
A -A --sctp-service 10.0.0.49:3868 -s nq
A -a --sctp-service 10.0.0.49:3868 -r 10.0.0.56:3868 -m -w 65535
A -A -t 200.0.0.1:80 -s sed
A -a -t 200.0.0.1:80 -r 200.0.0.2:80 -m
A -a -t 200.0.0.1:80 -r 10.0.0.56:80 -m
A -A -t 10.0.0.1:22 -s fo
A --set 901 121 301
/sbin/ip -n dir link set eth0 multicast on
A --start-daemon master --mcast-interface eth0 --syncid 5
A --start-daemon backup --mcast-interface eth0 --syncid 6 --sync-maxlen 1400 --mcast-port 9000 --mcast-ttl 2
client_addr 10.0.0.101
hold h1 cli 10.0.0.100
hold h2 cli 10.0.0.101
get cli 10.0.0.100 >/dev/null
get cli 10.0.0.101 >/dev/null
udp cli 10.0.0.100 5353 53
sleep 2.5   # let the rate estimator run
views full
A -Ln > "$OUT/full-state.txt"

# State 3: after -Z and edits.
A -Z
A -E -t 10.0.0.49:80 -s wlc -p 100 -M 255.255.0.0
A -e -t 10.0.0.49:80 -r 10.0.0.56:80 -g -w 0
views edited
release h1; release h2
echo "views compared: $n"
exit $fail
