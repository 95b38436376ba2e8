//! `global_defs`, `vrrp_script`, `vrrp_sync_group`.

use std::time::Duration;

use super::{raw_block, Lower};
use crate::model::*;
use crate::tree::Node;
use crate::values::*;

/// `global_defs` keywords keepalived knows that lvsd keeps as written.
const GLOBAL_OTHER: &[&str] = &[
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "no_email_faults",
    "rs_init_notifies",
    "no_checker_emails",
    "vrrp_garp_extra_if",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "nftables_priority",
    "nftables_counters",
    "nftables_ifindex",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "vrrp_notify_fifo_script",
    "notify_fifo_script",
    "lvs_notify_fifo_script",
    "fifo_write_vrrp_states_on_reload",
    "vrrp_notify_priority_changes",
    "set_supplementary_groups",
    "use_symlink_paths",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "min_auto_priority_delay",
    "vrrp_priority",
    "checker_priority",
    "bfd_priority",
    "vrrp_rt_priority",
    "checker_rt_priority",
    "bfd_rt_priority",
    "vrrp_no_swap",
    "checker_no_swap",
    "bfd_no_swap",
    "vrrp_cpu_affinity",
    "checker_cpu_affinity",
    "bfd_cpu_affinity",
    "vrrp_rlimit_rttime",
    "checker_rlimit_rttime",
    "bfd_rlimit_rttime",
    "vrrp_rlimit_rtime",
    "checker_rlimit_rtime",
    "bfd_rlimit_rtime",
    "snmp_socket",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_traps",
    "snmp_vs_stats_update_interval",
    "snmp_rs_stats_update_interval",
    "enable_dbus",
    "dbus_service_name",
    "dbus_no_interface_name",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "vrrp_delay_after_boot",
    "log_unknown_vrids",
    "vmac_prefix",
    "vmac_addr_prefix",
    "random_seed",
    "umask",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "config_save_dir",
    "tmp_config_directory",
    "data_use_instance",
    "state_file_location",
    "stats_file_location",
    "json_file_location",
    "json_version",
    "state_dump_file",
    "stats_dump_file",
    "json_dump_file",
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "lvs_process_name",
    "bfd_process_name",
    "iproute_usr_dir",
    "iproute_etc_dir",
    "disable_local_igmp",
    "include_check",
    "bfd_rlimit_rttime",
    "vrrp_netlink_cmd_rcv_bufs",
    "linkbeat_use_polling",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "child_wait_time",
];

