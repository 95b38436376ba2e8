//! Lines → a tree of keyword nodes by brace matching.
//!
//! keepalived decides block scope by keyword knowledge (an unknown keyword's
//! `{` is ignored, so its `}` closes the *enclosing* block); lvsd scopes by
//! braces, which is what the operator meant, and `crate::cascade` reports
//! where keepalived would read the file differently (lint d).

use crate::diag::Severity;
use crate::lexer::{Line, Word};
use crate::model::Span;
use crate::Sink;

/// A keyword line with its arguments and optional `{ … }` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// Index of the keyword's line in the reader's line list.
    pub(crate) line_idx: usize,
    pub(crate) kw: Word,
    pub(crate) args: Vec<Word>,
    pub(crate) rest: Option<String>,
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
pub(crate) fn build(lines: &[Line], sink: &mut Sink) -> Vec<Node> {
    // Explicit stack instead of recursion: arbitrary nesting depth is safe.
    let mut stack: Vec<(Vec<Node>, Option<Span>)> = vec![(Vec::new(), None)];
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_close() {
            if stack.len() > 1 {
                let (body, _) = stack.pop().expect("len > 1");
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
                line_idx: i,
                kw: l.words[0].clone(),
                args: Vec::new(),
                rest: None,
                span: l.span(),
                block: None,
            });
            stack.push((Vec::new(), Some(l.span())));
            i += 1;
            continue;
        }
        let node = Node {
            line_idx: i,
            kw: l.words[0].clone(),
            args: l.words[1..].to_vec(),
            rest: l.rest.clone(),
            span: l.span(),
            block: None,
        };
        let opens = lines.get(i + 1).is_some_and(Line::is_open);
        stack.last_mut().expect("non-empty").0.push(node);
        if opens {
            stack.push((Vec::new(), Some(l.span())));
            i += 2;
        } else {
            i += 1;
        }
    }
    while stack.len() > 1 {
        let (body, open) = stack.pop().expect("len > 1");
        let parent = &mut stack.last_mut().expect("non-empty").0;
        let kw = parent.last().map(|n| n.kw.text.clone());
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
