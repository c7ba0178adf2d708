//! Fast paths beside the exact engines of [`super::Regex`], all exact in what they decide.
//!
//! [`Fast`] holds, per compiled pattern: an ASCII-only compilation of the linear pattern
//! (used when the haystack is ASCII: Unicode classes shrink to their ASCII members, which
//! is all they can match there, so the automata are far smaller and capture extraction
//! far cheaper), a linear superset of a fancy pattern (`Translated::relaxed`, itself with
//! an ASCII twin) that rejects most haystacks before the backtracking VM runs, and the
//! literal prefixes of a pattern anchored at the text start (a haystack starting with
//! none of them cannot match). Built once from the translated pattern text through
//! `regex-syntax`'s HIR.

use std::sync::{Arc, OnceLock};

use regex_automata::meta;
use regex_automata::util::captures::Captures;
use regex_automata::{Input, MatchKind};

use super::chain::Chain;
use super::near::{Near, blocks};
use super::short::Short;
use regex_syntax::hir::literal::Extractor;
use regex_syntax::hir::{
    Capture, Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look, Repetition,
};

/// A linear pattern in two compilations: restricted to ASCII (built at once) and as
/// written (built on the first non-ASCII haystack with chars in many blocks; most logs
/// never need it), with small cut compilations for the others (see [`Near`]).
#[derive(Debug)]
pub(super) struct Dual {
    /// Kept as text: the Unicode HIR is large, and parsed again only when needed.
    pattern: Box<str>,
    full: std::sync::OnceLock<Option<meta::Regex>>,
    /// Built on the first ASCII haystack.
    ascii: OnceLock<Option<meta::Regex>>,
    near: Near,
}

/// A compilation [`Dual::pick`] chose.
pub(super) enum Picked<'a> {
    Kept(&'a meta::Regex),
    Cut(Arc<meta::Regex>),
}

impl std::ops::Deref for Picked<'_> {
    type Target = meta::Regex;
    fn deref(&self) -> &meta::Regex {
        match self {
            Picked::Kept(r) => r,
            Picked::Cut(r) => r,
        }
    }
}

impl Dual {
    /// The compilation to run on `text` (`ascii`: whether `text` is all ASCII); None
    /// when the pattern does not compile.
    pub fn pick(&self, text: &str, ascii: bool) -> Option<Picked<'_>> {
        if ascii
            && let Some(a) = self
                .ascii
                .get_or_init(|| build(&ascii_hir(&parse(&self.pattern)?)))
        {
            return Some(Picked::Kept(a));
        }
        if self.full.get().is_none()
            && let Some(key) = blocks(text)
            && let Some(re) = self.near.get(&self.pattern, key)
        {
            return Some(Picked::Cut(re));
        }
        self.full
            .get_or_init(|| build(&parse(&self.pattern)?))
            .as_ref()
            .map(Picked::Kept)
    }
}

/// The extra compilations of one pattern.
#[derive(Debug, Default)]
pub(super) struct Fast {
    /// ASCII twin of the linear engine (same groups, same numbering), built on the
    /// first search that wants it: a jail whose log stays quiet holds only its HIR.
    ascii: OnceLock<Option<meta::Regex>>,
    /// Group names the twin must have (the full pattern's).
    twin_names: Vec<Option<String>>,
    /// Superset prefilter of a fancy pattern.
    pub relaxed: Option<Dual>,
    /// Every match starts at offset 0 with one of these byte strings.
    pub prefixes: Option<Prefixes>,
    /// The pattern without its assertions, for long non-ASCII texts (see
    /// [`Fast::loose_rules_out`]), built on the first.
    loose: OnceLock<Option<Loose>>,
    /// The linear pattern, parsed again to build `ascii` and its [`Chain`] (on the
    /// first match): its HIR is many times the text's size, and most patterns of a
    /// quiet jail are never needed.
    linear: Option<Box<str>>,
    chain: OnceLock<Option<Chain>>,
    /// The small backtracker, for the callers that ask for it (date templates).
    short: OnceLock<Option<Short>>,
    /// Where the linear pattern's ASCII classes start (see [`class_cuts`]).
    cuts: Option<u128>,
    /// Every match of `ascii` starts at offset 0 (a non-multiline `^` leads).
    start_anchored: bool,
}

