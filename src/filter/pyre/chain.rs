//! Group extraction without the backtracker: a [`Chain`] of anchored lazy-DFA searches.
//!
//! The engines report, for leftmost-first patterns, the match a backtracking engine would:
//! the first path, in priority order, that completes. For a concatenation `A·B·C` that
//! first path is (first completing path of `A`, then of `B` from where `A` ended, …)
//! whenever each of these steps succeeds. So a pattern is cut at its groups into
//! capture-free pieces ([`Node::Run`], one anchored DFA search each), groups
//! ([`Node::Open`]/[`Node::Close`], a group's bounds), greedy class runs with steps
//! after them ([`Node::Back`], shortened as a backtracker would until the rest matches) and
//! alternations holding groups ([`Node::Alt`]: the first branch that matches on its own
//! is the branch of the first path). When a step fails the chain cannot tell what a
//! backtracker would do and answers "unknown"; the caller then runs the exact engine.
//! Every answer is exact: a chain that completes is the engine's own match. Built from
//! the ASCII twin's HIR on first use; a pattern whose chains keep failing (e.g. a greedy
//! `.*` group followed by more text) stops trying.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::meta;
use regex_automata::nfa::thompson;
use regex_automata::{Anchored, Input, MatchKind};
use regex_syntax::hir::{Hir, HirKind};

/// A capture-free piece searched anchored: a small dense DFA walked by hand (a few
/// instructions a byte, no per-search set-up), else the meta engine.
#[derive(Debug)]
enum Piece {
    Dense(Box<dense::DFA<Vec<u32>>>),
    Meta(meta::Regex),
    /// A greedy unbounded run of "any ASCII byte but `\n`" (`.*`, `.+`, with `dotall`
    /// any byte at all) needing `min` bytes: on ASCII text its first completing path
    /// ends at the next `\n` (or the text end), which `memchr` finds far faster than a
    /// DFA walk over a long line.
    Line {
        min: usize,
        dotall: bool,
    },
}

/// The [`Piece::Line`] shape of `h`, if it has it: `(min, dotall)`.
fn line_run(h: &Hir) -> Option<(usize, bool)> {
    let (bits, min) = class_run(h)?;
    if bits == u128::MAX {
        Some((min, true))
    } else if bits == !(1u128 << b'\n') {
        Some((min, false))
    } else {
        None
    }
}

/// A greedy unbounded repetition of one class, needing at most one char: the ASCII
/// members of the class (a bitmap of 128 bits) and the minimum count.
fn class_run(h: &Hir) -> Option<(u128, usize)> {
    use regex_syntax::hir::Class;
    let HirKind::Repetition(r) = h.kind() else {
        return None;
    };
    if !r.greedy || r.max.is_some() || r.min > 1 {
        return None;
    }
    // The ASCII members of the class, as a bitmap of 128 bits.
    let mut bits = 0u128;
    match r.sub.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            for rg in c.ranges() {
                let (lo, hi) = (u32::from(rg.start()), u32::from(rg.end()).min(0x7f));
                for b in lo..=hi {
                    bits |= 1 << b;
                }
            }
        }
        HirKind::Class(Class::Bytes(c)) => {
            for rg in c.ranges() {
                for b in u32::from(rg.start())..=u32::from(rg.end()).min(0x7f) {
                    bits |= 1 << b;
                }
            }
        }
        _ => return None,
    }
    Some((bits, r.min as usize))
}

/// NFAs above this many states go to the meta engine without a dense DFA.
const DENSE_NFA_LIMIT: usize = 200;

/// Dense DFAs above this size are not worth their memory: the meta engine does.
const DENSE_LIMIT: usize = 256 * 1024;

