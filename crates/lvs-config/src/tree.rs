//! Lines → a tree of keyword nodes by brace matching.
//!
//! keepalived decides block scope by keyword knowledge (an unknown keyword's
//! `{` is ignored, so its `}` closes the *enclosing* block); lvsd scopes by
//! braces, which is what the operator meant, and `crate::cascade` reports
//! where keepalived would read the file differently (lint d).

use bumpalo::Bump;

use crate::diag::Severity;
use crate::lexer::{Line, Word};
use crate::model::Span;
use crate::text::Text;
use crate::Sink;

/// Deepest block nesting kept (keepalived's deepest is 4: virtual_server >
/// real_server > HTTP_GET > url).
const MAX_DEPTH: usize = 64;

/// A keyword line with its arguments and optional `{ … }` body.
///
/// Nothing in a node is owned: the words are the reader's (slices of the
/// file text), and bodies live in the load's arena, so building the tree
/// allocates one slice per block and dropping it costs nothing. A node is
/// 56 bytes (a config of 10,000 virtual servers has 290,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node<'a> {
    /// Index of the keyword's line in the reader's line list.
    pub(crate) line_idx: u32,
    pub(crate) span: Span,
    /// The keyword and its arguments (never empty).
    pub(crate) words: &'a [Word<'a>],
    /// For script keywords, the text after the keyword as written (see
    /// `Reader::rests`); in the arena, so that a node needs 8 bytes for it.
    pub(crate) rest: Option<&'a &'a str>,
    pub(crate) block: Option<&'a [Node<'a>]>,
}

/// The keyword of a node without words (there is none: `build` never makes one).
const NO_WORD: Word<'static> = Word {
    text: Text::borrowed(""),
    col: 0,
    quoted: false,
};

impl<'a> Node<'a> {
    /// The keyword.
    pub(crate) fn kw(&self) -> &'a Word<'a> {
        self.words.first().unwrap_or(&NO_WORD)
    }

    /// The arguments (the words after the keyword).
    pub(crate) fn args(&self) -> &'a [Word<'a>] {
        self.words.get(1..).unwrap_or_default()
    }

    pub(crate) fn arg(&self, i: usize) -> Option<&'a str> {
        self.args().get(i).map(|w| w.text.as_str())
    }

    pub(crate) fn arg_span(&self, i: usize) -> Span {
        match self.args().get(i) {
            Some(w) => Span {
                col: w.col,
                ..self.span
            },
            None => self.span,
        }
    }

    pub(crate) fn name(&self) -> &'a str {
        self.kw().text.as_str()
    }
}

/// Build the tree. Never fails: stray braces are diagnostics.
///
/// `words` is the reader's word list (each line's words are
/// `words[start..start + len]`), `rests` its script rests in line order;
/// bodies are allocated in `bump` as their blocks close.
pub(crate) fn build<'a>(
    lines: &[Line],
    words: &'a [Word<'a>],
    rests: &'a [(u32, &'a str)],
    bump: &'a Bump,
    sink: &mut Sink,
) -> Vec<Node<'a>> {
    let mut rests = rests.iter();
    // Explicit stack instead of recursion: arbitrary nesting depth is safe.
    // The children of each open block collect in a vector of the stack
    // (vectors are reused: no allocation per block), then are copied to
    // the arena when the block closes.
    let mut stack: Vec<(Vec<Node<'a>>, Option<Span>)> = vec![(Vec::new(), None)];
    let mut spare: Vec<Vec<Node<'a>>> = Vec::new();
    let close = |stack: &mut Vec<(Vec<Node<'a>>, Option<Span>)>,
                 spare: &mut Vec<Vec<Node<'a>>>|
     -> Option<Span> {
        let (mut body, open) = stack.pop().expect("len > 1");
        let parent = &mut stack.last_mut().expect("non-empty").0;
        if let Some(last) = parent.last_mut() {
            last.block = Some(bump.alloc_slice_copy(&body));
        }
        body.clear();
        spare.push(body);
        open
    };
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_close() {
            if stack.len() > 1 {
                close(&mut stack, &mut spare);
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
            let kw: &'a [Word<'a>] = bump.alloc([Word {
                text: Text::from("{"),
                col: l.col,
                quoted: false,
            }]);
            let top = &mut stack.last_mut().expect("non-empty").0;
            top.push(Node {
                line_idx: i as u32,
                span: l.span(),
                words: kw,
                rest: None,
                block: None,
            });
            stack.push((spare.pop().unwrap_or_default(), Some(l.span())));
            i += 1;
            continue;
        }
        let span = l.span();
        let opens = lines.get(i + 1).is_some_and(Line::is_open);
        let mut rest = None;
        if l.has_rest {
            for (at, r) in rests.by_ref() {
                if *at as usize == i {
                    rest = Some(r);
                    break;
                }
            }
        }
        let words = l.words(words);
        let Some(kw) = words.first() else {
            i += 1;
            continue;
        };
        let node = Node {
            line_idx: i as u32,
            span,
            words,
            rest,
            block: None,
        };
        stack.last_mut().expect("non-empty").0.push(node);
        if opens && stack.len() > MAX_DEPTH {
            // Too deep: skip the whole block (keeps every later pass free
            // of deep recursion).
            sink.push(
                Severity::Error,
                "too-deep",
                Some(span),
                Some(kw.text.as_str()),
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
            stack.push((spare.pop().unwrap_or_default(), Some(l.span())));
            i += 2;
        } else {
            i += 1;
        }
    }
    while stack.len() > 1 {
        let kw = {
            let parent = &stack[stack.len() - 2].0;
            parent.last().map(|n| n.name())
        };
        let open = stack.last().expect("len > 1").1;
        sink.push(
            Severity::Error,
            "missing-close-brace",
            open,
            kw,
            "block is not closed: missing '}' at end of file".to_string(),
            None,
        );
        close(&mut stack, &mut spare);
    }
    stack.pop().map(|(b, _)| b).unwrap_or_default()
}