/// [`Fast::loose_rules_out`]'s superset of the pattern: its literals (one of them is in
/// every match), then its automaton.
#[derive(Debug)]
struct Loose {
    hir: Hir,
    needs: Option<super::need::Needs>,
    /// Built when the literals do not tell.
    re: OnceLock<Option<meta::Regex>>,
}

impl Loose {
    /// Whether `text` from `pos` holds none of the literals (a match from `pos` lies
    /// in the text from there).
    fn lacks_needs(&self, text: &str, pos: usize) -> bool {
        let rest = text.as_bytes().get(pos..).unwrap_or_default();
        let out = self.needs.as_ref().is_some_and(|n| !n.found_in(rest));
        #[cfg(test)]
        if out {
            LOOSE_BY_LITERALS.with(|n| n.set(n.get() + 1));
        }
        out
    }
}

/// Texts at least this long (from the search start) and not ASCII are first checked by
/// the pattern without its assertions ([`Fast::loose_rules_out`]).
pub(super) const LOOSE_FROM: usize = 4096;

// Searches the loose check answered; `LOOSE_OFF` turns it off (tests compare).
#[cfg(test)]
thread_local! {
    pub(super) static LOOSE_RULED_OUT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    pub(super) static LOOSE_OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// ... of them, those its literals answered.
    pub(super) static LOOSE_BY_LITERALS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

pub(super) fn parse(pattern: &str) -> Option<Hir> {
    parse_checked(pattern).ok()
}

/// `pattern` parsed for ASCII haystacks: a HIR whose [`ascii_hir`] is that of
/// [`parse`]'s, read without Unicode (so `\w`, `\d`, `\s` and case folding skip the
/// Unicode tables, most of a parse's cost). Exact for an ASCII pattern text: Unicode's
/// classes and folds cut to ASCII are the ASCII ones, and only non-ASCII characters
/// fold onto ASCII letters (`ſ`, the Kelvin sign), which such a text cannot hold, as
/// literals or as escapes (a text with `\x`, `\u` or `\U` takes the Unicode parse).
pub(super) fn parse_for_ascii(pattern: &str) -> Option<Hir> {
    let escapes = || ["\\x", "\\u", "\\U"].iter().any(|e| pattern.contains(e));
    if pattern.is_ascii()
        && !escapes()
        && let Ok(h) = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
    {
        return Some(h);
    }
    parse(pattern)
}

/// The ASCII members of a class, as a bitmap of 128 bits (what the class can match on
/// ASCII text: the ASCII twin and its group finders read ASCII only).
pub(super) fn ascii_members(c: &Class) -> u128 {
    let mut bits = 0u128;
    let mut add = |lo: u32, hi: u32| {
        for b in lo..=hi.min(0x7f) {
            bits |= 1 << b;
        }
    };
    match c {
        Class::Unicode(c) => c
            .ranges()
            .iter()
            .for_each(|r| add(u32::from(r.start()), u32::from(r.end()))),
        Class::Bytes(c) => c
            .ranges()
            .iter()
            .for_each(|r| add(u32::from(r.start()), u32::from(r.end()))),
    }
    bits
}

/// Where the ASCII bytes `h` cannot tell apart start: bit `b` set when byte `b` begins
/// a new run. Bytes of one run are in or out of every class and literal of `h`
/// together, and alike for its assertions (word bytes for word boundaries, `\n` and
/// `\r` for line anchors). So two ASCII texts of equal length whose bytes fall in the
/// same runs, position by position, take the same paths through `h`: same match, same
/// group spans. See [`ascii_classes`] for the runs numbered.
pub(super) fn class_cuts(h: &Hir) -> u128 {
    fn cuts(h: &Hir, out: &mut u128) {
        // Bit `b` set: byte `b` is in the set and `b - 1` is not, or the reverse.
        let mut set = |s: u128| *out |= s ^ (s << 1);
        match h.kind() {
            HirKind::Empty => {}
            HirKind::Literal(l) => l.0.iter().filter(|&&b| b < 128).for_each(|&b| set(1 << b)),
            HirKind::Class(c) => set(ascii_members(c)),
            HirKind::Look(Look::Start | Look::End) => {}
            HirKind::Look(Look::StartLF | Look::EndLF) => set(1 << b'\n'),
            HirKind::Look(Look::StartCRLF | Look::EndCRLF) => {
                set(1 << b'\n');
                set(1 << b'\r');
            }
            // Every kind of word boundary: the ASCII word bytes.
            HirKind::Look(_) => {
                let word = (b'0'..=b'9')
                    .chain(b'A'..=b'Z')
                    .chain(b'a'..=b'z')
                    .chain([b'_'])
                    .fold(0u128, |w, b| w | 1 << b);
                set(word)
            }
            HirKind::Repetition(r) => cuts(&r.sub, out),
            HirKind::Capture(c) => cuts(&c.sub, out),
            HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().for_each(|h| cuts(h, out)),
        }
    }
    let mut c = 0u128;
    cuts(h, &mut c);
    c
}

/// Per ASCII byte, the number of its run in `cuts` (see [`class_cuts`]).
pub(super) fn ascii_classes(cuts: u128) -> [u8; 128] {
    let mut table = [0u8; 128];
    let mut n = 0u8;
    for (b, t) in table.iter_mut().enumerate() {
        if b > 0 && cuts & (1 << b) != 0 {
            n += 1;
        }
        *t = n;
    }
    table
}

/// Parses a linear pattern as `regex::Regex::new` does (same syntax settings), with its
/// error text: the check that decides whether a pattern is linear, without building it.
pub(super) fn parse_checked(pattern: &str) -> Result<Hir, String> {
    regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())
}

