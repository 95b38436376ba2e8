//! Lowering: keyword tree → typed [`Config`], with keepalived's defaults,
//! ranges and corrections, and a diagnostic for everything unknown, obsolete
//! or invalid. One function per block, keyword dispatch by `match`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::cascade::Lost;
use crate::diag::Severity;
use crate::model::*;
use crate::schema::obsolete;
use crate::tree::Node;
use crate::values::*;
use crate::Sink;

mod global;
mod vrrp;
mod vs;

/// Lower the whole tree.
pub(crate) fn lower(nodes: &[Node<'_>], lost: &HashMap<usize, Lost>, sink: &mut Sink) -> Config {
    let mut l = Lower {
        sink,
        lost,
        default_vrrp_version: 2,
        suggestions: HashMap::new(),
    };
    let mut cfg = Config::default();
    let mut seen_global = false;
    // global_defs first: instances depend on vrrp_version wherever it is.
    for n in nodes.iter().filter(|n| n.name() == "global_defs") {
        if seen_global {
            l.warn(
                "duplicate-block",
                n.span,
                n,
                "second global_defs block: its settings are merged into the first".into(),
                None,
            );
        }
        seen_global = true;
        if let Some(body) = l.body(n) {
            cfg.global_defs.span = n.span;
            l.global_defs(body, &mut cfg.global_defs);
        }
    }
    l.default_vrrp_version = cfg.global_defs.vrrp_version;
    // Exact capacity: no copying of a growing list of thousands.
    cfg.virtual_servers.reserve_exact(
        nodes
            .iter()
            .filter(|n| n.name() == "virtual_server")
            .count(),
    );
    for n in nodes {
        match n.name() {
            "{" | "global_defs" => {}
            "vrrp_script" => {
                if let Some(s) = l.vrrp_script(n) {
                    cfg.vrrp_scripts.push(s);
                }
            }
            "vrrp_sync_group" => {
                if let Some(g) = l.vrrp_sync_group(n) {
                    cfg.vrrp_sync_groups.push(g);
                }
            }
            "vrrp_instance" => {
                if let Some(i) = l.vrrp_instance(n) {
                    cfg.vrrp_instances.push(i);
                }
            }
            "virtual_server_group" => {
                if let Some(g) = l.virtual_server_group(n) {
                    cfg.virtual_server_groups.push(g);
                }
            }
            "virtual_server" => {
                if let Some(v) = l.virtual_server(n) {
                    cfg.virtual_servers.push(v);
                }
            }
            "static_ipaddress" => {
                if let Some(body) = l.body(n) {
                    for e in body {
                        if let Some(a) = l.vip(e) {
                            cfg.static_ipaddress.push(a);
                        }
                    }
                }
            }
            "static_routes" | "static_rules" => {
                if let Some(body) = l.body(n) {
                    let lines: Vec<RawLine> = body.iter().map(raw_line).collect();
                    if n.name() == "static_routes" {
                        cfg.static_routes.extend(lines);
                    } else {
                        cfg.static_rules.extend(lines);
                    }
                }
            }
            "track_file" | "vrrp_track_file" => {
                if n.name() == "vrrp_track_file" {
                    l.obsolete_note(n, "deprecated synonym of track_file");
                }
                if let Some(t) = l.track_file_def(n) {
                    cfg.track_files.push(t);
                }
            }
            "vrrp_track_process" => {
                if let Some(t) = l.track_process_def(n) {
                    cfg.vrrp_track_processes.push(t);
                }
            }
            "net_namespace"
            | "net_namespace_ipvs"
            | "namespace_with_ipsets"
            | "instance"
            | "use_pid_dir"
            | "linkbeat_use_polling"
            | "child_wait_time"
            | "linkbeat_interfaces"
            | "interface_up_down_delays"
            | "track_group"
            | "bfd_instance"
            | "garp_group"
            | "SSL" => {
                cfg.other.push(raw_block(n));
            }
            _ => l.unknown(n, "top level"),
        }
    }
    // Derived: sync group membership.
    let by_name: HashMap<String, usize> = cfg
        .vrrp_instances
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.clone(), i))
        .rev()
        .collect();
    for g in &cfg.vrrp_sync_groups {
        for m in &g.group {
            match by_name.get(m).map(|&i| &mut cfg.vrrp_instances[i]) {
                Some(i) => {
                    if let Some(prev) = &i.sync_group {
                        l.err(
                            "sync-group",
                            g.span,
                            None,
                            format!(
                                "vrrp_instance {m} is already in vrrp_sync_group {prev}; an instance may belong to one group only"
                            ),
                            None,
                        );
                    } else {
                        i.sync_group = Some(g.name.clone());
                    }
                }
                None => l.warn_kw(
                    "sync-group",
                    g.span,
                    "group",
                    format!(
                        "vrrp_sync_group {} names vrrp_instance {m}, which is not defined",
                        g.name
                    ),
                    None,
                ),
            }
        }
        if g.group.len() == 1 {
            l.warn_kw(
                "sync-group",
                g.span,
                "group",
                format!("vrrp_sync_group {} has only one member", g.name),
                Some("a sync group is only useful with two or more instances".into()),
            );
        }
    }
    // Group references of virtual servers.
    let groups: std::collections::HashSet<&str> = cfg
        .virtual_server_groups
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    for v in &cfg.virtual_servers {
        if let VsAddress::Group { group } = &v.address {
            if !groups.contains(group.as_str()) {
                l.err(
                    "vs-group",
                    v.span,
                    Some("virtual_server"),
                    format!("virtual_server group {group}: no virtual_server_group of that name"),
                    None,
                );
            }
        }
    }
    cfg
}

