//! N routers on a simulated L2 segment with a virtual clock (quinn's `Pair`
//! generalised): every advert one engine sends is delivered to the others.
//! Checks convergence, failover (crash and priority 0), preemption,
//! nopreempt, preempt_delay and sync groups, with keepalived's timings.

use std::net::IpAddr;
use std::time::Duration;

use lvs_vrrp::config::{AuthCfg, SyncGroupCfg, TrackInterface};
use lvs_vrrp::{Action, Engine, EngineCfg, InstanceCfg, RxPacket, State, Vip};
use lvs_wire::{Family, VrrpVersion};

struct Router {
    engine: Engine,
    alive: bool,
    /// Actions seen, with the time they were emitted.
    log: Vec<(u64, Action)>,
}

struct Segment {
    routers: Vec<Router>,
    now: u64, // µs
}

impl Segment {
    fn new(cfgs: Vec<EngineCfg>) -> Self {
        let routers = cfgs
            .into_iter()
            .map(|c| Router {
                engine: Engine::new(c).unwrap().0,
                alive: true,
                log: Vec::new(),
            })
            .collect();
        Self { routers, now: 0 }
    }

    fn at(&self) -> lvs_vrrp::Instant {
        lvs_vrrp::Instant(self.now)
    }

    fn start(&mut self, r: usize) {
        let now = self.at();
        self.routers[r].alive = true;
        self.routers[r].engine.handle_start(now);
        self.drain();
    }

    /// Deliver all pending actions (zero latency) until quiet.
    fn drain(&mut self) {
        loop {
            let mut packets = Vec::new();
            for (idx, r) in self.routers.iter_mut().enumerate() {
                while let Some(a) = r.engine.poll_action() {
                    if let Action::SendAdvert {
                        interface,
                        family,
                        src,
                        dst,
                        data,
                        ..
                    } = &a
                    {
                        if r.alive {
                            let p = match family {
                                Family::Inet => RxPacket::Ipv4 {
                                    interface: interface.clone(),
                                    data: data.clone(),
                                },
                                Family::Inet6 => RxPacket::Ipv6 {
                                    interface: interface.clone(),
                                    src: *src,
                                    dst: *dst,
                                    hop_limit: 255,
                                    data: data.clone(),
                                },
                            };
                            packets.push((idx, *dst, p));
                        }
                    }
                    r.log.push((self.now, a));
                }
            }
            if packets.is_empty() {
                return;
            }
            let now = self.at();
            for (from, dst, p) in packets {
                for (idx, r) in self.routers.iter_mut().enumerate() {
                    let addressed = dst.is_multicast() || own_addr(idx) == dst;
                    if idx != from && r.alive && addressed {
                        r.engine.handle_packet(now, &p);
                    }
                }
            }
        }
    }

    /// Advance the virtual clock to `until`, firing timers in order.
    fn run_until(&mut self, until: u64) {
        loop {
            let next = self
                .routers
                .iter()
                .filter(|r| r.alive)
                .filter_map(|r| r.engine.poll_timeout())
                .map(|t| t.0)
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    let now = self.at();
                    for r in self.routers.iter_mut().filter(|r| r.alive) {
                        if r.engine.poll_timeout().is_some_and(|x| x <= now) {
                            r.engine.handle_timeout(now);
                        }
                    }
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = until;
    }

    fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d.as_micros() as u64);
    }

    fn state(&self, r: usize, inst: usize) -> State {
        self.routers[r].engine.status()[inst].state
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&r| self.routers[r].alive && self.state(r, 0) == State::Master)
            .collect()
    }

    /// kill -9: the router disappears without a word.
    fn crash(&mut self, r: usize) {
        self.routers[r].alive = false;
    }

    /// SIGTERM.
    fn shutdown(&mut self, r: usize) {
        let now = self.at();
        self.routers[r].engine.handle_shutdown(now);
        self.drain();
        self.routers[r].alive = false;
    }

    fn first_since(&self, r: usize, since: u64, f: impl Fn(&Action) -> bool) -> Option<u64> {
        self.routers[r]
            .log
            .iter()
            .find(|(t, a)| *t >= since && f(a))
            .map(|(t, _)| *t)
    }

    /// SIGHUP with a new configuration.
    fn reload(&mut self, r: usize, cfg: EngineCfg) {
        let now = self.at();
        self.routers[r].engine.reconfigure(now, cfg).unwrap();
        self.drain();
    }

    /// Actions router `r` emitted at or after `since`.
    fn actions_since(&self, r: usize, since: u64) -> Vec<&Action> {
        self.routers[r]
            .log
            .iter()
            .filter(|(t, _)| *t >= since)
            .map(|(_, a)| a)
            .collect()
    }

    /// Restart a router with a fresh engine (same config).
    fn restart(&mut self, r: usize, cfg: EngineCfg) {
        self.routers[r] = Router {
            engine: Engine::new(cfg).unwrap().0,
            alive: true,
            log: Vec::new(),
        };
        self.start(r);
    }
}