/// Whether the NFA of `hir` might outgrow the regex crate's size limit (10 MiB). A
/// pattern under this bound compiles for sure, so its full-Unicode engine can wait for
/// a non-ASCII haystack; one over it is compiled at once, as its failure is a config
/// error. Bound measured on the fail2ban corpus: an NFA takes at most about 2 KiB plus
/// 32 bytes per weight unit (a byte, a class range, an operator), repetitions
/// multiplying; the margin of 2 covers the compiler's working estimate.
pub(super) fn may_exceed_limit(hir: &Hir) -> bool {
    fn weight(h: &Hir) -> u64 {
        match h.kind() {
            HirKind::Empty | HirKind::Look(_) => 1,
            HirKind::Literal(l) => l.0.len() as u64,
            HirKind::Class(Class::Unicode(c)) => 1 + 4 * c.ranges().len() as u64,
            HirKind::Class(Class::Bytes(c)) => 1 + c.ranges().len() as u64,
            HirKind::Repetition(r) => {
                let times = u64::from(r.max.unwrap_or(r.min).max(1)) + 1;
                weight(&r.sub).saturating_mul(times)
            }
            HirKind::Capture(c) => 2 + weight(&c.sub),
            HirKind::Concat(v) | HirKind::Alternation(v) => v
                .iter()
                .map(weight)
                .fold(v.len() as u64, u64::saturating_add),
        }
    }
    let bytes = weight(hir).saturating_mul(32).saturating_add(2048);
    bytes > (10 << 20) / 2
}

