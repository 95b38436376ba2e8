//! `udpgen DST:PORT N SRC_IP...`: one UDP datagram from each of N (source address, source port)
//! pairs (ports 10000.. on each address in turn, 50 000 per address), through one raw socket per
//! source address (the UDP header is written here, so no socket per port), then prints
//! `sent N in S s` to stderr. The connection-entry generator of bench/sync-vm.
//! `UDPGEN_PPS=R` paces the sending at R datagrams per second (default: as fast as it goes).
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use socket2::{Domain, Protocol, Socket, Type};

const PORTS_PER_ADDR: u32 = 50_000;
const FIRST_PORT: u32 = 10_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: udpgen DST:PORT N SRC_IP...");
        std::process::exit(2);
    }
    let dst: SocketAddr = args[0].parse().expect("DST:PORT");
    let n: u32 = args[1].parse().expect("N");
    let srcs: Vec<Ipv4Addr> = args[2..]
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
            let due = std::time::Duration::from_secs_f64(f64::from(i) / pps);
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
                // The socket buffer is full: let the device drain it.
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