fn own_addr(idx: usize) -> IpAddr {
    format!("10.0.0.{}", idx + 1).parse().unwrap()
}

fn inst(idx: usize, name: &str, vrid: u8, prio: u8, version: VrrpVersion) -> InstanceCfg {
    InstanceCfg {
        name: name.into(),
        interface: "eth0".into(),
        virtual_router_id: vrid,
        priority: prio,
        version,
        advert_int: Duration::from_secs(1),
        authentication: if version == VrrpVersion::V2 {
            AuthCfg::Pass("secret".into())
        } else {
            AuthCfg::None
        },
        virtual_ipaddress: vec![Vip::host(format!("10.0.0.{}", 100 + vrid).parse().unwrap())],
        src_ip: Some(own_addr(idx)),
        ..Default::default()
    }
}

fn one(idx: usize, prio: u8, version: VrrpVersion) -> EngineCfg {
    EngineCfg {
        instances: vec![inst(idx, "VI_1", 51, prio, version)],
        ..Default::default()
    }
}

const SEC: u64 = 1_000_000;

fn is_master_notify(a: &Action) -> bool {
    matches!(
        a,
        Action::Notify {
            state: State::Master,
            ..
        }
    )
}

#[test]
fn converges_to_one_master_and_fails_over_on_crash() {
    for version in [VrrpVersion::V2, VrrpVersion::V3] {
        let mut s = Segment::new(vec![one(0, 150, version), one(1, 100, version)]);
        s.start(0);
        s.start(1);
        s.run_for(Duration::from_secs(10));
        assert_eq!(s.masters(), vec![0], "{version:?}");
        // keepalived: prio 150 goes MASTER after 3 + (256-150)/256 s.
        let t = s.first_since(0, 0, is_master_notify).unwrap();
        assert_eq!(t, 3 * SEC + 106 * SEC / 256);
        // The backup never became master.
        assert!(s.first_since(1, 0, is_master_notify).is_none());

        let crash_at = s.now;
        s.crash(0);
        s.run_for(Duration::from_secs(10));
        assert_eq!(s.masters(), vec![1]);
        let took = s.first_since(1, crash_at, is_master_notify).unwrap() - crash_at;
        // Last advert from 0 was at most 1 s before the crash; the takeover
        // is bounded by Master_Down_Interval = 3 + 156/256 s after it.
        assert!(took <= 3 * SEC + 156 * SEC / 256, "{took}");
        assert!(took > 2 * SEC, "{took}");
        // It sent gratuitous ARPs.
        assert!(s
            .first_since(1, crash_at, |a| matches!(
                a,
                Action::Gratuitous { count: 5, .. }
            ))
            .is_some());
    }
}

