//! Small value parsers of the jail config: the `name[k=v, …]` option syntax
//! ([`extract_options`]), the action-list splitter ([`split_with_options`]),
//! [`splitwords`] (ignoreip), POSIX [`shlex_split`] (journalmatch) and Python's
//! `json.dumps` of a string map (Python action entries).

use std::sync::OnceLock;

use regex::Regex;

/// Options in jail order (keys as written, values stripped).
pub type OptList = Vec<(String, String)>;

const EXTRACT_PAT: &str = r#"(?s)\s*([\w\-_\.]+)=(?:"([^"]*)"|'([^']*)'|([^,\]]*))(?:,|\]\s*\[|\n?\z|(?P<wrngA>.+))|,?\s*\z|(?P<wrngB>.+)"#;

/// Python's pattern ends in the lookahead `(?=\n\s*|\s+|$)`; the `regex` crate has no
/// lookaround, so the entry is group 1 followed by one consumed whitespace char (or the
/// end), and the next search starts right after group 1.
const SPLIT_PAT: &str = r#"(?s)((?:[^\[\s]+(?:\s*\[\s*(?:[\w\-_\.]+=(?:"[^"]*"|'[^']*'|[^,\]]*)\s*(?:,|\]\s*\[)?\s*)*\])?\s*|\S+))(?:\s|\z)"#;

// Python's `$` (no MULTILINE) also matches before a final newline: `\n?\z` above, which
// only differs in consuming that newline at the very end.
//
// Each pattern exists twice: Unicode classes (what Python's `\w`/`\s` mean) for
// non-ASCII input, and an ASCII-only byte version, identical on ASCII input and much
// cheaper to compile (config values are nearly always ASCII).
fn unicode_re(which: usize) -> &'static Regex {
    static RE: [OnceLock<Regex>; 2] = [OnceLock::new(), OnceLock::new()];
    RE[which].get_or_init(|| {
        Regex::new([EXTRACT_PAT, SPLIT_PAT][which]).unwrap_or_else(|_| unreachable_regex())
    })
}

fn ascii_re(which: usize) -> &'static regex::bytes::Regex {
    static RE: [OnceLock<regex::bytes::Regex>; 2] = [OnceLock::new(), OnceLock::new()];
    RE[which].get_or_init(|| {
        let pat = format!("(?-u){}", [EXTRACT_PAT, SPLIT_PAT][which]);
        regex::bytes::Regex::new(&pat).unwrap_or_else(|_| unreachable_regex())
    })
}

/// The patterns above are constants covered by tests; failing to compile them is a bug.
fn unreachable_regex<T>() -> T {
    panic!("internal error: constant option regex does not compile")
}

type Span = Option<(usize, usize)>;

/// Capture spans of every match of `which` in `hay` (groups 0..=n and the named ones).
fn captures_spans(which: usize, hay: &str, from: usize, all: bool) -> Vec<Vec<Span>> {
    let mut out = Vec::new();
    if hay.is_ascii() {
        let re = ascii_re(which);
        let mut pos = from;
        while pos <= hay.len() {
            let Some(c) = re.captures_at(hay.as_bytes(), pos) else {
                break;
            };
            let v: Vec<Span> = (0..c.len())
                .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                .collect();
            out.push(v);
            if !all {
                break;
            }
            let (s, e) = c.get(0).map(|m| (m.start(), m.end())).unwrap_or((pos, pos));
            pos = if e > s { e } else { e + 1 };
        }
    } else {
        let re = unicode_re(which);
        let mut pos = from;
        while pos <= hay.len() {
            let Some(c) = re.captures_at(hay, pos) else {
                break;
            };
            let v: Vec<Span> = (0..c.len())
                .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                .collect();
            out.push(v);
            if !all {
                break;
            }
            let (s, e) = c.get(0).map(|m| (m.start(), m.end())).unwrap_or((pos, pos));
            pos = if e > s { e } else { next_char(hay, e) };
        }
    }
    out
}

