//! The lab's live view, as a pure function from [`View`] to text. The terminal mode clears the
//! screen and prints the frame; tests snapshot frames directly.

use std::fmt::Write as _;

/// How far a step has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum StepState {
    /// Not started yet.
    #[default]
    Pending,
    /// Running now.
    Running,
    /// Behaved as expected.
    Passed,
    /// Did not behave as expected.
    Failed,
}

impl StepState {
    fn mark(self) -> &'static str {
        match self {
            Self::Pending => "[ ]",
            Self::Running => "[>]",
            Self::Passed => "[x]",
            Self::Failed => "[!]",
        }
    }
}

/// Everything the live view shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct View {
    /// Steps and their state.
    pub(crate) steps: Vec<(String, StepState)>,
    /// Seconds since the lab started.
    pub(crate) elapsed: f64,
    /// Requests answered per real server (name, count, up?).
    pub(crate) per_rs: Vec<(String, u64, bool)>,
    /// VRRP state per director: (director, state, priority).
    pub(crate) vrrp: Vec<(String, String, i64)>,
    /// The active director's connection table, `ipvsadm -lnc` format.
    pub(crate) conns: Vec<String>,
    /// `lvsd explain` of the watched client.
    pub(crate) explain: Vec<String>,
    /// Most recent story events, oldest first.
    pub(crate) events: Vec<String>,
}

const BAR_WIDTH: u64 = 40;

/// Render one frame (no terminal escapes), at most `max_lines` of table/explain/events each.
pub(crate) fn frame(v: &View, max_lines: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "lvsd lab — LVS-DR director pair            t={:6.1}s",
        v.elapsed
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "Story");
    for (name, st) in &v.steps {
        let _ = writeln!(s, "  {} {}", st.mark(), name);
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "VRRP");
    for (dir, state, prio) in &v.vrrp {
        let _ = writeln!(s, "  {dir:<6} {state:<8} priority {prio}");
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Requests per real server");
    let max = v.per_rs.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    for (name, n, up) in &v.per_rs {
        let len = (n * BAR_WIDTH).div_ceil(max) as usize;
        let _ = writeln!(
            s,
            "  {name:<4} {:<4} {:<width$} {n}",
            if *up { "up" } else { "DOWN" },
            "#".repeat(len),
            width = BAR_WIDTH as usize
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Connection table on the master (ipvsadm -lnc)");
    let _ = writeln!(
        s,
        "  pro expire state       source             virtual            destination"
    );
    for line in v.conns.iter().take(max_lines) {
        let _ = writeln!(s, "  {line}");
    }
    if v.conns.len() > max_lines {
        let _ = writeln!(s, "  … {} more", v.conns.len() - max_lines);
    }
    if !v.explain.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "Why is the client sticky? (lvsd explain)");
        for line in v.explain.iter().take(max_lines) {
            let _ = writeln!(s, "  {line}");
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Events");
    let skip = v.events.len().saturating_sub(max_lines);
    for e in &v.events[skip..] {
        let _ = writeln!(s, "  {e}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> View {
        View {
            steps: vec![
                ("VRRP election".into(), StepState::Passed),
                ("load balancing".into(), StepState::Running),
                ("failover".into(), StepState::Pending),
                ("broken".into(), StepState::Failed),
            ],
            elapsed: 12.25,
            per_rs: vec![
                ("rs1".into(), 4, true),
                ("rs2".into(), 2, true),
                ("rs3".into(), 0, false),
            ],
            vrrp: vec![
                ("dir1".into(), "MASTER".into(), 101),
                ("dir2".into(), "BACKUP".into(), 100),
            ],
            conns: vec![
                "TCP 00:59  ASSURED     192.0.2.100:0      192.0.2.49:80      192.0.2.57:80".into(),
            ],
            explain: vec!["client 192.0.2.100 is bound to 192.0.2.57:80".into()],
            events: (0..5).map(|i| format!("event {i}")).collect(),
        }
    }

    #[test]
    fn frame_snapshot() {
        let got = frame(&sample(), 3);
        let want = "\
lvsd lab — LVS-DR director pair            t=  12.2s

Story
  [x] VRRP election
  [>] load balancing
  [ ] failover
  [!] broken

VRRP
  dir1   MASTER   priority 101
  dir2   BACKUP   priority 100

Requests per real server
  rs1  up   ######################################## 4
  rs2  up   ####################                     2
  rs3  DOWN                                          0

Connection table on the master (ipvsadm -lnc)
  pro expire state       source             virtual            destination
  TCP 00:59  ASSURED     192.0.2.100:0      192.0.2.49:80      192.0.2.57:80

Why is the client sticky? (lvsd explain)
  client 192.0.2.100 is bound to 192.0.2.57:80

Events
  event 2
  event 3
  event 4
";
        assert_eq!(got, want, "rendered frame:\n{got}");
    }
}