impl Lower<'_, '_> {
    pub(crate) fn global_defs(&mut self, body: &[Node<'_>], g: &mut GlobalDefs) {
        for n in body {
            match n.name() {
                "router_id" => g.router_id = self.string(n).or(g.router_id.take()),
                "notification_email" => {
                    if let Some(b) = self.body(n) {
                        for e in b {
                            g.notification_email.push(e.kw().text.to_string());
                        }
                    }
                }
                "notification_email_from" => g.notification_email_from = self.string(n),
                "smtp_server" => {
                    if let Some(s) = self.arg1(n) {
                        g.smtp_server = Some(s.to_string());
                        if let Some(p) = n.arg(1) {
                            match parse_port(p) {
                                Some(p) if p > 0 => g.smtp_port = p,
                                _ => self.invalid(
                                    n,
                                    1,
                                    format!("invalid smtp port '{}'", p.escape_debug()),
                                ),
                            }
                        }
                        self.extra(n, 2);
                    }
                }
                "smtp_helo_name" => g.smtp_helo_name = self.string(n),
                "smtp_connect_timeout" => {
                    if let Some(v) = self.timer(n, 0.000001, 4294.967295) {
                        g.smtp_connect_timeout = v;
                    }
                }
                "smtp_alert" => g.smtp_alert = Some(self.flag(n)),
                "default_interface" => g.default_interface = self.string(n),
                "script_user" => g.script_user = self.user(n),
                "enable_script_security" => g.enable_script_security = self.bare(n),
                "vrrp_strict" => g.vrrp_strict = self.flag(n),
                "vrrp_version" => {
                    if let Some(v) = self.int(n, 2, 3) {
                        g.vrrp_version = v as u8;
                    }
                }
                "vrrp_mcast_group4" => match self.ip(n) {
                    Some(std::net::IpAddr::V4(a)) => g.vrrp_mcast_group4 = a,
                    Some(_) => self.invalid(n, 0, "not an IPv4 address".into()),
                    None => {}
                },
                "vrrp_mcast_group6" => match self.ip(n) {
                    Some(std::net::IpAddr::V6(a)) => g.vrrp_mcast_group6 = a,
                    Some(_) => self.invalid(n, 0, "not an IPv6 address".into()),
                    None => {}
                },
                "vrrp_garp_master_delay" => {
                    if let Some(v) = self.timer(n, 0.0, 86400.0) {
                        g.vrrp_garp_master_delay = v;
                    }
                }
                "vrrp_garp_master_repeat" => {
                    if let Some(v) = self.u32_(n, 0, u32::MAX) {
                        g.vrrp_garp_master_repeat = v.max(1);
                    }
                }
                "vrrp_garp_master_refresh" => {
                    if let Some(v) = self.timer(n, 0.0, 86400.0) {
                        g.vrrp_garp_master_refresh = v;
                    }
                }
                "vrrp_garp_master_refresh_repeat" => {
                    if let Some(v) = self.u32_(n, 0, u32::MAX) {
                        g.vrrp_garp_master_refresh_repeat = v;
                    }
                }
                "vrrp_garp_lower_prio_delay" => {
                    g.vrrp_garp_lower_prio_delay = self.timer(n, 0.0, 86400.0)
                }
                "vrrp_garp_lower_prio_repeat" => {
                    g.vrrp_garp_lower_prio_repeat = self.u32_(n, 0, u32::MAX)
                }
                "vrrp_garp_interval" => {
                    if let Some(v) = self.timer(n, 0.000001, 4294.967295) {
                        g.vrrp_garp_interval = v;
                    }
                }
                "vrrp_gna_interval" => {
                    if let Some(v) = self.timer(n, 0.000001, 4294.967295) {
                        g.vrrp_gna_interval = v;
                    }
                }
                "vrrp_min_garp" => g.vrrp_min_garp = self.flag(n),
                "vrrp_down_timer_adverts" => {
                    if let Some(v) = self.u32_(n, 1, 100) {
                        g.vrrp_down_timer_adverts = v;
                    }
                }
                "vrrp_lower_prio_no_advert" => g.vrrp_lower_prio_no_advert = Some(self.flag(n)),
                "vrrp_higher_prio_send_advert" => g.vrrp_higher_prio_send_advert = self.flag(n),
                "vrrp_skip_check_adv_addr" => g.vrrp_skip_check_adv_addr = self.flag(n),
                "vrrp_check_unicast_src" => g.vrrp_check_unicast_src = self.flag(n),
                "vrrp_owner_ignore_adverts" => g.vrrp_owner_ignore_adverts = self.flag(n),
                "v3_checksum_as_v2" => g.v3_checksum_as_v2 = self.flag(n),
                "vrrp_startup_delay" => {
                    if let Some(v) = self.timer(n, 0.0, 3600.0) {
                        g.vrrp_startup_delay = v;
                    }
                }
                "lvs_timeouts" => g.lvs_timeouts = self.lvs_timeouts(n),
                "lvs_sync_daemon" => g.lvs_sync_daemon = self.lvs_sync_daemon(n),
                "lvs_flush" => g.lvs_flush = self.bare(n),
                "lvs_flush_on_stop" => {
                    self.no_block(n);
                    g.lvs_flush_on_stop = true;
                }
                "lvs_flush_onstop" => {
                    self.obsolete_note(n, "deprecated spelling of lvs_flush_on_stop");
                    g.lvs_flush_on_stop = true;
                }
                "max_auto_priority" => {
                    g.max_auto_priority = match n.arg(0) {
                        None => Some(99),
                        Some(_) => self.int(n, -1, 99).map(|v| v as i32),
                    }
                }
                "dynamic_interfaces" => {
                    self.no_block(n);
                    g.dynamic_interfaces = true;
                }
                "checker_log_all_failures" => g.checker_log_all_failures = self.flag(n),
                "notify_fifo" => (g.notify_fifo, g.notify_fifo_owner) = self.fifo(n),
                "vrrp_notify_fifo" => (g.vrrp_notify_fifo, g.vrrp_notify_fifo_owner) = self.fifo(n),
                "lvs_notify_fifo" => (g.lvs_notify_fifo, g.lvs_notify_fifo_owner) = self.fifo(n),
                kw if GLOBAL_OTHER.contains(&kw) => g.other.push(raw_block(n)),
                _ => self.unknown(n, "global_defs"),
            }
        }
    }

    /// `*notify_fifo PATH [USER [GROUP]]` (also `USER:GROUP`): the path and the owner the
    /// FIFO gets when lvsd creates it.
    fn fifo(&mut self, n: &Node<'_>) -> (Option<String>, Option<ScriptUser>) {
        let path = self.arg1(n).map(str::to_string);
        let owner = n.arg(1).map(|u| match u.split_once(':') {
            Some((u, g)) => ScriptUser {
                user: u.to_string(),
                group: Some(g.to_string()).filter(|g| !g.is_empty()),
            },
            None => ScriptUser {
                user: u.to_string(),
                group: n.arg(2).map(str::to_string),
            },
        });
        let max = if n.arg(1).is_some_and(|u| u.contains(':')) {
            2
        } else {
            3
        };
        self.extra(n, max);
        (path, owner)
    }

    fn lvs_timeouts(&mut self, n: &Node<'_>) -> Option<LvsTimeouts> {
        self.arg1(n)?;
        let mut t = LvsTimeouts {
            span: n.span,
            ..Default::default()
        };
        let mut i = 0;
        let mut any = false;
        while i < n.args().len() {
            let which = n.args()[i].text.to_string();
            let val = n.arg(i + 1).map(|v| parse_int(v, 0, 2_678_400));
            let slot = match which.as_str() {
                "tcp" => &mut t.tcp,
                "tcpfin" => &mut t.tcpfin,
                "udp" => &mut t.udp,
                other => {
                    if other.starts_with("//") {
                        self.extra(n, i);
                        break;
                    }
                    self.invalid(
                        n,
                        i,
                        format!(
                            "unknown lvs_timeouts word '{}' (tcp, tcpfin, udp); ignored",
                            other.escape_debug()
                        ),
                    );
                    i += 1;
                    continue;
                }
            };
            match val {
                Some(Ok(v)) => {
                    *slot = Some(v as u32);
                    any = true;
                }
                Some(Err(m)) => self.invalid(n, i + 1, format!("{which}: {m}")),
                None => self.invalid(n, i, format!("{which} needs a number of seconds")),
            }
            i += 2;
        }
        if !any {
            self.invalid(
                n,
                0,
                "lvs_timeouts needs at least one of tcp, tcpfin, udp".into(),
            );
            return None;
        }
        Some(t)
    }

    fn lvs_sync_daemon(&mut self, n: &Node<'_>) -> Option<LvsSyncDaemon> {
        let iface = self.arg1(n)?.to_string();
        let mut s = LvsSyncDaemon {
            interface: iface,
            span: n.span,
            ..Default::default()
        };
        let mut i = 1;
        while i < n.args().len() {
            let w = n.args()[i].text.to_string();
            let v = n.arg(i + 1).map(str::to_string);
            match w.as_str() {
                "inst" => {
                    s.vrrp_instance = v;
                    i += 2;
                }
                "id" | "maxlen" | "port" | "ttl" => {
                    let (max, slot) = match w.as_str() {
                        "id" => (255, 0),
                        "maxlen" => (65507, 1),
                        "port" => (65535, 2),
                        _ => (255, 3),
                    };
                    match v.as_deref().map(|x| parse_int(x, 0, max)) {
                        Some(Ok(x)) => match slot {
                            0 => s.id = Some(x as u8),
                            1 => s.maxlen = Some(x as u16),
                            2 => s.port = Some(x as u16),
                            _ => s.ttl = Some(x as u8),
                        },
                        Some(Err(m)) => self.invalid(n, i + 1, format!("{w}: {m}")),
                        None => self.invalid(n, i, format!("{w} needs a value")),
                    }
                    i += 2;
                }
                "group" => {
                    match v.as_deref().and_then(parse_ip) {
                        Some(ip) => s.group = Some(ip),
                        None => self.invalid(n, i + 1, "group needs a multicast address".into()),
                    }
                    i += 2;
                }
                _ if i == 1 => {
                    s.vrrp_instance = Some(w);
                    i += 1;
                }
                _ => {
                    self.invalid(
                        n,
                        i,
                        format!("unexpected word '{}'; ignored", w.escape_debug()),
                    );
                    i += 1;
                }
            }
        }
        Some(s)
    }

    pub(crate) fn vrrp_script(&mut self, n: &Node<'_>) -> Option<VrrpScript> {
        let name = self.block_name(n)?;
        let body = self.body(n)?;
        let mut s = VrrpScript {
            name,
            script: None,
            interval: Duration::from_secs(1),
            timeout: Duration::ZERO,
            weight: 0,
            weight_reverse: false,
            rise: 1,
            fall: 1,
            user: None,
            init_fail: false,
            span: n.span,
        };
        let mut timeout = None;
        for e in body {
            match e.name() {
                "script" => s.script = self.script(e),
                "interval" => {
                    if let Some(v) = self.timer(e, 0.0, 4294.0) {
                        if v.is_zero() {
                            self.invalid(e, 0, "interval 0 is not allowed; using 1".into());
                        } else {
                            s.interval = v;
                        }
                    }
                }
                "timeout" => timeout = self.timer(e, 0.0, 4294.0),
                "weight" => {
                    if let Some(w) = self.arg1(e) {
                        match parse_int(w, -253, 253) {
                            Ok(w) => s.weight = w as i32,
                            Err(m) => self.invalid(e, 0, format!("{m}; ignored")),
                        }
                        match e.arg(1) {
                            Some("reverse") => s.weight_reverse = true,
                            Some("noreverse") | None => {}
                            Some(_) => self.extra(e, 1),
                        }
                        self.extra(e, 2);
                    }
                }
                "rise" => {
                    if let Some(v) = self.u32_(e, 1, u32::MAX) {
                        s.rise = v;
                    }
                }
                "fall" => {
                    if let Some(v) = self.u32_(e, 1, u32::MAX) {
                        s.fall = v;
                    }
                }
                "user" => s.user = self.user(e),
                "init_fail" => s.init_fail = self.bare(e),
                _ => self.unknown(e, "vrrp_script"),
            }
        }
        s.timeout = timeout.filter(|t| !t.is_zero()).unwrap_or(s.interval);
        if s.script.is_none() {
            self.push(
                crate::Severity::Warning,
                "missing-script",
                n.span,
                Some("vrrp_script"),
                format!(
                    "vrrp_script {} has no 'script'; keepalived removes it",
                    s.name
                ),
                None,
            );
            return None;
        }
        Some(s)
    }

    pub(crate) fn vrrp_sync_group(&mut self, n: &Node<'_>) -> Option<VrrpSyncGroup> {
        let name = self.block_name(n)?;
        let body = self.body(n)?;
        let mut g = VrrpSyncGroup {
            name,
            span: n.span,
            ..Default::default()
        };
        for e in body {
            match e.name() {
                "group" => {
                    if let Some(b) = self.body(e) {
                        for m in b {
                            g.group.push(m.kw().text.to_string());
                            for a in m.args() {
                                g.group.push(a.text.to_string());
                            }
                        }
                    }
                }
                "track_interface" => g.track_interface = self.track_refs(e, -253, 253),
                "track_script" => g.track_script = self.track_refs(e, -253, 253),
                "track_file" => g.track_file = self.track_refs(e, -254, 254),
                "track_process" => g.track_process = self.track_refs(e, -254, 254),
                "track_bfd" => {
                    let _ = self.track_refs(e, -253, 253);
                }
                "notify_master" => g.notify_master = self.script(e),
                "notify_backup" => g.notify_backup = self.script(e),
                "notify_fault" => g.notify_fault = self.script(e),
                "notify_stop" => g.notify_stop = self.script(e),
                "notify" => g.notify = self.script(e),
                "smtp_alert" => g.smtp_alert = Some(self.flag(e)),
                "sync_group_tracking_weight" => g.sync_group_tracking_weight = self.flag(e),
                "notify_priority_changes" => {
                    self.flag(e);
                }
                _ => self.unknown(e, "vrrp_sync_group"),
            }
        }
        Some(g)
    }
}

#[cfg(test)]
mod tests {
    use crate::model::ScriptUser;

