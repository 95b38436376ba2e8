//! The lab's scripted story: each step acts on the lab and checks what the directors did.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::render::{frame, StepState, View};
use super::topology::{Topology, CLIENTS, CLIENT_BASE, DIRECTORS, REAL_SERVERS, VIP};
use super::{conf, Args};

const STEPS: [&str; 6] = [
    "VRRP election: dir1 (priority 101) becomes MASTER and holds the VIP",
    "load balancing: rr spreads new clients, each client sticks to one real server",
    "persistence: the template outlives persistence_timeout (60 s re-arm)",
    "failover: kill -9 the master, the backup takes over, clients stay put",
    "the master returns and takes the VIP back (preempt)",
    "health check: a real server fails TCP_CHECK, traffic moves, it returns",
];

struct Lab {
    topo: Topology,
    exe: PathBuf,
    dataplane: String,
    view: View,
    tui: bool,
    start: Instant,
    stop: Arc<AtomicBool>,
    /// Real server name by address.
    rs_names: BTreeMap<Ipv4Addr, &'static str>,
}

fn client(i: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(CLIENT_BASE) + u32::from(i))
}

impl Lab {
    fn sock(&self, dir: &str) -> PathBuf {
        self.topo.dir.join(format!("{dir}.sock"))
    }

    fn event(&mut self, msg: impl Into<String>) {
        let msg = format!(
            "[{:6.1}s] {}",
            self.start.elapsed().as_secs_f64(),
            msg.into()
        );
        if !self.tui {
            println!("{msg}");
        }
        self.view.events.push(msg);
        self.refresh();
    }

    fn refresh(&mut self) {
        self.view.elapsed = self.start.elapsed().as_secs_f64();
        if self.tui {
            print!("\x1b[2J\x1b[H{}", frame(&self.view, 8));
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
        }
    }

    fn interrupted(&self) -> Result<()> {
        if self.stop.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        Ok(())
    }

