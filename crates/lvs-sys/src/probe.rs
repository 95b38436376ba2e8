//! Probe executors: run the health checks that `lvs-check` schedules, on tokio.
//!
//! [`Executor::spawn`] runs one probe and sends `(RunId, ProbeResult)` back on a channel. Every
//! probe is bounded as a whole by its `connect_timeout` (or `misc_timeout`), not step by step.
//! TCP_CHECK and plain single-url HTTP_GET, the bulk of a large configuration, run without a
//! task per probe: one epoll set driven by one task (module `tcp`), closed with a RST (no
//! TIME_WAIT on the director). The other checkers run in a task each under a global
//! concurrency bound (a semaphore).
//!
//! Runs beyond a concurrency bound wait in a queue. A run's timeout counts from its actual
//! start, never from its queueing; a run still queued at the engine's `start_by` (one
//! `delay_loop` after it was due: its next run would be due) is not started late but answered
//! [`ProbeResult::skipped`], which the engine takes as no result (state kept, next run one
//! `delay_loop` later). So an overloaded executor sheds stale runs instead of piling them up,
//! and the engine's stall detector only sees runs that started and hung.
//!
//! | checker | what passes |
//! |---|---|
//! | TCP_CHECK | the TCP connect completes (half-open: a SYN-ACK answers our SYN, module `syn`) |
//! | HTTP_GET / SSL_GET | every `url`: status in `status_code` (2xx), `digest` = MD5(body), `regex` |
//! | SMTP_CHECK | a `220` greeting, `250` to `HELO` |
//! | DNS_CHECK | a UDP answer with our id, NOERROR, ≥ 1 record of the asked type |
//! | UDP_CHECK | no ICMP unreachable; with `require_reply`, a matching reply |
//! | PING_CHECK | an ICMP/ICMPv6 echo reply |
//! | MISC_CHECK | exit 0 (or 2..255 with `misc_dynamic`: weight = exit − 2) |
//! | FILE_CHECK | the file's number, per [`lvs_check::FileSpec::evaluate`] |

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvs_check::{ProbeKind, ProbeResult, ProbeSpec, RunId, Target, UdpSpec};
use socket2::SockRef;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::sync::{mpsc, Semaphore};

mod dns;
pub mod http;
mod icmp;
mod misc;
mod syn;
mod tcp;

pub use http::{fetch, HttpResponse};

/// Errors of a probe step (reported as the failure detail).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Socket error.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The whole probe exceeded its timeout.
    #[error("timeout after {0:.1?}")]
    Timeout(Duration),
    /// The peer answered, but not as required.
    #[error("{0}")]
    Protocol(String),
    /// TLS setup failed.
    #[error("tls: {0}")]
    Tls(String),
}

/// Runs probes with bounded concurrency.
#[derive(Clone)]
pub struct Executor {
    permits: Arc<Semaphore>,
    tls: Arc<http::TlsConfigs>,
    /// TCP_CHECK's connector (`None` if no epoll set could be created: tasks then).
    tcp: Option<tcp::Connector>,
    /// TCP_CHECK's half-open prober (`None`: connect probes).
    syn: Option<syn::HalfOpen>,
    /// Why TCP_CHECK runs as it does (for the log).
    tcp_mode: String,
}

/// How TCP_CHECK probes (`lvsd run --tcp-check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TcpCheckMode {
    /// A full connect, closed with a RST (keepalived's way, minus the FIN exchange).
    Connect,
    /// A SYN from a raw socket; a SYN-ACK means up (needs CAP_NET_RAW; falls back to
    /// [`TcpCheckMode::Connect`] without it). `bind_if` and `fwmark` targets, and IPv6
    /// targets with `bindto` or `bind_port`, always connect.
    #[default]
    HalfOpen,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("available", &self.permits.available_permits())
            .finish()
    }
}

impl Executor {
    /// An executor running at most `max_concurrent` probes at once (TCP_CHECK connects and the
    /// other checkers are bounded separately, each by `max_concurrent`).
    pub fn new(max_concurrent: usize) -> Self {
        Self::with_tcp_check(max_concurrent, TcpCheckMode::Connect)
    }

