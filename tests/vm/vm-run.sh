#!/usr/bin/env bash
# Boot Debian's kernel in qemu with a test payload, run a guest script, copy results back.
# Usage (tests/vm/README.md):
#   tests/vm/vm-run.sh --script GUEST_SCRIPT [--out DIR] [--bin PATH]... [--file SRC:DEST]...
#                      [--arg WORD]... [--mem MB] [--smp N] [--timeout SEC] [--append ARGS] [-v]
#   tests/vm/vm-run.sh --check     # exit 0 if a VM can run here, else print why and exit 77
# Exit status: the guest script's; 124 on timeout; 125 on a harness failure; 77 if qemu is missing.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 125; }
script="" out="" mem="${LVSD_VM_MEM:-1024}" smp="${LVSD_VM_SMP:-1}" tmo="${LVSD_VM_TIMEOUT:-300}"
append="" verbose=0 check=0
bins=() files=() args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --script) script="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --bin) bins+=("$2"); shift 2 ;;
    --file) files+=("$2"); shift 2 ;;
    --arg) args+=("$2"); shift 2 ;;
    --mem) mem="$2"; shift 2 ;;
    --smp) smp="$2"; shift 2 ;;
    --timeout) tmo="$2"; shift 2 ;;
    --append) append="$2"; shift 2 ;;
    -v|--verbose) verbose=1; shift ;;
    --check) check=1; shift ;;
    -h|--help) usage ;;
    *) echo "vm-run: unknown argument $1" >&2; usage ;;
  esac
done

# ---- can a VM run here? ------------------------------------------------------------------------
why=""
command -v qemu-system-x86_64 >/dev/null || why="qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
[ -z "$why" ] && { [ -x /bin/busybox ] || why="busybox-static not installed"; }
[ -z "$why" ] && { command -v cpio >/dev/null || why="cpio not installed"; }
[ -z "$why" ] && { [ -x /usr/sbin/ipvsadm ] || why="ipvsadm not installed"; }
[ -z "$why" ] && { command -v depmod >/dev/null || why="kmod not installed"; }
if [ -n "$why" ]; then echo "vm-run: cannot run a VM: $why" >&2; exit 77; fi
if [ "$check" = 1 ]; then
  if ! img="$("$HERE/build-image.sh")"; then echo "vm-run: cannot build the VM image" >&2; exit 77; fi
  echo "$img"; exit 0
fi
[ -n "$script" ] || usage
[ -f "$script" ] || { echo "vm-run: no such script: $script" >&2; exit 125; }

img="$("$HERE/build-image.sh")" || { echo "vm-run: image build failed" >&2; exit 125; }
KERNEL="$(sed -n 's/^KERNEL=//p' <<<"$img")"
INITRD="$(sed -n 's/^INITRD=//p' <<<"$img")"

work="$(mktemp -d "${TMPDIR:-/tmp}/lvsd-vm.XXXXXX")"
qpid=""
cleanup() { [ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# ---- payload: a second cpio archive appended to the cached base initramfs -----------------------
P="$work/payload"
mkdir -p "$P/payload" "$P/usr/local/bin"
cp "$script" "$P/payload/script.sh"
for b in "${bins[@]+"${bins[@]}"}"; do
  cp -L "$b" "$P/usr/local/bin/"
  # Debug builds carry ~100 MB of debug info: drop it from the copy (LVSD_VM_STRIP=0 keeps it).
  if [ "${LVSD_VM_STRIP:-1}" = 1 ] && command -v strip >/dev/null; then
    strip --strip-debug "$P/usr/local/bin/$(basename "$b")" 2>/dev/null || true
  fi
  # Its shared libraries too (the base image has Debian 12's glibc; this adds e.g. libgcc_s).
  ldd "$b" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\//{print $3} $1 ~ /^\//{print $1}' | while read -r lib; do
    mkdir -p "$P$(dirname "$lib")"; cp -L "$lib" "$P$lib"
  done
done
for f in "${files[@]+"${files[@]}"}"; do
  src="${f%%:*}" dst="${f#*:}"
  [ "$src" = "$f" ] && dst="/payload/$(basename "$src")"
  mkdir -p "$P$(dirname "$dst")"
  cp -rL "$src" "$P$dst"
done
[ ${#args[@]} -gt 0 ] && printf '%s ' "${args[@]}" > "$P/payload/args"
(cd "$P" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$work/payload.cpio.gz"
cat "$INITRD" "$work/payload.cpio.gz" > "$work/initrd"

# ---- boot ----------------------------------------------------------------------------------------
truncate -s "${LVSD_VM_OUTDISK:-1G}" "$work/out.img"
accel=(-accel tcg)
case "${LVSD_VM_ACCEL:-auto}" in
  kvm) accel=(-accel kvm) ;;
  tcg) accel=(-accel tcg) ;;
  auto) ;; # TCG: /dev/kvm may exist but nested KVM is unreliable (MSR assertions, hangs)
esac
console="$work/console.txt"
set +e
timeout -k 5 "$tmo" qemu-system-x86_64 "${accel[@]}" -cpu max -m "$mem" -smp "$smp" \
  -display none -no-reboot -monitor none -serial stdio \
  -kernel "$KERNEL" -initrd "$work/initrd" \
  -append "console=ttyS0 panic=-1 quiet loglevel=1 $append" \
  -drive "file=$work/out.img,format=raw,if=virtio,cache=unsafe" \
  -nic none </dev/null | tr -d '\r' | if [ "$verbose" = 1 ]; then tee "$console" >&2; else cat > "$console"; fi
qrc=${PIPESTATUS[0]}
set -e

rc=""
if [ -n "$out" ]; then mkdir -p "$out"; fi
xdir="${out:-$work/x}"; mkdir -p "$xdir"
if tar -xf "$work/out.img" -C "$xdir" 2>/dev/null && [ -f "$xdir/exit-status" ]; then
  rc="$(cat "$xdir/exit-status")"
fi
[ -n "$out" ] && cp "$console" "$out/vm-console.txt"
if [ -z "$rc" ]; then
  rc="$(sed -n 's/^LVSD-VM-EXIT=//p' "$console" | tail -1)"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  echo "vm-run: timed out after ${tmo}s; console tail:" >&2; tail -20 "$console" >&2; exit 124
fi
if [ -z "$rc" ]; then
  echo "vm-run: the guest did not report an exit status (qemu exit $qrc); console tail:" >&2
  tail -30 "$console" >&2
  exit 125
fi
if [ "$rc" != 0 ] && [ "$verbose" = 0 ]; then
  echo "vm-run: guest script exited $rc; console tail:" >&2; tail -30 "$console" >&2
fi
exit "$rc"
