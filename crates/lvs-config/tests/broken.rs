//! At least 40 deliberately broken or odd configurations under
//! `tests/config/broken/`, each carrying its expected diagnostics inline:
//! `# expect: SEVERITY COL CODE [TEXT]` on the line the diagnostic points to
//! (TEXT must occur in its message or hint), or `# expect: clean` for a file
//! that must give no error or warning. The full diagnostic output of every
//! file is also snapshotted in `NAME.expected` (`UPDATE_EXPECT=1` rewrites).

mod common;

use common::{config_dir, expect_file, list, load_fixture, render};
use lvs_config::Severity;

struct Expect {
    line: u32,
    severity: String,
    col: u32,
    code: String,
    text: String,
}

fn expectations(text: &str) -> (Vec<Expect>, bool) {
    let mut out = Vec::new();
    let mut clean = false;
    for (i, l) in text.split('\n').enumerate() {
        let Some(pos) = l.find("# expect: ") else {
            continue;
        };
        let spec = l[pos + 10..].trim_end_matches('\r').trim();
        if spec == "clean" {
            clean = true;
            continue;
        }
        let mut it = spec.splitn(4, ' ');
        let severity = it.next().unwrap().to_string();
        let col: u32 = it.next().unwrap().parse().expect("column");
        let code = it.next().expect("code").to_string();
        let text = it.next().unwrap_or("").to_string();
        out.push(Expect {
            line: i as u32 + 1,
            severity,
            col,
            code,
            text,
        });
    }
    (out, clean)
}

#[test]
fn broken_configs_give_their_expected_diagnostics() {
    let files = list("broken", ".conf");
    assert!(files.len() >= 40, "only {} broken configs", files.len());
    let mut failures = Vec::new();
    let mut with_expectation = 0;
    for f in &files {
        let rel = format!("broken/{f}");
        let text = std::fs::read_to_string(config_dir().join(&rel)).unwrap();
        let (exps, clean) = expectations(&text);
        assert!(clean || !exps.is_empty(), "{rel} has no '# expect:' line");
        let loaded = load_fixture(&rel);
        if clean {
            for d in &loaded.diagnostics {
                if d.severity != Severity::Note {
                    failures.push(format!("{rel}: expected clean, got: {d}"));
                }
            }
        } else {
            with_expectation += 1;
        }
        for e in &exps {
            let hit = loaded.diagnostics.iter().any(|d| {
                d.severity.to_string() == e.severity
                    && d.line == e.line
                    && d.col == e.col
                    && d.code == e.code
                    && (d.message.contains(&e.text)
                        || d.hint.as_deref().is_some_and(|h| h.contains(&e.text)))
            });
            if !hit {
                failures.push(format!(
                    "{rel}:{}:{}: expected {} {} containing {:?}; got:\n{}",
                    e.line,
                    e.col,
                    e.severity,
                    e.code,
                    e.text,
                    render(&loaded)
                ));
            }
        }
        let snap = config_dir().join(format!("broken/{}.expected", f.trim_end_matches(".conf")));
        if let Err(m) = expect_file(&snap, &render(&loaded)) {
            failures.push(m);
        }
    }
    assert!(
        with_expectation >= 40,
        "only {with_expectation} configs with an expected diagnostic"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
