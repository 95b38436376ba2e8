//! lvs-check — sans-IO health-check logic for LVS real servers (keepalived's checker process,
//! without its I/O).
//!
//! Layer: pure logic. No sockets, no clock reads, no tokio: time comes in as `now`, randomness
//! from a seeded RNG, probes go out as [`Action::StartProbe`] and come back through
//! [`Engine::handle_result`]. Executors live in `lvs-sys::probe`; the async driver in `lvsd`.
//!
//! - [`spec`]: what a probe is (TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK, DNS_CHECK, UDP_CHECK,
//!   PING_CHECK, MISC_CHECK, FILE_CHECK), as plain data.
//! - [`config`]: the engine's configuration (virtual servers, real servers, checkers).
//! - [`engine`]: scheduling, the retry state machine and the virtual-server logic.
#![warn(missing_docs)]

pub mod config;
pub mod engine;
pub mod initial;
pub mod spec;

#[cfg(test)]
mod tests;

pub use config::{CheckerCfg, EngineConfig, Protocol, RealServerCfg, VirtualServerCfg, VsKey};
pub use engine::{
    Action, CheckerStatus, Engine, NotifyEvent, ProbeId, ProbeResult, ProbeStats, RealServerStatus,
    RunId, VirtualServerStatus,
};
pub use initial::initial_weights;
pub use spec::{
    Credentials, DnsType, FileSpec, HttpProtocol, HttpSpec, MiscSpec, ProbeKind, ProbeSpec, Target,
    Timing, TlsSpec, UdpSpec, UrlSpec,
};

/// Errors of this crate (configuration mapping).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A `digest` is not 32 hex digits.
    #[error("digest {0:?} is not an MD5 hex string (32 hex digits)")]
    BadDigest(String),
    /// A `require_reply` / `payload` is not hex.
    #[error("{0:?} is not a hex string")]
    BadHex(String),
}

/// Parses keepalived's hex `payload`.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, Error> {
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let t = t.strip_prefix("0x").unwrap_or(&t);
    if !t.len().is_multiple_of(2) {
        return Err(Error::BadHex(s.to_owned()));
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).map_err(|_| Error::BadHex(s.to_owned())))
        .collect()
}

/// Parses a `require_reply` pattern: hex with `X`/`x` nibble-pair wildcards (`XX` = any byte).
pub fn parse_reply_pattern(s: &str) -> Result<Vec<Option<u8>>, Error> {
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let t = t.strip_prefix("0x").unwrap_or(&t);
    if !t.len().is_multiple_of(2) {
        return Err(Error::BadHex(s.to_owned()));
    }
    (0..t.len())
        .step_by(2)
        .map(|i| {
            let pair = &t[i..i + 2];
            if pair.eq_ignore_ascii_case("xx") {
                Ok(None)
            } else {
                u8::from_str_radix(pair, 16)
                    .map(Some)
                    .map_err(|_| Error::BadHex(s.to_owned()))
            }
        })
        .collect()
}

/// Validates and normalises an MD5 `digest` (lowercase hex).
pub fn normalise_digest(s: &str) -> Result<String, Error> {
    if s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(Error::BadDigest(s.to_owned()))
    }
}
