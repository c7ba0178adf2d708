//! Group extraction without the backtracker: a [`Chain`] of anchored lazy-DFA searches.
//!
//! The engines report, for leftmost-first patterns, the match a backtracking engine would:
//! the first path, in priority order, that completes. For a concatenation `A·B·C` that
//! first path is (first completing path of `A`, then of `B` from where `A` ended, …)
//! whenever each of these steps succeeds. So a pattern is cut at its groups into
//! capture-free pieces ([`Node::Run`], one anchored DFA search each), groups
//! ([`Node::Open`]/[`Node::Close`], a group's bounds), class runs with steps after them
//! ([`Node::Back`], shortened, or for a lazy run lengthened, as a backtracker would until
//! the rest matches) and
//! alternations holding groups ([`Node::Alt`]: the first branch that matches on its own
//! is the branch of the first path). When a step fails the chain cannot tell what a
//! backtracker would do and answers "unknown"; the caller then runs the exact engine.
//! Every answer is exact: a chain that completes is the engine's own match. Built from
//! the ASCII twin's HIR on first use; a pattern whose chains keep failing (e.g. a greedy
//! `.*` group followed by more text) stops trying.
//!
//! Pieces ([`piece::Deferred`]) are lazy DFAs built on their first search; a walk takes
//! the chain's per-thread [`piece::Caches`] once. Work stays near-linear in the text: a
//! class run's end is a `memchr` where it can be, the last branch of an alternation is
//! walked without a piece search, and a run is first tried at its full length.

mod piece;
mod seq;

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use regex_syntax::hir::{Hir, HirKind};

use regex_automata::util::pool::Pool;

use piece::{Caches, Deferred, Members, any_class_run};

/// One step of a chain.
#[derive(Debug)]
enum Node {
    /// A capture-free piece, searched anchored where the previous one ended.
    Run(Deferred),
    /// A group opens or closes here: its span is between the two.
    Open(usize),
    Close(usize),
    /// A greedy unbounded run of one class (ASCII members as a bitmap) with more steps
    /// after it in the same chain: its first path is the longest run after which the
    /// rest (`rest`, the later steps without groups) matches, found by trying shorter
    /// runs as a backtracker would.
    Back {
        members: Members,
        min: usize,
        /// A lazy run (`.*?`) tries the shortest first, as a backtracker does.
        greedy: bool,
        rest: Option<Deferred>,
        /// The lowest group number opened after this step (groups from there on are
        /// cleared when a try of the later steps fails).
        first_group: usize,
        /// The first byte every match of `rest` starts with, if there is one: only the
        /// run lengths that end before such a byte are tried (a `memchr` finds them,
        /// where each other length would cost a piece search that fails at once).
        lead: Option<u8>,
    },
    /// An alternation (or `?`) with groups: per branch, the branch without groups (to
    /// pick the branch) and its own chain.
    Alt(Vec<Branch>),
}

/// One branch of a [`Node::Alt`].
#[derive(Debug)]
struct Branch {
    /// The branch without groups: whether it matches on its own.
    piece: Deferred,
    body: Vec<Node>,
    /// The group numbers opened in `body` (a contiguous range), to clear after a walk
    /// of it fails.
    groups: Option<(usize, usize)>,
    /// The body has no [`Node::Back`] step: walking it costs about one pass over the
    /// branch's text, so it is walked first and the piece searched only when that
    /// fails (a completed walk is the branch's first path; the piece would read the
    /// same bytes again).
    plain: bool,
}

/// The chain of one pattern, with its success statistics.
#[derive(Debug)]
pub(super) struct Chain {
    nodes: Vec<Node>,
    /// Per thread, the caches of the chain's lazy DFAs.
    caches: Pool<Caches, fn() -> Caches>,
    tries: AtomicU32,
    fails: AtomicU32,
    /// Recent searches from offset 0: up for a match, down for none (see
    /// [`Chain::walk_first`]).
    lean: AtomicI32,
}

/// Attempts after which a chain that mostly fails is given up.
const PROBATION: u32 = 64;

/// Bound of [`Chain::lean`]: how many recent searches its verdict remembers.
const LEAN: i32 = 16;

fn has_caps(h: &Hir) -> bool {
    h.properties().explicit_captures_len() > 0
}

/// `h` with its groups dissolved (same language, same priorities).
fn strip(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Capture(c) => strip(&c.sub),
        HirKind::Concat(v) => Hir::concat(v.iter().map(strip).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(strip).collect()),
        HirKind::Repetition(r) => super::fast::repeat_of(r, strip(&r.sub)),
        _ => h.clone(),
    }
}

