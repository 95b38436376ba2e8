# Helpers for guest scripts: `. /vm/lib.sh` (tests/vm/README.md).
# busybox-static runs its own applets before $PATH, so the real tools are wrapped here by absolute
# path. Programs started by real binaries (e.g. `ip netns exec NS prog`) find /sbin first in PATH.
ip() { /sbin/ip "$@"; }
tcpdump() { /sbin/tcpdump "$@"; }
nc() { /sbin/nc "$@"; }
date() { /sbin/date "$@"; }
modprobe() { /sbin/modprobe "$@"; }
lsmod() { /sbin/lsmod "$@"; }
ipvsadm() { /sbin/ipvsadm "$@"; }
keepalived() { /sbin/keepalived "$@"; }

# Wall-clock seconds with nanoseconds (same clock as pcap timestamps).
now() { /sbin/date +%s.%N; }

die() { echo "FAIL: $*" >&2; exit 1; }

# Load IPVS and every scheduler (libcrc32c needs crc32c_generic first).
vm_load_ipvs() {
  /sbin/modprobe crc32c_generic || return 1
  /sbin/modprobe ip_vs || return 1
  for s in rr wrr lc wlc sed nq sh dh mh lblc lblcr fo ovf; do
    /sbin/modprobe "ip_vs_$s" || return 1
  done
}
