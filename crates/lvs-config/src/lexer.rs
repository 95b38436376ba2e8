//! The reader: bytes → logical lines of words, doing everything keepalived's
//! `lib/parser.c` does before keyword dispatch: comments, quotes, brace
//! splitting, `include` (globs, relative paths, loops), `@id` / `@^id`
//! conditional lines, `$NAME=value` definitions and substitution (including
//! multi-line values), `~SEQ(...)` / `~LST(...)` repetition.
//!
//! Architecture Invariant: the reader never panics and always terminates:
//! substitution depth, expanded line length, repetition counts and include
//! depth are all bounded, and every bound hit is a diagnostic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bumpalo::Bump;

use crate::diag::Severity;
use crate::model::Span;
use crate::source::Source;
use crate::text::{Interner, Text};
use crate::Sink;

/// Maximum nesting of `include`.
const MAX_INCLUDE_DEPTH: usize = 32;
/// Maximum recursion of `$NAME` substitution.
const MAX_SUBST_DEPTH: usize = 32;
/// Maximum length of a line after substitution.
const MAX_LINE_LEN: usize = 1 << 20;
/// Maximum number of lines one `~SEQ`/`~LST` line may produce.
const MAX_REPEAT: usize = 100_000;
/// Maximum number of logical lines in total.
const MAX_TOTAL_LINES: usize = 2_000_000;
/// Maximum number of lines all `~SEQ`/`~LST` of a load may produce.
const MAX_REPEAT_TOTAL: usize = 200_000;
/// Maximum number of bytes all substitutions of a load may produce.
const MAX_SUBST_TOTAL: usize = 16 << 20;

/// Keywords whose arguments are a command line with keepalived's
/// script quoting (`"…"`, `'…'`, escapes); the reader keeps their raw text.
pub(crate) const SCRIPT_KEYWORDS: &[&str] = &[
    "script",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "notify_up",
    "notify_down",
    "misc_path",
    "quorum_up",
    "quorum_down",
    "startup_script",
    "shutdown_script",
    "vrrp_notify_fifo_script",
    "notify_fifo_script",
    "lvs_notify_fifo_script",
];

/// One word of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word<'a> {
    /// Text with double quotes removed.
    pub(crate) text: Text<'a>,
    /// 1-based column.
    pub(crate) col: u32,
    /// Some part of the word was double-quoted (a quoted `{` is no brace).
    pub(crate) quoted: bool,
}

/// A logical line: one keyword and its arguments, or a lone `{` / `}`.
///
/// The words live in the reader's word list (`Reader::arena`,
/// `start..start + len`), so a line costs no allocation of its own; a brace
/// line has no words there, only `brace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) start: u32,
    pub(crate) len: u32,
    pub(crate) file: u32,
    pub(crate) line: u32,
    /// Column of the first word (or of the brace).
    pub(crate) col: u32,
    /// `b'{'` or `b'}'` for a brace line (an unquoted brace), else 0.
    pub(crate) brace: u8,
    /// The line has a script rest (in `Reader::rests`).
    pub(crate) has_rest: bool,
}

impl Line {
    pub(crate) fn span(&self) -> Span {
        Span {
            file: self.file,
            line: self.line,
            col: self.col,
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.brace == b'{'
    }

    pub(crate) fn is_close(&self) -> bool {
        self.brace == b'}'
    }

    /// The words of a keyword line (empty for a brace line).
    pub(crate) fn words<'w, 'a>(&self, arena: &'w [Word<'a>]) -> &'w [Word<'a>] {
        let (s, n) = (self.start as usize, self.len as usize);
        arena.get(s..s + n).unwrap_or_default()
    }
}

/// What a [`Reader`] read (see [`Reader::into_parts`]).
pub(crate) struct ReadParts<'a> {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) lines: Vec<Line>,
    pub(crate) arena: Vec<Word<'a>>,
    pub(crate) rests: Vec<(u32, &'a str)>,
}

/// Options of the reader.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadOptions {
    /// The config-id `@ID` lines are compared with.
    pub(crate) config_id: Option<String>,
    /// `${_INSTANCE}`.
    pub(crate) instance: Option<String>,
}

/// A physical line: text (without `\r\n`) and line number.
struct Phys<'t> {
    text: &'t str,
    line: u32,
}

/// The physical lines of a text (`body.split('\n')`, each without its
/// final `\r`), numbered from 1; the fast path reads lines in place and
/// moves the cursor on itself ([`PhysLines::advance_to`]).
#[derive(Clone)]
struct PhysLines<'t> {
    body: &'t str,
    /// Where the next line starts.
    pos: usize,
    /// Number of the last line returned (0 before the first).
    line: u32,
    done: bool,
}

impl<'t> PhysLines<'t> {
    fn peek(&self) -> Option<Phys<'t>> {
        self.clone().next()
    }

    /// The line at `pos` was read up to `end`: its `\n` or the end of the text.
    fn advance_to(&mut self, end: usize) {
        self.line += 1;
        if end >= self.body.len() {
            self.done = true;
        } else {
            self.pos = end + 1;
        }
    }
}

impl<'t> Iterator for PhysLines<'t> {
    type Item = Phys<'t>;

    fn next(&mut self) -> Option<Phys<'t>> {
        if self.done {
            return None;
        }
        let rest = self.body.get(self.pos..).unwrap_or_default();
        let (l, end) = match rest.find('\n') {
            Some(k) => (&rest[..k], self.pos + k),
            None => (rest, self.body.len()),
        };
        self.advance_to(end);
        Some(Phys {
            text: l.strip_suffix('\r').unwrap_or(l),
            line: self.line,
        })
    }
}

