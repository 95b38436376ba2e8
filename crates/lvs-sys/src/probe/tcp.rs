//! TCP_CHECK without a task per probe.
//!
//! A [`Connector`] starts each connect synchronously (`socket` with `SOCK_NONBLOCK |
//! SOCK_CLOEXEC`, `connect`, `EPOLL_CTL_ADD` to a private epoll set) and one tokio task drives
//! the whole set: it wakes when the private epoll fd (registered in tokio's reactor) is readable,
//! takes the finished connects in batches of up to [`BATCH`] with `epoll_wait(…, 0)`, and expires
//! the connects that passed their `connect_timeout` from one deadline heap with one tokio timer.
//! No task, timer, semaphore permit or future is allocated per probe.
//!
//! A connect that completes is closed with `SO_LINGER {on, 0}`: the kernel sends a RST instead
//! of the FIN exchange, so the director keeps no TIME_WAIT socket per probe (haproxy's checks do
//! the same; keepalived's TCP_CHECK closes normally). A completed connect is recognised from
//! `EPOLLOUT` without `EPOLLERR`/`EPOLLHUP`; only failures read `SO_ERROR` for the reason.
//! Closing the fd removes it from the epoll set (no `EPOLL_CTL_DEL`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lvs_check::{ProbeResult, RunId, Target};
use socket2::{Domain, SockAddr, SockRef, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{mpsc, Notify};

use super::unspecified;

/// Events taken per `epoll_wait`.
const BATCH: usize = 256;

type Done = mpsc::UnboundedSender<(RunId, ProbeResult)>;

/// Runs TCP_CHECK connects with bounded concurrency on one epoll set.
#[derive(Clone)]
pub(crate) struct Connector {
    shared: Arc<Shared>,
}

struct Shared {
    epfd: OwnedFd,
    state: Mutex<State>,
    /// The earliest deadline may have moved earlier (or the heap was empty).
    wake: Notify,
}

struct Job {
    run: RunId,
    target: Target,
    timeout: Duration,
    done: Done,
}

/// One connect in flight.
struct Slot {
    gen: u32,
    fd: Option<OwnedFd>,
    run: RunId,
    started: Instant,
    done: Option<Done>,
}

struct State {
    slots: Vec<Slot>,
    free: Vec<u32>,
    deadlines: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    queued: VecDeque<Job>,
    running: usize,
    max: usize,
    /// The driving task runs (`Some(true)`), or could not register with the reactor.
    task: Option<bool>,
}

/// How one connect ended.
enum Outcome {
    Connected,
    Failed(io::Error),
    Timeout(Duration),
}

fn result(outcome: Outcome, latency: Duration) -> ProbeResult {
    let (ok, detail) = match outcome {
        Outcome::Connected => (true, "connected".to_owned()),
        Outcome::Failed(e) => (false, e.to_string()),
        Outcome::Timeout(d) => (false, super::Error::Timeout(d).to_string()),
    };
    ProbeResult {
        ok,
        weight: None,
        detail,
        latency,
    }
}

impl Connector {
    /// A connector running at most `max_concurrent` connects at once (more are queued).
    pub(crate) fn new(max_concurrent: usize) -> io::Result<Self> {
        // SAFETY: epoll_create1 has no memory-safety preconditions; the fd is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor we own.
        let epfd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self {
            shared: Arc::new(Shared {
                epfd,
                state: Mutex::new(State {
                    slots: Vec::new(),
                    free: Vec::new(),
                    deadlines: BinaryHeap::new(),
                    queued: VecDeque::new(),
                    running: 0,
                    max: max_concurrent.max(1),
                    task: None,
                }),
                wake: Notify::new(),
            }),
        })
    }

    /// Starts (or queues) one TCP_CHECK run; its result is sent on `done`. Must be called
    /// from within a tokio runtime (the driving task is spawned on first use). Returns false,
    /// and does nothing, when the epoll set cannot be registered with tokio's reactor (the
    /// caller runs the probe another way).
    pub(crate) fn spawn(&self, run: RunId, target: &Target, timeout: Duration, done: Done) -> bool {
        let sh = &self.shared;
        let mut st = sh.lock();
        match st.task {
            Some(true) => {}
            Some(false) => return false,
            None => {
                // SAFETY: the registered fd is `Shared::epfd`, which the `EpollRef` keeps open
                // (it holds the `Arc<Shared>`) for as long as the `AsyncFd` exists.
                let afd = unsafe {
                    AsyncFd::register_with_interest(EpollRef(sh.clone()), Interest::READABLE)
                };
                st.task = Some(afd.is_ok());
                let Ok(afd) = afd else { return false };
                tokio::spawn(drive(afd));
            }
        }
        let job = Job {
            run,
            target: target.clone(),
            timeout,
            done,
        };
        if st.running >= st.max {
            st.queued.push_back(job);
        } else {
            sh.start(&mut st, job, Instant::now());
        }
        true
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `socket`, options, `connect`, `EPOLL_CTL_ADD`; immediate outcomes are reported at once.
    fn start(&self, st: &mut State, job: Job, now: Instant) {
        let sock = match open(&job.target) {
            Ok(s) => s,
            Err(e) => {
                let _ = job
                    .done
                    .send((job.run, result(Outcome::Failed(e), Duration::ZERO)));
                return;
            }
        };
        let addr = SockAddr::from(SocketAddr::new(
            job.target.connect_ip,
            job.target.connect_port,
        ));
        match sock.connect(&addr) {
            Ok(()) => {
                let _ = sock.set_linger(Some(Duration::ZERO));
                drop(sock);
                let _ = job
                    .done
                    .send((job.run, result(Outcome::Connected, now.elapsed())));
                return;
            }
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => {
                drop(sock);
                let _ = job
                    .done
                    .send((job.run, result(Outcome::Failed(e), now.elapsed())));
                return;
            }
        }
        let fd: OwnedFd = sock.into();
        let idx = match st.free.pop() {
            Some(i) => i,
            None => {
                st.slots.push(Slot {
                    gen: 0,
                    fd: None,
                    run: job.run,
                    started: now,
                    done: None,
                });
                (st.slots.len() - 1) as u32
            }
        };
        let slot = &mut st.slots[idx as usize];
        slot.gen = slot.gen.wrapping_add(1);
        let gen = slot.gen;
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLOUT | libc::EPOLLET) as u32,
            u64: (u64::from(gen) << 32) | u64::from(idx),
        };
        // SAFETY: both fds are open; `ev` is a valid epoll_event.
        let rc = unsafe {
            libc::epoll_ctl(
                self.epfd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut ev,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            drop(fd);
            st.free.push(idx);
            let _ = job
                .done
                .send((job.run, result(Outcome::Failed(e), now.elapsed())));
            return;
        }
        slot.fd = Some(fd);
        slot.run = job.run;
        slot.started = now;
        slot.done = Some(job.done);
        st.running += 1;
        let at = now + job.timeout;
        let earlier = st.deadlines.peek().is_none_or(|Reverse((t, _, _))| at < *t);
        st.deadlines.push(Reverse((at, idx, gen)));
        if earlier {
            self.wake.notify_one();
        }
    }

    /// Ends the connect in slot `idx` (if it is still generation `gen`) and starts queued jobs.
    fn finish(&self, st: &mut State, idx: u32, gen: u32, outcome: Outcome, now: Instant) {
        let Some(slot) = st.slots.get_mut(idx as usize) else {
            return;
        };
        if slot.gen != gen {
            return;
        }
        let Some(fd) = slot.fd.take() else {
            return;
        };
        let outcome = match outcome {
            Outcome::Failed(_) => {
                // The reason is in SO_ERROR (EPOLLERR); keep the caller's if there is none.
                match SockRef::from(&fd).take_error() {
                    Ok(Some(e)) => Outcome::Failed(e),
                    Ok(None) => Outcome::Failed(io::Error::other("connection failed")),
                    Err(e) => Outcome::Failed(e),
                }
            }
            Outcome::Connected => {
                // RST on close: no TIME_WAIT here, no FIN exchange.
                let _ = SockRef::from(&fd).set_linger(Some(Duration::ZERO));
                Outcome::Connected
            }
            o => o,
        };
        drop(fd);
        let latency = now.saturating_duration_since(slot.started);
        if let Some(done) = slot.done.take() {
            let _ = done.send((slot.run, result(outcome, latency)));
        }
        st.free.push(idx);
        st.running -= 1;
        while st.running < st.max {
            let Some(job) = st.queued.pop_front() else {
                break;
            };
            self.start(st, job, now);
        }
    }

    /// Takes ready events until the epoll set is drained; `Ok(0)` when nothing was ready.
    fn drain(&self) -> io::Result<usize> {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
        let mut total = 0;
        loop {
            // SAFETY: `evs` has room for BATCH events; epfd is open.
            let n = unsafe {
                libc::epoll_wait(self.epfd.as_raw_fd(), evs.as_mut_ptr(), BATCH as i32, 0)
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let n = n as usize;
            if n == 0 {
                return Ok(total);
            }
            let now = Instant::now();
            let mut st = self.lock();
            for ev in &evs[..n] {
                let (bits, data) = (ev.events, ev.u64);
                let (idx, gen) = (data as u32, (data >> 32) as u32);
                let failed = bits & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
                let outcome = if failed {
                    Outcome::Failed(io::Error::other("connection failed"))
                } else {
                    Outcome::Connected
                };
                self.finish(&mut st, idx, gen, outcome, now);
            }
            drop(st);
            total += n;
            if n < BATCH {
                return Ok(total);
            }
        }
    }

    /// Fails the connects past their deadline; returns the next deadline.
    fn expire(&self, now: Instant) -> Option<Instant> {
        let mut st = self.lock();
        while let Some(&Reverse((at, idx, gen))) = st.deadlines.peek() {
            let live = st
                .slots
                .get(idx as usize)
                .is_some_and(|s| s.gen == gen && s.fd.is_some());
            if !live {
                st.deadlines.pop();
                continue;
            }
            if at > now {
                return Some(at);
            }
            st.deadlines.pop();
            let limit = at.saturating_duration_since(st.slots[idx as usize].started);
            self.finish(&mut st, idx, gen, Outcome::Timeout(limit), now);
        }
        None
    }
}

/// The epoll fd as tokio sees it; holding the `Shared` keeps the fd open.
struct EpollRef(Arc<Shared>);

impl AsRawFd for EpollRef {
    fn as_raw_fd(&self) -> RawFd {
        self.0.epfd.as_raw_fd()
    }
}

async fn drive(afd: AsyncFd<EpollRef>) {
    let sh = afd.get_ref().0.clone();
    loop {
        let next = sh.expire(Instant::now());
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = afd.readable() => {
                let Ok(mut guard) = r else { continue };
                // Clears tokio's readiness only when the set is empty (no lost edge).
                let _ = guard.try_io(|_| match sh.drain() {
                    Ok(0) => Err(io::ErrorKind::WouldBlock.into()),
                    other => other,
                });
            }
            () = sleep => {}
            () = sh.wake.notified() => {}
        }
    }
}

