//! MISC_CHECK: run a program without a shell, in its own process group, as `user` if set.
//! On timeout the group gets SIGTERM, then SIGKILL 2 s later (keepalived's behaviour).

use std::process::Stdio;
use std::time::Duration;

use lvs_check::MiscSpec;

use super::{Error, Outcome};

fn lookup_user(name: &str) -> Result<(u32, u32), Error> {
    // getpwnam without libc's non-reentrant API: parse /etc/passwd (root-run daemon).
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(Error::Io)?;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4 && f[0] == name {
            let uid = f[2]
                .parse()
                .map_err(|_| Error::Protocol(format!("bad uid for {name}")))?;
            let gid = f[3]
                .parse()
                .map_err(|_| Error::Protocol(format!("bad gid for {name}")))?;
            return Ok((uid, gid));
        }
    }
    Err(Error::Protocol(format!("unknown user {name:?}")))
}

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
    if let Some(u) = &m.user {
        let (uid, gid) = lookup_user(u)?;
        cmd.uid(uid).gid(gid);
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
