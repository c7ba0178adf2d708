//! Group spans of a short match by a small backtracking program: [`Short`], used for
//! the date templates' groups.
//!
//! A date template's groups are read from some 40 bytes of text, where the [`Chain`]'s
//! per-piece automaton searches (each with its own set-up) cost many times a read of
//! the text. A backtracker that tries the paths in priority order, and passes over a
//! path whose next byte cannot come next, reads such a text a few times at most.
//!
//! The answer is the engines' own: leftmost-first is the first path in priority order
//! that completes, which is what a backtracker finds (with no backreferences, a state
//! reached again fails again, so no memory of visited states is needed for exactness,
//! only for time). Only loops whose iteration cannot match the empty text are compiled
//! (so no loop runs empty), and each search has a step budget: once spent, the caller
//! asks the engines, so a pathological text costs a bounded waste.
//!
//! Every test a search makes is a byte's membership in a set, or the text's length. So
//! each thread remembers, per program, its last search and, per position, the bytes
//! that answer every test made there alike ([`Fit`]): a text of the same length whose
//! bytes all fit is searched the same way, to the same groups. Apache's microseconds
//! and syslog's seconds change the text of every line but rarely the path.
//!
//! [`Chain`]: super::chain::Chain

use std::cell::RefCell;

use regex_automata::util::look::{Look as At, LookMatcher};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// Group spans by group number (None: the group took no part).
type Spans = Vec<Option<(usize, usize)>>;

/// The most instructions a program may have (repetitions are unrolled).
const MAX_PROGRAM: usize = 2048;

/// Steps a search may take per byte of text (plus a fixed allowance).
const STEPS_PER_BYTE: usize = 32;
const STEPS_BASE: usize = 128;

/// A set of ASCII bytes: the program runs on the ASCII twin of a pattern, on ASCII text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Set([u64; 2]);

impl Set {
    fn of(b: u8) -> Set {
        let mut s = Set::default();
        s.add(b);
        s
    }

    fn add(&mut self, b: u8) {
        if b < 128 {
            self.0[usize::from(b >> 6)] |= 1 << (b & 63);
        }
    }

    fn union(self, o: Set) -> Set {
        Set([self.0[0] | o.0[0], self.0[1] | o.0[1]])
    }

    fn and(self, o: Set) -> Set {
        Set([self.0[0] & o.0[0], self.0[1] & o.0[1]])
    }

    /// The ASCII bytes outside the set.
    fn not(self) -> Set {
        Set([!self.0[0], !self.0[1]])
    }

    const ALL: Set = Set([u64::MAX, u64::MAX]);

    #[inline]
    fn has(self, b: u8) -> bool {
        // (a byte past 127 reads beyond both words: never a member)
        self.0
            .get(usize::from(b >> 6))
            .is_some_and(|w| w >> (b & 63) & 1 == 1)
    }
}

/// The bytes each position of the text may hold for a search to take the same path:
/// every test a search makes is a byte's membership in a set (or the text's length),
/// so another text of the same length whose bytes answer each test as the searched
/// one's did is searched the same way, to the same groups. A position starts with
/// every ASCII byte and is narrowed by each test, to the side the byte fell on.
///
/// `end` records whether a test read the text's end (a byte past it, or its length):
/// a search that never did was decided by the text's bytes alone, and so is the search
/// of any longer text that starts with bytes that fit (see [`Short::settled`]).
#[derive(Debug, Default)]
struct Fit {
    sets: Vec<Set>,
    end: bool,
}

impl Fit {
    fn reset(&mut self, len: usize) {
        self.sets.clear();
        self.sets.resize(len, Set::ALL);
        self.end = false;
    }

    /// Tests the byte at `at` against `set`, narrowing the position to the answer.
    #[inline]
    fn test(&mut self, hay: &[u8], at: usize, set: Set) -> bool {
        let Some(&b) = hay.get(at) else {
            self.end = true;
            return false;
        };
        let hit = set.has(b);
        if let Some(f) = self.sets.get_mut(at) {
            *f = f.and(if hit { set } else { set.not() });
        }
        hit
    }

