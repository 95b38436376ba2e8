//! Golden conformance tests: recorded inputs → expected actions on a virtual
//! clock.
//!
//! Each directory under `tests/conformance/` holds:
//! - `README` — the scenario in "Input: / Output:" form;
//! - `config.json` — an [`EngineCfg`];
//! - `input.jsonl` — `{"at_ms": N, "input": <Input>|null}` lines (null only
//!   advances the clock), in time order;
//! - `output.jsonl` — every action with the virtual time (µs) it was emitted,
//!   then the final status and engine counters.
//!
//! Timers fire at their exact deadlines between inputs. `UPDATE_EXPECT=1
//! cargo test -p lvs-vrrp --test conformance` rewrites `output.jsonl`;
//! review the diff.

use std::fmt::Write as _;
use std::path::Path;

use lvs_vrrp::{Engine, EngineCfg, Input, Instant};
use serde::Deserialize;

#[derive(Deserialize)]
struct Step {
    at_ms: u64,
    input: Option<Input>,
}

fn drain(e: &mut Engine, now: Instant, out: &mut String) {
    while let Some(a) = e.poll_action() {
        let line = serde_json::json!({ "t_us": now.0, "action": a });
        writeln!(out, "{line}").unwrap();
    }
}

fn advance(e: &mut Engine, until: Instant, out: &mut String) {
    while let Some(t) = e.poll_timeout() {
        if t > until {
            break;
        }
        e.handle_timeout(t);
        drain(e, t, out);
    }
}

fn run_case(dir: &Path) -> String {
    let cfg: EngineCfg =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
            .unwrap_or_else(|e| panic!("{}: config.json: {e}", dir.display()));
    let (mut e, warnings) = Engine::new(cfg).unwrap();
    let mut out = String::new();
    for w in warnings {
        writeln!(out, "{}", serde_json::json!({ "warning": w })).unwrap();
    }
    let inputs = std::fs::read_to_string(dir.join("input.jsonl")).unwrap();
    let mut last = Instant::ZERO;
    for (n, line) in inputs.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let step: Step = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("{}/input.jsonl:{}: {err}", dir.display(), n + 1));
        let now = Instant::from_millis(step.at_ms);
        assert!(
            now >= last,
            "{}/input.jsonl:{}: time goes backwards",
            dir.display(),
            n + 1
        );
        last = now;
        advance(&mut e, now, &mut out);
        if let Some(input) = step.input {
            e.handle_input(now, &input);
            drain(&mut e, now, &mut out);
        }
    }
    writeln!(
        out,
        "{}",
        serde_json::json!({ "t_us": last.0, "status": e.status() })
    )
    .unwrap();
    writeln!(
        out,
        "{}",
        serde_json::json!({ "t_us": last.0, "engine": e.engine_stats() })
    )
    .unwrap();
    out
}

#[test]
fn conformance() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    let mut failed = Vec::new();
    for dir in dirs {
        let got = run_case(&dir);
        let path = dir.join("output.jsonl");
        if update {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            eprintln!("=== {} differs; got:\n{got}", dir.display());
            failed.push(dir.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(
        failed.is_empty(),
        "conformance cases differ (UPDATE_EXPECT=1 to regenerate): {failed:?}"
    );
}