    fn sleep(&self, d: Duration) -> Result<()> {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.interrupted()?;
            std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
        }
        Ok(())
    }

    /// One request to director `dir`'s control socket; the reply when it says `ok`.
    fn control(&self, dir: &str, req: &Value) -> Option<Value> {
        let reply = crate::cmd::status::request(&self.sock(dir), req).ok()?;
        (reply.get("ok") == Some(&Value::Bool(true))).then_some(reply)
    }

    fn status(&self, dir: &str) -> Option<Value> {
        self.control(dir, &serde_json::json!({"cmd": "status"}))?
            .get("status")
            .cloned()
    }

    fn vrrp_state(&self, dir: &str) -> Option<(String, i64)> {
        let st = self.status(dir)?;
        let vi = st.get("vrrp_instances")?.as_array()?.first()?.clone();
        Some((
            vi.get("state")?.as_str()?.to_string(),
            vi.get("priority")?.as_i64()?,
        ))
    }

    fn rs_alive(&self, dir: &str, rs: Ipv4Addr) -> Option<bool> {
        let st = self.status(dir)?;
        for vs in st.get("virtual_servers")?.as_array()? {
            for r in vs.get("real_servers")?.as_array()? {
                if r.get("address")?.as_str()? == rs.to_string() {
                    return r.get("alive")?.as_bool();
                }
            }
        }
        None
    }

    fn conns(&self, dir: &str) -> Vec<String> {
        self.control(dir, &serde_json::json!({"cmd": "conns"}))
            .and_then(|r| {
                r.get("conns")?.as_array().map(|a| {
                    a.iter()
                        .filter_map(|l| l.as_str().map(str::to_string))
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    fn explain(&self, dir: &str, c: Ipv4Addr) -> Vec<String> {
        let req = serde_json::json!({"cmd": "explain", "client": c.to_string()});
        self.control(dir, &req)
            .and_then(|r| {
                r.get("explain")?
                    .get("text")?
                    .as_str()
                    .map(|t| t.lines().map(str::to_string).collect())
            })
            .unwrap_or_default()
    }

    /// Refresh the VRRP, table and explanation panes from the directors.
    fn observe(&mut self, watched: Ipv4Addr) {
        let mut vrrp = Vec::new();
        let mut master = None;
        for (dir, _, _) in DIRECTORS {
            let (state, prio) = self
                .vrrp_state(dir)
                .unwrap_or_else(|| ("down".to_string(), 0));
            if state == "MASTER" && master.is_none() {
                master = Some(dir);
            }
            vrrp.push((dir.to_string(), state, prio));
        }
        self.view.vrrp = vrrp;
        if let Some(m) = master {
            self.view.conns = self.conns(m);
            self.view.explain = self.explain(m, watched);
            for (name, addr) in REAL_SERVERS {
                let up = self.rs_alive(m, addr).unwrap_or(false);
                if let Some(e) = self.view.per_rs.iter_mut().find(|e| e.0 == name) {
                    e.2 = up;
                }
            }
        }
        self.refresh();
    }

    /// One HTTP request from client `i` through the VIP; the answering real server's name.
    fn request(&mut self, i: u8) -> Result<String> {
        let out = self
            .topo
            .exec_in("client", &self.exe)
            .args(["lab", "--get", &format!("{VIP}:80"), "--bind"])
            .arg(client(i).to_string())
            .stdin(Stdio::null())
            .output()
            .context("cannot run the lab client")?;
        if !out.status.success() {
            bail!(
                "request from {} failed: {}",
                client(i),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if let Some(e) = self.view.per_rs.iter_mut().find(|e| e.0 == name) {
            e.1 += 1;
        }
        Ok(name)
    }

    /// Retry `f` every 200 ms until it returns Some or `timeout` passes.
    fn wait_for<T>(
        &mut self,
        timeout: Duration,
        mut f: impl FnMut(&mut Self) -> Option<T>,
    ) -> Result<Option<T>> {
        let end = Instant::now() + timeout;
        loop {
            self.interrupted()?;
            if let Some(v) = f(self) {
                return Ok(Some(v));
            }
            if Instant::now() > end {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(200));
            self.refresh();
        }
    }

    fn start_director(&mut self, i: usize) -> Result<()> {
        let (dir, _, _) = DIRECTORS[i];
        let conf = self.topo.dir.join(format!("{dir}.conf"));
        let pid = self.topo.dir.join(format!("{dir}.pid"));
        let sock = self.sock(dir);
        let _ = std::fs::remove_file(&sock);
        let args: Vec<String> = vec![
            "run".into(),
            "-n".into(),
            "-l".into(),
            "-f".into(),
            conf.display().to_string(),
            "-p".into(),
            pid.display().to_string(),
            "--control-socket".into(),
            sock.display().to_string(),
            "--dataplane".into(),
            self.dataplane.clone(),
        ];
        let log = self.topo.dir.join(format!("{dir}.log"));
        let exe = self.exe.clone();
        let pid = self
            .topo
            .spawn(&format!("{dir}-lvsd"), dir, &exe, &args, &log)?;
        self.event(format!("started lvsd on {dir} (pid {pid})"));
        Ok(())
    }

    fn start_rs(&mut self, name: &'static str) -> Result<()> {
        let exe = self.exe.clone();
        let log = self.topo.dir.join(format!("{name}-http.log"));
        self.topo.spawn(
            &format!("{name}-http"),
            name,
            &exe,
            &[
                "lab".into(),
                "--serve".into(),
                name.into(),
                "--listen".into(),
                "0.0.0.0:80".into(),
            ],
            &log,
        )?;
        Ok(())
    }

    // ---- the steps -------------------------------------------------------------------------

    fn step_election(&mut self) -> Result<Option<String>> {
        let got = self.wait_for(Duration::from_secs(20), |lab| {
            lab.observe(client(0));
            let s1 = lab.vrrp_state("dir1")?;
            let s2 = lab.vrrp_state("dir2")?;
            (s1.0 == "MASTER" && s2.0 == "BACKUP").then_some(())
        })?;
        if got.is_none() {
            return Ok(Some(format!("VRRP states: {:?}", self.view.vrrp)));
        }
        self.event("dir1 is MASTER, dir2 is BACKUP");
        let ok = self.wait_for(Duration::from_secs(10), |lab| lab.request(0).ok())?;
        match ok {
            Some(rs) => {
                self.event(format!("{} → VIP answered by {rs}", client(0)));
                Ok(None)
            }
            None => Ok(Some("the VIP does not answer HTTP".into())),
        }
    }

    fn step_balancing(&mut self) -> Result<Option<String>> {
        let mut by_client: BTreeMap<u8, BTreeSet<String>> = BTreeMap::new();
        for round in 0..2 {
            for i in 0..CLIENTS {
                let rs = self.request(i)?;
                if round == 0 {
                    self.event(format!("{} → {rs}", client(i)));
                }
                by_client.entry(i).or_default().insert(rs);
            }
        }
        self.observe(client(0));
        let used: BTreeSet<&String> = by_client.values().flatten().collect();
        if let Some((i, set)) = by_client.iter().find(|(_, s)| s.len() != 1) {
            return Ok(Some(format!(
                "client {} was not persistent: {set:?}",
                client(*i)
            )));
        }
        if used.len() != REAL_SERVERS.len() {
            return Ok(Some(format!("rr used only {used:?}")));
        }
        self.event(format!(
            "{} clients spread over {} real servers; every client kept its server",
            CLIENTS,
            used.len()
        ));
        Ok(None)
    }

    fn master(&self) -> Option<&'static str> {
        DIRECTORS
            .iter()
            .map(|d| d.0)
            .find(|d| self.vrrp_state(d).is_some_and(|s| s.0 == "MASTER"))
    }

    /// Seconds left on the persistence template of client `c` on `dir`, from `ipvsadm -lnc`.
    fn template_expire(&self, dir: &str, c: Ipv4Addr) -> Option<u32> {
        let key = format!("{c}:0");
        self.conns(dir).iter().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 6 && f[3] == key).then(|| {
                let (m, s) = f[1].split_once(':')?;
                Some(m.parse::<u32>().ok()? * 60 + s.parse::<u32>().ok()?)
            })?
        })
    }

    fn step_persistence(&mut self) -> Result<Option<String>> {
        let c = client(0);
        let first = self.request(0)?;
        self.request(0)?;
        self.request(0)?;
        self.event(format!(
            "{c}: 3 requests → {first}; persistence_timeout {}s, lvs_timeouts tcpfin {}s",
            conf::PERSISTENCE_TIMEOUT,
            conf::TCPFIN_TIMEOUT
        ));
        self.observe(c);
        let Some(m) = self.master() else {
            return Ok(Some("no MASTER".into()));
        };
        // Wait past persistence_timeout: the template's FIN_WAIT entries keep it, and the
        // kernel re-arms it for 60 s.
        self.sleep(Duration::from_secs(
            u64::from(conf::PERSISTENCE_TIMEOUT) + 1,
        ))?;
        self.observe(c);
        let exp = self.template_expire(m, c);
        self.event(format!(
            "after {}s the template still exists, expire {}",
            conf::PERSISTENCE_TIMEOUT + 1,
            exp.map_or("-".into(), |e| format!("{e}s"))
        ));
        for line in self.view.explain.clone() {
            self.event(format!("  lvsd explain: {line}"));
        }
        match exp {
            Some(e) if e > conf::PERSISTENCE_TIMEOUT + 10 => {}
            other => {
                return Ok(Some(format!(
                    "expected the template re-armed to ~60 s, saw {other:?}"
                )))
            }
        }
        self.sleep(Duration::from_secs(u64::from(conf::TCP_TIMEOUT)))?;
        let again = self.request(0)?;
        self.observe(c);
        self.event(format!(
            "{}s later {c} still goes to {again} (the re-armed template holds it)",
            conf::TCP_TIMEOUT + conf::PERSISTENCE_TIMEOUT + 1
        ));
        if again != first {
            return Ok(Some(format!("client moved from {first} to {again}")));
        }
        Ok(None)
    }

    fn step_health(&mut self) -> Result<Option<String>> {
        let c = client(0);
        let victim_name = self.request(0)?;
        let Some((&victim, &victim_name)) = self.rs_names.iter().find(|(_, n)| **n == victim_name)
        else {
            bail!("unknown real server {victim_name}");
        };
        let Some(m) = self.master() else {
            return Ok(Some("no MASTER".into()));
        };
        self.topo.kill(&format!("{victim_name}-http"), "KILL")?;
        self.event(format!(
            "stopped the HTTP server on {victim_name} ({victim})"
        ));
        let (dl, ct, retry, dbr) = conf::CHECK;
        let bound = retry * (ct + dbr) + dl + 3;
        let down = self.wait_for(Duration::from_secs(u64::from(bound)), |lab| {
            lab.observe(c);
            (lab.rs_alive(m, victim) == Some(false)).then_some(())
        })?;
        if down.is_none() {
            return Ok(Some(format!(
                "{victim_name} still alive after {bound}s (TCP_CHECK should fail)"
            )));
        }
        self.event(format!(
            "TCP_CHECK failed: {victim_name} left the virtual server"
        ));
        for i in 0..CLIENTS {
            let rs = self.request(i)?;
            if rs == victim_name {
                return Ok(Some(format!("{} still sent to {victim_name}", client(i))));
            }
        }
        let now = self.request(0)?;
        self.event(format!("{c} moved from {victim_name} to {now}"));
        self.start_rs(victim_name)?;
        let up = self.wait_for(Duration::from_secs(u64::from(bound)), |lab| {
            lab.observe(c);
            (lab.rs_alive(m, victim) == Some(true)).then_some(())
        })?;
        if up.is_none() {
            return Ok(Some(format!("{victim_name} did not come back")));
        }
        self.event(format!(
            "{victim_name} answers again and is back in service"
        ));
        Ok(None)
    }

    fn step_failover(&mut self) -> Result<Option<String>> {
        let mut before = BTreeMap::new();
        for i in 0..CLIENTS {
            before.insert(i, self.request(i)?);
        }
        self.observe(client(0));
        self.topo.kill("dir1-lvsd", "KILL")?;
        let t0 = Instant::now();
        self.event("kill -9 lvsd on dir1 (the master)");
        let served = self.wait_for(Duration::from_secs(10), |lab| lab.request(0).ok())?;
        if served.is_none() {
            return Ok(Some(
                "no answer through the VIP 10 s after the failover".into(),
            ));
        }
        self.event(format!(
            "the VIP answers again after {:.1}s",
            t0.elapsed().as_secs_f64()
        ));
        self.observe(client(0));
        match self.vrrp_state("dir2") {
            Some((s, _)) if s == "MASTER" => {}
            other => return Ok(Some(format!("dir2 is not MASTER: {other:?}"))),
        }
        let mut moved = Vec::new();
        for i in 0..CLIENTS {
            let rs = self.request(i)?;
            if before[&i] != rs {
                moved.push(format!("{}: {} → {rs}", client(i), before[&i]));
            }
        }
        if !moved.is_empty() {
            return Ok(Some(format!(
                "persistent clients moved after failover: {}",
                moved.join(", ")
            )));
        }
        self.event(format!(
            "dir2 is MASTER; all {CLIENTS} clients kept their real server (synced templates)"
        ));
        Ok(None)
    }

    fn step_return(&mut self) -> Result<Option<String>> {
        self.start_director(0)?;
        let back = self.wait_for(Duration::from_secs(20), |lab| {
            lab.observe(client(0));
            let s1 = lab.vrrp_state("dir1")?;
            let s2 = lab.vrrp_state("dir2")?;
            (s1.0 == "MASTER" && s2.0 == "BACKUP").then_some(())
        })?;
        if back.is_none() {
            return Ok(Some(format!("VRRP states: {:?}", self.view.vrrp)));
        }
        self.event("dir1 preempted: MASTER again, dir2 BACKUP");
        let ok = self.wait_for(Duration::from_secs(10), |lab| lab.request(0).ok())?;
        if ok.is_none() {
            return Ok(Some(
                "the VIP does not answer after the master returned".into(),
            ));
        }
        Ok(None)
    }

    fn run_step(&mut self, i: usize) -> Result<bool> {
        self.view.steps[i].1 = StepState::Running;
        self.event(format!("step {}: {}", i + 1, STEPS[i]));
        let res = match i {
            0 => self.step_election(),
            1 => self.step_balancing(),
            2 => self.step_persistence(),
            3 => self.step_failover(),
            4 => self.step_return(),
            _ => self.step_health(),
        };
        let failure = match res {
            Ok(f) => f,
            Err(e) => Some(format!("{e:#}")),
        };
        match failure {
            None => {
                self.view.steps[i].1 = StepState::Passed;
                self.event(format!("step {} ok", i + 1));
                Ok(true)
            }
            Some(why) => {
                self.view.steps[i].1 = StepState::Failed;
                self.event(format!("step {} FAILED: {why}", i + 1));
                Ok(false)
            }
        }
    }
}

/// Build the lab, tell the story, tear everything down. Ok(true) when every step passed.
pub(crate) fn run(args: &Args, tui: bool) -> Result<bool> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let id = std::process::id();
    let dir = std::env::temp_dir().join(format!("lvsd-lab-{id}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut lab = Lab {
        topo: Topology::new(format!("lvlab{id}"), dir.clone()),
        exe: std::env::current_exe().context("cannot find the lvsd binary")?,
        dataplane: args.dataplane.clone(),
        view: View {
            steps: STEPS
                .iter()
                .map(|s| (s.to_string(), StepState::Pending))
                .collect(),
            per_rs: REAL_SERVERS
                .iter()
                .map(|(n, _)| (n.to_string(), 0, false))
                .collect(),
            ..View::default()
        },
        tui,
        start: Instant::now(),
        stop,
        rs_names: REAL_SERVERS.iter().map(|(n, a)| (*a, *n)).collect(),
    };
    let result = (|| -> Result<usize> {
        lab.topo.build().context("cannot build the lab network")?;
        lab.event(format!(
            "network ready: client, dir1, dir2, rs1..rs3 on one bridge (namespaces {}-*)",
            lab.topo.prefix
        ));
        for (dir, _, prio) in DIRECTORS {
            std::fs::write(
                lab.topo.dir.join(format!("{dir}.conf")),
                conf::director(dir, prio),
            )?;
        }
        for (name, _) in REAL_SERVERS {
            lab.start_rs(name)?;
        }
        for (i, _) in DIRECTORS.iter().enumerate() {
            lab.start_director(i)?;
        }
        let mut passed = 0;
        for (i, _) in STEPS.iter().enumerate() {
            if !lab.run_step(i)? {
                break;
            }
            passed += 1;
        }
        Ok(passed)
    })();
    let namespaces: Vec<String> = lab.topo.namespaces().to_vec();
    lab.topo.teardown();
    let leftover: Vec<String> = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|n| namespaces.iter().any(|m| m == n))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if !args.keep_logs && result.as_ref().is_ok_and(|p| *p == STEPS.len()) {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if tui {
        lab.tui = false;
        println!("\x1b[2J\x1b[H{}", frame(&lab.view, 8));
    }
    let passed = match result {
        Ok(p) => p,
        Err(e) => {
            println!("lab: error: {e:#}");
            0
        }
    };
    let all = passed == STEPS.len() && leftover.is_empty();
    println!(
        "lab: {} — {passed}/{} steps behaved as expected in {:.0}s; cleanup: {}{}",
        if all { "PASS" } else { "FAIL" },
        STEPS.len(),
        lab.start.elapsed().as_secs_f64(),
        if leftover.is_empty() {
            "nothing left behind".to_string()
        } else {
            format!("namespaces left: {leftover:?}")
        },
        if all {
            String::new()
        } else {
            format!("; logs in {}", dir.display())
        }
    );
    Ok(all)
}
