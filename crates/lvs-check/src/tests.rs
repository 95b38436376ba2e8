//! Engine tests on a virtual clock: a simulated world answers every `StartProbe` after a chosen
//! latency; nothing sleeps.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::*;

const S: fn(f64) -> Duration = Duration::from_secs_f64;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}
fn dest(last: u8) -> SocketAddr {
    SocketAddr::new(ip(last), 80)
}
fn vs_key(last: u8) -> VsKey {
    VsKey::Addr {
        protocol: Protocol::Tcp,
        addr: IpAddr::V4(Ipv4Addr::new(192, 168, 0, last)),
        port: 80,
    }
}

fn timing(delay_loop: f64, retry: u32, dbr: f64) -> Timing {
    Timing {
        delay_loop: S(delay_loop),
        retry,
        delay_before_retry: S(dbr),
        warmup: Duration::ZERO,
        alpha: false,
    }
}

fn tcp(last: u8, t: Timing, ct: f64) -> CheckerCfg {
    CheckerCfg {
        spec: ProbeSpec {
            kind: ProbeKind::TcpCheck,
            target: Target::new(ip(last), 80),
            connect_timeout: S(ct),
        },
        timing: t,
    }
}

fn rs(last: u8, weight: u32, checkers: Vec<CheckerCfg>) -> RealServerCfg {
    RealServerCfg {
        weight,
        checkers,
        ..RealServerCfg::new(dest(last))
    }
}

fn cfg(vss: Vec<VirtualServerCfg>) -> EngineConfig {
    EngineConfig {
        virtual_servers: vss,
        jitter_permille: 0,
        stall_grace: S(2.0),
        timer_slack: Duration::ZERO,
    }
}

/// The simulated world: `answer(t, spec)` gives `Some((ok, latency))`, or `None` for a probe
/// that never answers (a stuck executor).
struct Sim<F: FnMut(f64, &ProbeSpec) -> Option<(bool, f64)>> {
    e: Engine,
    t0: Instant,
    now: Instant,
    pending: Vec<(Instant, RunId, ProbeResult)>,
    log: Vec<(f64, Action)>,
    answer: F,
}

impl<F: FnMut(f64, &ProbeSpec) -> Option<(bool, f64)>> Sim<F> {
    fn new(c: EngineConfig, answer: F) -> Self {
        let t0 = Instant::now();
        let e = Engine::new(c, 7, t0);
        let mut s = Self {
            e,
            t0,
            now: t0,
            pending: Vec::new(),
            log: Vec::new(),
            answer,
        };
        s.drain();
        s
    }
    fn t(&self) -> f64 {
        (self.now - self.t0).as_secs_f64()
    }
    fn drain(&mut self) {
        while let Some(a) = self.e.poll_action() {
            if let Action::StartProbe { run, spec, .. } = &a {
                let t = self.t();
                if let Some((ok, lat)) = (self.answer)(t, spec) {
                    let r = if ok {
                        ProbeResult::up("ok")
                    } else {
                        ProbeResult::down("refused")
                    };
                    self.pending.push((
                        self.now + S(lat),
                        *run,
                        ProbeResult {
                            latency: S(lat),
                            ..r
                        },
                    ));
                }
            }
            self.log.push((self.t(), a));
        }
    }
    fn run_until(&mut self, t: f64) {
        let end = self.t0 + S(t);
        loop {
            let next_timer = self.e.poll_timeout();
            let next_done = self.pending.iter().map(|p| p.0).min();
            let next = match (next_timer, next_done) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(x) => x,
                    None => break,
                },
            };
            if next > end {
                break;
            }
            self.now = next;
            if next_done == Some(next) {
                let i = self.pending.iter().position(|p| p.0 == next).unwrap();
                let (_, run, res) = self.pending.remove(i);
                self.e.handle_result(next, run, res);
            } else {
                self.e.handle_timeout(next);
            }
            self.drain();
        }
        self.now = end;
    }
    fn weights(&self) -> Vec<(f64, SocketAddr, Option<u32>)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::SetWeight { dest, weight, .. } => Some((*t, *dest, *weight)),
                _ => None,
            })
            .collect()
    }
    fn probes_started(&self) -> Vec<f64> {
        self.log
            .iter()
            .filter(|(_, a)| matches!(a, Action::StartProbe { .. }))
            .map(|(t, _)| *t)
            .collect()
    }
    fn notifies(&self) -> Vec<(f64, NotifyEvent)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Notify { event, .. } => Some((*t, *event)),
                _ => None,
            })
            .collect()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn retry_and_delay_before_retry_timing() {
    // delay_loop 5, retry 2, delay_before_retry 1, fast refusals (10 ms): the server dies at 12 s.
    let mut v = VirtualServerCfg::new(vs_key(1));
    v.real_servers
        .push(rs(11, 3, vec![tcp(11, timing(5.0, 2, 1.0), 1.0)]));
    let mut sim = Sim::new(cfg(vec![v]), |t, _| {
        Some((!(12.0..30.0).contains(&t), 0.01))
    });
    sim.run_until(60.0);
    // Probes at 1, 6.01, 11.02 (ok), 16.03 fail, retry at 17.04, 18.05 → down at 18.06.
    let w = sim.weights();
    assert_eq!(w[0], (0.0, dest(11), Some(3)), "{w:?}");
    let (t_down, d, wd) = w[1];
    assert_eq!((d, wd), (dest(11), None));
    assert!(close(t_down, 18.06), "down at {t_down}");
    // Bound of the acceptance criterion: retry × (connect_timeout + dbr) + delay_loop after 12 s.
    assert!(t_down - 12.0 <= 2.0 * (1.0 + 1.0) + 5.0);
    // While down it probes every delay_loop (no retries): 23.06, 28.07 (fail), 33.08 ok → up.
    let (t_up, _, wu) = w[2];
    assert_eq!(wu, Some(3));
    assert!(close(t_up, 33.09), "up at {t_up}");
    let starts = sim.probes_started();
    assert!(
        close(starts[4], 17.04) && close(starts[5], 18.05) && close(starts[6], 23.06),
        "{starts:?}"
    );
    let ev: Vec<NotifyEvent> = sim.notifies().into_iter().map(|n| n.1).collect();
    assert_eq!(
        ev,
        vec![
            NotifyEvent::RsDown,
            NotifyEvent::QuorumDown,
            NotifyEvent::RsUp,
            NotifyEvent::QuorumUp
        ]
    );
}

