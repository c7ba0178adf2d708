//! The questions fail2ban's date templates ask of a regex's own text (does it start with
//! `^`, end with `$`, hold a group, carry `**` boundary markers, name a `{DATE}` or
//! `{EPOCH}` placeholder…), answered by reading the text. fail2ban asks them with Python
//! regexes over the pattern; each function here gives that regex's answer under Python's
//! `re` rules (`^` only at 0, `$` at the end or before a final `\n`, `.` not `\n`, `\w`
//! Unicode). Compiling those regexes cost every process about 16M instructions, more than
//! the rest of the default templates together. The unit tests hold each function to its
//! regex, run by the regex engine, on the default templates and on generated texts.

use crate::filter::template::is_word;

/// Positions where Python's `$` (no MULTILINE) holds: the end, and before a final `\n`.
fn dollar_ends(s: &str) -> impl Iterator<Item = usize> {
    let before_nl = s.ends_with('\n').then(|| s.len() - 1);
    before_nl.into_iter().chain(std::iter::once(s.len()))
}

/// The byte before `i` is not `b`.
fn not_after(s: &str, i: usize, b: u8) -> bool {
    i == 0 || s.as_bytes()[i - 1] != b
}

/// The end of an inline flag group `(?\w+)` starting at `i`.
fn flag_group_at(s: &str, i: usize) -> Option<usize> {
    let rest = s.get(i..)?.strip_prefix("(?")?;
    let word = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
    (word > 0 && rest[word..].starts_with(')')).then(|| i + 2 + word + 1)
}

/// How many `c` bytes run from `i`.
fn run_of(s: &str, i: usize, c: u8) -> usize {
    s.as_bytes()[i..].iter().take_while(|&&b| b == c).count()
}

/// `\(\?[a-z]+\)`: the first inline flag group, as a byte range.
pub fn global_flags(s: &str) -> Option<std::ops::Range<usize>> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(off) = s[from..].find("(?") {
        let i = from + off;
        let letters = b[i + 2..]
            .iter()
            .take_while(|c| c.is_ascii_lowercase())
            .count();
        if letters > 0 && b.get(i + 2 + letters) == Some(&b')') {
            return Some(i..i + 3 + letters);
        }
        from = i + 1;
    }
    None
}

/// `^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)`: the pattern brings its own start
/// (`^`, a `**` marker) and gets no word boundary in front.
pub fn no_word_begin(s: &str) -> bool {
    let starts = |p: usize| {
        let t = &s[p..];
        t.starts_with('^')
            || s[p + run_of(s, p, b'(')..].starts_with("**")
            || t.starts_with("(^")
            || t.starts_with("(?:^")
    };
    (0..=run_of(s, 0, b'(')).any(|j| starts(j) || flag_group_at(s, j).is_some_and(starts))
}

/// `(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$`: the pattern brings its own end and gets no word
/// boundary after it.
pub fn no_word_end(s: &str) -> bool {
    dollar_ends(s).any(|e| {
        let t = &s[..e];
        let tail = |suffix: &str| t.ends_with(suffix) && not_after(t, e - suffix.len(), b'\\');
        let stars = t.trim_end_matches(')');
        tail("$")
            || tail("$)")
            || tail("\\b")
            || tail("\\s")
            || (stars.ends_with("**") && not_after(t, stars.len() - 2, b'\\'))
    })
}

/// `(?<!\(\?)(?<!\\)\((?!\?)`: the pattern opens a group of its own (capturing, or a
/// `(` right after `(?`).
pub fn grouped(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len()).any(|i| {
        b[i] == b'('
            && b.get(i + 1) != Some(&b'?')
            && not_after(s, i, b'\\')
            && !(i >= 2 && &b[i - 2..i] == b"(?")
    })
}

/// `^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$`: the leading flags and `^`, the
/// body, the trailing `$`.
pub fn group_split(s: &str) -> Option<(&str, &str, &str)> {
    // `.` stops at a newline, and `$` only holds before a final one.
    let nl = s.find('\n');
    if nl.is_some_and(|i| i + 1 < s.len()) {
        return None;
    }
    let end = nl.unwrap_or(s.len());
    let mut p = flag_group_at(s, 0).unwrap_or(0);
    if s[p..].starts_with('^') {
        p += 1;
    }
    p = flag_group_at(s, p).unwrap_or(p);
    if end > p && s.as_bytes()[end - 1] == b'$' {
        Some((&s[..p], &s[p..end - 1], "$"))
    } else {
        Some((&s[..p], &s[p..end], ""))
    }
}

