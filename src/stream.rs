//! The command stream: the seam between the config side and the server side.
//!
//! The config reader turns `/etc/fail2ban` into a `Vec<Command>`; `fail2ban-client -d`
//! prints it (one Python-`repr` list per line, exactly as fail2ban does); the server
//! executes it; the control socket decodes the same lists from pickles. [`Value`] is the
//! Python-shaped data carried by a command (and by socket replies), [`Command`] gives the
//! config-produced commands their types.

use std::fmt::{self, Write as _};

/// A Python value as it travels in fail2ban's command lists and socket replies.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Dict(Vec<(Value, Value)>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Python's `str()` of the value: strings bare, everything else as `repr`.
    pub fn to_py_str(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// `Display` is Python's `repr()`, which is what `fail2ban-client -d` prints.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write_repr(&mut out);
        f.write_str(&out)
    }
}

impl Value {
    /// Appends Python's `repr()` of the value to `out` (one buffer, no per-item
    /// allocation: a full `-d` dump is mostly this).
    pub fn write_repr(&self, out: &mut String) {
        match self {
            Value::None => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(x) => out.push_str(&py_float_repr(*x)),
            Value::Str(s) => write_py_str_repr(s, out),
            Value::List(items) => {
                out.push('[');
                write_seq(out, items);
                out.push(']');
            }
            Value::Tuple(items) => {
                out.push('(');
                write_seq(out, items);
                if items.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            Value::Dict(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.write_repr(out);
                    out.push_str(": ");
                    v.write_repr(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_seq(out: &mut String, items: &[Value]) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        v.write_repr(out);
    }
}

/// Python's float repr: shortest round-trip digits, always with a `.0` or exponent.
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    let abs = x.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Python: 1e+16, 1.5e-05 (exponent at least two digits, explicit sign)
        let s = format!("{x:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let s = format!("{x}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// Python 3's `repr()` of a `str`.
pub fn py_str_repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_py_str_repr(s, &mut out);
    out
}

/// Printable ASCII that `repr` copies as is (everything but `\\`; quotes are checked
/// separately since the quote char depends on the string).
const PLAIN_ASCII: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0x20;
    while c < 0x7f {
        t[c] = c != b'\\' as usize;
        c += 1;
    }
    t
};

/// Bit `i` is set when byte `i` of `chunk` is not copied as is by `repr` quoted with
/// `quote`: a control byte, DEL, a non-ASCII byte, `\\` or the quote.
#[cfg(target_arch = "x86_64")]
#[inline]
fn special_mask16(chunk: &[u8; 16], quote: u8) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline; the unaligned load reads exactly the
    // 16 bytes of `chunk`.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        // a signed compare: non-ASCII bytes are negative, so `< 0x20` catches them too
        let ctl = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
        let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
        let bsl = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        let q = _mm_cmpeq_epi8(v, _mm_set1_epi8(quote as i8));
        let any = _mm_or_si128(_mm_or_si128(ctl, del), _mm_or_si128(bsl, q));
        _mm_movemask_epi8(any) as u32
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn special_mask16(chunk: &[u8; 16], quote: u8) -> u32 {
    special_mask16_portable(chunk, quote)
}

/// [`special_mask16`] a byte at a time (other targets; the tests compare the two).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn special_mask16_portable(chunk: &[u8; 16], quote: u8) -> u32 {
    let mut m = 0;
    for (i, &x) in chunk.iter().enumerate() {
        if !PLAIN_ASCII[usize::from(x)] || x == quote {
            m |= 1 << i;
        }
    }
    m
}

/// The index of the first byte at or after `i` that [`special_mask16`] flags (or
/// `b.len()`): 16 bytes at a time, the last partial block read overlapping the one
/// before, strings shorter than 16 bytes a byte at a time.
fn next_special(b: &[u8], mut i: usize, quote: u8) -> usize {
    while let Some(chunk) = b.get(i..).and_then(|r| r.first_chunk::<16>()) {
        let m = special_mask16(chunk, quote);
        if m != 0 {
            return i + m.trailing_zeros() as usize;
        }
        i += 16;
    }
    if i >= b.len() {
        return b.len();
    }
    if let Some(last) = b.last_chunk::<16>() {
        // the last 16 bytes; the ones before `i` are already known plain
        let m = special_mask16(last, quote) >> (i - (b.len() - 16));
        return if m != 0 {
            i + m.trailing_zeros() as usize
        } else {
            b.len()
        };
    }
    // shorter than 16 bytes: test the bytes of `b[i..]` at once from two overlapping
    // loads (plain filler elsewhere) and go a byte at a time only when one is special
    let r = b.get(i..).unwrap_or_default();
    let mut w = [b'a'; 16];
    if let (Some(lo), Some(hi)) = (r.first_chunk::<8>(), r.last_chunk::<8>()) {
        w[..8].copy_from_slice(lo);
        w[8..].copy_from_slice(hi);
    } else if let (Some(lo), Some(hi)) = (r.first_chunk::<4>(), r.last_chunk::<4>()) {
        w[..4].copy_from_slice(lo);
        w[4..8].copy_from_slice(hi);
    }
    if r.len() >= 4 && special_mask16(&w, quote) == 0 {
        return b.len();
    }
    while i < b.len() && PLAIN_ASCII[usize::from(b[i])] && b[i] != quote {
        i += 1;
    }
    i
}

/// Appends Python 3's `repr()` of a `str` to `out`; runs of characters that need no
/// escaping are copied in one piece.
pub fn write_py_str_repr(s: &str, out: &mut String) {
    let mark = out.len();
    out.reserve(s.len() + 2);
    // Single quotes unless the string holds `'` and no `"`: try them first and look for
    // `"` only when a `'` turns up (rare), starting again with the right quote.
    out.push('\'');
    if write_repr_body(s, b'\'', true, out) {
        out.push('\'');
        return;
    }
    out.truncate(mark);
    let quote = if memchr::memchr(b'"', s.as_bytes()).is_none() {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    write_repr_body(s, quote as u8, false, out);
    out.push(quote);
}

/// The inside of [`write_py_str_repr`] quoted with `qb`; with `bail_on_quote`, stops
/// and returns false at the first `qb` (the quote must be chosen again).
fn write_repr_body(s: &str, qb: u8, bail_on_quote: bool, out: &mut String) -> bool {
    let b = s.as_bytes();
    let mut plain_from = 0;
    let mut i = 0;
    loop {
        i = next_special(b, i, qb);
        let Some(&x) = b.get(i) else {
            break;
        };
        let (c, len) = if x.is_ascii() {
            if x == qb && bail_on_quote {
                return false;
            }
            (char::from(x), 1)
        } else {
            // `i` is on a char boundary: every byte before it was ASCII or a whole char
            let Some(c) = s.get(i..).and_then(|r| r.chars().next()) else {
                break;
            };
            if py_is_printable(c) {
                i += c.len_utf8();
                continue;
            }
            (c, c.len_utf8())
        };
        out.push_str(&s[plain_from..i]);
        i += len;
        plain_from = i;
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == char::from(qb) => {
                out.push('\\');
                out.push(c);
            }
            c => {
                let cp = c as u32;
                let _ = if cp < 0x100 {
                    write!(out, "\\x{cp:02x}")
                } else if cp < 0x10000 {
                    write!(out, "\\u{cp:04x}")
                } else {
                    write!(out, "\\U{cp:08x}")
                };
            }
        }
    }
    out.push_str(&s[plain_from..]);
    true
}

/// Appends a string as Python's `json.dumps` writes it (`ensure_ascii` escapes every
/// non-ASCII character as `\uXXXX`, surrogate pairs included). Shared by the config
/// reader (Python action options) and the database (ban data).
pub fn write_py_json_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7e) => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Approximates `str.isprintable()`: control, format, separator (but space),
/// surrogate, private-use and the common unassigned code points are not printable.
fn py_is_printable(c: char) -> bool {
    let cp = c as u32;
    match cp {
        0x20..=0x7e => true,
        0..=0x1f | 0x7f..=0xa0 | 0xad => false,
        0x0600..=0x0605 | 0x061c | 0x06dd | 0x070f | 0x180e => false,
        0x1680 | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f => false,
        0x3000 | 0xfeff | 0xfff9..=0xfffb | 0xfffe | 0xffff => false,
        0xd800..=0xdfff | 0xe000..=0xf8ff | 0xf0000.. => false,
        0x110bd | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f => false,
        _ => true,
    }
}

/// One command of the stream. The config side only builds these; the server only
/// consumes them. Each variant is one of the list shapes `fail2ban-client -d` prints.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `['set', key, value]` — a server-wide setting (loglevel, dbfile, …).
    SetGlobal { key: String, value: Value },
    /// `['add', jail, backend]`.
    AddJail { jail: String, backend: String },
    /// `['set', jail, key, args…]` — one jail option (maxretry, addfailregex, addlogpath …).
    SetJail {
        jail: String,
        key: String,
        args: Vec<Value>,
    },
    /// `['multi-set', jail, key, [values…]]` — several values for a list option.
    MultiSetJail {
        jail: String,
        key: String,
        values: Vec<Value>,
    },
    /// `['set', jail, 'addaction', name]`, or with `[path, json]` for a Python action.
    AddAction {
        jail: String,
        action: String,
        python: Option<(String, String)>,
    },
    /// `['set', jail, 'action', action, key, value]`.
    SetAction {
        jail: String,
        action: String,
        key: String,
        value: Value,
    },
    /// `['multi-set', jail, 'action', action, [[key, value], …]]`.
    MultiSetAction {
        jail: String,
        action: String,
        pairs: Vec<(String, Value)>,
    },
    /// `['config-error', message]` — a jail the reader had to skip.
    ConfigError(String),
    /// `['start', jail]`.
    Start(String),
}

