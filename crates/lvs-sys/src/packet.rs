//! Raw packet I/O for the built-in data plane (issue 8): AF_PACKET sockets with
//! a TPACKET_V3 receive ring and batched transmit (`sendmmsg`), interface facts
//! from sysfs/getifaddrs, routes and neighbours from procfs, and the nftables
//! netdev-ingress rules that keep the director's own stack away from packets
//! the data plane forwards.
//!
//! Ordering (verified empirically, and by `crates/lvs-dataplane/tests/netns_dr.rs`,
//! which forwards with the drop rules installed and captures no RST): in
//! `__netif_receive_skb_core` the `ETH_P_ALL` taps (`ptype_all`, i.e. this
//! socket) run before the tc ingress and netfilter ingress hooks, so an
//! nftables `netdev` ingress `drop` hides a packet from the local IP stack
//! while the ring still sees it.
//!
//! The forwarding logic itself lives in `lvs-dataplane` (sans-IO).

pub mod nft;
pub mod ring;
pub mod sysinfo;

pub use nft::{IngressDrop, IngressGuard};
pub use ring::{pkttype, wait_any, Fanout, PacketSocket, RingConfig, RxFrame, SocketStats};
pub use sysinfo::{
    if_index, if_mac, if_mtu, if_name, local_addrs, read_arp_table, read_routes_v4, read_routes_v6,
    ArpEntry, LocalAddr, RouteEntry,
};
