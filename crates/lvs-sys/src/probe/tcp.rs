//! TCP_CHECK and plain HTTP_GET without a task per probe.
//!
//! A [`Connector`] starts each connect synchronously (`socket` with `SOCK_NONBLOCK |
//! SOCK_CLOEXEC`, `connect`, `EPOLL_CTL_ADD` to a private epoll set) and one tokio task drives
//! the whole set: while connects are in flight it polls the set every [`POLL`] (10 ms), takes
//! what finished in batches of up to [`BATCH`] with `epoll_wait(…, 0)`, and expires the connects
//! that passed their `connect_timeout` (one deadline heap). The process wakes at most 100 times
//! a second for this, however many probes run: no wake-up (context switch) per completion, and
//! no task, timer, semaphore permit or future per probe. The price: a completion is seen up to
//! 10 ms late (the reported latency has that resolution).
//!
//! A connect that completes is closed with `SO_LINGER {on, 0}`: the kernel sends a RST instead
//! of the FIN exchange, so the director keeps no TIME_WAIT socket per probe (haproxy's checks do
//! the same; keepalived's TCP_CHECK closes normally). A completed connect is recognised from
//! `EPOLLOUT` without `EPOLLERR`/`EPOLLHUP`; only failures read `SO_ERROR` for the reason.
//! Closing the fd removes it from the epoll set (no `EPOLL_CTL_DEL`).
//!
//! HTTP_GET with one `url` and no TLS runs on the same set (registered for `EPOLLIN |
//! EPOLLOUT`, edge-triggered, so no `EPOLL_CTL_MOD`): on connect, one `send` of keepalived's
//! request; then `recv` into one growing buffer until the reply is complete (`Content-Length`)
//! or the server closes; the reply is checked by `http::verify` (status, digest — MD5 only when
//! one is configured —, regex). Several urls or SSL_GET run as tasks (`http::check`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lvs_check::{ProbeKind, ProbeResult, ProbeSpec, RunId, Target};
use socket2::{Domain, SockAddr, SockRef, Socket, Type};
use tokio::sync::Notify;

use super::{unspecified, Done, Job};

/// Events taken per `epoll_wait`.
const BATCH: usize = 256;
/// While connects are in flight, the set is polled this often.
const POLL: Duration = Duration::from_millis(10);

/// Runs TCP_CHECK connects with bounded concurrency on one epoll set.
#[derive(Clone)]
pub(crate) struct Connector {
    shared: Arc<Shared>,
}

struct Shared {
    epfd: OwnedFd,
    state: Mutex<State>,
    /// Connects are in flight again (the driving task starts polling).
    wake: Notify,
}

/// One connect in flight.
struct Slot {
    gen: u32,
    fd: Option<OwnedFd>,
    run: RunId,
    started: Instant,
    done: Option<Done>,
    /// HTTP_GET's exchange (`None`: TCP_CHECK).
    http: Option<Box<HttpState>>,
}

/// An HTTP_GET exchange on a connector socket.
struct HttpState {
    spec: Arc<ProbeSpec>,
    req: Vec<u8>,
    sent: usize,
    reply: Vec<u8>,
}

struct State {
    slots: Vec<Slot>,
    free: Vec<u32>,
    deadlines: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    queued: VecDeque<Job>,
    running: usize,
    max: usize,
    /// The driving task was spawned.
    task: bool,
}

/// How one run ended.
enum Outcome {
    /// TCP_CHECK: the connect completed.
    Connected,
    /// The connect failed (`EPOLLERR`): the reason is in `SO_ERROR`.
    ConnectFailed,
    /// Failed for this reason.
    Failed(io::Error),
    /// HTTP_GET: the reply was checked (pass, detail).
    Checked(bool, String),
    Timeout(Duration),
}

