//! Patterns of the shape fail2ban's prefregexes take, `^HEAD(?P<content>.+)$` (the
//! head a run of plain pieces and groups around plain pieces, the last group taking
//! the rest of the line), matched without a capture engine ([`Tail`]).
//!
//! A backtracking engine takes the head's first completing path in priority order,
//! then tries `.+$`, which holds from any point short of the line end when no `\n`
//! follows it there. So the match is the head's first path whenever that path leaves
//! part of the line over; anything else (the head eats the line, an interior `\n`)
//! is left to the full engine. The head's first path is found piece by piece, each
//! piece by one anchored leftmost-first DFA search from the last one's end: that is
//! the path the whole head takes when everything after a piece can match the empty
//! text anywhere (no assertion in it), so a later piece never makes the engine come
//! back into an earlier one. A head where that does not hold gets no `Tail`.

use regex_automata::{Anchored, Input, meta};
use regex_syntax::hir::literal::Extractor;
use regex_syntax::hir::{Class, Hir, HirKind, Look};

use super::GroupSpan;

/// The pieces of the head, searched one after another (see the module doc).
#[derive(Debug)]
pub(super) struct Tail {
    pieces: Vec<Piece>,
    /// The group of the `.+` taking the rest of the line.
    rest: usize,
    /// Group slots of a match (group 0 included).
    groups: usize,
}

#[derive(Debug)]
struct Piece {
    re: meta::Regex,
    /// The group the piece is (None: a stretch of plain pieces).
    group: Option<usize>,
    /// For a piece that always matches: the bytes its non-empty matches can begin
    /// with (a bit each). At any other byte its match is the empty one, no search
    /// needed (sshd's `error: ` piece, on nearly every line).
    skip: Option<[u64; 4]>,
}

/// The bytes a non-empty match of `h` can begin with, from its literal prefixes; None
/// when they are not all known (a large class, say).
fn first_bytes(h: &Hir) -> Option<[u64; 4]> {
    let seq = Extractor::new().extract(h);
    let mut first = [0u64; 4];
    for l in seq.literals()? {
        match l.as_bytes().first() {
            Some(&b) => first[usize::from(b >> 6)] |= 1 << (b & 63),
            // an exact empty prefix is the empty match itself; an inexact one could
            // be followed by anything
            None if l.is_exact() => {}
            None => return None,
        }
    }
    Some(first)
}

/// Whether `h` always matches, at any point of any text: it can match the empty text
/// and asserts nothing.
fn always(h: &Hir) -> bool {
    h.properties().minimum_len() == Some(0) && h.properties().look_set().is_empty()
}

/// Whether `h` is `.` as a `&str` pattern without `s` has it: every char but `\n`.
fn any_but_newline(h: &Hir) -> bool {
    let HirKind::Class(Class::Unicode(c)) = h.kind() else {
        return false;
    };
    let r = c.ranges();
    r.len() == 2
        && (r[0].start(), r[0].end()) == ('\0', '\x09')
        && (r[1].start(), r[1].end()) == ('\x0b', char::MAX)
}

impl Tail {
    /// For a pattern text that can take the shape: a cheap test on the text first, as
    /// most patterns cannot (each would otherwise be parsed again). The text is the
    /// translation's, which writes Python's non-multiline `$` as `(?m:$)`.
    pub fn maybe(pattern: &str, hir: impl FnOnce() -> Option<Hir>, groups: usize) -> Option<Tail> {
        if !pattern.starts_with('^') || !pattern.ends_with(".+)(?m:$)") {
            return None;
        }
        Tail::new(&hir()?, groups)
    }

    /// None unless `hir` is `^`, the head, a group of `.+`, then `(?m:$)`, with every
    /// cut between the head's pieces a point after which the head always matches.
    pub fn new(hir: &Hir, groups: usize) -> Option<Tail> {
        let HirKind::Concat(items) = hir.kind() else {
            return None;
        };
        let [start, head @ .., last, end] = items.as_slice() else {
            return None;
        };
        if *start.kind() != HirKind::Look(Look::Start) || *end.kind() != HirKind::Look(Look::EndLF)
        {
            return None;
        }
        let HirKind::Capture(c) = last.kind() else {
            return None;
        };
        let HirKind::Repetition(r) = c.sub.kind() else {
            return None;
        };
        if (r.min, r.max, r.greedy) != (1, None, true) || !any_but_newline(&r.sub) {
            return None;
        }
        let rest = c.index as usize;
        // The head cut into plain stretches and groups, each with the index of the
        // item after it.
        let mut cuts: Vec<(Vec<Hir>, Option<usize>, usize)> = Vec::new();
        let mut plain = Vec::new();
        for (i, h) in head.iter().enumerate() {
            match h.kind() {
                HirKind::Capture(c) => {
                    if c.sub.properties().explicit_captures_len() > 0 {
                        return None;
                    }
                    if !plain.is_empty() {
                        cuts.push((std::mem::take(&mut plain), None, i));
                    }
                    cuts.push((vec![(*c.sub).clone()], Some(c.index as usize), i + 1));
                }
                _ if h.properties().explicit_captures_len() > 0 => return None,
                _ => plain.push(h.clone()),
            }
        }
        if !plain.is_empty() {
            cuts.push((plain, None, head.len()));
        }
        if cuts.is_empty() || rest >= groups {
            return None;
        }
        let mut pieces = Vec::with_capacity(cuts.len());
        for (hirs, group, after) in cuts {
            if !head[after..].iter().all(always) || group.is_some_and(|g| g >= groups) {
                return None;
            }
            let hir = Hir::concat(hirs);
            let skip = always(&hir).then(|| first_bytes(&hir)).flatten();
            let re = super::fast::build(&hir)?;
            pieces.push(Piece { re, group, skip });
        }
        Some(Tail {
            pieces,
            rest,
            groups,
        })
    }