    /// Whether the next byte (None: the text end) may start a path needing `need`.
    #[inline]
    fn allows(&mut self, need: &Option<Set>, hay: &[u8], at: usize) -> bool {
        match need {
            None => true,
            Some(set) => self.test(hay, at, *set),
        }
    }

    /// Narrows the positions a look at `at` reads (the bytes before and at it, by
    /// word-ness and line ends).
    fn look(&mut self, hay: &[u8], at: usize) {
        for p in [at.checked_sub(1), Some(at)].into_iter().flatten() {
            for set in [WORD, Set::of(b'\n'), Set::of(b'\r')] {
                self.test(hay, p, set);
            }
        }
    }

    fn fits(&self, hay: &[u8]) -> bool {
        self.sets.len() == hay.len() && self.sets.iter().zip(hay).all(|(f, &b)| f.has(b))
    }
}

/// The ASCII word bytes (`\w` as the ASCII word looks read it): `0-9` (48-57) in the
/// low word; `A-Z` (65-90), `_` (95) and `a-z` (97-122) in the high one.
const WORD: Set = Set([
    0x03FF << 48,
    (0x03FF_FFFF << 1) | (1 << 31) | (0x03FF_FFFF << 33),
]);

/// A completed search of one program: what it found, and the texts that get the same.
#[derive(Debug)]
struct Memo {
    id: usize,
    start: usize,
    fit: Fit,
    end: Option<usize>,
    slots: Vec<Option<usize>>,
}

/// One instruction.
#[derive(Debug, Clone)]
enum Inst {
    /// One byte of each set in turn (literals and classes read in a row).
    Run(Box<[Set]>),
    /// Try `a`, then `b`; a path whose next byte must be in its set (`need_*`) and is
    /// not is not tried at all.
    Split {
        a: usize,
        b: usize,
        need_a: Option<Set>,
        need_b: Option<Set>,
    },
    /// An alternation: its branches in priority order, each with the set its next
    /// byte must be in (None: no need), tried from the first that may start here.
    Alt(Box<[(Option<Set>, usize)]>),
    Jump(usize),
    /// Records the position in a capture slot.
    Save(usize),
    Look(At),
    Match,
}

/// A backtracking program for one pattern.
#[derive(Debug)]
pub(super) struct Short {
    /// Tells this program's memos from others' in a thread's [`Scratch`].
    id: usize,
    prog: Vec<Inst>,
    /// Capture slots: two per group, the whole match's included.
    slots: usize,
    looks: LookMatcher,
}

/// What backtracking resumes: a saved path, the rest of an alternation (its
/// instruction, the next branch), or a slot value to put back past its save.
#[derive(Debug, Clone, Copy)]
enum Frame {
    Try(usize, usize),
    Alt(usize, usize, usize),
    Restore(usize, Option<usize>),
}

/// Per-thread search memory (no allocation per search once warm), and the last
/// search of the last few programs run on the thread.
#[derive(Default)]
struct Scratch {
    stack: Vec<Frame>,
    slots: Vec<Option<usize>>,
    fit: Fit,
    memos: Vec<Memo>,
    /// The memo replaced next when all are taken.
    next: usize,
}

/// Searches remembered per thread: the date templates a detector runs.
const MEMOS: usize = 8;

/// Searches remembered per program: a template is searched on two kinds of text in
/// turn on an access log (cut at the last match's end where the date stayed, else a
/// little past its new end) and one memo would hold neither for the next line.
const WAYS: usize = 2;

/// Longest text searched: a memo's check reads the whole text.
const MAX_TEXT: usize = 160;

static IDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The search ran out of steps: the caller must ask another engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Spent;

fn ascii_set(c: &Class) -> Set {
    let bits = super::fast::ascii_members(c);
    Set([bits as u64, (bits >> 64) as u64])
}

/// Whether every match of `h` reads at least one byte (or `h` never matches).
fn consumes(h: &Hir) -> bool {
    h.properties().minimum_len() != Some(0)
}