impl Piece {
    fn new(h: &Hir) -> Option<Piece> {
        if let Some((min, dotall)) = line_run(h) {
            return Some(Piece::Line { min, dotall });
        }
        let dense = thompson::Compiler::new()
            .configure(thompson::Config::new().which_captures(thompson::WhichCaptures::None))
            .build_from_hir(h)
            .ok()
            // Determinizing a big NFA costs more than its searches ever save.
            .filter(|nfa| nfa.states().len() <= DENSE_NFA_LIMIT)
            .and_then(|nfa| {
                dense::Builder::new()
                    .configure(
                        dense::Config::new()
                            .match_kind(MatchKind::LeftmostFirst)
                            .start_kind(StartKind::Anchored)
                            .dfa_size_limit(Some(DENSE_LIMIT))
                            .determinize_size_limit(Some(4 * DENSE_LIMIT)),
                    )
                    .build_from_nfa(&nfa)
                    .ok()
            });
        match dense {
            Some(d) => Some(Piece::Dense(Box::new(d))),
            None => super::fast::build(h).map(Piece::Meta),
        }
    }

    /// The end of the first completing path at `pos` (`Ok(None)`: no match; `Err`: the
    /// DFA gave up).
    fn end(&self, text: &str, pos: usize) -> Result<Option<usize>, ()> {
        let mut unlimited = usize::MAX;
        self.end_within(text, pos, &mut unlimited)
    }

    /// [`Piece::end`] reading at most `budget` bytes (`Err` once spent).
    fn end_within(&self, text: &str, pos: usize, budget: &mut usize) -> Result<Option<usize>, ()> {
        let input = Input::new(text).range(pos..).anchored(Anchored::Yes);
        let dfa = match self {
            Piece::Meta(re) => {
                *budget = budget.checked_sub(text.len() - pos).ok_or(())?;
                return Ok(re.search(&input).map(|m| m.end()));
            }
            Piece::Dense(d) => d,
            Piece::Line { min, dotall } => {
                let rest = text.as_bytes().get(pos..).unwrap_or_default();
                let len = match dotall {
                    true => rest.len(),
                    false => memchr::memchr(b'\n', rest).unwrap_or(rest.len()),
                };
                *budget = budget.checked_sub(len).ok_or(())?;
                return Ok((len >= *min).then_some(pos + len));
            }
        };
        let mut sid = dfa.start_state_forward(&input).map_err(|_| ())?;
        let mut last = None;
        let bytes = text.as_bytes();
        for (at, &b) in bytes.iter().enumerate().skip(pos) {
            *budget = budget.checked_sub(1).ok_or(())?;
            sid = dfa.next_state(sid, b);
            if dfa.is_special_state(sid) {
                // A DFA enters its match state one byte after the match ends.
                if dfa.is_match_state(sid) {
                    last = Some(at);
                } else if dfa.is_dead_state(sid) {
                    return Ok(last);
                } else if dfa.is_quit_state(sid) {
                    // Not on ASCII pieces and text; the caller asks the engine.
                    return Err(());
                }
            }
        }
        sid = dfa.next_eoi_state(sid);
        if dfa.is_match_state(sid) {
            last = Some(bytes.len());
        }
        Ok(last)
    }
}

/// One step of a chain.
#[derive(Debug)]
enum Node {
    /// A capture-free piece, searched anchored where the previous one ended.
    Run(Piece),
    /// A group opens or closes here: its span is between the two.
    Open(usize),
    Close(usize),
    /// A greedy unbounded run of one class (ASCII members as a bitmap) with more steps
    /// after it in the same chain: its first path is the longest run after which the
    /// rest (`rest`, the later steps without groups) matches, found by trying shorter
    /// runs as a backtracker would.
    Back {
        bits: u128,
        min: usize,
        rest: Rest,
    },
    /// An alternation (or `?`) with groups: per branch, the branch without groups (to
    /// pick the branch) and its own chain.
    Alt(Vec<(Piece, Vec<Node>)>),
}

/// The chain of one pattern, with its success statistics.
#[derive(Debug)]
pub(super) struct Chain {
    nodes: Vec<Node>,
    tries: AtomicU32,
    fails: AtomicU32,
}

