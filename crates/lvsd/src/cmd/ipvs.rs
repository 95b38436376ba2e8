//! `lvsd ipvs ...`: program the kernel's IPVS from keepalived.conf and show it
//! exactly as ipvsadm does.
//!
//! * `apply -f CONFIG`: reconcile once (adopt, edit in place, remove only what
//!   lvsd owns, `lvs_flush`, `lvs_timeouts`, `lvs_sync_daemon`) and exit.
//!   Ownership is remembered in a state file (default
//!   `/run/lvsd/ipvs-state.json`).
//! * `list [-n] [--stats|--rate|--thresholds|--persistent-conn|--tun-info|--timeout|--daemon]`
//!   = `ipvsadm -L[n] ...`; `conns [-n]` = `ipvsadm -Lc[n]`; `save [-n]` =
//!   `ipvsadm -S [-n]`. Each takes `--json`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use lvs_config::{FsSource, LoadOptions, Severity};
use lvs_ipvs::admin::{AdminError, IpvsBackend};
use lvs_ipvs::ipvsadm::{self, FilesResolver, ListFormat, NumericOnly, Resolver, View};
use lvs_ipvs::reconcile::{self, Ownership};
use lvs_sys::ipvs::KernelIpvs;

use crate::lower_ipvs_admin::desired_from_config;

const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";
const DEFAULT_STATE: &str = "/run/lvsd/ipvs-state.json";

/// `lvsd ipvs` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Reconcile the configuration's virtual servers into the kernel once and exit.
    Apply(ApplyArgs),
    /// List virtual services (like `ipvsadm -L`).
    List(ListArgs),
    /// List connection entries (like `ipvsadm -Lc`).
    Conns(ConnsArgs),
    /// Print the table as ipvsadm rules (like `ipvsadm -S`).
    Save(SaveArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    /// keepalived.conf to apply.
    #[arg(short = 'f', long = "file", value_name = "FILE", default_value = DEFAULT_CONFIG)]
    file: PathBuf,
    /// Where lvsd remembers what it created (ownership across restarts).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE)]
    state_file: PathBuf,
    /// Print the plan without changing the kernel.
    #[arg(long)]
    dry_run: bool,
    /// Config-id for `@ID` lines (keepalived -i).
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    config_id: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Print each operation.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// Numeric output of addresses and ports.
    #[arg(short = 'n', long)]
    numeric: bool,
    /// Counters (`--stats`).
    #[arg(long, group = "view")]
    stats: bool,
    /// Rates (`--rate`).
    #[arg(long, group = "view")]
    rate: bool,
    /// Upper/lower thresholds (`--thresholds`).
    #[arg(long, group = "view")]
    thresholds: bool,
    /// Persistent connection counters (`--persistent-conn`).
    #[arg(long, group = "view")]
    persistent_conn: bool,
    /// Tunnel information (`--tun-info`).
    #[arg(long, group = "view")]
    tun_info: bool,
    /// Protocol timeouts (`--timeout`).
    #[arg(long, group = "view")]
    timeout: bool,
    /// Sync daemons (`--daemon`).
    #[arg(long, group = "view")]
    daemon: bool,
    /// Exact numbers, no K/M/G (`--exact`).
    #[arg(long)]
    exact: bool,
    /// Kernel order instead of sorted (`--nosort`).
    #[arg(long)]
    nosort: bool,
    /// Print JSON instead of ipvsadm text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ConnsArgs {
    /// Numeric output.
    #[arg(short = 'n', long)]
    numeric: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SaveArgs {
    /// Numeric output.
    #[arg(short = 'n', long)]
    numeric: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Apply(a) => apply(a),
        Command::List(a) => list(a),
        Command::Conns(a) => conns(a),
        Command::Save(a) => save(a),
    }
}

fn open() -> anyhow::Result<KernelIpvs> {
    KernelIpvs::open().map_err(|e| match e {
        AdminError::Permission => {
            anyhow::anyhow!("cannot talk to IPVS: permission denied (CAP_NET_ADMIN required)")
        }
        e => anyhow::anyhow!("cannot talk to IPVS: {e}"),
    })
}

fn resolver(numeric: bool) -> Box<dyn Resolver> {
    if numeric {
        Box::new(NumericOnly)
    } else {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let services = std::fs::read_to_string("/etc/services").unwrap_or_default();
        Box::new(FilesResolver::from_texts(&hosts, &services))
    }
}

fn out(text: &str) -> anyhow::Result<ExitCode> {
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|_| o.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}

fn json<T: serde::Serialize>(v: &T) -> anyhow::Result<ExitCode> {
    out(&(serde_json::to_string_pretty(v)? + "\n"))
}

fn read_table(k: &mut KernelIpvs) -> anyhow::Result<Vec<ipvsadm::ServiceWithDests>> {
    let svcs = k.services().context("listing services")?;
    let mut v = Vec::with_capacity(svcs.len());
    for s in svcs {
        let d = k
            .dests(&s.service.key)
            .with_context(|| format!("listing destinations of {}", s.service.key))?;
        v.push((s, d));
    }
    Ok(v)
}

#[derive(serde::Serialize)]
struct JsonService<'a> {
    #[serde(flatten)]
    service: &'a lvs_ipvs::admin::ServiceEntry,
    dests: &'a [lvs_ipvs::admin::DestEntry],
}

fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let mut k = open()?;
    if a.timeout {
        let t = k.timeouts().context("reading timeouts")?;
        return if a.json {
            json(&t)
        } else {
            out(&ipvsadm::timeout(&t))
        };
    }
    if a.daemon {
        let d = k.daemons().context("reading sync daemons")?;
        return if a.json {
            json(&d)
        } else {
            out(&ipvsadm::daemons(&d))
        };
    }
    let info = k.info().context("reading IPVS info")?;
    let table = read_table(&mut k)?;
    if a.json {
        #[derive(serde::Serialize)]
        struct L<'a> {
            version: String,
            conn_tab_size: u32,
            services: Vec<JsonService<'a>>,
        }
        return json(&L {
            version: info.version_string(),
            conn_tab_size: info.conn_tab_size,
            services: table
                .iter()
                .map(|(s, d)| JsonService {
                    service: s,
                    dests: d,
                })
                .collect(),
        });
    }
    let view = if a.stats {
        View::Stats
    } else if a.rate {
        View::Rate
    } else if a.thresholds {
        View::Thresholds
    } else if a.persistent_conn {
        View::PersistentConn
    } else if a.tun_info {
        View::TunInfo
    } else {
        View::Default
    };
    let f = ListFormat {
        view,
        exact: a.exact,
        nosort: a.nosort,
    };
    out(&ipvsadm::list(
        &info,
        &table,
        &f,
        resolver(a.numeric).as_ref(),
    ))
}

fn conns(a: ConnsArgs) -> anyhow::Result<ExitCode> {
    let mut k = open()?;
    let c = k.connections().context("reading /proc/net/ip_vs_conn")?;
    if a.json {
        return json(&c);
    }
    out(&ipvsadm::conns(&c, resolver(a.numeric).as_ref()))
}

fn save(a: SaveArgs) -> anyhow::Result<ExitCode> {
    let mut k = open()?;
    let table = read_table(&mut k)?;
    if a.json {
        let v: Vec<JsonService<'_>> = table
            .iter()
            .map(|(s, d)| JsonService {
                service: s,
                dests: d,
            })
            .collect();
        return json(&v);
    }
    out(&ipvsadm::save(&table, false, resolver(a.numeric).as_ref()))
}

fn load_state(path: &Path) -> anyhow::Result<Ownership> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .with_context(|| format!("{}: not a valid lvsd IPVS state file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ownership::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn save_state(path: &Path, own: &Ownership) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(own)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

fn apply(a: ApplyArgs) -> anyhow::Result<ExitCode> {
    let t0 = Instant::now();
    let opts = LoadOptions {
        config_id: a.config_id.clone(),
        instance: None,
    };
    let loaded = lvs_config::load_with(&FsSource, &a.file, &opts)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
    for d in &loaded.diagnostics {
        if d.severity == Severity::Error {
            eprintln!("{d}");
        }
    }
    let (desired, notes) = desired_from_config(&loaded.config);
    for n in &notes {
        eprintln!("{}: warning: {}", a.file.display(), n.message);
    }
    let owned = load_state(&a.state_file)?;
    let mut k = open()?;
    let actual = reconcile::read_actual(&mut k).context("reading the kernel's IPVS state")?;
    let t_read = t0.elapsed();
    let plan = reconcile::plan(&desired, &actual, &owned);
    if a.dry_run {
        if a.json {
            return json(&plan.ops);
        }
        let mut s = String::new();
        for op in &plan.ops {
            s.push_str(&op.to_string());
            s.push('\n');
        }
        return out(&s);
    }
    let results = reconcile::execute(&mut k, &plan);
    let own = reconcile::ownership_after(&plan, &owned, &results);
    save_state(&a.state_file, &own)?;
    let failed: Vec<&reconcile::OpResult> = results.iter().filter(|r| r.result.is_err()).collect();
    let elapsed = t0.elapsed();
    if a.json {
        #[derive(serde::Serialize)]
        struct R<'a> {
            ops: &'a [reconcile::Op],
            failed: Vec<String>,
            adopted_services: usize,
            adopted_dests: usize,
            read_ms: f64,
            total_ms: f64,
        }
        json(&R {
            ops: &plan.ops,
            failed: failed
                .iter()
                .map(|r| {
                    format!(
                        "{}: {}",
                        r.op,
                        r.result
                            .as_ref()
                            .err()
                            .map(|e| e.to_string())
                            .unwrap_or_default()
                    )
                })
                .collect(),
            adopted_services: plan.adopted_services,
            adopted_dests: plan.adopted_dests,
            read_ms: t_read.as_secs_f64() * 1e3,
            total_ms: elapsed.as_secs_f64() * 1e3,
        })?;
    } else {
        if a.verbose {
            for r in &results {
                match &r.result {
                    Ok(()) => eprintln!("{}", r.op),
                    Err(e) => eprintln!("{}: FAILED: {e}", r.op),
                }
            }
        }
        for r in &failed {
            if let Err(e) = &r.result {
                eprintln!("lvsd: {}: {e}", r.op);
            }
        }
        eprintln!(
            "lvsd ipvs apply: {} operation(s), {} failed, {} service(s) and {} destination(s) adopted, {:.1} ms",
            plan.ops.len(),
            failed.len(),
            plan.adopted_services,
            plan.adopted_dests,
            elapsed.as_secs_f64() * 1e3
        );
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