/// The bytes a non-empty match of `h` may start with (a superset).
fn first(h: &Hir) -> Set {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Set::default(),
        HirKind::Literal(l) => l.0.first().map_or(Set::default(), |&b| Set::of(b)),
        HirKind::Class(c) => ascii_set(c),
        HirKind::Repetition(r) => match r.max {
            Some(0) => Set::default(),
            _ => first(&r.sub),
        },
        HirKind::Capture(c) => first(&c.sub),
        HirKind::Concat(v) => {
            let mut acc = Set::default();
            for e in v {
                acc = acc.union(first(e));
                if consumes(e) {
                    break;
                }
            }
            acc
        }
        HirKind::Alternation(v) => v.iter().fold(Set::default(), |acc, e| acc.union(first(e))),
    }
}

/// The set a path starting with `h` needs its next byte in (None: no need, since `h`
/// may match the empty text).
fn need(h: &Hir) -> Option<Set> {
    consumes(h).then(|| first(h))
}

/// The automata's form of a look the program supports (Unicode word looks are not:
/// they never occur in an ASCII twin).
fn look_of(l: Look) -> Option<At> {
    Some(match l {
        Look::Start => At::Start,
        Look::End => At::End,
        Look::StartLF => At::StartLF,
        Look::EndLF => At::EndLF,
        Look::StartCRLF => At::StartCRLF,
        Look::EndCRLF => At::EndCRLF,
        Look::WordAscii => At::WordAscii,
        Look::WordAsciiNegate => At::WordAsciiNegate,
        Look::WordStartAscii => At::WordStartAscii,
        Look::WordEndAscii => At::WordEndAscii,
        Look::WordStartHalfAscii => At::WordStartHalfAscii,
        Look::WordEndHalfAscii => At::WordEndHalfAscii,
        _ => return None,
    })
}

/// The bytes `h` reads if it is a plain literal or class (one path, no choice).
fn plain(h: &Hir, out: &mut Vec<Set>) -> bool {
    match h.kind() {
        HirKind::Literal(l) => {
            out.extend(l.0.iter().map(|&b| Set::of(b)));
            true
        }
        HirKind::Class(c) => {
            out.push(ascii_set(c));
            true
        }
        _ => false,
    }
}

/// Builds a program; None when the pattern has a part it does not take or grows too big.
struct Compiler {
    prog: Vec<Inst>,
    slots: usize,
}

impl Compiler {
    fn push(&mut self, i: Inst) -> Option<usize> {
        if self.prog.len() >= MAX_PROGRAM {
            return None;
        }
        self.prog.push(i);
        Some(self.prog.len() - 1)
    }