pub(crate) struct Reader<'a> {
    src: &'a dyn Source,
    /// The load's arena: file texts read here, rewritten words, script rests.
    bump: &'a Bump,
    opts: ReadOptions,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) lines: Vec<Line>,
    /// The words of all lines, in order (see [`Line`]).
    pub(crate) arena: Vec<Word<'a>>,
    /// For script keywords: (line index, the text after the keyword, unsplit
    /// and with quotes kept, so the command can be parsed with script
    /// quoting), in line order.
    pub(crate) rests: Vec<(u32, &'a str)>,
    defs: HashMap<String, String>,
    stack: Vec<PathBuf>,
    rng: u64,
    /// Files that exist but keepalived would skip (mode problems), with the reason.
    pub(crate) skipped_by_keepalived: Vec<(u32, String)>,
    warned_nbsp: bool,
    /// Columns lost to trimming of the current physical line.
    col0: u32,
    repeat_budget: usize,
    subst_budget: usize,
    /// Scratch buffers of `tokenize` (kept between lines: no allocation per line).
    word_buf: Vec<Word<'a>>,
    char_buf: String,
    /// Texts of the words the reader rewrote (one copy per distinct text).
    interner: Interner<'a>,
    /// Tests: read every line through the general path (no fast path).
    #[cfg(test)]
    slow_only: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(src: &'a dyn Source, bump: &'a Bump, opts: ReadOptions) -> Self {
        Self {
            src,
            bump,
            opts,
            files: Vec::new(),
            lines: Vec::new(),
            arena: Vec::new(),
            rests: Vec::new(),
            defs: HashMap::new(),
            stack: Vec::new(),
            rng: 0x2545_f491_4f6c_dd1d,
            skipped_by_keepalived: Vec::new(),
            warned_nbsp: false,
            col0: 0,
            repeat_budget: MAX_REPEAT_TOTAL,
            subst_budget: MAX_SUBST_TOTAL,
            word_buf: Vec::new(),
            char_buf: String::new(),
            interner: Interner::new(bump),
            #[cfg(test)]
            slow_only: false,
        }
    }

    fn add_file(&mut self, path: &Path) -> u32 {
        if let Some(i) = self.files.iter().position(|p| p == path) {
            return i as u32;
        }
        self.files.push(path.to_path_buf());
        (self.files.len() - 1) as u32
    }

    /// Read the main file, whose bytes the caller read from the source
    /// (`bytes`: the words are slices of its text, which must live as long
    /// as the load; nothing is copied).
    pub(crate) fn read_main_bytes(&mut self, path: &Path, bytes: &'a [u8], sink: &mut Sink) {
        let id = self.add_file(path);
        self.check_mode(path, id, sink);
        self.stack.push(path.to_path_buf());
        self.read_text(id, bytes, sink);
        self.stack.pop();
    }

    /// Read the main file from the source (its bytes copied to the arena).
    /// Returns Err(message) if it cannot be read at all.
    #[cfg(test)]
    pub(crate) fn read_main(&mut self, path: &Path, sink: &mut Sink) -> Result<(), String> {
        let bytes = self.src.read(path).map_err(|e| unreadable(path, &e))?;
        let bytes: &'a [u8] = self.bump.alloc_slice_copy(&bytes);
        self.read_main_bytes(path, bytes, sink);
        Ok(())
    }

    /// Read text directly (for `parse_str`).
    /// The read result: files, lines, their words and script rests. The
    /// rest of the reader (word interner, definitions) is freed here, before
    /// the tree is built.
    pub(crate) fn into_parts(self) -> ReadParts<'a> {
        ReadParts {
            files: self.files,
            lines: self.lines,
            arena: self.arena,
            rests: self.rests,
        }
    }

    pub(crate) fn read_named(&mut self, name: &Path, bytes: &'a [u8], sink: &mut Sink) {
        let id = self.add_file(name);
        self.stack.push(name.to_path_buf());
        self.read_text(id, bytes, sink);
        self.stack.pop();
    }

    /// Lint c: keepalived skips executable / group- or world-writable (for
    /// includes: executable) or non-regular files.
    fn check_mode(&mut self, path: &Path, id: u32, sink: &mut Sink) {
        let Ok(meta) = self.src.metadata(path) else {
            return;
        };
        let mut problems = Vec::new();
        if !meta.is_file {
            problems.push("is not a regular file".to_string());
        }
        if meta.mode & 0o111 != 0 {
            problems.push(format!(
                "is executable (mode {:04o}; keepalived's daemon skips it as \"not a regular non-executable file\" while `keepalived -t` reports success)",
                meta.mode
            ));
        }
        if meta.mode & 0o022 != 0 {
            problems.push(format!(
                "is group- or world-writable (mode {:04o}), so another user could change the director's configuration",
                meta.mode
            ));
        }
        if problems.is_empty() {
            return;
        }
        let msg = format!(
            "configuration file {} {}; lvsd loads it anyway",
            path.display(),
            problems.join(" and ")
        );
        self.skipped_by_keepalived.push((id, msg.clone()));
        sink.push(
            Severity::Warning,
            "config-file-mode",
            Some(Span {
                file: id,
                line: 0,
                col: 0,
            }),
            None,
            msg,
            Some(format!("chmod 644 {}", path.display())),
        );
    }

    fn read_text(&mut self, file: u32, bytes: &'a [u8], sink: &mut Sink) {
        let mut bytes = bytes;
        if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
            bytes = &bytes[3..];
        }
        let has_nul = bytes.contains(&0);
        if has_nul {
            sink.push(
                Severity::Error,
                "nul-byte",
                Some(Span {
                    file,
                    line: 1 + bytes
                        .iter()
                        .take_while(|&&b| b != 0)
                        .filter(|&&b| b == b'\n')
                        .count() as u32,
                    col: 1,
                }),
                None,
                "embedded NUL byte(s) ignored".to_string(),
                None,
            );
        }
        // `from_utf8` first: its ASCII fast path is much quicker than the
        // chunk-wise lossy decoder, which is only needed for bad UTF-8.
        let mut text: &'a str = match std::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(_) => self.bump.alloc_str(&String::from_utf8_lossy(bytes)),
        };
        // Lossy decoding adds no NUL: only look again when the bytes had one.
        if has_nul && text.contains('\0') {
            text = self.bump.alloc_str(&text.replace('\0', ""));
        }
        // Physical lines, read lazily (no list of them is kept). A final
        // newline (or a final lone `\r`) ends the last line; it does not
        // start an empty one.
        let body: &'a str = match text.rfind('\n') {
            Some(pos) if matches!(&text[pos + 1..], "" | "\r") => &text[..pos],
            None if matches!(text, "" | "\r") => "",
            _ => text,
        };
        let mut phys = PhysLines {
            body,
            pos: 0,
            line: 0,
            done: matches!(text, "" | "\r"),
        };
        // The lists grow with the text: reserving up front saves copying
        // them as they grow (typical configs have ~20 bytes per line and
        // ~13 per word), within the bound on lines (a huge input reserves
        // no more than a load may keep).
        self.lines.reserve((bytes.len() / 20).min(MAX_TOTAL_LINES));
        self.arena
            .reserve((bytes.len() / 12).min(2 * MAX_TOTAL_LINES));
        #[cfg(test)]
        let slow_only = self.slow_only;
        #[cfg(not(test))]
        let slow_only = false;
        loop {
            // Fast path: a line of plain ASCII words and braces (nothing the
            // steps below would change) is split in place, in one pass.
            if !slow_only && !phys.done && self.lines.len() < MAX_TOTAL_LINES {
                if let Some(end) = self.tokenize_plain(file, phys.line + 1, body, phys.pos) {
                    phys.advance_to(end);
                    continue;
                }
            }
            let Some(cur) = phys.next() else {
                break;
            };
            if !slow_only && self.lines.len() >= MAX_TOTAL_LINES && plain_line(cur.text) {
                continue;
            }
            let lineno = cur.line;
            let stripped = strip_comment(cur.text);
            // U+00A0 is C2 A0 in UTF-8: look for the byte first (memchr).
            if !self.warned_nbsp && stripped.as_bytes().contains(&0xc2) {
                if let Some(pos) = stripped.chars().position(|c| c == '\u{a0}') {
                    self.warned_nbsp = true;
                    sink.push(
                        Severity::Warning,
                        "nbsp",
                        Some(Span {
                            file,
                            line: cur.line,
                            col: pos as u32 + 1,
                        }),
                        None,
                        "non-breaking space (U+00A0) used as white space; keepalived reads it as part of a word".to_string(),
                        Some("replace non-breaking spaces with ordinary spaces".into()),
                    );
                }
            }
            let trimmed = trim_space(&stripped);
            if trimmed.is_empty() {
                continue;
            }
            // include (before @ and $ processing, as keepalived).
            let first = trimmed.split(is_space).next().unwrap_or("");
            if matches!(
                first,
                "include" | "includer" | "includem" | "includew" | "includeb" | "includea"
            ) {
                let arg = trimmed[first.len()..].trim_matches(is_space);
                self.include(file, lineno, arg, sink);
                continue;
            }
            let indent = leading_spaces(&stripped);
            // `@id` lines (a definition may follow the condition).
            let Some(cond) = self.conditional(trimmed) else {
                continue;
            };
            let lead = cond.len() - trim_start_space(cond).len();
            let shift = (trimmed.len() - cond.len() + lead) as u32;
            let trimmed = trim_space(cond);
            if trimmed.is_empty() {
                continue;
            }
            // `$NAME=` definitions, possibly multi-line.
            if let Some((name, value)) = parse_definition(trimmed) {
                let mut value = value.to_string();
                let multi = value.is_empty() || value == "\\";
                if multi && phys.peek().is_some() {
                    // Lines ending with `\` continue the value.
                    let mut parts: Vec<String> = Vec::new();
                    if value == "\\"
                        || (value.is_empty()
                            && phys.peek().is_some_and(|p| ends_with_backslash(p.text)))
                    {
                        for next in phys.by_ref() {
                            let l = strip_comment(next.text);
                            let l = l.trim_end_matches(is_space);
                            if let Some(body) = l.strip_suffix('\\') {
                                parts.push(body.to_string());
                            } else {
                                parts.push(l.to_string());
                                break;
                            }
                        }
                        value = parts.join("\n");
                    }
                }
                if name.starts_with('_') {
                    sink.push(
                        Severity::Warning,
                        "reserved-definition",
                        Some(Span {
                            file,
                            line: lineno,
                            col: 1,
                        }),
                        None,
                        format!("definition names starting with '_' are reserved: ${name}"),
                        None,
                    );
                }
                self.defs.insert(name.to_string(), value);
                continue;
            }
            self.col0 = indent + shift;
            self.logical(file, lineno, trimmed, 0, sink);
        }
    }

    /// Handle one logical line after comment stripping: conditionals,
    /// substitution, repetition, then tokenizing.
    fn logical(&mut self, file: u32, lineno: u32, text: &str, depth: usize, sink: &mut Sink) {
        if self.lines.len() >= MAX_TOTAL_LINES {
            return;
        }
        let orig_len = text.len();
        let Some(text) = self.conditional(text) else {
            return;
        };
        let lead = text.len() - trim_start_space(text).len();
        let shift = text[..lead].chars().count() as u32 + (orig_len - text.len()) as u32;
        let text = trim_space(text);
        if text.is_empty() {
            return;
        }
        let expanded = if text.contains('$') {
            match self.substitute(file, text, 0) {
                Ok(s) => std::borrow::Cow::Owned(s),
                Err(msg) => {
                    sink.push(
                        Severity::Error,
                        "substitution",
                        Some(Span {
                            file,
                            line: lineno,
                            col: 1,
                        }),
                        None,
                        msg,
                        None,
                    );
                    return;
                }
            }
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        // A substituted multi-line value produces several lines; a
        // substituted `@id` prefix is evaluated again.
        if expanded.contains('\n') || (expanded != text && expanded.starts_with('@')) {
            if depth >= MAX_SUBST_DEPTH {
                return;
            }
            for part in expanded.split('\n') {
                let part = strip_comment(part);
                let part = part.trim_matches(is_space);
                if !part.is_empty() {
                    self.logical(file, lineno, part, depth + 1, sink);
                }
            }
            return;
        }
        if let Some(pos) = find_repeat(&expanded) {
            match self.repeat(&expanded, pos) {
                Ok(lines) => {
                    if depth >= MAX_SUBST_DEPTH {
                        return;
                    }
                    for l in lines {
                        self.logical(file, lineno, &l, depth + 1, sink);
                    }
                }
                Err(msg) => sink.push(
                    Severity::Error,
                    "repeat",
                    Some(Span {
                        file,
                        line: lineno,
                        col: 1 + expanded[..pos].chars().count() as u32,
                    }),
                    None,
                    msg,
                    None,
                ),
            }
            return;
        }
        let col0 = if depth == 0 { self.col0 } else { 0 };
        if expanded.starts_with("//") {
            sink.push(
                Severity::Warning,
                "slash-comment",
                Some(Span {
                    file,
                    line: lineno,
                    col: col0 + shift + 1,
                }),
                None,
                "'//' does not start a comment in keepalived.conf: keepalived reads this line as an unknown keyword (lvsd skips it)".to_string(),
                Some("use '#' or '!' for comments".into()),
            );
            return;
        }
        self.tokenize(file, lineno, &expanded, col0 + shift, sink);
    }

    /// `@ID rest` / `@^ID rest`: Some(rest) if the line applies.
    fn conditional<'t>(&self, text: &'t str) -> Option<&'t str> {
        let Some(body) = text.strip_prefix('@') else {
            return Some(text);
        };
        let (neg, body) = match body.strip_prefix('^') {
            Some(b) => (true, b),
            None => (false, body),
        };
        let end = body.find(is_space).unwrap_or(body.len());
        let id = &body[..end];
        let matches = self.opts.config_id.as_deref() == Some(id);
        if matches != neg {
            Some(&body[end..])
        } else {
            None
        }
    }

    /// Expand `$NAME` (followed by whitespace/end) and `${NAME}`.
    fn substitute(&mut self, file: u32, text: &str, depth: usize) -> Result<String, String> {
        if depth > MAX_SUBST_DEPTH {
            return Err("definitions nest too deeply (recursive $NAME?)".to_string());
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut changed = false;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(inner) = after.strip_prefix('{') {
                if let Some(close) = inner.find('}') {
                    let body = &inner[..close];
                    if let Some(v) = self.builtin_or_def(file, body) {
                        out.push_str(&v);
                        rest = &inner[close + 1..];
                        changed = true;
                        continue;
                    }
                }
                out.push('$');
                rest = after;
                continue;
            }
            let name_len = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            let name = &after[..name_len];
            let next = after[name_len..].chars().next();
            if name_len > 0 && !name.as_bytes()[0].is_ascii_digit() && next.is_none_or(is_space) {
                if let Some(v) = self.defs.get(name) {
                    out.push_str(&v.clone());
                    rest = &after[name_len..];
                    changed = true;
                    continue;
                }
            }
            out.push('$');
            rest = after;
            if out.len() > MAX_LINE_LEN {
                return Err("line too long after substitution".to_string());
            }
        }
        out.push_str(rest);
        if out.len() > MAX_LINE_LEN {
            return Err("line too long after substitution".to_string());
        }
        if changed {
            if out.len() > self.subst_budget {
                self.subst_budget = 0;
                return Err(format!(
                    "substitutions produce more than {} MiB in total; stopped",
                    MAX_SUBST_TOTAL >> 20
                ));
            }
            self.subst_budget -= out.len();
        }
        if changed && out.contains('$') {
            self.substitute(file, &out, depth + 1)
        } else {
            Ok(out)
        }
    }

    fn builtin_or_def(&mut self, file: u32, body: &str) -> Option<String> {
        let mut it = body.split(is_space).filter(|s| !s.is_empty());
        let name = it.next()?;
        match name {
            "_PWD" => Some(
                self.files
                    .get(file as usize)
                    .and_then(|p| p.parent())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            "_HASH" => Some("#".to_string()),
            "_BANG" => Some("!".to_string()),
            "_INSTANCE" => Some(self.opts.instance.clone().unwrap_or_default()),
            "_ENV" => {
                let var = it.next()?;
                Some(self.src.env_var(var).unwrap_or_default())
            }
            "_RANDOM" => {
                let min: i64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
                let max: i64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(32767);
                // xorshift: deterministic, no clock (sans-IO).
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                let span = (max - min).unsigned_abs().saturating_add(1);
                Some((min + (self.rng % span) as i64).to_string())
            }
            _ if body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                self.defs.get(body).cloned()
            }
            _ => None,
        }
    }

    /// Expand the first `~SEQ`/`~SEQx`/`~LST` at byte `pos`.
    fn repeat(&mut self, text: &str, pos: usize) -> Result<Vec<String>, String> {
        let prefix = &text[..pos];
        let after = &text[pos + 1..];
        let (kind, args_start) = if after.starts_with("SEQx(") {
            ("SEQx", 5)
        } else if after.starts_with("SEQ(") {
            ("SEQ", 4)
        } else {
            ("LST", 4)
        };
        let body = &after[args_start..];
        // Find the matching ')' (braces inside ~LST may hold commas).
        let mut depth = 0i32;
        let mut close = None;
        for (i, c) in body.char_indices() {
            match c {
                '(' | '{' => depth += 1,
                ')' if depth == 0 => {
                    close = Some(i);
                    break;
                }
                ')' | '}' => depth -= 1,
                _ => {}
            }
        }
        let close = close.ok_or_else(|| format!("~{kind}( without a closing ')'"))?;
        let args_text = &body[..close];
        let tail = &body[close + 1..];
        let args = split_top_commas(args_text);
        let mut out = Vec::new();
        if kind == "LST" {
            if args.len() < 2 {
                return Err("~LST needs a variable and at least one value".to_string());
            }
            let vars: Vec<String> = unbrace(&args[0]);
            if args.len() - 1 > self.repeat_budget {
                self.repeat_budget = 0;
                return Err(format!(
                    "~SEQ/~LST lines would exceed {MAX_REPEAT_TOTAL} in total; stopped"
                ));
            }
            self.repeat_budget -= args.len() - 1;
            for v in &args[1..] {
                let vals = unbrace(v);
                for (k, var) in vars.iter().enumerate() {
                    self.defs
                        .insert(var.clone(), vals.get(k).cloned().unwrap_or_default());
                }
                let line = self.substitute(0, &format!("{prefix}{tail}"), 0)?;
                out.push(line);
            }
            return Ok(out);
        }
        let var = args
            .first()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("~{kind} needs a variable name"))?;
        let nums: Result<Vec<i64>, _> = args[1..].iter().map(|s| s.trim().parse::<i64>()).collect();
        let nums = nums.map_err(|_| format!("~{kind}: arguments must be integers"))?;
        let (start, step, end) = match nums.as_slice() {
            [end] => {
                let s = if *end >= 1 { 1 } else { -1 };
                (s, if *end >= s { 1 } else { -1 }, *end)
            }
            [start, end] => (*start, if end >= start { 1 } else { -1 }, *end),
            [start, step, end] => (*start, *step, *end),
            _ => return Err(format!("~{kind} takes (var, [start, [step,]] end)")),
        };
        if step == 0 || (step > 0 && start > end) || (step < 0 && start < end) {
            return Err(format!(
                "~{kind}: step {step} never reaches {end} from {start}"
            ));
        }
        let count = ((end - start) / step).unsigned_abs() as usize + 1;
        if count > MAX_REPEAT {
            return Err(format!(
                "~{kind} would produce {count} lines (limit {MAX_REPEAT})"
            ));
        }
        if count > self.repeat_budget {
            self.repeat_budget = 0;
            return Err(format!(
                "~SEQ/~LST lines would exceed {MAX_REPEAT_TOTAL} in total; stopped"
            ));
        }
        self.repeat_budget -= count;
        let mut v = start;
        for _ in 0..count {
            let val = if kind == "SEQx" {
                format!("{v:x}")
            } else {
                v.to_string()
            };
            self.defs.insert(var.clone(), val);
            out.push(self.substitute(0, &format!("{prefix}{tail}"), 0)?);
            v += step;
        }
        Ok(out)
    }

    fn include(&mut self, file: u32, lineno: u32, arg: &str, sink: &mut Sink) {
        let span = Span {
            file,
            line: lineno,
            col: 1,
        };
        if arg.is_empty() {
            sink.push(
                Severity::Error,
                "include",
                Some(span),
                Some("include"),
                "include without a file name".to_string(),
                None,
            );
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            sink.push(
                Severity::Error,
                "include-loop",
                Some(span),
                Some("include"),
                format!("includes nest deeper than {MAX_INCLUDE_DEPTH}"),
                None,
            );
            return;
        }
        let arg = arg.trim_matches('"');
        let base = self
            .files
            .get(file as usize)
            .and_then(|p| p.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut matches = Vec::new();
        for pat in expand_braces(arg) {
            let full = if Path::new(&pat).is_absolute() {
                normalize(Path::new(&pat))
            } else {
                normalize(&base.join(&pat))
            };
            match self.src.glob(&full) {
                Ok(m) => matches.extend(m),
                Err(e) => sink.push(
                    Severity::Error,
                    "include",
                    Some(span),
                    Some("include"),
                    format!("bad include pattern '{}': {e}", full.escape_debug()),
                    None,
                ),
            }
        }
        if matches.is_empty() {
            sink.push(
                Severity::Warning,
                "include-missing",
                Some(span),
                Some("include"),
                format!("no file matches '{}'", arg.escape_debug()),
                Some("keepalived only logs this; the included configuration is absent".into()),
            );
            return;
        }
        for path in matches {
            let path = PathBuf::from(normalize(&path));
            if self.stack.contains(&path) {
                sink.push(
                    Severity::Error,
                    "include-loop",
                    Some(span),
                    Some("include"),
                    format!("include loop: {} is already being read", path.display()),
                    None,
                );
                continue;
            }
            let id = self.add_file(&path);
            match self.src.read(&path) {
                Ok(bytes) => {
                    let bytes: &'a [u8] = self.bump.alloc_slice_copy(&bytes);
                    self.check_mode(&path, id, sink);
                    self.stack.push(path.clone());
                    self.read_text(id, bytes, sink);
                    self.stack.pop();
                }
                Err(e) => sink.push(
                    Severity::Error,
                    "include",
                    Some(span),
                    Some("include"),
                    format!("cannot read {}: {e}", path.display()),
                    None,
                ),
            }
        }
    }

    /// Split a line into words and brace lines.
    fn tokenize(&mut self, file: u32, lineno: u32, text: &str, col0: u32, sink: &mut Sink) {
        let mut words: Vec<Word<'a>> = std::mem::take(&mut self.word_buf);
        words.clear();
        let mut cur = std::mem::take(&mut self.char_buf);
        cur.clear();
        let mut cur_col = 0u32;
        let mut cur_quoted = false;
        let mut in_word = false;
        let mut in_quote = false;
        let mut chars = text.chars().peekable();
        let mut col = col0;
        // Byte offset (in `text`) where the current logical line's args begin.
        let mut rest_start: Option<usize> = None;
        let mut byte = 0usize;
        let mut segment_first_end: Option<usize> = None;
        let flush_line = |this: &mut Self, words: &mut Vec<Word<'a>>, rest: Option<&str>| {
            if let Some(first) = words.first() {
                // The scratch vector keeps its buffer for the next line.
                let col = first.col;
                let start = this.arena.len() as u32;
                let len = words.len() as u32;
                this.arena.append(words);
                let has_rest = rest.is_some();
                if let Some(r) = rest {
                    // `text` may be a rewritten line: copy the rest.
                    let r: &'a str = this.bump.alloc_str(r);
                    this.rests.push((this.lines.len() as u32, r));
                }
                this.lines.push(Line {
                    start,
                    len,
                    file,
                    line: lineno,
                    col,
                    brace: 0,
                    has_rest,
                });
            }
        };
        let mut segments_rest: Option<&str>;
        // The current word is `text[word_start..]` while `simple`, else `cur`.
        let mut simple = true;
        let mut word_start = 0usize;
        while let Some(c) = chars.next() {
            col += 1;
            let clen = c.len_utf8();
            if in_quote {
                if c == '"' {
                    in_quote = false;
                } else {
                    cur.push(c);
                }
                byte += clen;
                continue;
            }
            if is_space(c) {
                if in_word {
                    words.push(Word {
                        text: word_text(
                            &mut self.interner,
                            text,
                            &mut cur,
                            simple,
                            word_start,
                            byte,
                        ),
                        col: cur_col,
                        quoted: cur_quoted,
                    });
                    in_word = false;
                    cur_quoted = false;
                    if words.len() == 1 {
                        segment_first_end = Some(byte);
                    }
                }
                byte += clen;
                continue;
            }
            if c == '{' || c == '}' {
                if in_word {
                    words.push(Word {
                        text: word_text(
                            &mut self.interner,
                            text,
                            &mut cur,
                            simple,
                            word_start,
                            byte,
                        ),
                        col: cur_col,
                        quoted: cur_quoted,
                    });
                    in_word = false;
                    cur_quoted = false;
                    if words.len() == 1 {
                        segment_first_end = Some(byte);
                    }
                }
                segments_rest = self.rest_for(&words, text, segment_first_end, rest_start, byte);
                flush_line(self, &mut words, segments_rest);
                self.lines.push(Line {
                    start: self.arena.len() as u32,
                    len: 0,
                    file,
                    line: lineno,
                    col,
                    brace: c as u8,
                    has_rest: false,
                });
                rest_start = Some(byte + clen);
                segment_first_end = None;
                byte += clen;
                continue;
            }
            if !in_word {
                in_word = true;
                cur_col = col;
                // Until a quote or an escape, the word is a slice of `text`
                // and nothing is copied.
                simple = true;
                word_start = byte;
                cur.clear();
            }
            if c == '\\' {
                if let Some(&n) = chars.peek() {
                    if n == '#' || n == '!' {
                        if simple {
                            simple = false;
                            cur.push_str(&text[word_start..byte]);
                        }
                        cur.push(n);
                        chars.next();
                        col += 1;
                        byte += clen + 1;
                        continue;
                    }
                }
                if !simple {
                    cur.push(c);
                }
            } else if c == '"' {
                if simple {
                    simple = false;
                    cur.push_str(&text[word_start..byte]);
                }
                in_quote = true;
                cur_quoted = true;
            } else if !simple {
                cur.push(c);
            }
            byte += clen;
        }
        if in_quote {
            sink.push(
                Severity::Error,
                "unmatched-quote",
                Some(Span {
                    file,
                    line: lineno,
                    col: cur_col,
                }),
                None,
                "unmatched quote: the rest of the line is taken as one word".to_string(),
                None,
            );
        }
        if in_word {
            words.push(Word {
                text: word_text(&mut self.interner, text, &mut cur, simple, word_start, byte),
                col: cur_col,
                quoted: cur_quoted,
            });
            if words.len() == 1 {
                segment_first_end = Some(byte);
            }
        }
        segments_rest = self.rest_for(&words, text, segment_first_end, rest_start, byte);
        flush_line(self, &mut words, segments_rest);
        self.word_buf = words;
        self.char_buf = cur;
    }

    /// The fast path: [`Self::tokenize`] for the physical line starting at
    /// `body[start..]` if [`plain_line`] accepts it (ASCII only, no quote,
    /// escape, comment, `$`, `@` or `~`, not an `include…` or `//` line),
    /// checked while it is split: Some(where the line ends: its `\n` or the
    /// end of `body`), or None, having added nothing, for any other line.
    /// Produces exactly what the general path produces for it (the column
    /// of a byte is its offset in the line + 1: every byte is one
    /// character; a final `\r` is white space like any other).
    fn tokenize_plain(
        &mut self,
        file: u32,
        lineno: u32,
        body: &'a str,
        start: usize,
    ) -> Option<usize> {
        let b = body.as_bytes();
        let (lines0, words0, rests0) = (self.lines.len(), self.arena.len(), self.rests.len());
        let rollback = |this: &mut Self| {
            this.lines.truncate(lines0);
            this.arena.truncate(words0);
            this.rests.truncate(rests0);
            None
        };
        // Start (in the word list) of the current logical line's words, and
        // the end (in `body`) of its first word.
        let mut seg = words0;
        let mut first_end = 0usize;
        let mut first = true;
        let mut i = start;
        while i < b.len() {
            match CLASS[b[i] as usize] {
                SPACE => i += 1,
                BRACE => {
                    first = false;
                    self.flush_plain(seg, body, first_end, i, file, lineno);
                    self.lines.push(Line {
                        start: self.arena.len() as u32,
                        len: 0,
                        file,
                        line: lineno,
                        col: (i - start) as u32 + 1,
                        brace: b[i],
                        has_rest: false,
                    });
                    seg = self.arena.len();
                    i += 1;
                }
                WORD => {
                    let w = i;
                    if first {
                        first = false;
                        let t = &b[i..];
                        if t.starts_with(b"include") || t.starts_with(b"//") {
                            return None;
                        }
                    }
                    while i < b.len() && CLASS[b[i] as usize] == WORD {
                        i += 1;
                    }
                    if i < b.len() && CLASS[b[i] as usize] == OTHER {
                        return rollback(self);
                    }
                    if self.arena.len() == seg {
                        first_end = i;
                    }
                    self.arena.push(Word {
                        // A slice of the file text: nothing is copied.
                        text: Text::borrowed(&body[w..i]),
                        col: (w - start) as u32 + 1,
                        quoted: false,
                    });
                }
                NEWLINE => break,
                _ => return rollback(self),
            }
        }
        self.flush_plain(seg, body, first_end, i, file, lineno);
        Some(i)
    }

    /// End the fast path's logical line whose words are `arena[seg..]`
    /// (as `tokenize`'s `flush_line`); nothing if it has none.
    fn flush_plain(
        &mut self,
        seg: usize,
        text: &'a str,
        first_end: usize,
        end: usize,
        file: u32,
        lineno: u32,
    ) {
        let Some(words) = self.arena.get(seg..).filter(|w| !w.is_empty()) else {
            return;
        };
        let col = words[0].col;
        let rest = self.rest_for(words, text, Some(first_end), None, end);
        let has_rest = rest.is_some();
        if let Some(r) = rest {
            self.rests.push((self.lines.len() as u32, r));
        }
        self.lines.push(Line {
            start: seg as u32,
            len: (self.arena.len() - seg) as u32,
            file,
            line: lineno,
            col,
            brace: 0,
            has_rest,
        });
    }

    fn rest_for<'t>(
        &self,
        words: &[Word<'_>],
        text: &'t str,
        first_end: Option<usize>,
        _seg_start: Option<usize>,
        end: usize,
    ) -> Option<&'t str> {
        let first = words.first()?;
        // Every script keyword starts with one of these letters.
        let may_be_script = matches!(
            first.text.as_bytes().first(),
            Some(b'l' | b'm' | b'n' | b'q' | b's' | b'v')
        );
        if first.quoted || !may_be_script || !SCRIPT_KEYWORDS.contains(&first.text.as_str()) {
            return None;
        }
        let start = first_end?;
        text.get(start..end).map(|s| s.trim_matches(is_space))
    }
}

