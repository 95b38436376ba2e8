//! `vrrp_instance`.

use std::time::Duration;

use super::{raw_line, Lower};
use crate::model::*;
use crate::tree::Node;
use crate::values::*;

impl Lower<'_, '_> {
    pub(crate) fn vrrp_instance(&mut self, n: &Node<'_>) -> Option<VrrpInstance> {
        let name = self.block_name(n)?;
        let body = self.body(n)?;
        let mut v = VrrpInstance {
            name,
            state: VrrpState::Backup,
            state_text: None,
            interface: None,
            virtual_router_id: 0,
            priority: 100,
            advert_int: Duration::from_secs(1),
            version: 2,
            authentication: None,
            virtual_ipaddress: Vec::new(),
            virtual_ipaddress_excluded: Vec::new(),
            no_virtual_ipaddress: false,
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            unicast_src_ip: None,
            mcast_src_ip: None,
            mcast_dst_ip: None,
            unicast_peer: Vec::new(),
            unicast_ttl: None,
            check_unicast_src: false,
            track_interface: Vec::new(),
            track_script: Vec::new(),
            track_file: Vec::new(),
            track_process: Vec::new(),
            track_bfd: Vec::new(),
            dont_track_primary: false,
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            accept: None,
            strict_mode: None,
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            notify_deleted: None,
            notify: None,
            notify_master_rx_lower_pri: None,
            smtp_alert: None,
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            garp_master_refresh_repeat: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            down_timer_adverts: None,
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            use_vmac: None,
            vmac_xmit_base: false,
            skip_check_adv_addr: None,
            promote_secondaries: false,
            lvs_sync_daemon_interface: None,
            sync_group: None,
            span: n.span,
        };
        let mut state_node: Option<&Node<'_>> = None;
        let mut prio: Option<u8> = None;
        let mut version: Option<(u8, &Node<'_>)> = None;
        let mut advert: Option<(&Node<'_>, Duration)> = None;
        let mut nopreempt: Option<&Node<'_>> = None;
        let mut vrid_seen = false;
        for e in body {
            match e.name() {
                "state" => {
                    if let Some(s) = self.string(e) {
                        v.state_text = Some(s.clone());
                        state_node = Some(e);
                        match s.as_str() {
                            "MASTER" => v.state = VrrpState::Master,
                            "BACKUP" => v.state = VrrpState::Backup,
                            other => {
                                let hint = if other.eq_ignore_ascii_case("master")
                                    || other.eq_ignore_ascii_case("backup")
                                {
                                    Some(format!(
                                        "write '{}' in capitals: the value is case-sensitive",
                                        other.to_ascii_uppercase()
                                    ))
                                } else {
                                    Some("use MASTER or BACKUP".into())
                                };
                                self.push(
                                    crate::Severity::Error,
                                    "invalid-state",
                                    e.arg_span(0),
                                    Some("state"),
                                    format!(
                                        "unknown state '{}': keepalived starts this instance as BACKUP",
                                        other.escape_debug()
                                    ),
                                    hint,
                                );
                                v.state = VrrpState::Backup;
                            }
                        }
                    }
                }
                "interface" => v.interface = self.string(e),
                "virtual_router_id" => {
                    vrid_seen = true;
                    if let Some(x) = self.int(e, 1, 255) {
                        v.virtual_router_id = x as u8;
                    }
                }
                "priority" => {
                    if let Some(a) = self.arg1(e) {
                        match parse_int(a, 1, 255) {
                            Ok(p) => prio = Some(p as u8),
                            Err(m) => {
                                self.invalid(e, 0, format!("priority: {m}; keepalived uses 100"))
                            }
                        }
                        self.extra(e, 1);
                    }
                }
                "advert_int" => {
                    if let Some(d) = self.timer(e, 0.01, 255.0) {
                        advert = Some((e, d));
                    }
                }
                "version" => {
                    if let Some(x) = self.int(e, 2, 3) {
                        version = Some((x as u8, e));
                    }
                }
                "authentication" => v.authentication = self.authentication(e),
                "auth_hmac" => {
                    let _ = self.body(e);
                }
                "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                    if let Some(b) = self.body(e) {
                        let mut list = Vec::new();
                        for a in b {
                            if let Some(x) = self.vip(a) {
                                list.push(x);
                            }
                        }
                        if e.name() == "virtual_ipaddress" {
                            v.virtual_ipaddress.extend(list);
                        } else {
                            v.virtual_ipaddress_excluded.extend(list);
                        }
                    }
                }
                "no_virtual_ipaddress" => v.no_virtual_ipaddress = self.bare(e),
                "virtual_routes" | "virtual_rules" => {
                    if let Some(b) = self.body(e) {
                        let lines: Vec<RawLine> = b.iter().map(raw_line).collect();
                        if e.name() == "virtual_routes" {
                            v.virtual_routes.extend(lines);
                        } else {
                            v.virtual_rules.extend(lines);
                        }
                    }
                }
                "unicast_src_ip" => v.unicast_src_ip = self.ip(e),
                "mcast_src_ip" => v.mcast_src_ip = self.ip(e),
                "mcast_dst_ip" => v.mcast_dst_ip = self.ip(e),
                "unicast_peer" => {
                    if let Some(b) = self.body(e) {
                        for p in b {
                            self.unicast_peer(p, &mut v.unicast_peer);
                        }
                    }
                }
                "unicast_ttl" => v.unicast_ttl = self.int(e, 0, 255).map(|x| x as u8),
                "check_unicast_src" => v.check_unicast_src = self.flag(e),
                "track_interface" => v.track_interface = self.track_refs(e, -253, 253),
                "track_script" => v.track_script = self.track_refs(e, -253, 253),
                "track_file" => v.track_file = self.track_refs(e, -254, 254),
                "track_process" => v.track_process = self.track_refs(e, -254, 254),
                "track_bfd" => v.track_bfd = self.track_refs(e, -253, 253),
                "dont_track_primary" => v.dont_track_primary = self.bare(e),
                "nopreempt" => {
                    v.nopreempt = self.bare(e);
                    nopreempt = Some(e);
                }
                "preempt" => {
                    v.nopreempt = false;
                    self.bare(e);
                }
                "preempt_delay" => {
                    if let Some(d) = self.timer(e, 0.0, 1000.0) {
                        v.preempt_delay = d;
                    }
                }
                "accept" => v.accept = Some(self.bare(e)),
                "no_accept" => {
                    self.bare(e);
                    v.accept = Some(false);
                }
                "strict_mode" => v.strict_mode = Some(self.flag(e)),
                "notify_master" => v.notify_master = self.script(e),
                "notify_backup" => v.notify_backup = self.script(e),
                "notify_fault" => v.notify_fault = self.script(e),
                "notify_stop" => v.notify_stop = self.script(e),
                "notify_deleted" => v.notify_deleted = self.script(e),
                "notify" => v.notify = self.script(e),
                "notify_master_rx_lower_pri" => v.notify_master_rx_lower_pri = self.script(e),
                "smtp_alert" => v.smtp_alert = Some(self.flag(e)),
                "garp_master_delay" => v.garp_master_delay = self.timer(e, 0.0, 86400.0),
                "garp_master_repeat" => v.garp_master_repeat = self.u32_(e, 0, u32::MAX),
                "garp_master_refresh" => v.garp_master_refresh = self.timer(e, 0.0, 86400.0),
                "garp_master_refresh_repeat" => {
                    v.garp_master_refresh_repeat = self.u32_(e, 0, u32::MAX)
                }
                "garp_lower_prio_delay" => v.garp_lower_prio_delay = self.timer(e, 0.0, 86400.0),
                "garp_lower_prio_repeat" => v.garp_lower_prio_repeat = self.u32_(e, 0, u32::MAX),
                "down_timer_adverts" => v.down_timer_adverts = self.u32_(e, 1, 100),
                "lower_prio_no_advert" => v.lower_prio_no_advert = Some(self.flag(e)),
                "higher_prio_send_advert" => v.higher_prio_send_advert = Some(self.flag(e)),
                "use_vmac" => {
                    self.no_block(e);
                    let mut u = UseVmac::default();
                    for a in e.args() {
                        if a.text.matches(':').count() == 5 {
                            u.mac = Some(a.text.to_string());
                        } else if u.name.is_none() {
                            u.name = Some(a.text.to_string());
                        }
                    }
                    v.use_vmac = Some(u);
                }
                "vmac_xmit_base" => v.vmac_xmit_base = self.bare(e),
                "skip_check_adv_addr" => v.skip_check_adv_addr = Some(self.flag(e)),
                "promote_secondaries" => v.promote_secondaries = self.bare(e),
                "lvs_sync_daemon_interface" => {
                    self.obsolete_note(
                        e,
                        "lvs_sync_daemon_interface inside vrrp_instance is deprecated; use the global 'lvs_sync_daemon IF INSTANCE'",
                    );
                    v.lvs_sync_daemon_interface = e.arg(0).map(str::to_string);
                }
                "vrf"
                | "use_ipvlan"
                | "use_vmac_addr"
                | "garp_extra_if"
                | "timer_expired_backup"
                | "kernel_rx_buf_size"
                | "old_unicast_checksum"
                | "v3_checksum_as_v2"
                | "track_src_ip"
                | "unicast_fault_no_peer"
                | "owner_ignore_adverts"
                | "notify_priority_changes"
                | "vmac_garp_intvl" => {}
                _ => self.unknown(e, "vrrp_instance"),
            }
        }
        // Completion, in keepalived's order.
        if !vrid_seen {
            self.err(
                "missing-vrid",
                n.span,
                Some("vrrp_instance"),
                format!(
                    "vrrp_instance {}: the virtual_router_id must be set; keepalived drops this instance",
                    v.name
                ),
                None,
            );
            return None;
        }
        if v.virtual_router_id == 0 {
            return None;
        }
        v.priority = match prio {
            Some(p) => p,
            None if v.state == VrrpState::Master => 255,
            None => 100,
        };
        if prio.is_none() && v.state == VrrpState::Master {
            if let Some(s) = state_node {
                self.note(
                    "master-priority-255",
                    s,
                    "state MASTER without priority: keepalived uses priority 255 (address owner)"
                        .into(),
                    Some(
                        "set an explicit priority below 255 unless this node owns the addresses"
                            .into(),
                    ),
                );
            }
        }
        let ipv6 = v
            .virtual_ipaddress
            .first()
            .is_some_and(|a| a.addr.is_ipv6());
        v.version = match version {
            Some((x, _)) => x,
            None => self.default_vrrp_version,
        };
        if ipv6 && v.version == 2 {
            if let Some((_, e)) = version {
                self.push(
                    crate::Severity::Warning,
                    "ipv6-version",
                    e.span,
                    Some("version"),
                    "IPv6 instances always use VRRP version 3".into(),
                    None,
                );
            }
            v.version = 3;
        }
        if let Some(first) = v.virtual_ipaddress.first().map(|a| a.addr.is_ipv4()) {
            for a in &v.virtual_ipaddress {
                if a.addr.is_ipv4() != first {
                    let t = a.text.to_string();
                    self.push(
                        crate::Severity::Error,
                        "vip-family",
                        a.span,
                        Some(&t),
                        "all virtual_ipaddress entries of an instance must have the same address family; use virtual_ipaddress_excluded for the others".into(),
                        None,
                    );
                }
            }
        }
        if let Some((e, d)) = advert {
            if v.version == 2 {
                let secs = d.as_secs_f64();
                if secs.fract() != 0.0 || secs < 1.0 {
                    let r = secs.round().clamp(1.0, 255.0);
                    self.invalid(
                        e,
                        0,
                        format!("VRRPv2 needs a whole number of seconds (1..255); rounded to {r}"),
                    );
                    v.advert_int = Duration::from_secs(r as u64);
                } else {
                    v.advert_int = d;
                }
            } else {
                if d.as_secs_f64() > 40.95 {
                    self.invalid(e, 0, "VRRPv3 allows at most 40.95 s; using 40.95".into());
                }
                let cs = ((d.as_secs_f64() * 100.0).round() as u64).clamp(1, 4095);
                v.advert_int = Duration::from_millis(cs * 10);
            }
        }
        if v.version == 3 {
            if let Some(a) = &v.authentication {
                let sp = a.span;
                self.push(
                    crate::Severity::Warning,
                    "auth-v3",
                    sp,
                    Some("authentication"),
                    "VRRPv3 has no authentication: the block is ignored".into(),
                    None,
                );
                v.authentication = None;
            }
        }
        if v.nopreempt && (v.state == VrrpState::Master || v.priority == 255) {
            if let Some(e) = nopreempt {
                self.push(
                    crate::Severity::Warning,
                    "nopreempt-master",
                    e.span,
                    Some("nopreempt"),
                    "nopreempt is ignored with state MASTER or priority 255 (keepalived clears it)"
                        .into(),
                    Some("use state BACKUP on every node for nopreempt to work".into()),
                );
            }
            v.nopreempt = false;
        }
        if !v.preempt_delay.is_zero() && (v.state == VrrpState::Master || v.nopreempt) {
            v.preempt_delay = Duration::ZERO;
        }
        if v.virtual_ipaddress.is_empty() && !v.no_virtual_ipaddress {
            self.push(
                crate::Severity::Warning,
                "no-vip",
                n.span,
                Some("vrrp_instance"),
                format!("vrrp_instance {} has no virtual_ipaddress", v.name),
                None,
            );
        }
        if v.interface.is_none() && v.unicast_peer.is_empty() {
            self.push(
                crate::Severity::Warning,
                "no-interface",
                n.span,
                Some("vrrp_instance"),
                format!(
                    "vrrp_instance {} has no interface: keepalived uses default_interface (eth0)",
                    v.name
                ),
                None,
            );
        }
        Some(v)
    }