#[test]
fn priority_zero_gives_skew_time_handover() {
    let mut s = Segment::new(vec![
        one(0, 200, VrrpVersion::V2),
        one(1, 40, VrrpVersion::V2),
    ]);
    s.start(0);
    s.start(1);
    s.run_for(Duration::from_secs(6));
    assert_eq!(s.masters(), vec![0]);
    let t0 = s.now;
    s.shutdown(0);
    s.run_for(Duration::from_secs(5));
    assert_eq!(s.masters(), vec![1]);
    // keepalived.md §3.2: a prio-40 backup took over 0.84 s after prio 0 = (256-40)/256.
    let took = s.first_since(1, t0, is_master_notify).unwrap() - t0;
    assert_eq!(took, 216 * SEC / 256);
    // Shutdown sent a priority-0 advert and removed the VIPs.
    let log = &s.routers[0].log;
    assert!(log
        .iter()
        .any(|(t, a)| *t == t0 && matches!(a, Action::SendAdvert { priority: 0, .. })));
    assert!(log
        .iter()
        .any(|(t, a)| *t == t0 && matches!(a, Action::DelVips { .. })));
    assert!(log.iter().any(|(_, a)| matches!(
        a,
        Action::Notify {
            state: State::Stop,
            ..
        }
    )));
}

#[test]
fn higher_priority_returns_and_preempts() {
    let mut s = Segment::new(vec![
        one(0, 150, VrrpVersion::V3),
        one(1, 100, VrrpVersion::V3),
    ]);
    s.start(1);
    s.run_for(Duration::from_secs(5));
    assert_eq!(s.masters(), vec![1]);
    let t0 = s.now;
    s.start(0);
    s.run_for(Duration::from_secs(6));
    assert_eq!(s.masters(), vec![0]);
    // Preemption: lower adverts are discarded, the down timer runs out.
    let took = s.first_since(0, t0, is_master_notify).unwrap() - t0;
    assert_eq!(took, 3 * SEC + 106 * SEC / 256);
    assert_eq!(s.state(1, 0), State::Backup);
}

#[test]
fn nopreempt_keeps_the_current_master() {
    let mut c0 = one(0, 150, VrrpVersion::V2);
    c0.instances[0].nopreempt = true;
    let mut s = Segment::new(vec![c0, one(1, 100, VrrpVersion::V2)]);
    s.start(1);
    s.run_for(Duration::from_secs(5));
    s.start(0);
    s.run_for(Duration::from_secs(20));
    assert_eq!(s.masters(), vec![1]);
}

#[test]
fn preempt_delay_postpones_preemption() {
    let mut c0 = one(0, 150, VrrpVersion::V2);
    c0.instances[0].preempt_delay = Duration::from_secs(5);
    let mut s = Segment::new(vec![c0, one(1, 100, VrrpVersion::V2)]);
    s.start(1);
    s.run_for(Duration::from_secs(5));
    let t0 = s.now;
    s.start(0);
    s.run_for(Duration::from_secs(7));
    assert_eq!(s.masters(), vec![1], "still waiting out preempt_delay");
    s.run_for(Duration::from_secs(5));
    assert_eq!(s.masters(), vec![0]);
    let took = s.first_since(0, t0, is_master_notify).unwrap() - t0;
    assert!(took >= 5 * SEC + 3 * SEC, "{took}");
    assert!(took <= 5 * SEC + 5 * SEC, "{took}");
}

#[test]
fn equal_priority_higher_address_wins() {
    let mut s = Segment::new(vec![
        one(0, 100, VrrpVersion::V2),
        one(1, 100, VrrpVersion::V2),
    ]);
    s.start(0);
    s.start(1);
    s.run_for(Duration::from_secs(10));
    // Both time out together; the higher primary address (10.0.0.2) stays.
    assert_eq!(s.masters(), vec![1]);
}

#[test]
fn owner_takes_over_immediately() {
    let mut s = Segment::new(vec![
        one(0, 255, VrrpVersion::V2),
        one(1, 100, VrrpVersion::V2),
    ]);
    s.start(1);
    s.run_for(Duration::from_secs(5));
    let t0 = s.now;
    s.start(0);
    s.run_for(Duration::from_secs(1));
    assert_eq!(s.first_since(0, t0, is_master_notify), Some(t0));
    assert_eq!(s.masters(), vec![0]);
}

#[test]
fn restart_after_crash_comes_back_as_backup_then_preempts() {
    let mut s = Segment::new(vec![
        one(0, 150, VrrpVersion::V2),
        one(1, 100, VrrpVersion::V2),
    ]);
    s.start(0);
    s.start(1);
    s.run_for(Duration::from_secs(6));
    s.crash(0);
    s.run_for(Duration::from_secs(6));
    assert_eq!(s.masters(), vec![1]);
    s.restart(0, one(0, 150, VrrpVersion::V2));
    s.run_for(Duration::from_secs(6));
    assert_eq!(s.masters(), vec![0]);
}

