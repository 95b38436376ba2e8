//! The lab's tiny HTTP server (one per real server) and client. Both run as `lvsd lab`
//! re-invoked inside a namespace with a hidden flag, so the lab needs no other program.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// Serve `HTTP/1.0 200` with body `name\n` on `listen` until killed.
pub(crate) fn serve(name: &str, listen: SocketAddr) -> Result<()> {
    let l = TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    let body = format!("{name}\n");
    for stream in l.incoming() {
        let Ok(mut s) = stream else { continue };
        let body = body.clone();
        std::thread::spawn(move || {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 1024];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 8192 {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let resp = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.len(),
                body
            );
            let _ = s.write_all(resp.as_bytes());
        });
    }
    Ok(())
}

/// One `GET /` from `bind` to `to`; returns the body (the real server's name).
pub(crate) fn get(bind: std::net::IpAddr, to: SocketAddr, timeout: Duration) -> Result<String> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(to),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    sock.bind(&SocketAddr::new(bind, 0).into())
        .with_context(|| format!("cannot bind {bind}"))?;
    sock.connect_timeout(&to.into(), timeout)
        .with_context(|| format!("cannot connect to {to}"))?;
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(timeout))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n")?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("malformed HTTP response from {to}");
    };
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        bail!(
            "unexpected status from {to}: {}",
            head.lines().next().unwrap_or("")
        );
    }
    Ok(body.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_reads_the_servers_name_over_loopback() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        std::thread::spawn(move || serve("rsX", addr));
        let mut last = None;
        for _ in 0..50 {
            match get("127.0.0.1".parse().unwrap(), addr, Duration::from_secs(1)) {
                Ok(b) => {
                    last = Some(b);
                    break;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        assert_eq!(last.as_deref(), Some("rsX"));
    }
}
