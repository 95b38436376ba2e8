# Two-director LVS-DR lab inside the VM, for the daemon and sync acceptance cases
# (tests/vm/cases/director-*.sh, sync-*.sh). Sourced by a guest script: `. /payload/pair.sh`.
#
# One bridge (br0, root namespace), a network namespace per host, all in 10.0.0.0/16:
#   cli        client        10.0.0.100
#   dir1 dir2  directors     10.0.0.1, 10.0.0.2 (the VIP is VRRP's to add); IPVS is per netns
#   rsN        real servers  10.0.0.N for N in $RS (default "56 57"): VIP on lo, arp_ignore=1,
#                            arp_announce=2, busybox httpd on :80 answering "rsN"
# The client and every director get a "keeper" process (sleep) so that their /proc/PID/net stays
# readable with shell builtins only (quick under TCG) while daemons are killed and restarted.
#
# Helpers:
#   start_lvsd N CONF [ARGS]   lvsd run -n -l -f CONF --control-socket /tmp/dN/ctl.sock ARGS in dirN,
#                              /run/lvsd private to the director (bind of /tmp/dN/run); log
#                              $OUT/dirN.log; pid in /tmp/dN/pid
#   start_keepalived N CONF    keepalived 2.2.7 in dirN (same files)
#   kill9 N                    kill -9 the director's daemon (its VIPs and IPVS stay, as on a crash)
#   stop_dir N                 SIGTERM and wait
#   ctl N JSON                 one request on the control socket, the reply on stdout
#   vrrp_state N               MASTER/BACKUP/... of VI_1 from `lvsd status --json` (lvsd only)
#   has_vip N                  true if dirN holds the VIP
#   vip_local N                the same from /proc (shell builtins only: quick for timing)
#   wait_vip N SECS            poll vip_local every 0.05 s; prints the uptime it turned true
#   wait_for SECS CMD...       poll CMD every 0.2 s until it succeeds (false on timeout)
#   load_start / load_stop     a client requesting http://VIP/ back to back (wget, 2 s timeout;
#                              busybox wget -T crashes); each line of $R/load: "UPTIME RESULT VIA"
#                              (RESULT = rsN or FAIL; VIA = N when the client's ARP entry for the
#                              VIP held dirN's MAC as the request started: the director it went to;
#                              IPVS's own counters in /proc are only refreshed every 2 s)
#   first_sub FILE FROM TO     replace the first FROM in FILE (busybox sed has no 0,/re/)
#   via N                      true if the client's ARP entry for the VIP is dirN's MAC
#   get SRC                    one request from client address SRC (nc -s), prints the answer
#   hold NAME SRC / send NAME TEXT / release NAME
#                              a client TCP connection to VIP:80 from SRC kept open; send writes
#                              TEXT + CRLF on it (its answer collects in $R/h-NAME.out)
#   lnc_kernel N / lnc_builtin N   the director's table as `ipvsadm -lnc` body lines (the kernel's
#                              / lvsd's built-in plane over the control socket)
#   entry FILE CLIENT DEST [STATE]  true if FILE has an entry CLIENT(ip:port) -> VIP:80 -> DEST
#   wall                       wall-clock seconds (busybox adjtimex: quick)
#   log_tod FILE TEXT          UTC time of day (s) of the last log line of FILE containing TEXT
#   up                         seconds since boot (/proc/uptime, builtins only)
#   ok TEXT / die TEXT         report a checked item / fail
. /vm/lib.sh
vm_load_ipvs || die "cannot load ip_vs"

VIP=${VIP:-10.0.0.49}
RS=${RS:-"56 57"}
R=/tmp/pair
mkdir -p $R /www /run/lvsd

ok() { echo "ok: $*"; }
first_sub() {
  awk -v f="$2" -v t="$3" '!d && index($0, f) { i = index($0, f); $0 = substr($0, 1, i - 1) t substr($0, i + length(f)); d = 1 } 1' "$1" > "$1.new" && mv "$1.new" "$1"
}
up() { read -r _u _ < /proc/uptime; echo "$_u"; }
wall() { adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf "%d.%06d\n", s, u}'; }
log_tod() {
  grep -F "$2" "$1" | tail -1 | awk 'match($0, /T[0-9][0-9]:[0-9][0-9]:[0-9.]+Z/) {
    split(substr($0, RSTART + 1, RLENGTH - 2), a, ":"); printf "%.6f\n", a[1] * 3600 + a[2] * 60 + a[3] }'
}

