//! The front end never panics and always terminates, whatever the input:
//! arbitrary bytes, soups of keepalived tokens (braces, quotes, `$`, `@`,
//! `~SEQ`, comments, CR/NBSP), and mutations of real configurations.

use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "global_defs",
    "vrrp_instance",
    "virtual_server",
    "real_server",
    "virtual_ipaddress",
    "vrrp_script",
    "vrrp_sync_group",
    "group",
    "track_script",
    "authentication",
    "TCP_CHECK",
    "HTTP_GET",
    "MISC_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "url",
    "path",
    "state",
    "MASTER",
    "Master",
    "priority",
    "virtual_router_id",
    "advert_int",
    "lb_algo",
    "lb_kind",
    "DR",
    "TUN",
    "persistence_timeout",
    "protocol",
    "TCP",
    "weight",
    "lvs_timeouts",
    "tcp",
    "notify_master",
    "script",
    "misc_path",
    "include",
    "*.conf",
    "{",
    "}",
    "{",
    "}",
    "\"",
    "'",
    "\\",
    "#",
    "!",
    "//",
    "$X=",
    "$X",
    "${X}",
    "${_PWD}",
    "${_RANDOM 1 5}",
    "@a",
    "@^a",
    "~SEQ(i,1,3)",
    "~LST(v,a,b)",
    "$i",
    "10.0.0.1",
    "10.0.0.1/24",
    "fe80::1/64",
    "80",
    "0",
    "-1",
    "1.5",
    "99999999999999999999",
    "\n",
    "\n",
    "\n",
    "\r\n",
    "\t",
    " ",
    " ",
    "\u{a0}",
    "\\\n",
    "\0",
    "virtual_server_group",
    "fwmark",
    "1-5",
    "sorry_server",
    "unicast_peer",
    "garbage_kw",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..300).prop_map(|v| {
        let mut s = String::new();
        for t in v {
            s.push_str(t);
            if !t.ends_with('\n') {
                s.push(' ');
            }
        }
        s
    })
}

fn check(bytes: &[u8]) {
    let l = lvs_config::parse_bytes("prop.conf", bytes);
    // Every diagnostic renders; the model serializes.
    for d in &l.diagnostics {
        let _ = d.to_string();
    }
    serde_json::to_string(&l).expect("serializable");
}

const SEED: &str = include_str!("../../../tests/config/fixtures/seed/master.conf");

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        check(&bytes);
    }

    #[test]
    fn token_soup(s in soup()) {
        check(s.as_bytes());
    }

    #[test]
    fn mutated_seed(edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(TOKENS), any::<bool>()), 1..20)) {
        let mut text: Vec<u8> = SEED.as_bytes().to_vec();
        for (at, tok, delete) in edits {
            let i = at.index(text.len() + 1);
            if delete && i < text.len() {
                let end = (i + tok.len()).min(text.len());
                text.drain(i..end);
            } else {
                text.splice(i..i, tok.bytes());
            }
        }
        check(&text);
    }
}

/// Inputs built to blow up: nested repetition and exponential definitions
/// are cut off by the reader's budgets instead of exhausting memory.
#[test]
fn blow_ups_are_bounded() {
    let nested = "~SEQ(i, 1, 100000) ~SEQ(j, 1, 100000) real_server 10.0.$i.$j 80\n";
    let l = lvs_config::parse_str("nested.conf", nested);
    assert!(l.diagnostics.iter().any(|d| d.code == "repeat"));
    let mut exp = String::from("$A0=xxxxxxxx\n");
    for i in 1..40 {
        exp.push_str(&format!("$A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1));
    }
    for _ in 0..2000 {
        exp.push_str("router_id ${A39}\n");
    }
    let l = lvs_config::parse_str("exp.conf", &exp);
    assert!(l.diagnostics.iter().any(|d| d.code == "substitution"));
    let deep = "a {\n".repeat(100_000);
    let l = lvs_config::parse_str("deep.conf", &deep);
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.code == "missing-close-brace"));
}