impl Command {
    /// The command as the list fail2ban sends and prints.
    pub fn to_values(&self) -> Vec<Value> {
        let s = |x: &str| Value::Str(x.to_string());
        match self {
            Command::SetGlobal { key, value } => vec![s("set"), s(key), value.clone()],
            Command::AddJail { jail, backend } => vec![s("add"), s(jail), s(backend)],
            Command::SetJail { jail, key, args } => {
                let mut v = vec![s("set"), s(jail), s(key)];
                v.extend(args.iter().cloned());
                v
            }
            Command::MultiSetJail { jail, key, values } => {
                vec![s("multi-set"), s(jail), s(key), Value::List(values.clone())]
            }
            Command::AddAction {
                jail,
                action,
                python,
            } => {
                let mut v = vec![s("set"), s(jail), s("addaction"), s(action)];
                if let Some((path, json)) = python {
                    v.push(s(path));
                    v.push(s(json));
                }
                v
            }
            Command::SetAction {
                jail,
                action,
                key,
                value,
            } => vec![
                s("set"),
                s(jail),
                s("action"),
                s(action),
                s(key),
                value.clone(),
            ],
            Command::MultiSetAction {
                jail,
                action,
                pairs,
            } => {
                let pairs = pairs
                    .iter()
                    .map(|(k, v)| Value::List(vec![s(k), v.clone()]))
                    .collect();
                vec![
                    s("multi-set"),
                    s(jail),
                    s("action"),
                    s(action),
                    Value::List(pairs),
                ]
            }
            Command::ConfigError(msg) => vec![s("config-error"), s(msg)],
            Command::Start(jail) => vec![s("start"), s(jail)],
        }
    }

