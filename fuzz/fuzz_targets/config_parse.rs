//! Fuzz the keepalived.conf front end (reader, parser, lowering, lints):
//! it must never panic or hang on any bytes.
//! Run: `cargo +nightly fuzz run config_parse` (seed the corpus with
//! `tests/config/fixtures/**`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let loaded = lvs_config::parse_bytes("fuzz.conf", data);
    for d in &loaded.diagnostics {
        let _ = d.to_string();
    }
});
