//! What running notify and track scripts needs from the system: user and
//! group lookup (`script_user`), keepalived's script security check
//! (`enable_script_security`, keepalived.md §8) and notify FIFOs
//! (`notify_fifo`, §3.13).

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A resolved user (and group) to run scripts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    /// User id.
    pub uid: u32,
    /// Group id (the user's primary group unless one was given).
    pub gid: u32,
}

impl RunAs {
    /// root:root.
    pub const ROOT: RunAs = RunAs { uid: 0, gid: 0 };
}

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))
}

/// `(uid, primary gid)` of user `name` (or a numeric uid), `None` if unknown.
pub fn lookup_user(name: &str) -> io::Result<Option<RunAs>> {
    let c = cstring(name)?;
    let mut buf = vec![0u8; 16384];
    // SAFETY: passwd is plain data; getpwnam_r writes into pw/buf, both valid
    // for the call, and sets res to &pw or null.
    let (r, found, pw) = unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        let r = libc::getpwnam_r(
            c.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut res,
        );
        (r, !res.is_null(), pw)
    };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    if found {
        return Ok(Some(RunAs {
            uid: pw.pw_uid,
            gid: pw.pw_gid,
        }));
    }
    Ok(name.parse::<u32>().ok().map(|uid| RunAs { uid, gid: uid }))
}

/// gid of group `name` (or a numeric gid), `None` if unknown.
pub fn lookup_group(name: &str) -> io::Result<Option<u32>> {
    let c = cstring(name)?;
    let mut buf = vec![0u8; 16384];
    // SAFETY: as in lookup_user, for getgrnam_r.
    let (r, found, gr) = unsafe {
        let mut gr: libc::group = std::mem::zeroed();
        let mut res: *mut libc::group = std::ptr::null_mut();
        let r = libc::getgrnam_r(
            c.as_ptr(),
            &mut gr,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut res,
        );
        (r, !res.is_null(), gr)
    };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    if found {
        return Ok(Some(gr.gr_gid));
    }
    Ok(name.parse::<u32>().ok())
}

/// Resolve `USER [GROUP]` as written in keepalived.conf.
pub fn resolve(user: &str, group: Option<&str>) -> Result<RunAs, String> {
    let mut r = lookup_user(user)
        .map_err(|e| format!("cannot look up user {user}: {e}"))?
        .ok_or_else(|| format!("unknown user {user}"))?;
    if let Some(g) = group {
        r.gid = lookup_group(g)
            .map_err(|e| format!("cannot look up group {g}: {e}"))?
            .ok_or_else(|| format!("unknown group {g}"))?;
    }
    Ok(r)
}

/// The uid this process runs as.
pub fn current_uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// The gid this process runs as.
pub fn current_gid() -> u32 {
    // SAFETY: getgid cannot fail.
    unsafe { libc::getgid() }
}

/// keepalived's `check_script_secure` (keepalived.md §8): the script must
/// exist, be a regular executable file, and no path component of its real
/// path may be changeable by anyone but root or `run_as` itself: every
/// component owned by root (or by `run_as`), not group-writable unless the
/// group is root's (or `run_as`'s), not world-writable — directories with
/// the sticky bit excepted from the writability rules. Returns the resolved
/// path (scripts run by their real path) or what is wrong, in words.
pub fn check_script_secure(prog: &Path, run_as: RunAs) -> Result<PathBuf, String> {
    let meta = std::fs::metadata(prog)
        .map_err(|e| format!("script {} cannot be used: {e}", prog.display()))?;
    if !meta.is_file() {
        return Err(format!("script {} is not a regular file", prog.display()));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("script {} is not executable", prog.display()));
    }
    let real = std::fs::canonicalize(prog)
        .map_err(|e| format!("script {} cannot be resolved: {e}", prog.display()))?;
    let trusted_uid = |u: u32| u == 0 || u == run_as.uid;
    let trusted_gid = |g: u32| g == 0 || (run_as.uid != 0 && g == run_as.gid);
    let mut cur = PathBuf::new();
    for comp in real.components() {
        cur.push(comp);
        let m = std::fs::symlink_metadata(&cur)
            .map_err(|e| format!("script {}: {}: {e}", prog.display(), cur.display()))?;
        let mode = m.permissions().mode();
        let sticky = m.is_dir() && mode & 0o1000 != 0;
        if !trusted_uid(m.uid()) {
            return Err(format!(
                "unsafe script {}: {} is owned by uid {}, who could change what runs as uid {}",
                prog.display(),
                cur.display(),
                m.uid(),
                run_as.uid
            ));
        }
        if sticky {
            continue;
        }
        if mode & 0o002 != 0 {
            return Err(format!(
                "unsafe script {}: {} is world-writable (mode {:04o})",
                prog.display(),
                cur.display(),
                mode & 0o7777
            ));
        }
        if mode & 0o020 != 0 && !trusted_gid(m.gid()) {
            return Err(format!(
                "unsafe script {}: {} is writable by group {} (mode {:04o})",
                prog.display(),
                cur.display(),
                m.gid(),
                mode & 0o7777
            ));
        }
    }
    Ok(real)
}

