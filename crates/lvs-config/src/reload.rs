//! Reload proportional to the change: [`reload`] re-reads what a previous
//! load read and, when only top-level `virtual_server` blocks changed, re-reads
//! and lowers just those blocks and splices them into the model ([`Patch`]).
//! Anything else falls back to a full [`crate::load_with`].
//!
//! Invariant: applying a [`Patch`] to the previous [`Loaded`] gives exactly
//! what a full load of the new text gives (model, diagnostics, files); the
//! tests compare both on random edits.
//!
//! The fast path is taken only when every step of the full pipeline is known
//! to be local to the changed text:
//! - every input of the previous load (file reads, file modes, include globs,
//!   host name, environment) is the same except the bytes of some files;
//! - each changed byte range of a file lies inside a run of whole-line
//!   top-level `virtual_server` blocks (no other top-level item in the run,
//!   no other item on their first and last lines), and the run has as many
//!   physical lines before and after (so every other span stays exact);
//! - the old and new text of the run need none of the reader's context:
//!   plain ASCII, no `$` (definitions, substitution), `@` (conditional
//!   lines), `~` (`~SEQ`/`~LST`), `\`, no `include` line;
//! - the previous load had no unknown block (keepalived's scope cascade can
//!   reach across blocks) and the new run has none;
//! - no virtual server of the run uses `group` (checked against the groups);
//! - re-reading the *old* run alone reproduces exactly the previous model
//!   and diagnostics of the run (a self-check of all of the above).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::Diagnostic;
use crate::lexer::{Line, Word};
use crate::model::{Config, Span, VirtualServer, VsAddress};
use crate::source::{FileMeta, MemSource, Source};
use crate::{Error, LoadOptions, Loaded, RawDiag, Sink};

/// At most this many logical lines after a partial reload (the reader's own
/// limit is higher; beyond this a full load decides).
const MAX_LINES: usize = 1_000_000;
/// At most this many diagnostics after a partial reload (the sink keeps
/// 5000; below that none is dropped, so the list is exact).
const MAX_DIAGS: usize = 4000;

/// What [`reload`] found.
#[derive(Debug)]
pub enum Reload {
    /// Nothing the previous load read changed.
    Unchanged,
    /// Only some virtual servers changed: [`Loaded::apply`] the patch.
    Partial(Patch),
    /// A full load of the new configuration.
    Full(Box<Loaded>),
}

/// The change from a previous load to the new text, limited to virtual
/// servers (see the module docs). Check [`Patch::has_errors`] before
/// applying it with [`Loaded::apply`].
#[derive(Debug)]
pub struct Patch {
    /// Runs of virtual servers replaced: the range in the previous model and
    /// its replacement; sorted, disjoint.
    splices: Vec<(Range<usize>, Vec<VirtualServer>)>,
    diagnostics: Vec<Diagnostic>,
    base: Base,
}

/// One replaced run of virtual servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsChange {
    /// Indices in the previous `config.virtual_servers`.
    pub old: Range<usize>,
    /// Indices in the new one.
    pub new: Range<usize>,
}

impl Patch {
    /// The new configuration's diagnostics (all of them, as a full load
    /// would give them).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Whether the new configuration has an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == crate::Severity::Error)
    }

    /// The runs of virtual servers this patch replaces.
    pub fn changes(&self) -> Vec<VsChange> {
        let mut delta = 0isize;
        self.splices
            .iter()
            .map(|(r, v)| {
                let start = (r.start as isize + delta) as usize;
                delta += v.len() as isize - r.len() as isize;
                VsChange {
                    old: r.clone(),
                    new: start..start + v.len(),
                }
            })
            .collect()
    }
}

impl Loaded {
    /// Applies a [`Patch`] made by [`reload`] from this load: afterwards
    /// `self` equals a full load of the new text. Returns what changed.
    pub fn apply(&mut self, patch: Patch) -> Vec<VsChange> {
        let changes = patch.changes();
        for (r, v) in patch.splices.into_iter().rev() {
            self.config.virtual_servers.splice(r, v);
        }
        self.diagnostics = patch.diagnostics;
        let old = std::mem::replace(&mut self.base, patch.base);
        // The replaced texts and block index become the next reload's memory (when nothing
        // else shares them: a clone of the previous load keeps its own).
        if let (Some(old), Some(new)) = (old.0, &self.base.0) {
            if let Ok(old) = Arc::try_unwrap(old) {
                for c in old.calls {
                    if let Call::Read(_, Ok(bytes)) = c {
                        if let Ok(v) = Arc::try_unwrap(bytes) {
                            new.pool.put_buf(v);
                        }
                    }
                }
                new.pool.put_blocks(old.blocks);
            }
        }
        changes
    }

    /// Sets aside, already written once, the memory the next reload of this load needs: a
    /// buffer per file read (an eighth larger than the file) and room for the block index.
    /// Meant for a daemon once it has started (off the start's critical path): its first
    /// reload then costs what later ones do instead of faulting in megabytes of fresh pages.
    /// Does nothing for a load not made from files, or when the memory is already there.
    pub fn prepare_reload(&self) {
        let Some(b) = self.base.0.as_deref() else {
            return;
        };
        let mut sizes: Vec<usize> = b
            .calls
            .iter()
            .filter_map(|c| match c {
                Call::Read(_, Ok(t)) => Some(t.len()),
                _ => None,
            })
            .collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes.truncate(8);
        {
            let mut bufs = b.pool.bufs.lock().unwrap_or_else(|e| e.into_inner());
            bufs.sort_by_key(|v| std::cmp::Reverse(v.capacity()));
            for (i, n) in sizes.into_iter().enumerate() {
                let want = n + n / 8 + 4096;
                if bufs.get(i).is_some_and(|v| v.capacity() >= want) {
                    continue;
                }
                // Written, not just reserved: reserved memory is mapped on first touch.
                let mut v = Vec::with_capacity(want);
                v.resize(want, 1u8);
                v.clear();
                if i < bufs.len() {
                    bufs[i] = v;
                } else {
                    bufs.push(v);
                }
            }
        }
        let mut blocks = b.pool.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let want = b.blocks.len() + b.blocks.len() / 8 + 16;
        if blocks.as_ref().is_none_or(|v| v.capacity() < want) {
            if let Some(first) = b.blocks.first() {
                let mut v = Vec::with_capacity(want);
                v.resize(want, first.clone());
                v.clear();
                *blocks = Some(v);
            }
        }
    }
}

