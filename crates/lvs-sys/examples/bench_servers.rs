//! Benchmark helper (bench/checkers-vm): the local "real servers" health checkers probe.
//!
//! ```text
//! bench_servers TCP_PORT HTTP_PORT COUNT_FILE
//! ```
//!
//! Listens on `0.0.0.0:TCP_PORT` (accepts and closes: what TCP_CHECK needs) and
//! `0.0.0.0:HTTP_PORT` (reads a request head, answers `HTTP/1.0 200 OK` with a 3-byte body,
//! closes). Every second it rewrites COUNT_FILE with `tcp N http M` (connections accepted so
//! far), so a benchmark can check that every checker did the same work. One tokio thread, so it
//! costs little next to what it serves; bound to all addresses, so any 127.x.y.z on `lo` works.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const REPLY: &[u8] =
    b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n";

fn listener(port: u16) -> std::io::Result<TcpListener> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.bind(&std::net::SocketAddr::from(([0, 0, 0, 0], port)).into())?;
    s.listen(4096)?;
    s.set_nonblocking(true)?;
    TcpListener::from_std(s.into())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: bench_servers TCP_PORT HTTP_PORT COUNT_FILE");
        std::process::exit(2);
    }
    let tcp_port: u16 = args[1].parse().expect("TCP_PORT");
    let http_port: u16 = args[2].parse().expect("HTTP_PORT");
    let count_file = args[3].clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let tcp = listener(tcp_port)?;
        let http = listener(http_port)?;
        let n_tcp = Arc::new(AtomicU64::new(0));
        let n_http = Arc::new(AtomicU64::new(0));
        let c = n_tcp.clone();
        tokio::spawn(async move {
            loop {
                if let Ok((s, _)) = tcp.accept().await {
                    c.fetch_add(1, Ordering::Relaxed);
                    drop(s);
                }
            }
        });
        let c = n_http.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = http.accept().await else {
                    continue;
                };
                c.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let mut have = 0;
                    let work = async {
                        while have < buf.len() {
                            let n = s.read(&mut buf[have..]).await?;
                            if n == 0 {
                                break;
                            }
                            have += n;
                            if buf[..have].windows(4).any(|w| w == b"\r\n\r\n") {
                                s.write_all(REPLY).await?;
                                break;
                            }
                        }
                        std::io::Result::Ok(())
                    };
                    let _ = tokio::time::timeout(Duration::from_secs(5), work).await;
                });
            }
        });
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let line = format!(
                "tcp {} http {}\n",
                n_tcp.load(Ordering::Relaxed),
                n_http.load(Ordering::Relaxed)
            );
            let tmp = format!("{count_file}.tmp");
            if std::fs::write(&tmp, line).is_ok() {
                let _ = std::fs::rename(&tmp, &count_file);
            }
        }
    })
}