/// A non-blocking, close-on-exec TCP socket with `bindto`, `bind_port`, `bind_if`, `fwmark`.
fn open(t: &Target) -> io::Result<Socket> {
    let domain = if t.connect_ip.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock = Socket::new(domain, Type::STREAM.nonblocking().cloexec(), None)?;
    if let Some(m) = t.fwmark {
        sock.set_mark(m)?;
    }
    if let Some(dev) = &t.bind_if {
        sock.bind_device(Some(dev.as_bytes()))?;
    }
    if t.bindto.is_some() || t.bind_port.is_some() {
        sock.set_reuse_address(true)?;
        let local = SocketAddr::new(
            t.bindto.unwrap_or_else(|| unspecified(t.connect_ip)),
            t.bind_port.unwrap_or(0),
        );
        sock.bind(&local.into())?;
    }
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_check::ProbeId;
    use std::net::{IpAddr, Ipv4Addr, TcpListener};

    fn run_id(n: u64) -> RunId {
        RunId {
            probe: ProbeId(n),
            seq: 1,
        }
    }

    fn target(port: u16) -> Target {
        Target::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    }

    /// Each case through the connector: an accepting listener is up (and the director keeps no
    /// TIME_WAIT: the close is a RST, which the server sees as a reset), a closed port is down
    /// with the kernel's reason, more runs than the concurrency bound all complete.
    #[tokio::test]
    async fn up_down_and_queued() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let up_port = l.local_addr().unwrap().port();
        let closed_port = {
            let t = TcpListener::bind("127.0.0.1:0").unwrap();
            t.local_addr().unwrap().port()
        };
        let c = Connector::new(2).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        assert!(c.spawn(
            run_id(1),
            &target(up_port),
            Duration::from_secs(2),
            tx.clone()
        ));
        c.spawn(
            run_id(2),
            &target(closed_port),
            Duration::from_secs(2),
            tx.clone(),
        );
        for n in 3..10 {
            c.spawn(
                run_id(n),
                &target(up_port),
                Duration::from_secs(2),
                tx.clone(),
            );
        }
        let mut got = std::collections::HashMap::new();
        while got.len() < 9 {
            let (run, res) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("every run reports")
                .unwrap();
            assert!(got.insert(run.probe.0, res).is_none(), "one result per run");
        }
        assert!(got[&1].ok, "{:?}", got[&1]);
        assert_eq!(got[&1].detail, "connected");
        assert!(!got[&2].ok);
        assert!(got[&2].detail.contains("refused"), "{}", got[&2].detail);
        assert!((3..10).all(|n| got[&n].ok));
        // The server side sees the RST: reading the accepted connection fails with a reset
        // (a FIN close would read 0 bytes instead).
        l.set_nonblocking(false).unwrap();
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut b = [0u8; 1];
        let r = std::io::Read::read(&mut s, &mut b);
        assert_eq!(
            r.map_err(|e| e.kind()),
            Err(io::ErrorKind::ConnectionReset),
            "linger-0 close resets"
        );
    }

    /// A listener whose accept queue is full drops SYNs: the connect times out after the
    /// probe's connect_timeout and is down.
    #[tokio::test]
    async fn timeout_is_down() {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        s.listen(0).unwrap();
        let port = s.local_addr().unwrap().as_socket().unwrap().port();
        // Fill the accept queue (backlog 0 holds one; a couple more to be sure).
        let mut fill = Vec::new();
        for _ in 0..3 {
            let f = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None).unwrap();
            let _ = f.connect(&SocketAddr::from(([127, 0, 0, 1], port)).into());
            fill.push(f);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let c = Connector::new(16).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let t0 = Instant::now();
        c.spawn(run_id(1), &target(port), Duration::from_millis(300), tx);
        let (_, res) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a result")
            .unwrap();
        assert!(!res.ok, "{res:?}");
        assert!(res.detail.starts_with("timeout"), "{}", res.detail);
        assert!(t0.elapsed() >= Duration::from_millis(300));
        drop(fill);
    }
}