/// Hand-written equivalent of every match of [`EXTRACT_PAT`] on ASCII input (the regex
/// with captures dominated the profile). Groups: 0 whole, 1 key, 2/3/4 value variants,
/// 5 wrngA, 6 wrngB. Every search position yields a match starting there: once
/// `\s*key=` matches, the first alternative always succeeds (its tail ends in `.+` or
/// `\z`); otherwise `,?\s*\z` or `.+` does.
fn extract_spans_ascii(b: &[u8]) -> Vec<Vec<Span>> {
    let ws = |c: u8| matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ');
    let key_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.');
    let n = b.len();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos <= n {
        let mut caps: Vec<Span> = vec![None; 7];
        let mut i = pos;
        while i < n && ws(b[i]) {
            i += 1;
        }
        let ks = i;
        while i < n && key_char(b[i]) {
            i += 1;
        }
        let end = if i > ks && i < n && b[i] == b'=' {
            caps[1] = Some((ks, i));
            let vs = i + 1;
            let closing = |q: u8| {
                (vs < n && b[vs] == q)
                    .then(|| memchr::memchr(q, &b[vs + 1..]).map(|r| vs + 1 + r))
                    .flatten()
            };
            let mut j = if let Some(c) = closing(b'"') {
                caps[2] = Some((vs + 1, c));
                c + 1
            } else if let Some(c) = closing(b'\'') {
                caps[3] = Some((vs + 1, c));
                c + 1
            } else {
                let mut j = vs;
                while j < n && b[j] != b',' && b[j] != b']' {
                    j += 1;
                }
                caps[4] = Some((vs, j));
                j
            };
            if j < n && b[j] == b',' {
                j += 1;
            } else if j < n && b[j] == b']' && {
                let mut k = j + 1;
                while k < n && ws(b[k]) {
                    k += 1;
                }
                k < n && b[k] == b'['
            } {
                j += 1;
                while b[j] != b'[' {
                    j += 1;
                }
                j += 1;
            } else if j == n || (j + 1 == n && b[j] == b'\n') {
                j = n;
            } else {
                caps[5] = Some((j, n));
                j = n;
            }
            j
        } else {
            // `,?\s*\z`, else `.+` (DOTALL) up to the end
            let mut k = pos;
            if k < n && b[k] == b',' {
                k += 1;
            }
            while k < n && ws(b[k]) {
                k += 1;
            }
            if k != n {
                caps[6] = Some((pos, n));
            }
            n
        };
        caps[0] = Some((pos, end));
        out.push(caps);
        pos = if end > pos { end } else { end + 1 };
    }
    out
}

fn next_char(s: &str, i: usize) -> usize {
    s[i..]
        .chars()
        .next()
        .map(|c| i + c.len_utf8())
        .unwrap_or(i + 1)
}

/// `name[k=v, …][k2=v2]` → (name, options). Error text is fail2ban's.
pub fn extract_options(option: &str) -> Result<(String, OptList), String> {
    // `^([^\[]+)(?:\[(.*)\])?\s*$` (DOTALL)
    let (name, optstr) = match option.find('[') {
        None => {
            if option.is_empty() {
                return Err("unexpected option syntax".into());
            }
            (option, None)
        }
        Some(0) => return Err("unexpected option syntax".into()),
        Some(i) => {
            let rest = &option[i..];
            let trimmed = rest.trim_end();
            if !trimmed.ends_with(']') {
                return Err("unexpected option syntax".into());
            }
            (&option[..i], Some(&trimmed[1..trimmed.len() - 1]))
        }
    };
    let mut opts: OptList = Vec::new();
    if let Some(optstr) = optstr.filter(|s| !s.is_empty()) {
        // group indices: 1 key, 2/3/4 value variants, 5 wrngA, 6 wrngB
        let all = if optstr.is_ascii() {
            extract_spans_ascii(optstr.as_bytes())
        } else {
            captures_spans(0, optstr, 0, true)
        };
        for caps in all {
            let g = |i: usize| caps.get(i).copied().flatten().map(|(a, b)| &optstr[a..b]);
            let start = |i: usize| caps.get(i).copied().flatten().map(|(a, _)| a).unwrap_or(0);
            if let Some(w) = g(5) {
                return Err(format!(
                    "unexpected syntax at {} after option {}: {}",
                    py_index(optstr, start(5)),
                    crate::stream::py_str_repr(g(1).unwrap_or("")),
                    first_chars(w, 25)
                ));
            }
            if let Some(w) = g(6) {
                return Err(format!(
                    "expected option, wrong syntax at {}: {}",
                    py_index(optstr, start(6)),
                    first_chars(w, 25)
                ));
            }
            let Some(key) = g(1) else { continue };
            let value = g(2).or_else(|| g(3)).or_else(|| g(4)).unwrap_or("");
            let key = key.trim().to_string();
            let value = value.trim().to_string();
            match opts.iter_mut().find(|(k, _)| *k == key) {
                Some(e) => e.1 = value,
                None => opts.push((key, value)),
            }
        }
    }
    Ok((name.to_string(), opts))
}

fn py_index(s: &str, byte: usize) -> usize {
    s[..byte].chars().count()
}