fn grouped(idx: usize, prio: u8) -> EngineCfg {
    let mut a = inst(idx, "VI_A", 51, prio, VrrpVersion::V2);
    let mut b = inst(idx, "VI_B", 52, prio, VrrpVersion::V2);
    b.interface = "eth1".into();
    a.track_interface = vec![TrackInterface {
        name: "eth2".into(),
        weight: 0,
        reverse: false,
    }];
    b.virtual_ipaddress = vec![Vip::host("10.1.0.52".parse().unwrap())];
    let _ = &mut a;
    EngineCfg {
        instances: vec![a, b],
        sync_groups: vec![SyncGroupCfg {
            name: "G1".into(),
            group: vec!["VI_A".into(), "VI_B".into()],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn sync_group_moves_together_when_a_tracked_interface_goes_down() {
    let mut s = Segment::new(vec![grouped(0, 150), grouped(1, 100)]);
    s.start(0);
    s.start(1);
    s.run_for(Duration::from_secs(6));
    assert_eq!(
        (s.state(0, 0), s.state(0, 1)),
        (State::Master, State::Master)
    );
    assert_eq!(
        (s.state(1, 0), s.state(1, 1)),
        (State::Backup, State::Backup)
    );
    let t0 = s.now;
    let now = s.at();
    s.routers[0].engine.handle_link(now, "eth2", false);
    s.drain();
    // Both members of router 0 go to FAULT at once and send priority 0.
    assert_eq!((s.state(0, 0), s.state(0, 1)), (State::Fault, State::Fault));
    s.run_for(Duration::from_secs(3));
    assert_eq!(
        (s.state(1, 0), s.state(1, 1)),
        (State::Master, State::Master)
    );
    let took = s.first_since(1, t0, is_master_notify).unwrap() - t0;
    assert_eq!(took, 156 * SEC / 256, "priority 0 → skew time");
    assert!(s.routers[0].log.iter().any(|(_, a)| matches!(
        a,
        Action::Notify {
            kind: lvs_vrrp::NotifyKind::Group,
            state: State::Fault,
            ..
        }
    )));
    // Link back: router 0 returns to BACKUP, then preempts with the group.
    let now = s.at();
    s.routers[0].engine.handle_link(now, "eth2", true);
    s.drain();
    s.run_for(Duration::from_secs(6));
    assert_eq!(
        (s.state(0, 0), s.state(0, 1)),
        (State::Master, State::Master)
    );
    assert_eq!(
        (s.state(1, 0), s.state(1, 1)),
        (State::Backup, State::Backup)
    );
}

#[test]
fn ipv6_v3_pair() {
    let mk = |idx: usize, prio: u8| {
        let mut c = inst(idx, "VI_6", 60, prio, VrrpVersion::V3);
        c.family = Family::Inet6;
        c.src_ip = Some(format!("fe80::{}", idx + 1).parse().unwrap());
        c.virtual_ipaddress = vec![Vip::host("fd00::60".parse().unwrap())];
        c.advert_int = Duration::from_millis(100);
        EngineCfg {
            instances: vec![c],
            ..Default::default()
        }
    };
    let mut s = Segment::new(vec![mk(0, 200), mk(1, 100)]);
    s.start(0);
    s.start(1);
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.masters(), vec![0]);
    let t0 = s.now;
    s.crash(0);
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.masters(), vec![1]);
    let took = s.first_since(1, t0, is_master_notify).unwrap() - t0;
    // v3 advert_int 0.1: 3 × 100 ms + (256−100)×100 ms/256 ≈ 361 ms at most.
    assert!(took <= 300_000 + 156 * 100_000 / 256, "{took}");
}

// ----- reload (SIGHUP): keepalived.md §5.4 -----

fn two(idx: usize, prio: u8) -> EngineCfg {
    EngineCfg {
        instances: vec![
            inst(idx, "VI_1", 51, prio, VrrpVersion::V2),
            inst(idx, "VI_2", 52, prio, VrrpVersion::V2),
        ],
        ..Default::default()
    }
}

fn notifies(actions: &[&Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Notify { .. }))
        .count()
}

#[test]
fn reload_edits_vips_of_a_master_in_place_and_keeps_its_state() {
    let mut s = Segment::new(vec![
        one(0, 150, VrrpVersion::V2),
        one(1, 100, VrrpVersion::V2),
    ]);
    s.start(0);
    s.start(1);
    s.run_for(Duration::from_secs(6));
    assert_eq!(s.masters(), vec![0]);
    let t0 = s.now;
    let mut c = one(0, 150, VrrpVersion::V2);
    let new_vip = Vip::host("10.0.0.200".parse().unwrap());
    let old_vip = c.instances[0].virtual_ipaddress[0].clone();
    c.instances[0].virtual_ipaddress = vec![new_vip.clone()];
    s.reload(0, c.clone());
    let acts = s.actions_since(0, t0);
    assert_eq!(s.state(0, 0), State::Master);
    assert_eq!(notifies(&acts), 0, "{acts:?}");
    assert!(acts.contains(&&Action::DelVips {
        instance: "VI_1".into(),
        interface: "eth0".into(),
        vips: vec![old_vip],
        reload: true,
    }));
    assert!(acts.contains(&&Action::AddVips {
        instance: "VI_1".into(),
        interface: "eth0".into(),
        vips: vec![new_vip.clone()],
        reload: true,
    }));
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::Gratuitous { vips, .. } if *vips == vec![new_vip.clone()])));
    // The same configuration again changes nothing but the re-announcement.
    let n = s.routers[0].log.len();
    s.reload(0, c);
    let acts: Vec<&Action> = s.routers[0].log[n..].iter().map(|(_, a)| a).collect();
    assert!(
        acts.iter().all(|a| matches!(a, Action::Gratuitous { .. })),
        "{acts:?}"
    );
    s.run_for(Duration::from_secs(10));
    assert_eq!(s.masters(), vec![0]);
    assert_eq!(s.first_since(1, 0, is_master_notify), None);
}