#[test]
fn notify_order_on_single_server() {
    let mut v = VirtualServerCfg::new(vs_key(1));
    let mut r = rs(11, 1, vec![tcp(11, timing(2.0, 0, 1.0), 1.0)]);
    r.notify_down = Some(vec!["/bin/down".into()]);
    v.real_servers.push(r);
    v.quorum_down = Some(vec!["/bin/qdown".into()]);
    let mut sim = Sim::new(cfg(vec![v]), |t, _| Some((!(4.0..8.0).contains(&t), 0.0)));
    sim.run_until(20.0);
    let ev: Vec<NotifyEvent> = sim.notifies().into_iter().map(|n| n.1).collect();
    assert_eq!(
        ev,
        vec![
            NotifyEvent::RsDown,
            NotifyEvent::QuorumDown,
            NotifyEvent::RsUp,
            NotifyEvent::QuorumUp
        ]
    );
    let scripts: Vec<Option<Vec<String>>> = sim
        .log
        .iter()
        .filter_map(|(_, a)| match a {
            Action::Notify { script, .. } => Some(script.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(scripts[0], Some(vec!["/bin/down".to_string()]));
    assert_eq!(scripts[1], Some(vec!["/bin/qdown".to_string()]));
}

#[test]
fn inhibit_on_failure_sets_weight_zero() {
    let mut v = VirtualServerCfg::new(vs_key(1));
    let mut r = rs(11, 5, vec![tcp(11, timing(2.0, 0, 1.0), 1.0)]);
    r.inhibit_on_failure = true;
    v.real_servers.push(r);
    let mut sim = Sim::new(cfg(vec![v]), |t, _| Some((!(4.0..=9.0).contains(&t), 0.0)));
    sim.run_until(15.0);
    let w: Vec<Option<u32>> = sim.weights().into_iter().map(|x| x.2).collect();
    assert_eq!(w, vec![Some(5), Some(0), Some(5)]);
}

#[test]
fn alpha_starts_down_and_comes_up_on_first_success() {
    let mut v = VirtualServerCfg::new(vs_key(1));
    let mut t = timing(3.0, 1, 1.0);
    t.alpha = true;
    v.real_servers.push(rs(11, 2, vec![tcp(11, t, 1.0)]));
    v.real_servers.push(rs(12, 2, vec![tcp(12, t, 1.0)]));
    // .11 answers; .12 is dead: with alpha a dead server never enters the service, and its
    // first failure needs no retries (it is already down).
    let mut sim = Sim::new(cfg(vec![v]), |_, s| {
        Some((s.target.connect_ip == ip(11), 0.0))
    });
    sim.run_until(0.5);
    assert!(
        sim.weights().is_empty(),
        "alpha: nothing published before a check"
    );
    sim.run_until(10.0);
    assert_eq!(sim.weights(), vec![(1.0, dest(11), Some(2))]);
    let st = sim.e.status(sim.now);
    assert!(st[0].real_servers[0].alive && !st[0].real_servers[1].alive);
    // .12's probe ran at 1, 4, 7, 10 (delay_loop, no delay_before_retry while down).
    let n12 = sim
        .log
        .iter()
        .filter(|(_, a)| matches!(a, Action::StartProbe { spec, .. } if spec.target.connect_ip == ip(12)))
        .count();
    assert_eq!(n12, 4);
}

#[test]
fn warmup_spreads_first_probes_deterministically() {
    let mut v = VirtualServerCfg::new(vs_key(1));
    let mut t = timing(10.0, 1, 1.0);
    t.warmup = S(10.0);
    for i in 0..200u8 {
        v.real_servers.push(rs(i, 1, vec![tcp(i, t, 1.0)]));
    }
    let c = cfg(vec![v]);
    let mut sim = Sim::new(c.clone(), |_, _| Some((true, 0.0)));
    sim.run_until(11.0);
    let starts = sim.probes_started();
    assert_eq!(starts.len(), 200);
    assert!(starts.iter().all(|&s| (1.0..=11.0).contains(&s)));
    // Spread: every 1 s bucket of the window holds some, none holds most.
    for b in 0..10 {
        let n = starts
            .iter()
            .filter(|&&s| s >= 1.0 + b as f64 && s < 2.0 + b as f64)
            .count();
        assert!((5..=45).contains(&n), "bucket {b}: {n}");
    }
    // Same seed, same schedule.
    let mut sim2 = Sim::new(c, |_, _| Some((true, 0.0)));
    sim2.run_until(11.0);
    assert_eq!(starts, sim2.probes_started());
}

#[test]
fn jitter_only_shortens_the_loop() {
    let mut v = VirtualServerCfg::new(vs_key(1));
    v.real_servers
        .push(rs(11, 1, vec![tcp(11, timing(10.0, 1, 1.0), 1.0)]));
    let mut c = cfg(vec![v]);
    c.jitter_permille = 100;
    let mut sim = Sim::new(c, |_, _| Some((true, 0.0)));
    sim.run_until(200.0);
    let s = sim.probes_started();
    let gaps: Vec<f64> = s.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|&g| (9.0 - 1e-9..=10.0).contains(&g)),
        "{gaps:?}"
    );
    assert!(gaps.iter().any(|&g| g < 9.9), "jitter applied: {gaps:?}");
}

#[test]
fn quorum_with_hysteresis() {
    // 4 servers of weight 1, quorum 3, hysteresis 1: lost below 2, regained at 4.
    let mut v = VirtualServerCfg::new(vs_key(1));
    v.quorum = 3;
    v.hysteresis = 1;
    for i in 1..=4u8 {
        v.real_servers
            .push(rs(i, 1, vec![tcp(i, timing(1.0, 0, 1.0), 0.5)]));
    }
    // Server i is down during [10+i, 30 + i*2).
    let mut sim = Sim::new(cfg(vec![v]), |t, s| {
        let IpAddr::V4(a) = s.target.connect_ip else {
            unreachable!()
        };
        let i = f64::from(a.octets()[3]);
        Some((!(10.0 + i..30.0 + i * 2.0).contains(&t), 0.0))
    });
    sim.run_until(60.0);
    let q: Vec<(f64, NotifyEvent)> = sim
        .notifies()
        .into_iter()
        .filter(|n| matches!(n.1, NotifyEvent::QuorumUp | NotifyEvent::QuorumDown))
        .collect();
    // Down when the 3rd server fails (alive weight 1 < 3-1), not when the 2nd does (2 is not < 2).
    assert_eq!(q.len(), 2, "{q:?}");
    assert_eq!(q[0].1, NotifyEvent::QuorumDown);
    assert!((13.0..14.0).contains(&q[0].0), "{q:?}");
    // Up only when all four are back (4 ≥ 3+1), i.e. after server 4 recovers at 38.
    assert_eq!(q[1].1, NotifyEvent::QuorumUp);
    assert!((38.0..39.0).contains(&q[1].0), "{q:?}");
}

#[test]
fn sorry_server_replaces_real_servers_and_inhibit_keeps_it_at_zero() {
    for inhibit in [false, true] {
        let mut v = VirtualServerCfg::new(vs_key(1));
        v.sorry_server = Some(dest(99));
        v.sorry_server_inhibit = inhibit;
        v.quorum = 2;
        v.real_servers
            .push(rs(1, 1, vec![tcp(1, timing(1.0, 0, 1.0), 0.5)]));
        v.real_servers
            .push(rs(2, 1, vec![tcp(2, timing(1.0, 0, 1.0), 0.5)]));
        // .2 dies at 5 → sum 1 < quorum 2 → sorry in, .1 out; back at 10.
        let mut sim = Sim::new(cfg(vec![v]), |t, s| {
            Some((
                s.target.connect_ip == ip(1) || !(5.0..10.0).contains(&t),
                0.0,
            ))
        });
        sim.run_until(20.0);
        let w: Vec<(SocketAddr, Option<u32>)> =
            sim.weights().into_iter().map(|x| (x.1, x.2)).collect();
        let mut expect = vec![(dest(1), Some(1)), (dest(2), Some(1))];
        if inhibit {
            expect.push((dest(99), Some(0)));
        }
        // Quorum lost: the sorry server comes in *before* the real servers leave.
        expect.extend([(dest(99), Some(1)), (dest(1), None), (dest(2), None)]);
        // Quorum regained: real servers first, then the sorry server leaves (or goes to 0).
        expect.extend([
            (dest(1), Some(1)),
            (dest(2), Some(1)),
            (dest(99), if inhibit { Some(0) } else { None }),
        ]);
        assert_eq!(w, expect, "inhibit={inhibit}");
    }
}

#[test]
fn one_probe_per_distinct_target_across_virtual_servers() {
    let t = timing(2.0, 1, 1.0);
    let mut v1 = VirtualServerCfg::new(vs_key(1));
    let mut v2 = VirtualServerCfg::new(vs_key(2));
    for i in 1..=3u8 {
        v1.real_servers.push(rs(i, 1, vec![tcp(i, t, 1.0)]));
        v2.real_servers.push(rs(i, 7, vec![tcp(i, t, 1.0)]));
    }
    let mut sim = Sim::new(cfg(vec![v1, v2]), |t, s| {
        Some((s.target.connect_ip != ip(2) || t < 5.0, 0.0))
    });
    assert_eq!(sim.e.probe_count(), 3);
    sim.run_until(20.0);
    // 3 probes at 1, 3, 5, …: 10 runs each at most (retries add a few for .2).
    assert!(sim.probes_started().len() <= 3 * 10 + 2);
    // Both virtual servers drop .2.
    let drops: Vec<_> = sim
        .log
        .iter()
        .filter_map(|(_, a)| match a {
            Action::SetWeight {
                vs,
                dest: d,
                weight: None,
                ..
            } if *d == dest(2) => Some(vs.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(drops, vec![vs_key(1), vs_key(2)]);
    assert_eq!(
        sim.e.status(sim.now)[0].real_servers[0].checkers[0].shared_by,
        2
    );
}

#[test]
fn stalled_probe_is_reported_and_counts_as_failure() {
    let mut v = VirtualServerCfg::new(vs_key(1));
    v.real_servers
        .push(rs(11, 1, vec![tcp(11, timing(5.0, 0, 1.0), 1.0)]));
    // The executor never answers from t=3 on.
    let mut sim = Sim::new(
        cfg(vec![v]),
        |t, _| if t < 3.0 { Some((true, 0.1)) } else { None },
    );
    sim.run_until(30.0);
    let stalls: Vec<f64> = sim
        .log
        .iter()
        .filter(|(_, a)| matches!(a, Action::Stalled { .. }))
        .map(|x| x.0)
        .collect();
    // Run at 6.1 never answers: stalled at 6.1 + start window (delay_loop 5: it may wait that
    // long for an executor slot) + connect_timeout 1 + grace 2 = 14.1.
    assert!(close(stalls[0], 14.1), "{stalls:?}");
    assert_eq!(sim.weights().last().unwrap().2, None);
    assert!(
        sim.e.status(sim.now)[0].real_servers[0].checkers[0]
            .stats
            .stalls
            >= 2
    );
    // A late answer for a stalled run is ignored.
    let run = RunId {
        probe: ProbeId(1),
        seq: 2,
    };
    assert!(!sim.e.handle_result(sim.now, run, ProbeResult::up("late")));
}

/// Under overload a due run may wait for an executor slot: it must start by `start_by` (one
/// delay_loop after it was due), and the stall detector does not fire while it may still be
/// queued. A run the executor skipped (not started in time) is no result: the checker keeps
/// its state and retry count, no weight changes, and the next run is one delay_loop later.
#[test]
fn skipped_runs_keep_state_and_are_not_stalls() {
    let mut v = VirtualServerCfg::new(vs_key(1));
    v.real_servers
        .push(rs(11, 4, vec![tcp(11, timing(5.0, 1, 1.0), 1.0)]));
    let t0 = Instant::now();
    let mut e = Engine::new(cfg(vec![v]), 1, t0);
    let drain = |e: &mut Engine| std::iter::from_fn(|| e.poll_action()).collect::<Vec<_>>();
    let start = |e: &mut Engine, at: f64| -> RunId {
        e.handle_timeout(t0 + S(at));
        let acts = drain(e);
        let starts: Vec<_> = acts
            .iter()
            .filter_map(|a| match a {
                Action::StartProbe { run, start_by, .. } => Some((*run, *start_by)),
                _ => None,
            })
            .collect();
        assert_eq!(starts.len(), 1, "at {at}: {acts:?}");
        // The window is the delay_loop.
        assert_eq!(starts[0].1, t0 + S(at) + S(5.0));
        starts[0].0
    };
    drain(&mut e);
    // First run at 1 s: up.
    let r1 = start(&mut e, 1.0);
    assert!(e.handle_result(t0 + S(1.1), r1, ProbeResult::up("ok")));
    drain(&mut e);
    // Second run at 6.1 fails once (retry 1: still up, retry at 8.1).
    let r2 = start(&mut e, 6.1);
    assert!(e.handle_result(t0 + S(7.1), r2, ProbeResult::down("refused")));
    assert!(drain(&mut e).is_empty());
    // The retry, due at 8.1, waits in the executor's queue: no stall before 8.1 + 5 + 1 + 2.
    let r3 = start(&mut e, 8.1);
    e.handle_timeout(t0 + S(16.0));
    assert!(drain(&mut e).is_empty(), "no stall while it may be queued");
    assert_eq!(e.overdue(t0 + S(16.0), Duration::ZERO), 0);
    // The executor skips it at 13.2 (start_by passed): no failure, no weight change.
    assert!(e.handle_result(t0 + S(13.2), r3, ProbeResult::skipped("late")));
    assert!(drain(&mut e).is_empty());
    assert_eq!(e.take_skipped(), 1);
    assert_eq!(e.take_skipped(), 0);
    let st = &e.status(t0 + S(13.2))[0].real_servers[0];
    assert!(st.alive);
    assert_eq!(st.weight, Some(4));
    let c = &st.checkers[0];
    assert_eq!((c.stats.skips, c.stats.failures, c.stats.runs), (1, 1, 2));
    // The retry count is kept: the next run, one delay_loop later, is still the retry: one
    // more failure takes the server down.
    e.handle_timeout(t0 + S(18.1));
    assert!(drain(&mut e).is_empty(), "nothing before 13.2 + 5");
    let r4 = start(&mut e, 18.2);
    assert!(e.handle_result(t0 + S(18.3), r4, ProbeResult::down("refused")));
    let acts = drain(&mut e);
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::SetWeight { weight: None, .. })),
        "{acts:?}"
    );
    // A stale skip (a run no longer current) is ignored.
    assert!(!e.handle_result(t0 + S(18.4), r3, ProbeResult::skipped("late")));
    // And a run that never reports is a stall only past start window + timeout + grace.
    let r5 = start(&mut e, 23.3);
    let _ = r5;
    e.handle_timeout(t0 + S(23.3 + 7.9));
    assert!(drain(&mut e).is_empty());
    e.handle_timeout(t0 + S(23.3 + 8.0));
    let acts = drain(&mut e);
    assert!(
        acts.iter().any(|a| matches!(a, Action::Stalled { .. })),
        "{acts:?}"
    );
}

#[test]
fn ha_suspend_runs_probes_only_with_the_vip() {
    let mut v = VirtualServerCfg::new(vs_key(1));
    v.ha_suspend = true;
    v.real_servers
        .push(rs(11, 1, vec![tcp(11, timing(1.0, 0, 1.0), 0.5)]));
    let mut sim = Sim::new(cfg(vec![v]), |_, _| Some((true, 0.0)));
    sim.run_until(5.0);
    assert!(sim.probes_started().is_empty());
    sim.e
        .set_vip_present(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1)), true);
    sim.run_until(10.0);
    assert!(sim.probes_started().len() >= 4);
}

