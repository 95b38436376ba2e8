#!/usr/bin/env bash
# Prepares the real-kernel VM image and prints two lines: KERNEL=<path> and INITRD=<path>.
#
# - Fetches Debian's current linux-image-amd64 dependency with `apt-get download`, unpacks vmlinuz
#   and the modules (cached under $LVSD_CACHE/vm/kernel-<version>/).
# - Builds a base initramfs (busybox-static, the chosen modules with their dependencies, ipvsadm,
#   iproute2, tcpdump, keepalived, kmod, netcat-openbsd, coreutils date, their shared libraries,
#   /etc/passwd, and tests/vm/guest/*), cached under $LVSD_CACHE/vm/base-<hash>.cpio.gz; the hash
#   covers this script, guest/, the kernel version and the host binaries, so a second run is a
#   cache hit. vm-run.sh appends a per-run payload archive to it.
#
# Environment: LVSD_CACHE (default /var/cache/lvsd-tests), LVSD_VM_KVER (pin a kernel package,
# e.g. linux-image-6.1.0-56-amd64; default: what linux-image-amd64 depends on; if apt cannot tell,
# the newest kernel already in the cache).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${LVSD_CACHE:-/var/cache/lvsd-tests}/vm"
mkdir -p "$CACHE"
log() { printf 'build-image: %s\n' "$*" >&2; }
# One builder at a time (parallel first runs would download/unpack into the same directory).
exec 9>"$CACHE/.lock"
flock 9

# ---- 1. kernel package -------------------------------------------------------------------------
pkg="${LVSD_VM_KVER:-}"
if [ -z "$pkg" ]; then
  pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')"
fi
if [ -z "$pkg" ]; then
  # Offline or no apt lists: use the newest cached kernel.
  pkg="$(ls -d "$CACHE"/kernel-linux-image-* 2>/dev/null | sort -V | tail -1 | sed 's,.*/kernel-,,')"
  [ -n "$pkg" ] || { log "cannot determine the kernel package (apt-get update?)"; exit 2; }
