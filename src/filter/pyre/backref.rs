//! Back-references to one-char groups on the linear engine, with a post-check.
//!
//! [`Checked`] stands in front of the fancy engine for patterns whose only fancy
//! construct is back-references like `(?P<sep>[-/.])…(?P=sep)` (fail2ban's date
//! templates). Each `\k<name>` becomes a hidden group matching any one char; the linear
//! engine finds its first match and the check wants each copy's text equal to its group's.
//! Exact: the linear pattern's paths include every path of the original in the same
//! priority order, and a path passing the check is one of the original's, so the first
//! linear match is the original's when it passes. When it does not, the caller runs
//! the fancy engine. Back-references or groups inside a repetition (where only the last
//! round would be checked) keep the pattern fancy.

use regex_syntax::hir::{Hir, HirKind};

use super::fast;

/// Group spans of one match (index 0: the whole match).
type Spans = Vec<Option<(usize, usize)>>;

/// Prefix of the hidden copy groups (not a name fail2ban or Python patterns use).
const COPY: &str = "__gaol_bref_";

/// A linear stand-in for a back-reference pattern.
#[derive(Debug)]
pub(super) struct Checked {
    re: regex::Regex,
    fast: fast::Fast,
    /// (group, copy) indices in `re` whose texts must be equal.
    pairs: Vec<(usize, usize)>,
    /// Copy indices, descending (removed from the spans to give the original numbering).
    copies: Vec<usize>,
}

/// `fancy` with each `\k<name>` replaced by a copy group; the names referenced.
fn rewrite(fancy: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(fancy.len() + 32);
    let mut names = Vec::new();
    let mut rest = fancy;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(r) = tail.strip_prefix("\\k<")
            && let Some(end) = r.find('>')
        {
            out.push_str(&format!("(?P<{COPY}{}>(?s:.))", names.len()));
            names.push(r[..end].to_string());
            rest = &r[end + 1..];
        } else {
            // Any other escape: copy it whole (an escaped `\` must not start a `\k`).
            let n = tail.chars().nth(1).map_or(1, |c| 1 + c.len_utf8());
            out.push_str(&tail[..n.min(tail.len())]);
            rest = &tail[n.min(tail.len())..];
        }
    }
    out.push_str(rest);
    (out, names)
}

/// Named groups of `h`: (index, name, inside a repetition, matches exactly one char).
fn groups(h: &Hir, in_rep: bool, out: &mut Vec<(usize, String, bool, bool)>) {
    match h.kind() {
        HirKind::Capture(c) => {
            if let Some(n) = &c.name {
                let one = match c.sub.kind() {
                    HirKind::Class(_) => true,
                    HirKind::Literal(l) => {
                        std::str::from_utf8(&l.0).is_ok_and(|s| s.chars().count() == 1)
                    }
                    _ => false,
                };
                out.push((c.index as usize, n.to_string(), in_rep, one));
            }
            groups(&c.sub, in_rep, out);
        }
        HirKind::Repetition(r) => groups(&r.sub, in_rep || r.max != Some(1), out),
        HirKind::Concat(v) | HirKind::Alternation(v) => {
            for x in v {
                groups(x, in_rep, out);
            }
        }
        _ => {}
    }
}

impl Checked {
    /// The stand-in for a fancy pattern whose only fancy constructs are
    /// back-references; None when some reference is not of the kind checked here.
    pub fn new(fancy: &str) -> Option<Checked> {
        let (pattern, names) = rewrite(fancy);
        if names.is_empty() {
            return None;
        }
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(&pattern)
            .ok()?;
        let mut gs = Vec::new();
        groups(&hir, false, &mut gs);
        let mut pairs = Vec::new();
        for (k, name) in names.iter().enumerate() {
            let copy = format!("{COPY}{k}");
            let (ci, _, crep, _) = gs.iter().find(|g| g.1 == copy)?;
            // Numeric references (group numbers shift with the copies) stay fancy.
            let (gi, _, grep, one) = gs.iter().find(|g| g.1 == *name)?;
            if *crep || *grep || !*one || gi >= ci {
                return None;
            }
            pairs.push((*gi, *ci));
        }
        let re = regex::Regex::new(&pattern).ok()?;
        let names: Vec<_> = re.capture_names().map(|n| n.map(str::to_string)).collect();
        let fast = fast::Fast::linear(hir, &pattern, &names);
        let mut copies: Vec<usize> = pairs.iter().map(|p| p.1).collect();
        copies.sort_unstable_by(|a, b| b.cmp(a));
        Some(Checked {
            re,
            fast,
            pairs,
            copies,
        })
    }

    /// The original's group spans of its first match at or after `pos`: `Ok(None)` when
    /// there is none, `Err` when the check fails (the fancy engine must decide).
    pub fn spans(
        &self,
        text: &str,
        pos: usize,
        ascii: &mut Option<bool>,
    ) -> Result<Option<Spans>, ()> {
        let spans = if *ascii.get_or_insert_with(|| text.is_ascii()) && self.fast.ascii().is_some()
        {
            self.fast.ascii_spans(text, pos)
        } else {
            self.re.captures_at(text, pos).map(|caps| {
                caps.iter()
                    .map(|m| m.map(|m| (m.start(), m.end())))
                    .collect()
            })
        };
        match spans {
            Some(spans) => self.settle(text, spans).map(Some),
            None => Ok(None),
        }
    }