/// Attempts after which a chain that mostly fails is given up.
const PROBATION: u32 = 64;

fn has_caps(h: &Hir) -> bool {
    h.properties().explicit_captures_len() > 0
}

/// `h` with its groups dissolved (same language, same priorities).
fn strip(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Capture(c) => strip(&c.sub),
        HirKind::Concat(v) => Hir::concat(v.iter().map(strip).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(strip).collect()),
        HirKind::Repetition(r) => {
            let mut r = r.clone();
            r.sub = Box::new(strip(&r.sub));
            Hir::repetition(r)
        }
        _ => h.clone(),
    }
}

/// The later steps of a [`Node::Back`] as one piece, built on first need (most runs
/// never need to shorten).
#[derive(Debug, Default)]
struct Rest {
    hir: Option<Hir>,
    piece: OnceLock<Option<Piece>>,
}

impl Rest {
    fn get(&self) -> Option<&Piece> {
        self.piece
            .get_or_init(|| self.hir.as_ref().and_then(Piece::new))
            .as_ref()
    }
}

/// A chain under construction: its steps and, per step, the step's language without
/// groups (to build the `rest` of [`Node::Back`] steps).
#[derive(Default)]
struct Build {
    nodes: Vec<Node>,
    hirs: Vec<Hir>,
}

impl Build {
    fn push(&mut self, n: Node, h: Hir) {
        self.nodes.push(n);
        self.hirs.push(h);
    }

    /// The finished chain: each [`Node::Back`] gets the piece for the steps after it.
    fn finish(mut self) -> Option<Vec<Node>> {
        for k in 0..self.nodes.len() {
            if let Node::Back { rest, .. } = &mut self.nodes[k] {
                rest.hir = Some(Hir::concat(self.hirs[k + 1..].to_vec()));
            }
        }
        Some(self.nodes)
    }
}

fn flush(pending: &mut Vec<Hir>, out: &mut Build) -> Option<()> {
    if !pending.is_empty() {
        let h = Hir::concat(std::mem::take(pending));
        match class_run(&h) {
            Some((bits, min)) => out.push(
                Node::Back {
                    bits,
                    min,
                    rest: Rest::default(),
                },
                h,
            ),
            None => out.push(Node::Run(Piece::new(&h)?), h),
        }
    }
    Some(())
}

/// Appends the nodes of `h` (capture-free parts collect in `pending`). None when `h`
/// has a group the chain cannot place (inside a real repetition).
fn nodes(h: &Hir, pending: &mut Vec<Hir>, out: &mut Build) -> Option<()> {
    if !has_caps(h) {
        pending.push(h.clone());
        return Some(());
    }
    match h.kind() {
        HirKind::Capture(c) => {
            flush(pending, out)?;
            let index = c.index as usize;
            out.push(Node::Open(index), Hir::empty());
            nodes(&c.sub, pending, out)?;
            flush(pending, out)?;
            out.push(Node::Close(index), Hir::empty());
        }
        HirKind::Concat(v) => {
            for x in v {
                nodes(x, pending, out)?;
            }
        }
        HirKind::Alternation(v) => {
            flush(pending, out)?;
            out.push(alt(v.to_vec())?, strip(h));
        }
        // `X?` is `X|` (greedy) or `|X` (lazy); other repetitions of groups are out.
        HirKind::Repetition(r) if r.min == 0 && r.max == Some(1) => {
            flush(pending, out)?;
            let branches = if r.greedy {
                vec![(*r.sub).clone(), Hir::empty()]
            } else {
                vec![Hir::empty(), (*r.sub).clone()]
            };
            out.push(alt(branches)?, strip(h));
        }
        _ => return None,
    }
    Some(())
}

fn alt(branches: Vec<Hir>) -> Option<Node> {
    let mut out = Vec::new();
    for b in &branches {
        out.push((Piece::new(&strip(b))?, chain_of(b)?));
    }
    Some(Node::Alt(out))
}