/// Re-reads the configuration of `prev` (same main file and options) from
/// `source`: unchanged, a [`Patch`] of the virtual servers whose text
/// changed, or a full load. `Err` only when a full load fails (the main
/// file cannot be read).
pub fn reload(prev: &Loaded, source: &dyn Source) -> Result<Reload, Error> {
    let Some(b) = prev.base.0.as_deref() else {
        return Err(Error::Unreadable(
            "this configuration was not loaded from a file; nothing to reload".into(),
        ));
    };
    let full = || crate::load_with(source, &b.main, &b.opts).map(|l| Reload::Full(Box::new(l)));
    // Replay every question the previous load asked.
    let mut changed: Vec<(usize, Bytes, usize)> = Vec::new();
    for (i, c) in b.calls.iter().enumerate() {
        let same = match c {
            Call::Read(p, r) => {
                // Into memory a previous reload freed (or `prepare_reload` set aside), not
                // fresh pages: see `Pool`.
                let mut new = b.pool.take_buf();
                match (r, source.read_into(p, &mut new)) {
                    (Ok(old), Ok(())) => {
                        let pre = common_prefix(old, &new);
                        if pre < old.len().max(new.len()) {
                            changed.push((i, Arc::new(new), pre));
                        } else {
                            b.pool.put_buf(new);
                        }
                        true
                    }
                    (Err(a), Err(e)) => *a == e.to_string(),
                    _ => false,
                }
            }
            Call::Meta(p, m) => *m == source.metadata(p).map_err(|e| e.to_string()),
            Call::Glob(p, g) => *g == source.glob(p).map_err(|e| e.to_string()),
            Call::Hostname(h) => *h == source.hostname(),
            Call::Env(n, v) => *v == source.env_var(n),
        };
        if !same {
            return full();
        }
    }
    if changed.is_empty() {
        return Ok(Reload::Unchanged);
    }
    match patch(prev, b, &changed) {
        Some(p) => Ok(Reload::Partial(p)),
        None => full(),
    }
}

/// The fast path; None = not applicable (a full load decides).
fn patch(prev: &Loaded, b: &Inner, changed: &[(usize, Bytes, usize)]) -> Option<Patch> {
    if b.unknown_blocks || b.reads_twice {
        return None;
    }
    if prev
        .diagnostics
        .iter()
        .any(|d| d.code == "too-many-diagnostics")
    {
        return None;
    }
    // File ids by diagnostic file name (to find a run's diagnostics).
    let mut file_ids: HashMap<String, u32> = HashMap::new();
    for (i, f) in prev.files.iter().enumerate() {
        if file_ids
            .insert(f.to_string_lossy().into_owned(), i as u32)
            .is_some()
        {
            return None;
        }
    }
    let diag_key = |d: &Diagnostic| match &d.file {
        Some(f) => (0u8, file_ids.get(f).copied().unwrap_or(u32::MAX), d.line),
        None => (1, 0, 0),
    };
    let mut new_calls = b.calls.clone();
    let mut runs: Vec<Run> = Vec::new();
    for (ci, new_bytes, pre) in changed {
        let Call::Read(path, Ok(old)) = &b.calls[*ci] else {
            return None;
        };
        let file = prev.files.iter().position(|f| f == path)? as u32;
        let (old, new, pre) = (&old[..], &new_bytes[..], *pre);
        let suf = common_suffix(&old[pre..], &new[pre..]);
        let (old_end, new_end) = (old.len() - suf, new.len() - suf);
        // The run of blocks of this file holding the changed bytes: the last block starting
        // at or before the first change, to the first one ending at or after the last.
        let (k, m) = if b.by_file {
            let bl = &b.blocks;
            let lo = bl.partition_point(|x| x.file < file);
            let hi = bl.partition_point(|x| x.file <= file);
            let k = (lo + bl[lo..hi].partition_point(|x| x.start <= pre)).checked_sub(1)?;
            if k < lo {
                return None;
            }
            let m = k + bl[k..hi].partition_point(|x| x.end < old_end);
            (k, m)
        } else {
            let in_file = || (0..b.blocks.len()).filter(|&i| b.blocks[i].file == file);
            let k = in_file().rfind(|&i| b.blocks[i].start <= pre)?;
            let m = in_file().find(|&i| i >= k && b.blocks[i].end >= old_end)?;
            (k, m)
        };
        let (bk, bm) = (b.blocks.get(k)?, b.blocks.get(m)?);
        if bk.start > pre || bm.end < old_end || m < k {
            return None;
        }
        if (k..=m).any(|i| b.blocks[i].file != file || !b.blocks[i].closed) {
            return None;
        }
        if !bk.clean_start || !bm.clean_end {
            return None;
        }
        let (rs, re) = (bk.start, bm.end);
        // The new run ends where the old one did, moved by the size change:
        // it must still end at a line end.
        let new_re = re - old_end + new_end;
        if new_re <= rs || (new_re < new.len() && new[new_re - 1] != b'\n') {
            return None;
        }
        if re < old.len() && old[re - 1] != b'\n' {
            return None;
        }
        let (old_text, new_text) = (&old[rs..re], &new[rs..new_re]);
        if physical_lines(old_text) != physical_lines(new_text) {
            return None;
        }
        let first_line = bk.first;
        let last_line = bm.last;
        // Self-check: the old run alone gives the previous model and diagnostics.
        let vs_range = bk.vs_before..bm.vs_before + usize::from(bm.has_vs);
        let old_run = parse_run(old_text, file, first_line, &prev.files, &prev.config)?;
        let lo = prev
            .diagnostics
            .partition_point(|d| diag_key(d) < (0, file, first_line));
        let hi = prev
            .diagnostics
            .partition_point(|d| diag_key(d) <= (0, file, last_line));
        if old_run.vss != prev.config.virtual_servers[vs_range.clone()]
            || old_run.diagnostics(&prev.files) != prev.diagnostics[lo..hi]
            || old_run.blocks.len() != m - k + 1
            || old_run
                .blocks
                .iter()
                .zip(&b.blocks[k..=m])
                .any(|(a, o)| (a.first, a.last, a.col) != (o.first, o.last, o.col))
        {
            return None;
        }
        let new_run = parse_run(new_text, file, first_line, &prev.files, &prev.config)?;
        runs.push(Run {
            blocks: k..m + 1,
            vs: vs_range,
            diags: lo..hi,
            old_lines: old_run.lines,
            parsed: new_run,
            file_delta: (file, re, new.len() as isize - old.len() as isize),
            start: rs,
        });
        let Call::Read(_, r) = &mut new_calls[*ci] else {
            unreachable!("a read");
        };
        *r = Ok(new_bytes.clone());
    }
    runs.sort_by_key(|r| r.blocks.start);
    if runs.windows(2).any(|w| w[0].blocks.end > w[1].blocks.start) {
        return None;
    }
    let mut lines = b.lines;
    for r in &runs {
        lines = lines - r.old_lines + r.parsed.lines;
    }
    if lines > MAX_LINES {
        return None;
    }
    // Diagnostics: the old ones with each run's replaced (runs may be in
    // any diagnostic order: sort the cut points).
    let mut cuts: Vec<(Range<usize>, Vec<Diagnostic>)> = runs
        .iter()
        .map(|r| (r.diags.clone(), r.parsed.diagnostics(&prev.files)))
        .collect();
    cuts.sort_by_key(|c| c.0.start);
    let mut diagnostics = Vec::with_capacity(prev.diagnostics.len());
    let mut at = 0;
    for (r, d) in cuts {
        diagnostics.extend_from_slice(&prev.diagnostics[at..r.start]);
        diagnostics.extend(d);
        at = r.end;
    }
    diagnostics.extend_from_slice(&prev.diagnostics[at..]);
    if diagnostics.len() > MAX_DIAGS {
        return None;
    }
    // The block index of the new text.
    let mut out_blocks = b.pool.take_blocks();
    out_blocks.reserve(b.blocks.len());
    let mut vs_delta = 0isize;
    let mut next = 0;
    for r in &runs {
        push_shifted(
            &mut out_blocks,
            &b.blocks[next..r.blocks.start],
            vs_delta,
            &runs,
        );
        let base_vs = (r.vs.start as isize + vs_delta) as usize;
        let mut j = 0;
        for nb in &r.parsed.blocks {
            let mut nb = nb.clone();
            nb.start += r.start;
            nb.end += r.start;
            nb.vs_before = base_vs + j;
            j += usize::from(nb.has_vs);
            out_blocks.push(nb);
        }
        vs_delta += r.parsed.vss.len() as isize - r.vs.len() as isize;
        next = r.blocks.end;
    }
    push_shifted(&mut out_blocks, &b.blocks[next..], vs_delta, &runs);
    let splices = runs
        .iter()
        .map(|r| (r.vs.clone(), r.parsed.vss.clone()))
        .collect();
    Some(Patch {
        splices,
        diagnostics,
        base: Base(Some(Arc::new(Inner {
            main: b.main.clone(),
            opts: b.opts.clone(),
            calls: new_calls,
            blocks: out_blocks,
            by_file: b.by_file,
            unknown_blocks: false,
            reads_twice: false,
            lines,
            pool: b.pool.clone(),
        }))),
    })
}