/sbin/ip link add br0 type bridge
/sbin/ip link set br0 up
# Multicast (VRRP 224.0.0.18, sync 224.0.0.81) floods: no IGMP querier here.
echo 0 > /sys/class/net/br0/bridge/multicast_snooping

node() {
  /sbin/ip netns add "$1"
  /sbin/ip link add "v-$1" type veth peer name eth0 netns "$1"
  /sbin/ip link set "v-$1" master br0 up
  /sbin/ip -n "$1" link set lo up
  /sbin/ip -n "$1" addr add "$2/16" dev eth0
  /sbin/ip -n "$1" link set eth0 up
}
node cli 10.0.0.100
/sbin/ip netns exec cli /bin/sleep 100000 &
echo $! > $R/cli.keeper
for n in 1 2; do
  node "dir$n" "10.0.0.$n"
  mkdir -p "/tmp/d$n/run"
  /sbin/ip -n "dir$n" link show eth0 | awk '/link\/ether/ {print $2}' > "$R/mac$n"
  /sbin/ip netns exec "dir$n" /bin/sleep 100000 &
  echo $! > "/tmp/d$n/keeper"
done
for n in $RS; do
  node "rs$n" "10.0.0.$n"
  /sbin/ip -n "rs$n" addr add "$VIP/32" dev lo
  for k in all eth0; do
    /sbin/ip netns exec "rs$n" sysctl -qw "net.ipv4.conf.$k.arp_ignore=1" "net.ipv4.conf.$k.arp_announce=2"
  done
  mkdir -p "/www/rs$n"; echo "rs$n" > "/www/rs$n/index.html"
done

# start_httpd N / stop_httpd N: the real server's web server (its TCP_CHECK target).
start_httpd() {
  /sbin/ip netns exec "rs$1" /bin/httpd -f -p 80 -h "/www/rs$1" &
  echo $! > "$R/httpd$1"
}
stop_httpd() { kill "$(cat "$R/httpd$1")"; wait "$(cat "$R/httpd$1")" 2>/dev/null; }
for n in $RS; do start_httpd "$n"; done

start_lvsd() {
  n=$1 conf=$2; shift 2
  rm -f "/tmp/d$n/ctl.sock"
  echo "--- start lvsd at $(up) $*" >> "$OUT/dir$n.log"
  /sbin/ip netns exec "dir$n" /bin/sh -c \
    "mount --bind /tmp/d$n/run /run/lvsd && exec /usr/local/bin/lvsd run -n -l -f $conf --control-socket /tmp/d$n/ctl.sock $*" \
    >> "$OUT/dir$n.log" 2>&1 &
  echo $! > "/tmp/d$n/pid"
}
start_keepalived() {
  n=$1 conf=$2
  echo "--- start keepalived at $(up)" >> "$OUT/dir$n.log"
  /sbin/ip netns exec "dir$n" /sbin/keepalived -n -l -D -f "$conf" -p "/tmp/d$n/k.pid" \
    -c "/tmp/d$n/kc.pid" -r "/tmp/d$n/kv.pid" >> "$OUT/dir$n.log" 2>&1 &
  echo $! > "/tmp/d$n/pid"
}
kill9() {
  p=$(cat "/tmp/d$1/pid")
  # keepalived: its children too (a machine crash takes all of them).
  for c in kc kv; do [ -f "/tmp/d$1/$c.pid" ] && kill -9 "$(cat "/tmp/d$1/$c.pid")" 2>/dev/null; done
  kill -9 "$p"; wait "$p" 2>/dev/null
  echo "--- kill -9 at $(up)" >> "$OUT/dir$1.log"
}
stop_dir() {
  p=$(cat "/tmp/d$1/pid"); kill "$p"; wait "$p" 2>/dev/null
  echo "--- stopped at $(up)" >> "$OUT/dir$1.log"
}
ctl() { echo "$2" | /sbin/nc -N -U "/tmp/d$1/ctl.sock" 2>/dev/null; }
vrrp_state() {
  ctl "$1" '{"cmd":"status"}' | sed -n 's/.*"vrrp_instances":\[[^]]*"state":"\([A-Z]*\)".*/\1/p'
}
vip_local() {
  _p=""
  while read -r _a _b _; do
    [ "$_p" = "|-- $VIP" ] && [ "$_a $_b" = "/32 host" ] && return 0
    _p="$_a $_b"
  done < "/proc/$(cat "/tmp/d$1/keeper")/net/fib_trie"
  return 1
}
wait_vip() {
  _end=$(awk -v u="$(up)" -v s="$2" 'BEGIN{print u + s}')
  while ! vip_local "$1"; do
    awk -v u="$(up)" -v e="$_end" 'BEGIN{exit !(u > e)}' && return 1
    sleep 0.05
  done
  up
}
has_vip() { /sbin/ip -n "dir$1" -4 addr show dev eth0 | grep -q "inet $VIP/"; }
wait_for() {
  _t=$1; shift; _i=0; _n=$(( _t * 5 ))
  while ! "$@"; do
    _i=$((_i+1)); [ $_i -ge $_n ] && return 1; sleep 0.2
  done
}
# cli_via: which director the client's ARP entry for the VIP points to (0: none).
cli_via() {
  _m=""
  while read -r _ip _ _ _hw _; do [ "$_ip" = "$VIP" ] && _m=$_hw; done < "/proc/$CLIK/net/arp"
  if [ "$_m" = "$MAC1" ]; then echo 1; elif [ "$_m" = "$MAC2" ]; then echo 2; else echo 0; fi
}