    fn unicast_peer(&mut self, p: &Node<'_>, out: &mut Vec<UnicastPeer>) {
        let Some(addr) = parse_ip(&p.kw().text) else {
            let t = p.kw().text.to_string();
            self.push(
                crate::Severity::Error,
                "invalid-address",
                p.span,
                Some(&t),
                "unicast_peer entry is not an IP address; ignored".into(),
                None,
            );
            return;
        };
        let mut u = UnicastPeer {
            addr,
            min_ttl: None,
            max_ttl: None,
            span: p.span,
        };
        let mut i = 0;
        while i < p.args().len() {
            let w = p.args()[i].text.to_string();
            match w.as_str() {
                "min_ttl" | "max_ttl" => {
                    match p.arg(i + 1).map(|x| parse_int(x, 0, 255)) {
                        Some(Ok(x)) if w == "min_ttl" => u.min_ttl = Some(x as u8),
                        Some(Ok(x)) => u.max_ttl = Some(x as u8),
                        _ => self.invalid(p, i, format!("{w} needs a value 0..255")),
                    }
                    i += 2;
                }
                _ => {
                    // Several addresses on one line are allowed.
                    if let Some(a) = parse_ip(&w) {
                        out.push(UnicastPeer {
                            addr: a,
                            min_ttl: None,
                            max_ttl: None,
                            span: p.arg_span(i),
                        });
                    } else {
                        self.extra(p, i);
                        break;
                    }
                    i += 1;
                }
            }
        }
        out.push(u);
    }

