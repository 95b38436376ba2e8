//! The text of one word: stored inline when short (keywords, numbers,
//! addresses — nearly every word of a keepalived.conf), on the heap otherwise.
//!
//! A config of 10,000 virtual servers has over half a million words; a
//! `String` each meant as many allocations, which dominated the time and the
//! peak memory of a load. `Text` is 24 bytes like `String` and allocates only
//! for words longer than [`INLINE`] bytes.

use std::fmt;
use std::ops::Deref;

/// Longest text kept inline.
pub(crate) const INLINE: usize = 22;

/// An immutable word text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Text(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// `len` ≤ [`INLINE`] bytes of UTF-8 at the start of `buf`.
    Inline {
        len: u8,
        buf: [u8; INLINE],
    },
    Heap(Box<str>),
}

impl Text {
    /// The text.
    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, buf } => {
                // Always valid: built from a `&str` of exactly these bytes.
                std::str::from_utf8(&buf[..*len as usize]).unwrap_or_default()
            }
            Repr::Heap(s) => s,
        }
    }
}

impl From<&str> for Text {
    #[inline]
    fn from(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Text(Repr::Inline {
                len: s.len() as u8,
                buf,
            })
        } else {
            Text(Repr::Heap(s.into()))
        }
    }
}

impl From<char> for Text {
    fn from(c: char) -> Self {
        Text::from(c.encode_utf8(&mut [0u8; 4]) as &str)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        if s.len() <= INLINE {
            Text::from(s.as_str())
        } else {
            Text(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        match t.0 {
            Repr::Heap(s) => s.into_string(),
            Repr::Inline { .. } => t.as_str().to_string(),
        }
    }
}

impl Deref for Text {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
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
    fn same_size_as_string_and_round_trips() {
        assert_eq!(std::mem::size_of::<Text>(), std::mem::size_of::<String>());
        for s in [
            "",
            "{",
            "persistence_timeout",
            "exactly_twenty_two_b_x",
            "twenty-three bytes long",
            "ünïcödé wörds stay whole, long or short",
            "fe80::1234:5678:9abc:def0",
        ] {
            let t = Text::from(s);
            assert_eq!(t.as_str(), s);
            assert_eq!(t, s);
            assert_eq!(Text::from(s.to_string()), t);
            assert_eq!(String::from(t.clone()), s);
            assert_eq!(format!("{t}"), s);
            assert_eq!(format!("{t:?}"), format!("{s:?}"));
        }
        assert_eq!(Text::from('é'), "é");
    }
}