fn chain_of(h: &Hir) -> Option<Vec<Node>> {
    let mut pending = Vec::new();
    let mut out = Build::default();
    nodes(h, &mut pending, &mut out)?;
    flush(&mut pending, &mut out)?;
    out.finish()
}

/// Shorter runs a [`Node::Back`] step tries before the chain gives up.
const BACK_TRIES: usize = 4096;

/// The end of the first completing path of `p` at `pos`; None when there is none or
/// the DFA gave up (either way the chain cannot tell).
fn step(p: &Piece, text: &str, pos: usize) -> Option<usize> {
    p.end(text, pos).ok().flatten()
}

/// Walks `nodes` from `pos`, filling `slots` (an open group's start is kept in its
/// slot until it closes); the end, or None when a step fails.
fn walk(
    nodes: &[Node],
    text: &str,
    mut pos: usize,
    slots: &mut [Option<(usize, usize)>],
) -> Option<usize> {
    for (k, n) in nodes.iter().enumerate() {
        pos = match n {
            Node::Run(re) => step(re, text, pos)?,
            Node::Open(index) => {
                if let Some(s) = slots.get_mut(*index) {
                    *s = Some((pos, pos));
                }
                pos
            }
            Node::Close(index) => {
                if let Some(s) = slots.get_mut(*index) {
                    *s = s.map(|(start, _)| (start, pos));
                }
                pos
            }
            Node::Back { bits, min, rest } => {
                let bytes = text.as_bytes().get(pos..).unwrap_or_default();
                let len = bytes
                    .iter()
                    .take_while(|&&b| b < 128 && bits & (1 << b) != 0)
                    .count();
                let rest_nodes = &nodes[k + 1..];
                let rest = rest.get()?;
                // Longest run first, as the backtracker tries; the first length after
                // which the rest can match is its first path.
                let mut budget = 8 * text.len() + 4096;
                for e in (pos + *min..=pos + len).rev().take(BACK_TRIES) {
                    if let Some(end) = rest.end_within(text, e, &mut budget).ok()? {
                        let got = walk(rest_nodes, text, e, slots)?;
                        return (got == end).then_some(end);
                    }
                }
                return None;
            }
            Node::Alt(branches) => {
                let mut pick = None;
                for (p, body) in branches {
                    // A branch that gives up must not pass for one that cannot match.
                    if let Some(e) = p.end(text, pos).ok()? {
                        pick = Some((e, body));
                        break;
                    }
                }
                let (end, body) = pick?;
                // The branch's own chain must retrace its first path.
                if walk(body, text, pos, slots)? != end {
                    return None;
                }
                end
            }
        };
    }
    Some(pos)
}

impl Chain {
    /// The chain of a pattern (its HIR as compiled, groups numbered as in the engine);
    /// None when it has a group inside a repetition or a piece does not build.
    pub fn new(hir: &Hir) -> Option<Chain> {
        Some(Chain {
            nodes: chain_of(hir)?,
            tries: AtomicU32::new(0),
            fails: AtomicU32::new(0),
        })
    }

    /// Whether the chain is still worth trying.
    pub fn active(&self) -> bool {
        let t = self.tries.load(Ordering::Relaxed);
        t < PROBATION || self.fails.load(Ordering::Relaxed) * 4 < t
    }

