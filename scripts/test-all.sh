#!/usr/bin/env bash
# Installs what the tests need (cached under $LVSD_CACHE) and runs every test.
# Run as root on Debian. Used by .ci/run and quoted in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export LVSD_CACHE="${LVSD_CACHE:-/var/cache/lvsd-tests}"
mkdir -p "$LVSD_CACHE"

step() { printf '\n==== %s (%s)\n' "$*" "$(date +%T)"; }

# 1. System packages (once; a stamp file makes the second run fast).
PKGS=(qemu-system-x86 busybox-static kmod cpio ipvsadm iproute2 tcpdump keepalived
      nftables iputils-ping netcat-openbsd python3 curl wrk openssl)
stamp="$LVSD_CACHE/apt-$(echo "${PKGS[*]}" | md5sum | cut -c1-8).stamp"
if [ ! -f "$stamp" ]; then
  step "apt-get install ${PKGS[*]}"
  # Never let package scripts start daemons (keepalived) on the test host.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
  touch "$stamp"
fi

# 2. Style gates.
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# 3. Unit, property, golden and network-namespace tests (root: netns tests run).
step "cargo test --workspace"
cargo test --workspace

# 3b. VRRP interop matrix against Debian's keepalived 2.2.7 (network namespaces).
step "VRRP interop with keepalived"
cargo build -p lvsd
LVSD_VRRP="target/debug/lvsd run -P -n -l" crates/lvs-vrrp/tests/interop/interop.sh

# 4. Real-kernel tests in a throwaway VM (Debian kernel with ip_vs, under qemu).
if [ -x tests/vm/run.sh ]; then
  step "real-kernel VM tests"
  tests/vm/run.sh
fi

# 5. The demo, as CI runs it.
step "lvsd lab --no-tui"
cargo build -p lvsd
target/debug/lvsd lab --no-tui

step "all tests passed"