#[test]
fn reload_lowering_the_master_priority_hands_over() {
    let mut s = Segment::new(vec![
        one(0, 150, VrrpVersion::V3),
        one(1, 100, VrrpVersion::V3),
    ]);
    s.start(0);
    s.start(1);
    s.run_for(Duration::from_secs(6));
    assert_eq!(s.masters(), vec![0]);
    let t0 = s.now;
    s.reload(0, one(0, 50, VrrpVersion::V3));
    assert_eq!(s.routers[0].engine.status()[0].effective_priority, 50);
    s.run_for(Duration::from_secs(10));
    assert_eq!(s.masters(), vec![1]);
    // The backup discards the lower adverts and its down timer runs out.
    let took = s.first_since(1, t0, is_master_notify).unwrap() - t0;
    assert!(took <= 3 * SEC + 156 * SEC / 256, "{took}");
    // The old master goes to BACKUP on the higher advert and drops its VIP.
    assert!(s
        .actions_since(0, t0)
        .iter()
        .any(|a| matches!(a, Action::DelVips { reload: false, .. })));
}

#[test]
fn reload_removing_an_instance_sends_priority_zero_and_keeps_the_others() {
    let mut s = Segment::new(vec![two(0, 150), two(1, 100)]);
    s.start(0);
    s.start(1);
    s.run_for(Duration::from_secs(6));
    assert_eq!(
        (s.state(0, 0), s.state(0, 1)),
        (State::Master, State::Master)
    );
    let t0 = s.now;
    s.reload(0, one(0, 150, VrrpVersion::V2));
    let acts = s.actions_since(0, t0);
    assert!(acts.iter().any(|a| matches!(
        a,
        Action::SendAdvert { instance, priority: 0, .. } if instance == "VI_2"
    )));
    assert!(acts.iter().any(
        |a| matches!(a, Action::DelVips { instance, reload: false, .. } if instance == "VI_2")
    ));
    assert!(!acts
        .iter()
        .any(|a| matches!(a, Action::DelVips { instance, .. } if instance == "VI_1")));
    assert!(acts.iter().any(|a| matches!(
        a,
        Action::Notify { name, state: State::Fault, .. } if name == "VI_2"
    )));
    assert_eq!(s.routers[0].engine.status().len(), 1);
    assert_eq!(s.state(0, 0), State::Master);
    // The peer takes VI_2 after Skew_Time (priority 100: 156/256 s).
    s.run_for(Duration::from_secs(3));
    assert_eq!(
        (s.state(1, 0), s.state(1, 1)),
        (State::Backup, State::Master)
    );
    let took = s
        .first_since(
            1,
            t0,
            |a| matches!(a, Action::Notify { name, state: State::Master, .. } if name == "VI_2"),
        )
        .unwrap()
        - t0;
    assert_eq!(took, 156 * SEC / 256);
}