/// `^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))`: anchored at the line start.
pub fn line_begin(s: &str) -> bool {
    let anchored = |p: usize| {
        let t = &s[p..];
        let paren = t.strip_prefix("(?:^").or_else(|| t.strip_prefix("(^"));
        t.starts_with('^') || paren.is_some_and(|rest| !rest.starts_with('|'))
    };
    anchored(0) || flag_group_at(s, 0).is_some_and(anchored)
}

/// `(?<![\\|])(?:\$\)?)$`: anchored at the line end.
pub fn line_end(s: &str) -> bool {
    dollar_ends(s).any(|e| {
        let t = &s[..e];
        ["$", "$)"].iter().any(|suffix| {
            t.ends_with(suffix) && {
                let i = e - suffix.len();
                i == 0 || !matches!(t.as_bytes()[i - 1], b'\\' | b'|')
            }
        })
    })
}

/// `re.sub(r"^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$", …)` removing the `**` of each
/// match: the boundary markers after the leading parens and flags, and before the
/// closing parens at the end.
pub fn strip_star_bounds(s: &str) -> String {
    let mut cut = Vec::with_capacity(2);
    let lead = run_of(s, 0, b'(');
    let front = if s[lead..].starts_with("**") {
        Some(lead)
    } else if lead > 0 {
        flag_group_at(s, lead - 1).and_then(|f| {
            let stars = f + run_of(s, f, b'(');
            s[stars..].starts_with("**").then_some(stars)
        })
    } else {
        None
    };
    let mut from = 0;
    if let Some(i) = front {
        cut.push(i);
        from = i + 2;
    }
    let ends: Vec<usize> = dollar_ends(s).collect();
    let mut i = from;
    while let Some(off) = s[i..].find("**") {
        let at = i + off;
        let r = at + 2;
        if not_after(s, at, b'\\') && ends.contains(&(r + run_of(s, r, b')'))) {
            cut.push(at);
            break;
        }
        i = at + 1;
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for at in cut {
        out.push_str(&s[last..at]);
        last = at + 2;
    }
    out.push_str(&s[last..]);
    out
}

/// `(?<!%)%[aAbBpc]`: a directive that names words, so the template ignores case.
pub fn has_alpha_directive(p: &str) -> bool {
    let b = p.as_bytes();
    (0..b.len().saturating_sub(1))
        .any(|i| b[i] == b'%' && b"aAbBpc".contains(&b[i + 1]) && not_after(p, i, b'%'))
}

/// Where `{NAME}` (any `names`, ASCII case ignored, not after `\`) starts and ends, the
/// first from `from`. The placeholders' letters have no non-ASCII case partners, so
/// ASCII folding is what Python's IGNORECASE does with them.
fn placeholder(s: &str, from: usize, names: &[&str]) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut i = from;
    while let Some(off) = s[i..].find('{') {
        let at = i + off;
        if not_after(s, at, b'\\') {
            for name in names {
                let end = at + 1 + name.len();
                if b.get(end) == Some(&b'}') && b[at + 1..end].eq_ignore_ascii_case(name.as_bytes())
                {
                    return Some((at, end + 1));
                }
            }
        }
        i = at + 1;
    }
    None
}

/// Every `{NAME}` placeholder of `names` in `s` replaced by `with`.
fn replace_placeholders(s: &str, names: &[&str], with: &str) -> String {
    let mut out = String::with_capacity(s.len() + with.len());
    let mut last = 0;
    while let Some((a, b)) = placeholder(s, last, names) {
        out.push_str(&s[last..a]);
        out.push_str(with);
        last = b;
    }
    out.push_str(&s[last..]);
    out
}

const EPOCHS: [&str; 2] = ["EPOCH", "LEPOCH"];

/// `(?i)(?<!\\)\{L?EPOCH\}` occurs in `s`.
pub fn has_epoch_placeholder(s: &str) -> bool {
    placeholder(s, 0, &EPOCHS).is_some()
}

/// Each `{EPOCH}`/`{LEPOCH}` (any case, not escaped) replaced by `with`.
pub fn replace_epoch(s: &str, with: &str) -> String {
    replace_placeholders(s, &EPOCHS, with)
}

