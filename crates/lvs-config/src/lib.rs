//! lvs-config: the keepalived.conf front end of lvsd.
//!
//! Layer: pure library, no I/O except reading files through [`Source`].
//!
//! Pipeline (each stage never fails; problems become [`Diagnostic`]s):
//! 1. `lexer`: bytes → logical lines (comments, quotes, braces, `include`,
//!    `@id` lines, `$NAME` definitions, `~SEQ`/`~LST`);
//! 2. `tree`: lines → keyword tree by brace matching;
//! 3. `lower`: tree → typed [`Config`] with keepalived's defaults and ranges,
//!    unknown/obsolete keyword warnings, and `cascade` (lint d);
//! 4. `lint`: findings keepalived does not give (lints a, b, e, f).
//!
//! Architecture Invariants:
//! - the front end never panics and always terminates on arbitrary bytes;
//! - config text and file names are data, never format strings;
//! - every model item carries the [`Span`] of its keyword.

#![warn(missing_docs)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

mod cascade;
mod diag;
mod lexer;
pub mod lint;
mod lower;
pub mod model;
mod reload;
mod schema;
mod source;
mod text;
mod tree;
mod values;

pub use diag::{Diagnostic, Severity};
pub use model::*;
pub use reload::{reload, Patch, Reload, VsChange};
pub use source::{FileMeta, FsSource, MemSource, Source};

/// Errors that stop a load before any configuration is read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The main configuration file cannot be read (exit code 2 of `lvsd check`).
    #[error("{0}")]
    Unreadable(String),
}

/// Options of a load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The config-id that `@ID` lines are compared with (keepalived `-i`);
    /// None = the host name up to its first dot.
    pub config_id: Option<String>,
    /// `${_INSTANCE}` (keepalived `instance NAME`).
    pub instance: Option<String>,
}

/// The result of loading one configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Loaded {
    /// The typed configuration.
    pub config: Config,
    /// Everything worth telling, in source order, each once.
    pub diagnostics: Vec<Diagnostic>,
    /// The files read: index 0 is the main file; [`Span::file`] indexes this.
    pub files: Vec<PathBuf>,
    /// What [`reload`] compares against (not part of the value: ignored by
    /// `==`, not serialized).
    #[serde(skip)]
    pub(crate) base: reload::Base,
}

use serde::Serialize;

impl Loaded {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// The file a span points into.
    pub fn file_of(&self, span: Span) -> Option<&Path> {
        self.files.get(span.file as usize).map(PathBuf::as_path)
    }
}

/// Load the configuration whose main file is `path`.
pub fn load(source: &dyn Source, path: &Path) -> Result<Loaded, Error> {
    load_with(source, path, &LoadOptions::default())
}

/// Load with explicit options.
pub fn load_with(source: &dyn Source, path: &Path, opts: &LoadOptions) -> Result<Loaded, Error> {
    let mut sink = Sink::default();
    let bump = bumpalo::Bump::new();
    // Every question asked of the source is recorded for `reload`.
    let rec = reload::Recorder::new(source);
    let read_opts = read_options(&rec, opts);
    // The main file's text outlives the reader: its words borrow it.
    let text = rec
        .read(path)
        .map_err(|e| Error::Unreadable(lexer::unreadable(path, &e)))?;
    let mut reader = lexer::Reader::new(&rec, &bump, read_opts);
    reader.read_main_bytes(path, &text, &mut sink);
    Ok(finish_with(reader, &bump, sink, Some((&rec, path, opts))))
}

/// Parse configuration text given directly (`name` is used in diagnostics
/// and as the base of relative includes, which are not resolvable here).
pub fn parse_str(name: &str, text: &str) -> Loaded {
    let src = MemSource::new();
    let mut sink = Sink::default();
    let bump = bumpalo::Bump::new();
    let mut reader = lexer::Reader::new(&src, &bump, read_options(&src, &LoadOptions::default()));
    reader.read_named(Path::new(name), text.as_bytes(), &mut sink);
    finish(reader, &bump, sink)
}

/// Parse raw bytes (any bytes: the fuzz and proptest entry point).
pub fn parse_bytes(name: &str, bytes: &[u8]) -> Loaded {
    let src = MemSource::new();
    let mut sink = Sink::default();
    let bump = bumpalo::Bump::new();
    let mut reader = lexer::Reader::new(&src, &bump, read_options(&src, &LoadOptions::default()));
    reader.read_named(Path::new(name), bytes, &mut sink);
    finish(reader, &bump, sink)
}

