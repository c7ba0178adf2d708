//! Log line decoding by `logencoding`: [`Encoding`] (looked up by Python codec names and
//! aliases) and [`Encoding::decode`], which turns the raw bytes of one line into text the
//! way fail2ban does (strict first; on invalid input, Python's `replace` error handler).
//! Shared by the server's log readers and by `fail2ban-regex`.

use std::borrow::Cow;

/// The byte encodings gaol decodes log files with. All are ASCII-compatible, so a `\n`
/// byte always ends a line (which is what lets the reader split on bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Latin1,
    Ascii,
    Cp1252,
    Latin9,
}

impl Encoding {
    /// Looks a `logencoding` value up like Python's `codecs.lookup` (case, `-`/`_`/space
    /// insensitive, common aliases); `auto` means the locale's encoding. The error text is
    /// Python's (`unknown encoding: NAME`).
    pub fn lookup(name: &str) -> Result<Encoding, String> {
        if name.eq_ignore_ascii_case("auto") {
            return Ok(locale_encoding());
        }
        let norm = normalize(name);
        let enc = match norm.as_str() {
            "utf_8" | "utf8" | "u8" | "utf" | "cp65001" | "utf8_ucs2" | "utf8_ucs4" => {
                Encoding::Utf8
            }
            "latin_1" | "latin1" | "latin" | "l1" | "8859" | "cp819" | "csisolatin1" | "ibm819"
            | "iso8859" | "iso8859_1" | "iso_8859_1" | "iso_8859_1_1987" | "iso_ir_100" => {
                Encoding::Latin1
            }
            "ascii" | "646" | "ansi_x3.4_1968" | "ansi_x3.4_1986" | "ansi_x3_4_1968" | "cp367"
            | "csascii" | "ibm367" | "iso646_us" | "iso_646.irv_1991" | "iso_ir_6" | "us"
            | "us_ascii" => Encoding::Ascii,
            "cp1252" | "1252" | "windows_1252" => Encoding::Cp1252,
            "iso8859_15" | "iso_8859_15" | "l9" | "latin9" => Encoding::Latin9,
            _ => return Err(format!("unknown encoding: {name}")),
        };
        Ok(enc)
    }

    /// Python's canonical codec name (`codecs.lookup(x).name`).
    pub fn python_name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Latin1 => "iso8859-1",
            Encoding::Ascii => "ascii",
            Encoding::Cp1252 => "cp1252",
            Encoding::Latin9 => "iso8859-15",
        }
    }

    /// Decodes one line's bytes. The flag is true when the input was invalid in this
    /// encoding and replacement characters (U+FFFD) were substituted, as Python's
    /// `bytes.decode(enc, 'replace')` does (for UTF-8: one per maximal invalid subpart).
    pub fn decode(self, bytes: &[u8]) -> (Cow<'_, str>, bool) {
        if bytes.is_ascii() {
            // ASCII is valid and identical in every supported encoding.
            return match std::str::from_utf8(bytes) {
                Ok(s) => (Cow::Borrowed(s), false),
                Err(_) => (String::from_utf8_lossy(bytes), true),
            };
        }
        match self {
            Encoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(s) => (Cow::Borrowed(s), false),
                Err(_) => (String::from_utf8_lossy(bytes), true),
            },
            Encoding::Latin1 => (
                Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
                false,
            ),
            Encoding::Ascii => (
                Cow::Owned(
                    bytes
                        .iter()
                        .map(|&b| if b < 0x80 { b as char } else { '\u{FFFD}' })
                        .collect(),
                ),
                true,
            ),
            Encoding::Cp1252 => {
                let mut bad = false;
                let s = bytes
                    .iter()
                    .map(|&b| {
                        cp1252_char(b).unwrap_or_else(|| {
                            bad = true;
                            '\u{FFFD}'
                        })
                    })
                    .collect();
                (Cow::Owned(s), bad)
            }
            Encoding::Latin9 => (
                Cow::Owned(bytes.iter().map(|&b| latin9_char(b)).collect()),
                false,
            ),
        }
    }
}

