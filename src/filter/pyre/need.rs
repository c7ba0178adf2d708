//! The literals a pattern's every match holds ([`Needs`]): a few byte strings, one of
//! which is in any text the pattern matches. A text holding none of them cannot match,
//! and a literal search (vectorised, a fraction of a byte's automaton step) tells that
//! before a prefilter automaton reads the whole line: most lines of a busy log hold
//! none of a filter's words.
//!
//! Read from the ASCII form of a pattern (see `fast::ascii_hir`), for ASCII texts: a
//! class there is one byte, or a letter's two cases, or it ends a literal. Read from a
//! Unicode pattern, they hold for any text: there a class with a non-ASCII member ends
//! a literal too, and a literal is its characters' UTF-8 bytes.

use aho_corasick::AhoCorasick;
use regex_syntax::hir::{Class, Hir, HirKind};

/// Literals at most: a longer list finds one in most lines anyway.
const MAX_NEEDS: usize = 48;
/// Spellings one literal may take (each case-insensitive letter doubles them).
const MAX_SPELLINGS: usize = 8;
/// The shortest literal worth searching for: a shorter one is in most lines.
const MIN_LEN: usize = 3;

/// One of these literals (exact bytes) is in every text the pattern matches.
#[derive(Debug)]
pub(super) enum Needs {
    /// One literal: a single-substring search, several times Teddy's speed for one.
    One(memchr::memmem::Finder<'static>),
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

impl Needs {
    /// The literals of `h` (an ASCII pattern); None when some match may hold none of
    /// them, or none worth searching for.
    pub fn of(h: &Hir) -> Option<Needs> {
        let set = needs(h)?;
        if set.is_empty() || set.iter().any(|l| l.len() < MIN_LEN) {
            return None;
        }
        if let [one] = &set[..] {
            return Some(Needs::One(memchr::memmem::Finder::new(one).into_owned()));
        }
        // The vectorised searcher where the CPU has one (it serves leftmost-first; any
        // match will do), else the automaton.
        let packed = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(&set)
            .build();
        match packed {
            Some(p) => Some(Needs::Packed(p)),
            None => AhoCorasick::new(&set).ok().map(Needs::Automaton),
        }
    }

    /// Whether `text` holds one of the literals (false: the pattern cannot match it).
    pub fn found_in(&self, text: &[u8]) -> bool {
        match self {
            Needs::One(f) => f.find(text).is_some(),
            Needs::Packed(p) => p.find(text).is_some(),
            Needs::Automaton(a) => a.is_match(text),
        }
    }
}

/// Whether looking for the literals before a scan pays, learnt over its first texts:
/// the answer is the scan's either way, but on a log where most lines hold one of the
/// words (sshd's " user "), or where the scan's automaton gives up on a line within
/// its first bytes (nginx's), the search costs more than it spares.
#[derive(Debug, Default)]
pub(super) struct Trial {
    /// Texts looked in.
    pub texts: u32,
    /// Over the trial: bytes of the texts looked in, and bytes the automaton would have
    /// read in those the literals ruled out.
    looked: u64,
    spared: u64,
}

impl Trial {
    /// Texts the trial lasts.
    pub const TEXTS: u32 = 256;

    /// Whether to look in the next text: during the trial, and after it where the
    /// automaton would have read at least twice what the literal search reads.
    pub fn looks(&self) -> bool {
        self.counting() || self.spared * 2 > self.looked
    }

    /// Whether the trial is on (the caller then tells what a ruled-out text spares).
    pub fn counting(&self) -> bool {
        self.texts < Self::TEXTS
    }

    /// A text of `len` bytes looked in.
    pub fn looked_in(&mut self, len: usize) {
        if self.counting() {
            self.looked += len as u64;
        }
        self.texts = self.texts.saturating_add(1);
    }

    /// During the trial: a ruled-out text the automaton would have read `read` bytes of.
    pub fn spared(&mut self, read: usize) {
        self.spared += read as u64;
    }
}

/// A set of literals, one of which every match holds.
type Set = Vec<Vec<u8>>;

/// The better of two sets: the longer shortest literal (rarer in texts), then fewer.
fn better(a: Option<Set>, b: Option<Set>) -> Option<Set> {
    let score = |s: &Set| {
        let shortest = s.iter().map(Vec::len).min().unwrap_or(0);
        (shortest, usize::MAX - s.len())
    };
    match (a, b) {
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// What one byte of a literal may be: itself, or a letter in either case. None for a
/// class with a non-ASCII member (a Unicode pattern's: that character is no one byte).
fn byte_of(h: &Hir) -> Option<Vec<u8>> {
    let HirKind::Class(c) = h.kind() else {
        return None;
    };
    let ascii = match c {
        Class::Unicode(u) => u.is_ascii(),
        Class::Bytes(b) => b.is_ascii(),
    };
    if !ascii {
        return None;
    }
    let bits = super::fast::ascii_members(c);
    let members: Vec<u8> = (0..128u8).filter(|&b| bits >> b & 1 == 1).collect();
    match members[..] {
        [b] => Some(vec![b]),
        [a, b] if a.is_ascii_uppercase() && b == a.to_ascii_lowercase() => Some(vec![a, b]),
        _ => None,
    }
}

/// Literal runs in a row of parts: each part extends every spelling so far.
struct Run {
    spellings: Set,
    best: Option<Set>,
}

impl Run {
    fn new() -> Run {
        Run {
            spellings: vec![Vec::new()],
            best: None,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        for s in &mut self.spellings {
            s.extend_from_slice(bytes);
        }
    }

    /// One more byte that may be any of `choices`.
    fn push_choice(&mut self, choices: &[u8]) {
        if choices.len() > 1 && self.spellings.len() * choices.len() > MAX_SPELLINGS {
            self.end();
        }
        let mut next = Vec::with_capacity(self.spellings.len() * choices.len());
        for s in &self.spellings {
            for &c in choices {
                let mut t = s.clone();
                t.push(c);
                next.push(t);
            }
        }
        self.spellings = next;
    }

    /// The run so far is a candidate; a new one starts.
    fn end(&mut self) {
        let run = std::mem::replace(&mut self.spellings, vec![Vec::new()]);
        if run.first().is_some_and(|s| !s.is_empty()) {
            self.best = better(self.best.take(), Some(run));
        }
    }
}

/// The literals every match of `h` holds one of (None: no such set found).
fn needs(h: &Hir) -> Option<Set> {
    match h.kind() {
        HirKind::Literal(l) => Some(vec![l.0.to_vec()]),
        HirKind::Class(_) => byte_of(h).map(|b| b.into_iter().map(|c| vec![c]).collect()),
        HirKind::Capture(c) => needs(&c.sub),
        // (a repetition that may be empty holds nothing for sure)
        HirKind::Repetition(r) if r.min >= 1 => needs(&r.sub),
        HirKind::Alternation(branches) => {
            let mut all = Set::new();
            for b in branches {
                all.extend(needs(b)?);
                if all.len() > MAX_NEEDS {
                    return None;
                }
            }
            all.sort();
            all.dedup();
            Some(all)
        }
        HirKind::Concat(parts) => {
            // A match of the row is its parts' matches back to back: literal parts next
            // to each other (an assertion between them reads no byte) form one literal.
            let mut run = Run::new();
            for p in parts {
                match p.kind() {
                    HirKind::Literal(l) => run.push(&l.0),
                    HirKind::Look(_) | HirKind::Empty => {}
                    _ => match byte_of(p) {
                        Some(choices) => run.push_choice(&choices),
                        None => {
                            run.end();
                            run.best = better(run.best.take(), needs(p));
                        }
                    },
                }
            }
            run.end();
            run.best
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::pyre::fast::{ascii_hir, parse_checked};

    fn needs_of(p: &str) -> Option<Set> {
        needs(&ascii_hir(&parse_checked(p).expect("parses")))
    }

    fn strs(s: &[&str]) -> Set {
        s.iter().map(|x| x.as_bytes().to_vec()).collect()
    }

    #[test]
    fn literals_every_match_holds() {
        assert_eq!(needs_of(r"^Failed \S+ for"), Some(strs(&["Failed "])));
        // an optional part holds nothing for sure; the rest of the row does
        assert_eq!(needs_of(r"x(?:error: )?from \d+"), Some(strs(&["from "])));
        assert_eq!(needs_of(r"(?:abc)*\d"), None);
        // branches: one literal of each
        assert_eq!(
            needs_of(r"^(?:ab|cd) connection from"),
            Some(strs(&[" connection from"]))
        );
        assert_eq!(
            needs_of(r"\d(?:Connection closed|Disconnected)\d"),
            Some(strs(&["Connection closed", "Disconnected"]))
        );
        assert_eq!(needs_of(r"\d(?:abcd|\w+)\d"), None);
        // a letter in either case doubles the spellings, up to a bound
        assert_eq!(needs_of(r"\d[aA]uth\d"), Some(strs(&["Auth", "auth"])));
        let many = needs_of(r"(?i)\dauthentication\d").expect("a set");
        assert!(many.len() <= MAX_SPELLINGS, "{many:?}");
        assert!(many.iter().all(|s| s.len() >= MIN_LEN));
        // an assertion reads no byte: the literal goes on across it
        assert_eq!(needs_of(r"\d\bab\bcd\d"), Some(strs(&["abcd"])));
    }

    /// On every survey pattern with a linear form, and each of its recorded ASCII
    /// inputs: when the pattern matches, the input holds one of its literals; when it
    /// holds none, the pattern does not match.
    #[test]
    fn a_text_without_the_literals_never_matches_on_the_survey() {
        let Some(inputs) = crate::filter::pyre::survey::sample_inputs() else {
            return;
        };
        let (mut patterns, mut matched, mut ruled_out) = (0usize, 0usize, 0usize);
        for f in crate::filter::pyre::survey::linear_forms(&inputs) {
            let (p, texts, exact) = (f.pattern, f.texts, &f.exact);
            let Some(n) = Needs::of(&f.ascii) else {
                continue;
            };
            patterns += 1;
            for t in texts.iter().filter(|t| t.is_ascii()) {
                let found = n.found_in(t.as_bytes());
                if exact.is_match(t) {
                    matched += 1;
                    assert!(found, "{p}: {t:?} matches without a literal");
                } else if !found {
                    ruled_out += 1;
                }
            }
        }
        eprintln!(
            "{patterns} patterns: {matched} matches held a literal, {ruled_out} texts ruled out"
        );
        assert!(patterns > 200 && matched > 800 && ruled_out > 4_000);
    }
}
