//! Value syntaxes of keepalived.conf: numbers with ranges, booleans, timers,
//! addresses, and the command-line quoting of script keywords.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// keepalived's `<BOOL>`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Some(true),
        "off" | "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// An integer in `[min, max]`.
pub(crate) fn parse_int(s: &str, min: i64, max: i64) -> Result<i64, String> {
    let v: i64 = s
        .parse()
        .map_err(|_| format!("'{}' is not an integer", s.escape_debug()))?;
    if v < min || v > max {
        return Err(format!("number {v} outside range [{min}, {max}]"));
    }
    Ok(v)
}

/// A `<TIMER>`: decimal seconds, microsecond resolution, in `[min, max]` seconds.
pub(crate) fn parse_timer(s: &str, min: f64, max: f64) -> Result<Duration, String> {
    let bad = || format!("'{}' is not a number of seconds", s.escape_debug());
    if s.is_empty()
        || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || s.matches('.').count() > 1
    {
        return Err(bad());
    }
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.len() > 12 {
        return Err(format!("number {s} outside range [{min}, {max}]"));
    }
    let secs: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut micros: u64 = 0;
    for (i, c) in frac.bytes().take(6).enumerate() {
        micros += u64::from(c - b'0') * 10u64.pow(5 - i as u32);
    }
    let d = Duration::from_secs(secs) + Duration::from_micros(micros);
    let f = d.as_secs_f64();
    if f < min || f > max {
        return Err(format!("number {s} outside range [{min}, {max}]"));
    }
    Ok(d)
}

/// An IP address; IPv6 may carry a `%zone` suffix, which is dropped.
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.split('%').next().unwrap_or(s);
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// `ADDR[/PREFIX]` with the prefix checked against the family.
pub(crate) fn parse_cidr(s: &str) -> Result<(IpAddr, Option<u8>), String> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let ip = parse_ip(a).ok_or_else(|| format!("'{}' is not an IP address", s.escape_debug()))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        None => None,
        Some(p) => {
            let v: u8 = p
                .parse()
                .ok()
                .filter(|v| *v <= max)
                .ok_or_else(|| format!("invalid prefix '/{}' for {ip}", p.escape_debug()))?;
            Some(v)
        }
    };
    Ok((ip, prefix))
}

/// An IPv4 netmask (dotted) — must be contiguous.
pub(crate) fn parse_netmask(s: &str) -> Option<Ipv4Addr> {
    let m: Ipv4Addr = s.parse().ok()?;
    let v = u32::from(m);
    if v.leading_ones() + v.trailing_zeros() == 32 {
        Some(m)
    } else {
        None
    }
}

/// A port number.
pub(crate) fn parse_port(s: &str) -> Option<u16> {
    s.parse().ok()
}

/// One word of a script command: (text, whether any part was quoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScriptWord {
    pub(crate) text: String,
    pub(crate) quoted: bool,
}

/// Split a script keyword's arguments with keepalived's script quoting:
/// `"…"` and `'…'` quote, adjacent pieces concatenate, and the escapes
/// `\a \b \E \f \n \r \t \v \nnn \xXX \cC \\ \"` work (not inside `'…'`).
/// Returns the words and whether a quote was left open.
pub(crate) fn split_script(s: &str) -> (Vec<ScriptWord>, bool) {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut in_word = false;
    let mut q: Option<char> = None;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if let Some(qc) = q {
            if c == qc {
                q = None;
            } else if c == '\\' && qc == '"' {
                i = escape(&chars, i, &mut cur);
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            ' ' | '\t' | '\u{a0}' => {
                if in_word {
                    out.push(ScriptWord {
                        text: std::mem::take(&mut cur),
                        quoted,
                    });
                    in_word = false;
                    quoted = false;
                }
            }
            '"' | '\'' => {
                in_word = true;
                quoted = true;
                q = Some(c);
            }
            '\\' => {
                in_word = true;
                i = escape(&chars, i, &mut cur);
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(ScriptWord { text: cur, quoted });
    }
    (out, q.is_some())
}

/// Decode one escape after a backslash at `chars[i-1]`; returns the new index.
fn escape(chars: &[char], i: usize, out: &mut String) -> usize {
    let Some(&c) = chars.get(i) else {
        out.push('\\');
        return i;
    };
    let simple = match c {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'E' => Some('\x1b'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        '"' => Some('"'),
        '\'' => Some('\''),
        ' ' => Some(' '),
        _ => None,
    };
    if let Some(s) = simple {
        out.push(s);
        return i + 1;
    }
    match c {
        '0'..='7' => {
            let mut v = 0u32;
            let mut j = i;
            while j < chars.len() && j < i + 3 && chars[j].is_digit(8) {
                v = v * 8 + chars[j].to_digit(8).unwrap_or(0);
                j += 1;
            }
            out.push(char::from_u32(v & 0xff).unwrap_or('?'));
            j
        }
        'x' => {
            let mut v = 0u32;
            let mut j = i + 1;
            while j < chars.len() && j < i + 3 && chars[j].is_ascii_hexdigit() {
                v = v * 16 + chars[j].to_digit(16).unwrap_or(0);
                j += 1;
            }
            if j == i + 1 {
                out.push('x');
                return j;
            }
            out.push(char::from_u32(v).unwrap_or('?'));
            j
        }
        'c' => match chars.get(i + 1) {
            Some(&k) => {
                out.push(char::from_u32(u32::from(k.to_ascii_uppercase()) ^ 0x40).unwrap_or('?'));
                i + 2
            }
            None => {
                out.push('c');
                i + 1
            }
        },
        other => {
            out.push('\\');
            out.push(other);
            i + 1
        }
    }
}

/// Decode a hex string (`payload`); spaces are not allowed.
pub(crate) fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers() {
        assert_eq!(
            parse_timer("2.5", 0.0, 10.0),
            Ok(Duration::from_millis(2500))
        );
        assert_eq!(parse_timer("1", 0.0, 10.0), Ok(Duration::from_secs(1)));
        assert!(parse_timer("0", 0.000001, 10.0).is_err());
        assert!(parse_timer("x", 0.0, 10.0).is_err());
        assert!(parse_timer("99999999999999999", 0.0, 10.0).is_err());
    }

    #[test]
    fn script_quoting() {
        let (w, open) = split_script(r#""/bin/a b" root"#);
        assert!(!open);
        assert_eq!(w[0].text, "/bin/a b");
        assert!(w[0].quoted);
        assert_eq!(w[1].text, "root");
        let (w, _) = split_script(r#""a\tb"'c\t'"#);
        assert_eq!(w[0].text, "a\tbc\\t");
        let (w, _) = split_script(r#""\x41\101\cA""#);
        assert_eq!(w[0].text, "AA\u{1}");
        let (_, open) = split_script("\"abc");
        assert!(open);
    }

    #[test]
    fn cidr_and_masks() {
        assert_eq!(
            parse_cidr("10.0.0.1/24"),
            Ok(("10.0.0.1".parse().unwrap(), Some(24)))
        );
        assert!(parse_cidr("10.0.0.1/33").is_err());
        assert!(parse_netmask("255.255.255.0").is_some());
        assert!(parse_netmask("255.0.255.0").is_none());
    }
}
