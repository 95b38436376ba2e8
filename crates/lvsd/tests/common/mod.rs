//! Shared by the privileged integration tests of `lvsd` (each test file includes it with
//! `mod common;`).

use std::process::Command;

/// Whether network-namespace tests can run here: root and iproute2. Prints why not.
pub fn netns_capable() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let ip = Command::new("ip").arg("-V").output().is_ok();
    if !root || !ip {
        eprintln!("skipping: needs root and iproute2");
    }
    root && ip
}