    /// Group spans of the match `(start, end)` the engine found: exact, or None when
    /// the chain cannot tell (the caller asks the engine).
    pub fn spans(
        &self,
        text: &str,
        start: usize,
        end: usize,
        groups: usize,
    ) -> Option<Vec<Option<(usize, usize)>>> {
        let mut slots = vec![None; groups];
        let ok = walk(&self.nodes, text, start, &mut slots) == Some(end);
        // Counting stops once on probation is over: no contention on a hot atomic.
        if self.tries.load(Ordering::Relaxed) < u32::MAX / 2 {
            self.tries.fetch_add(1, Ordering::Relaxed);
            if !ok {
                self.fails.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !ok {
            return None;
        }
        if let Some(s) = slots.first_mut() {
            *s = Some((start, end));
        }
        Some(slots)
    }
}

#[cfg(test)]
mod tests {
    use crate::filter::pyre::{Flags, compile, translate};

    /// Whatever the chain answers is what the `regex` crate's capture search finds.
    #[test]
    fn chain_agrees_with_capture_search() {
        let pats = [
            r"^(?P<mlfid>(?:\[\])?\s*(?:\S+ )?(?:(?P<d>sshd|cron)(?:\[\d+\])?:?\s+)?)(?:(?:error|fatal): )?(?P<content>.+)$",
            r"^Failed \S+ for (?P<inv>invalid user )?(?P<user>\S+) from (?:(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})|(?P<dns>[\w\-.^_]*\w))(?: port \d+)?(?: ssh\d*)?$",
            r"user (?P<user>.*) from (?P<ip>\S+)",
            r"(?P<a>x*?)(?P<b>x*)y",
            r"^(?:(?P<x>ab)|a)(?P<y>b?)c$",
            r"(?P<w>\b\w+\b)(?P<rest>.*)",
            r"^(?:(?P<p>a+)??)(?P<q>a*)$",
            r"(?P<o>(?P<i>\d)+)",
            r"(?s)(?P<h>\w+)(?P<t>.*)",
            r"^(?P<h>\w*)(?P<t>.+)(?P<e>.*)$",
            r"(?P<h>a)(?:(?P<x>.+)|b)",
            r"^user (?P<u>[^:]+) from (?P<h>\w+)(?: port \d+)?(?P<t>[^f]*)$",
            r"^(?:(?P<a>\S+) from (?P<b>\w+): |(?P<c>[^:]+) from (?P<d>\w+)(?: [a-z]*)?$)",
        ];
        let texts = [
            "host sshd[12]: Failed password for root from 1.2.3.4 port 22 ssh2\n",
            "host sshd[12]: error: Failed x for invalid user a b from 1.2.3.4\n",
            "Failed password for invalid user bob from 10.0.0.1 port 22 ssh2",
            "Failed password for bob from host-1.example.com",
            "Failed password for bob from ::ffff:1.2.3.4",
            "user a from b user c from d",
            "xxxy xy y",
            "abc",
            "abbc",
            "ac",
            "hello world",
            "aaa",
            "a1b22c333",
            "ab\ncd\n",
            "a\n",
            "user a from b from c",
            "user a b from c port 1 x from d port 22 ssh",
            "user root from host port 22 [user x from y port 3 e",
            "a from b: ",
            "a b from c from d x",
            "",
        ];
        for p in pats {
            let re = compile(p, Flags::default()).expect("compiles");
            let t = translate(p, false, false).expect("translates");
            let exact = regex::Regex::new(t.linear.as_deref().expect("linear")).expect("builds");
            // Twice the probation, so the chain's verdicts and the fallback both run.
            for _ in 0..2 * super::PROBATION as usize / texts.len() + 1 {
                for text in texts {
                    // There Python's `$` differs from the linear `(?m:$)` (another engine).
                    let inner_nl = text.trim_end_matches('\n').contains('\n');
                    if inner_nl && t.exact_dollar.is_some() {
                        continue;
                    }
                    for pos in [0, 1, 5] {
                        if pos > text.len() {
                            continue;
                        }
                        let want = exact.captures_at(text, pos).map(|c| {
                            c.iter()
                                .map(|m| m.map(|m| (m.start(), m.end())))
                                .collect::<Vec<_>>()
                        });
                        let got = re
                            .search(text, pos)
                            .map(|m| (0..m.len()).map(|i| m.span(i)).collect::<Vec<_>>());
                        assert_eq!(got, want, "{p} on {text:?} at {pos}");
                    }
                }
            }
        }
    }
}
