//! The destination set the engine publishes right after [`crate::Engine::new`], computed from
//! the configuration alone (no engine, no probes built): lets a driver start applying it while
//! the engine is still being built.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::config::{EngineConfig, VirtualServerCfg, VsKey};

/// Every `SetWeight` [`crate::Engine::new`] queues, in its order, as (virtual server, destination,
/// weight): a real server starts alive unless one of its checkers has `alpha`; quorum starts up
/// and goes down at once when the alive weight is 0 or below `quorum - hysteresis` (the sorry
/// server then takes weight 1 and the real servers are withdrawn, or kept at weight 0 with
/// `inhibit_on_failure`); `sorry_server_inhibit` keeps an idle sorry server at weight 0.
/// Applying them in order to an empty map gives what the engine's first actions give.
pub fn initial_weights(cfg: &EngineConfig) -> Vec<(VsKey, SocketAddr, u32)> {
    let mut out = Vec::new();
    for vs in &cfg.virtual_servers {
        for (dest, w) in initial_published(vs) {
            out.push((vs.key.clone(), dest, w));
        }
    }
    out
}

/// One virtual server's initial published set (as the engine's `eval_vs` computes it for
/// fresh probes: `is_up = !alpha`, no dynamic weight yet, quorum up before the first check).
fn initial_published(vs: &VirtualServerCfg) -> BTreeMap<SocketAddr, u32> {
    let alive: Vec<bool> = vs
        .real_servers
        .iter()
        .map(|r| r.checkers.iter().all(|c| !c.timing.alpha))
        .collect();
    let sum: u64 = vs
        .real_servers
        .iter()
        .zip(&alive)
        .filter(|(_, a)| **a)
        .map(|(r, _)| u64::from(r.weight))
        .sum();
    let quorum_up = !(sum == 0 || sum < vs.quorum.saturating_sub(vs.hysteresis));
    let sorry_active = vs.sorry_server.is_some() && !quorum_up;
    let mut published = BTreeMap::new();
    for (r, a) in vs.real_servers.iter().zip(&alive) {
        let w = if sorry_active || !a {
            r.inhibit_on_failure.then_some(0)
        } else {
            Some(r.weight)
        };
        if let Some(w) = w {
            published.insert(r.dest, w);
        }
    }
    if let Some(s) = vs.sorry_server {
        if sorry_active {
            published.insert(s, 1);
        } else if vs.sorry_server_inhibit {
            published.insert(s, 0);
        }
    }
    published
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Instant;

    use proptest::prelude::*;

    use super::*;
    use crate::config::{CheckerCfg, Protocol, RealServerCfg};
    use crate::spec::{ProbeKind, ProbeSpec, Target, Timing};
    use crate::{Action, Engine};

    fn checker(port: u16, alpha: bool) -> CheckerCfg {
        CheckerCfg {
            spec: ProbeSpec {
                kind: ProbeKind::TcpCheck,
                target: Target::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), port),
                connect_timeout: std::time::Duration::from_secs(3),
            },
            timing: Timing {
                alpha,
                ..Timing::keepalived_default(
                    &ProbeKind::TcpCheck,
                    std::time::Duration::from_secs(6),
                )
            },
        }
    }

    /// (sorry?, sorry_inhibit, quorum, hysteresis, real servers: (dest octet, weight,
    /// inhibit, checkers: (port, alpha)))
    type VsArb = (bool, bool, u64, u64, Vec<Rs>);
    type Rs = (u8, u32, bool, Vec<(u16, bool)>);
    type Weights = Vec<(VsKey, SocketAddr, Option<u32>)>;

    fn build(spec: &[(u8, VsArb)]) -> EngineConfig {
        let mut cfg = EngineConfig::default();
        for (k, (sorry, sorry_inh, quorum, hyst, rss)) in spec {
            let mut v = VirtualServerCfg::new(VsKey::Addr {
                protocol: Protocol::Tcp,
                addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, *k % 4)),
                port: 80,
            });
            v.quorum = *quorum;
            v.hysteresis = *hyst;
            v.sorry_server = sorry.then(|| "10.9.9.9:80".parse().expect("addr"));
            v.sorry_server_inhibit = *sorry_inh;
            for (octet, w, inh, checkers) in rss {
                let mut r = RealServerCfg::new(SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::new(10, 1, 0, *octet % 6)),
                    80,
                ));
                r.weight = *w;
                r.inhibit_on_failure = *inh;
                r.checkers = checkers.iter().map(|(p, a)| checker(*p, *a)).collect();
                v.real_servers.push(r);
            }
            cfg.virtual_servers.push(v);
        }
        cfg
    }

    /// The (key, dest) → weight map the engine's first actions give, and the prediction's.
    fn both(cfg: &EngineConfig) -> (Weights, Weights) {
        let mut e = Engine::new(cfg.clone(), 7, Instant::now());
        let mut engine = Vec::new();
        while let Some(a) = e.poll_action() {
            if let Action::SetWeight {
                vs, dest, weight, ..
            } = a
            {
                engine.push((vs, dest, weight));
            }
        }
        let predicted = initial_weights(cfg)
            .into_iter()
            .map(|(k, d, w)| (k, d, Some(w)))
            .collect();
        (engine, predicted)
    }

    #[test]
    fn alpha_inhibit_sorry_and_quorum_at_start() {
        let cfg = build(&[
            // One alpha real server of two: the other is in, the alpha one withdrawn.
            (
                0,
                (
                    false,
                    false,
                    1,
                    0,
                    vec![
                        (1, 3, false, vec![(80, true)]),
                        (2, 2, false, vec![(81, false)]),
                    ],
                ),
            ),
            // All alpha, inhibit on one, sorry server: quorum down, sorry at 1, inhibited at 0.
            (
                1,
                (
                    true,
                    false,
                    1,
                    0,
                    vec![
                        (1, 3, true, vec![(80, true)]),
                        (2, 2, false, vec![(82, true)]),
                    ],
                ),
            ),
            // Quorum 10 not met by 5: sorry server active although the real servers are alive.
            (2, (true, true, 10, 0, vec![(3, 5, false, vec![])])),
            // Idle inhibited sorry server at 0.
            (
                3,
                (true, true, 1, 0, vec![(4, 5, false, vec![(83, false)])]),
            ),
        ]);
        let (engine, predicted) = both(&cfg);
        assert_eq!(engine, predicted);
        let ip = |o: u8| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 0, o)), 80);
        let sorry: SocketAddr = "10.9.9.9:80".parse().expect("addr");
        let ws: Vec<(u8, SocketAddr, u32)> = initial_weights(&cfg)
            .into_iter()
            .map(|(k, d, w)| match k.addr() {
                Some(IpAddr::V4(a)) => (a.octets()[3], d, w),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            ws,
            vec![
                (0, ip(2), 2),
                (1, ip(1), 0),
                (1, sorry, 1),
                (2, sorry, 1),
                (3, ip(4), 5),
                (3, sorry, 0),
            ]
        );
    }

    fn arb_vs() -> impl Strategy<Value = VsArb> {
        (
            any::<bool>(),
            any::<bool>(),
            0u64..12,
            0u64..4,
            prop::collection::vec(
                (
                    0u8..8,
                    0u32..6,
                    any::<bool>(),
                    prop::collection::vec((80u16..84, any::<bool>()), 0..3),
                ),
                0..5,
            ),
        )
    }

    proptest! {
        /// Any configuration (duplicate keys and destinations, shared checkers, alpha, quorum,
        /// hysteresis, sorry servers, weight 0): the prediction is the engine's first actions.
        #[test]
        fn prediction_is_the_engines_first_actions(
            spec in prop::collection::vec((0u8..6, arb_vs()), 0..6)
        ) {
            let cfg = build(&spec);
            let (engine, predicted) = both(&cfg);
            prop_assert_eq!(engine, predicted);
        }
    }
}