    /// The span of the linear pattern's first match at or after `pos` in an ASCII
    /// `text`, by its DFAs (`Some(None)`: none, so the original has none either); None
    /// when they cannot tell. Not necessarily the original's match (see
    /// [`Checked::short_spans`]).
    pub fn span(&self, text: &str, pos: usize) -> Option<Option<(usize, usize)>> {
        let re = self.fast.ascii()?;
        let input = regex_automata::Input::new(text).range(pos..);
        Some(re.find(input).map(|m| (m.start(), m.end())))
    }

    /// The original's group spans of the match starting at `start`, by the small
    /// backtracker (see [`fast::Fast::short_spans`]); None when no match of the linear
    /// pattern starts there, the backtracker cannot tell, or the check fails (the
    /// caller then searches as usual).
    pub fn short_spans(&self, text: &str, start: usize) -> Option<Spans> {
        let spans = self.fast.short_spans(text, start)?;
        self.settle(text, spans).ok()
    }

    /// `spans` of the linear pattern checked and renumbered as the original's; `Err`
    /// when a copy's text differs from its group's.
    fn settle(&self, text: &str, mut spans: Spans) -> Result<Spans, ()> {
        for &(g, c) in &self.pairs {
            match (
                spans.get(g).copied().flatten(),
                spans.get(c).copied().flatten(),
            ) {
                // The reference was not on the path: nothing to check.
                (_, None) => {}
                (Some((a, b)), Some((x, y))) if text.get(a..b) == text.get(x..y) => {}
                _ => return Err(()),
            }
        }
        for &c in &self.copies {
            if c < spans.len() {
                spans.remove(c);
            }
        }
        Ok(spans)
    }
}

#[cfg(test)]
mod tests {
    use crate::filter::pyre::{Flags, compile, translate};

    /// The checked stand-in gives what fancy-regex gives, match or not.
    #[test]
    fn checked_backrefs_agree_with_fancy() {
        let pats = [
            r"(?P<y>\d{4})(?P<_sep>[-/.])(?P<m>\d\d)(?P=_sep)(?P<d>\d\d)",
            r"^(?P<a>[ab])x(?P=a)$",
            r"(?P<q>['\x22])(?P<v>[^'\x22]*)(?P=q)",
            r"(?:(?P<s>-)|/)(?P<n>\d+)(?P=s)?",
            // The stand-in's first path fails the check; a later one of the original
            // is longer than the stand-in's match, a still later one as long.
            r"(?P<a>.)(?:(?P=a)|.{8}|.)",
        ];
        let texts = [
            "2024-01-02 x",
            "2024/01-02 and 2024.03.04",
            "2024/01-02",
            "axa",
            "axb",
            "say 'hi\" or \"yo\"",
            "/12/",
            "-12-",
            "-12/",
            "xy123456789",
            "xx1",
            "xy12",
            "-7-",
            "/77/",
            "--",
            "",
        ];
        let (mut short_told, mut confirmed) = (0, 0);
        for p in pats {
            let re = compile(p, Flags::default()).expect("compiles");
            assert!(re.checked().is_some(), "{p} has a linear stand-in");
            let t = translate(p, false, false).expect("translates");
            let fancy = fancy_regex::Regex::new(&t.fancy).expect("fancy");
            for text in texts {
                for pos in [0, 2] {
                    if pos > text.len() {
                        continue;
                    }
                    let want = fancy
                        .captures_from_pos(text, pos)
                        .expect("no limit")
                        .map(|c| {
                            c.iter()
                                .map(|m| m.map(|m| (m.start(), m.end())))
                                .collect::<Vec<_>>()
                        });
                    let spans = |m: crate::filter::pyre::Match<'_>| m.spans().to_vec();
                    let got = re.search(text, pos).map(spans);
                    assert_eq!(got, want, "{p} on {text:?} at {pos}");
                    // The small backtracker answers only for a match starting at `pos`.
                    if let Some(s) = re.search_short(text, pos).map(spans) {
                        assert_eq!(Some(&s), want.as_ref(), "short: {p} on {text:?} at {pos}");
                        short_told += 1;
                    }
                    // The stand-in's span: none means no match; one confirmed by the
                    // backtracker on the text cut past it is the match.
                    match re.stand_in_span(text, pos) {
                        Some(None) => assert!(want.is_none(), "{p} on {text:?} at {pos}"),
                        Some(Some((a, b))) => {
                            let cut = &text[..(b + 4).min(text.len())];
                            if let Some(s) = re.search_short(cut, a)
                                && s.span(0) == Some((a, b))
                            {
                                assert_eq!(Some(spans(s)), want, "span: {p} on {text:?}");
                                confirmed += 1;
                            }
                        }
                        // (a pattern the translator made linear: no stand-in needed)
                        None => {}
                    }
                }
            }
        }
        assert!(
            short_told >= 5 && confirmed >= 5,
            "{short_told} {confirmed}"
        );
        // The stand-in's first match ("xy") fails the check: the backtracker refuses to
        // confirm its span, and the search finds the original's longer match.
        let re = compile(pats[4], Flags::default()).expect("compiles");
        let text = "xy123456789";
        assert_eq!(re.stand_in_span(text, 0), Some(Some((0, 2))));
        assert!(re.search_short(&text[..6], 0).is_none());
        assert_eq!(re.search(text, 0).map(|m| m.span(0)), Some(Some((0, 9))));
    }
}