fn result(outcome: Outcome, latency: Duration) -> ProbeResult {
    let (ok, detail) = match outcome {
        Outcome::Connected => (true, "connected".to_owned()),
        Outcome::ConnectFailed => (false, "connection failed".to_owned()),
        Outcome::Failed(e) => (false, e.to_string()),
        Outcome::Checked(ok, detail) => (ok, detail),
        Outcome::Timeout(d) => (false, super::Error::Timeout(d).to_string()),
    };
    ProbeResult {
        ok,
        weight: None,
        detail,
        latency,
        skipped: false,
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
                    task: false,
                }),
                wake: Notify::new(),
            }),
        })
    }

    /// Whether the connector runs this probe (TCP_CHECK; HTTP_GET with one url, no TLS).
    pub(crate) fn runs(spec: &ProbeSpec) -> bool {
        match &spec.kind {
            ProbeKind::TcpCheck => true,
            ProbeKind::HttpGet(h) => h.tls.is_none() && h.urls.len() == 1,
            _ => false,
        }
    }

    /// Starts (or queues) one run of a probe the connector [runs](Connector::runs); its result
    /// is sent on `done`. Must be called from within a tokio runtime (the driving task is
    /// spawned on first use). Returns false, and does nothing, for another probe (the caller
    /// runs it another way).
    #[cfg(test)]
    pub(crate) fn spawn(&self, run: RunId, spec: &Arc<ProbeSpec>, done: Done) -> bool {
        self.spawn_by(run, spec, None, done)
    }

    /// [`Connector::spawn`]; a run still queued at `start_by` is answered
    /// [`ProbeResult::skipped`] instead of started late.
    pub(crate) fn spawn_by(
        &self,
        run: RunId,
        spec: &Arc<ProbeSpec>,
        start_by: Option<Instant>,
        done: Done,
    ) -> bool {
        if !Self::runs(spec) {
            return false;
        }
        let sh = &self.shared;
        let mut st = sh.lock();
        if !st.task {
            st.task = true;
            tokio::spawn(drive(sh.clone()));
        }
        let job = Job {
            run,
            spec: spec.clone(),
            done,
            start_by,
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
        let target = &job.spec.target;
        let http = match &job.spec.kind {
            ProbeKind::HttpGet(h) => {
                let url = &h.urls[0];
                let vhost = url.virtualhost.as_deref().or(h.virtualhost.as_deref());
                let req = super::http::request(target, false, vhost, &url.path, h.protocol);
                Some(Box::new(HttpState {
                    spec: job.spec.clone(),
                    req: req.into_bytes(),
                    sent: 0,
                    reply: Vec::new(),
                }))
            }
            _ => None,
        };
        let sock = match open(target) {
            Ok(s) => s,
            Err(e) => {
                let _ = job
                    .done
                    .send((job.run, result(Outcome::Failed(e), Duration::ZERO)));
                return;
            }
        };
        let addr = SockAddr::from(SocketAddr::new(target.connect_ip, target.connect_port));
        match sock.connect(&addr) {
            Ok(()) if http.is_none() => {
                let _ = sock.set_linger(Some(Duration::ZERO));
                drop(sock);
                let _ = job
                    .done
                    .send((job.run, result(Outcome::Connected, now.elapsed())));
                return;
            }
            Ok(()) => {}
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
                    http: None,
                });
                (st.slots.len() - 1) as u32
            }
        };
        let slot = &mut st.slots[idx as usize];
        slot.gen = slot.gen.wrapping_add(1);
        let gen = slot.gen;
        let interest = if http.is_some() {
            libc::EPOLLOUT | libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET
        } else {
            libc::EPOLLOUT | libc::EPOLLET
        };
        let mut ev = libc::epoll_event {
            events: interest as u32,
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
        slot.http = http;
        st.running += 1;
        st.deadlines
            .push(Reverse((now + job.spec.connect_timeout, idx, gen)));
        if st.running == 1 {
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
        slot.http = None;
        let outcome = match outcome {
            Outcome::ConnectFailed => match SockRef::from(&fd).take_error() {
                Ok(Some(e)) | Err(e) => Outcome::Failed(e),
                Ok(None) => Outcome::ConnectFailed,
            },
            o => {
                // RST on close: no TIME_WAIT here, no FIN exchange.
                let _ = SockRef::from(&fd).set_linger(Some(Duration::ZERO));
                o
            }
        };
        drop(fd);
        let latency = now.saturating_duration_since(slot.started);
        if let Some(done) = slot.done.take() {
            let _ = done.send((slot.run, result(outcome, latency)));
        }
        st.free.push(idx);
        st.running -= 1;
        while st.running < st.max {
            let Some(job) = Job::pop_startable(&mut st.queued, now) else {
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
                let Some(slot) = st.slots.get_mut(idx as usize) else {
                    continue;
                };
                if slot.gen != gen {
                    continue;
                }
                let outcome = match (&mut slot.http, &slot.fd) {
                    (Some(h), Some(fd)) => match h.advance(fd, bits) {
                        Some(o) => o,
                        None => continue,
                    },
                    _ if failed => Outcome::ConnectFailed,
                    _ => Outcome::Connected,
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

impl HttpState {
    /// Moves the exchange on after an event: `None` while it goes on.
    fn advance(&mut self, fd: &OwnedFd, bits: u32) -> Option<Outcome> {
        let sock = SockRef::from(fd);
        if self.sent < self.req.len() {
            if bits & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                return Some(Outcome::ConnectFailed);
            }
            if bits & libc::EPOLLOUT as u32 == 0 {
                return None;
            }
            match sock.send(&self.req[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) => return Some(Outcome::Failed(e)),
            }
            if self.sent < self.req.len() {
                return None;
            }
        }
        loop {
            if self.reply.capacity() - self.reply.len() < 512 {
                self.reply
                    .reserve(self.reply.capacity().clamp(1024, 64 << 10));
            }
            match sock.recv(self.reply.spare_capacity_mut()) {
                Ok(0) => break,
                Ok(n) => {
                    // SAFETY: recv initialised the first n bytes of the spare capacity.
                    unsafe { self.reply.set_len(self.reply.len() + n) };
                    if self.reply.len() > super::http::MAX_REPLY {
                        return Some(Outcome::Checked(
                            false,
                            format!("reply larger than {} bytes", super::http::MAX_REPLY),
                        ));
                    }
                    if let Some(done) = super::http::complete_len(&self.reply) {
                        self.reply.truncate(done);
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Outcome::Failed(e)),
            }
        }
        let ProbeKind::HttpGet(h) = &self.spec.kind else {
            return Some(Outcome::Checked(false, "not an HTTP_GET".into()));
        };
        let checked = super::http::parse_response(&self.reply)
            .and_then(|r| super::http::verify(&h.urls[0], &r));
        Some(match checked {
            Ok(d) => Outcome::Checked(true, d),
            Err(e) => Outcome::Checked(false, e.to_string()),
        })
    }
}

/// Polls the set every [`POLL`] while connects are in flight; idle otherwise.
async fn drive(sh: Arc<Shared>) {
    loop {
        // A failing epoll_wait (it cannot, on a valid fd) leaves the connects to time out.
        let _ = sh.drain();
        let now = Instant::now();
        let next = sh.expire(now);
        if sh.lock().running > 0 {
            let at = next.map_or(now + POLL, |t| t.min(now + POLL));
            tokio::time::sleep_until(at.into()).await;
        } else {
            sh.wake.notified().await;
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
    use lvs_check::{HttpProtocol, HttpSpec, ProbeId, UrlSpec};
    use std::io::{Read, Write};
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

    fn tcp_spec(port: u16, timeout: Duration) -> Arc<ProbeSpec> {
        Arc::new(ProbeSpec {
            kind: ProbeKind::TcpCheck,
            target: target(port),
            connect_timeout: timeout,
        })
    }

    fn http_spec(port: u16, url: UrlSpec) -> Arc<ProbeSpec> {
        Arc::new(ProbeSpec {
            kind: ProbeKind::HttpGet(HttpSpec {
                urls: vec![url],
                protocol: HttpProtocol::Http10,
                virtualhost: Some("health.example".into()),
                tls: None,
            }),
            target: target(port),
            connect_timeout: Duration::from_secs(2),
        })
    }

    async fn results(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<(RunId, ProbeResult)>,
        n: usize,
    ) -> std::collections::HashMap<u64, ProbeResult> {
        let mut got = std::collections::HashMap::new();
        while got.len() < n {
            let (run, res) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("every run reports")
                .unwrap();
            assert!(got.insert(run.probe.0, res).is_none(), "one result per run");
        }
        got
    }

    fn closed_port() -> u16 {
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        t.local_addr().unwrap().port()
    }

    /// Each case through the connector: an accepting listener is up (and the director keeps no
    /// TIME_WAIT: the close is a RST, which the server sees as a reset), a closed port is down
    /// with the kernel's reason, more runs than the concurrency bound all complete.
    #[tokio::test]
    async fn up_down_and_queued() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let up_port = l.local_addr().unwrap().port();
        let c = Connector::new(2).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let t = Duration::from_secs(2);
        assert!(c.spawn(run_id(1), &tcp_spec(up_port, t), tx.clone()));
        assert!(c.spawn(run_id(2), &tcp_spec(closed_port(), t), tx.clone()));
        for n in 3..10 {
            assert!(c.spawn(run_id(n), &tcp_spec(up_port, t), tx.clone()));
        }
        let got = results(&mut rx, 9).await;
        assert!(got[&1].ok, "{:?}", got[&1]);
        assert_eq!(got[&1].detail, "connected");
        assert!(!got[&2].ok);
        assert!(got[&2].detail.contains("refused"), "{}", got[&2].detail);
        assert!((3..10).all(|n| got[&n].ok));
        // The server side sees the RST: reading the accepted connection fails with a reset
        // (a FIN close would read 0 bytes instead).
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut b = [0u8; 1];
        let r = s.read(&mut b);
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
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let t0 = Instant::now();
        assert!(c.spawn(run_id(1), &tcp_spec(port, Duration::from_millis(300)), tx));
        let res = results(&mut rx, 1).await.remove(&1).unwrap();
        assert!(!res.ok, "{res:?}");
        assert!(res.detail.starts_with("timeout"), "{}", res.detail);
        assert!(t0.elapsed() >= Duration::from_millis(300));
        drop(fill);
    }

    /// Beyond the concurrency bound runs wait; one still queued at its `start_by` is answered
    /// "skipped" without being started (no connect reaches the server), one started later
    /// than it was queued still gets its whole connect_timeout.
    #[tokio::test]
    async fn queued_past_start_by_is_skipped() {
        // A listener with a full accept queue: a connect to it holds the only slot until its
        // connect_timeout.
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        s.listen(0).unwrap();
        let full = s.local_addr().unwrap().as_socket().unwrap().port();
        let mut fill = Vec::new();
        for _ in 0..3 {
            let f = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None).unwrap();
            let _ = f.connect(&SocketAddr::from(([127, 0, 0, 1], full)).into());
            fill.push(f);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let up = l.local_addr().unwrap().port();
        let c = Connector::new(1).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let now = Instant::now();
        let hold = tcp_spec(full, Duration::from_millis(600));
        assert!(c.spawn_by(
            run_id(1),
            &hold,
            Some(now + Duration::from_secs(10)),
            tx.clone()
        ));
        // Due by 50 ms: still queued then.
        let late = tcp_spec(up, Duration::from_secs(2));
        assert!(c.spawn_by(
            run_id(2),
            &late,
            Some(now + Duration::from_millis(50)),
            tx.clone()
        ));
        // Due by 10 s, with a 500 ms timeout shorter than its wait in the queue.
        let patient = tcp_spec(up, Duration::from_millis(500));
        assert!(c.spawn_by(run_id(3), &patient, Some(now + Duration::from_secs(10)), tx));
        let got = results(&mut rx, 3).await;
        assert!(!got[&1].ok && !got[&1].skipped, "{:?}", got[&1]);
        assert!(got[&2].skipped && !got[&2].ok, "{:?}", got[&2]);
        assert!(got[&2].detail.starts_with("skipped"), "{}", got[&2].detail);
        assert!(got[&3].ok && !got[&3].skipped, "{:?}", got[&3]);
        // Exactly one connect reached the live server (run 3's).
        assert!(l.accept().is_ok());
        assert_eq!(
            l.accept().map(|_| ()).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock),
            "the skipped run never connected"
        );
        drop(fill);
    }

    /// A one-shot HTTP server: answers each connection with the next reply (closing after it
    /// when `close`), and records the requests it read.
    fn http_server(
        replies: Vec<(&'static [u8], bool)>,
    ) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let mut reqs = Vec::new();
            let mut held = Vec::new();
            for (reply, close) in replies {
                let (mut s, _) = l.accept().unwrap();
                let mut buf = Vec::new();
                let mut b = [0u8; 512];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut b).unwrap();
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&b[..n]);
                }
                reqs.push(String::from_utf8_lossy(&buf).into_owned());
                s.write_all(reply).unwrap();
                if !close {
                    held.push(s);
                }
            }
            reqs
        });
        (port, h)
    }

    /// HTTP_GET on the connector: keepalived's request; a 200 with the right digest passes
    /// (with Content-Length on a connection the server keeps open, and without one, up to
    /// the server's close); a wrong status, a wrong digest and a non-HTTP reply fail with
    /// the reason; a refused connect fails; SSL_GET and several urls are not taken.
    #[tokio::test]
    async fn http_get_checks_the_reply() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let (port, server) = http_server(vec![
            (ok, false),
            (b"HTTP/1.0 200 OK\r\n\r\nhello", true),
            (b"HTTP/1.0 500 Oops\r\nContent-Length: 0\r\n\r\n", true),
            (ok, true),
            (b"SSH-2.0-x\r\n\r\n", true),
        ]);
        let md5 = "5d41402abc4b2a76b9719d911017c592";
        let mut url = UrlSpec::path("/health");
        url.digest = Some(md5.into());
        let mut bad_digest = url.clone();
        bad_digest.digest = Some("0".repeat(32));
        let c = Connector::new(1).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        // One at a time (bound 1): the server answers connections in order.
        for (n, u) in [
            url.clone(),
            url.clone(),
            url.clone(),
            bad_digest,
            url.clone(),
        ]
        .into_iter()
        .enumerate()
        {
            assert!(c.spawn(run_id(n as u64 + 1), &http_spec(port, u), tx.clone()));
        }
        assert!(c.spawn(
            run_id(6),
            &http_spec(closed_port(), url.clone()),
            tx.clone()
        ));
        let got = results(&mut rx, 6).await;
        assert!(got[&1].ok, "{:?}", got[&1]);
        assert_eq!(got[&1].detail, "/health: HTTP/1.0 200 OK");
        assert!(got[&2].ok, "EOF-delimited body: {:?}", got[&2]);
        assert!(
            !got[&3].ok && got[&3].detail.contains("status 500"),
            "{:?}",
            got[&3]
        );
        assert!(
            !got[&4].ok && got[&4].detail.contains("digest"),
            "{:?}",
            got[&4]
        );
        assert!(
            !got[&5].ok && got[&5].detail.contains("not an HTTP reply"),
            "{:?}",
            got[&5]
        );
        assert!(
            !got[&6].ok && got[&6].detail.contains("refused"),
            "{:?}",
            got[&6]
        );
        let reqs = server.join().unwrap();
        assert_eq!(
            reqs[0],
            "GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: health.example\r\n\r\n"
        );
        let mut tls = http_spec(port, url.clone());
        if let ProbeKind::HttpGet(h) = &mut Arc::make_mut(&mut tls).kind {
            h.tls = Some(lvs_check::TlsSpec {
                enable_sni: false,
                sni_name: None,
            });
        }
        assert!(
            !c.spawn(run_id(7), &tls, tx.clone()),
            "SSL_GET runs as a task"
        );
        let mut two = http_spec(port, url.clone());
        if let ProbeKind::HttpGet(h) = &mut Arc::make_mut(&mut two).kind {
            h.urls.push(url);
        }
        assert!(!c.spawn(run_id(8), &two, tx), "several urls run as a task");
    }
}