    fn c(&mut self, h: &Hir) -> Option<()> {
        match h.kind() {
            HirKind::Empty => {}
            HirKind::Literal(_) | HirKind::Class(_) => {
                let mut run = Vec::new();
                plain(h, &mut run);
                self.push(Inst::Run(run.into()))?;
            }
            HirKind::Look(l) => {
                self.push(Inst::Look(look_of(*l)?))?;
            }
            HirKind::Capture(c) => {
                let slot = 2 * c.index as usize;
                self.slots = self.slots.max(slot + 2);
                self.push(Inst::Save(slot))?;
                self.c(&c.sub)?;
                self.push(Inst::Save(slot + 1))?;
            }
            HirKind::Concat(v) => {
                // Literals and classes in a row are one instruction: no jump lands
                // between them.
                let mut run = Vec::new();
                for e in v {
                    if plain(e, &mut run) {
                        continue;
                    }
                    if !run.is_empty() {
                        self.push(Inst::Run(std::mem::take(&mut run).into()))?;
                    }
                    self.c(e)?;
                }
                if !run.is_empty() {
                    self.push(Inst::Run(run.into()))?;
                }
            }
            HirKind::Alternation(v) => {
                let alt = self.push(Inst::Match)?;
                let mut arms = Vec::new();
                let mut ends = Vec::new();
                for branch in v {
                    arms.push((need(branch), self.prog.len()));
                    self.c(branch)?;
                    ends.push(self.push(Inst::Match)?);
                }
                let end = self.prog.len();
                for e in ends {
                    self.prog[e] = Inst::Jump(end);
                }
                self.prog[alt] = Inst::Alt(arms.into());
            }
            HirKind::Repetition(r) => {
                // A loop whose iteration may be empty would need the engines' rules
                // for empty loops: not taken. A bounded repetition is unrolled into
                // nested options, as the engines' automata have it, and has no loop.
                if r.max.is_none() && !consumes(&r.sub) {
                    return None;
                }
                for _ in 0..r.min {
                    self.c(&r.sub)?;
                }
                let body = need(&r.sub);
                let split = |iter: usize, exit: usize| match r.greedy {
                    true => Inst::Split {
                        a: iter,
                        b: exit,
                        need_a: body,
                        need_b: None,
                    },
                    false => Inst::Split {
                        a: exit,
                        b: iter,
                        need_a: None,
                        need_b: body,
                    },
                };
                match r.max {
                    None => {
                        let at = self.push(Inst::Match)?;
                        self.c(&r.sub)?;
                        self.push(Inst::Jump(at))?;
                        let exit = self.prog.len();
                        self.prog[at] = split(at + 1, exit);
                    }
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in r.min..max {
                            splits.push(self.push(Inst::Match)?);
                            self.c(&r.sub)?;
                        }
                        let exit = self.prog.len();
                        for at in splits {
                            self.prog[at] = split(at + 1, exit);
                        }
                    }
                }
            }
        }
        Some(())
    }
}

impl Short {
    /// The program of an ASCII twin's HIR, groups numbered as in the engines.
    pub fn new(hir: &Hir) -> Option<Short> {
        let mut c = Compiler {
            prog: Vec::new(),
            slots: 2,
        };
        c.c(hir)?;
        c.push(Inst::Match)?;
        Some(Short {
            id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            prog: c.prog,
            slots: c.slots,
            looks: LookMatcher::new(),
        })
    }

    /// Group spans (`groups` of them) of the first path that completes from `start`:
    /// the match the engines find when their leftmost match starts at `start`
    /// (`Ok(None)`: no match starts there). `Err` once the step budget is spent.
    pub fn spans(&self, text: &str, start: usize, groups: usize) -> Result<Option<Spans>, Spent> {
        if start > text.len() {
            return Ok(None);
        }
        // The program reads nothing before `start - 1` (a look reads one byte back; the
        // text is ASCII), so it runs on the text from there: the memo then also fits a
        // line whose match moved (an access log's address before the date).
        let base = start.saturating_sub(1);
        let spans = self.spans_from(&text.as_bytes()[base..], start - base, groups)?;
        Ok(spans.map(|s| shifted(s, base)))
    }

    /// [`Short::spans`] of `text` from `start`, told without a search from this
    /// thread's memory of the program's last one, when `text` begins with a text that
    /// fits it (as [`Short::spans`] cuts it: from `start - 1`) and that search never read
    /// its text's end: every path it tried was decided by bytes of that text, so on any
    /// text beginning with bytes that answer each test alike the same paths fail and the
    /// same one completes, whatever follows. Also the length of `text` it read. None
    /// when the memory does not tell (nothing is searched then).
    pub fn settled(&self, text: &str, start: usize, groups: usize) -> Option<(Spans, usize)> {
        let base = start.saturating_sub(1);
        let hay = text.as_bytes().get(base..)?;
        SCRATCH.with(|s| {
            let s = s.try_borrow().ok()?;
            let m = s.memos.iter().find(|m| {
                m.id == self.id
                    && !m.fit.end
                    && m.start == start - base
                    && hay.get(..m.fit.sets.len()).is_some_and(|h| m.fit.fits(h))
            })?;
            let len = m.fit.sets.len();
            let spans = spans_of(&m.slots, m.start, m.end?, groups);
            Some((shifted(spans, base), base + len))
        })
    }

