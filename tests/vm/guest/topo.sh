# LVS-DR lab inside the VM, sourced by recording scripts as `. /extra/topo.sh` (= /vm/topo.sh).
#
# One bridge (br0, root namespace) and a network namespace per host, all in 10.0.0.0/16:
#   cli  client           10.0.0.100 (more addresses: client_addr ADDR)
#   dir  director         10.0.0.1, VIP 10.0.0.49 on eth0; IPVS lives here ($D ipvsadm ...)
#   rsN  real servers     10.0.0.<N> for N in $RS (default "56 57"), VIP on lo,
#                         arp_ignore=1 arp_announce=2, busybox httpd on :80 answering "rsN"
# tcpdump records the director's ingress toward the VIP (`-Q in 'dst host VIP'`) into
# $OUT/director.pcap. Helpers below record, with wall-clock times, which finish() turns into
# seconds since the first frame of the pcap:
#   snap             `ipvsadm -lnc` body lines, sorted    -> $OUT/snapshots.txt  (--- at=T)
#   lsvc             `ipvsadm -Ln`                        -> $OUT/ipvsadm-Ln.txt (--- at=T)
#   mark TEXT        a note (e.g. "reload keepalived-2.conf") -> $OUT/events.txt  (at=T TEXT)
#   get NS [SRC]     one HTTP request (busybox wget; with SRC: nc -s SRC), logged in requests.txt
#   hold NAME NS SRC [PORT]   open a TCP connection to the VIP and keep it idle
#   send NAME TEXT   write TEXT on a held connection;  release NAME   close it (FIN)
#   udp NS SRC SPORT [PORT]   send one UDP datagram "ping" from SRC:SPORT to the VIP
#   finish           stop the capture, write the files (call last)
. /vm/lib.sh
vm_load_ipvs || die "cannot load ip_vs"

VIP=${VIP:-10.0.0.49}
RS=${RS:-"56 57"}
D="ip netns exec dir"
C=cli
R=/tmp/lab
mkdir -p $R /www
: > $R/snapidx; : > $R/lsvc; : > $R/events; : > $R/requests

/sbin/ip link add br0 type bridge
/sbin/ip link set br0 up

# node NAME ADDR
node() {
  /sbin/ip netns add "$1"
  /sbin/ip link add "v-$1" type veth peer name eth0 netns "$1"
  /sbin/ip link set "v-$1" master br0 up
  /sbin/ip -n "$1" link set lo up
  /sbin/ip -n "$1" addr add "$2/16" dev eth0
  /sbin/ip -n "$1" link set eth0 up
}
node cli 10.0.0.100
node dir 10.0.0.1
/sbin/ip -n dir addr add "$VIP/32" dev eth0
for n in $RS; do
  node "rs$n" "10.0.0.$n"
  /sbin/ip -n "rs$n" addr add "$VIP/32" dev lo
  for k in all eth0; do
    /sbin/ip netns exec "rs$n" sysctl -qw "net.ipv4.conf.$k.arp_ignore=1" "net.ipv4.conf.$k.arp_announce=2"
  done
  mkdir -p "/www/rs$n"; echo "rs$n" > "/www/rs$n/index.html"
  /sbin/ip netns exec "rs$n" httpd -f -p 80 -h "/www/rs$n" &
  echo $! >> $R/pids
done

client_addr() { /sbin/ip -n cli addr add "$1/16" dev eth0; }

# Capture the director's ingress toward the VIP.
/sbin/ip netns exec dir /sbin/tcpdump -Z root -i eth0 -Q in -U -n --immediate-mode -w "$OUT/director.pcap" "dst host $VIP" 2> $R/tcpdump.err &
TCPDUMP_PID=$!
i=0; while ! grep -q listening $R/tcpdump.err && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
grep -q listening $R/tcpdump.err || die "tcpdump did not start: $(cat $R/tcpdump.err)"
# Let the links and the bridge settle (no frames toward the VIP happen here).
sleep 1

# Snapshots read /proc/net/ip_vs_conn with static busybox applets only (fast even under TCG and
# load), bracketed by two clock reads; finish() renders each raw copy through the real
# `ipvsadm -lnc` (in a mount namespace whose /proc is a tmpfs holding that copy), so the text is ipvsadm's own.
NSNAP=0
_now() { adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf "%d.%06d\n", s, u}'; }
snap() {
  NSNAP=$((NSNAP+1))
  t1=$(_now)
  nsenter --net=/run/netns/dir cat /proc/net/ip_vs_conn > "$R/conn.$NSNAP"
  t2=$(_now)
  echo "$NSNAP $t1 $t2" >> $R/snapidx
}
_render_snaps() {
  : > $R/snaps
  while read -r n t1 t2; do
    at=$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.6f", (a+b)/2}')
    { echo "--- at=$at"
      unshare -m sh -c "mount -t tmpfs none /proc && mkdir /proc/net && cp $R/conn.$n /proc/net/ip_vs_conn && exec /sbin/ipvsadm -lnc" | tail -n +3 | sort
    } >> $R/snaps
    awk -v a="$t1" -v b="$t2" -v n="$n" 'BEGIN{ if (b - a > 0.2) printf "note: snapshot %d took %.3f s\n", n, b - a }'
  done < $R/snapidx
}
lsvc() {
  t=$(now)
  { echo "--- at=$t"; /sbin/ip netns exec dir /sbin/ipvsadm -Ln; } >> $R/lsvc
}
mark() { echo "at=$(_now) $*" >> $R/events; }