    fn authentication(&mut self, n: &Node<'_>) -> Option<Authentication> {
        let body = self.body(n)?;
        let mut ty = AuthType::Pass;
        let mut pass: Option<String> = None;
        for e in body {
            match e.name() {
                "auth_type" => {
                    if let Some(t) = self.string(e) {
                        match t.as_str() {
                            "PASS" => ty = AuthType::Pass,
                            "AH" => ty = AuthType::Ah,
                            other => self.invalid(
                                e,
                                0,
                                format!(
                                    "unknown auth_type '{}' (PASS or AH); using PASS",
                                    other.escape_debug()
                                ),
                            ),
                        }
                    }
                }
                "auth_pass" => {
                    if let Some(p) = self.arg1(e) {
                        let mut p = p.to_string();
                        if p.len() > 8 {
                            self.push(
                                crate::Severity::Warning,
                                "auth-pass-truncated",
                                e.arg_span(0),
                                Some("auth_pass"),
                                format!(
                                    "auth_pass is {} bytes; keepalived truncates it to 8 ('{}')",
                                    p.len(),
                                    String::from_utf8_lossy(&p.as_bytes()[..8]).escape_debug()
                                ),
                                Some("both nodes must agree on the first 8 bytes".into()),
                            );
                            p = String::from_utf8_lossy(&p.as_bytes()[..8]).into_owned();
                        }
                        self.extra(e, 1);
                        pass = Some(p);
                    }
                }
                _ => self.unknown(e, "authentication"),
            }
        }
        match pass {
            Some(auth_pass) => Some(Authentication {
                auth_type: ty,
                auth_pass,
                span: n.span,
            }),
            None => {
                self.push(
                    crate::Severity::Error,
                    "auth-no-pass",
                    n.span,
                    Some("authentication"),
                    "authentication without auth_pass; ignored".into(),
                    None,
                );
                None
            }
        }
    }
}