/// Blocks outside the runs: byte offsets move with the size change of a run
/// before them in the same file; model indices with the runs' count changes.
fn push_shifted(out: &mut Vec<Block>, src: &[Block], vs_delta: isize, runs: &[Run]) {
    let from = out.len();
    out.extend_from_slice(src);
    if vs_delta == 0 && runs.iter().all(|r| r.file_delta.2 == 0) {
        return;
    }
    for o in &mut out[from..] {
        for r in runs {
            let (f, end, d) = r.file_delta;
            if o.file == f && o.start >= end {
                o.start = (o.start as isize + d) as usize;
                o.end = (o.end as isize + d) as usize;
            }
        }
        o.vs_before = (o.vs_before as isize + vs_delta) as usize;
    }
}

struct Run {
    blocks: Range<usize>,
    vs: Range<usize>,
    diags: Range<usize>,
    old_lines: usize,
    parsed: Parsed,
    /// (file, old end of the run, size change)
    file_delta: (u32, usize, isize),
    start: usize,
}

/// A run of blocks read and lowered on its own.
struct Parsed {
    vss: Vec<VirtualServer>,
    diags: Vec<RawDiag>,
    /// Byte offsets relative to the run's start.
    blocks: Vec<Block>,
    lines: usize,
}

impl Parsed {
    fn diagnostics(&self, files: &[PathBuf]) -> Vec<Diagnostic> {
        let mut raw = self.diags.clone();
        raw.sort_by_key(|d| d.span.map(|s| (s.file, s.line, s.col)));
        raw.into_iter().map(|d| crate::to_diag(d, files)).collect()
    }
}

/// Reads and lowers `text` (whole lines of file `file` from `first_line`)
/// as the full load would; None if it is not a run of plain
/// `virtual_server` blocks readable without context.
fn parse_run(
    text: &[u8],
    file: u32,
    first_line: u32,
    files: &[PathBuf],
    prev: &Config,
) -> Option<Parsed> {
    if !context_free(text) {
        return None;
    }
    let src = MemSource::new();
    let bump = bumpalo::Bump::new();
    let mut sink = Sink::default();
    let mut reader = crate::lexer::Reader::new(&src, &bump, Default::default());
    // The run keeps its file id: the reader numbers files in order.
    reader.files = files.to_vec();
    let name = files.get(file as usize)?;
    reader.read_named(name, text, &mut sink);
    let mut parts = reader.into_parts();
    let shift = first_line - 1;
    for l in &mut parts.lines {
        if l.file != file {
            return None;
        }
        l.line += shift;
    }
    for d in &mut sink.diags {
        match &mut d.span {
            Some(s) if s.file == file => s.line += shift,
            _ => return None,
        }
    }
    let lines = parts.lines.len();
    let mut blocks = index_blocks(&parts.lines, &parts.arena);
    offsets(text, first_line, &mut blocks);
    let kparent = crate::cascade::simulate(&parts.lines, &parts.arena);
    let nodes = crate::tree::build(&parts.lines, &parts.arena, &parts.rests, &bump, &mut sink);
    if sink.diags.iter().any(|d| {
        matches!(
            d.code,
            "extra-close-brace" | "missing-close-brace" | "unexpected-open-brace"
        )
    }) {
        return None;
    }
    let lost = crate::cascade::analyze(&kparent, &nodes);
    if !lost.is_empty() || nodes.len() != blocks.len() {
        return None;
    }
    let mut vss = Vec::new();
    {
        let mut l = crate::lower::Lower {
            sink: &mut sink,
            lost: &lost,
            default_vrrp_version: prev.global_defs.vrrp_version,
            suggestions: HashMap::new(),
        };
        for (n, blk) in nodes.iter().zip(&mut blocks) {
            if n.name() != "virtual_server"
                || n.block.is_none()
                || (n.span.line, n.span.col) != (blk.first, blk.col)
                || !blk.closed
            {
                return None;
            }
            blk.vs_before = vss.len();
            if let Some(v) = l.virtual_server(n) {
                if matches!(v.address, VsAddress::Group { .. }) {
                    return None;
                }
                blk.has_vs = true;
                vss.push(v);
            }
        }
    }
    // Whole-configuration lints, on the run's virtual servers (the lints on
    // virtual servers depend only on the server and global_defs).
    let mini = Config {
        global_defs: prev.global_defs.clone(),
        virtual_servers: vss,
        ..Config::default()
    };
    crate::lint::single(&mini, &mut sink);
    if sink.suppressed > 0 {
        return None;
    }
    Some(Parsed {
        vss: mini.virtual_servers,
        diags: sink.diags,
        blocks,
        lines,
    })
}