    /// Recognises a list received from the socket (or read back from a dump) as one of
    /// the config-stream commands. Anything else is `None`: the control side handles
    /// the rest of the command set itself.
    pub fn from_values(v: &[Value]) -> Option<Command> {
        let st = |i: usize| v.get(i).and_then(Value::as_str);
        let owned = |i: usize| st(i).map(str::to_string);
        match (st(0)?, v.len()) {
            ("set", 3) => Some(Command::SetGlobal {
                key: owned(1)?,
                value: v[2].clone(),
            }),
            ("add", 3) => Some(Command::AddJail {
                jail: owned(1)?,
                backend: owned(2)?,
            }),
            ("start", 2) => Some(Command::Start(owned(1)?)),
            ("config-error", 2) => Some(Command::ConfigError(owned(1)?)),
            ("set", n) if n >= 4 => {
                let jail = owned(1)?;
                match st(2)? {
                    "addaction" if n == 4 || n == 6 => Some(Command::AddAction {
                        jail,
                        action: owned(3)?,
                        python: if n == 6 {
                            Some((owned(4)?, owned(5)?))
                        } else {
                            None
                        },
                    }),
                    "action" if n == 6 => Some(Command::SetAction {
                        jail,
                        action: owned(3)?,
                        key: owned(4)?,
                        value: v[5].clone(),
                    }),
                    key => Some(Command::SetJail {
                        jail,
                        key: key.to_string(),
                        args: v[3..].to_vec(),
                    }),
                }
            }
            ("multi-set", 5) if st(2)? == "action" => {
                let Value::List(items) = &v[4] else {
                    return None;
                };
                let mut pairs = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::List(kv) | Value::Tuple(kv) if kv.len() == 2 => {
                            pairs.push((kv[0].as_str()?.to_string(), kv[1].clone()))
                        }
                        _ => return None,
                    }
                }
                Some(Command::MultiSetAction {
                    jail: owned(1)?,
                    action: owned(3)?,
                    pairs,
                })
            }
            ("multi-set", 4) => match &v[3] {
                Value::List(values) => Some(Command::MultiSetJail {
                    jail: owned(1)?,
                    key: owned(2)?,
                    values: values.clone(),
                }),
                _ => None,
            },
            _ => None,
        }
    }
}

