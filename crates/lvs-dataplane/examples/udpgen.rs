//! UDP load generator of the benchmarks, two modes:
//!
//! - `udpgen DST_IP:PORT SECONDS [SOCKETS] [PAYLOAD_BYTES]` (`bench/dataplane`,
//!   `bench/dataplane-vm`): small packets as fast as it can for SECONDS from SOCKETS source
//!   ports (round-robin); prints the packets sent and the rate.
//! - `udpgen --pairs DST_IP:PORT N SRC_IP...` (`bench/sync-vm`, `bench/sync-host`): one
//!   datagram from each of N (source address, source port) pairs (ports 10000.. on each address
//!   in turn, 50 000 per address), so that a director creates N connection entries; one raw
//!   socket per source address (the UDP header is written here, so no socket per port; needs
//!   root). `UDPGEN_PPS=R` paces it at R datagrams per second (default: as fast as it goes).
//!   Prints `sent N in S s` to stderr.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    match a.first().map(String::as_str) {
        Some("--pairs") if a.len() >= 4 => pairs(&a[1..]),
        Some(_) if a.len() >= 2 && !a[0].starts_with('-') => flood(&a),
        _ => {
            eprintln!(
                "usage: udpgen DST_IP:PORT SECONDS [SOCKETS] [PAYLOAD_BYTES]\n       \
                 udpgen --pairs DST_IP:PORT N SRC_IP..."
            );
            std::process::exit(2);
        }
    }
}

/// As many datagrams as possible for a while, from a few source ports.
fn flood(a: &[String]) {
    let dst = &a[0];
    let secs: f64 = a[1].parse().expect("seconds");
    let n: usize = a.get(2).map_or(16, |s| s.parse().expect("sockets"));
    let len: usize = a.get(3).map_or(18, |s| s.parse().expect("payload"));
    let socks: Vec<UdpSocket> = (0..n)
        .map(|_| {
            let s = UdpSocket::bind("0.0.0.0:0").expect("bind");
            s.connect(dst).expect("connect");
            s
        })
        .collect();
    let buf = vec![0x5au8; len];
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut sent: u64 = 0;
    loop {
        for s in &socks {
            for _ in 0..64 {
                if s.send(&buf).is_ok() {
                    sent += 1;
                }
            }
        }
        if Instant::now() >= end {
            break;
        }
    }
    let el = start.elapsed().as_secs_f64();
    println!(
        "sent {sent} packets in {el:.2} s: {:.0} pps",
        sent as f64 / el
    );
}

const PORTS_PER_ADDR: u32 = 50_000;
const FIRST_PORT: u32 = 10_000;

/// One datagram from each of N (address, port) pairs.
fn pairs(a: &[String]) {
    let dst: SocketAddr = a[0].parse().expect("DST_IP:PORT");
    let n: u32 = a[1].parse().expect("N");
    let srcs: Vec<Ipv4Addr> = a[2..]
        .iter()
        .map(|s| s.parse().expect("SRC_IP (IPv4)"))
        .collect();
    assert!(
        u64::from(n) <= srcs.len() as u64 * u64::from(PORTS_PER_ADDR),
        "need more source addresses"
    );
    // Raw IPPROTO_UDP sockets: the kernel writes the IP header (source = the bound address).
    let socks: Vec<Socket> = srcs
        .iter()
        .map(|ip| {
            let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::UDP)).expect("raw socket");
            s.bind(&SocketAddr::new(IpAddr::V4(*ip), 0).into())
                .expect("bind");
            s
        })
        .collect();
    let to: socket2::SockAddr = SocketAddr::new(dst.ip(), 0).into();
    let pps: f64 = std::env::var("UDPGEN_PPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let t0 = Instant::now();
    let mut sent = 0u32;
    let mut pkt = [0u8; 9];
    pkt[2..4].copy_from_slice(&dst.port().to_be_bytes());
    pkt[4..6].copy_from_slice(&9u16.to_be_bytes()); // length; checksum 0 (none, IPv4)
    pkt[8] = b'x';
    for i in 0..n {
        if pps > 0.0 && i % 64 == 0 {
            let due = Duration::from_secs_f64(f64::from(i) / pps);
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let s = &socks[(i / PORTS_PER_ADDR) as usize];
        let port = (FIRST_PORT + i % PORTS_PER_ADDR) as u16;
        pkt[0..2].copy_from_slice(&port.to_be_bytes());
        loop {
            match s.send_to(&pkt, &to) {
                Ok(_) => {
                    sent += 1;
                    break;
                }
                // ENOBUFS: the socket buffer is full, let the device drain it.
                Err(e) if e.raw_os_error() == Some(105) => std::thread::yield_now(),
                Err(e) => {
                    eprintln!("send: {e}");
                    break;
                }
            }
        }
    }
    eprintln!("sent {sent} in {:.3} s", t0.elapsed().as_secs_f64());
}