/// Text the reader reads the same with or without the rest of the load.
fn context_free(text: &[u8]) -> bool {
    let plain = text.iter().all(|&c| {
        matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x20..=0x7e)
            && !matches!(c, b'$' | b'@' | b'~' | b'\\')
    });
    plain
        && text.split(|&c| c == b'\n').all(|l| {
            let t = l.trim_ascii_start();
            !t.starts_with(b"include")
        })
}

/// Number of physical lines as the reader counts them.
fn physical_lines(text: &[u8]) -> usize {
    let n = text.iter().filter(|&&c| c == b'\n').count();
    if text.last().is_some_and(|&c| c != b'\n') {
        n + 1
    } else {
        n
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const C: usize = 4096;
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + C <= n && a[i..i + C] == b[i..i + C] {
        i += C;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    const C: usize = 4096;
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + C <= n && a[a.len() - i - C..a.len() - i] == b[b.len() - i - C..b.len() - i] {
        i += C;
    }
    while i < n && a[a.len() - 1 - i] == b[b.len() - 1 - i] {
        i += 1;
    }
    i
}

/// What a load keeps for a later [`reload`]. Not part of the configuration's
/// value: `==` ignores it and it is not serialized.
#[derive(Clone, Default)]
pub(crate) struct Base(Option<Arc<Inner>>);

impl PartialEq for Base {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Base(none)"),
            Some(i) => write!(
                f,
                "Base({} inputs, {} virtual_server blocks)",
                i.calls.len(),
                i.blocks.len()
            ),
        }
    }
}

struct Inner {
    main: PathBuf,
    opts: LoadOptions,
    /// Every question the load asked its source, in order, with the answer.
    calls: Vec<Call>,
    /// Top-level `virtual_server` blocks in reading order.
    blocks: Vec<Block>,
    /// `blocks` is also in (file, offset) order (no include between blocks of a file).
    by_file: bool,
    /// The load had an unknown block (lint d's cascade reaches across blocks).
    unknown_blocks: bool,
    /// Some file was read twice (its lines appear twice).
    reads_twice: bool,
    /// Logical lines of the load.
    lines: usize,
    /// Memory for the next reload, shared by the bases a chain of partial reloads makes.
    pool: Arc<Pool>,
}

/// Memory a reload reuses: the read buffers and the block index the previous base held when a
/// patch replaced it ([`Loaded::apply`]), or set aside by [`Loaded::prepare_reload`]. A reload
/// of a large configuration otherwise writes megabytes into freshly mapped pages (the new
/// text, the new block index), and the page faults — not the comparison or the parse of the
/// changed block — are most of its time until the allocator's heap has grown to hold two
/// copies.
#[derive(Default)]
struct Pool {
    bufs: std::sync::Mutex<Vec<Vec<u8>>>,
    blocks: std::sync::Mutex<Option<Vec<Block>>>,
}

impl Pool {
    /// The largest spare buffer (or a new one).
    fn take_buf(&self) -> Vec<u8> {
        let mut bufs = self.bufs.lock().unwrap_or_else(|e| e.into_inner());
        bufs.sort_by_key(Vec::capacity);
        bufs.pop().unwrap_or_default()
    }

    fn put_buf(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut bufs = self.bufs.lock().unwrap_or_else(|e| e.into_inner());
        // One per file a load can read is plenty; never hold more than a few.
        if bufs.len() < 8 {
            bufs.push(buf);
        }
    }

    fn take_blocks(&self) -> Vec<Block> {
        let mut b = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let mut v = b.take().unwrap_or_default();
        v.clear();
        v
    }

    fn put_blocks(&self, mut v: Vec<Block>) {
        v.clear();
        let mut b = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        if b.as_ref().is_none_or(|o| o.capacity() < v.capacity()) {
            *b = Some(v);
        }
    }
}

/// A file's bytes, shared between loads.
type Bytes = Arc<Vec<u8>>;

#[derive(Clone)]
enum Call {
    Read(PathBuf, Result<Bytes, String>),
    Meta(PathBuf, Result<FileMeta, String>),
    Glob(String, Result<Vec<PathBuf>, String>),
    Hostname(Option<String>),
    Env(String, Option<String>),
}

/// A top-level `virtual_server NAME {` … `}` block as the reader saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    file: u32,
    /// Physical lines of the keyword and of the closing brace.
    first: u32,
    last: u32,
    col: u32,
    /// Nothing else on the first / last physical line.
    clean_start: bool,
    clean_end: bool,
    closed: bool,
    /// Byte range of its whole lines in the file.
    start: usize,
    end: usize,
    /// Index its model has (or would have) in `virtual_servers`.
    vs_before: usize,
    has_vs: bool,
}

