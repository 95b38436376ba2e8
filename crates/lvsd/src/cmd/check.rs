//! `lvsd check` / `lvsd -t`: read keepalived.conf files, print what is wrong
//! or surprising, exit 0 (no errors), 1 (errors) or 2 (a file cannot be read).
//!
//! Everything about the configuration language lives in `lvs-config`; this
//! module adds the host checks (interfaces, scripts), the output formats and
//! the exit code. File names and config text are only ever format
//! *arguments*.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lvs_config::{lint, Config, Diagnostic, FsSource, LoadOptions, Loaded, Script, Severity};

/// Default configuration file, as keepalived's.
const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";

/// Arguments of `lvsd check`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration file(s); default /etc/keepalived/keepalived.conf. Several
    /// files (a director pair) are also cross-checked against each other.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Print one JSON document (normalized model + diagnostics) instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Treat warnings as errors (exit 1).
    #[arg(long)]
    pub(crate) strict: bool,
    /// Skip host checks (interfaces exist, scripts exist and are safe to run).
    #[arg(long)]
    pub(crate) offline: bool,
    /// Config-id for `@ID` lines (keepalived -i); default: the short host name.
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub(crate) config_id: Option<String>,
}

impl Args {
    /// The arguments `lvsd -t [-f FILE]` stands for.
    pub(crate) fn config_test(files: Vec<PathBuf>) -> Self {
        Self {
            files,
            json: false,
            strict: false,
            offline: false,
            config_id: None,
        }
    }
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let files = if args.files.is_empty() {
        vec![PathBuf::from(DEFAULT_CONFIG)]
    } else {
        args.files.clone()
    };
    let opts = LoadOptions {
        config_id: args.config_id.clone(),
        instance: None,
    };
    let mut loaded: Vec<Loaded> = Vec::new();
    let mut unreadable: Vec<Diagnostic> = Vec::new();
    for f in &files {
        match lvs_config::load_with(&FsSource, f, &opts) {
            Ok(mut l) => {
                let mut extra = Vec::new();
                route_checks(&l.config, &l, &mut extra);
                if !args.offline {
                    host_checks(&l.config, &l, &mut extra);
                }
                l.diagnostics.extend(extra);
                loaded.push(l);
            }
            Err(e) => unreadable.push(Diagnostic {
                severity: Severity::Error,
                code: "unreadable",
                file: Some(f.to_string_lossy().into_owned()),
                line: 0,
                col: 0,
                keyword: None,
                message: e.to_string(),
                hint: None,
            }),
        }
    }
    let refs: Vec<&Loaded> = loaded.iter().collect();
    let cross = if refs.len() > 1 {
        lint::cross_check(&refs)
    } else {
        Vec::new()
    };
    let all: Vec<&Diagnostic> = unreadable
        .iter()
        .chain(loaded.iter().flat_map(|l| l.diagnostics.iter()))
        .chain(cross.iter())
        .collect();
    let count = |s: Severity| all.iter().filter(|d| d.severity == s).count();
    let (errors, warnings, notes) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Note),
    );
    let code = if !unreadable.is_empty() {
        2
    } else if errors > 0 || (args.strict && warnings > 0) {
        1
    } else {
        0
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let doc = json_document(&files, &loaded, &all, code, errors, warnings, notes)?;
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        for d in &all {
            writeln!(out, "{d}")?;
        }
        for l in &loaded {
            let rs: usize = l
                .config
                .virtual_servers
                .iter()
                .map(|v| v.real_servers.len())
                .sum();
            writeln!(
                out,
                "{}: {} vrrp_instance, {} virtual_server, {} real_server",
                l.files
                    .first()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                l.config.vrrp_instances.len(),
                l.config.virtual_servers.len(),
                rs
            )?;
        }
        writeln!(
            out,
            "{errors} error(s), {warnings} warning(s), {notes} note(s){}",
            if args.strict && warnings > 0 && errors == 0 {
                " (warnings are errors with --strict)"
            } else {
                ""
            }
        )?;
    }
    Ok(ExitCode::from(code))
}

