//! Lines → a tree of keyword nodes by brace matching.
//!
//! keepalived decides block scope by keyword knowledge (an unknown keyword's
//! `{` is ignored, so its `}` closes the *enclosing* block); lvsd scopes by
//! braces, which is what the operator meant, and `crate::cascade` reports
//! where keepalived would read the file differently (lint d).

use crate::diag::Severity;
use crate::lexer::{Line, Word};
use crate::model::Span;
use crate::text::Text;
use crate::Sink;

/// Deepest block nesting kept (keepalived's deepest is 4: virtual_server >
/// real_server > HTTP_GET > url).
const MAX_DEPTH: usize = 64;

/// A keyword line with its arguments and optional `{ … }` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// Index of the keyword's line in the reader's line list.
    pub(crate) line_idx: u32,
    pub(crate) kw: Word,
    pub(crate) args: Box<[Word]>,
    pub(crate) rest: Option<Box<str>>,
    pub(crate) span: Span,
    pub(crate) block: Option<Vec<Node>>,
}

impl Node {
    pub(crate) fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(|w| w.text.as_str())
    }

    pub(crate) fn arg_span(&self, i: usize) -> Span {
        match self.args.get(i) {
            Some(w) => Span {
                col: w.col,
                ..self.span
            },
            None => self.span,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.kw.text
    }
}

/// Build the tree. Never fails: stray braces are diagnostics.
/// Moves the words of keyword lines out of the reader's word list, in
/// order (lines skipped by the builder have theirs dropped).
struct Words {
    it: std::vec::IntoIter<Word>,
    pos: usize,
}

impl Words {
    fn take(&mut self, l: &Line) -> Option<(Word, Box<[Word]>)> {
        let start = l.start as usize;
        if start > self.pos {
            self.it.nth(start - self.pos - 1);
        }
        self.pos = start + l.len as usize;
        let kw = self.it.next()?;
        let args = self
            .it
            .by_ref()
            .take((l.len as usize).saturating_sub(1))
            .collect();
        Some((kw, args))
    }
}

pub(crate) fn build(
    lines: Vec<Line>,
    arena: Vec<Word>,
    rests: Vec<(u32, Box<str>)>,
    sink: &mut Sink,
) -> Vec<Node> {
    let mut words = Words {
        it: arena.into_iter(),
        pos: 0,
    };
    let mut rests = rests.into_iter();
    // Explicit stack instead of recursion: arbitrary nesting depth is safe.
    let mut stack: Vec<(Vec<Node>, Option<Span>)> = vec![(Vec::new(), None)];
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_close() {
            if stack.len() > 1 {
                let (mut body, _) = stack.pop().expect("len > 1");
                body.shrink_to_fit();
                let parent = &mut stack.last_mut().expect("non-empty").0;
                if let Some(last) = parent.last_mut() {
                    last.block = Some(body);
                }
            } else {
                sink.push(
                    Severity::Error,
                    "extra-close-brace",
                    Some(l.span()),
                    None,
                    "extra '}' with no block open; ignored".to_string(),
                    None,
                );
            }
            i += 1;
            continue;
        }
        if l.is_open() && stack.len() > MAX_DEPTH {
            i += 1;
            continue;
        }
        if l.is_open() {
            // A '{' not following a keyword line (or following a node
            // that already has a block): keep the block under a dummy so its
            // contents are skipped, as keepalived does.
            sink.push(
                Severity::Error,
                "unexpected-open-brace",
                Some(l.span()),
                None,
                "unexpected '{' not preceded by a block keyword; its block is ignored".to_string(),
                None,
            );
            let top = &mut stack.last_mut().expect("non-empty").0;
            top.push(Node {
                line_idx: i as u32,
                kw: Word {
                    text: Text::from("{"),
                    col: l.col,
                    quoted: false,
                },
                args: Box::default(),
                rest: None,
                span: l.span(),
                block: None,
            });
            stack.push((Vec::new(), Some(l.span())));
            i += 1;
            continue;
        }
        let span = l.span();
        let opens = lines.get(i + 1).is_some_and(Line::is_open);
        let l = &lines[i];
        let mut rest = None;
        if l.has_rest {
            for (at, r) in rests.by_ref() {
                if at as usize == i {
                    rest = Some(r);
                    break;
                }
            }
        }
        let Some((kw, args)) = words.take(l) else {
            i += 1;
            continue;
        };
        let node = Node {
            line_idx: i as u32,
            kw,
            args,
            rest,
            span,
            block: None,
        };
        stack.last_mut().expect("non-empty").0.push(node);
        if opens && stack.len() > MAX_DEPTH {
            // Too deep: skip the whole block (keeps every later pass,
            // including drop, free of deep recursion).
            let kwt = stack
                .last()
                .expect("non-empty")
                .0
                .last()
                .expect("just pushed")
                .kw
                .text
                .clone();
            sink.push(
                Severity::Error,
                "too-deep",
                Some(span),
                Some(&kwt),
                format!("blocks nest deeper than {MAX_DEPTH}; this block is ignored"),
                None,
            );
            let mut depth = 0usize;
            i += 1;
            while i < lines.len() {
                if lines[i].is_open() {
                    depth += 1;
                } else if lines[i].is_close() {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                i += 1;
            }
            i += 1;
        } else if opens {
            stack.push((Vec::new(), Some(l.span())));
            i += 2;
        } else {
            i += 1;
        }
    }
    while stack.len() > 1 {
        let (body, open) = stack.pop().expect("len > 1");
        let parent = &mut stack.last_mut().expect("non-empty").0;
        let kw = parent.last().map(|n| n.kw.text.to_string());
        sink.push(
            Severity::Error,
            "missing-close-brace",
            open,
            kw.as_deref(),
            "block is not closed: missing '}' at end of file".to_string(),
            None,
        );
        if let Some(last) = parent.last_mut() {
            last.block = Some(body);
        }
    }
    stack.pop().map(|(b, _)| b).unwrap_or_default()
}