pub(crate) struct Lower<'s, 'l> {
    pub(crate) sink: &'s mut Sink,
    pub(crate) lost: &'l HashMap<usize, Lost>,
    pub(crate) default_vrrp_version: u8,
    /// "Did you mean" results per unknown keyword.
    pub(crate) suggestions: HashMap<String, Option<&'static str>>,
}

fn raw_line(n: &Node<'_>) -> RawLine {
    let mut words = vec![n.kw().text.to_string()];
    words.extend(n.args().iter().map(|w| w.text.to_string()));
    RawLine {
        words,
        span: n.span,
    }
}

pub(crate) fn raw_block(n: &Node<'_>) -> RawBlock {
    RawBlock {
        keyword: n.kw().text.to_string(),
        args: n.args().iter().map(|w| w.text.to_string()).collect(),
        body: n.block.as_ref().map(|b| b.iter().map(raw_block).collect()),
        span: n.span,
    }
}

/// Keyword names for the "did you mean" hint.
const COMMON: &[&str] = &[
    "global_defs",
    "vrrp_script",
    "vrrp_sync_group",
    "vrrp_instance",
    "virtual_server",
    "virtual_server_group",
    "real_server",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "track_script",
    "track_interface",
    "unicast_peer",
    "unicast_src_ip",
    "authentication",
    "auth_type",
    "auth_pass",
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "nopreempt",
    "preempt_delay",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify",
    "lb_algo",
    "lb_kind",
    "persistence_timeout",
    "persistence_granularity",
    "protocol",
    "delay_loop",
    "weight",
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "connect_timeout",
    "connect_port",
    "retry",
    "delay_before_retry",
    "url",
    "path",
    "digest",
    "status_code",
    "router_id",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
    "lvs_sync_daemon",
    "lvs_timeouts",
    "sorry_server",
    "quorum",
    "hysteresis",
    "inhibit_on_failure",
    "script",
    "interval",
    "fall",
    "rise",
    "timeout",
    "vrrp_strict",
    "script_user",
    "enable_script_security",
    "misc_path",
    "misc_timeout",
    "group",
    "virtual_routes",
];

