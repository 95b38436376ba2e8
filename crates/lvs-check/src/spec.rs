//! What a probe is: the checker kinds of keepalived.conf(5) §`*_CHECK`, as plain data.
//!
//! A [`ProbeSpec`] is everything an executor needs to run one probe and nothing more; two real
//! servers whose checkers produce equal specs (and equal [`Timing`]) share one probe — the
//! engine deduplicates on `(ProbeSpec, Timing)`.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One probe: where to connect and what to ask.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProbeSpec {
    /// The checker type and its own keywords.
    pub kind: ProbeKind,
    /// Where to connect (`connect_ip` / `connect_port`, default the real server's).
    pub target: Target,
    /// `connect_timeout`: for lvsd it bounds the whole probe (connect + request + reply),
    /// not each step (keepalived #1822).
    pub connect_timeout: Duration,
}

/// Network endpoint and local binding of a probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    /// `connect_ip` (default: the real server's address).
    pub connect_ip: IpAddr,
    /// `connect_port` (default: the real server's port). Unused by PING, MISC, FILE.
    pub connect_port: u16,
    /// `bindto`: local source address.
    pub bindto: Option<IpAddr>,
    /// `bind_port`: local source port.
    pub bind_port: Option<u16>,
    /// `bind_if`: SO_BINDTODEVICE (needed for link-local IPv6).
    pub bind_if: Option<String>,
    /// `fwmark`: SO_MARK on the probe socket.
    pub fwmark: Option<u32>,
}

impl Target {
    /// A target with no local binding.
    pub fn new(connect_ip: IpAddr, connect_port: u16) -> Self {
        Self {
            connect_ip,
            connect_port,
            bindto: None,
            bind_port: None,
            bind_if: None,
            fwmark: None,
        }
    }
}

/// The checker types of keepalived.conf(5).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProbeKind {
    /// `TCP_CHECK`: a TCP connect succeeds.
    TcpCheck,
    /// `HTTP_GET` (`tls == None`) or `SSL_GET`.
    HttpGet(HttpSpec),
    /// `SMTP_CHECK`: a `220` banner, then `HELO helo_name` answered with `250`.
    SmtpCheck {
        /// `helo_name` (default: the host name).
        helo_name: String,
    },
    /// `DNS_CHECK`: a query over UDP answered with NOERROR and at least one record of `type`.
    DnsCheck {
        /// `type` (default SOA).
        qtype: DnsType,
        /// `name` (default `.`).
        name: String,
    },
    /// `UDP_CHECK`: send `payload`; fail on an ICMP unreachable, or (with `require_reply`) on no
    /// reply / a reply that does not match.
    UdpCheck(UdpSpec),
    /// `PING_CHECK`: an ICMP / ICMPv6 echo reply.
    PingCheck,
    /// `MISC_CHECK`: run a program (no shell); exit 0 up, 1 down, 2..255 with `misc_dynamic`
    /// up with weight `exit − 2`.
    MiscCheck(MiscSpec),
    /// `FILE_CHECK`: a number read from a `track_file`.
    FileCheck(FileSpec),
}

impl ProbeKind {
    /// The keepalived.conf keyword of this checker.
    pub fn keyword(&self) -> &'static str {
        match self {
            Self::TcpCheck => "TCP_CHECK",
            Self::HttpGet(h) if h.tls.is_some() => "SSL_GET",
            Self::HttpGet(_) => "HTTP_GET",
            Self::SmtpCheck { .. } => "SMTP_CHECK",
            Self::DnsCheck { .. } => "DNS_CHECK",
            Self::UdpCheck(_) => "UDP_CHECK",
            Self::PingCheck => "PING_CHECK",
            Self::MiscCheck(_) => "MISC_CHECK",
            Self::FileCheck(_) => "FILE_CHECK",
        }
    }
}

/// `http_protocol`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HttpProtocol {
    /// `1.0` (keepalived's default): `GET p HTTP/1.0`.
    #[default]
    Http10,
    /// `1.0C`: HTTP/1.0 with `Connection: close`.
    Http10Close,
    /// `1.1`: HTTP/1.1 with `Connection: close`.
    Http11,
}

/// TLS options of `SSL_GET`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TlsSpec {
    /// `enable_sni`: send the server name (the `sni_name`, else the virtual host).
    pub enable_sni: bool,
    /// `sni_name`.
    pub sni_name: Option<String>,
}

