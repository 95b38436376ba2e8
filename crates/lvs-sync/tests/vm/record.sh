#!/bin/sh
# Re-record tests/fixtures/kernel-6.1/ from a real kernel in the VM harness (needs root + qemu;
# see tests/vm/README.md). Usage: crates/lvs-sync/tests/vm/record.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
: "${CARGO_TARGET_DIR:=$root/target}"
cargo build -p lvs-sync --example sync_probe
out=$(mktemp -d)
"$root/tests/vm/vm-run.sh" --bin "$CARGO_TARGET_DIR/debug/examples/sync_probe" \
  --script "$here/sync-interop.sh" --out "$out" --timeout 500
f="$here/../fixtures/kernel-6.1"
cp "$out/kernel/000.bin" "$f/master-v1-0.bin"
cp "$out/kernel/001.bin" "$f/master-v1-1.bin"
cp "$out/kernel/002.bin" "$f/master-v0-2.bin"
cp "$out/bk-ip_vs_conn.txt" "$f/backup-ip_vs_conn.txt"
cp "$out/bk-lnc.txt" "$f/backup-ipvsadm-lnc.txt"
cp "$out/recv.txt" "$f/lvs-sync-recv.txt"
cp "$out/requests.txt" "$f/requests.txt"
cp "$out/dir-daemon.txt" "$f/master-daemon.txt"
rm -rf "$out"