#[test]
fn misc_dynamic_weight_is_applied() {
    let mut v = VirtualServerCfg::new(vs_key(1));
    let spec = ProbeSpec {
        kind: ProbeKind::MiscCheck(MiscSpec {
            argv: vec!["/bin/true".into()],
            timeout: S(1.0),
            dynamic: true,
            run_as: None,
        }),
        target: Target::new(ip(11), 80),
        connect_timeout: S(1.0),
    };
    v.real_servers.push(rs(
        11,
        1,
        vec![CheckerCfg {
            spec,
            timing: timing(2.0, 0, 1.0),
        }],
    ));
    let t0 = Instant::now();
    let mut e = Engine::new(cfg(vec![v]), 1, t0);
    let mut run = None;
    e.handle_timeout(t0 + S(1.0));
    while let Some(a) = e.poll_action() {
        if let Action::StartProbe { run: r, .. } = a {
            run = Some(r);
        }
    }
    let res = ProbeResult {
        weight: Some(40),
        ..ProbeResult::up("exit 42")
    };
    assert!(e.handle_result(t0 + S(1.1), run.unwrap(), res));
    let acts: Vec<Action> = std::iter::from_fn(|| e.poll_action()).collect();
    assert!(
        acts.iter().any(|a| matches!(
            a,
            Action::SetWeight {
                weight: Some(40),
                ..
            }
        )),
        "{acts:?}"
    );
}