fn read_options(source: &dyn Source, opts: &LoadOptions) -> lexer::ReadOptions {
    let config_id = opts.config_id.clone().or_else(|| {
        source
            .hostname()
            .map(|h| h.split('.').next().unwrap_or("").to_string())
    });
    lexer::ReadOptions {
        config_id,
        instance: opts.instance.clone(),
    }
}

/// Tree, lowering and lints over what the reader read. The reader's words,
/// the file texts and the tree live in the load's arena (`bump`), freed at
/// once when the load returns; only the typed model is kept.
fn finish(reader: lexer::Reader<'_>, bump: &bumpalo::Bump, sink: Sink) -> Loaded {
    finish_with(reader, bump, sink, None)
}

/// [`finish`], and for a load from files the base of a later [`reload`].
fn finish_with(
    reader: lexer::Reader<'_>,
    bump: &bumpalo::Bump,
    mut sink: Sink,
    rec: Option<(&reload::Recorder<'_>, &Path, &LoadOptions)>,
) -> Loaded {
    let lexer::ReadParts {
        files,
        lines,
        arena,
        rests,
    } = reader.into_parts();
    let kparent = cascade::simulate(&lines, &arena);
    let blocks = rec.map(|_| reload::index_blocks(&lines, &arena));
    let n_lines = lines.len();
    let nodes = tree::build(&lines, &arena, &rests, bump, &mut sink);
    drop(lines);
    let lost = cascade::analyze(&kparent, &nodes);
    let config = lower::lower(&nodes, &lost, &mut sink);
    lint::single(&config, &mut sink);
    let diagnostics = sink.into_diagnostics(&files);
    let base = match (rec, blocks) {
        (Some((r, path, opts)), Some(blocks)) => r.base(
            path,
            opts,
            &files,
            &config,
            reload::Parsed0 {
                blocks,
                unknown_blocks: !lost.is_empty(),
                lines: n_lines,
            },
        ),
        _ => reload::Base::default(),
    };
    Loaded {
        config,
        diagnostics,
        files,
        base,
    }
}

/// Collects diagnostics with spans; resolves file names at the end and
/// drops exact duplicates (each message is printed once).
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub(crate) diags: Vec<RawDiag>,
    seen: HashSet<(&'static str, Option<Span>, String)>,
    suppressed: usize,
}

/// At most this many diagnostics are kept per load (garbage input could
/// otherwise produce millions); the rest are counted in one final note.
const MAX_DIAGNOSTICS: usize = 5000;

#[derive(Debug, Clone)]
pub(crate) struct RawDiag {
    pub(crate) severity: Severity,
    pub(crate) code: &'static str,
    pub(crate) span: Option<Span>,
    pub(crate) keyword: Option<String>,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl Sink {
    pub(crate) fn push(
        &mut self,
        severity: Severity,
        code: &'static str,
        span: Option<Span>,
        keyword: Option<&str>,
        message: String,
        hint: Option<String>,
    ) {
        if self.diags.len() >= MAX_DIAGNOSTICS {
            self.suppressed += 1;
            return;
        }
        if !self.seen.insert((code, span, message.clone())) {
            return;
        }
        self.diags.push(RawDiag {
            severity,
            code,
            span,
            keyword: keyword.map(str::to_string),
            message,
            hint,
        });
    }

    fn into_diagnostics(self, files: &[PathBuf]) -> Vec<Diagnostic> {
        let mut raw = self.diags;
        if self.suppressed > 0 {
            raw.push(RawDiag {
                severity: Severity::Note,
                code: "too-many-diagnostics",
                span: None,
                keyword: None,
                message: format!(
                    "{} more diagnostics were not kept (limit {MAX_DIAGNOSTICS})",
                    self.suppressed
                ),
                hint: None,
            });
        }
        // Stable order: by file, line, column; whole-config findings last.
        raw.sort_by_key(|d| match d.span {
            Some(s) => (0, s.file, s.line, s.col),
            None => (1, 0, 0, 0),
        });
        raw.into_iter().map(|d| to_diag(d, files)).collect()
    }
}

fn to_diag(d: RawDiag, files: &[PathBuf]) -> Diagnostic {
    let (file, line, col) = match d.span {
        Some(s) => (
            files
                .get(s.file as usize)
                .map(|p| p.to_string_lossy().into_owned()),
            s.line,
            s.col,
        ),
        None => (None, 0, 0),
    };
    Diagnostic {
        severity: d.severity,
        code: d.code,
        file,
        line,
        col,
        keyword: d.keyword,
        message: d.message,
        hint: d.hint,
    }
}
