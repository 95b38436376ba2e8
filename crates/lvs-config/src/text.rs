//! The text of one word, interned per load.
//!
//! A config of 10,000 virtual servers has over half a million words but only
//! a few tens of thousands of distinct ones (keywords, braces, small numbers
//! repeat endlessly). A `String` per word meant as many allocations, which
//! dominated the time and the peak memory of a load. The reader interns
//! every word: one shared allocation per distinct text, and a `Text` is a
//! 16-byte reference to it whose `&str` costs nothing to get.

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Deref;
use std::rc::Rc;

/// An immutable word text (shared with every equal word of the same load).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Text(Rc<str>);

impl Text {
    /// The text.
    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The distinct word texts of one load.
#[derive(Default)]
pub(crate) struct Interner {
    set: HashSet<Rc<str>, BuildHasherDefault<WordHasher>>,
}

impl Interner {
    /// The shared text equal to `s`.
    #[inline]
    pub(crate) fn intern(&mut self, s: &str) -> Text {
        if let Some(r) = self.set.get(s) {
            return Text(Rc::clone(r));
        }
        let r: Rc<str> = Rc::from(s);
        self.set.insert(Rc::clone(&r));
        Text(r)
    }
}

/// A multiply-rotate hash for short words (the words are the operator's
/// own config, so hash flooding is not a concern).
#[derive(Default, Clone, Copy)]
pub(crate) struct WordHasher(u64);

impl WordHasher {
    #[inline]
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for WordHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Rc::from(s))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.as_str().to_string()
    }
}

impl Deref for Text {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_words_share_one_allocation_and_round_trip() {
        let mut i = Interner::default();
        for s in [
            "",
            "{",
            "persistence_timeout",
            "ünïcödé wörds, long or short",
        ] {
            let a = i.intern(s);
            let b = i.intern(&s.chars().collect::<String>());
            assert!(Rc::ptr_eq(&a.0, &b.0));
            assert_eq!(a.as_str(), s);
            assert_eq!(a, s);
            assert_eq!(a, Text::from(s));
            assert_eq!(String::from(a.clone()), s);
            assert_eq!(format!("{a}"), s);
            assert_eq!(format!("{a:?}"), format!("{s:?}"));
        }
        assert_eq!(i.set.len(), 4);
        assert_eq!(std::mem::size_of::<Text>(), 16);
    }
}