    /// Like [`Executor::new`], TCP_CHECK probing as `mode` asks (half-open falls back to
    /// connect when the raw socket cannot be opened: see [`Executor::tcp_check_mode`]).
    pub fn with_tcp_check(max_concurrent: usize, mode: TcpCheckMode) -> Self {
        let (syn, tcp_mode) = match mode {
            TcpCheckMode::Connect => (None, "connect".to_owned()),
            TcpCheckMode::HalfOpen => match syn::HalfOpen::new(max_concurrent) {
                Ok(h) => {
                    let (lo, hi) = h.ports();
                    let v6 = if h.ipv6() { " and IPv6" } else { "" };
                    let what =
                        format!("half-open (SYN probes from source ports {lo}-{hi}, IPv4{v6})");
                    (Some(h), what)
                }
                Err(e) => (None, format!("connect (half-open unavailable: {e})")),
            },
        };
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            tls: Arc::new(http::TlsConfigs::new()),
            tcp: tcp::Connector::new(max_concurrent).ok(),
            syn,
            tcp_mode,
        }
    }

    /// How TCP_CHECK runs, in words ("half-open (…)", "connect", "connect (half-open
    /// unavailable: …)").
    pub fn tcp_check_mode(&self) -> &str {
        &self.tcp_mode
    }

    /// Starts one run (from within a tokio runtime); its result is sent on `done` (the latency
    /// excludes queueing). A run that waits for the concurrency bound past `start_by` is not
    /// started: it is answered [`ProbeResult::skipped`] (see `Action::StartProbe::start_by`);
    /// its timeout counts from its actual start.
    pub fn spawn(
        &self,
        run: RunId,
        spec: Arc<ProbeSpec>,
        start_by: Instant,
        done: mpsc::UnboundedSender<(RunId, ProbeResult)>,
    ) {
        if let Some(h) = &self.syn {
            if h.spawn_by(run, &spec, Some(start_by), done.clone()) {
                return;
            }
        }
        if let Some(c) = &self.tcp {
            if c.spawn_by(run, &spec, Some(start_by), done.clone()) {
                return;
            }
        }
        let permits = self.permits.clone();
        let tls = self.tls.clone();
        tokio::spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            let now = Instant::now();
            let res = if late(Some(start_by), now) {
                skipped(Some(start_by), now)
            } else {
                run_with(&spec, &tls).await
            };
            let _ = done.send((run, res));
        });
    }

    /// Runs one probe now (no concurrency bound).
    pub async fn run(&self, spec: &ProbeSpec) -> ProbeResult {
        run_with(spec, &self.tls).await
    }
}

async fn run_with(spec: &ProbeSpec, tls: &http::TlsConfigs) -> ProbeResult {
    let start = Instant::now();
    let limit = match &spec.kind {
        ProbeKind::MiscCheck(m) => m.timeout,
        // UDP waits connect_timeout for a reply itself; allow for the send.
        ProbeKind::UdpCheck(_) => spec.connect_timeout + Duration::from_millis(500),
        _ => spec.connect_timeout,
    };
    let res = match tokio::time::timeout(limit, run_kind(spec, tls)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout(limit)),
    };
    let latency = start.elapsed();
    match res {
        Ok((detail, weight)) => ProbeResult {
            ok: true,
            weight,
            detail,
            latency,
            skipped: false,
        },
        Err(e) => ProbeResult {
            ok: false,
            weight: None,
            detail: e.to_string(),
            latency,
            skipped: false,
        },
    }
}

type Outcome = Result<(String, Option<u32>), Error>;

/// Where the epoll connector (probe/tcp.rs) and the half-open prober (probe/syn.rs) answer.
type Done = mpsc::UnboundedSender<(RunId, ProbeResult)>;

/// A run waiting for a free slot in the connector or the half-open prober.
struct Job {
    run: RunId,
    spec: Arc<ProbeSpec>,
    done: Done,
    /// Skipped if still queued after this (`Action::StartProbe::start_by`).
    start_by: Option<Instant>,
}

impl Job {
    /// The next queued run that may still start at `now`; runs past their `start_by` are
    /// answered as skipped on the way.
    fn pop_startable(queued: &mut std::collections::VecDeque<Job>, now: Instant) -> Option<Job> {
        while let Some(job) = queued.pop_front() {
            if !late(job.start_by, now) {
                return Some(job);
            }
            let _ = job.done.send((job.run, skipped(job.start_by, now)));
        }
        None
    }
}

/// A queued run that could not start by its `start_by`.
fn late(start_by: Option<Instant>, now: Instant) -> bool {
    start_by.is_some_and(|b| now > b)
}