#[test]
fn reload_adding_an_instance_starts_it_in_backup() {
    let mut s = Segment::new(vec![one(0, 150, VrrpVersion::V2)]);
    s.start(0);
    s.run_for(Duration::from_secs(6));
    assert_eq!(s.state(0, 0), State::Master);
    let t0 = s.now;
    s.reload(0, two(0, 150));
    assert_eq!(
        (s.state(0, 0), s.state(0, 1)),
        (State::Master, State::Backup)
    );
    s.run_for(Duration::from_secs(6));
    assert_eq!(
        (s.state(0, 0), s.state(0, 1)),
        (State::Master, State::Master)
    );
    let acts = s.actions_since(0, t0);
    // Only VI_2 was notified (BACKUP, then MASTER).
    assert!(acts
        .iter()
        .filter_map(|a| match a {
            Action::Notify { name, .. } => Some(name),
            _ => None,
        })
        .all(|n| n == "VI_2"));
    assert_eq!(notifies(&acts), 2);
}

#[test]
fn reload_turning_nopreempt_off_lets_the_higher_priority_preempt() {
    let mut b = one(1, 200, VrrpVersion::V2);
    b.instances[0].nopreempt = true;
    let mut s = Segment::new(vec![one(0, 150, VrrpVersion::V2), b]);
    s.start(0);
    s.run_for(Duration::from_secs(6));
    s.start(1);
    s.run_for(Duration::from_secs(10));
    assert_eq!(s.masters(), vec![0]);
    s.reload(1, one(1, 200, VrrpVersion::V2));
    s.run_for(Duration::from_secs(10));
    assert_eq!(s.masters(), vec![1]);
}

#[test]
fn reload_keeps_tracker_state_and_applies_tracking_changes() {
    use lvs_vrrp::config::TrackScript;
    use lvs_vrrp::ScriptCfg;
    let tracked = |track: bool| {
        let mut c = one(0, 150, VrrpVersion::V2);
        c.scripts = vec![ScriptCfg {
            name: "chk".into(),
            weight: 0,
            reverse: false,
            rise: 1,
            fall: 1,
            init_fail: false,
        }];
        if track {
            c.instances[0].track_script = vec![TrackScript {
                name: "chk".into(),
                weight: None,
                reverse: false,
            }];
        }
        c
    };
    let mut s = Segment::new(vec![tracked(true)]);
    s.start(0);
    s.run_for(Duration::from_secs(6));
    assert_eq!(s.state(0, 0), State::Master);
    let now = s.at();
    s.routers[0].engine.handle_script(now, "chk", false);
    s.drain();
    assert_eq!(s.state(0, 0), State::Fault);
    let n = s.routers[0].log.len();
    // Same config: the failed script stays failed, FAULT is kept, nothing notified.
    s.reload(0, tracked(true));
    assert_eq!(s.state(0, 0), State::Fault);
    let acts: Vec<&Action> = s.routers[0].log[n..].iter().map(|(_, a)| a).collect();
    assert_eq!(notifies(&acts), 0, "{acts:?}");
    // The tracker removed: the instance leaves FAULT for BACKUP, then MASTER.
    s.reload(0, tracked(false));
    assert_eq!(s.state(0, 0), State::Backup);
    s.run_for(Duration::from_secs(6));
    assert_eq!(s.state(0, 0), State::Master);
}