/// Create the FIFO at `path` (mode 0600) unless a FIFO is already there.
/// Anything else at that path is an error.
pub fn ensure_fifo(path: &Path) -> io::Result<()> {
    ensure_fifo_owned(path, None)
}

/// [`ensure_fifo`], and a FIFO created here is given to `owner` (`notify_fifo PATH USER
/// [GROUP]`; keepalived chowns the FIFO it creates, never one that was already there).
pub fn ensure_fifo_owned(path: &Path, owner: Option<RunAs>) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_fifo() => return Ok(()),
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a FIFO", path.display()),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: c is a valid C string.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(e);
        }
        return Ok(());
    }
    if let Some(o) = owner {
        std::os::unix::fs::lchown(path, Some(o.uid), Some(o.gid)).inspect_err(|_| {
            // Not left behind with the wrong owner.
            let _ = std::fs::remove_file(path);
        })?;
    }
    Ok(())
}

/// Open a notify FIFO for writing without ever blocking: read-write (so the
/// open does not wait for a reader and the FIFO never reports EPIPE) and
/// non-blocking (a full FIFO, i.e. a reader that stopped reading, loses
/// lines instead of stalling VRRP). Never follows a symlink.
pub fn open_fifo(path: &Path) -> io::Result<File> {
    open_fifo_owned(path, None)
}

/// [`open_fifo`], a FIFO created here owned by `owner` ([`ensure_fifo_owned`]).
pub fn open_fifo_owned(path: &Path, owner: Option<RunAs>) -> io::Result<File> {
    ensure_fifo_owned(path, owner)?;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Send SIGTERM to a process we started (keepalived stops its FIFO scripts
/// this way). An already gone process is not an error.
pub fn terminate(pid: u32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad pid"))?;
    // SAFETY: plain syscall on a positive pid of our own child.
    if pid > 0 && unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(e);
        }
    }
    Ok(())
}