    /// [`Short::spans`] on `hay`, where `start` is 0 or 1.
    fn spans_from(&self, hay: &[u8], start: usize, groups: usize) -> Result<Option<Spans>, Spent> {
        if hay.len() > MAX_TEXT {
            return Err(Spent);
        }
        SCRATCH.with(|s| {
            // (not reentrant; cannot happen, but never worth a panic)
            let mut s = s.try_borrow_mut().map_err(|_| Spent)?;
            let s = &mut *s;
            // This program's memos: one that tells this text, else the one to replace
            // (of the same text length and start, else the first when it has its share).
            let (mut own, mut same_shape, mut first_own) = (0, None, None);
            for (k, m) in s.memos.iter().enumerate().filter(|(_, m)| m.id == self.id) {
                if m.start == start && m.fit.fits(hay) {
                    #[cfg(test)]
                    MEMO_HITS.with(|h| h.set(h.get() + 1));
                    return Ok(m.end.map(|end| spans_of(&m.slots, start, end, groups)));
                }
                own += 1;
                first_own.get_or_insert(k);
                if m.start == start && m.fit.sets.len() == hay.len() {
                    same_shape = Some(k);
                }
            }
            let reuse = same_shape.or(first_own.filter(|_| own >= WAYS));
            let k = match reuse {
                Some(k) => k,
                None if s.memos.len() < MEMOS => {
                    // Nobody's until a search completes (a spent one leaves it so).
                    s.memos.push(Memo {
                        id: usize::MAX,
                        start,
                        fit: Fit::default(),
                        end: None,
                        slots: Vec::new(),
                    });
                    s.memos.len() - 1
                }
                None => {
                    s.next = (s.next + 1) % MEMOS;
                    s.next
                }
            };
            let end = self.run(hay, start, s)?;
            let Scratch {
                slots, fit, memos, ..
            } = s;
            let m = &mut memos[k];
            m.id = self.id;
            m.start = start;
            m.end = end;
            std::mem::swap(&mut m.fit, fit);
            m.slots.clear();
            m.slots.extend_from_slice(slots);
            Ok(end.map(|end| spans_of(slots, start, end, groups)))
        })
    }

    fn run(&self, hay: &[u8], start: usize, s: &mut Scratch) -> Result<Option<usize>, Spent> {
        let Scratch {
            stack, slots, fit, ..
        } = s;
        fit.reset(hay.len());
        slots.clear();
        slots.resize(self.slots, None);
        stack.clear();
        stack.push(Frame::Try(0, start));
        let mut budget = STEPS_BASE + STEPS_PER_BYTE * (hay.len().saturating_sub(start) + 1);
        while let Some(f) = stack.pop() {
            let (mut pc, mut at) = match f {
                Frame::Restore(slot, v) => {
                    if let Some(s) = slots.get_mut(slot) {
                        *s = v;
                    }
                    continue;
                }
                Frame::Try(pc, at) => (pc, at),
                Frame::Alt(pc, k, at) => match self.arm(pc, k, hay, at, stack, fit) {
                    Some(to) => (to, at),
                    None => continue,
                },
            };
            loop {
                budget = budget.checked_sub(1).ok_or(Spent)?;
                let Some(inst) = self.prog.get(pc) else {
                    break;
                };
                match inst {
                    Inst::Run(sets) => {
                        if hay.len() - at < sets.len() {
                            fit.end = true;
                            break;
                        }
                        if !sets
                            .iter()
                            .enumerate()
                            .all(|(i, &s)| fit.test(hay, at + i, s))
                        {
                            break;
                        }
                        at += sets.len();
                        pc += 1;
                    }
                    Inst::Split {
                        a,
                        b,
                        need_a,
                        need_b,
                    } => match (fit.allows(need_a, hay, at), fit.allows(need_b, hay, at)) {
                        (true, true) => {
                            stack.push(Frame::Try(*b, at));
                            pc = *a;
                        }
                        (true, false) => pc = *a,
                        (false, true) => pc = *b,
                        (false, false) => break,
                    },
                    Inst::Alt(_) => match self.arm(pc, 0, hay, at, stack, fit) {
                        Some(to) => pc = to,
                        None => break,
                    },
                    Inst::Jump(t) => pc = *t,
                    Inst::Save(slot) => {
                        let Some(s) = slots.get_mut(*slot) else {
                            break;
                        };
                        stack.push(Frame::Restore(*slot, *s));
                        *s = Some(at);
                        pc += 1;
                    }
                    Inst::Look(l) => {
                        fit.look(hay, at);
                        if !self.looks.matches(*l, hay, at) {
                            break;
                        }
                        pc += 1;
                    }
                    Inst::Match => return Ok(Some(at)),
                }
            }
        }
        Ok(None)
    }