/// The top-level `virtual_server` blocks of a load, by brace depth (the
/// tree's scoping; a run is re-checked against the model before use).
pub(crate) fn index_blocks(lines: &[Line], arena: &[Word<'_>]) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut depth = 0usize;
    let mut cur: Option<usize> = None;
    let same_line = |a: &Line, b: &Line| a.file == b.file && a.line == b.line;
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_close() {
            if depth > 0 {
                depth -= 1;
                if depth == 0 {
                    if let Some(b) = cur.take() {
                        let blk = &mut out[b];
                        blk.closed = l.file == blk.file;
                        blk.last = l.line;
                        blk.clean_end = lines.get(i + 1).is_none_or(|n| !same_line(n, l));
                    }
                }
            }
            i += 1;
            continue;
        }
        if l.is_open() {
            depth += 1;
            i += 1;
            continue;
        }
        if lines.get(i + 1).is_some_and(Line::is_open) {
            if depth == 0
                && l.words(arena)
                    .first()
                    .is_some_and(|w| w.text.as_str() == "virtual_server")
            {
                out.push(Block {
                    file: l.file,
                    first: l.line,
                    last: 0,
                    col: l.col,
                    clean_start: i == 0 || !same_line(&lines[i - 1], l),
                    clean_end: false,
                    closed: false,
                    start: 0,
                    end: 0,
                    vs_before: 0,
                    has_vs: false,
                });
                cur = Some(out.len() - 1);
            }
            depth += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}

/// Byte offsets of the blocks' whole lines in `text` (the blocks of one
/// file, in line order; `text` starts at line `first_line`).
fn offsets<'b>(text: &[u8], first_line: u32, blocks: impl IntoIterator<Item = &'b mut Block>) {
    let mut line = first_line;
    let mut pos = 0usize;
    let advance = |target: u32, line: &mut u32, pos: &mut usize| {
        while *line < target {
            match text[*pos..].iter().position(|&c| c == b'\n') {
                Some(j) => {
                    *pos += j + 1;
                    *line += 1;
                }
                None => {
                    *pos = text.len();
                    return;
                }
            }
        }
    };
    for b in blocks {
        if b.first < line {
            // Not in line order (cannot happen for one read of a file).
            b.closed = false;
            continue;
        }
        advance(b.first, &mut line, &mut pos);
        b.start = pos;
        advance(b.last + 1, &mut line, &mut pos);
        b.end = pos;
    }
}

/// Wraps the load's source and records every question and answer.
pub(crate) struct Recorder<'s> {
    inner: &'s dyn Source,
    calls: RefCell<Vec<Call>>,
}

impl<'s> Recorder<'s> {
    pub(crate) fn new(inner: &'s dyn Source) -> Self {
        Self {
            inner,
            calls: RefCell::new(Vec::new()),
        }
    }

    /// The reload base of a load made through this recorder.
    pub(crate) fn base(
        &self,
        main: &Path,
        opts: &LoadOptions,
        files: &[PathBuf],
        config: &Config,
        parsed: Parsed0,
    ) -> Base {
        let calls = self.calls.take();
        let Parsed0 {
            mut blocks,
            unknown_blocks,
            lines,
        } = parsed;
        let mut reads_twice = false;
        let mut seen = std::collections::HashSet::new();
        for c in &calls {
            if let Call::Read(p, _) = c {
                reads_twice |= !seen.insert(p.clone());
            }
        }
        for (fid, f) in files.iter().enumerate() {
            let text = calls.iter().find_map(|c| match c {
                Call::Read(p, Ok(t)) if p == f => Some(t.clone()),
                _ => None,
            });
            let mine = blocks.iter_mut().filter(|b| b.file == fid as u32);
            match text {
                Some(t) => offsets(&t, 1, mine),
                None => mine.for_each(|b| b.closed = false),
            }
        }
        // Model index of each block: the virtual servers are in reading order.
        let mut j = 0;
        for b in &mut blocks {
            b.vs_before = j;
            if config.virtual_servers.get(j).is_some_and(|v| {
                v.span
                    == Span {
                        file: b.file,
                        line: b.first,
                        col: b.col,
                    }
            }) {
                b.has_vs = true;
                j += 1;
            }
        }
        let by_file = blocks
            .windows(2)
            .all(|w| (w[0].file, w[0].start) < (w[1].file, w[1].start));
        Base(Some(Arc::new(Inner {
            main: main.to_path_buf(),
            opts: opts.clone(),
            calls,
            blocks,
            by_file,
            unknown_blocks,
            reads_twice,
            lines,
            pool: Arc::default(),
        })))
    }
}

/// What `finish` learns for the reload base.
pub(crate) struct Parsed0 {
    pub(crate) blocks: Vec<Block>,
    pub(crate) unknown_blocks: bool,
    pub(crate) lines: usize,
}