/// keepalived's `vrrp_priority` (nice, −20..19) and `vrrp_rt_priority`
/// (`SCHED_RR` 1..99) for the calling thread only (Linux applies both per
/// thread): lvsd runs its VRRP engine on a thread of its own, so these keep
/// VRRP timely on a busy director without touching the rest of the daemon.
pub fn set_thread_priority(nice: Option<i32>, rt: Option<i32>) -> io::Result<()> {
    if let Some(n) = nice {
        // SAFETY: plain syscalls on the calling thread's id.
        let r = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, n.clamp(-20, 19))
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if let Some(p) = rt {
        let param = libc::sched_param {
            sched_priority: p.clamp(1, 99),
        };
        // SAFETY: param is valid for the call; 0 = the calling thread.
        if unsafe {
            libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param)
        } != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Name of a user id, for messages.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 16384];
    // SAFETY: as in lookup_user, for getpwuid_r; pw_name points into buf.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        let r = libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut res);
        if r != 0 || res.is_null() || pw.pw_name.is_null() {
            return None;
        }
        Some(CStr::from_ptr(pw.pw_name).to_string_lossy().into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::chown;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lvs-sys-script-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    fn script(dir: &Path, mode: u32) -> PathBuf {
        let p = dir.join("s.sh");
        std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn is_root() -> bool {
        current_uid() == 0
    }

    #[test]
    fn thread_priority_applies_to_this_thread_only() {
        if !is_root() {
            return;
        }
        std::thread::spawn(|| {
            set_thread_priority(Some(5), Some(10)).unwrap();
            // SAFETY: plain syscall.
            let policy = unsafe { libc::sched_getscheduler(0) };
            assert_eq!(policy & !libc::SCHED_RESET_ON_FORK, libc::SCHED_RR);
        })
        .join()
        .unwrap();
        // SAFETY: plain syscall.
        assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_OTHER);
    }

    #[test]
    fn users_and_groups_resolve() {
        assert_eq!(lookup_user("root").unwrap(), Some(RunAs::ROOT));
        assert_eq!(lookup_group("root").unwrap(), Some(0));
        assert_eq!(lookup_user("no-such-user-x1").unwrap(), None);
        assert_eq!(lookup_user("4242").unwrap().map(|r| r.uid), Some(4242));
        assert!(resolve("no-such-user-x1", None).is_err());
        assert_eq!(resolve("root", Some("0")).unwrap(), RunAs::ROOT);
        assert_eq!(user_name(0).as_deref(), Some("root"));
    }

    #[test]
    fn secure_script_passes_and_resolves_symlinks() {
        // /tmp itself is world-writable with the sticky bit: allowed.
        let d = tmpdir("ok");
        let s = script(&d, 0o755);
        let link = d.join("link");
        std::os::unix::fs::symlink(&s, &link).unwrap();
        if is_root() {
            assert_eq!(check_script_secure(&link, RunAs::ROOT).unwrap(), s);
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn writable_script_or_directory_is_refused() {
        let d = tmpdir("bad");
        let s = script(&d, 0o757);
        let e = check_script_secure(&s, RunAs::ROOT).unwrap_err();
        assert!(e.contains("world-writable"), "{e}");
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_script_secure(&s, RunAs::ROOT).unwrap_err();
        assert!(
            e.contains(&format!("{} is world-writable", d.display())),
            "{e}"
        );
        // The sticky bit makes a world-writable directory acceptable.
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
        if is_root() {
            check_script_secure(&s, RunAs::ROOT).unwrap();
        }
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o775)).unwrap();
        if is_root() {
            // Group-writable by root's group is fine; by another group it is not.
            check_script_secure(&s, RunAs::ROOT).unwrap();
            chown(&d, None, Some(65534)).unwrap();
            let e = check_script_secure(&s, RunAs::ROOT).unwrap_err();
            assert!(e.contains("writable by group 65534"), "{e}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn foreign_owner_is_refused_unless_it_is_the_run_as_user() {
        if !is_root() {
            return;
        }
        let d = tmpdir("owner");
        let s = script(&d, 0o755);
        chown(&s, Some(65534), Some(65534)).unwrap();
        let e = check_script_secure(&s, RunAs::ROOT).unwrap_err();
        assert!(e.contains("owned by uid 65534"), "{e}");
        let nobody = RunAs {
            uid: 65534,
            gid: 65534,
        };
        check_script_secure(&s, nobody).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_or_not_executable() {
        let d = tmpdir("exec");
        let s = script(&d, 0o644);
        let e = check_script_secure(&s, RunAs::ROOT).unwrap_err();
        assert!(e.contains("not executable"), "{e}");
        let e = check_script_secure(&d.join("absent"), RunAs::ROOT).unwrap_err();
        assert!(e.contains("cannot be used"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// `notify_fifo PATH USER GROUP`: the FIFO lvsd creates belongs to USER:GROUP; one that
    /// already existed keeps its owner. Needs root (skips otherwise).
    #[test]
    fn created_fifo_gets_the_configured_owner() {
        if current_uid() != 0 {
            eprintln!("skipping: needs root");
            return;
        }
        use std::os::unix::fs::MetadataExt;
        let d = tmpdir("fifo-owner");
        let p = d.join("notify.fifo");
        let owner = RunAs {
            uid: 65534,
            gid: 65533,
        };
        let _f = open_fifo_owned(&p, Some(owner)).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert!(m.file_type().is_fifo());
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (65534, 65533, 0o600));
        // Already there: left as it is.
        let q = d.join("existing.fifo");
        ensure_fifo(&q).unwrap();
        ensure_fifo_owned(&q, Some(owner)).unwrap();
        let m = std::fs::metadata(&q).unwrap();
        assert_eq!((m.uid(), m.gid()), (0, 0));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn fifo_is_created_opened_without_reader_and_carries_lines() {
        let d = tmpdir("fifo");
        let p = d.join("notify.fifo");
        let mut w = open_fifo(&p).unwrap();
        assert!(std::fs::metadata(&p).unwrap().file_type().is_fifo());
        // A second open of an existing FIFO works; a regular file is refused.
        ensure_fifo(&p).unwrap();
        std::fs::write(d.join("plain"), "x").unwrap();
        assert!(open_fifo(&d.join("plain")).is_err());
        w.write_all(b"INSTANCE \"VI_1\" MASTER 100\n").unwrap();
        let mut r = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&p)
            .unwrap();
        let mut s = String::new();
        let mut buf = [0u8; 256];
        let n = r.read(&mut buf).unwrap();
        s.push_str(std::str::from_utf8(&buf[..n]).unwrap());
        assert_eq!(s, "INSTANCE \"VI_1\" MASTER 100\n");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