    /// The first branch from `k` on of the alternation at `pc` that may start with
    /// `next`; the branches after it are saved for backtracking.
    fn arm(
        &self,
        pc: usize,
        k: usize,
        hay: &[u8],
        at: usize,
        stack: &mut Vec<Frame>,
        fit: &mut Fit,
    ) -> Option<usize> {
        let Some(Inst::Alt(arms)) = self.prog.get(pc) else {
            return None;
        };
        let rest = arms.get(k..)?;
        let i = rest.iter().position(|(n, _)| fit.allows(n, hay, at))?;
        let (_, to) = rest[i];
        if k + i + 1 < arms.len() {
            stack.push(Frame::Alt(pc, k + i + 1, at));
        }
        Some(to)
    }
}

/// `spans` found on the text from `base` on, as offsets in the whole text.
fn shifted(mut spans: Spans, base: usize) -> Spans {
    if base > 0 {
        for (a, b) in spans.iter_mut().flatten() {
            *a += base;
            *b += base;
        }
    }
    spans
}

/// The group spans of a search's slots (the whole match's from `start` to `end`).
fn spans_of(slots: &[Option<usize>], start: usize, end: usize, groups: usize) -> Spans {
    let mut out: Spans = (0..groups)
        .map(|g| match (slots.get(2 * g), slots.get(2 * g + 1)) {
            (Some(&Some(a)), Some(&Some(b))) => Some((a, b)),
            _ => None,
        })
        .collect();
    if let Some(g) = out.first_mut() {
        *g = Some((start, end));
    }
    out
}