/// The message when the main file cannot be read.
pub(crate) fn unreadable(path: &Path, e: &std::io::Error) -> String {
    format!("cannot read {}: {e}", path.display())
}

/// Lexical normalization: drop `.` components and resolve `..`.
fn normalize(p: &Path) -> String {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out.display().to_string()
}

/// The finished word of the general path, copied to the load's arena
/// (once per distinct text): the slice of the line when it had no quote or
/// escape, else the unquoted text built in `cur` (cleared, keeping its
/// buffer). The line may be a rewritten one (substitution, comment
/// stripping), so it is not the file text the fast path slices.
fn word_text<'a>(
    words: &mut Interner<'a>,
    text: &str,
    cur: &mut String,
    simple: bool,
    start: usize,
    end: usize,
) -> Text<'a> {
    if simple {
        words.intern(&text[start..end])
    } else {
        let t = words.intern(cur);
        cur.clear();
        t
    }
}

/// The ASCII bytes of [`is_space`].
const fn is_ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x0b | 0x0c | b'\r')
}

/// Byte classes of the fast path ([`Reader::tokenize_plain`]): white space
/// of [`is_space`], an unquoted brace, a byte of a plain word, a byte only
/// the general path handles (not in [`PLAIN`]), or the end of the line.
const SPACE: u8 = 0;
const BRACE: u8 = 1;
const WORD: u8 = 2;
const OTHER: u8 = 3;
/// The end of the physical line.
const NEWLINE: u8 = 4;
const CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    t[b'\n' as usize] = NEWLINE;
    let mut c = 0;
    while c < 256 {
        if PLAIN[c] {
            t[c] = if is_ascii_space(c as u8) {
                SPACE
            } else if c == b'{' as usize || c == b'}' as usize {
                BRACE
            } else {
                WORD
            };
        }
        c += 1;
    }
    t
};

