//! MISC_CHECK: run a program without a shell, in its own process group, as the uid/gid the
//! driver resolved (`MiscSpec::run_as`: `user`, else `script_user`, as keepalived).
//! On timeout the group gets SIGTERM, then SIGKILL 2 s later (keepalived's behaviour).

use std::process::Stdio;
use std::time::Duration;

use lvs_check::MiscSpec;

use super::{Error, Outcome};

fn kill_group(pid: u32, sig: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals the process group we created.
        unsafe {
            libc::kill(-pid, sig);
        }
    }
}

pub(crate) async fn run(m: &MiscSpec) -> Outcome {
    let Some((prog, args)) = m.argv.split_first() else {
        return Err(Error::Protocol("empty misc_path".into()));
    };
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(c) = m.run_as {
        // SAFETY: getuid/getgid only read the process credentials.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        if (c.uid, c.gid) != (uid, gid) {
            // std drops supplementary groups (setgroups(0)) when switching from root.
            cmd.uid(c.uid).gid(c.gid);
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::Protocol(format!("{prog}: {e}")))?;
    let pid = child.id().unwrap_or(0);
    // The outer timeout (misc_timeout) cancels us; make sure the whole group dies then.
    struct Reaper(u32, bool);
    impl Drop for Reaper {
        fn drop(&mut self) {
            if !self.1 && self.0 != 0 {
                let pid = self.0;
                kill_group(pid, libc::SIGTERM);
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(2));
                    kill_group(pid, libc::SIGKILL);
                });
            }
        }
    }
    let mut reaper = Reaper(pid, false);
    let status = child.wait().await?;
    reaper.1 = true;
    match status.code() {
        Some(0) => Ok(("exit 0".into(), None)),
        Some(c) if m.dynamic && (2..=255).contains(&c) => {
            Ok((format!("exit {c}"), Some((c - 2) as u32)))
        }
        Some(c) => Err(Error::Protocol(format!("exit {c}"))),
        None => Err(Error::Protocol(format!("killed ({status})"))),
    }
}