fn first_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Splits an `action` value into entries, keeping bracket groups (even multi-line
/// quoted values) together.
pub fn split_with_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pos = 0;
    let ascii = s.is_ascii();
    while pos <= s.len() {
        let group = match ascii
            .then(|| split_entry_ascii(s.as_bytes(), pos))
            .flatten()
        {
            Some(g) => g,
            None => captures_spans(1, s, pos, false)
                .pop()
                .and_then(|caps| caps.get(1).copied().flatten()),
        };
        let Some((a, b)) = group else {
            break;
        };
        out.push(s[a..b].to_string());
        pos = b;
    }
    out
}

/// Group 1 of the first match of [`SPLIT_PAT`] at or after `pos` on ASCII input, when
/// the regex's first choice at every step is also its answer: `Some(None)` = no match,
/// `None` = the input needs backtracking (malformed brackets …): ask the regex.
///
/// A match starts at the first non-space byte (the `\S+` branch always succeeds there).
/// Inside `[…]`, an iteration either fails at `key=` (no shorter key can end in `=`) or
/// succeeds, so "stop iterating" is the next choice; anything failing after that (no
/// closing `]`, no space or end after it) would backtrack into earlier choices.
fn split_entry_ascii(b: &[u8], pos: usize) -> Option<Option<(usize, usize)>> {
    let ws = |c: u8| matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ');
    let key_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.');
    let n = b.len();
    let skip_ws = |mut i: usize| {
        while i < n && ws(b[i]) {
            i += 1;
        }
        i
    };
    // `\s*(?:\s|\z)` from `i`: the group ends before the last space, or at the end
    let tail = |i: usize| -> Option<usize> {
        let k = skip_ws(i);
        if k == n {
            Some(n)
        } else if k > i {
            Some(k - 1)
        } else {
            None
        }
    };
    let start = skip_ws(pos);
    if start >= n {
        return Some(None);
    }
    if b[start] == b'[' {
        // `\S+` branch
        let mut e = start;
        while e < n && !ws(b[e]) {
            e += 1;
        }
        return Some(Some((start, e)));
    }
    let mut i = start;
    while i < n && !ws(b[i]) && b[i] != b'[' {
        i += 1;
    }
    let j = skip_ws(i);
    if j >= n || b[j] != b'[' {
        // no option list: `name` then spaces (b[i] is a space or the end here)
        return Some(tail(i).map(|e| (start, e)));
    }
    let mut k = skip_ws(j + 1);
    loop {
        let ks = k;
        while k < n && key_char(b[k]) {
            k += 1;
        }
        if k == ks || k >= n || b[k] != b'=' {
            k = ks;
            break;
        }
        k += 1;
        let quoted = |q: u8| {
            (k < n && b[k] == q)
                .then(|| memchr::memchr(q, &b[k + 1..]).map(|r| k + 1 + r + 1))
                .flatten()
        };
        k = match quoted(b'"').or_else(|| quoted(b'\'')) {
            Some(e) => e,
            None => {
                let mut e = k;
                while e < n && b[e] != b',' && b[e] != b']' {
                    e += 1;
                }
                e
            }
        };
        k = skip_ws(k);
        if k < n && b[k] == b',' {
            k += 1;
        } else if k < n && b[k] == b']' {
            let m = skip_ws(k + 1);
            if m < n && b[m] == b'[' {
                k = m + 1;
            }
        }
        k = skip_ws(k);
    }
    if k < n && b[k] == b']' {
        return tail(k + 1).map(|e| Some((start, e)));
    }
    None
}