fn suggest(kw: &str) -> Option<&'static str> {
    if kw.len() > 40 || !kw.is_ascii() {
        return None;
    }
    let norm = kw.replace('-', "_").to_ascii_lowercase();
    let mut best: Option<(usize, &'static str)> = None;
    let mut row = Vec::with_capacity(48);
    for c in COMMON {
        if c.len().abs_diff(norm.len()) > 2 {
            continue;
        }
        let d = edit_distance(norm.as_bytes(), c.to_ascii_lowercase().as_bytes(), &mut row);
        if d <= 2 && d < kw.len() / 2 + 1 && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance over bytes, one reused row.
fn edit_distance(a: &[u8], b: &[u8], row: &mut Vec<usize>) -> usize {
    row.clear();
    row.extend(0..=b.len());
    for (i, ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != cb)).min(up + 1).min(row[j] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

impl Lower<'_, '_> {
    pub(crate) fn push(
        &mut self,
        sev: Severity,
        code: &'static str,
        span: Span,
        kw: Option<&str>,
        msg: String,
        hint: Option<String>,
    ) {
        self.sink.push(sev, code, Some(span), kw, msg, hint);
    }

    pub(crate) fn err(
        &mut self,
        code: &'static str,
        span: Span,
        kw: Option<&str>,
        msg: String,
        hint: Option<String>,
    ) {
        self.push(Severity::Error, code, span, kw, msg, hint);
    }

    pub(crate) fn warn(
        &mut self,
        code: &'static str,
        span: Span,
        n: &Node<'_>,
        msg: String,
        hint: Option<String>,
    ) {
        let kw = n.kw().text.to_string();
        self.push(Severity::Warning, code, span, Some(&kw), msg, hint);
    }

    pub(crate) fn warn_kw(
        &mut self,
        code: &'static str,
        span: Span,
        kw: &str,
        msg: String,
        hint: Option<String>,
    ) {
        self.push(Severity::Warning, code, span, Some(kw), msg, hint);
    }

    pub(crate) fn note(
        &mut self,
        code: &'static str,
        n: &Node<'_>,
        msg: String,
        hint: Option<String>,
    ) {
        let kw = n.kw().text.to_string();
        self.push(Severity::Note, code, n.span, Some(&kw), msg, hint);
    }

    /// An invalid value: error at the argument.
    pub(crate) fn invalid(&mut self, n: &Node<'_>, idx: usize, msg: String) {
        let kw = n.kw().text.to_string();
        let span = n.arg_span(idx);
        self.push(Severity::Error, "invalid-value", span, Some(&kw), msg, None);
    }

    pub(crate) fn obsolete_note(&mut self, n: &Node<'_>, why: &str) {
        let kw = n.kw().text.to_string();
        self.push(
            Severity::Warning,
            "obsolete-keyword",
            n.span,
            Some(&kw),
            format!("obsolete keyword: {why}"),
            None,
        );
    }

    /// An unknown keyword (or block) in `ctx`.
    pub(crate) fn unknown(&mut self, n: &Node<'_>, ctx: &str) {
        let kw = n.kw().text.to_string();
        if kw.starts_with("//") {
            self.push(
                Severity::Warning,
                "slash-comment",
                n.span,
                Some(&kw),
                "'//' does not start a comment in keepalived.conf; this line is read as an unknown keyword".into(),
                Some("use '#' or '!' for comments".into()),
            );
            return;
        }
        if let Some(why) = obsolete(&kw) {
            self.obsolete_note(n, why);
            return;
        }
        let sugg = match self.suggestions.get(&kw) {
            Some(s) => *s,
            None => {
                let s = suggest(&kw);
                self.suggestions.insert(kw.clone(), s);
                s
            }
        };
        let hint = sugg.map(|s| {
            if s == kw {
                format!("'{s}' is a keepalived keyword, but not in {ctx}: check the block it is in")
            } else {
                format!("did you mean '{s}'?")
            }
        });
        if n.block.is_some() {
            let lost = self
                .lost
                .get(&(n.line_idx as usize))
                .cloned()
                .unwrap_or_default();
            let msg = if lost.closes.is_empty() {
                format!(
                    "unknown block '{}' at {ctx}: keepalived ignores its '{{' and reads its contents as {ctx} keywords; lvsd skips the block",
                    kw.escape_debug()
                )
            } else if lost.lost.is_empty() {
                format!(
                    "unknown block '{}' in {ctx}: keepalived ignores its '{{', so its '}}' closes '{}' early; lvsd skips the block",
                    kw.escape_debug(),
                    lost.closes.escape_debug()
                )
            } else {
                let shown: Vec<String> = lost
                    .lost
                    .iter()
                    .take(8)
                    .map(|(k, s)| format!("{} (line {})", k.escape_debug(), s.line))
                    .collect();
                let more = if lost.lost.len() > 8 {
                    format!(" and {} more", lost.lost.len() - 8)
                } else {
                    String::new()
                };
                format!(
                    "unknown block '{}' in {ctx}: keepalived ignores its '{{', so its '}}' closes '{}' early and loses the keywords after it: {}{more}; lvsd skips only the unknown block",
                    kw.escape_debug(),
                    lost.closes.escape_debug(),
                    shown.join(", ")
                )
            };
            self.push(
                Severity::Warning,
                "unknown-block",
                n.span,
                Some(&kw),
                msg,
                hint,
            );
            return;
        }
        self.push(
            Severity::Warning,
            "unknown-keyword",
            n.span,
            Some(&kw),
            format!("unknown keyword in {ctx}; ignored"),
            hint,
        );
    }

    /// The body of a block keyword; error if the `{` is missing.
    pub(crate) fn body<'a>(&mut self, n: &Node<'a>) -> Option<&'a [Node<'a>]> {
        match &n.block {
            Some(b) => Some(b),
            None => {
                let kw = n.kw().text.to_string();
                self.push(
                    Severity::Error,
                    "missing-open-brace",
                    n.span,
                    Some(&kw),
                    "missing '{' at the beginning of this block; the block is ignored".into(),
                    None,
                );
                None
            }
        }
    }

    /// A plain keyword must not open a block.
    pub(crate) fn no_block(&mut self, n: &Node<'_>) {
        if n.block.is_some() {
            let kw = n.kw().text.to_string();
            self.push(
                Severity::Error,
                "unexpected-block",
                n.span,
                Some(&kw),
                "this keyword takes no block; the block is ignored".into(),
                None,
            );
        }
    }

    /// Warn about extra words after `max` arguments (keepalived ignores them silently).
    pub(crate) fn extra(&mut self, n: &Node<'_>, max: usize) {
        if n.args().len() > max {
            let kw = n.kw().text.to_string();
            let w = &n.args()[max];
            let span = n.arg_span(max);
            if w.text.starts_with("//") {
                self.push(
                    Severity::Warning,
                    "slash-comment",
                    span,
                    Some(&kw),
                    "'//' does not start a comment in keepalived.conf; the words after it are extra arguments".into(),
                    Some("use '#' or '!' for comments".into()),
                );
            } else {
                let words: Vec<&str> = n.args()[max..].iter().map(|w| w.text.as_str()).collect();
                self.push(
                    Severity::Warning,
                    "extra-arguments",
                    span,
                    Some(&kw),
                    format!("extra words ignored: '{}'", words.join(" ").escape_debug()),
                    Some("keepalived ignores them silently; a comment needs '#' or '!'".into()),
                );
            }
        }
    }

    /// The first argument; error if missing (keepalived exits here).
    pub(crate) fn arg1<'a>(&mut self, n: &Node<'a>) -> Option<&'a str> {
        self.no_block(n);
        match n.arg(0) {
            Some(a) => Some(a),
            None => {
                let kw = n.kw().text.to_string();
                self.push(
                    Severity::Error,
                    "missing-parameter",
                    n.span,
                    Some(&kw),
                    "missing parameter".into(),
                    Some("keepalived stops reading the configuration at this line (exit 2)".into()),
                );
                None
            }
        }
    }

    /// An integer argument in range.
    pub(crate) fn int(&mut self, n: &Node<'_>, min: i64, max: i64) -> Option<i64> {
        let a = self.arg1(n)?;
        match parse_int(a, min, max) {
            Ok(v) => {
                self.extra(n, 1);
                Some(v)
            }
            Err(e) => {
                self.invalid(n, 0, format!("{e}; ignored"));
                None
            }
        }
    }

    pub(crate) fn u32_(&mut self, n: &Node<'_>, min: u32, max: u32) -> Option<u32> {
        self.int(n, i64::from(min), i64::from(max))
            .map(|v| v as u32)
    }

    /// A timer argument in `[min, max]` seconds.
    pub(crate) fn timer(&mut self, n: &Node<'_>, min: f64, max: f64) -> Option<Duration> {
        let a = self.arg1(n)?;
        match parse_timer(a, min, max) {
            Ok(v) => {
                self.extra(n, 1);
                Some(v)
            }
            Err(e) => {
                self.invalid(n, 0, format!("{e}; ignored"));
                None
            }
        }
    }

    /// A `[BOOL]` keyword: no argument means true.
    pub(crate) fn flag(&mut self, n: &Node<'_>) -> bool {
        self.no_block(n);
        match n.arg(0) {
            None => true,
            Some(a) => match parse_bool(a) {
                Some(b) => {
                    self.extra(n, 1);
                    b
                }
                None => {
                    self.invalid(
                        n,
                        0,
                        format!(
                            "'{}' is not a boolean (on/off/true/false/yes/no); taken as true",
                            a.escape_debug()
                        ),
                    );
                    true
                }
            },
        }
    }

    /// A keyword without arguments.
    pub(crate) fn bare(&mut self, n: &Node<'_>) -> bool {
        self.no_block(n);
        self.extra(n, 0);
        true
    }

    /// A string argument.
    pub(crate) fn string(&mut self, n: &Node<'_>) -> Option<String> {
        let a = self.arg1(n)?.to_string();
        self.extra(n, 1);
        Some(a)
    }

    /// An IP address argument.
    pub(crate) fn ip(&mut self, n: &Node<'_>) -> Option<IpAddr> {
        let a = self.arg1(n)?;
        match parse_ip(a) {
            Some(ip) => {
                self.extra(n, 1);
                Some(ip)
            }
            None => {
                self.invalid(
                    n,
                    0,
                    format!("'{}' is not an IP address; ignored", a.escape_debug()),
                );
                None
            }
        }
    }

    /// `USER [[:]GROUP]`.
    pub(crate) fn user(&mut self, n: &Node<'_>) -> Option<ScriptUser> {
        let u = self.arg1(n)?;
        let (user, mut group) = match u.split_once(':') {
            Some((u, g)) => (u.to_string(), Some(g.to_string()).filter(|g| !g.is_empty())),
            None => (u.to_string(), None),
        };
        if group.is_none() {
            group = n.arg(1).map(|g| g.trim_start_matches(':').to_string());
            self.extra(n, 2);
        } else {
            self.extra(n, 1);
        }
        Some(ScriptUser { user, group })
    }

    /// A script keyword: command (script quoting) and optional user/group.
    pub(crate) fn script(&mut self, n: &Node<'_>) -> Option<Script> {
        self.no_block(n);
        let kw = n.kw().text.to_string();
        let rest = match &n.rest {
            Some(r) => r.to_string(),
            None => n
                .args()
                .iter()
                .map(|w| w.text.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        };
        let (words, open) = split_script(&rest);
        if open {
            self.push(
                Severity::Error,
                "unmatched-quote",
                n.span,
                Some(&kw),
                "unmatched quote in the command".into(),
                None,
            );
        }
        if words.is_empty() {
            self.push(
                Severity::Error,
                "missing-parameter",
                n.span,
                Some(&kw),
                "missing command".into(),
                Some("keepalived stops reading the configuration at this line (exit 2)".into()),
            );
            return None;
        }
        let (command, args, user) = if words[0].quoted {
            // "cmd args" [user [group]]
            let (inner, _) = split_script(&words[0].text);
            let args: Vec<String> = inner.into_iter().map(|w| w.text).collect();
            let user = words.get(1).map(|u| {
                let (user, g) = match u.text.split_once(':') {
                    Some((a, b)) => (a.to_string(), Some(b.to_string()).filter(|g| !g.is_empty())),
                    None => (u.text.to_string(), None),
                };
                ScriptUser {
                    user,
                    group: g.or_else(|| {
                        words
                            .get(2)
                            .map(|g| g.text.trim_start_matches(':').to_string())
                    }),
                }
            });
            if words.len() > 3 {
                self.push(
                    Severity::Warning,
                    "extra-arguments",
                    n.span,
                    Some(&kw),
                    "extra words after the user and group are ignored".into(),
                    None,
                );
            }
            (words[0].text.to_string(), args, user)
        } else {
            let args: Vec<String> = words.iter().map(|w| w.text.to_string()).collect();
            (args.join(" "), args, None)
        };
        if args.is_empty() || args[0].is_empty() {
            self.push(
                Severity::Error,
                "invalid-value",
                n.span,
                Some(&kw),
                "empty command".into(),
                None,
            );
            return None;
        }
        Some(Script {
            command,
            args,
            user,
            span: n.span,
        })
    }

    /// `NAME [weight W] [reverse|noreverse]` entries of a track_* block.
    pub(crate) fn track_refs(&mut self, n: &Node<'_>, wmin: i32, wmax: i32) -> Vec<TrackRef> {
        let mut out = Vec::new();
        let Some(body) = self.body(n) else {
            return out;
        };
        for e in body {
            if e.block.is_some() {
                self.no_block(e);
                continue;
            }
            let mut t = TrackRef {
                name: e.kw().text.to_string(),
                weight: None,
                reverse: false,
                span: e.span,
            };
            let mut i = 0;
            while i < e.args().len() {
                match e.args()[i].text.as_str() {
                    "weight" => {
                        match e
                            .arg(i + 1)
                            .map(|w| parse_int(w, i64::from(wmin), i64::from(wmax)))
                        {
                            Some(Ok(w)) => t.weight = Some(w as i32),
                            Some(Err(msg)) => {
                                self.invalid(e, i + 1, format!("weight: {msg}; ignored"))
                            }
                            None => self.invalid(e, i, "weight without a value".into()),
                        }
                        i += 2;
                    }
                    "reverse" => {
                        t.reverse = true;
                        i += 1;
                    }
                    "noreverse" => i += 1,
                    other => {
                        let o = other.to_string();
                        self.invalid(
                            e,
                            i,
                            format!(
                                "unexpected word '{}' in track entry; ignored",
                                o.escape_debug()
                            ),
                        );
                        i += 1;
                    }
                }
            }
            out.push(t);
        }
        out
    }

    /// One `virtual_ipaddress`-style entry.
    pub(crate) fn vip(&mut self, e: &Node<'_>) -> Option<VirtualIpAddress> {
        if e.block.is_some() {
            self.no_block(e);
        }
        let text = e.kw().text.to_string();
        let (addr, prefix) = match parse_cidr(&text) {
            Ok(v) => v,
            Err(msg) => {
                self.push(
                    Severity::Error,
                    "invalid-address",
                    e.span,
                    Some(&text),
                    format!("{msg}; address ignored"),
                    None,
                );
                return None;
            }
        };
        let mut v = VirtualIpAddress {
            addr,
            prefix: prefix.unwrap_or(if addr.is_ipv4() { 32 } else { 128 }),
            text,
            brd: None,
            dev: None,
            scope: None,
            label: None,
            peer: None,
            use_vmac: false,
            no_track: false,
            preferred_lft: None,
            flags: Vec::new(),
            span: e.span,
        };
        let mut i = 0;
        while i < e.args().len() {
            let w = e.args()[i].text.as_str();
            let val = e.arg(i + 1).map(str::to_string);
            let need = |l: &mut Self, val: &Option<String>| {
                if val.is_none() {
                    l.invalid(e, i, format!("'{}' needs a value", w.escape_debug()));
                }
            };
            match w {
                "brd" => {
                    need(self, &val);
                    match val.as_deref() {
                        Some("+") => v.brd = Some(Broadcast::Plus),
                        Some("-") => v.brd = Some(Broadcast::Minus),
                        Some(b) => match b.parse() {
                            Ok(a) if addr.is_ipv4() => v.brd = Some(Broadcast::Addr(a)),
                            _ => self.invalid(
                                e,
                                i + 1,
                                format!("invalid broadcast '{}'", b.escape_debug()),
                            ),
                        },
                        None => {}
                    }
                    i += 2;
                }
                "dev" => {
                    need(self, &val);
                    v.dev = val;
                    i += 2;
                }
                "scope" => {
                    need(self, &val);
                    if let Some(s) = &val {
                        if !matches!(s.as_str(), "site" | "link" | "host" | "nowhere" | "global")
                            && s.parse::<u8>().is_err()
                        {
                            self.invalid(e, i + 1, format!("unknown scope '{}'", s.escape_debug()));
                        } else if addr.is_ipv6() {
                            self.invalid(e, i, "scope is ignored for IPv6 addresses".into());
                        } else {
                            v.scope = val.clone();
                        }
                    }
                    i += 2;
                }
                "label" => {
                    need(self, &val);
                    if addr.is_ipv6() {
                        self.invalid(e, i, "label is ignored for IPv6 addresses".into());
                    } else {
                        v.label = val;
                    }
                    i += 2;
                }
                "peer" => {
                    need(self, &val);
                    match val.as_deref().and_then(|p| parse_cidr(p).ok()) {
                        Some((p, _)) => v.peer = Some(p),
                        None if val.is_some() => {
                            self.invalid(e, i + 1, "invalid peer address".into())
                        }
                        None => {}
                    }
                    i += 2;
                }
                "preferred_lft" => {
                    need(self, &val);
                    v.preferred_lft = val;
                    i += 2;
                }
                "use_vmac" => {
                    v.use_vmac = true;
                    i += 1;
                }
                "no_track" => {
                    v.no_track = true;
                    i += 1;
                }
                "home" | "-nodad" | "nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" => {
                    v.flags.push(w.to_string());
                    i += 1;
                }
                "track_group" => i += 2,
                other => {
                    let o = other.to_string();
                    if o.starts_with("//") {
                        self.extra(e, i);
                        break;
                    }
                    self.invalid(
                        e,
                        i,
                        format!("unknown address option '{}'; ignored", o.escape_debug()),
                    );
                    i += 1;
                }
            }
        }
        Some(v)
    }

    pub(crate) fn track_file_def(&mut self, n: &Node<'_>) -> Option<TrackFileDef> {
        let name = self.block_name(n)?;
        let body = self.body(n)?;
        let mut t = TrackFileDef {
            name,
            weight: 1,
            span: n.span,
            ..Default::default()
        };
        for e in body {
            match e.name() {
                "file" => t.file = self.string(e),
                "weight" => {
                    if let Some(w) = e.arg(0).map(|w| parse_int(w, -254, 254)) {
                        match w {
                            Ok(w) => t.weight = w as i32,
                            Err(m) => self.invalid(e, 0, m),
                        }
                    }
                    t.reverse = e.arg(1) == Some("reverse");
                }
                "init_file" => {
                    t.init_file = Some(e.arg(0).and_then(|v| v.parse().ok()).unwrap_or(0))
                }
                _ => self.unknown(e, "track_file"),
            }
        }
        Some(t)
    }

    pub(crate) fn track_process_def(&mut self, n: &Node<'_>) -> Option<TrackProcessDef> {
        let name = self.block_name(n)?;
        let body = self.body(n)?;
        let mut t = TrackProcessDef {
            name,
            quorum: 1,
            span: n.span,
            ..Default::default()
        };
        for e in body {
            match e.name() {
                "process" => t.process = e.args().iter().map(|w| w.text.to_string()).collect(),
                "weight" => {
                    if let Some(w) = e.arg(0).map(|w| parse_int(w, -254, 254)) {
                        match w {
                            Ok(w) => t.weight = w as i32,
                            Err(m) => self.invalid(e, 0, m),
                        }
                    }
                    t.reverse = e.arg(1) == Some("reverse");
                }
                "quorum" => t.quorum = self.u32_(e, 0, u32::MAX).unwrap_or(1),
                "quorum_max" => t.quorum_max = self.u32_(e, 0, u32::MAX),
                "param_match" | "delay" | "fork_delay" | "terminate_delay" | "full_command" => {}
                _ => self.unknown(e, "vrrp_track_process"),
            }
        }
        Some(t)
    }

    /// The NAME of `block NAME {`.
    pub(crate) fn block_name(&mut self, n: &Node<'_>) -> Option<String> {
        match n.arg(0) {
            Some(a) => {
                if n.args().len() > 1 {
                    let kw = n.kw().text.to_string();
                    self.push(
                        Severity::Warning,
                        "extra-arguments",
                        n.arg_span(1),
                        Some(&kw),
                        "block has extra parameters; ignored".into(),
                        None,
                    );
                }
                Some(a.to_string())
            }
            None => {
                let kw = n.kw().text.to_string();
                self.push(
                    Severity::Error,
                    "missing-parameter",
                    n.span,
                    Some(&kw),
                    "block needs a name; ignored".into(),
                    None,
                );
                None
            }
        }
    }
}