    #[test]
    fn notify_fifo_owner_and_group() {
        let l = crate::parse_str(
            "k.conf",
            "global_defs {\n  notify_fifo /run/n.fifo nobody nogroup\n  \
             vrrp_notify_fifo /run/v.fifo daemon:adm\n  lvs_notify_fifo /run/l.fifo\n}\n",
        );
        assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
        let g = &l.config.global_defs;
        let owner = |u: &str, g: Option<&str>| {
            Some(ScriptUser {
                user: u.into(),
                group: g.map(str::to_string),
            })
        };
        assert_eq!(g.notify_fifo.as_deref(), Some("/run/n.fifo"));
        assert_eq!(g.notify_fifo_owner, owner("nobody", Some("nogroup")));
        assert_eq!(g.vrrp_notify_fifo.as_deref(), Some("/run/v.fifo"));
        assert_eq!(g.vrrp_notify_fifo_owner, owner("daemon", Some("adm")));
        assert_eq!(g.lvs_notify_fifo.as_deref(), Some("/run/l.fifo"));
        assert_eq!(g.lvs_notify_fifo_owner, None);
        let l = crate::parse_str("k.conf", "global_defs {\n  notify_fifo /f u g extra\n}\n");
        assert_eq!(l.diagnostics.len(), 1, "{:?}", l.diagnostics);
        assert_eq!(
            l.config.global_defs.notify_fifo_owner,
            owner("u", Some("g"))
        );
    }
}