/// Each `{DATE}` (any case, not escaped) replaced by `with`.
pub fn replace_date(s: &str, with: &str) -> String {
    replace_placeholders(s, &["DATE"], with)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::pyre::{self, Flags};

    /// The Python regexes these functions stand for, run by the regex engine.
    struct Oracle {
        grouped: pyre::Regex,
        group_split: pyre::Regex,
        global_flags: pyre::Regex,
        no_word_begin: pyre::Regex,
        no_word_end: pyre::Regex,
        star_bounds: pyre::Regex,
        line_begin: pyre::Regex,
        line_end: pyre::Regex,
        alpha: pyre::Regex,
        epoch: pyre::Regex,
        date: pyre::Regex,
    }

    fn oracle() -> Oracle {
        let c = |p: &str, ignore_case: bool| {
            let flags = Flags {
                ignore_case,
                ..Flags::default()
            };
            pyre::compile(p, flags).unwrap()
        };
        Oracle {
            grouped: c(r"(?<!\(\?)(?<!\\)\((?!\?)", false),
            group_split: c(r"^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$", false),
            global_flags: c(r"\(\?[a-z]+\)", false),
            no_word_begin: c(r"^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)", false),
            no_word_end: c(r"(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$", false),
            star_bounds: c(r"^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$", false),
            line_begin: c(r"^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))", false),
            line_end: c(r"(?<![\\|])(?:\$\)?)$", false),
            alpha: c(r"(?<!%)%[aAbBpc]", false),
            epoch: c(r"(?<!\\)\{L?EPOCH\}", true),
            date: c(r"(?<!\\)\{DATE\}", true),
        }
    }

    /// Python's `re.sub(re, f, text)`, all matches.
    fn sub(re: &pyre::Regex, text: &str, f: impl Fn(&str) -> String) -> String {
        let (mut out, mut pos, mut last) = (String::new(), 0, 0);
        while pos <= text.len() {
            let Some(m) = re.search(text, pos) else { break };
            out.push_str(&text[last..m.start()]);
            out.push_str(&f(m.as_str()));
            last = m.end();
            pos = if m.end() > m.start() {
                m.end()
            } else {
                match text[m.end()..].chars().next() {
                    Some(ch) => {
                        out.push_str(&text[m.end()..m.end() + ch.len_utf8()]);
                        last = m.end() + ch.len_utf8();
                        last
                    }
                    None => break,
                }
            };
        }
        out.push_str(&text[last..]);
        out
    }

    /// Every function against its regex on `s`; the first difference, named.
    fn differs(o: &Oracle, s: &str) -> Option<String> {
        let found = |re: &pyre::Regex| re.search(s, 0).is_some();
        let checks: [(&str, bool, bool); 8] = [
            ("grouped", grouped(s), found(&o.grouped)),
            ("no_word_begin", no_word_begin(s), found(&o.no_word_begin)),
            ("no_word_end", no_word_end(s), found(&o.no_word_end)),
            ("line_begin", line_begin(s), found(&o.line_begin)),
            ("line_end", line_end(s), found(&o.line_end)),
            ("alpha", has_alpha_directive(s), found(&o.alpha)),
            ("epoch", has_epoch_placeholder(s), found(&o.epoch)),
            (
                "date",
                placeholder(s, 0, &["DATE"]).is_some(),
                found(&o.date),
            ),
        ];
        for (name, ours, theirs) in checks {
            if ours != theirs {
                return Some(format!("{name}: {ours} vs {theirs}"));
            }
        }
        let flags = o.global_flags.search(s, 0).map(|m| m.start()..m.end());
        if global_flags(s) != flags {
            return Some(format!("global_flags: {:?} vs {flags:?}", global_flags(s)));
        }
        let split = o.group_split.search(s, 0).map(|m| {
            let g = |i| m.group(i).unwrap_or("").to_string();
            (g(1), g(2), g(3))
        });
        let ours = group_split(s).map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
        if ours != split {
            return Some(format!("group_split: {ours:?} vs {split:?}"));
        }
        let stars = sub(&o.star_bounds, s, |m| m.replace("**", ""));
        if strip_star_bounds(s) != stars {
            return Some(format!(
                "star_bounds: {:?} vs {stars:?}",
                strip_star_bounds(s)
            ));
        }
        let epoch = sub(&o.epoch, s, |_| "<E>".to_string());
        if replace_epoch(s, "<E>") != epoch {
            return Some(format!(
                "replace_epoch: {:?} vs {epoch:?}",
                replace_epoch(s, "<E>")
            ));
        }
        let date = sub(&o.date, s, |_| "<D>".to_string());
        if replace_date(s, "<D>") != date {
            return Some(format!(
                "replace_date: {:?} vs {date:?}",
                replace_date(s, "<D>")
            ));
        }
        None
    }

    /// Texts the templates really ask about: each default pattern, its directives
    /// expanded, and the forms wrapping builds on the way.
    fn template_texts() -> Vec<String> {
        let mut out = Vec::new();
        for p in super::super::templates::DEFAULT_PATTERNS {
            out.push(p.to_string());
            out.push(format!("{{^LN-BEG}}{p}"));
            if let Ok((_, re)) = super::super::templates::expand_directives(p, "20[012]") {
                out.push(format!("(?iu){re}"));
                out.push(format!("^(?:\\W{{0,2}})?({re})(?=\\b|\\W|$)"));
                out.push(format!("(?=^|\\b|\\W)({re})"));
                out.push(re);
            }
        }
        out
    }

    const EDGES: &[&str] = &[
        "",
        "^",
        "$",
        "\n",
        "$\n",
        "a$\n",
        "a\n$",
        "a\nb",
        "^a$",
        "(?iu)^a$",
        "(?iu)^(?u)x",
        "(?iu)(?u)",
        "(?x)(**a**)",
        "((?i)((**a",
        "(((**a",
        "(**a**))\n",
        "**",
        "****",
        "a***",
        "\\**a\\**",
        "a\\$",
        "a|$",
        "a$)",
        "a\\$)",
        "a\\b",
        "a\\\\b",
        "a\\s\n",
        "(^a|b)",
        "(^|a)",
        "(?:^a",
        "(?:^|a",
        "(?P<x>a)",
        "(?:a)",
        "\\(a",
        "((?a",
        "(?é)^x",
        "(?iU)x",
        "%a %%a %%%b %p %c %",
        "{EPOCH} {lepoch} \\{EPOCH} {Epoch}x{LEPOCH",
        "{DATE}\\{date}{dAtE}{DATE",
        "{{DATE}}",
        "{L{EPOCH}",
    ];

    /// Deterministic texts over the characters these regexes care about.
    fn generated(n: usize) -> Vec<String> {
        const PIECES: &[&str] = &[
            "(", ")", "?", ":", "^", "$", "*", "**", "\\", "|", "i", "u", "a", "%", "b", "B", "c",
            "p", "\n", "{", "}", "EPOCH", "LEPOCH", "DATE", "date", "e", "l", "(?iu)", "(?:", "é",
            "_", "{EPOCH}", "{lepoch}", "{DATE}", "{Date}",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let len = (x % 9) as usize;
                let mut y = x;
                (0..len)
                    .map(|_| {
                        y = y
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        PIECES[(y >> 33) as usize % PIECES.len()]
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn each_answer_is_its_regexs() {
        let o = oracle();
        let texts = template_texts();
        assert!(texts.len() > 80);
        let all = texts
            .iter()
            .map(String::as_str)
            .chain(EDGES.iter().copied())
            .map(str::to_string)
            .chain(generated(30_000));
        for s in all {
            if let Some(d) = differs(&o, &s) {
                panic!("{s:?}: {d}");
            }
        }
    }

    #[test]
    fn generated_texts_reach_every_answer() {
        // The generator must give both answers of each question, or the comparison
        // above proves little.
        let texts = generated(30_000);
        let both = |f: &dyn Fn(&str) -> bool| {
            let n = texts.iter().filter(|s| f(s)).count();
            n > 50 && n < texts.len() - 50
        };
        assert!(both(&grouped));
        assert!(both(&no_word_begin));
        assert!(both(&no_word_end));
        assert!(both(&line_begin));
        assert!(both(&line_end));
        assert!(both(&has_alpha_directive));
        assert!(both(&has_epoch_placeholder));
        assert!(both(&|s| global_flags(s).is_some()));
        assert!(both(&|s| strip_star_bounds(s) != s));
        assert!(both(&|s| group_split(s).is_some_and(|g| g.2 == "$")));
    }
}