fi
KDIR="$CACHE/kernel-$pkg"
if [ ! -f "$KDIR/.done" ]; then
  log "downloading $pkg"
  rm -rf "$KDIR"; mkdir -p "$KDIR/dl"
  (cd "$KDIR/dl" && apt-get download "$pkg" >&2 2>/dev/null) || (cd "$KDIR/dl" && apt-get download "$pkg" >&2)
  dpkg-deb -x "$KDIR"/dl/*.deb "$KDIR/x"
  rm -rf "$KDIR/dl"
  kver="$(ls "$KDIR/x/lib/modules")"
  depmod -b "$KDIR/x" "$kver"
  cp "$KDIR/x/boot/vmlinuz-$kver" "$KDIR/vmlinuz"
  echo "$kver" > "$KDIR/kver"
  touch "$KDIR/.done"
fi
KVER="$(cat "$KDIR/kver")"
MODROOT="$KDIR/x"

# ---- 2. what goes in ---------------------------------------------------------------------------
# Modules (dependencies are added automatically). Loaded at boot: see guest/init.
MODULES=(virtio_pci virtio_blk virtio_net
         crc32c_generic libcrc32c nf_conntrack nf_defrag_ipv4 nf_defrag_ipv6
         ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sed ip_vs_nq ip_vs_sh ip_vs_dh ip_vs_mh
         ip_vs_lblc ip_vs_lblcr ip_vs_fo ip_vs_ovf ip_vs_ftp ip_vs_pe_sip
         veth bridge dummy ipip ip6_tunnel 8021q nlmon tun
         nf_tables nft_ct nft_chain_nat nf_nat xt_mark iptable_mangle ip6table_mangle
         xt_MARK xt_conntrack xt_ipvs sch_netem)
# Host binaries copied with their shared libraries: host path -> guest path.
BINS=(/usr/sbin/ip:/sbin/ip /usr/sbin/ipvsadm:/sbin/ipvsadm /usr/bin/tcpdump:/sbin/tcpdump
      /usr/sbin/keepalived:/sbin/keepalived /bin/kmod:/sbin/kmod /bin/nc.openbsd:/sbin/nc
      /bin/date:/sbin/date /usr/sbin/nft:/sbin/nft /usr/sbin/ss:/sbin/ss
      /usr/sbin/iptables-legacy:/sbin/iptables /usr/sbin/xtables-legacy-multi:/sbin/xtables-legacy-multi)
have_bins=() missing=()
for b in "${BINS[@]}"; do
  src="${b%%:*}"
  if [ -e "$src" ]; then have_bins+=("$b"); else missing+=("$src"); fi
done
[ -x /bin/busybox ] || { log "busybox-static is required (/bin/busybox)"; exit 2; }
for need in /usr/sbin/ipvsadm /usr/sbin/ip; do
  [ -x "$need" ] || { log "$need is required (apt-get install ipvsadm iproute2)"; exit 2; }
done

key="$( {
  echo "$pkg $KVER"; cat "$0"; cat "$HERE"/guest/*
  for b in "${have_bins[@]}" /bin/busybox:x; do src="${b%%:*}"; stat -Lc '%n %s %Y' "$src"; done
} | md5sum | cut -c1-12)"
OUT="$CACHE/base-$key.cpio.gz"
if [ -f "$OUT" ]; then
  echo "KERNEL=$KDIR/vmlinuz"; echo "INITRD=$OUT"; echo "KVER=$KVER"; exit 0
fi

# ---- 3. stage the root -------------------------------------------------------------------------
log "building base initramfs ($KVER, key $key)"
[ ${#missing[@]} -eq 0 ] || log "note: not installed, left out: ${missing[*]}"
ST="$(mktemp -d "$CACHE/stage.XXXXXX")"
trap 'rm -rf "$ST"' EXIT
mkdir -p "$ST"/{bin,sbin,etc,proc,sys,dev,run,tmp,root,out,payload,lib64,usr/local/bin,var/empty,www}
ln -s ../run "$ST/var/run"
ln -s ../sbin "$ST/usr/sbin"
ln -s ../bin "$ST/usr/bin"
mkdir -p "$ST/usr/lib"
cp /bin/busybox "$ST/bin/busybox"
for a in $(/bin/busybox --list); do
  [ -e "$ST/bin/$a" ] || ln -s busybox "$ST/bin/$a"
done

copy_with_libs() { # src dst
  local src="$1" dst="$2"
  mkdir -p "$ST$(dirname "$dst")"
  cp -L "$src" "$ST$dst"
  ldd "$src" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\//{print $3} $1 ~ /^\//{print $1}' | while read -r lib; do
    [ -e "$ST$lib" ] && continue
    mkdir -p "$ST$(dirname "$lib")"
    cp -L "$lib" "$ST$lib"
  done
}
for b in "${have_bins[@]}"; do copy_with_libs "${b%%:*}" "${b#*:}"; done
for m in modprobe insmod rmmod lsmod modinfo depmod; do ln -sf kmod "$ST/sbin/$m"; done
[ -e "$ST/sbin/xtables-legacy-multi" ] && ln -sf xtables-legacy-multi "$ST/sbin/iptables" \
  && ln -sf xtables-legacy-multi "$ST/sbin/ip6tables"
# glibc NSS (getpwnam for tcpdump -Z, keepalived's script user).
for f in /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libnss_dns.so.2; do
  [ -e "$f" ] && cp -L "$f" "$ST$f"
done

# Modules and their dependencies.
mods=()
for m in "${MODULES[@]}"; do
  if ! deps="$(modprobe -d "$MODROOT" -S "$KVER" --show-depends "$m" 2>/dev/null)"; then
    log "note: module $m not in $KVER, left out"; continue
  fi
  while read -r kind path _; do
    [ "$kind" = insmod ] && mods+=("$path")
  done <<<"$deps"
done
for p in $(printf '%s\n' "${mods[@]}" | sort -u); do
  rel="${p#"$MODROOT"}"
  mkdir -p "$ST$(dirname "$rel")"
  cp "$p" "$ST$rel"
done
cp "$MODROOT/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$ST/lib/modules/$KVER/"
depmod -b "$ST" "$KVER"

# /etc
cat > "$ST/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
tcpdump:x:104:108::/nonexistent:/bin/false
keepalived_script:x:105:109::/nonexistent:/bin/false
EOF
cat > "$ST/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
nogroup:x:65534:
tcpdump:x:108:
keepalived_script:x:109:
EOF
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$ST/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' > "$ST/etc/hosts"
printf 'tcp 6 TCP\nudp 17 UDP\nsctp 132 SCTP\nicmp 1 ICMP\n' > "$ST/etc/protocols"
mkdir -p "$ST/vm"
cp "$HERE"/guest/* "$ST/vm/"
ln -s vm "$ST/extra"   # recording scripts source /extra/topo.sh
cp "$HERE/guest/init" "$ST/init"
chmod +x "$ST/init" "$ST"/vm/*.sh
echo "$KVER" > "$ST/vm/kver"

tmp="$OUT.tmp.$$"
(cd "$ST" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$tmp"
mv "$tmp" "$OUT"
# Keep only the newest few base images.
ls -t "$CACHE"/base-*.cpio.gz 2>/dev/null | tail -n +4 | xargs -r rm -f
log "base initramfs $(du -h "$OUT" | cut -f1)"
echo "KERNEL=$KDIR/vmlinuz"; echo "INITRD=$OUT"; echo "KVER=$KVER"