impl Source for Recorder<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let r = self.inner.read(path);
        let rec = match &r {
            Ok(b) => Ok(Arc::new(b.clone())),
            Err(e) => Err(e.to_string()),
        };
        self.calls
            .borrow_mut()
            .push(Call::Read(path.to_path_buf(), rec));
        r
    }

    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        let r = self.inner.metadata(path);
        let rec = r.as_ref().map(|m| *m).map_err(|e| e.to_string());
        self.calls
            .borrow_mut()
            .push(Call::Meta(path.to_path_buf(), rec));
        r
    }

    fn glob(&self, pattern: &str) -> io::Result<Vec<PathBuf>> {
        let r = self.inner.glob(pattern);
        let rec = r.as_ref().map(Clone::clone).map_err(|e| e.to_string());
        self.calls
            .borrow_mut()
            .push(Call::Glob(pattern.to_string(), rec));
        r
    }

    fn hostname(&self) -> Option<String> {
        let h = self.inner.hostname();
        self.calls.borrow_mut().push(Call::Hostname(h.clone()));
        h
    }

    fn env_var(&self, name: &str) -> Option<String> {
        let v = self.inner.env_var(name);
        self.calls
            .borrow_mut()
            .push(Call::Env(name.to_string(), v.clone()));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load, MemSource};
    use proptest::prelude::*;

    /// A small xorshift generator (the cases come from proptest's seeds).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
        fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
            v[self.below(v.len())]
        }
    }

    fn vs_text(r: &mut Rng, i: usize, out: &mut String) {
        let port = [80, 443, 8080][r.below(3)];
        out.push_str(&format!(
            "virtual_server 10.0.{}.{} {port} {{\n",
            i / 200,
            i % 200 + 1
        ));
        out.push_str(&format!(
            "    lb_algo {}\n",
            r.pick(&["rr", "wlc", "sh", "mh"])
        ));
        out.push_str(&format!("    lb_kind {}\n", r.pick(&["DR", "NAT", "TUN"])));
        out.push_str("    protocol TCP\n");
        if r.below(3) == 0 {
            out.push_str(&format!(
                "    persistence_timeout {}\n",
                [30, 600][r.below(2)]
            ));
        }
        if r.below(4) == 0 {
            out.push_str("    # a comment\n");
        }
        for j in 0..1 + r.below(3) {
            out.push_str(&format!("    real_server 10.1.{i}.{} 80 {{\n", j + 1));
            out.push_str(&format!("        weight {}\n", 1 + r.below(5)));
            if r.below(3) == 0 {
                out.push_str("        TCP_CHECK {\n            connect_timeout 3\n        }\n");
            }
            out.push_str("    }\n");
        }
        out.push_str("}\n");
    }

    /// A main file (global_defs, maybe a definition, a VRRP instance and an
    /// include) and an included file, both with virtual servers.
    fn config(seed: u64) -> (String, String) {
        let mut r = Rng(seed | 1);
        let mut main = String::from("global_defs {\n    router_id lb1\n");
        if r.below(2) == 0 {
            main.push_str("    lvs_timeouts tcp 100 tcpfin 60 udp 30\n");
        }
        main.push_str("}\n");
        if r.below(3) == 0 {
            main.push_str("$PORT=80\n");
        }
        let n = 1 + r.below(6);
        let mut i = 0;
        // The include in the middle (blocks of the two files interleave) or at the end.
        let inc = r.below(2) == 0;
        let inc_at = if r.below(2) == 0 { r.below(n) } else { n };
        while i < n {
            if inc && i == inc_at {
                main.push_str("include vs2.conf\n");
            }
            vs_text(&mut r, i, &mut main);
            i += 1;
            if r.below(4) == 0 {
                main.push_str("\nvrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    virtual_ipaddress {\n        192.0.2.1\n    }\n}\n");
            }
        }
        if inc && inc_at == n {
            main.push_str("include vs2.conf\n");
        }
        let mut second = String::new();
        for k in 0..1 + r.below(3) {
            vs_text(&mut r, i + 100 + k, &mut second);
        }
        if !inc {
            second.clear();
        }
        (main, second)
    }

    /// One random edit of one line (or two, far apart).
    fn edit(r: &mut Rng, text: &str) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.is_empty() {
            return text.to_string();
        }
        let kind = r.below(16);
        let mut at = r.below(lines.len());
        // Prefer lines inside virtual servers for the common edits.
        for _ in 0..8 {
            if kind < 8 && !lines[at].starts_with("    ") {
                at = r.below(lines.len());
            }
        }
        let l = lines[at].clone();
        let indent: String = l.chars().take_while(|c| *c == ' ').collect();
        match kind {
            0 | 1 => {
                if let Some(p) = l.find("weight ") {
                    lines[at] = format!("{}weight {}", &l[..p], r.below(300));
                } else {
                    lines[at] = format!("{indent}weight {}", r.below(7));
                }
            }
            2 => lines[at] = format!("{indent}lb_algo {}", r.pick(&["rr", "wrr", "lc", "bogus"])),
            3 => lines[at] = format!("{indent}persistence_timeout {}", r.below(400)),
            4 => lines.insert(at, format!("{indent}weight 2")),
            5 => {
                lines.remove(at);
            }
            6 => lines[at] = format!("{indent}wieght 3"),
            7 => lines[at] = l.replace(" 80 ", " 81 ").replace("10.0.", "10.9."),
            8 => lines[at] = format!("{indent}weight $PORT"),
            9 => lines[at] = format!("@lb2 {}", l.trim_start()),
            10 => lines[at] = format!("{indent}bogus {{ x }}"),
            11 => lines[at] = l.replace('}', "{"),
            12 => {
                let other = r.below(lines.len());
                lines[at] = l.replace("weight 1", "weight 9");
                lines[other] = lines[other].replace("weight 2", "weight 8");
            }
            13 => lines[at] = format!("{indent}# {}", l.trim_start()),
            14 => lines[at] = format!("{l} }} virtual_server 10.7.7.7 80 {{"),
            _ => lines[at] = format!("{l} "),
        }
        let mut out = lines.join("\n");
        if r.below(8) != 0 {
            out.push('\n');
        }
        out
    }

    fn fs(main: &str, second: &str) -> MemSource {
        let mut s = MemSource::new();
        s.add("/etc/k/keepalived.conf", main.as_bytes().to_vec());
        if !second.is_empty() {
            s.add("/etc/k/vs2.conf", second.as_bytes().to_vec());
        }
        s
    }

    const MAIN: &str = "/etc/k/keepalived.conf";

    /// Reloads `prev` from `src` and checks the result against a full load;
    /// returns the new load and whether the fast path was taken.
    fn check(prev: &Loaded, src: &MemSource) -> (Loaded, &'static str) {
        let full = load(src, Path::new(MAIN)).expect("loads");
        let (got, how) = match reload(prev, src).expect("reloads") {
            Reload::Unchanged => (prev.clone(), "unchanged"),
            Reload::Full(l) => (*l, "full"),
            Reload::Partial(p) => {
                let has_errors = p.has_errors();
                let diags = p.diagnostics().to_vec();
                let mut l = prev.clone();
                let changes = l.apply(p);
                assert_eq!(has_errors, full.has_errors());
                assert_eq!(diags, full.diagnostics);
                for c in &changes {
                    assert_eq!(
                        l.config.virtual_servers[c.new.clone()],
                        full.config.virtual_servers[c.new.clone()]
                    );
                }
                (l, "partial")
            }
        };
        assert_eq!(got.config, full.config, "model differs ({how})");
        assert_eq!(
            got.diagnostics, full.diagnostics,
            "diagnostics differ ({how})"
        );
        assert_eq!(got.files, full.files);
        (got, how)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// A chain of three random edits, each reloaded from the previous
        /// reload's result, always equals a full load of the new text.
        #[test]
        fn reload_equals_full_load(seed in any::<u64>(), e1 in any::<u64>(), e2 in any::<u64>(), e3 in any::<u64>()) {
            let (mut main, mut second) = config(seed);
            let mut cur = load(&fs(&main, &second), Path::new(MAIN)).expect("loads");
            for e in [e1, e2, e3] {
                let mut r = Rng(e | 1);
                if !second.is_empty() && r.below(3) == 0 {
                    second = edit(&mut r, &second);
                } else {
                    main = edit(&mut r, &main);
                }
                // Sometimes with memory set aside; applied to the load itself (not a clone), so
                // the replaced texts are recycled into the next reload's reads.
                if r.below(2) == 0 {
                    cur.prepare_reload();
                }
                cur = check_owned(cur, &fs(&main, &second));
            }
        }
    }

    /// [`check`], with the patch applied to `prev` itself: nothing else shares its base, so
    /// [`Loaded::apply`] recycles what the patch replaced.
    fn check_owned(mut prev: Loaded, src: &MemSource) -> Loaded {
        let full = load(src, Path::new(MAIN)).expect("loads");
        let got = match reload(&prev, src).expect("reloads") {
            Reload::Unchanged => prev,
            Reload::Full(l) => *l,
            Reload::Partial(p) => {
                prev.apply(p);
                prev
            }
        };
        assert_eq!(got.config, full.config);
        assert_eq!(got.diagnostics, full.diagnostics);
        assert_eq!(got.files, full.files);
        got
    }

    /// The data pointers of the spare read buffers.
    fn spare_ptrs(l: &Loaded) -> Vec<*const u8> {
        let b = l.base.0.as_deref().unwrap();
        b.pool
            .bufs
            .lock()
            .unwrap()
            .iter()
            .map(|v| v.as_ptr())
            .collect()
    }

    /// The data pointer of the text a load's base holds for `path`.
    fn text_ptr(l: &Loaded, path: &str) -> *const u8 {
        let b = l.base.0.as_deref().unwrap();
        b.calls
            .iter()
            .find_map(|c| match c {
                Call::Read(p, Ok(t)) if p == Path::new(path) => Some(t.as_ptr()),
                _ => None,
            })
            .unwrap()
    }

    /// A reload reads into memory set aside, not fresh memory: first the buffer
    /// `prepare_reload` wrote, then the text the previous patch replaced, and so on.
    #[test]
    fn reloads_read_into_recycled_memory() {
        let mut l = load(&fs(TEXT, ""), Path::new(MAIN)).expect("loads");
        let original = text_ptr(&l, MAIN);
        l.prepare_reload();
        let prepared = spare_ptrs(&l);
        assert_eq!(prepared.len(), 1, "one file read, one buffer");
        {
            let b = l.base.0.as_deref().unwrap();
            let blocks = b.pool.blocks.lock().unwrap();
            assert!(blocks.as_ref().unwrap().capacity() >= b.blocks.len());
        }
        // Preparing again keeps what is there.
        l.prepare_reload();
        assert_eq!(spare_ptrs(&l), prepared);
        let changed = TEXT.replacen("weight 1", "weight 5", 1);
        let Reload::Partial(p) = reload(&l, &fs(&changed, "")).expect("reloads") else {
            panic!("not partial")
        };
        l.apply(p);
        assert_eq!(
            text_ptr(&l, MAIN),
            prepared[0],
            "read into the prepared buffer"
        );
        assert_eq!(
            spare_ptrs(&l),
            vec![original],
            "the replaced text is the next spare"
        );
        let Reload::Partial(p) = reload(&l, &fs(TEXT, "")).expect("reloads") else {
            panic!("not partial")
        };
        l.apply(p);
        assert_eq!(text_ptr(&l, MAIN), original);
        assert_eq!(spare_ptrs(&l), vec![prepared[0]]);
        assert_eq!(l, load(&fs(TEXT, ""), Path::new(MAIN)).expect("loads"));
        // Unchanged: the buffer read goes back to the pool.
        assert!(matches!(
            reload(&l, &fs(TEXT, "")).expect("reloads"),
            Reload::Unchanged
        ));
        assert_eq!(spare_ptrs(&l), vec![prepared[0]]);
        // A clone shares the base: applying to it recycles nothing it still shares.
        let mut c = l.clone();
        let Reload::Partial(p) = reload(&c, &fs(&changed, "")).expect("reloads") else {
            panic!("not partial")
        };
        c.apply(p);
        assert_eq!(text_ptr(&l, MAIN), original, "the original keeps its text");
        assert_eq!(c, load(&fs(&changed, ""), Path::new(MAIN)).expect("loads"));
    }

    fn partial_then_full(text: &str, from: &str, to: &str) -> (Loaded, &'static str) {
        let prev = load(&fs(text, ""), Path::new(MAIN)).expect("loads");
        check(&prev, &fs(&text.replacen(from, to, 1), ""))
    }

    const TEXT: &str = "global_defs {\n  router_id a\n}\nvirtual_server 10.0.0.1 80 {\n  lb_algo rr\n  real_server 10.1.0.1 80 {\n    weight 1\n  }\n}\nvirtual_server 10.0.0.2 80 {\n  lb_algo rr\n  real_server 10.1.0.2 80 {\n    weight 1\n  }\n  real_server 10.1.0.3 80 {\n    weight 1\n  }\n}\nvirtual_server 10.0.0.3 80 {\n  lb_algo rr\n  real_server 10.1.0.4 80 {\n    weight 1\n  }\n}\n";

    #[test]
    fn one_weight_is_a_patch_of_one_virtual_server() {
        let prev = load(&fs(TEXT, ""), Path::new(MAIN)).expect("loads");
        let new = TEXT.replacen(
            "10.1.0.3 80 {\n    weight 1",
            "10.1.0.3 80 {\n    weight 7",
            1,
        );
        let Reload::Partial(p) = reload(&prev, &fs(&new, "")).expect("reloads") else {
            panic!("not partial")
        };
        assert_eq!(
            p.changes(),
            vec![VsChange {
                old: 1..2,
                new: 1..2
            }]
        );
        let (l, how) = check(&prev, &fs(&new, ""));
        assert_eq!(how, "partial");
        assert_eq!(l.config.virtual_servers[1].real_servers[1].weight, 7);
        // The reloaded load reloads again (its base follows the patch).
        let back = check(&l, &fs(TEXT, ""));
        assert_eq!(back.1, "partial");
        assert_eq!(check(&back.0, &fs(TEXT, "")).1, "unchanged");
    }

    #[test]
    fn both_files_of_an_include_in_the_middle_patch() {
        let (a, b) = TEXT.split_at(TEXT.find("virtual_server 10.0.0.2").unwrap());
        let main = format!("{a}include vs2.conf\n{b}");
        let second =
            "virtual_server 10.0.9.1 80 {\n  real_server 10.1.9.1 80 {\n    weight 1\n  }\n}\n";
        let prev = load(&fs(&main, second), Path::new(MAIN)).expect("loads");
        // After the include in the main file, and in the included file, in one reload.
        let main2 = main.replacen(
            "10.1.0.4 80 {\n    weight 1",
            "10.1.0.4 80 {\n    weight 22",
            1,
        );
        let second2 = second.replacen("weight 1", "weight 333", 1);
        let Reload::Partial(p) = reload(&prev, &fs(&main2, &second2)).expect("reloads") else {
            panic!("not partial")
        };
        assert_eq!(p.changes().len(), 2);
        let (l, how) = check(&prev, &fs(&main2, &second2));
        assert_eq!(how, "partial");
        assert_eq!(check(&l, &fs(&main, &second2)).1, "partial");
    }

    #[test]
    fn what_falls_back_to_a_full_load() {
        // A line more (every later span moves).
        assert_eq!(
            partial_then_full(TEXT, "    weight 1\n", "    weight 1\n    weight 2\n").1,
            "full"
        );
        // global_defs.
        assert_eq!(
            partial_then_full(TEXT, "router_id a", "router_id b").1,
            "full"
        );
        // A definition used, a conditional line, an unknown block.
        assert_eq!(
            partial_then_full(TEXT, "lb_algo rr", "lb_algo $X").1,
            "full"
        );
        assert_eq!(
            partial_then_full(TEXT, "  lb_algo rr", "@x lb_algo rr").1,
            "full"
        );
        assert_eq!(
            partial_then_full(TEXT, "  lb_algo rr", "  foo { a }").1,
            "full"
        );
        // Two items on the block's last line.
        assert_eq!(
            partial_then_full(
                TEXT,
                "  }\n}\nvirtual_server 10.0.0.2",
                "  }\n} virtual_server 10.0.0.2"
            )
            .1,
            "full"
        );
        // Errors and unknown keywords stay on the fast path, with their diagnostics.
        let (l, how) = partial_then_full(TEXT, "lb_algo rr", "lb_algo nope");
        assert_eq!(how, "partial");
        assert!(l.has_errors() || !l.diagnostics.is_empty());
        assert_eq!(
            partial_then_full(TEXT, "  lb_algo rr", "  lb_algoo rr").1,
            "partial"
        );
    }

    #[test]
    fn a_changed_file_mode_or_glob_is_a_full_load() {
        let prev = load(&fs(TEXT, ""), Path::new(MAIN)).expect("loads");
        let mut s = MemSource::new();
        s.add_with_meta(
            MAIN,
            TEXT.replacen("weight 1", "weight 2", 1).into_bytes(),
            FileMeta {
                is_file: true,
                mode: 0o666,
            },
        );
        let full = load(&s, Path::new(MAIN)).expect("loads");
        match reload(&prev, &s).expect("reloads") {
            Reload::Full(l) => assert_eq!(*l, full),
            r => panic!("{r:?}"),
        }
        let with_inc = format!("{TEXT}include conf.d/*.conf\n");
        let prev = load(&fs(&with_inc, ""), Path::new(MAIN)).expect("loads");
        let mut s = fs(&with_inc.replacen("weight 1", "weight 2", 1), "");
        s.add("/etc/k/conf.d/x.conf", "virtual_server 10.9.9.9 80 {\n}\n");
        match reload(&prev, &s).expect("reloads") {
            Reload::Full(l) => assert_eq!(*l, load(&s, Path::new(MAIN)).expect("loads")),
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn base_is_send_and_sync() {
        fn f<T: Send + Sync>() {}
        f::<Loaded>();
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use crate::{load, FsSource};

    /// Minor page faults of this process so far (/proc/self/stat field 10).
    fn minflt() -> u64 {
        let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let rest = s.rsplit_once(") ").map_or("", |(_, r)| r);
        rest.split_whitespace()
            .nth(7)
            .and_then(|x| x.parse().ok())
            .unwrap_or(0)
    }

    /// One-weight reloads of bench/ipvs-apply's 10,000 × 4 configuration, first and later ones,
    /// without and with `prepare_reload` (`cargo test --release -p lvs-config reload_timing --
    /// --ignored --nocapture`; docs/PERFORMANCE.md).
    #[test]
    #[ignore]
    fn reload_timing() {
        let dir = std::env::temp_dir().join(format!("lvs-reload-timing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let main = dir.join("bench.conf");
        let mut t = String::from("global_defs {\n  router_id bench\n}\n");
        for i in 0..10000 {
            t.push_str(&format!("virtual_server 10.1.{}.{} 80 {{\n  delay_loop 60\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n", i / 200, i % 200 + 1));
            for j in 0..4 {
                let n = i * 4 + j;
                t.push_str(&format!(
                    "  real_server 10.{}.{}.{} 80 {{\n    weight 1\n  }}\n",
                    2 + n / 50000,
                    n / 200 % 250,
                    n % 200 + 1
                ));
            }
            t.push_str("}\n");
        }
        std::fs::write(&main, &t).unwrap();
        let w = t.replacen(
            "10.2.100.1 80 {\n    weight 1",
            "10.2.100.1 80 {\n    weight 3",
            1,
        );
        // A chain of reloads applied in place (as the daemon does), alternating the weight, without
        // and with the memory set aside first: the first reloads pay for fresh pages unless
        // `prepare_reload` ran.
        for prepare in [false, true] {
            std::fs::write(&main, &t).unwrap();
            let t0 = std::time::Instant::now();
            let mut l = load(&FsSource, &main).unwrap();
            let load_t = t0.elapsed();
            let t0 = std::time::Instant::now();
            if prepare {
                l.prepare_reload();
            }
            eprintln!(
                "prepare_reload {prepare}: load {load_t:?}, prepare {:?}",
                t0.elapsed()
            );
            for i in 0..6 {
                std::fs::write(&main, if i % 2 == 0 { &w } else { &t }).unwrap();
                let t0 = std::time::Instant::now();
                let mut buf = Vec::new();
                FsSource.read_into(&main, &mut buf).unwrap();
                let read_t = t0.elapsed();
                let f0 = minflt();
                let t0 = std::time::Instant::now();
                let Reload::Partial(p) = reload(&l, &FsSource).unwrap() else {
                    panic!("not partial");
                };
                l.apply(p);
                eprintln!(
                    "  reload {i}: {:?}, {} page faults (a read into fresh memory alone: {read_t:?})",
                    t0.elapsed(),
                    minflt() - f0
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