/// Bytes a line may hold and still take the fast path ([`plain_line`]):
/// printable ASCII except `"`, `\`, `#`, `!`, `$`, `@`, `~`, plus the ASCII
/// white space of [`is_space`].
const PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0x20;
    while c < 0x7f {
        t[c] = !matches!(c as u8, b'"' | b'\\' | b'#' | b'!' | b'$' | b'@' | b'~');
        c += 1;
    }
    t[b'\t' as usize] = true;
    t[0x0b] = true;
    t[0x0c] = true;
    t[b'\r' as usize] = true;
    t
};

/// A physical line that needs none of the reader's special handling (no
/// comment, quote, escape, NBSP or other non-ASCII, `$`, `@`, `~`, not an
/// `include…` or `//` line): the lines [`Reader::tokenize_plain`] reads.
fn plain_line(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.iter().all(|&c| PLAIN[c as usize]) {
        return false;
    }
    let t = trim_space(s);
    !(t.starts_with("include") || t.starts_with("//"))
}

/// `s.trim_matches(is_space)`, byte-wise unless a NBSP is at an end.
fn trim_space(s: &str) -> &str {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_ascii_space(b[i]) {
        i += 1;
    }
    let mut j = b.len();
    while j > i && is_ascii_space(b[j - 1]) {
        j -= 1;
    }
    let t = &s[i..j];
    if t.starts_with('\u{a0}') || t.ends_with('\u{a0}') {
        s.trim_matches(is_space)
    } else {
        t
    }
}