/// A chain under construction: its steps and, per step, the step's language without
/// groups (to build the `rest` of [`Node::Back`] steps).
#[derive(Default)]
struct Build {
    nodes: Vec<Node>,
    hirs: Vec<Hir>,
    /// Whether a [`Node::Back`] was pushed: only the languages of steps after one are
    /// ever needed (building them is a good part of a chain's cost).
    back: bool,
}

impl Build {
    fn push(&mut self, n: Node, h: impl FnOnce() -> Hir) {
        self.hirs.push(if self.back { h() } else { Hir::empty() });
        self.back |= matches!(n, Node::Back { .. });
        self.nodes.push(n);
    }

    /// The finished chain: each [`Node::Back`] gets the piece for the steps after it.
    fn finish(mut self) -> Option<Vec<Node>> {
        for k in 0..self.nodes.len() {
            let first = min_group(&self.nodes[k + 1..]);
            if let Node::Back {
                rest,
                first_group,
                lead,
                ..
            } = &mut self.nodes[k]
            {
                *first_group = first;
                let h = Hir::concat(self.hirs[k + 1..].to_vec());
                *lead = piece::lead_literal(&h).first().copied();
                *rest = Some(Deferred::new(h, false));
            }
        }
        Some(self.nodes)
    }
}

/// The lowest group number opened in `nodes` (`usize::MAX`: none).
fn min_group(nodes: &[Node]) -> usize {
    let mut low = usize::MAX;
    for n in nodes {
        match n {
            Node::Open(i) => low = low.min(*i),
            Node::Alt(branches) => {
                for b in branches {
                    low = low.min(min_group(&b.body));
                }
            }
            _ => {}
        }
    }
    low
}

/// The highest group number opened in `nodes` (None: none).
fn max_group(nodes: &[Node]) -> Option<usize> {
    let mut high = None;
    for n in nodes {
        let here = match n {
            Node::Open(i) => Some(*i),
            Node::Alt(branches) => branches.iter().filter_map(|b| max_group(&b.body)).max(),
            _ => None,
        };
        high = high.max(here);
    }
    high
}

/// Whether `nodes` (branches included) have no [`Node::Back`] step.
fn plain(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Back { .. } => false,
        Node::Alt(branches) => branches.iter().all(|b| plain(&b.body)),
        _ => true,
    })
}

/// Numbers the pieces of `nodes` from `next` on (their cache slots).
fn number(nodes: &mut [Node], next: &mut usize) {
    fn take(d: &mut Deferred, next: &mut usize) {
        d.id = *next;
        *next += 1;
    }
    for n in nodes {
        match n {
            Node::Run(d) => take(d, next),
            Node::Back { rest: Some(d), .. } => take(d, next),
            Node::Alt(branches) => {
                for b in branches {
                    take(&mut b.piece, next);
                    number(&mut b.body, next);
                }
            }
            _ => {}
        }
    }
}

fn flush(pending: &mut Vec<Hir>, out: &mut Build) -> Option<()> {
    if !pending.is_empty() {
        let h = Hir::concat(std::mem::take(pending));
        match any_class_run(&h) {
            Some((bits, min, greedy)) => out.push(
                Node::Back {
                    members: Members::new(bits),
                    min,
                    greedy,
                    rest: None,
                    first_group: usize::MAX,
                    lead: None,
                },
                || h,
            ),
            None => {
                // The language is kept only when a later step needs it (see `push`).
                let keep = out.back.then(|| h.clone());
                out.push(Node::Run(Deferred::new(h, false)), || {
                    keep.unwrap_or_else(Hir::empty)
                })
            }
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
            out.push(Node::Open(index), Hir::empty);
            nodes(&c.sub, pending, out)?;
            flush(pending, out)?;
            out.push(Node::Close(index), Hir::empty);
        }
        HirKind::Concat(v) => {
            for x in v {
                nodes(x, pending, out)?;
            }
        }
        HirKind::Alternation(v) => {
            flush(pending, out)?;
            out.push(alt(v)?, || strip(h));
        }
        // `X?` is `X|` (greedy) or `|X` (lazy); other repetitions of groups are out.
        HirKind::Repetition(r) if r.min == 0 && r.max == Some(1) => {
            flush(pending, out)?;
            let branches = if r.greedy {
                [(*r.sub).clone(), Hir::empty()]
            } else {
                [Hir::empty(), (*r.sub).clone()]
            };
            out.push(alt(&branches)?, || strip(h));
        }
        _ => return None,
    }
    Some(())
}