#[test]
fn reload_keeps_checker_state_and_applies_only_the_diff() {
    let t = timing(1.0, 0, 1.0);
    let mut v = VirtualServerCfg::new(vs_key(1));
    v.real_servers.push(rs(1, 1, vec![tcp(1, t, 0.5)]));
    v.real_servers.push(rs(2, 1, vec![tcp(2, t, 0.5)]));
    let gone = {
        let mut g = VirtualServerCfg::new(vs_key(9));
        g.real_servers.push(rs(5, 1, vec![]));
        g
    };
    let mut sim = Sim::new(cfg(vec![v.clone(), gone]), |_, s| {
        Some((s.target.connect_ip != ip(2), 0.0))
    });
    sim.run_until(5.0);
    assert_eq!(sim.e.published(&vs_key(1)).unwrap().len(), 1);
    let probes_before = sim.e.probe_count();
    let n = sim.log.len();
    // New config: .1's weight changes, .2 unchanged (still down), .3 added, VS 9 removed.
    let mut v2 = v.clone();
    v2.real_servers[0].weight = 4;
    v2.real_servers.push(rs(3, 1, vec![tcp(3, t, 0.5)]));
    sim.e.reconfigure(sim.now, cfg(vec![v2]));
    sim.drain();
    let diff: Vec<_> = sim.log[n..]
        .iter()
        .filter_map(|(_, a)| match a {
            Action::SetWeight {
                vs, dest, weight, ..
            } => Some((vs.clone(), *dest, *weight)),
            _ => None,
        })
        .collect();
    assert_eq!(
        diff,
        vec![
            (vs_key(9), dest(5), None),
            (vs_key(1), dest(1), Some(4)),
            (vs_key(1), dest(3), Some(1))
        ]
    );
    // .2's failed state carried over (not re-added); probes for .1/.2 kept, one new.
    assert_eq!(sim.e.probe_count(), probes_before + 1);
    assert!(!sim.e.status(sim.now)[0].real_servers[1].alive);
    // No notify caused by the reload itself.
    assert!(!sim.log[n..]
        .iter()
        .any(|(_, a)| matches!(a, Action::Notify { .. })));
}