impl Command {
    /// Appends the Python repr of the command's list (one `-d` line, no newline).
    pub fn write_repr(&self, out: &mut String) {
        // Written directly (same output as the repr of `to_values()`), without building
        // the list: a `-d` dump is mostly this.
        let s = |out: &mut String, x: &str| {
            out.push_str(", ");
            write_py_str_repr(x, out);
        };
        let vals = |out: &mut String, xs: &[Value]| {
            for v in xs {
                out.push_str(", ");
                v.write_repr(out);
            }
        };
        match self {
            Command::SetGlobal { key, value } => {
                out.push_str("['set'");
                s(out, key);
                vals(out, std::slice::from_ref(value));
            }
            Command::AddJail { jail, backend } => {
                out.push_str("['add'");
                s(out, jail);
                s(out, backend);
            }
            Command::SetJail { jail, key, args } => {
                out.push_str("['set'");
                s(out, jail);
                s(out, key);
                vals(out, args);
            }
            Command::MultiSetJail { jail, key, values } => {
                out.push_str("['multi-set'");
                s(out, jail);
                s(out, key);
                out.push_str(", [");
                write_seq(out, values);
                out.push(']');
            }
            Command::AddAction {
                jail,
                action,
                python,
            } => {
                out.push_str("['set'");
                s(out, jail);
                out.push_str(", 'addaction'");
                s(out, action);
                if let Some((path, json)) = python {
                    s(out, path);
                    s(out, json);
                }
            }
            Command::SetAction {
                jail,
                action,
                key,
                value,
            } => {
                out.push_str("['set'");
                s(out, jail);
                out.push_str(", 'action'");
                s(out, action);
                s(out, key);
                vals(out, std::slice::from_ref(value));
            }
            Command::MultiSetAction {
                jail,
                action,
                pairs,
            } => {
                out.push_str("['multi-set'");
                s(out, jail);
                out.push_str(", 'action'");
                s(out, action);
                out.push_str(", [");
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push('[');
                    write_py_str_repr(k, out);
                    out.push_str(", ");
                    v.write_repr(out);
                    out.push(']');
                }
                out.push(']');
            }
            Command::ConfigError(msg) => {
                out.push_str("['config-error'");
                s(out, msg);
            }
            Command::Start(jail) => {
                out.push_str("['start'");
                s(out, jail);
            }
        }
        out.push(']');
    }
}