/// `s.trim_start_matches(is_space)`, byte-wise unless a NBSP is in the way.
fn trim_start_space(s: &str) -> &str {
    let n = s.bytes().take_while(|&b| is_ascii_space(b)).count();
    let t = &s[n..];
    if t.starts_with('\u{a0}') {
        s.trim_start_matches(is_space)
    } else {
        t
    }
}

/// The number of white-space characters `s` starts with.
fn leading_spaces(s: &str) -> u32 {
    let n = s.bytes().take_while(|&b| is_ascii_space(b)).count();
    if s[n..].starts_with('\u{a0}') {
        s.chars().take_while(|c| is_space(*c)).count() as u32
    } else {
        n as u32
    }
}

/// keepalived's white space, plus NBSP (which lvsd tolerates with a warning).
pub(crate) fn is_space(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\u{a0}' || c == '\x0b' || c == '\x0c' || c == '\r'
}

fn ends_with_backslash(s: &str) -> bool {
    strip_comment(s).trim_end_matches(is_space).ends_with('\\')
}

/// Remove a `#` or `!` comment (outside double quotes; `\#`, `\!` escape).
pub(crate) fn strip_comment(s: &str) -> std::borrow::Cow<'_, str> {
    let b = s.as_bytes();
    let mut in_quote = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => in_quote = !in_quote,
            b'\\' if !in_quote && i + 1 < b.len() && (b[i + 1] == b'#' || b[i + 1] == b'!') => {
                i += 1;
            }
            b'#' | b'!' if !in_quote => return std::borrow::Cow::Borrowed(&s[..i]),
            _ => {}
        }
        i += 1;
    }
    std::borrow::Cow::Borrowed(s)
}

