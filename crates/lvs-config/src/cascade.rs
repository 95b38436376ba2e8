//! Lint d: replay keepalived's keyword-driven block scoping and report where
//! it differs from brace matching.
//!
//! keepalived ignores the `{` after a keyword it does not know, so the
//! matching `}` closes the *enclosing* block and every keyword after it is
//! read one level (or more) too far out — "lost" from the block the operator
//! wrote it in. lvsd scopes by braces; this module lists what keepalived
//! would lose, for the unknown-block diagnostic emitted by `lower`.

use std::collections::HashMap;

use crate::lexer::{Line, Word};
use crate::model::Span;
use crate::schema::{opens, Ctx, Opens};
use crate::tree::Node;

const TOP: usize = usize::MAX;

/// What keepalived would do with one unknown block.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lost {
    /// The block it closes early (`vrrp_instance VI_1`), empty at top level.
    pub(crate) closes: String,
    /// Keywords read outside the block they were written in.
    pub(crate) lost: Vec<(String, Span)>,
}

/// Unknown-block analysis keyed by the unknown node's line index.
/// `kparent` is keepalived's reading ([`simulate`], run on the lines
/// before the tree takes their words).
pub(crate) fn analyze(kparent: &[u32], nodes: &[Node<'_>]) -> HashMap<usize, Lost> {
    // Most configurations have no unknown block: look for one first,
    // without the per-line tables.
    if !any_unknown(nodes, Some(Ctx::Top)) {
        return HashMap::new();
    }
    let n = kparent.len();
    let mut tparent = vec![TOP; n];
    let mut is_value = vec![false; n];
    let mut unknown: Vec<(usize, usize, usize)> = Vec::new(); // (line, owner, last line)
    walk(
        nodes,
        TOP,
        Some(Ctx::Top),
        &mut tparent,
        &mut is_value,
        &mut unknown,
    );
    let mut out = HashMap::new();
    if unknown.is_empty() {
        return out;
    }
    let mut by_line: Vec<Option<&Node<'_>>> = vec![None; n];
    index(nodes, &mut by_line);
    for (k, &(u, owner, last)) in unknown.iter().enumerate() {
        let stop = unknown.get(k + 1).map_or(n, |x| x.0);
        let mut lost = Vec::new();
        for j in (last + 1)..stop {
            let Some(node) = by_line[j] else {
                continue;
            };
            if widen(kparent[j]) != tparent[j] && !is_value[j] {
                lost.push((node.kw().text.to_string(), node.span));
            }
        }
        let closes = match by_line.get(owner).copied().flatten() {
            Some(o) => std::iter::once(o.kw().text.as_str())
                .chain(o.args().iter().take(2).map(|w| w.text.as_str()))
                .collect::<Vec<_>>()
                .join(" "),
            None => String::new(),
        };
        out.insert(u, Lost { closes, lost });
    }
    out
}

fn index<'n, 'a>(nodes: &'n [Node<'a>], by_line: &mut [Option<&'n Node<'a>>]) {
    for n in nodes {
        by_line[n.line_idx as usize] = Some(n);
        if let Some(b) = &n.block {
            index(b, by_line);
        }
    }
}

/// Whether [`walk`] would find an unknown block node in a known context.
fn any_unknown(nodes: &[Node<'_>], ctx: Option<Ctx>) -> bool {
    let Some(ctx) = ctx else {
        // Nothing in a value block is a keyword: no unknown block there.
        return false;
    };
    nodes.iter().any(|n| {
        n.block.is_some_and(|body| match opens(ctx, n.name()) {
            Some(Opens::Block(c)) => any_unknown(body, Some(c)),
            Some(Opens::Values) => false,
            None => ctx != Ctx::Opaque && n.name() != "{",
        })
    })
}

/// Record tree parents; collect unknown block nodes in known contexts.
fn walk(
    nodes: &[Node<'_>],
    owner: usize,
    ctx: Option<Ctx>,
    tparent: &mut [usize],
    is_value: &mut [bool],
    unknown: &mut Vec<(usize, usize, usize)>,
) {
    for n in nodes {
        tparent[n.line_idx as usize] = owner;
        if ctx.is_none() {
            is_value[n.line_idx as usize] = true;
        }
        if let Some(body) = &n.block {
            let child = ctx.and_then(|c| opens(c, n.name()));
            let child_ctx = match child {
                Some(Opens::Block(c)) => Some(c),
                Some(Opens::Values) => None,
                None => {
                    if ctx.is_some() && ctx != Some(Ctx::Opaque) && n.name() != "{" {
                        unknown.push((n.line_idx as usize, owner, last_line(n)));
                    }
                    None
                }
            };
            walk(
                body,
                n.line_idx as usize,
                child_ctx,
                tparent,
                is_value,
                unknown,
            );
        }
    }
}

fn last_line(n: &Node<'_>) -> usize {
    let mut last = n.line_idx as usize;
    if let Some(b) = &n.block {
        for c in *b {
            last = last.max(last_line(c));
        }
        // The closing brace line follows the last child (or the '{').
        last += if b.is_empty() { 2 } else { 1 };
    }
    last
}

/// A parent index as stored by [`simulate`] (u32, `u32::MAX` = top level).
fn widen(p: u32) -> usize {
    if p == u32::MAX {
        TOP
    } else {
        p as usize
    }
}

fn narrow(p: usize) -> u32 {
    if p == TOP {
        u32::MAX
    } else {
        p as u32
    }
}

/// keepalived's reading: parent (owner line index) of every keyword line.
pub(crate) fn simulate(lines: &[Line], arena: &[Word<'_>]) -> Vec<u32> {
    let mut parent = vec![u32::MAX; lines.len()];
    let mut stack: Vec<(Ctx, usize)> = vec![(Ctx::Top, TOP)];
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_close() {
            if stack.len() > 1 {
                stack.pop();
            }
            i += 1;
            continue;
        }
        if l.is_open() {
            i += 1;
            continue;
        }
        let (ctx, owner) = *stack.last().expect("non-empty");
        parent[i] = narrow(owner);
        let next_open = lines.get(i + 1).is_some_and(Line::is_open);
        if !next_open {
            i += 1;
            continue;
        }
        let Some(kw) = l.words(arena).first() else {
            i += 1;
            continue;
        };
        match opens(ctx, &kw.text) {
            Some(Opens::Block(c)) => {
                stack.push((c, i));
                i += 2;
            }
            Some(Opens::Values) => {
                let mut j = i + 2;
                while j < lines.len() && !lines[j].is_close() {
                    parent[j] = narrow(i);
                    j += 1;
                }
                i = j + 1;
            }
            None => i += 2,
        }
    }
    parent
}