/// `HTTP_GET` / `SSL_GET`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HttpSpec {
    /// `url { }` blocks; all must pass, in order.
    pub urls: Vec<UrlSpec>,
    /// `http_protocol`.
    pub protocol: HttpProtocol,
    /// `virtualhost` of the checker (else the real server's, else the virtual server's).
    pub virtualhost: Option<String>,
    /// `Some` for `SSL_GET`.
    pub tls: Option<TlsSpec>,
}

/// One `url { }` block.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UrlSpec {
    /// `path`.
    pub path: String,
    /// `digest`: lowercase hex MD5 of the body.
    pub digest: Option<String>,
    /// `status_code` ranges (inclusive); empty means 200-299.
    pub status_codes: Vec<(u16, u16)>,
    /// `virtualhost` of this url (overrides the checker's).
    pub virtualhost: Option<String>,
    /// `regex` matched against the body.
    pub regex: Option<String>,
    /// `regex_no_match`: the check passes when the regex does *not* match.
    pub regex_no_match: bool,
}

impl UrlSpec {
    /// A url expecting 2xx with no digest or regex.
    pub fn path(path: &str) -> Self {
        Self {
            path: path.to_owned(),
            digest: None,
            status_codes: Vec::new(),
            virtualhost: None,
            regex: None,
            regex_no_match: false,
        }
    }

    /// Whether `code` is accepted (`status_code`, default 200-299).
    pub fn status_ok(&self, code: u16) -> bool {
        if self.status_codes.is_empty() {
            (200..=299).contains(&code)
        } else {
            self.status_codes
                .iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&code))
        }
    }
}

/// DNS_CHECK `type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DnsType {
    /// A
    A,
    /// NS
    Ns,
    /// CNAME
    Cname,
    /// SOA (default)
    #[default]
    Soa,
    /// MX
    Mx,
    /// TXT
    Txt,
    /// AAAA
    Aaaa,
}

impl DnsType {
    /// The RR type code (RFC 1035 / 3596).
    pub fn code(self) -> u16 {
        match self {
            Self::A => 1,
            Self::Ns => 2,
            Self::Cname => 5,
            Self::Soa => 6,
            Self::Mx => 15,
            Self::Txt => 16,
            Self::Aaaa => 28,
        }
    }

    /// Parses a keepalived `type` keyword value (case-insensitive).
    pub fn from_keyword(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "A" => Self::A,
            "NS" => Self::Ns,
            "CNAME" => Self::Cname,
            "SOA" => Self::Soa,
            "MX" => Self::Mx,
            "TXT" => Self::Txt,
            "AAAA" => Self::Aaaa,
            _ => return None,
        })
    }
}

/// UDP_CHECK options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UdpSpec {
    /// `payload` bytes (empty: a zero-length datagram).
    pub payload: Vec<u8>,
    /// `require_reply`: `None` = any reply or none; `Some(pattern)` = a reply is required and
    /// must start with the pattern (`None` bytes are `X` wildcards).
    pub require_reply: Option<Vec<Option<u8>>>,
    /// `min_reply_length` (0).
    pub min_reply_length: usize,
    /// `max_reply_length` (255).
    pub max_reply_length: usize,
}

/// MISC_CHECK options.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MiscSpec {
    /// `misc_path`, split into argv (run without a shell).
    pub argv: Vec<String>,
    /// `misc_timeout` (default: the delay_loop).
    pub timeout: Duration,
    /// `misc_dynamic`.
    pub dynamic: bool,
    /// Who runs it: `user` / `misc_path`'s user, else `script_user`, resolved by the driver
    /// (`None`: as the daemon itself).
    pub run_as: Option<Credentials>,
}

/// A resolved user and group (plain ids: resolving names is the driver's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Credentials {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// FILE_CHECK options (`track_file` resolved to its path).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileSpec {
    /// The tracked file.
    pub path: PathBuf,
    /// `weight N` (0: any non-zero value in the file means down).
    pub weight: i64,
    /// `reverse`.
    pub reverse: bool,
    /// `dynamic`: the value × weight becomes the real server's weight.
    pub dynamic: bool,
}