/// The `--json` document (schema in docs/config.md).
fn json_document(
    files: &[PathBuf],
    loaded: &[Loaded],
    all: &[&Diagnostic],
    exit_code: u8,
    errors: usize,
    warnings: usize,
    notes: usize,
) -> anyhow::Result<serde_json::Value> {
    use serde_json::{json, Value};
    let mut vrrp = Vec::new();
    let mut vss = Vec::new();
    let mut configs = Vec::new();
    for (i, l) in loaded.iter().enumerate() {
        for v in &l.config.vrrp_instances {
            let mut x = serde_json::to_value(v)?;
            if let Value::Object(m) = &mut x {
                m.insert("config".into(), json!(i));
            }
            vrrp.push(x);
        }
        for v in &l.config.virtual_servers {
            let mut x = serde_json::to_value(v)?;
            if let Value::Object(m) = &mut x {
                m.insert("config".into(), json!(i));
            }
            vss.push(x);
        }
        let mut c = serde_json::to_value(&l.config)?;
        if let Value::Object(m) = &mut c {
            m.remove("vrrp_instances");
            m.remove("virtual_servers");
            m.insert(
                "files".into(),
                json!(l
                    .files
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()),
            );
        }
        configs.push(c);
    }
    Ok(json!({
        "format": "lvsd-check/1",
        "files": files.iter().map(|p| p.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "exit_code": exit_code,
        "summary": { "errors": errors, "warnings": warnings, "notes": notes },
        "vrrp_instances": vrrp,
        "virtual_servers": vss,
        "configs": configs,
        "diagnostics": all,
    }))
}

/// Host checks: named interfaces exist; scripts exist, are executable and
/// safe to run as root (keepalived's `check_script_secure`). Warnings.
fn host_checks(cfg: &Config, l: &Loaded, out: &mut Vec<Diagnostic>) {
    let mut ifaces: BTreeSet<(String, lvs_config::Span, &'static str)> = BTreeSet::new();
    for v in &cfg.vrrp_instances {
        if let Some(i) = &v.interface {
            ifaces.insert((i.clone(), v.span, "interface"));
        }
        for t in &v.track_interface {
            ifaces.insert((t.name.clone(), t.span, "track_interface"));
        }
        for a in v
            .virtual_ipaddress
            .iter()
            .chain(&v.virtual_ipaddress_excluded)
        {
            if let Some(d) = &a.dev {
                ifaces.insert((d.clone(), a.span, "dev"));
            }
        }
    }
    if let Some(s) = &cfg.global_defs.lvs_sync_daemon {
        ifaces.insert((s.interface.clone(), s.span, "lvs_sync_daemon"));
    }
    for (name, span, kw) in ifaces {
        let exists = !name.contains('/')
            && name != "."
            && name != ".."
            && Path::new("/sys/class/net").join(&name).exists();
        if !exists {
            out.push(host_diag(
                l,
                span,
                kw,
                format!("interface '{}' does not exist on this host", name.escape_debug()),
                Some("check the name with 'ip link', or use --offline when checking for another host".into()),
            ));
        }
    }
    let mut scripts: Vec<(&Script, &'static str)> = Vec::new();
    for s in &cfg.vrrp_scripts {
        if let Some(x) = &s.script {
            scripts.push((x, "script"));
        }
    }
    for v in &cfg.vrrp_instances {
        for (x, k) in [
            (&v.notify_master, "notify_master"),
            (&v.notify_backup, "notify_backup"),
            (&v.notify_fault, "notify_fault"),
            (&v.notify_stop, "notify_stop"),
            (&v.notify_deleted, "notify_deleted"),
            (&v.notify, "notify"),
            (&v.notify_master_rx_lower_pri, "notify_master_rx_lower_pri"),
        ] {
            if let Some(x) = x {
                scripts.push((x, k));
            }
        }
    }
    for g in &cfg.vrrp_sync_groups {
        for (x, k) in [
            (&g.notify_master, "notify_master"),
            (&g.notify_backup, "notify_backup"),
            (&g.notify_fault, "notify_fault"),
            (&g.notify_stop, "notify_stop"),
            (&g.notify, "notify"),
        ] {
            if let Some(x) = x {
                scripts.push((x, k));
            }
        }
    }
    for vs in &cfg.virtual_servers {
        for (x, k) in [
            (&vs.quorum_up, "quorum_up"),
            (&vs.quorum_down, "quorum_down"),
        ] {
            if let Some(x) = x {
                scripts.push((x, k));
            }
        }
        for rs in &vs.real_servers {
            for (x, k) in [
                (&rs.notify_up, "notify_up"),
                (&rs.notify_down, "notify_down"),
            ] {
                if let Some(x) = x {
                    scripts.push((x, k));
                }
            }
            for c in &rs.checkers {
                if let lvs_config::Checker::MiscCheck(m) = c {
                    if let Some(x) = &m.misc_path {
                        scripts.push((x, "misc_path"));
                    }
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (s, kw) in scripts {
        let Some(prog) = s.args.first() else { continue };
        if !seen.insert((prog.clone(), s.span)) {
            continue;
        }
        if let Some(problem) = script_problem(prog) {
            let mut d = host_diag(
                l,
                s.span,
                kw,
                problem,
                Some("keepalived refuses or warns about such scripts (enable_script_security disables them)".into()),
            );
            if cfg.global_defs.enable_script_security {
                // lvsd run disables it (daemon/vrrp.rs, lvs_sys::script::check_script_secure).
                d.severity = Severity::Error;
                d.hint = Some(
                    "enable_script_security is set: this script is disabled at start and reload"
                        .into(),
                );
            }
            out.push(d);
        }
    }
}

/// `virtual_routes` / `virtual_rules` / `static_routes` / `static_rules`
/// entries `lvsd run` cannot install (parsed as the VRRP driver does, with
/// `lvs_sys::route`): reported with file:line, as the driver skips them.
fn route_checks(cfg: &Config, l: &Loaded, out: &mut Vec<Diagnostic>) {
    use lvs_sys::route::{RouteSpec, RuleSpec};
    let mut lines: Vec<(&lvs_config::RawLine, &'static str, bool)> = Vec::new();
    for v in &cfg.vrrp_instances {
        lines.extend(v.virtual_routes.iter().map(|x| (x, "virtual_routes", true)));
        lines.extend(v.virtual_rules.iter().map(|x| (x, "virtual_rules", false)));
    }
    lines.extend(cfg.static_routes.iter().map(|x| (x, "static_routes", true)));
    lines.extend(cfg.static_rules.iter().map(|x| (x, "static_rules", false)));
    for (line, kw, route) in lines {
        let r = if route {
            RouteSpec::parse(&line.words).map(drop)
        } else {
            RuleSpec::parse(&line.words).map(drop)
        };
        if let Err(e) = r {
            let mut d = host_diag(
                l,
                line.span,
                kw,
                format!("{e}: lvsd ignores this entry"),
                Some("lvsd supports the ip route / ip rule options keepalived's examples use most (to, via, dev, src, table, metric, scope, proto, onlink; from, to, iif, oif, fwmark, tos, table, priority, goto, not)".into()),
            );
            d.code = "unsupported";
            out.push(d);
        }
    }
}

fn host_diag(
    l: &Loaded,
    span: lvs_config::Span,
    kw: &str,
    message: String,
    hint: Option<String>,
) -> Diagnostic {
    Diagnostic {
        severity: Severity::Warning,
        code: "host",
        file: l.file_of(span).map(|p| p.to_string_lossy().into_owned()),
        line: span.line,
        col: span.col,
        keyword: Some(kw.to_string()),
        message,
        hint,
    }
}

/// What is wrong with running `prog` as root, if anything.
fn script_problem(prog: &str) -> Option<String> {
    let path = Path::new(prog);
    if !path.is_absolute() {
        // keepalived searches PATH for bare names; only check absolute paths.
        return None;
    }
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Some(format!("script {} cannot be used: {e}", path.display())),
    };
    if !meta.is_file() {
        return Some(format!("script {} is not a regular file", path.display()));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Some(format!("script {} is not executable", path.display()));
    }
    // Every component must be owned by root and not writable by group/other
    // (directories with the sticky bit excepted).
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut cur = PathBuf::new();
    for comp in real.components() {
        cur.push(comp);
        let Ok(m) = std::fs::metadata(&cur) else {
            continue;
        };
        let mode = m.permissions().mode();
        let sticky = m.is_dir() && mode & 0o1000 != 0;
        if m.uid() != 0 {
            return Some(format!(
                "unsafe script {}: {} is owned by uid {}, not root, so that user could change what runs as root",
                path.display(),
                cur.display(),
                m.uid()
            ));
        }
        if mode & 0o022 != 0 && !sticky && !(mode & 0o020 != 0 && m.gid() == 0 && mode & 0o002 == 0)
        {
            return Some(format!(
                "unsafe script {}: {} is {}-writable (mode {:04o})",
                path.display(),
                cur.display(),
                if mode & 0o002 != 0 { "world" } else { "group" },
                mode & 0o7777
            ));
        }
    }
    None
}
