//! The text of one word: a slice of the configuration text, or of the
//! load's arena.
//!
//! A config of 10,000 virtual servers has over half a million words. A
//! `String` per word meant as many allocations (and as many frees), which
//! dominated the time and the peak memory of a load. A word is a 16-byte
//! `&str` instead: into the file text itself when the word is the bytes as
//! written (the common case: nothing is copied), else into the load's
//! arena ([`Interner`]: one copy per distinct text of the words that the
//! reader had to rewrite — quotes, escapes, substitutions). The arena, the
//! file texts and the keyword tree are all freed at once at the end of a
//! load; the typed model owns its own strings.

use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;

use bumpalo::Bump;

/// An immutable word text, borrowed from the file text or the load's arena.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Text<'a>(&'a str);

impl<'a> Text<'a> {
    /// A word that is a slice of text living as long as the load.
    #[inline]
    pub(crate) const fn borrowed(s: &'a str) -> Self {
        Text(s)
    }

    /// The text.
    #[inline]
    pub(crate) fn as_str(&self) -> &'a str {
        self.0
    }
}

/// Copies of rewritten word texts in the load's arena, one per distinct text.
pub(crate) struct Interner<'a> {
    bump: &'a Bump,
    /// Only the words the reader rewrote (rare): the standard hasher is fine.
    set: HashSet<&'a str>,
}

impl<'a> Interner<'a> {
    pub(crate) fn new(bump: &'a Bump) -> Self {
        Self {
            bump,
            set: HashSet::new(),
        }
    }

    /// The arena's text equal to `s`.
    #[inline]
    pub(crate) fn intern(&mut self, s: &str) -> Text<'a> {
        if let Some(r) = self.set.get(s) {
            return Text(r);
        }
        let r: &'a str = self.bump.alloc_str(s);
        self.set.insert(r);
        Text(r)
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text(s)
    }
}

impl From<Text<'_>> for String {
    fn from(t: Text<'_>) -> Self {
        t.as_str().to_string()
    }
}

impl Deref for Text<'_> {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_words_share_one_allocation_and_round_trip() {
        let bump = Bump::new();
        let mut i = Interner::new(&bump);
        for s in [
            "",
            "{",
            "persistence_timeout",
            "ünïcödé wörds, long or short",
        ] {
            let a = i.intern(s);
            let b = i.intern(&s.chars().collect::<String>());
            assert!(std::ptr::eq(a.0, b.0));
            assert_eq!(a.as_str(), s);
            assert_eq!(a, s);
            assert_eq!(a, Text::from(s));
            assert_eq!(String::from(a), s);
            assert_eq!(format!("{a}"), s);
            assert_eq!(format!("{a:?}"), format!("{s:?}"));
        }
        assert_eq!(i.set.len(), 4);
        assert_eq!(std::mem::size_of::<Text<'_>>(), 16);
    }
}