/// The answer for a run skipped at `now` (it missed `start_by`).
fn skipped(start_by: Option<Instant>, now: Instant) -> ProbeResult {
    let late = start_by.map_or(Duration::ZERO, |b| now.saturating_duration_since(b));
    ProbeResult::skipped(format!(
        "skipped: not started in time (max-concurrent-probes saturated; {:.1}s late)",
        late.as_secs_f64()
    ))
}

async fn run_kind(spec: &ProbeSpec, tls: &http::TlsConfigs) -> Outcome {
    let t = &spec.target;
    match &spec.kind {
        ProbeKind::TcpCheck => {
            let s = connect_tcp(t).await?;
            // RST, not FIN: no TIME_WAIT on the director (as in the connector).
            let _ = SockRef::from(&s).set_linger(Some(Duration::ZERO));
            drop(s);
            Ok(("connected".into(), None))
        }
        // Boxed: its state (buffers, TLS) would otherwise size every probe's future.
        ProbeKind::HttpGet(h) => Box::pin(http::check(t, h, tls)).await.map(|d| (d, None)),
        ProbeKind::SmtpCheck { helo_name } => smtp(t, helo_name).await.map(|d| (d, None)),
        ProbeKind::DnsCheck { qtype, name } => dns::check(t, *qtype, name, spec.connect_timeout)
            .await
            .map(|d| (d, None)),
        ProbeKind::UdpCheck(u) => udp(t, u, spec.connect_timeout).await.map(|d| (d, None)),
        ProbeKind::PingCheck => icmp::ping(t).await.map(|d| (d, None)),
        ProbeKind::MiscCheck(m) => misc::run(m).await,
        ProbeKind::FileCheck(f) => {
            let text = tokio::fs::read_to_string(&f.path)
                .await
                .map_err(|e| Error::Protocol(format!("{}: {e}", f.path.display())))?;
            let value: i64 = text
                .split_whitespace()
                .next()
                .unwrap_or("")
                .parse()
                .map_err(|_| {
                    Error::Protocol(format!(
                        "{}: not a number: {:?}",
                        f.path.display(),
                        text.trim()
                    ))
                })?;
            match f.evaluate(value) {
                (true, w) => Ok((format!("value {value}"), w)),
                (false, _) => Err(Error::Protocol(format!("value {value}"))),
            }
        }
    }
}

fn unspecified(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Connects a TCP socket honouring `bindto`, `bind_port`, `bind_if` and `fwmark`.
pub async fn connect_tcp(t: &Target) -> io::Result<TcpStream> {
    let addr = SocketAddr::new(t.connect_ip, t.connect_port);
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    {
        let r = SockRef::from(&sock);
        if let Some(m) = t.fwmark {
            r.set_mark(m)?;
        }
        if let Some(dev) = &t.bind_if {
            r.bind_device(Some(dev.as_bytes()))?;
        }
    }
    if t.bindto.is_some() || t.bind_port.is_some() {
        sock.set_reuseaddr(true)?;
        sock.bind(SocketAddr::new(
            t.bindto.unwrap_or_else(|| unspecified(t.connect_ip)),
            t.bind_port.unwrap_or(0),
        ))?;
    }
    sock.connect(addr).await
}

/// A UDP socket bound per `bindto`/`bind_port`/`bind_if`/`fwmark` and connected to the target.
pub(crate) async fn connect_udp(t: &Target) -> io::Result<UdpSocket> {
    let local = SocketAddr::new(
        t.bindto.unwrap_or_else(|| unspecified(t.connect_ip)),
        t.bind_port.unwrap_or(0),
    );
    let sock = UdpSocket::bind(local).await?;
    {
        let r = SockRef::from(&sock);
        if let Some(m) = t.fwmark {
            r.set_mark(m)?;
        }
        if let Some(dev) = &t.bind_if {
            r.bind_device(Some(dev.as_bytes()))?;
        }
    }
    sock.connect(SocketAddr::new(t.connect_ip, t.connect_port))
        .await?;
    Ok(sock)
}

async fn smtp(t: &Target, helo: &str) -> Result<String, Error> {
    let stream = connect_tcp(t).await?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let banner = smtp_reply(&mut r).await?;
    if banner.0 != 220 {
        return Err(Error::Protocol(format!(
            "SMTP greeting {}: {}",
            banner.0, banner.1
        )));
    }
    w.write_all(format!("HELO {helo}\r\n").as_bytes()).await?;
    let reply = smtp_reply(&mut r).await?;
    if reply.0 != 250 {
        return Err(Error::Protocol(format!(
            "SMTP HELO answered {}: {}",
            reply.0, reply.1
        )));
    }
    let _ = w.write_all(b"QUIT\r\n").await;
    Ok(format!("220 {}", banner.1))
}

/// Reads one (possibly multi-line `NNN-`) SMTP reply.
async fn smtp_reply<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<(u16, String), Error> {
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Err(Error::Protocol("SMTP connection closed".into()));
        }
        if line.len() > 1024 {
            return Err(Error::Protocol("SMTP line too long".into()));
        }
        let l = line.trim_end();
        let code: u16 = l
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| Error::Protocol(format!("bad SMTP reply {l:?}")))?;
        if l.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, l.get(4..).unwrap_or("").to_owned()));
        }
    }
}