#[test]
fn omega_notifies_on_shutdown() {
    for omega in [false, true] {
        let mut v = VirtualServerCfg::new(vs_key(1));
        v.omega = omega;
        v.real_servers.push(rs(1, 1, vec![]));
        let t0 = Instant::now();
        let mut e = Engine::new(cfg(vec![v]), 1, t0);
        while e.poll_action().is_some() {}
        e.shutdown();
        let acts: Vec<Action> = std::iter::from_fn(|| e.poll_action()).collect();
        let notes = acts
            .iter()
            .filter(|a| matches!(a, Action::Notify { .. }))
            .count();
        assert_eq!(notes, if omega { 2 } else { 0 });
        assert!(acts
            .iter()
            .any(|a| matches!(a, Action::SetWeight { weight: None, .. })));
        assert_eq!(e.poll_timeout(), None);
    }
}

mod prop {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// A server that starts refusing at any time is withdrawn within
        /// retry × (connect_timeout + delay_before_retry) + delay_loop (fast refusals), or that
        /// plus one connect_timeout when the failing probe itself times out; and it is back
        /// within delay_loop (+ one probe) of recovering.
        #[test]
        fn detection_bound(retry in 0u32..4, dbr in 1u32..4, dl in 1u32..8, ct in 1u32..4, fail_at in 3.0f64..20.0, timeout in any::<bool>(), jitter in 0u16..200) {
            let t = timing(f64::from(dl), retry, f64::from(dbr));
            let mut v = VirtualServerCfg::new(vs_key(1));
            v.real_servers.push(rs(1, 1, vec![tcp(1, t, f64::from(ct))]));
            let mut c = cfg(vec![v]);
            c.jitter_permille = jitter;
            let recover_at = fail_at + 60.0;
            let lat_fail = if timeout { f64::from(ct) } else { 0.001 };
            let mut sim = Sim::new(c, |now, _| {
                if (fail_at..recover_at).contains(&now) { Some((false, lat_fail)) } else { Some((true, 0.001)) }
            });
            sim.run_until(recover_at + 30.0);
            let w = sim.weights();
            prop_assert_eq!(w.len(), 3);
            let bound = f64::from(retry) * f64::from(ct + dbr) + f64::from(dl) + if timeout { f64::from(ct) } else { 0.01 };
            prop_assert!(w[1].2.is_none() && w[1].0 - fail_at <= bound + 1e-6, "down after {} > {}", w[1].0 - fail_at, bound);
            prop_assert!(w[2].2.is_some() && w[2].0 - recover_at <= f64::from(dl) + lat_fail + 0.01);
        }
    }
}