    /// The spans of the match at the start of `text`, when the head's first path
    /// leaves part of the line over (None: the full engine decides).
    pub fn spans(&self, text: &str) -> Option<Vec<GroupSpan>> {
        let mut spans = vec![None; self.groups];
        let mut at = 0;
        for p in &self.pieces {
            let rest = text.get(at..).filter(|r| !r.is_empty());
            let end = match (p.skip, rest) {
                (Some(s), Some(r)) if !super::Regex::may_start(&s, r) => at,
                _ => {
                    let input = Input::new(text).range(at..).anchored(Anchored::Yes);
                    p.re.search_half(&input)?.offset()
                }
            };
            if let Some(g) = p.group {
                spans[g] = Some((at, end));
            }
            at = end;
        }
        let b = text.as_bytes();
        let end = b.len() - usize::from(b.last() == Some(&b'\n'));
        if at >= end || memchr::memchr(b'\n', &b[at..end]).is_some() {
            return None;
        }
        spans[self.rest] = Some((at, end));
        spans[0] = Some((0, end));
        Some(spans)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::{Flags, compile};

    /// The regex survey's patterns (non-multiline) and every input recorded for any.
    fn survey() -> Option<(BTreeSet<String>, BTreeSet<String>)> {
        let by_pattern = super::super::survey::sample_inputs()?;
        let patterns = by_pattern
            .keys()
            .filter(|(_, ml)| !ml)
            .map(|(p, _)| p.clone());
        let inputs = by_pattern.values().flatten().cloned();
        Some((patterns.collect(), inputs.collect()))
    }

    /// Each input as the matcher searches it, then cut after each space (the head may
    /// then take the whole text), with an interior newline, and with prefixes the
    /// shipped prefregexes treat specially.
    fn variants(input: &str) -> Vec<String> {
        let mut out = vec![input.to_string(), format!("{input}\n")];
        for (i, _) in input.match_indices(' ') {
            out.push(format!("{}\n", &input[..=i]));
        }
        if let Some(i) = input.find(": ") {
            let (a, b) = input.split_at(i + 2);
            out.push(format!("{a}error: {b}\n"));
            out.push(format!("{a}fatal: PAM: {b}\n"));
            out.push(format!("{a}\n{b}\n"));
            out.push(format!("{a}error: \n"));
        }
        out
    }

    /// Wherever the DFA-only form answers, it gives the groups the engines give, on
    /// every survey pattern that has one and every recorded input of the survey; and
    /// the shipped filters' prefregexes of the form have one.
    #[test]
    fn the_dfa_only_form_gives_the_engines_groups() {
        let Some((patterns, inputs)) = survey() else {
            return;
        };
        let texts: Vec<String> = inputs.iter().flat_map(|i| variants(i)).collect();
        let (mut shaped, mut answered, mut left) = (Vec::new(), 0usize, 0usize);
        for p in &patterns {
            let Ok(re) = compile(p, Flags::default()) else {
                continue;
            };
            let Some(t) = re.tail() else {
                continue;
            };
            shaped.push(p.clone());
            for text in &texts {
                let want = re
                    .search_engines(text, 0)
                    .ok()
                    .flatten()
                    .map(|m| m.into_spans());
                match t.spans(text) {
                    Some(got) => {
                        answered += 1;
                        assert_eq!(Some(got), want, "pattern {p:?} on {text:?}");
                    }
                    None => left += 1,
                }
            }
        }
        eprintln!(
            "{} shaped patterns, {answered} answers checked, {left} left to the engines",
            shaped.len()
        );
        let sshd = shaped
            .iter()
            .any(|p| p.contains("(?P<mlfid>") && p.contains("sshd"));
        assert!(sshd, "the sshd prefregex has a DFA-only form: {shaped:#?}");
        assert!(answered > 10_000 && left > 1_000, "{answered} / {left}");
    }

    /// Shapes it must refuse: a head piece after a group that can fail (the engine may
    /// come back into the group), groups in groups, and no rest-of-line group.
    #[test]
    fn heads_a_later_piece_can_fail_get_no_dfa_only_form() {
        for p in [
            r"^(?P<a>\S+) x(?P<content>.+)$",
            r"^(?P<a>(?P<b>\S+)\s)?(?P<content>.+)$",
            r"^(?P<a>\S+\s)?(?P<content>.*)$",
            r"^(?P<a>\S+\s)?(?P<content>.+)",
            r"(?P<a>\S+\s)?(?P<content>.+)$",
            r"^(?P<a>(?:\S+\s)?)\b(?P<content>.+)$",
        ] {
            let re = compile(p, Flags::default()).expect("compiles");
            assert!(re.tail().is_none(), "{p}");
        }
        let re = compile(
            r"^(?P<a>(?:\S+\s)?)(?:x: )?(?P<content>.+)$",
            Flags::default(),
        )
        .expect("compiles");
        let t = re.tail().expect("the prefregex shape");
        let spans = t.spans("host x: rest\n").expect("answered");
        assert_eq!(spans, vec![Some((0, 12)), Some((0, 5)), Some((8, 12))]);
        assert_eq!(t.spans("host \n"), None, "the head took the whole line");
        assert_eq!(t.spans("host a\nb\n"), None, "an interior newline");
    }
}
