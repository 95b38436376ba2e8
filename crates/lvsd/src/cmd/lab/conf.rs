//! keepalived.conf files for the lab's directors, modelled on the operator's write-up
//! (`shared/fixtures/seed/`): VRRP instance VI_1, LVS-DR, rr, persistence, TCP_CHECK and
//! `lvs_sync_daemon` — with the write-up's short timeouts so the 60 s re-arm shows quickly.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::topology::{PREFIX, REAL_SERVERS, VIP};

/// Persistence timeout of the lab's virtual server (the write-up's trace).
pub(crate) const PERSISTENCE_TIMEOUT: u32 = 2;
/// `lvs_timeouts tcp`.
pub(crate) const TCP_TIMEOUT: u32 = 5;
/// `lvs_timeouts tcpfin`.
pub(crate) const TCPFIN_TIMEOUT: u32 = 3;
/// VRRP advert interval, seconds.
pub(crate) const ADVERT_INT: u32 = 1;
/// TCP_CHECK: delay_loop, connect_timeout, retry, delay_before_retry (seconds / count).
pub(crate) const CHECK: (u32, u32, u32, u32) = (1, 1, 1, 1);

/// The configuration of director `router_id` with VRRP `priority`.
pub(crate) fn director(router_id: &str, priority: u8) -> String {
    let (delay_loop, connect_timeout, retry, delay_before_retry) = CHECK;
    let mut s = String::new();
    let _ = writeln!(s, "# lvsd lab: director {router_id} (generated)");
    let _ = writeln!(s, "global_defs {{");
    let _ = writeln!(s, "  router_id {router_id}");
    let _ = writeln!(s, "  lvs_sync_daemon eth0 VI_1");
    let _ = writeln!(
        s,
        "  lvs_timeouts tcp {TCP_TIMEOUT} tcpfin {TCPFIN_TIMEOUT} udp 300"
    );
    let _ = writeln!(s, "}}\n");
    let _ = writeln!(s, "vrrp_instance VI_1 {{");
    let _ = writeln!(s, "  state BACKUP");
    let _ = writeln!(s, "  interface eth0");
    let _ = writeln!(s, "  virtual_router_id 51");
    let _ = writeln!(s, "  priority {priority}");
    let _ = writeln!(s, "  advert_int {ADVERT_INT}");
    let _ = writeln!(
        s,
        "  authentication {{\n    auth_type PASS\n    auth_pass 1111\n  }}"
    );
    let _ = writeln!(s, "  virtual_ipaddress {{\n    {VIP}/{PREFIX}\n  }}");
    let _ = writeln!(s, "}}\n");
    let _ = writeln!(s, "virtual_server {VIP} 80 {{");
    let _ = writeln!(s, "  delay_loop {delay_loop}");
    let _ = writeln!(s, "  lb_algo rr");
    let _ = writeln!(s, "  lb_kind DR");
    let _ = writeln!(s, "  persistence_timeout {PERSISTENCE_TIMEOUT}");
    let _ = writeln!(s, "  protocol TCP");
    for (_, addr) in REAL_SERVERS {
        real_server(&mut s, addr, connect_timeout, retry, delay_before_retry);
    }
    let _ = writeln!(s, "}}");
    s
}

fn real_server(s: &mut String, addr: Ipv4Addr, connect_timeout: u32, retry: u32, dbr: u32) {
    let _ = writeln!(s, "  real_server {addr} 80 {{");
    let _ = writeln!(s, "    weight 100");
    let _ = writeln!(s, "    TCP_CHECK {{");
    let _ = writeln!(s, "      connect_timeout {connect_timeout}");
    let _ = writeln!(s, "      retry {retry}");
    let _ = writeln!(s, "      delay_before_retry {dbr}");
    let _ = writeln!(s, "      connect_port 80");
    let _ = writeln!(s, "    }}");
    let _ = writeln!(s, "  }}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn director_config_names_every_real_server_and_the_vip() {
        let c = director("dir1", 101);
        assert!(c.contains("priority 101"));
        assert!(c.contains("virtual_server 192.0.2.49 80 {"));
        assert_eq!(c.matches("real_server ").count(), REAL_SERVERS.len());
        assert_eq!(c.matches('{').count(), c.matches('}').count());
    }
}