async fn udp(t: &Target, u: &UdpSpec, wait: Duration) -> Result<String, Error> {
    let sock = connect_udp(t).await?;
    sock.send(&u.payload).await?;
    let mut buf = vec![0u8; u.max_reply_length.max(u.min_reply_length).max(1) + 1];
    match tokio::time::timeout(wait, sock.recv(&mut buf)).await {
        Err(_) if u.require_reply.is_some() => Err(Error::Protocol("no reply".into())),
        Err(_) => Ok("no reply, no ICMP unreachable".into()),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            Err(Error::Protocol("ICMP port unreachable".into()))
        }
        Ok(Err(e)) => Err(e.into()),
        Ok(Ok(n)) => {
            let reply = &buf[..n];
            if u.require_reply.is_none() {
                return Ok(format!("{n}-byte reply"));
            }
            if n < u.min_reply_length || n > u.max_reply_length {
                return Err(Error::Protocol(format!(
                    "reply length {n} outside [{}, {}]",
                    u.min_reply_length, u.max_reply_length
                )));
            }
            if let Some(pat) = &u.require_reply {
                let ok = pat.len() <= n
                    && pat
                        .iter()
                        .zip(reply)
                        .all(|(p, b)| p.is_none_or(|p| p == *b));
                if !ok {
                    return Err(Error::Protocol("reply does not match require_reply".into()));
                }
            }
            Ok(format!("{n}-byte reply matches"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_check::{MiscSpec, ProbeId};

    fn misc(argv: &[&str], timeout: Duration) -> Arc<ProbeSpec> {
        Arc::new(ProbeSpec {
            kind: ProbeKind::MiscCheck(MiscSpec {
                argv: argv.iter().map(|s| s.to_string()).collect(),
                timeout,
                dynamic: false,
                run_as: None,
            }),
            target: Target::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            connect_timeout: Duration::from_secs(1),
        })
    }

    fn run(n: u64) -> RunId {
        RunId {
            probe: ProbeId(n),
            seq: 1,
        }
    }

    /// Task-run checkers beyond `max_concurrent` wait for a permit: one still waiting at its
    /// `start_by` is answered "skipped" and never started; one that starts later than it was
    /// queued gets its whole timeout from its actual start.
    #[tokio::test]
    async fn queued_task_past_start_by_is_skipped_and_timeouts_count_from_the_start() {
        let dir = std::env::temp_dir().join(format!("lvs-probe-skip-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("ran");
        let ex = Executor::new(1);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        let far = now + Duration::from_secs(30);
        // Holds the only permit for 1.2 s.
        ex.spawn(
            run(1),
            misc(&["sleep", "1.2"], Duration::from_secs(5)),
            far,
            tx.clone(),
        );
        tokio::task::yield_now().await;
        let touch = marker.display().to_string();
        ex.spawn(
            run(2),
            misc(&["touch", &touch], Duration::from_secs(5)),
            now + Duration::from_millis(50),
            tx.clone(),
        );
        // Waits 1.2 s, longer than its 1 s misc_timeout: it passes all the same.
        ex.spawn(run(3), misc(&["true"], Duration::from_secs(1)), far, tx);
        let mut got = std::collections::HashMap::new();
        while got.len() < 3 {
            let (r, res) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("every run reports")
                .unwrap();
            got.insert(r.probe.0, res);
        }
        assert!(got[&1].ok && !got[&1].skipped, "{:?}", got[&1]);
        assert!(got[&2].skipped && !got[&2].ok, "{:?}", got[&2]);
        assert!(!marker.exists(), "the skipped run never started");
        assert!(got[&3].ok && !got[&3].skipped, "{:?}", got[&3]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