/// Group index → name of `hir` compiled alone, as `regex::Regex::capture_names` gives
/// them (index 0 is the whole match; indices no group has stay unnamed).
pub(super) fn capture_names(hir: &Hir) -> Vec<Option<String>> {
    fn walk(h: &Hir, out: &mut Vec<Option<String>>) {
        match h.kind() {
            HirKind::Capture(c) => {
                let i = c.index as usize;
                if out.len() <= i {
                    out.resize(i + 1, None);
                }
                out[i] = c.name.as_deref().map(str::to_string);
                walk(&c.sub, out);
            }
            HirKind::Repetition(r) => walk(&r.sub, out),
            HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = vec![None];
    walk(hir, &mut out);
    out
}

fn config() -> meta::Config {
    // The `regex` crate's settings for `&str` patterns.
    meta::Config::new()
        .match_kind(MatchKind::LeftmostFirst)
        .utf8_empty(true)
        .nfa_size_limit(Some(10 * (1 << 20)))
        .hybrid_cache_capacity(2 * (1 << 20))
}

pub(super) fn build(hir: &Hir) -> Option<meta::Regex> {
    meta::Builder::new()
        .configure(config())
        .build_from_hir(hir)
        .ok()
}

/// The same expression for ASCII haystacks: classes cut to ASCII, non-ASCII literals
/// unmatchable, Unicode word boundaries as ASCII ones (identical on ASCII text).
pub(super) fn ascii_hir(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(l) => {
            if l.0.is_ascii() {
                h.clone()
            } else {
                Hir::fail()
            }
        }
        // New classes from the clipped ranges: `intersect` would keep the capacity of
        // the Unicode class (hundreds of ranges), and the twin's HIR is kept.
        HirKind::Class(Class::Unicode(c)) => Hir::class(Class::Unicode(ClassUnicode::new(
            c.ranges()
                .iter()
                .take_while(|r| r.start() <= '\x7f')
                .map(|r| ClassUnicodeRange::new(r.start(), r.end().min('\x7f'))),
        ))),
        // As a Unicode class: on ASCII the two are one, and a byte-parsed pattern
        // (see [`parse_for_ascii`]) then gives the same HIR as a Unicode-parsed one.
        HirKind::Class(Class::Bytes(c)) => Hir::class(Class::Unicode(ClassUnicode::new(
            c.ranges()
                .iter()
                .take_while(|r| r.start() <= 0x7f)
                .map(|r| {
                    ClassUnicodeRange::new(char::from(r.start()), char::from(r.end().min(0x7f)))
                }),
        ))),
        HirKind::Look(l) => Hir::look(match l {
            Look::WordUnicode => Look::WordAscii,
            Look::WordUnicodeNegate => Look::WordAsciiNegate,
            Look::WordStartUnicode => Look::WordStartAscii,
            Look::WordEndUnicode => Look::WordEndAscii,
            Look::WordStartHalfUnicode => Look::WordStartHalfAscii,
            Look::WordEndHalfUnicode => Look::WordEndHalfAscii,
            other => *other,
        }),
        HirKind::Repetition(r) => repeat_of(r, ascii_hir(&r.sub)),
        HirKind::Capture(c) => capture_of(c, ascii_hir(&c.sub)),
        HirKind::Concat(v) => Hir::concat(v.iter().map(ascii_hir).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(ascii_hir).collect()),
    }
}

/// The repetition `r` of another sub-expression. (Cloning `r` to replace its sub
/// would copy the whole old subtree first, at every level of a nested pattern.)
pub(super) fn repeat_of(r: &Repetition, sub: Hir) -> Hir {
    Hir::repetition(Repetition {
        min: r.min,
        max: r.max,
        greedy: r.greedy,
        sub: Box::new(sub),
    })
}

/// The group `c` around another sub-expression (see [`repeat_of`]).
pub(super) fn capture_of(c: &Capture, sub: Hir) -> Hir {
    Hir::capture(Capture {
        index: c.index,
        name: c.name.clone(),
        sub: Box::new(sub),
    })
}

/// An ASCII twin with exactly the groups `names` of the full pattern (else none: the
/// twin must be interchangeable).
fn ascii_twin(ascii: &Hir, names: &[Option<String>]) -> Option<meta::Regex> {
    let a = build(ascii)?;
    let twin = a
        .group_info()
        .pattern_names(regex_automata::PatternID::ZERO);
    twin.eq(names.iter().map(Option::as_deref)).then_some(a)
}

/// The literal prefixes of a start-anchored pattern, with the set of their first bytes:
/// a failregex loop asks each pattern in turn, and most texts fail on the first byte.
#[derive(Debug)]
pub(super) struct Prefixes {
    lits: Vec<Box<[u8]>>,
    /// Bit `b` set: some prefix starts with byte `b`.
    first: [u64; 4],
}

impl Prefixes {
    /// Whether `text` starts with one of the prefixes.
    #[inline]
    fn starts(&self, text: &[u8]) -> bool {
        let Some(&b) = text.first() else {
            return false;
        };
        self.first[usize::from(b >> 6)] & (1 << (b & 63)) != 0
            && self.lits.iter().any(|l| super::has_prefix(text, l))
    }
}

/// Literal prefixes when the pattern is anchored at the text start (not a line start).
fn prefixes(hir: &Hir) -> Option<Prefixes> {
    if !hir.properties().look_set_prefix().contains(Look::Start) {
        return None;
    }
    let seq = Extractor::new().extract(hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.is_empty()) {
        return None;
    }
    let mut first = [0u64; 4];
    for l in lits {
        // (not empty: checked above)
        let b = l.as_bytes()[0];
        first[usize::from(b >> 6)] |= 1 << (b & 63);
    }
    Some(Prefixes {
        lits: lits.iter().map(|l| Box::from(l.as_bytes())).collect(),
        first,
    })
}

impl Fast {
    /// The bytes a match from the text start can begin with (a bit each; all when any
    /// can): those of the literal prefixes.
    pub fn first_bytes(&self) -> [u64; 4] {
        self.prefixes.as_ref().map_or([u64::MAX; 4], |p| p.first)
    }

    /// Fast paths for a linear pattern (`hir` is `pattern` parsed) whose full groups
    /// are `names`.
    pub fn linear(hir: Hir, pattern: &str, names: &[Option<String>]) -> Fast {
        let mut f = Fast {
            prefixes: prefixes(&hir),
            ..Fast::default()
        };
        let ah = ascii_hir(&hir);
        drop(hir);
        f.cuts = Some(class_cuts(&ah));
        f.twin_names = names.to_vec();
        f.start_anchored = ah.properties().look_set_prefix().contains(Look::Start);
        f.linear = Some(pattern.into());
        f
    }

    /// Per ASCII byte, its class of a linear pattern (None for a fancy one).
    pub fn classes(&self) -> Option<[u8; 128]> {
        self.cuts.map(ascii_classes)
    }

    /// The ASCII form of the linear pattern (parsed again: see [`Fast::linear`]).
    fn ascii_hir(&self) -> Option<Hir> {
        Some(ascii_hir(&parse(self.linear.as_deref()?)?))
    }

    /// The ASCII twin (built now if not yet); None when the pattern has none.
    pub fn ascii(&self) -> Option<&meta::Regex> {
        self.ascii
            .get_or_init(|| ascii_twin(&self.ascii_hir()?, &self.twin_names))
            .as_ref()
    }

    /// Fast paths for a fancy pattern with the linear superset `relaxed`.
    pub fn fancy(relaxed: Option<&str>) -> Fast {
        let mut f = Fast::default();
        if let Some(p) = relaxed
            && let Some(hir) = parse(p)
        {
            f.prefixes = prefixes(&hir);
            f.relaxed = Some(Dual {
                pattern: p.into(),
                full: std::sync::OnceLock::new(),
                ascii: OnceLock::new(),
                near: Near::default(),
            });
        }
        f
    }

    /// None when no match can start at or after `pos` (cheap checks only); else the
    /// first offset where a match may start (the superset's leftmost match: a match of
    /// the pattern is one of the superset, so none starts earlier).
    #[inline]
    pub fn may_match(&self, text: &str, pos: usize, ascii: &mut Option<bool>) -> Option<usize> {
        if let Some(p) = &self.prefixes {
            // Anchored at the text start: a search from later on cannot match.
            if pos > 0 || !p.starts(text.as_bytes()) {
                return None;
            }
        }
        if self.loose_rules_out(text, pos, ascii) {
            return None;
        }
        if let Some(r) = &self.relaxed {
            let a = *ascii.get_or_insert_with(|| text.is_ascii());
            return match r.pick(text, a) {
                Some(re) => re.find(Input::new(text).range(pos..)).map(|m| m.start()),
                None => Some(pos),
            };
        }
        Some(pos)
    }

    /// Whether the pattern without its assertions (word boundaries, line anchors but the
    /// text start's) has no match from `pos` in `text`: then the pattern has none, as
    /// each of its matches is one of those. For long non-ASCII texts: there a Unicode
    /// word boundary stops the lazy DFA, and the full engine falls back to its PikeVM at
    /// hundreds of nanoseconds a byte (half a second for a 1 MB line through a date
    /// template's `^[^-]+ -- `), where this pattern's DFA reads the text once. Its
    /// literals are looked for first (a vectorised search, and no automaton to build
    /// when they rule the text out). False when it cannot tell (no linear or relaxed
    /// form) or is not asked (a shorter or ASCII text; `ascii` caches the latter).
    fn loose_rules_out(&self, text: &str, pos: usize, ascii: &mut Option<bool>) -> bool {
        let Some(l) = self.loose_for(text, pos, ascii) else {
            return false;
        };
        let out = l.lacks_needs(text, pos)
            || l.re
                .get_or_init(|| build(&l.hir))
                .as_ref()
                .is_some_and(|re| !re.is_match(Input::new(text).range(pos..)));
        #[cfg(test)]
        if out {
            LOOSE_RULED_OUT.with(|n| n.set(n.get() + 1));
        }
        out
    }

    /// The literal half of [`Fast::loose_rules_out`] alone: true when `text` from `pos`
    /// holds none of the literals one of which is in every match (the same condition:
    /// asked of long non-ASCII texts only).
    pub fn lacks_literals(&self, text: &str, pos: usize) -> bool {
        self.loose_for(text, pos, &mut None)
            .is_some_and(|l| l.lacks_needs(text, pos))
    }

    /// The loose form, when [`Fast::loose_rules_out`] is to be asked about `text`.
    fn loose_for(&self, text: &str, pos: usize, ascii: &mut Option<bool>) -> Option<&Loose> {
        if text.len().saturating_sub(pos) < LOOSE_FROM
            || *ascii.get_or_insert_with(|| text.is_ascii())
        {
            return None;
        }
        #[cfg(test)]
        if LOOSE_OFF.with(|o| o.get()) {
            return None;
        }
        self.loose
            .get_or_init(|| {
                let p = self.linear.as_deref();
                let hir = parse(p.or(self.relaxed.as_ref().map(|r| &*r.pattern))?)?;
                let hir = super::scan::widen(&super::scan::loose_hir(&hir, true));
                Some(Loose {
                    needs: super::need::Needs::of(&hir),
                    hir,
                    re: OnceLock::new(),
                })
            })
            .as_ref()
    }

    /// Group spans of the match starting at `start` by the [`Short`] backtracker, on
    /// the ASCII twin (the caller has checked the text is ASCII). None when no match
    /// starts there or it cannot tell (text too long, out of steps, no program).
    pub fn short_spans(&self, text: &str, start: usize) -> Option<Vec<Option<(usize, usize)>>> {
        let re = self.ascii()?;
        let short = self
            .short
            .get_or_init(|| self.ascii_hir().as_ref().and_then(Short::new))
            .as_ref()?;
        let groups = re.group_info().group_len(regex_automata::PatternID::ZERO);
        short.spans(text, start, groups).ok()?
    }

    /// [`Fast::short_spans`] told by the [`Short`] program's memory alone (see
    /// [`Short::settled`]), with the length of `text` it read; None when the program
    /// is not built yet or its memory does not tell.
    pub fn settled_spans(
        &self,
        text: &str,
        start: usize,
    ) -> Option<(Vec<super::GroupSpan>, usize)> {
        let re = self.ascii.get()?.as_ref()?;
        let short = self.short.get()?.as_ref()?;
        let groups = re.group_info().group_len(regex_automata::PatternID::ZERO);
        short.settled(text, start, groups)
    }

    /// Group spans of the first match at or after `pos`, on the ASCII twin (the caller
    /// has checked the text is ASCII). The match is found by the DFAs; its groups by the
    /// [`Chain`] when that can tell, else by the engine's capture search.
    pub fn ascii_spans(&self, text: &str, pos: usize) -> Option<Vec<Option<(usize, usize)>>> {
        let re = self.ascii()?;
        let input = Input::new(text).range(pos..);
        let chain = self
            .chain
            .get_or_init(|| self.ascii_hir().as_ref().and_then(Chain::new));
        if let Some(c) = chain.as_ref().filter(|c| c.active()) {
            let groups = re.group_info().group_len(regex_automata::PatternID::ZERO);
            let from_start = self.start_anchored && pos == 0;
            if from_start && c.walk_first() {
                // The match can only start at 0: the walk alone finds it, without the
                // DFA pass over the text (on a long line, most of the cost).
                if let Some(s) = c.spans_from_start(text, groups) {
                    c.lean(true);
                    return Some(s);
                }
                let found = re.search(&input).is_some();
                c.lean(found);
                if !found {
                    return None;
                }
                c.note(false);
            } else {
                let m = re.search(&input);
                if from_start {
                    c.lean(m.is_some());
                }
                let m = m?;
                if let Some(s) = c.spans(text, m.start(), m.end(), groups) {
                    return Some(s);
                }
            }
        }
        // No `is_match` first: a capture search that misses costs one DFA scan too.
        let mut caps: Captures = re.create_captures();
        re.search_captures(&input, &mut caps);
        caps.is_match().then(|| {
            (0..caps.group_len())
                .map(|i| caps.get_group(i).map(|s| (s.start, s.end)))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::filter::pyre::{Flags, compile, survey, translate};

    /// The byte parse gives the Unicode parse's ASCII HIR, on texts where Unicode's
    /// folds and classes reach ASCII, on every survey pattern's linear and relaxed forms
    /// (ignoring case or not) and on the default date templates' scan forms (the set
    /// scan's patterns).
    #[test]
    fn ascii_parse_cuts_as_the_unicode_parse() {
        let same = |p: &str| {
            let unicode = super::parse(p).map(|h| super::ascii_hir(&h));
            let bytes = super::parse_for_ascii(p).map(|h| super::ascii_hir(&h));
            assert_eq!(bytes, unicode, "{p}");
        };
        for p in [
            r"(?i)k",
            r"(?i)s",
            r"(?i)ſ",
            r"(?i)\x{17F}",
            r"(?i)\x{212A}",
            r"(?i)\xE9",
            r"(?i)[\x00-\xFF]",
            r"(?i)[a-z]+",
            r"(?i)[[:upper:]]",
            r"[^a]",
            r".",
            r"(?s).",
            r"\W+\S\D",
            r"\w\s\d",
            r"\bfoo\B",
            r"(?u)\w",
            r"(?-u:\xFF)",
            r"\p{L}",
            r"(?m)^a$",
            r"[[:alpha:]]",
            r"é",
            r"(?i)\u00B5",
            r"(?iu)[^\W\d]",
        ] {
            same(p);
        }
        for t in crate::filter::date::templates::default_templates(2026).expect("defaults") {
            same(t.re.scan().expect("a default template has a scan form"));
        }
        let Some(inputs) = survey::sample_inputs() else {
            return;
        };
        let mut n = 0;
        for (p, ml) in inputs.keys() {
            for ignore_case in [false, true] {
                let Ok(t) = translate::translate(p, *ml, ignore_case) else {
                    continue;
                };
                for form in [t.linear, t.relaxed].into_iter().flatten() {
                    same(&form);
                    n += 1;
                }
            }
        }
        assert!(n > 600, "{n} forms");
    }

    /// A few classes worked by hand: what a literal, a class and a word boundary cut.
    #[test]
    fn ascii_classes_cut_where_the_pattern_looks() {
        let classes = |p: &str| {
            let re = compile(p, Flags::default()).expect("compiles");
            re.ascii_classes().expect("linear")
        };
        let c = classes(r"^Failed \S+ from (?P<ip>\d+\.\d+)$");
        let same = |a: u8, b: u8| c[usize::from(a)] == c[usize::from(b)];
        assert!((b'0'..=b'9').all(|d| same(d, b'0')));
        assert!(!same(b'F', b'G') && !same(b'a', b'b') && !same(b'.', b'-'));
        assert!(same(b'G', b'H') && same(b'-', b',') && !same(b' ', b'x'));
        assert!(!same(b'\n', b'\x0b'), "$ looks at the newline");
        let c = classes(r"port \d+:11:");
        assert_ne!(c[usize::from(b'1')], c[usize::from(b'2')]);
        assert_eq!(c[usize::from(b'2')], c[usize::from(b'9')]);
        let c = classes(r"\bx");
        assert_ne!(c[usize::from(b'a')], c[usize::from(b'-')], "word bytes");
        assert!(
            compile(r"(?P<a>\w)(?P=a)", Flags::default())
                .expect("compiles")
                .ascii_classes()
                .is_none()
        );
    }

    /// Bytes of one class are interchangeable: on every survey pattern's recorded ASCII
    /// inputs (and with fail2ban's final `\n`), each byte replaced by another member of
    /// its class gives the same spans from 0 (the rule the failregex memo relies on).
    #[test]
    fn ascii_classes_keep_results() {
        let Some(inputs) = survey::sample_inputs() else {
            return;
        };
        let spans = |m: Option<crate::filter::pyre::Match<'_>>| m.map(|m| m.spans().to_vec());
        let (mut patterns, mut changed) = (0usize, 0usize);
        for ((p, ml), texts) in &inputs {
            let flags = Flags {
                multiline: *ml,
                ignore_case: false,
            };
            let Ok(re) = compile(p, flags) else {
                continue;
            };
            let Some(classes) = re.ascii_classes() else {
                continue;
            };
            patterns += 1;
            let mut members = vec![Vec::new(); 128];
            for b in 0..128u8 {
                members[usize::from(classes[usize::from(b)])].push(b);
            }
            let texts = texts.iter().filter(|t| t.is_ascii());
            for text in texts.flat_map(|t| [t.clone(), format!("{t}\n")]) {
                let want = spans(re.search(&text, 0));
                for shift in 1..=3 {
                    let other: String = text
                        .bytes()
                        .map(|b| {
                            let m = &members[usize::from(classes[usize::from(b)])];
                            let at = m.iter().position(|&x| x == b).unwrap_or(0);
                            char::from(m[(at + shift) % m.len()])
                        })
                        .collect();
                    let inner = &other.as_bytes()[..other.len().saturating_sub(1)];
                    if other == text || inner.contains(&b'\n') {
                        continue;
                    }
                    changed += 1;
                    assert_eq!(
                        spans(re.search(&other, 0)),
                        want,
                        "{p} on {text:?} and {other:?}"
                    );
                }
            }
        }
        eprintln!("{patterns} patterns, {changed} texts changed within classes");
        assert!(
            patterns >= 250 && changed >= 10_000,
            "{patterns} / {changed}"
        );
    }

    /// The ASCII twin and the prefixes never change a result; the superset prefilter
    /// of a fancy pattern matches wherever the pattern does.
    #[test]
    fn fast_paths_agree_with_engines() {
        let pats = [
            r"^Failed (?:(?P<nofail>publickey)|\S+) for (?P<cond_inv>invalid user )?(?P<user>(?P<cond_user>\S+)|(?(cond_inv)(?:(?! from ).)*?|[^:]+)) from (?P<ip4>\d+\.\d+\.\d+\.\d+)(?(cond_user): |(?:(?:(?! from ).)*)$)",
            r"(?P<a>\w+)\s(?P=a)\b",
            r"^\d{2}(?P<s>[-/])\d{2}(?P=s)\d{4}",
            r"(?<=\[)\d+\.\d+(?=\])",
            r"^(?:(?P<x>ab)|c)d\s+(?P<y>\S*)$",
            r"(?i)^user\s+k\w*",
            r"\bé\w+",
        ];
        let texts = [
            "Failed password for invalid user bob from 1.2.3.4 port 22 ssh2",
            "Failed publickey for root from 1.2.3.4 port 22 ssh2: RSA",
            "Failed password for x: y from 1.2.3.4",
            "hello hello world",
            "12-34-5678 rest",
            "12-34/5678",
            "x [12.5] y",
            "abd   zz",
            "cd ",
            "USER Kelvin",
            "user \u{212a}elvin",
            "café été",
            "",
        ];
        for p in pats {
            let re = compile(p, Flags::default()).expect("compiles");
            let t = translate(p, false, false).expect("translates");
            let relaxed = t
                .relaxed
                .as_deref()
                .map(|r| regex::Regex::new(r).expect("relaxed"));
            let fancy = fancy_regex::Regex::new(&t.fancy).expect("fancy");
            for text in texts {
                for pos in [0, 1] {
                    if pos > text.len() || !text.is_char_boundary(pos) {
                        continue;
                    }
                    let exact = fancy
                        .captures_from_pos(text, pos)
                        .expect("no limit")
                        .map(|c| {
                            c.iter()
                                .map(|m| m.map(|m| (m.start(), m.end())))
                                .collect::<Vec<_>>()
                        });
                    let got = re
                        .search(text, pos)
                        .map(|m| (0..m.len()).map(|i| m.span(i)).collect::<Vec<_>>());
                    assert_eq!(got, exact, "{p} on {text:?} at {pos}");
                    assert_eq!(re.is_match(text, pos), exact.is_some(), "is_match {p}");
                    if exact.is_some()
                        && let Some(r) = &relaxed
                    {
                        assert!(r.is_match_at(text, pos), "superset of {p} on {text:?}");
                    }
                }
            }
        }
    }
}