impl FileSpec {
    /// keepalived FILE_CHECK semantics for a value read from the file: `(up, dynamic weight)`.
    ///
    /// With `weight 0`, any non-zero value is down. Otherwise `value × weight` (negated with
    /// `reverse`) is computed: a negative result is down; with `dynamic` the result is the new
    /// weight.
    pub fn evaluate(&self, value: i64) -> (bool, Option<u32>) {
        if self.weight == 0 {
            return (value == 0, None);
        }
        let mut w = value.saturating_mul(self.weight);
        if self.reverse {
            w = -w;
        }
        if w < 0 {
            (false, None)
        } else if self.dynamic {
            (true, Some(u32::try_from(w).unwrap_or(u32::MAX)))
        } else {
            (true, None)
        }
    }
}

/// Timing of a checker (keepalived's defaults chain VS → RS → checker, already resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timing {
    /// `delay_loop`: interval between probes while the state is stable.
    pub delay_loop: Duration,
    /// `retry`: failures tolerated (after the first) before an up checker goes down.
    pub retry: u32,
    /// `delay_before_retry`.
    pub delay_before_retry: Duration,
    /// `warmup`: the first probe fires at 1 s + random(0..=warmup).
    pub warmup: Duration,
    /// `alpha`: the checker starts down.
    pub alpha: bool,
}

impl Timing {
    /// keepalived's built-in defaults for a checker kind with a given `delay_loop`
    /// (`check_api.c`): retry 1 / delay_before_retry 1 s (HTTP, SSL: 3 s; MISC: retry 0;
    /// DNS: retry 3, delay_before_retry = delay_loop); warmup = delay_loop; alpha off.
    pub fn keepalived_default(kind: &ProbeKind, delay_loop: Duration) -> Self {
        let (retry, dbr) = match kind {
            ProbeKind::HttpGet(_) => (1, Duration::from_secs(3)),
            ProbeKind::MiscCheck(_) => (0, Duration::from_secs(1)),
            ProbeKind::DnsCheck { .. } => (3, delay_loop),
            _ => (1, Duration::from_secs(1)),
        };
        Self {
            delay_loop,
            retry,
            delay_before_retry: dbr,
            warmup: delay_loop,
            alpha: false,
        }
    }
}

impl fmt::Display for ProbeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ProbeKind::MiscCheck(m) => write!(f, "MISC_CHECK {}", m.argv.join(" ")),
            ProbeKind::FileCheck(s) => write!(f, "FILE_CHECK {}", s.path.display()),
            ProbeKind::PingCheck => write!(f, "PING_CHECK {}", self.target.connect_ip),
            k => match self.target.connect_ip {
                IpAddr::V4(a) => write!(f, "{} {}:{}", k.keyword(), a, self.target.connect_port),
                IpAddr::V6(a) => write!(f, "{} [{}]:{}", k.keyword(), a, self.target.connect_port),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_default_is_2xx() {
        let u = UrlSpec::path("/");
        assert!(u.status_ok(200) && u.status_ok(299));
        assert!(!u.status_ok(300) && !u.status_ok(199));
        let u = UrlSpec {
            status_codes: vec![(404, 404), (500, 503)],
            ..UrlSpec::path("/")
        };
        assert!(u.status_ok(404) && u.status_ok(502) && !u.status_ok(200));
    }

    #[test]
    fn file_check_semantics() {
        let f = FileSpec {
            path: "/x".into(),
            weight: 0,
            reverse: false,
            dynamic: false,
        };
        assert_eq!(f.evaluate(0), (true, None));
        assert_eq!(f.evaluate(3), (false, None));
        let f = FileSpec {
            weight: 5,
            dynamic: true,
            ..f
        };
        assert_eq!(f.evaluate(2), (true, Some(10)));
        assert_eq!(f.evaluate(-1), (false, None));
        let f = FileSpec { reverse: true, ..f };
        assert_eq!(f.evaluate(-2), (true, Some(10)));
    }

    #[test]
    fn defaults_follow_check_api() {
        let d = Duration::from_secs(60);
        let t = Timing::keepalived_default(&ProbeKind::TcpCheck, d);
        assert_eq!(
            (t.retry, t.delay_before_retry, t.warmup),
            (1, Duration::from_secs(1), d)
        );
        let dns = ProbeKind::DnsCheck {
            qtype: DnsType::Soa,
            name: ".".into(),
        };
        let t = Timing::keepalived_default(&dns, d);
        assert_eq!((t.retry, t.delay_before_retry), (3, d));
    }
}
