//! IPv6 through the built-in data plane: LVS-DR (neighbour discovery done by
//! the data plane) and LVS-NAT, with round-robin.

mod common;

use common::{can_run, Lab};

#[test]
fn ipv6_dr_rr() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new("dp6dr");
    lab.host("c", "eth0", "br0", &["fd00::100/64 nodad"]);
    lab.host(
        "d",
        "eth0",
        "br0",
        &["fd00::1/64 nodad", "fd00::49/128 nodad"],
    );
    for (n, a) in [("r1", "fd00::56/64 nodad"), ("r2", "fd00::57/64 nodad")] {
        lab.host(n, "eth0", "br0", &[a]);
        lab.exec(n, "ip addr add fd00::49/128 dev lo nodad");
        lab.http_server_on(n, 80, "::");
    }
    lab.wait_http("c", "http://[fd00::56]/id");
    lab.wait_http("c", "http://[fd00::57]/id");
    lab.start_fwd(
        "d",
        "--iface eth0 --service tcp:[fd00::49]:80:rr --dest [fd00::56]:80:dr --dest [fd00::57]:80:dr",
    );
    let order: Vec<String> = (0..4)
        .map(|_| lab.get("c", "http://[fd00::49]/id"))
        .collect();
    assert_eq!(order, ["r2", "r1", "r2", "r1"], "{order:?}");
    let conns = lab.fwd().conns();
    assert_eq!(conns.len(), 4, "{conns:?}");
    assert!(
        conns.iter().all(|l| l.contains("[fd00::49]:80")),
        "{conns:?}"
    );
    lab.stop_fwd();
}

#[test]
fn ipv6_nat() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new("dp6nat");
    lab.host("c", "eth0", "br0", &["fd00::100/64 nodad"]);
    lab.host(
        "d",
        "eth0",
        "br0",
        &["fd00::1/64 nodad", "fd00::49/128 nodad"],
    );
    lab.host("d", "eth1", "br1", &["fd01::1/64 nodad"]);
    for (n, a) in [("r1", "fd01::2/64 nodad"), ("r2", "fd01::3/64 nodad")] {
        lab.host(n, "eth0", "br1", &[a]);
        lab.exec(n, "ip -6 route add default via fd01::1");
        lab.http_server_on(n, 8080, "::");
    }
    lab.wait_http("d", "http://[fd01::2]:8080/id");
    lab.wait_http("d", "http://[fd01::3]:8080/id");
    lab.start_fwd(
        "d",
        "--iface eth0 --iface eth1 --service tcp:[fd00::49]:80:rr \
         --dest [fd01::2]:8080:nat --dest [fd01::3]:8080:nat",
    );
    let order: Vec<String> = (0..4)
        .map(|_| lab.get("c", "http://[fd00::49]/id"))
        .collect();
    assert_eq!(order, ["r2", "r1", "r2", "r1"], "{order:?}");
    lab.stop_fwd();
}