get() {
  ns=${1:-cli} src=${2:-}
  t=$(now)
  if [ -z "$src" ]; then
    body=$(/sbin/ip netns exec "$ns" wget -q -O - "http://$VIP/" 2>&1)
  else
    body=$(printf 'GET / HTTP/1.0\r\n\r\n' | /sbin/ip netns exec "$ns" /sbin/nc -N -w 5 -s "$src" "$VIP" 80 2>&1 | tail -1)
  fi
  echo "at=$t client=${src:-10.0.0.100} server=$body" >> $R/requests
  echo "get ${src:-10.0.0.100} -> $body"
}

hold() {
  name=$1 ns=$2 src=$3 port=${4:-80}
  rm -f "$R/h-$name"; mkfifo "$R/h-$name"
  /sbin/ip netns exec "$ns" /sbin/nc -s "$src" "$VIP" "$port" < "$R/h-$name" > "$R/h-$name.out" 2>&1 &
  echo $! > "$R/h-$name.pid"
  # Keep a writer open so nc never sees EOF on its input.
  sleep 100000 > "$R/h-$name" &
  echo $! > "$R/h-$name.wpid"
  # Wait (up to 10 s) until the client has one more ESTABLISHED connection from SRC to VIP:PORT.
  want=$(( $(_estab "$ns" "$src" "$port") + 1 )); i=0
  while [ "$(_estab "$ns" "$src" "$port")" -lt $want ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
}
# _estab NS SRC PORT: number of ESTABLISHED TCP sockets SRC:* -> VIP:PORT in namespace NS.
_hexip() { echo "$1" | awk -F. '{printf "%02X%02X%02X%02X", $4, $3, $2, $1}'; }
_estab() {
  nsenter --net=/run/netns/"$1" cat /proc/net/tcp |
    awk -v l="$(_hexip "$2")" -v r="$(_hexip "$VIP"):$(printf %04X "$3")" \
      'substr($2, 1, 8) == l && $3 == r && $4 == "01" {n++} END {print n + 0}'
}
send() {
  name=$1; shift
  printf '%s\r\n\r\n' "$*" > "$R/h-$name"
}
release() {
  kill "$(cat "$R/h-$1.pid")" 2>/dev/null
  kill "$(cat "$R/h-$1.wpid")" 2>/dev/null
  wait "$(cat "$R/h-$1.pid")" 2>/dev/null
}

udp() {
  ns=$1 src=$2 sport=$3 port=${4:-53}
  t=$(now)
  echo ping | /sbin/ip netns exec "$ns" /sbin/nc -u -w 1 -q 0 -s "$src" -p "$sport" "$VIP" "$port" >/dev/null 2>&1
  echo "at=$t client=$src:$sport udp" >> $R/requests
}

# Rewrite "at=<wall clock>" as seconds since the first frame of the pcap (3 decimals).
_rel() { awk -v t0="$1" '
  /^--- at=/ { sub(/^--- at=/, ""); printf "--- at=%.3f\n", $0 - t0; next }
  /^at=/ { v = substr($1, 4); $1 = ""; printf "at=%.3f%s\n", v - t0, $0; next }
  { print }'; }

finish() {
  # Without immediate mode libpcap hands frames over in blocks retired every second, and frames of
  # an unretired block are lost at SIGINT; immediate mode plus a pause keeps every frame.
  sleep 1.2
  kill -INT $TCPDUMP_PID; wait $TCPDUMP_PID 2>/dev/null
  [ -f $R/snapidx ] && _render_snaps
  t0=$(/sbin/tcpdump -r "$OUT/director.pcap" -tt -n -c 1 2>/dev/null | awk '{print $1}')
  [ -n "$t0" ] || die "empty capture"
  _rel "$t0" < $R/snaps > "$OUT/snapshots.txt"
  _rel "$t0" < $R/lsvc > "$OUT/ipvsadm-Ln.txt"
  _rel "$t0" < $R/events > "$OUT/events.txt"
  _rel "$t0" < $R/requests > "$OUT/requests.txt"
  [ -s "$OUT/events.txt" ] || rm -f "$OUT/events.txt"
  [ -s "$OUT/ipvsadm-Ln.txt" ] || rm -f "$OUT/ipvsadm-Ln.txt"
  /sbin/tcpdump -r "$OUT/director.pcap" -tt -n 2>/dev/null | awk -v t0="$t0" '{ $1 = sprintf("%.6f", $1 - t0); print }' > "$OUT/director.txt"
  echo "--- snapshots"; cat "$OUT/snapshots.txt"
  echo "--- requests"; cat "$OUT/requests.txt"
}