fn alt(branches: &[Hir]) -> Option<Node> {
    let mut out = Vec::new();
    for b in branches {
        // The branch's groups are dissolved when its piece is built, if ever.
        let body = chain_of(b)?;
        let groups = max_group(&body).map(|hi| (min_group(&body), hi));
        out.push(Branch {
            piece: Deferred::new(b.clone(), true),
            plain: plain(&body),
            groups,
            body,
        });
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
fn step(p: &Deferred, caches: &mut Caches, text: &str, pos: usize) -> Option<usize> {
    p.end(caches, text, pos).ok().flatten()
}

/// Walks `nodes` from `pos`, filling `slots` (an open group's start is kept in its
/// slot until it closes); the end, or None when a step fails.
fn walk(
    nodes: &[Node],
    caches: &mut Caches,
    text: &str,
    mut pos: usize,
    slots: &mut [Option<(usize, usize)>],
) -> Option<usize> {
    for (k, n) in nodes.iter().enumerate() {
        pos = match n {
            Node::Run(re) => step(re, caches, text, pos)?,
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
            Node::Back {
                members,
                min,
                greedy,
                rest,
                first_group,
                lead,
            } => {
                let bytes = text.as_bytes().get(pos..).unwrap_or_default();
                let len = members.run_len(bytes);
                if len < *min {
                    return None;
                }
                let rest_nodes = &nodes[k + 1..];
                // The longest run first, as the backtracker tries: when the later steps
                // walk from there, that is the first path (a completed walk is exact).
                if *greedy {
                    if let Some(got) = walk(rest_nodes, caches, text, pos + len, slots) {
                        return Some(got);
                    }
                    // Else the walk left groups of the later steps half set.
                    for s in slots.iter_mut().skip(*first_group) {
                        *s = None;
                    }
                }
                let rest = rest.as_ref()?;
                // Run lengths in the backtracker's order (greedy: longest first; lazy:
                // shortest first); the first after which the rest can match is the
                // run's first path.
                let mut budget = 8 * text.len() + 4096;
                let mut found = None;
                let mut attempt = |e: usize| -> Result<bool, ()> {
                    let end = rest.end_within(caches, text, e, &mut budget)?;
                    found = end.map(|end| (e, end));
                    Ok(found.is_some())
                };
                let mut first_of = |ends: &mut dyn Iterator<Item = usize>| -> Option<()> {
                    for e in ends.take(BACK_TRIES) {
                        if attempt(e).ok()? {
                            break;
                        }
                    }
                    Some(())
                };
                let (lo, hi) = (pos + *min, pos + len);
                // With a lead byte, only the ends where it is (none at the text end).
                let bytes = text.as_bytes();
                let hay = bytes.get(lo..(hi + 1).min(bytes.len())).unwrap_or_default();
                match (*lead, *greedy) {
                    (Some(b), true) => first_of(&mut memchr::memrchr_iter(b, hay).map(|i| lo + i))?,
                    (Some(b), false) => first_of(&mut memchr::memchr_iter(b, hay).map(|i| lo + i))?,
                    (None, true) => first_of(&mut (lo..=hi).rev())?,
                    (None, false) => first_of(&mut (lo..=hi))?,
                }
                let (e, end) = found?;
                let got = walk(rest_nodes, caches, text, e, slots)?;
                return (got == end).then_some(end);
            }
            Node::Alt(branches) => {
                let (last, firsts) = branches.split_last()?;
                let mut picked = None;
                for b in firsts {
                    if b.plain {
                        if let Some(got) = walk(&b.body, caches, text, pos, slots) {
                            picked = Some(got);
                            break;
                        }
                        if let Some((lo, hi)) = b.groups {
                            for s in slots.iter_mut().take(hi + 1).skip(lo) {
                                *s = None;
                            }
                        }
                        // A branch that matches though its walk failed: the chain
                        // cannot tell (a branch that gives up must not pass for one
                        // that cannot match either).
                        if b.piece.end(caches, text, pos).ok()?.is_some() {
                            return None;
                        }
                        continue;
                    }
                    if let Some(e) = b.piece.end(caches, text, pos).ok()? {
                        let got = walk(&b.body, caches, text, pos, slots)?;
                        // The branch's own chain must retrace its first path.
                        if got != e {
                            return None;
                        }
                        picked = Some(got);
                        break;
                    }
                }
                // When no earlier branch matches on its own, a first path (if any) goes
                // through the last one: its chain alone tells, no piece search needed.
                match picked {
                    Some(got) => got,
                    None => walk(&last.body, caches, text, pos, slots)?,
                }
            }
        };
    }
    Some(pos)
}

impl Chain {
    /// The chain of a pattern (its HIR as compiled, groups numbered as in the engine);
    /// None when it has a group inside a repetition or a piece does not build.
    pub fn new(hir: &Hir) -> Option<Chain> {
        let mut nodes = chain_of(hir)?;
        number(&mut nodes, &mut 0);
        Some(Chain {
            nodes,
            caches: Pool::new(Caches::default as fn() -> Caches),
            tries: AtomicU32::new(0),
            fails: AtomicU32::new(0),
            lean: AtomicI32::new(0),
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
        let ok = walk(&self.nodes, &mut self.caches.get(), text, start, &mut slots) == Some(end);
        self.note(ok);
        if !ok {
            return None;
        }
        if let Some(s) = slots.first_mut() {
            *s = Some((start, end));
        }
        Some(slots)
    }

    /// Group spans of the match at offset 0 of a pattern whose every match starts there,
    /// without knowing the match: a walk from 0 that completes is the first path that
    /// completes, i.e. the match. None when the walk fails (no match, or the chain
    /// cannot tell: the caller asks the engine, and [`Chain::note`]s a match it finds).
    pub fn spans_from_start(
        &self,
        text: &str,
        groups: usize,
    ) -> Option<Vec<Option<(usize, usize)>>> {
        let mut slots = vec![None; groups];
        let end = walk(&self.nodes, &mut self.caches.get(), text, 0, &mut slots)?;
        self.note(true);
        if let Some(s) = slots.first_mut() {
            *s = Some((0, end));
        }
        Some(slots)
    }

    /// Whether a search from offset 0 should walk before any DFA search: yes while
    /// most recent ones matched. A walk that fails (no match) costs a DFA search on
    /// top, where the DFA alone usually stops after a few bytes; a walk that completes
    /// saves the DFA's pass over the whole match.
    pub fn walk_first(&self) -> bool {
        self.lean.load(Ordering::Relaxed) >= 0
    }

    /// Counts whether a search from offset 0 found a match.
    pub fn lean(&self, matched: bool) {
        let b = self.lean.load(Ordering::Relaxed);
        let n = match matched {
            true => (b + 1).min(LEAN),
            false => (b - 1).max(-LEAN),
        };
        // (no store once settled: no writes to a shared line on the hot path)
        if n != b {
            self.lean.store(n, Ordering::Relaxed);
        }
    }

    /// Counts one verdict on a match: `ok` when the chain told its groups.
    pub fn note(&self, ok: bool) {
        // Counting stops once on probation is over: no contention on a hot atomic.
        if self.tries.load(Ordering::Relaxed) < u32::MAX / 2 {
            self.tries.fetch_add(1, Ordering::Relaxed);
            if !ok {
                self.fails.fetch_add(1, Ordering::Relaxed);
            }
        }
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
            // A greedy run whose later steps set a group, fail, and must be retried.
            r"(?P<h>[a-z]+)(?:(?P<g>\d)|\d\d)x",
            r"(?P<h>\w+)(?:(?P<g>\d)(?P<k>y)|(?P<m>\w))",
            // Lazy runs: the shortest length after which the rest matches.
            r"^user (?P<u>.*?) from (?P<h>\S+)(?: port \d+)?",
            r"^(?P<u>\S+|.*?) from (?P<h>\w+)(?P<t>.*?)$",
            r"(?P<a>[a-z]*?)(?P<b>\d+?)(?P<c>x*?)",
            // Runs whose later steps start with a literal: only the ends before its
            // first byte are tried, greedy (last first) and lazy (first first).
            r"(?P<a>[^:]+) from (?P<b>\S+)",
            r"^(?P<a>[a-z ]*?) from (?P<b>\w+)(?P<c>.*)",
            r"^(?P<a>.+)x(?P<b>y?)$",
            r"(?P<a>[ab]*)(?P<b>b)",
            // (every end before a space reaches the same match end: the order decides)
            r"(?P<a>[a ]*) (?P<b>[a ]*)",
            r"(?P<a>[a ]*?) (?P<b>[a ]*)",
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
            "ab12x",
            "ab1x",
            "ab1y",
            "a from b from c",
            "from x from",
            "a b c from",
            "xx",
            "axbx",
            "axbxy\n",
            "abab",
            "aab b",
            "a a a",
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