/// `reconfigure_some` (a few virtual servers replaced by position) ends in the same state and
/// queues the same actions as `reconfigure` with the whole new configuration, on random
/// configurations, histories and changes (weights, real servers, checkers, keys, swaps).
mod reconfigure_some {
    use super::*;
    use proptest::prelude::*;

    struct R(u64);
    impl R {
        fn n(&mut self, k: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % k.max(1)
        }
    }

    fn checker(r: &mut R) -> CheckerCfg {
        // A small pool: probes are shared between real servers and virtual servers.
        let t = timing(2.0 + r.n(2) as f64, r.n(2) as u32, 1.0);
        tcp(1 + r.n(6) as u8, t, 1.0)
    }

    fn vs(r: &mut R, key: u8) -> VirtualServerCfg {
        let mut v = VirtualServerCfg::new(vs_key(key));
        v.quorum = 1 + r.n(3);
        v.hysteresis = r.n(2);
        if r.n(3) == 0 {
            v.sorry_server = Some(dest(200));
        }
        for j in 0..1 + r.n(3) {
            let checkers = (0..r.n(3)).map(|_| checker(r)).collect();
            let mut rs = rs(10 + j as u8 + r.n(2) as u8 * 3, 1 + r.n(4) as u32, checkers);
            rs.inhibit_on_failure = r.n(4) == 0;
            if !v
                .real_servers
                .iter()
                .any(|x: &RealServerCfg| x.dest == rs.dest)
            {
                v.real_servers.push(rs);
            }
        }
        v
    }

    /// Drives an engine for `secs` of virtual time; probe outcomes come from `r`.
    fn drive(e: &mut Engine, now: &mut Instant, r: &mut R, secs: u64, log: &mut Vec<Action>) {
        let end = *now + Duration::from_secs(secs);
        let mut pending: Vec<(Instant, RunId, bool)> = Vec::new();
        loop {
            while let Some(a) = e.poll_action() {
                if let Action::StartProbe { run, .. } = &a {
                    pending.push((
                        *now + Duration::from_millis(100 + r.n(500)),
                        *run,
                        r.n(3) != 0,
                    ));
                }
                log.push(a);
            }
            pending.sort_by_key(|p| p.0);
            let next_timer = e.poll_timeout();
            let next_res = pending.first().map(|p| p.0);
            let t = match (next_timer, next_res) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if t > end {
                break;
            }
            *now = t;
            if next_res == Some(t) {
                let (_, run, ok) = pending.remove(0);
                let res = if ok {
                    ProbeResult::up("ok")
                } else {
                    ProbeResult::down("no")
                };
                e.handle_result(t, run, res);
            } else {
                e.handle_timeout(t);
            }
        }
        *now = end;
    }