/// A command prints as the Python repr of its list: one line of `fail2ban-client -d`.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write_repr(&mut out);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Char-by-char `repr()` (no fast skipping) to check the word-at-a-time scan.
    fn slow_repr(s: &str) -> String {
        let q = if s.contains('\'') && !s.contains('"') {
            '"'
        } else {
            '\''
        };
        let mut o = String::from(q);
        for c in s.chars() {
            match c {
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                '\r' => o.push_str("\\r"),
                '\t' => o.push_str("\\t"),
                c if c == q => {
                    o.push('\\');
                    o.push(c);
                }
                c if py_is_printable(c) => o.push(c),
                c if (c as u32) < 0x100 => o.push_str(&format!("\\x{:02x}", c as u32)),
                c if (c as u32) < 0x10000 => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push_str(&format!("\\U{:08x}", c as u32)),
            }
        }
        o.push(q);
        o
    }

    #[test]
    fn str_repr_matches_char_by_char() {
        let specials = [
            '\\', '\'', '"', '\n', '\x7f', '\x1f', ' ', '~', 'é', '\u{2028}', '\0',
        ];
        for len in 0..40usize {
            for (k, sp) in specials.iter().enumerate() {
                for at in [0, len / 3, len / 2, len.saturating_sub(1)] {
                    let mut s: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
                    if at < len {
                        s.replace_range(at..at + 1, &sp.to_string());
                    }
                    if k % 2 == 0 && len > 10 {
                        s.push('\'');
                    }
                    assert_eq!(py_str_repr(&s), slow_repr(&s), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn special_mask_matches_the_byte_table() {
        for quote in [b'\'', b'"'] {
            for x in 0..=255u8 {
                for at in [0, 7, 15] {
                    let mut c = [b'a'; 16];
                    c[at] = x;
                    assert_eq!(
                        special_mask16(&c, quote),
                        special_mask16_portable(&c, quote),
                        "byte {x:#x} at {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn command_repr_is_the_list_repr() {
        let v = |x: &str| Value::Str(x.into());
        let cmds = [
            Command::SetGlobal {
                key: "k".into(),
                value: Value::Int(3),
            },
            Command::AddJail {
                jail: "j".into(),
                backend: "auto".into(),
            },
            Command::SetJail {
                jail: "j".into(),
                key: "x".into(),
                args: vec![v("a"), Value::None],
            },
            Command::MultiSetJail {
                jail: "j".into(),
                key: "x".into(),
                values: vec![v("a'"), v("b")],
            },
            Command::AddAction {
                jail: "j".into(),
                action: "a".into(),
                python: None,
            },
            Command::AddAction {
                jail: "j".into(),
                action: "a".into(),
                python: Some(("p".into(), "{}".into())),
            },
            Command::SetAction {
                jail: "j".into(),
                action: "a".into(),
                key: "k".into(),
                value: Value::Bool(true),
            },
            Command::MultiSetAction {
                jail: "j".into(),
                action: "a".into(),
                pairs: vec![("k".into(), v("v")), ("n".into(), Value::Int(1))],
            },
            Command::MultiSetAction {
                jail: "j".into(),
                action: "a".into(),
                pairs: vec![],
            },
            Command::ConfigError("m".into()),
            Command::Start("j".into()),
        ];
        for c in cmds {
            let mut got = String::new();
            c.write_repr(&mut got);
            assert_eq!(got, Value::List(c.to_values()).to_string());
        }
    }

    #[test]
    fn str_repr_picks_quotes_like_python() {
        assert_eq!(py_str_repr("abc"), "'abc'");
        assert_eq!(py_str_repr("it's"), "\"it's\"");
        assert_eq!(py_str_repr("'both\""), "'\\'both\"'");
        assert_eq!(
            py_str_repr("a\\d\n\t\x01\u{7f}é€"),
            "'a\\\\d\\n\\t\\x01\\x7fé€'"
        );
        assert_eq!(py_str_repr("\u{2028}\u{a0}"), "'\\u2028\\xa0'");
    }

    #[test]
    fn values_print_as_python_repr() {
        let v = Value::List(vec![
            Value::Int(-3),
            Value::Bool(true),
            Value::None,
            Value::Float(2.5),
            Value::Tuple(vec![Value::str("x")]),
            Value::Dict(vec![(Value::str("k"), Value::List(vec![]))]),
        ]);
        assert_eq!(v.to_string(), "[-3, True, None, 2.5, ('x',), {'k': []}]");
        assert_eq!(py_float_repr(1e16), "1e+16");
        assert_eq!(py_float_repr(1.5e-5), "1.5e-05");
        assert_eq!(py_float_repr(3.0), "3.0");
    }

    #[test]
    fn commands_round_trip_through_values() {
        let cmds = vec![
            Command::SetGlobal {
                key: "dbmaxmatches".into(),
                value: Value::Int(10),
            },
            Command::AddJail {
                jail: "sshd".into(),
                backend: "systemd[journalflags=2]".into(),
            },
            Command::SetJail {
                jail: "sshd".into(),
                key: "addlogpath".into(),
                args: vec!["/var/log/auth.log".into(), "head".into()],
            },
            Command::MultiSetJail {
                jail: "sshd".into(),
                key: "addfailregex".into(),
                values: vec!["a".into(), "b".into()],
            },
            Command::AddAction {
                jail: "j".into(),
                action: "smtp".into(),
                python: Some(("/x/smtp.py".into(), "{}".into())),
            },
            Command::SetAction {
                jail: "j".into(),
                action: "a".into(),
                key: "k".into(),
                value: "v".into(),
            },
            Command::MultiSetAction {
                jail: "j".into(),
                action: "a".into(),
                pairs: vec![("norestored".into(), Value::Bool(true))],
            },
            Command::ConfigError("Jail 'x' skipped".into()),
            Command::Start("sshd".into()),
        ];
        for c in cmds {
            assert_eq!(Command::from_values(&c.to_values()), Some(c.clone()), "{c}");
        }
        let c = Command::MultiSetAction {
            jail: "j".into(),
            action: "a".into(),
            pairs: vec![("actionban".into(), "echo <ip>".into())],
        };
        assert_eq!(
            c.to_string(),
            "['multi-set', 'j', 'action', 'a', [['actionban', 'echo <ip>']]]"
        );
    }
}
