//! HTTP_GET / SSL_GET and the fetch behind `lvsd genhash`.
//!
//! The request is keepalived's: `GET path HTTP/1.x`, `User-Agent: KeepAliveClient`,
//! `Host: …`, then the whole reply is read (bounded) and checked. Certificates are not
//! verified (keepalived does not either); SNI is sent only with `enable_sni`.

use std::net::IpAddr;
use std::sync::Arc;

use lvs_check::{HttpProtocol, HttpSpec, Target, TlsSpec, UrlSpec};
use md5::{Digest, Md5};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{connect_tcp, Error};

/// Largest reply read (headers + body).
pub(crate) const MAX_REPLY: usize = 16 << 20;

/// A fetched reply.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Status line as received.
    pub status_line: String,
    /// Header block (without the status line).
    pub headers: String,
    /// Body (de-chunked).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Lowercase hex MD5 of the body (keepalived's `digest`).
    pub fn md5_hex(&self) -> String {
        md5_hex(&self.body)
    }
}

/// Lowercase hex MD5.
pub fn md5_hex(data: &[u8]) -> String {
    let d = Md5::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Client TLS configurations (with and without SNI), built once.
pub(crate) struct TlsConfigs {
    sni: Arc<ClientConfig>,
    no_sni: Arc<ClientConfig>,
}

impl TlsConfigs {
    pub(crate) fn new() -> Self {
        let build = |sni: bool| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let schemes = provider
                .signature_verification_algorithms
                .supported_schemes();
            let mut c = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(schemes)))
                .with_no_client_auth();
            c.enable_sni = sni;
            Arc::new(c)
        };
        Self {
            sni: build(true),
            no_sni: build(false),
        }
    }
}

/// keepalived does not verify checked servers' certificates (self-signed is the norm).
#[derive(Debug)]
struct AcceptAny(Vec<SignatureScheme>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.clone()
    }
}

/// Runs an HTTP_GET / SSL_GET checker: every url must pass, in order.
pub(crate) async fn check(t: &Target, h: &HttpSpec, tls: &TlsConfigs) -> Result<String, Error> {
    let mut last = String::new();
    for url in &h.urls {
        let vhost = url.virtualhost.as_deref().or(h.virtualhost.as_deref());
        let resp = fetch_with(t, h.tls.as_ref(), vhost, &url.path, h.protocol, tls).await?;
        last = verify(url, &resp)?;
    }
    Ok(last)
}

/// Checks one reply against a `url { }` block.
pub fn verify(url: &UrlSpec, resp: &HttpResponse) -> Result<String, Error> {
    if !url.status_ok(resp.status) {
        return Err(Error::Protocol(format!(
            "{}: status {}",
            url.path, resp.status
        )));
    }
    if let Some(want) = &url.digest {
        let got = resp.md5_hex();
        if &got != want {
            return Err(Error::Protocol(format!(
                "{}: digest {got} != {want}",
                url.path
            )));
        }
    }
    if let Some(re) = &url.regex {
        let re =
            regex::bytes::Regex::new(re).map_err(|e| Error::Protocol(format!("regex: {e}")))?;
        if re.is_match(&resp.body) == url.regex_no_match {
            let what = if url.regex_no_match {
                "matches"
            } else {
                "does not match"
            };
            return Err(Error::Protocol(format!("{}: body {what} regex", url.path)));
        }
    }
    Ok(format!("{}: {}", url.path, resp.status_line))
}

/// Fetches one URL the way the checker does (used by `lvsd genhash`).
pub async fn fetch(
    t: &Target,
    tls: Option<&TlsSpec>,
    vhost: Option<&str>,
    path: &str,
    protocol: HttpProtocol,
) -> Result<HttpResponse, Error> {
    let cfgs = TlsConfigs::new();
    fetch_with(t, tls, vhost, path, protocol, &cfgs).await
}

/// keepalived's request for one url: `GET path HTTP/1.x`, `User-Agent: KeepAliveClient`,
/// `Host:` (the virtualhost, else the address with a non-default port), `Connection: close`
/// for HTTP/1.1 and 1.0C.
pub(crate) fn request(
    t: &Target,
    tls: bool,
    vhost: Option<&str>,
    path: &str,
    protocol: HttpProtocol,
) -> String {
    let host = match vhost {
        Some(v) => v.to_owned(),
        None => {
            let ip = match t.connect_ip {
                IpAddr::V4(a) => a.to_string(),
                IpAddr::V6(a) => format!("[{a}]"),
            };
            let default_port = if tls { 443 } else { 80 };
            if t.connect_port == default_port {
                ip
            } else {
                format!("{ip}:{}", t.connect_port)
            }
        }
    };
    let (version, close) = match protocol {
        HttpProtocol::Http10 => ("1.0", false),
        HttpProtocol::Http10Close => ("1.0", true),
        HttpProtocol::Http11 => ("1.1", true),
    };
    let mut req =
        format!("GET {path} HTTP/{version}\r\nUser-Agent: KeepAliveClient\r\nHost: {host}\r\n");
    if close {
        req.push_str("Connection: close\r\n");
    }
    req.push_str("\r\n");
    req
}

