//! LVS-NAT through the built-in data plane: the client on 10.0.0.0/24, the
//! real servers on 192.168.1.0/24 behind the director (their default route),
//! destination rewritten to RIP:8080 and replies translated back to VIP:80.

mod common;

use common::{can_run, Lab};

const VIP: &str = "10.0.0.49";

fn nat_lab(tag: &str) -> Lab {
    let mut lab = Lab::new(tag);
    lab.host("c", "eth0", "br0", &["10.0.0.100/24"]);
    lab.host("d", "eth0", "br0", &["10.0.0.1/24", "10.0.0.49/32"]);
    lab.host("d", "eth1", "br1", &["192.168.1.1/24"]);
    for (n, a) in [("r1", "192.168.1.2/24"), ("r2", "192.168.1.3/24")] {
        lab.host(n, "eth0", "br1", &[a]);
        lab.exec(n, "ip route add default via 192.168.1.1");
        lab.http_server(n, 8080);
    }
    lab.wait_http("d", "http://192.168.1.2:8080/id");
    lab.wait_http("d", "http://192.168.1.3:8080/id");
    lab
}

#[test]
fn nat_rr_and_persistence() {
    if !can_run() {
        return;
    }
    let mut lab = nat_lab("dpnat");
    lab.start_fwd(
        "d",
        "--iface eth0 --iface eth1 --service tcp:10.0.0.49:80:rr \
         --dest 192.168.1.2:8080:nat --dest 192.168.1.3:8080:nat",
    );
    let order: Vec<String> = (0..4)
        .map(|_| lab.get("c", &format!("http://{VIP}/id")))
        .collect();
    assert_eq!(order, ["r2", "r1", "r2", "r1"], "{order:?}");
    // A larger response (several segments, GSO on the real server's veth)
    // is translated back intact.
    let big = "x".repeat(20000);
    std::fs::write(lab.dir.join("r1").join("big"), &big).unwrap();
    std::fs::write(lab.dir.join("r2").join("big"), &big).unwrap();
    let body = lab.get("c", &format!("http://{VIP}/big"));
    assert_eq!(body.len(), big.len());
    let conns = lab.fwd().conns();
    // NAT sees both directions: closed connections reach TIME_WAIT / CLOSE_WAIT-style states.
    assert_eq!(conns.len(), 5, "{conns:?}");
    // Health checks from the director to the real servers still work while
    // the ingress rules hide NAT replies from its stack.
    lab.wait_http("d", "http://192.168.1.2:8080/id");
    lab.stop_fwd();

    lab.start_fwd(
        "d",
        "--iface eth0 --iface eth1 --service tcp:10.0.0.49:80:rr:60 \
         --dest 192.168.1.2:8080:nat --dest 192.168.1.3:8080:nat",
    );
    let ids: Vec<String> = (0..4)
        .map(|_| lab.get("c", &format!("http://{VIP}/id")))
        .collect();
    assert!(
        ids.iter().all(|i| i == &ids[0]) && !ids[0].is_empty(),
        "{ids:?}"
    );
    lab.stop_fwd();
}
