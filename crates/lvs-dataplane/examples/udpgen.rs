//! Small-packet UDP load generator for `bench/dataplane/run.sh`:
//! `udpgen DST_IP:PORT SECONDS [SOCKETS] [PAYLOAD_BYTES]` sends as fast as
//! it can from SOCKETS source ports (round-robin) and prints the packets
//! sent and the rate.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 3 {
        eprintln!("usage: udpgen DST_IP:PORT SECONDS [SOCKETS] [PAYLOAD_BYTES]");
        std::process::exit(2);
    }
    let dst = &a[1];
    let secs: f64 = a[2].parse().expect("seconds");
    let n: usize = a.get(3).map_or(16, |s| s.parse().expect("sockets"));
    let len: usize = a.get(4).map_or(18, |s| s.parse().expect("payload"));
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
    'outer: loop {
        for s in &socks {
            for _ in 0..64 {
                if s.send(&buf).is_ok() {
                    sent += 1;
                }
            }
        }
        if Instant::now() >= end {
            break 'outer;
        }
    }
    let el = start.elapsed().as_secs_f64();
    println!(
        "sent {sent} packets in {el:.2} s: {:.0} pps",
        sent as f64 / el
    );
}