async fn fetch_with(
    t: &Target,
    tls: Option<&TlsSpec>,
    vhost: Option<&str>,
    path: &str,
    protocol: HttpProtocol,
    cfgs: &TlsConfigs,
) -> Result<HttpResponse, Error> {
    let req = request(t, tls.is_some(), vhost, path, protocol);
    let tcp = connect_tcp(t).await?;
    // Close with a RST: whoever closes first keeps no TIME_WAIT on the director.
    let _ = socket2::SockRef::from(&tcp).set_linger(Some(std::time::Duration::ZERO));
    match tls {
        None => exchange(tcp, req.as_bytes()).await,
        Some(spec) => {
            let sni_name = spec.sni_name.as_deref().or(vhost);
            let (cfg, name) = match (spec.enable_sni, sni_name) {
                (true, Some(n)) => {
                    let n = ServerName::try_from(n.to_owned())
                        .map_err(|e| Error::Tls(format!("sni name {n:?}: {e}")))?;
                    (cfgs.sni.clone(), n)
                }
                _ => (
                    cfgs.no_sni.clone(),
                    ServerName::IpAddress(t.connect_ip.into()),
                ),
            };
            let conn = tokio_rustls::TlsConnector::from(cfg)
                .connect(name, tcp)
                .await
                .map_err(|e| Error::Tls(e.to_string()))?;
            exchange(conn, req.as_bytes()).await
        }
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    req: &[u8],
) -> Result<HttpResponse, Error> {
    s.write_all(req).await?;
    s.flush().await?;
    // Read straight into the reply buffer (small to start: health pages are short).
    let mut buf = Vec::with_capacity(1024);
    loop {
        if buf.capacity() - buf.len() < 512 {
            buf.reserve(buf.capacity().min(64 << 10));
        }
        let n = match s.read_buf(&mut buf).await {
            Ok(n) => n,
            // A TLS peer that closes without close_notify: keep what we have.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => 0,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            break;
        }
        if buf.len() > MAX_REPLY {
            return Err(Error::Protocol(format!(
                "reply larger than {MAX_REPLY} bytes"
            )));
        }
        // Stop as soon as a Content-Length body is complete (servers may keep the socket open).
        if let Some(done) = complete_len(&buf) {
            buf.truncate(done);
            break;
        }
    }
    parse_response(&buf)
}

/// Total length of a reply with `Content-Length` once its headers are in.
pub(crate) fn complete_len(buf: &[u8]) -> Option<usize> {
    let end = find(buf, b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    if head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:"))
    {
        return None;
    }
    let len: usize = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })?;
    (buf.len() >= end + len).then_some(end + len)
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Parses a complete HTTP/1.x reply.
pub fn parse_response(buf: &[u8]) -> Result<HttpResponse, Error> {
    let end =
        find(buf, b"\r\n\r\n").ok_or_else(|| Error::Protocol("incomplete HTTP reply".into()))?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut body = buf[end + 4..].to_vec();
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    let mut parts = status_line.splitn(3, ' ');
    let proto = parts.next().unwrap_or("");
    if !proto.starts_with("HTTP/") {
        return Err(Error::Protocol(format!(
            "not an HTTP reply: {status_line:?}"
        )));
    }
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Error::Protocol(format!("bad status line {status_line:?}")))?;
    let header = |name: &str| {
        headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        body = dechunk(&body)?;
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if body.len() < len {
            return Err(Error::Protocol(format!(
                "body truncated: {} of {len} bytes",
                body.len()
            )));
        }
        body.truncate(len);
    }
    Ok(HttpResponse {
        status,
        status_line: status_line.to_owned(),
        headers: headers.to_owned(),
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(b.len());
    loop {
        let eol = find(b, b"\r\n").ok_or_else(|| Error::Protocol("bad chunk".into()))?;
        let size_str =
            std::str::from_utf8(&b[..eol]).map_err(|_| Error::Protocol("bad chunk size".into()))?;
        let size = usize::from_str_radix(size_str.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| Error::Protocol("bad chunk size".into()))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err(Error::Protocol("truncated chunk".into()));
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_replies() {
        let r = parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello!!").unwrap();
        assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
        assert_eq!(r.md5_hex(), "5d41402abc4b2a76b9719d911017c592");
        let r = parse_response(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n").unwrap();
        assert_eq!((r.status, &r.body[..]), (404, &b"hello"[..]));
        assert!(parse_response(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[test]
    fn verify_status_digest_regex() {
        let r = parse_response(b"HTTP/1.0 200 OK\r\n\r\nhello").unwrap();
        let mut u = UrlSpec::path("/");
        assert!(verify(&u, &r).is_ok());
        u.digest = Some("5d41402abc4b2a76b9719d911017c592".into());
        assert!(verify(&u, &r).is_ok());
        u.digest = Some("00000000000000000000000000000000".into());
        assert!(verify(&u, &r).is_err());
        u.digest = None;
        u.regex = Some("^hel+o$".into());
        assert!(verify(&u, &r).is_ok());
        u.regex_no_match = true;
        assert!(verify(&u, &r).is_err());
        u.regex = None;
        u.status_codes = vec![(300, 399)];
        assert!(verify(&u, &r).is_err());
    }
}