/// `ignoreip`-style splitting on runs of spaces, commas and newlines.
pub fn splitwords(s: &str) -> Vec<String> {
    s.split([' ', ',', '\n'])
        .map(|w| w.trim())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// POSIX `shlex.split` (no comments).
pub fn shlex_split(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => return Err("No escaped character".into()),
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => cur.push(n),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\')) => cur.push(n),
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => return Err("No closing quotation".into()),
                        },
                        Some(n) => cur.push(n),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Python's `json.dumps` of a flat string map (ensure_ascii, `", "`/`": "` separators).
pub fn json_dumps(opts: &OptList) -> String {
    use crate::stream::write_py_json_str as js;
    let mut out = String::from("{");
    for (i, (k, v)) in opts.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        js(&mut out, k, true);
        out.push_str(": ");
        js(&mut out, v, true);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_scanner_agrees_with_the_regex() {
        let alphabet = b"a.[]=\"',  \nx_";
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let (mut decided, mut total) = (0, 0);
        for _ in 0..30_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 18) as usize;
            let mut x = state;
            let text: String = (0..len)
                .map(|_| {
                    x = x.rotate_left(5).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    alphabet[(x >> 59) as usize % alphabet.len()] as char
                })
                .collect();
            for pos in 0..=text.len() {
                total += 1;
                let Some(got) = split_entry_ascii(text.as_bytes(), pos) else {
                    continue;
                };
                decided += 1;
                let want = captures_spans(1, &text, pos, false)
                    .pop()
                    .and_then(|c| c.get(1).copied().flatten());
                assert_eq!(got, want, "{text:?} at {pos}");
            }
        }
        assert!(
            decided * 2 > total,
            "scanner decided only {decided} of {total}"
        );
        let stock = "iptables-multiport[port=\"ssh\", protocol=\"tcp\", chain=\"<known/chain>\"]\n  sendmail-whois[name=x, dest=\"a@b\"]";
        assert_eq!(
            split_with_options(stock),
            [
                "iptables-multiport[port=\"ssh\", protocol=\"tcp\", chain=\"<known/chain>\"]\n ",
                "sendmail-whois[name=x, dest=\"a@b\"]"
            ]
        );
    }

    /// The hand scanner must agree with the regex it replaces on every input.
    #[test]
    fn extract_scanner_matches_regex() {
        let mut cases: Vec<String> = [
            "name=sshd, port=\"ssh\", protocol=tcp",
            "a='x y', b=\"q\" , c=1",
            "a=1][b=2",
            "a=1]  [b=2]x",
            "a=\"unterminated, b=2",
            "a='x\n'\n",
            " , ",
            "bad",
            "a=1,",
            "=1",
            "a=\"x\"tail",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let alphabet = b"ab=\"',] [\n-.\t";
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for len in 0..14 {
            for _ in 0..300 {
                let mut s = String::new();
                for _ in 0..len {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    s.push(alphabet[(x % alphabet.len() as u64) as usize] as char);
                }
                cases.push(s);
            }
        }
        for c in &cases {
            assert_eq!(
                extract_spans_ascii(c.as_bytes()),
                captures_spans(0, c, 0, true),
                "input {c:?}"
            );
        }
    }

    fn ex(s: &str) -> (String, Vec<(String, String)>) {
        extract_options(s).unwrap()
    }
    fn kv(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn option_syntax_from_spec() {
        assert_eq!(
            ex("mail-whois[name=SSH]"),
            ("mail-whois".into(), kv(&[("name", "SSH")]))
        );
        assert_eq!(ex("mail[a=',']").1, kv(&[("a", ",")]));
        assert_eq!(ex("mail[a=b, ]").1, kv(&[("a", "b")]));
        assert_eq!(ex("abc[]"), ("abc".into(), vec![]));
        assert_eq!(ex("act[a=1][b=2]").1, kv(&[("a", "1"), ("b", "2")]));
        assert_eq!(
            ex("option[opt01=abc,opt02=\"123\",opt03=\"with=okay?\",opt06=\"single'in'double\",opt08= leave some space, opt10=]").1,
            kv(&[("opt01", "abc"), ("opt02", "123"), ("opt03", "with=okay?"), ("opt06", "single'in'double"), ("opt08", "leave some space"), ("opt10", "")])
        );
        for bad in [
            "mail-how[",
            "a[a=\"x \"\" y\"]",
            "a[b=x, y, z]",
            "mail['s']",
        ] {
            assert!(extract_options(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn action_list_splitting() {
        assert_eq!(split_with_options("a[x=y] b"), ["a[x=y]", "b"]);
        assert_eq!(split_with_options("a[x=\"y z\"]\tb"), ["a[x=\"y z\"]", "b"]);
        assert_eq!(
            split_with_options("a[x=\"y\nz\"]\nb"),
            ["a[x=\"y\nz\"]", "b"]
        );
        assert_eq!(split_with_options("iptables[name=x,"), ["iptables[name=x,"]);
    }

    #[test]
    fn words_shlex_json() {
        assert_eq!(
            splitwords("127.0.0.1/8 ::1\n10.0.0.0/8, 192.168.1.1"),
            ["127.0.0.1/8", "::1", "10.0.0.0/8", "192.168.1.1"]
        );
        assert_eq!(
            shlex_split("_SYSTEMD_UNIT=sshd.service + _COMM=sshd").unwrap(),
            ["_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"]
        );
        assert_eq!(
            shlex_split("\"FIELD= with spaces \" b").unwrap(),
            ["FIELD= with spaces ", "b"]
        );
        assert!(shlex_split("a \"b").is_err());
        assert_eq!(
            json_dumps(&kv(&[("dest", "me@example.com"), ("host", "é")])),
            "{\"dest\": \"me@example.com\", \"host\": \"\\u00e9\"}"
        );
    }
}