/// `$NAME=VALUE` with nothing but white space before `$` and no space before `=`.
fn parse_definition(t: &str) -> Option<(&str, &str)> {
    let body = t.strip_prefix('$')?;
    let eq = body.find('=')?;
    let name = &body[..eq];
    if name.is_empty()
        || name.as_bytes()[0].is_ascii_digit()
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    Some((name, body[eq + 1..].trim_matches(is_space)))
}

fn find_repeat(s: &str) -> Option<usize> {
    if !s.contains('~') {
        return None;
    }
    ["~SEQ(", "~SEQx(", "~LST("]
        .iter()
        .filter_map(|p| s.find(p))
        .min()
}

fn split_top_commas(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '{' | '(' => {
                depth += 1;
                cur.push(c);
            }
            '}' | ')' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

fn unbrace(s: &str) -> Vec<String> {
    let s = s.trim();
    match s.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
        Some(inner) => inner.split(',').map(|x| x.trim().to_string()).collect(),
        None => vec![s.to_string()],
    }
}

/// csh-style brace expansion `a{b,c}d` → `abd`, `acd` (bounded).
pub(crate) fn expand_braces(s: &str) -> Vec<String> {
    let mut out = vec![s.to_string()];
    for _ in 0..8 {
        let mut next = Vec::new();
        let mut any = false;
        for item in &out {
            if let Some(open) = item.find('{') {
                if let Some(rel) = item[open..].find('}') {
                    let close = open + rel;
                    any = true;
                    for alt in item[open + 1..close].split(',') {
                        next.push(format!("{}{}{}", &item[..open], alt, &item[close + 1..]));
                    }
                    continue;
                }
            }
            next.push(item.clone());
        }
        out = next;
        if !any || out.len() > 1024 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    /// Lines, words (text, column, quoted), script rests and diagnostics of
    /// a read, with or without the fast path.
    fn read_all(text: &str, slow_only: bool) -> String {
        let mut src = MemSource::new();
        src.add("/etc/k/k.conf", text);
        let bump = Bump::new();
        let mut r = Reader::new(&src, &bump, ReadOptions::default());
        r.slow_only = slow_only;
        let mut sink = Sink::default();
        r.read_main(Path::new("/etc/k/k.conf"), &mut sink).unwrap();
        let mut out = String::new();
        for l in &r.lines {
            out.push_str(&format!("{l:?} {:?}\n", l.words(&r.arena)));
        }
        out.push_str(&format!("{:?}\n{:?}", r.rests, sink.diags));
        out
    }

    #[test]
    fn bad_utf8_and_nul_bytes_are_decoded_lossily() {
        let mut src = MemSource::new();
        src.add("/k.conf", b"x \xff y\0z\nw\n".to_vec());
        let bump = Bump::new();
        let mut r = Reader::new(&src, &bump, ReadOptions::default());
        let mut sink = Sink::default();
        r.read_main(Path::new("/k.conf"), &mut sink).unwrap();
        let words: Vec<String> = r.arena.iter().map(|w| w.text.to_string()).collect();
        assert_eq!(words, ["x", "\u{fffd}", "yz", "w"]);
        let codes: Vec<&str> = sink.diags.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["nul-byte"]);
    }

    #[test]
    fn fast_path_reads_exactly_as_the_general_path() {
        let texts = [
            "global_defs {\n    router_id r1\n}\n",
            "virtual_server 10.0.0.1 80 {\n\tdelay_loop 6\r\n  lb_algo wrr\n real_server 10.0.0.2 80{weight 2}\n}",
            "a{b}c { d } }{\n{\n}\n  \x0b\x0c x \r\n\n\n",
            "notify_master /bin/true a b {\n  notify /x y}\n script  /bin/echo  hi  \n",
            "vrrp_script s {\n script /bin/check arg1 arg2\n}\nmisc_path /usr/bin/x\n",
            "include /nowhere/*.conf\n  includes x\n// not a comment\n x //y\n",
            "$A=1\nfoo $A\n@x bar\n~SEQ(i,1,2) y $i\nq \"a b\" c # comment\nr s ! t\n",
            "p\u{a0}q r\n\u{a0}s t\nu\\#v w\n",
            "",
            "\n\n  \n",
            "x y",
            // Lines that turn out not to be plain after words and braces
            // were split (the fast path must add nothing for them).
            "a { b c # comment\nx y } z \"q\" {\nnotify_up /x { y $Z\n",
            "a {b} c$\n{ include a }\n  include_x foo\n //x\nq //\nk w\x7f v\ne \u{e9} f\n",
            "script { a } misc_path /p q { r\n\tlvs_sched wrr\x0b}\x0c{\r\n",
        ];
        for t in texts {
            assert_eq!(read_all(t, false), read_all(t, true), "input {t:?}");
        }
        let big =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/parse_10k.rs"))
                .unwrap();
        assert_eq!(read_all(&big, false), read_all(&big, true));
    }

    fn lex(text: &str, id: Option<&str>) -> (Vec<Vec<String>>, Sink) {
        let mut src = MemSource::new();
        src.add("/etc/k/k.conf", text);
        let bump = Bump::new();
        let mut r = Reader::new(
            &src,
            &bump,
            ReadOptions {
                config_id: id.map(str::to_string),
                instance: None,
            },
        );
        let mut sink = Sink::default();
        r.read_main(Path::new("/etc/k/k.conf"), &mut sink).unwrap();
        let lines = r
            .lines
            .iter()
            .map(|l| {
                if l.brace != 0 {
                    vec![(l.brace as char).to_string()]
                } else {
                    l.words(&r.arena)
                        .iter()
                        .map(|w| w.text.to_string())
                        .collect()
                }
            })
            .collect();
        (lines, sink)
    }

    fn w(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn braces_and_comments() {
        let (l, _) = lex("a { b 1 } # x\r\nc! d\n\"{\"{", None);
        assert_eq!(
            l,
            vec![
                w(&["a"]),
                w(&["{"]),
                w(&["b", "1"]),
                w(&["}"]),
                w(&["c"]),
                w(&["{"]),
                w(&["{"])
            ]
        );
    }

    #[test]
    fn escapes_and_quotes() {
        let (l, _) = lex("a \\#x \"b # c\" d", None);
        assert_eq!(l, vec![w(&["a", "#x", "b # c", "d"])]);
    }

    #[test]
    fn conditionals_and_defs() {
        let text = "@high priority 170\n@^high priority 85\n$X=eth0\ninterface $X\nname ${X}_1\n$P=@high\n$P weight 3\n";
        let (l, _) = lex(text, Some("high"));
        assert_eq!(
            l,
            vec![
                w(&["priority", "170"]),
                w(&["interface", "eth0"]),
                w(&["name", "eth0_1"]),
                w(&["weight", "3"])
            ]
        );
    }

    #[test]
    fn multiline_def() {
        let text = "$RS=\\\nreal_server 1.1.1.1 80 {\\\n weight 2\\\n}\n$RS\n";
        let (l, _) = lex(text, None);
        assert_eq!(
            l,
            vec![
                w(&["real_server", "1.1.1.1", "80"]),
                w(&["{"]),
                w(&["weight", "2"]),
                w(&["}"])
            ]
        );
    }

    #[test]
    fn seq_and_lst() {
        let (l, _) = lex("~SEQ(i, 1, 3) rs 10.0.0.$i\n~LST(v, a, b) x ${v}\n", None);
        assert_eq!(
            l,
            vec![
                w(&["rs", "10.0.0.1"]),
                w(&["rs", "10.0.0.2"]),
                w(&["rs", "10.0.0.3"]),
                w(&["x", "a"]),
                w(&["x", "b"])
            ]
        );
    }

    #[test]
    fn recursive_definition_terminates() {
        let (_, sink) = lex("$A=$A x\nfoo $A\n", None);
        assert!(sink.diags.iter().any(|d| d.code == "substitution"));
    }

    #[test]
    fn include_relative_glob_and_loop() {
        let mut src = MemSource::new();
        src.add("/etc/k/k.conf", "include conf.d/*.conf\nlast 1\n");
        src.add("/etc/k/conf.d/a.conf", "a 1\n");
        src.add("/etc/k/conf.d/b.conf", "b 1\ninclude ../k.conf\n");
        let bump = Bump::new();
        let mut r = Reader::new(&src, &bump, ReadOptions::default());
        let mut sink = Sink::default();
        r.read_main(Path::new("/etc/k/k.conf"), &mut sink).unwrap();
        let words: Vec<&str> = r
            .lines
            .iter()
            .map(|l| l.words(&r.arena)[0].text.as_str())
            .collect();
        assert_eq!(words, vec!["a", "b", "last"]);
        assert!(sink.diags.iter().any(|d| d.code == "include-loop"));
        assert_eq!(r.files.len(), 3);
    }

    #[test]
    fn byte_wise_trims_equal_the_char_wise_ones() {
        for t in [
            "",
            "  a b \t",
            "\u{a0} x \u{a0}",
            " \u{a0}x",
            "x\u{a0} \r",
            "\t\u{b}\u{c}",
            "é ",
            " \u{a0}",
        ] {
            assert_eq!(trim_space(t), t.trim_matches(is_space), "{t:?}");
            assert_eq!(trim_start_space(t), t.trim_start_matches(is_space), "{t:?}");
            assert_eq!(
                leading_spaces(t) as usize,
                t.chars().take_while(|c| is_space(*c)).count(),
                "{t:?}"
            );
        }
    }

    #[test]
    fn script_keyword_precheck_covers_every_script_keyword() {
        for k in SCRIPT_KEYWORDS {
            assert!(
                matches!(
                    k.as_bytes().first(),
                    Some(b'l' | b'm' | b'n' | b'q' | b's' | b'v')
                ),
                "{k}: extend the first-letter check in rest_for"
            );
        }
    }

    #[test]
    fn script_rest_kept() {
        let mut src = MemSource::new();
        src.add("/k", "notify_master \"/x.sh a\" root }\n");
        let bump = Bump::new();
        let mut r = Reader::new(&src, &bump, ReadOptions::default());
        let mut sink = Sink::default();
        r.read_main(Path::new("/k"), &mut sink).unwrap();
        assert!(r.lines[0].has_rest);
        assert_eq!(r.rests, vec![(0, "\"/x.sh a\" root")]);
        assert!(r.lines[1].is_close());
    }
}