// Memo answers on this thread (per thread, as the memos: exact within one test).
#[cfg(test)]
thread_local! {
    static MEMO_HITS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::pyre::fast::{ascii_hir, parse_checked};
    use crate::filter::pyre::survey::shift_digits;
    use crate::filter::pyre::translate::translate;

    /// Whatever the program answers is the `regex` crate's match from that start, on
    /// every survey pattern it compiles for and every recorded ASCII input (and the
    /// input with its digits shifted, searched in turn so memos are both used and
    /// refused), from the text start and from where the engine's match starts.
    #[test]
    fn short_agrees_with_the_engines_on_the_survey() {
        let Some(inputs) = crate::filter::pyre::survey::sample_inputs() else {
            return;
        };
        let (mut programs, mut answered, mut none) = (0usize, 0usize, 0usize);
        let hits0 = MEMO_HITS.with(|h| h.get());
        for f in crate::filter::pyre::survey::linear_forms(&inputs) {
            let (p, texts, exact) = (f.pattern, f.texts, &f.exact);
            let Some(short) = Short::new(&f.ascii) else {
                continue;
            };
            programs += 1;
            let groups = exact.captures_len();
            for t in texts.iter().filter(|t| t.is_ascii() && t.len() <= MAX_TEXT) {
                for text in [t.clone(), shift_digits(t, 1), t.clone(), shift_digits(t, 5)] {
                    let want = exact.captures_at(&text, 0).map(|c| {
                        c.iter()
                            .map(|m| m.map(|m| (m.start(), m.end())))
                            .collect::<Vec<_>>()
                    });
                    let at = want.as_ref().and_then(|w| w[0]).map_or(0, |s| s.0);
                    for start in [0, at] {
                        let got = short.spans(&text, start, groups);
                        match got {
                            Ok(Some(g)) => {
                                answered += 1;
                                assert_eq!(Some(&g), want.as_ref(), "{p} on {text:?} from {start}");
                                assert_eq!(g[0].map(|s| s.0), Some(start));
                            }
                            Ok(None) => {
                                none += 1;
                                assert!(
                                    want.as_ref()
                                        .and_then(|w| w[0])
                                        .is_none_or(|s| s.0 != start),
                                    "{p} on {text:?}: a match starts at {start}"
                                );
                            }
                            Err(Spent) => {}
                        }
                    }
                }
            }
        }
        let hits = MEMO_HITS.with(|h| h.get()) - hits0;
        eprintln!(
            "{programs} programs, {answered} matches and {none} misses told, {hits} from memos"
        );
        assert!(programs > 250 && answered > 8_000 && none > 1_000 && hits > 1_000);
    }

    /// A program searched in turn on two kinds of text (an access-log date template on
    /// the line cut where the last date ended, and cut a little past the new one) keeps
    /// a memo of each: with one, each search replaced the other's and none was told.
    /// Every answer is still the `regex` crate's.
    #[test]
    fn a_program_remembers_two_kinds_of_text() {
        // the access-log template's linear stand-in, as the detector builds it
        let python = r"(?iu)(?=^|\b|\W)((?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])[-/](?P<b>jan|feb|mar)[-/](?P<Y>20[012]\d)[ :]?(?P<H>[0-1]?\d|2[0-3]):(?P<M>[0-5]?\d):(?P<S>[0-5]?\d|6[0-1])(?:\.(?P<f>[0-9]{1,6}))?(?: (?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?))?)(?=\b|\W|$)";
        let pattern = translate(python, false, false)
            .ok()
            .and_then(|t| t.linear)
            .expect("a linear form");
        let h = parse_checked(&pattern).expect("parses");
        let short = Short::new(&ascii_hir(&h)).expect("a program");
        let exact = regex::Regex::new(&pattern).expect("compiles");
        let groups = exact.captures_len();
        let check = |text: &str| {
            let want = exact.captures_at(text, 1).map(|c| {
                c.iter()
                    .map(|m| m.map(|m| (m.start(), m.end())))
                    .collect::<Vec<_>>()
            });
            assert_eq!(short.spans(text, 1, groups), Ok(want), "{text:?}");
        };
        let hits = || MEMO_HITS.with(|h| h.get());
        let line = "[14/Mar/2026:06:25:00 +0000] \"GET /";
        let (at_end, past_end) = (&line[..27], &line[..31]);
        check(at_end);
        check(past_end);
        let before = hits();
        for _ in 0..3 {
            check(at_end);
            check(past_end);
        }
        assert_eq!(hits() - before, 6);
        // the next second: both kinds still told from memory
        let next = line.replace(":00 ", ":01 ");
        check(&next[..27]);
        check(&next[..31]);
        assert_eq!(hits() - before, 8);
    }

    /// What the memory tells without a search ([`Short::settled`]) is the engines' match
    /// on the whole text: on every survey pattern with a program, after a search of each
    /// recorded ASCII input, the input and inputs beginning with it and going on (digits
    /// shifted, text added after it) are told as `regex` finds them, or not told.
    #[test]
    fn settled_is_the_search_of_any_longer_text() {
        let Some(inputs) = crate::filter::pyre::survey::sample_inputs() else {
            return;
        };
        let (mut told, mut refused) = (0usize, 0usize);
        for f in crate::filter::pyre::survey::linear_forms(&inputs) {
            let (p, texts, exact) = (f.pattern, f.texts, &f.exact);
            let Some(short) = Short::new(&f.ascii) else {
                continue;
            };
            let groups = exact.captures_len();
            for t in texts.iter().filter(|t| t.is_ascii() && t.len() <= MAX_TEXT) {
                if !matches!(short.spans(t, 0, groups), Ok(Some(_))) {
                    continue;
                }
                let shifted = shift_digits(t, 3);
                for text in [
                    t.clone(),
                    format!("{t} 1"),
                    format!("{t}x"),
                    format!("{t}0"),
                    format!("{shifted}:9 \u{e9}"),
                ] {
                    let Some((got, read)) = short.settled(&text, 0, groups) else {
                        refused += 1;
                        continue;
                    };
                    told += 1;
                    assert!(read <= text.len() && text.is_char_boundary(read));
                    let want = exact.captures_at(&text, 0).map(|c| {
                        c.iter()
                            .map(|m| m.map(|m| (m.start(), m.end())))
                            .collect::<Vec<_>>()
                    });
                    assert_eq!(Some(got), want, "{p} on {text:?} after {t:?}");
                }
            }
        }
        eprintln!("{told} told from memory, {refused} refused");
        assert!(
            told > 5_000 && refused > 1_000,
            "{told} told, {refused} refused"
        );
    }

    /// A search that read its text's end tells nothing about a longer text: `a+` on
    /// "aa" tried for a third `a` past the end, which "aab" has.
    #[test]
    fn settled_refuses_a_search_that_read_the_end() {
        let h = parse_checked(r"(a+)b?").expect("parses");
        let short = Short::new(&ascii_hir(&h)).expect("a program");
        assert_eq!(
            short.spans("aa", 0, 2),
            Ok(Some(vec![Some((0, 2)), Some((0, 2))]))
        );
        assert_eq!(short.settled("aab", 0, 2), None);
        assert_eq!(short.settled("aa", 0, 2), None);
        // "aab c" decided the match at the `b`; " c" and what follows never counted
        assert_eq!(
            short.spans("aab c", 0, 2),
            Ok(Some(vec![Some((0, 3)), Some((0, 2))]))
        );
        let told = short.settled("aab c and more", 0, 2);
        assert!(
            told.as_ref().is_some_and(|(_, read)| *read == 5),
            "{told:?}"
        );
        assert_eq!(told.map(|t| t.0), Some(vec![Some((0, 3)), Some((0, 2))]));
        assert_eq!(short.settled("aaa c", 0, 2), None);
        // A run of literals cut short by the text's end: "aab" is too short for `bc`.
        let h = parse_checked(r"(a+)(?:bc)?").expect("parses");
        let short = Short::new(&ascii_hir(&h)).expect("a program");
        assert_eq!(
            short.spans("aab", 0, 2),
            Ok(Some(vec![Some((0, 2)), Some((0, 2))]))
        );
        assert_eq!(short.settled("aabc", 0, 2), None);
    }

    /// A search that runs out of steps leaves no memory behind: the next text (here the
    /// empty one, which a memo left with nothing in it would fit) is searched anew.
    #[test]
    fn a_spent_search_leaves_no_memo() {
        let h = parse_checked(r"(?:(?:a|a)*(?:a|a)*c)?").expect("parses");
        let short = Short::new(&ascii_hir(&h)).expect("a program");
        assert_eq!(short.spans(&"a".repeat(100), 0, 1), Err(Spent));
        assert_eq!(short.spans("", 0, 1), Ok(Some(vec![Some((0, 0))])));
        assert_eq!(short.spans("c", 0, 1), Ok(Some(vec![Some((0, 1))])));
    }

    /// The word bytes the looks' tests record are the ASCII word bytes.
    #[test]
    fn word_set_is_the_ascii_word_bytes() {
        for b in 0..=255u8 {
            assert_eq!(WORD.has(b), b.is_ascii_alphanumeric() || b == b'_', "{b}");
        }
    }

    /// Shapes a program does not take: a loop whose iteration may be empty.
    #[test]
    fn empty_loops_get_no_program() {
        for p in [r"(?:a?)*b", r"(?:a*|b)+c", r"(?:a|)+"] {
            let h = parse_checked(p).expect("parses");
            assert!(Short::new(&ascii_hir(&h)).is_none(), "{p}");
        }
        for p in [r"(?:a?){0,3}b", r"a+?b", r"(?:ab|a)*c"] {
            let h = parse_checked(p).expect("parses");
            assert!(Short::new(&ascii_hir(&h)).is_some(), "{p}");
        }
    }
}