    fn state(e: &mut Engine, now: Instant) -> String {
        format!(
            "{:?} {} {:?}",
            e.status(now),
            e.probe_count(),
            e.poll_timeout()
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn equals_full_reconfigure(seed in any::<u64>(), hist in any::<u64>(), ch in any::<u64>()) {
            let mut r = R(seed | 1);
            let n = 1 + r.n(5) as usize;
            let vss: Vec<VirtualServerCfg> = (0..n).map(|i| vs(&mut r, i as u8 + 1)).collect();
            let t0 = Instant::now();
            let mut a = Engine::new(cfg(vss.clone()), 7, t0);
            let mut b = Engine::new(cfg(vss.clone()), 7, t0);
            let (mut na, mut nb) = (t0, t0);
            let (mut la, mut lb) = (Vec::new(), Vec::new());
            drive(&mut a, &mut na, &mut R(hist | 1), 20, &mut la);
            drive(&mut b, &mut nb, &mut R(hist | 1), 20, &mut lb);
            prop_assert_eq!(&la, &lb);
            // The change: some positions get a new configuration (maybe a new or swapped key).
            let mut r = R(ch | 1);
            let mut new = vss.clone();
            let mut changes = Vec::new();
            let k = 1 + r.n(n as u64) as usize;
            for _ in 0..k {
                let i = r.n(n as u64) as usize;
                if changes.iter().any(|(j, _)| *j == i) {
                    continue;
                }
                let mut v = match r.n(4) {
                    0 => vs(&mut r, vss[i].key.addr().map_or(1, |_| i as u8 + 1)),
                    1 => vs(&mut r, 100 + i as u8),
                    _ => {
                        let mut v = vss[i].clone();
                        if let Some(rs) = v.real_servers.first_mut() {
                            rs.weight = 1 + r.n(9) as u32;
                        }
                        v
                    }
                };
                v.key = if r.n(5) == 0 { vs_key(100 + i as u8) } else { vss[i].key.clone() };
                new[i] = v.clone();
                changes.push((i, v));
            }
            // A swap of two keys among the changed positions.
            if changes.len() >= 2 && r.n(2) == 0 {
                let (i, j) = (changes[0].0, changes[1].0);
                let (ki, kj) = (new[i].key.clone(), new[j].key.clone());
                new[i].key = kj.clone();
                new[j].key = ki.clone();
                changes[0].1.key = kj;
                changes[1].1.key = ki;
            }
            a.reconfigure(na, cfg(new.clone()));
            prop_assert!(b.reconfigure_some(nb, changes));
            la.clear();
            lb.clear();
            drive(&mut a, &mut na, &mut R(hist ^ 5 | 1), 0, &mut la);
            drive(&mut b, &mut nb, &mut R(hist ^ 5 | 1), 0, &mut lb);
            prop_assert_eq!(&la, &lb);
            prop_assert_eq!(state(&mut a, na), state(&mut b, nb));
            // And they keep behaving alike.
            drive(&mut a, &mut na, &mut R(hist ^ 9 | 1), 30, &mut la);
            drive(&mut b, &mut nb, &mut R(hist ^ 9 | 1), 30, &mut lb);
            prop_assert_eq!(&la, &lb);
            prop_assert_eq!(state(&mut a, na), state(&mut b, nb));
        }
    }

    #[test]
    fn refuses_duplicate_keys() {
        let t0 = Instant::now();
        let v = VirtualServerCfg::new(vs_key(1));
        let mut e = Engine::new(cfg(vec![v.clone(), v.clone()]), 1, t0);
        assert!(!e.reconfigure_some(t0, vec![(0, v.clone())]));
        let mut e = Engine::new(
            cfg(vec![v.clone(), VirtualServerCfg::new(vs_key(2))]),
            1,
            t0,
        );
        // The new key of position 1 stays at position 0.
        assert!(!e.reconfigure_some(t0, vec![(1, v.clone())]));
        assert!(!e.reconfigure_some(t0, vec![(2, v)]));
    }
}

/// `timer_slack`: one wake-up serves every timer of a slot. Probe starts land on slot
/// boundaries, never earlier than without slack and less than one slot later; the same probes
/// run the same number of times; a stall is still reported (late by less than a slot).
#[test]
fn timer_slack_batches_starts_without_firing_early() {
    let build = |slack: f64| {
        let mut v = VirtualServerCfg::new(vs_key(1));
        for i in 0..40u8 {
            let mut t = timing(1.0, 0, 1.0);
            t.warmup = S(1.0);
            v.real_servers
                .push(rs(10 + i, 1, vec![tcp(10 + i, t, 1.0)]));
        }
        let mut c = cfg(vec![v]);
        c.timer_slack = S(slack);
        c
    };
    let starts = |slack: f64| {
        // Real server 10 stops answering at t=4 (a stuck executor).
        let mut sim = Sim::new(build(slack), |t, spec| {
            (t < 4.0 || spec.target.connect_ip != ip(10)).then_some((true, 0.003))
        });
        sim.run_until(10.0);
        let mut by_probe: std::collections::BTreeMap<ProbeId, Vec<f64>> = Default::default();
        let mut stalls = Vec::new();
        for (t, a) in &sim.log {
            match a {
                Action::StartProbe { run, .. } => by_probe.entry(run.probe).or_default().push(*t),
                Action::Stalled { .. } => stalls.push(*t),
                _ => {}
            }
        }
        (by_probe, stalls)
    };
    let (exact, exact_stalls) = starts(0.0);
    let (slotted, slotted_stalls) = starts(0.1);
    assert_eq!(exact.len(), 40);
    let mut instants: Vec<u64> = Vec::new();
    for (id, ts) in &slotted {
        for &t in ts {
            let ms = (t * 1000.0).round();
            assert!(
                (t * 1000.0 - ms).abs() < 1e-6,
                "{t} is on a 100 ms boundary"
            );
            assert_eq!(ms as u64 % 100, 0, "{t}");
            instants.push(ms as u64);
        }
        // First runs: same random offset, rounded up to the slot.
        let (a, b) = (exact[id][0], ts[0]);
        assert!(b >= a - 1e-9 && b < a + 0.1, "{id:?}: {a} -> {b}");
    }
    instants.sort_unstable();
    instants.dedup();
    let total: usize = slotted.values().map(Vec::len).sum();
    assert!(
        instants.len() * 3 < total,
        "{} wake-ups for {total} starts",
        instants.len()
    );
    // Each probe ran about as often (a run may slip by a slot per cycle).
    for (id, ts) in &exact {
        let n = slotted[id].len() as i64;
        assert!((n - ts.len() as i64).abs() <= 1, "{id:?}");
    }
    // The stuck run (real server 10 is the first probe) is reported 1 s start window (its
    // delay_loop) + 1 s connect_timeout + 2 s grace after it started, rounded up to the slot.
    for (runs, stalls, slack) in [
        (&exact, &exact_stalls, 0.0),
        (&slotted, &slotted_stalls, 0.1),
    ] {
        assert_eq!(stalls.len(), 1, "{stalls:?}");
        let started = runs[&ProbeId(1)]
            .iter()
            .copied()
            .filter(|&t| t < stalls[0])
            .fold(0.0, f64::max);
        let after = stalls[0] - started;
        assert!(
            after >= 4.0 - 1e-9 && after < 4.0 + slack + 1e-9,
            "{started} -> {stalls:?}"
        );
    }
}

/// Results are applied per real server (`eval_rs`, O(1)) instead of re-evaluating the whole
/// virtual server: after every step of random up/down/dynamic-weight results — with quorum,
/// hysteresis, a sorry server, inhibit_on_failure, a probe shared by two virtual servers and a
/// virtual server with a duplicate destination (the full path) — alive weights and published
/// sets equal a full recomputation, and every SetWeight is the change of the published set.
#[test]
fn incremental_evaluation_matches_full_recomputation() {
    use rand::{Rng, SeedableRng};
    let misc = |last: u8| CheckerCfg {
        spec: ProbeSpec {
            kind: ProbeKind::MiscCheck(MiscSpec {
                argv: vec![format!("/bin/check-{last}")],
                timeout: S(1.0),
                dynamic: true,
                run_as: None,
            }),
            target: Target::new(ip(last), 80),
            connect_timeout: S(1.0),
        },
        timing: timing(1.0, 0, 1.0),
    };
    let mut a = VirtualServerCfg::new(vs_key(1));
    a.quorum = 6;
    a.hysteresis = 2;
    a.sorry_server = Some(dest(99));
    for i in 0..8u8 {
        let mut r = rs(
            10 + i,
            1 + u32::from(i % 3),
            vec![tcp(10 + i, timing(1.0, 0, 1.0), 1.0)],
        );
        r.inhibit_on_failure = i % 2 == 0;
        if i == 3 {
            r.checkers.push(misc(10 + i));
        }
        a.real_servers.push(r);
    }
    let mut b = VirtualServerCfg::new(vs_key(2));
    b.sorry_server = Some(dest(98));
    b.sorry_server_inhibit = true;
    // Shares real server 10's probe with the first virtual server.
    b.real_servers
        .push(rs(10, 2, vec![tcp(10, timing(1.0, 0, 1.0), 1.0)]));
    b.real_servers
        .push(rs(30, 1, vec![tcp(30, timing(1.0, 0, 1.0), 1.0)]));
    let mut c = VirtualServerCfg::new(vs_key(3));
    c.real_servers
        .push(rs(40, 1, vec![tcp(40, timing(1.0, 0, 1.0), 1.0)]));
    c.real_servers
        .push(rs(40, 3, vec![tcp(41, timing(1.0, 0, 1.0), 1.0)]));
    let t0 = Instant::now();
    let mut e = Engine::new(cfg(vec![a, b, c]), 3, t0);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut published: std::collections::HashMap<(VsKey, SocketAddr), u32> = Default::default();
    let mut now = t0;
    for _ in 0..3000 {
        let mut runs = Vec::new();
        while let Some(act) = e.poll_action() {
            match act {
                Action::StartProbe { run, .. } => runs.push(run),
                Action::SetWeight {
                    vs, dest, weight, ..
                } => {
                    let before = published.get(&(vs.clone(), dest)).copied();
                    assert_ne!(before, weight, "SetWeight without a change");
                    match weight {
                        Some(w) => published.insert((vs, dest), w),
                        None => published.remove(&(vs, dest)),
                    };
                }
                _ => {}
            }
        }
        e.assert_consistent();
        for run in runs {
            let ok = rng.gen_bool(0.6);
            let mut r = if ok {
                ProbeResult::up("ok")
            } else {
                ProbeResult::down("no")
            };
            if ok && rng.gen_bool(0.3) {
                r.weight = Some(rng.gen_range(0..5));
            }
            e.handle_result(now, run, r);
            e.assert_consistent();
        }
        now += S(0.25);
        e.handle_timeout(now);
    }
    for (i, k) in [vs_key(1), vs_key(2), vs_key(3)].iter().enumerate() {
        let mine: std::collections::BTreeMap<SocketAddr, u32> = published
            .iter()
            .filter(|((v, _), _)| v == k)
            .map(|((_, d), w)| (*d, *w))
            .collect();
        assert_eq!(Some(&mine), e.published(k), "vs {i}");
    }
}