CLIK=$(cat $R/cli.keeper); MAC1=$(cat $R/mac1); MAC2=$(cat $R/mac2)
load_start() {
  rm -f $R/load.stop; : > $R/load
  (
    while [ ! -f $R/load.stop ]; do
      t=$(up); v=$(cli_via)
      r=$(nsenter --net=/run/netns/cli timeout 2 wget -q -O - "http://$VIP/" 2>/dev/null)
      echo "$t ${r:-FAIL} $v" >> $R/load
    done
  ) &
  LOAD_PID=$!
}
load_stop() { touch $R/load.stop; wait $LOAD_PID; cp $R/load "$OUT/load.txt"; }
# load_after T: the load lines at or after uptime T.
load_after() { awk -v t="$1" '$1 >= t' $R/load; }

mac_of() { /sbin/ip -n "$1" link show "$2" | awk '/link\/ether/ {print $2}'; }
via() {
  [ "$(/sbin/ip -n cli neigh show "$VIP" | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i+1)}')" = "$(mac_of "dir$1" eth0)" ]
}
client_addr() { /sbin/ip -n cli addr add "$1/16" dev eth0; }
get() {
  printf 'GET / HTTP/1.0\r\n\r\n' | nsenter --net=/run/netns/cli timeout 5 /sbin/nc -N -s "$1" "$VIP" 80 2>/dev/null | tail -1
}
hold() {
  rm -f "$R/h-$1"; mkfifo "$R/h-$1"
  nsenter --net=/run/netns/cli /sbin/nc -s "$2" "$VIP" 80 < "$R/h-$1" > "$R/h-$1.out" 2>&1 &
  echo $! > "$R/h-$1.pid"
  sleep 100000 > "$R/h-$1" &
  echo $! > "$R/h-$1.wpid"
  sleep 1
}
send() { _n=$1; shift; printf '%s\r\n' "$*" > "$R/h-$_n"; }
release() { kill "$(cat "$R/h-$1.pid")" "$(cat "$R/h-$1.wpid")" 2>/dev/null; }
lnc_kernel() { /sbin/ip netns exec "dir$1" /sbin/ipvsadm -lnc | tail -n +3; }
lnc_builtin() {
  ctl "$1" '{"cmd":"conns"}' | sed -e 's/.*"conns":\[//' -e 's/\].*//' | sed 's/","/|/g' | tr '|' '\n' | tr -d '"'
}
entry() {
  awk -v c="$2" -v v="$VIP:80" -v d="$3" -v s="${4:-}" '$4 == c && $5 == v && $6 == d && (s == "" || $3 == s) {f = 1} END {exit !f}' "$1"
}
