//! Shared helpers of the lvs-config integration tests: the snapshot
//! comparison (`UPDATE_EXPECT=1` rewrites the checked-in files) and loading
//! fixtures from the repository's `tests/config/` through a `MemSource`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use lvs_config::{Loaded, MemSource};

/// `tests/config/` of the repository.
pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/config")
}

/// Compare `actual` with the checked-in file `path`; with `UPDATE_EXPECT=1`
/// write it instead. Returns an error message on mismatch.
pub fn expect_file(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, actual).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: {e} (run with UPDATE_EXPECT=1 to create it)",
            path.display()
        )
    })?;
    if expected != actual {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines().chain(std::iter::repeat("<missing>")))
            .enumerate()
            .filter(|(_, (e, a))| e != a)
            .take(5)
            .map(|(i, (e, a))| format!("line {}:\n  expected: {e}\n  actual:   {a}", i + 1))
            .collect();
        return Err(format!(
            "{} differs from the actual output (UPDATE_EXPECT=1 to accept):\n{}\n(expected {} lines, actual {})",
            path.display(),
            diff.join("\n"),
            expected.lines().count(),
            actual.lines().count()
        ));
    }
    Ok(())
}

/// Load fixture `rel` (relative to `tests/config/`) from an in-memory copy,
/// under the name `rel`, so diagnostics are machine-independent. Sibling
/// files of the same directory are available for includes.
pub fn load_fixture(rel: &str) -> Loaded {
    let full = config_dir().join(rel);
    let mut src = MemSource::new();
    let dir = Path::new(rel).parent().unwrap_or(Path::new(""));
    for entry in std::fs::read_dir(full.parent().unwrap()).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            let name = dir.join(p.file_name().unwrap());
            src.add(name, std::fs::read(&p).unwrap());
        }
    }
    lvs_config::load(&src, Path::new(rel)).expect("fixture readable")
}

/// Diagnostics rendered one per line (hints on their own indented line).
pub fn render(l: &Loaded) -> String {
    let mut s = String::new();
    for d in &l.diagnostics {
        s.push_str(&d.to_string());
        s.push('\n');
    }
    s
}

/// Sorted names of the files in `tests/config/<dir>` with the given suffix.
pub fn list(dir: &str, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(config_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            if suffix.is_empty() {
                !n.ends_with(".md")
            } else {
                n.ends_with(suffix)
            }
        })
        .collect();
    v.sort();
    v
}