/// Python's `encodings.normalize_encoding` followed by lower-casing: runs of characters
/// other than alphanumerics and `.` become one `_`, leading/trailing ones are dropped.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_sep = false;
    for c in name.chars() {
        if c.is_alphanumeric() || c == '.' {
            if pending_sep && !out.is_empty() {
                out.push('_');
            }
            pending_sep = false;
            out.extend(c.to_lowercase());
        } else {
            pending_sep = true;
        }
    }
    out
}

/// `auto`: the codeset of the locale (`LC_ALL`, `LC_CTYPE`, `LANG`), UTF-8 when unset,
/// `C`/`POSIX` (Python runs in UTF-8 mode there) or unknown.
fn locale_encoding() -> Encoding {
    let loc = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    loc.split_once('.')
        .map(|(_, cs)| cs.split('@').next().unwrap_or(cs))
        .and_then(|cs| Encoding::lookup(cs).ok())
        .unwrap_or(Encoding::Utf8)
}

/// Windows-1252: 0x80–0x9F differ from Latin-1; five bytes are undefined (an error
/// for Python's strict decoder).
fn cp1252_char(b: u8) -> Option<char> {
    const HIGH: [u16; 32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
        0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
        0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ];
    if (0x80..0xA0).contains(&b) {
        match HIGH[usize::from(b - 0x80)] {
            0 => None,
            u => char::from_u32(u32::from(u)),
        }
    } else {
        Some(b as char)
    }
}

/// ISO-8859-15: Latin-1 with eight code points replaced (euro sign and friends).
fn latin9_char(b: u8) -> char {
    match b {
        0xA4 => '\u{20AC}',
        0xA6 => '\u{0160}',
        0xA8 => '\u{0161}',
        0xB4 => '\u{017D}',
        0xB8 => '\u{017E}',
        0xBC => '\u{0152}',
        0xBD => '\u{0153}',
        0xBE => '\u{0178}',
        _ => b as char,
    }
}

/// Python's `repr()` of a `bytes` value (`b'...'`), used in decode warnings.
pub fn py_bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(bytes.len() + 3);
    out.push('b');
    out.push(quote);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if b as char == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote);
    out
}

/// Splits a whole file's bytes into decoded lines, for tools that read a log at once
/// (`fail2ban-regex`). Only complete lines count: a last line without `\n` is dropped,
/// as fail2ban's file reader waits for the line end. Trailing `\r` are removed.
pub fn split_lines(bytes: &[u8], enc: Encoding) -> Vec<String> {
    let complete = match memchr::memrchr(b'\n', bytes) {
        Some(p) => &bytes[..p],
        None => return Vec::new(),
    };
    complete
        .split(|b| *b == b'\n')
        .map(|l| enc.decode(trim_cr(l)).0.into_owned())
        .collect()
}

/// The line without trailing `\r` (fail2ban strips any mix of `\r`/`\n` at the end).
pub fn trim_cr(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_names_like_python() {
        assert_eq!(Encoding::lookup("UTF-8"), Ok(Encoding::Utf8));
        assert_eq!(Encoding::lookup("utf8"), Ok(Encoding::Utf8));
        assert_eq!(Encoding::lookup("Latin-1"), Ok(Encoding::Latin1));
        assert_eq!(Encoding::lookup("ISO-8859-1"), Ok(Encoding::Latin1));
        assert_eq!(Encoding::lookup("iso_8859-15"), Ok(Encoding::Latin9));
        assert_eq!(Encoding::lookup("windows-1252"), Ok(Encoding::Cp1252));
        assert_eq!(Encoding::lookup("US-ASCII"), Ok(Encoding::Ascii));
        assert_eq!(
            Encoding::lookup("klingon"),
            Err("unknown encoding: klingon".to_string())
        );
    }

    #[test]
    fn bytes_repr() {
        assert_eq!(py_bytes_repr(b"a\xffb'\n"), "b\"a\\xffb'\\n\"");
        assert_eq!(py_bytes_repr(b"x\\y\t"), "b'x\\\\y\\t'");
    }
}
