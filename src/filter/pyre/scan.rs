//! One scan over a line telling whether any of a filter's patterns can match it
//! ([`AnyOf`], the failregex prefilter), on a lazy DFA of the patterns' loose forms,
//! with a literal search in front where it pays (see `super::need`). The scan automata
//! (and those of `super::which::WhichOf`) are shared process-wide by pattern list; each
//! scan keeps its own cache.

use std::sync::{Arc, OnceLock};

use regex_automata::Input;
use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look};

use super::fast::{ascii_hir, parse, repeat_of};
use super::share::{Table, shared};

/// `h` without groups and without any assertion except, with `keep_start`, the text
/// start: it matches wherever `h` matches, also inside a longer text (an anchor or word
/// boundary of `h` may fail there).
pub(super) fn loose_hir(h: &Hir, keep_start: bool) -> Hir {
    let loose = |x: &Hir| loose_hir(x, keep_start);
    match h.kind() {
        HirKind::Look(Look::Start) if keep_start => h.clone(),
        HirKind::Look(_) => Hir::empty(),
        HirKind::Repetition(r) => repeat_of(r, loose(&r.sub)),
        HirKind::Capture(c) => loose(&c.sub),
        HirKind::Concat(v) => Hir::concat(v.iter().map(loose).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(loose).collect()),
        _ => h.clone(),
    }
}

/// `h` with each class that holds many non-ASCII ranges widened to all non-ASCII
/// characters (its ASCII members kept): it matches wherever `h` matches. A superset
/// built for non-ASCII texts at a fraction of the cost: the UTF-8 automata of Unicode's
/// `\w`, `\d` or `\S` are most of a full scan's compile time (sshd's failregexes:
/// 60M instructions, on the first long non-ASCII line), where "any non-ASCII character"
/// is a handful of byte ranges. A class with a few (a case-folded `k` and the Kelvin
/// sign) is kept: it is small, and exact.
pub(super) fn widen(h: &Hir) -> Hir {
    /// Non-ASCII ranges a class keeps.
    const KEEP: usize = 4;
    match h.kind() {
        HirKind::Class(Class::Unicode(c))
            if c.ranges().iter().filter(|r| !r.end().is_ascii()).count() > KEEP =>
        {
            let mut ranges: Vec<ClassUnicodeRange> = c
                .ranges()
                .iter()
                .filter(|r| r.start().is_ascii())
                .map(|r| ClassUnicodeRange::new(r.start(), r.end().min('\x7f')))
                .collect();
            ranges.push(ClassUnicodeRange::new('\u{80}', char::MAX));
            Hir::class(Class::Unicode(ClassUnicode::new(ranges)))
        }
        HirKind::Repetition(r) => repeat_of(r, widen(&r.sub)),
        HirKind::Capture(c) => Hir::capture(regex_syntax::hir::Capture {
            index: c.index,
            name: c.name.clone(),
            sub: Box::new(widen(&c.sub)),
        }),
        HirKind::Concat(v) => Hir::concat(v.iter().map(widen).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(widen).collect()),
        _ => h.clone(),
    }
}

/// The top-level `content` group of a prefregex: its position in the top concatenation
/// and its HIR. Only a group the graft keeps exact: it matches at least one char and
/// never `\n`, and only assertions follow it (in fail2ban, `(?P<content>.+)$`).
fn content_at(pref: &Hir) -> Option<(usize, &Hir)> {
    let HirKind::Concat(v) = pref.kind() else {
        return None;
    };
    let j = v.iter().position(
        |h| matches!(h.kind(), HirKind::Capture(c) if c.name.as_deref() == Some("content")),
    )?;
    let HirKind::Capture(c) = v[j].kind() else {
        return None;
    };
    let tail_asserts = v[j + 1..]
        .iter()
        .all(|h| matches!(h.kind(), HirKind::Look(_)));
    let nonempty = c.sub.properties().minimum_len().is_some_and(|n| n > 0);
    (tail_asserts && nonempty && !may_match_newline(&c.sub)).then_some((j, &c.sub))
}

/// Whether `h` can match a `\n` anywhere.
fn may_match_newline(h: &Hir) -> bool {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(l) => l.0.contains(&b'\n'),
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .any(|r| r.start() <= '\n' && '\n' <= r.end()),
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .any(|r| r.start() <= b'\n' && b'\n' <= r.end()),
        HirKind::Repetition(r) => may_match_newline(&r.sub),
        HirKind::Capture(c) => may_match_newline(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().any(may_match_newline),
    }
}

/// A failregex as found in a prefregex's content: loose (as [`loose_hir`]), at the
/// content start when it is anchored there, else after any text.
fn in_content(h: &Hir) -> Hir {
    let loose = loose_hir(h, false);
    if h.properties().look_set_prefix().contains(Look::Start) {
        return loose;
    }
    let any = Hir::class(Class::Unicode(ClassUnicode::new([ClassUnicodeRange::new(
        '\0',
        char::MAX,
    )])));
    let skip = Hir::repetition(regex_syntax::hir::Repetition {
        min: 0,
        max: None,
        greedy: false,
        sub: Box::new(any),
    });
    Hir::concat(vec![skip, loose])
}

/// `pref` loose (its start anchor kept) up to its `content` group, then `tail` there.
///
/// Exact as a necessary condition: when `pref` matches the matcher's buffer (ending in
/// `\n`), its content has no `\n` and ends where only assertions are left, so it ends
/// right before a `\n` of the buffer (the last one, or one inside a multi-line
/// journal message); the failregexes see that content plus `\n`, which is then the
/// buffer from the content's start on, up to that `\n` included. A failregex match
/// there is a match of `tail` in the buffer at the content's start, after a match of
/// the loose prefix.
fn graft(pref: &Hir, tail: Hir) -> Option<Hir> {
    let (j, _) = content_at(pref)?;
    let HirKind::Concat(v) = pref.kind() else {
        return None;
    };
    let mut out: Vec<Hir> = v[..j].iter().map(|h| loose_hir(h, true)).collect();
    out.push(tail);
    Some(Hir::concat(out))
}

/// A forward lazy DFA that gives up (rather than slow down) when its cache thrashes.
#[derive(Debug)]
struct Scan {
    dfa: Arc<ScanDfa>,
    /// Made on the first scan: a jail whose log stays quiet never needs it.
    cache: Option<regex_automata::hybrid::dfa::Cache>,
    /// Whether looking for the literals first pays (see [`super::need::Trial`]).
    trial: super::need::Trial,
}

/// A scan's automaton, and the literals every match holds one of: a text with none of
/// them is told apart without running the automaton over it.
#[derive(Debug)]
struct ScanDfa {
    dfa: regex_automata::hybrid::dfa::DFA,
    needs: Option<super::need::Needs>,
}

/// Where the patterns of an [`AnyOf`] are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    /// Anywhere in the text (regexes run on a part of it).
    Anywhere,
    /// From the text start, as [`super::Regex::search`] runs.
    Start,
    /// The first pattern is a prefregex; the others are failregexes searched in its
    /// `content` (see [`AnyOf::after_prefix`]).
    AfterPrefix,
}

/// Scan automata by (patterns, shape, ASCII-only), shared between jails.
type ScanKey = (Vec<String>, Shape, bool);
static SCANS: OnceLock<Table<ScanKey, ScanDfa>> = OnceLock::new();
/// The pattern texts of the [`AnyOf`] scans alive, shared by key.
static ANY_OF_KEYS: OnceLock<Table<AnyOfKey, AnyOfKey>> = OnceLock::new();

/// The patterns of an [`AnyOf`] and where they are looked for.
type AnyOfKey = (Vec<String>, Shape);

impl Scan {
    /// `hir`: the ASCII form for an ASCII scan, else the full one (widened here).
    fn new(key: ScanKey, hir: impl FnOnce() -> Option<Hir>) -> Option<Scan> {
        let ascii = key.2;
        let dfa = shared(SCANS.get_or_init(Default::default), key, || {
            let h = hir()?;
            let h = if ascii { h } else { widen(&h) };
            Some(ScanDfa {
                dfa: Scan::build(&h)?,
                needs: super::need::Needs::of(&h),
            })
        })?;
        Some(Scan {
            dfa,
            cache: None,
            trial: Default::default(),
        })
    }

    fn build(hir: &Hir) -> Option<regex_automata::hybrid::dfa::DFA> {
        lazy_dfa(
            std::slice::from_ref(hir),
            regex_automata::MatchKind::LeftmostFirst,
        )
    }

    /// The same automaton with a cache of its own (for another thread).
    fn fork(&self) -> Scan {
        Scan {
            dfa: Arc::clone(&self.dfa),
            cache: None,
            trial: Default::default(),
        }
    }

    /// Whether the DFA finds a match, true when it gives up.
    fn may_match(&mut self, text: &str) -> bool {
        // The literals first, while they pay (see `need::Trial`).
        if let Some(n) = &self.dfa.needs
            && self.trial.looks()
        {
            let counting = self.trial.counting();
            self.trial.looked_in(text.len());
            if !n.found_in(text.as_bytes()) {
                if counting {
                    let cache = self
                        .cache
                        .get_or_insert_with(|| self.dfa.dfa.create_cache());
                    self.trial.spared(read_len(&self.dfa.dfa, cache, text));
                }
                return false;
            }
        }
        let dfa = &self.dfa.dfa;
        let input = Input::new(text).earliest(true);
        let cache = self.cache.get_or_insert_with(|| dfa.create_cache());
        !matches!(dfa.try_search_fwd(cache, &input), Ok(None))
    }
}

/// Bytes [`read_len`] steps through at most: past them, the automaton is taken to
/// read the whole text (stepping byte by byte costs several of its own searches, and
/// a 1 MB line in the trial would cost milliseconds to measure).
const READ_LEN_MAX: usize = 4096;

/// How many bytes of `text` the scan's automaton reads before it knows its answer
/// (all of them when that is more than [`READ_LEN_MAX`]).
fn read_len(
    dfa: &regex_automata::hybrid::dfa::DFA,
    cache: &mut regex_automata::hybrid::dfa::Cache,
    text: &str,
) -> usize {
    let input = Input::new(text).earliest(true);
    let Ok(mut sid) = dfa.start_state_forward(cache, &input) else {
        return text.len();
    };
    for (i, &b) in text.as_bytes().iter().take(READ_LEN_MAX).enumerate() {
        match dfa.next_state(cache, sid, b) {
            Ok(next) => sid = next,
            Err(_) => return text.len(),
        }
        if sid.is_dead() || sid.is_match() || sid.is_quit() {
            return i + 1;
        }
    }
    text.len()
}

/// Non-ASCII texts shorter than this skip [`AnyOf`] until its full scan exists.
const FULL_SCAN_MIN: usize = 16 * 1024;

/// One scan telling whether any of several patterns can match a text (with `anchored`,
/// at its start; else anywhere inside it). A necessary condition: a miss means none
/// of them can.
#[derive(Debug)]
pub struct AnyOf {
    /// The patterns and their shape, naming the shared automata (parsed again only to
    /// build one: the Unicode HIR is larger than the ASCII scan itself).
    key: Arc<AnyOfKey>,
    /// Built on the first non-ASCII text; `Some(None)`: it does not build.
    full: Option<Option<Scan>>,
    /// Built on the first ASCII text, likewise: a jail whose log stays quiet holds
    /// none (for sshd's failregexes it is ~200 KB of automaton).
    ascii: Option<Option<Scan>>,
    /// Not built on a text: only by [`AnyOf::prepare`] (see [`AnyOf::defer`]).
    deferred: bool,
}

impl AnyOf {
    /// None when a pattern has no linear form to scan for.
    pub(super) fn new<'a>(
        patterns: impl Iterator<Item = Option<&'a str>>,
        anchored: bool,
    ) -> Option<AnyOf> {
        let key: Vec<String> = patterns
            .map(|p| p.map(str::to_string))
            .collect::<Option<_>>()?;
        let shape = match anchored {
            true => Shape::Start,
            false => Shape::Anywhere,
        };
        Some(AnyOf::with_shape(key, shape))
    }

    fn with_shape(key: Vec<String>, shape: Shape) -> AnyOf {
        // One copy of the pattern texts per distinct scan, not per jail.
        let key = (key, shape);
        let table = ANY_OF_KEYS.get_or_init(Default::default);
        let key = match shared(table, key.clone(), || Some(key.clone())) {
            Some(k) => k,
            None => Arc::new(key),
        };
        AnyOf {
            ascii: None,
            key,
            full: None,
            deferred: false,
        }
    }

    /// One scan for "`pref` matches, then one of `fails` matches in its `content`", the
    /// way the matcher runs them on a one-line buffer (failregexes searched in the
    /// content plus `\n`). Anchored where the prefregex is, so a line whose prefix or
    /// first content words fit no failregex is dropped after a few bytes, where a scan
    /// for the failregexes anywhere reads the whole line (and lets through lines where a
    /// failregex's words appear later on). None when `pref` has no `content` group of
    /// the shape [`graft`] needs, or a pattern has no linear form.
    pub(in crate::filter) fn after_prefix(
        pref: &super::Regex,
        fails: &[&super::Regex],
    ) -> Option<AnyOf> {
        let scan_text = |r: &super::Regex| {
            let t = &r.inner.translated;
            t.linear.clone().or_else(|| t.relaxed.clone())
        };
        let mut key = vec![AnyOf::content_form(pref)?];
        for f in fails {
            key.push(scan_text(f)?);
        }
        Some(AnyOf::with_shape(key, Shape::AfterPrefix))
    }

    /// The translation of `pref` that names its `content` group (a linearized pattern
    /// loses its names; its relaxed form keeps them).
    fn content_form(pref: &super::Regex) -> Option<String> {
        let t = &pref.inner.translated;
        [t.linear.as_deref(), t.relaxed.as_deref()]
            .into_iter()
            .flatten()
            .find(|p| parse(p).is_some_and(|h| content_at(&h).is_some()))
            .map(str::to_string)
    }

    /// The HIR scanned for; None when a pattern does not parse (or, after a prefix, the
    /// prefregex does not fit).
    fn hir(patterns: &[String], shape: Shape) -> Option<Hir> {
        if shape == Shape::AfterPrefix {
            let (pref, fails) = patterns.split_first()?;
            let alts = fails
                .iter()
                .map(|p| parse(p).map(|h| in_content(&h)))
                .collect::<Option<_>>()?;
            return graft(&parse(pref)?, Hir::alternation(alts));
        }
        let anchored = shape == Shape::Start;
        let alts = patterns
            .iter()
            .map(|p| parse(p).map(|h| loose_hir(&h, anchored)))
            .collect::<Option<_>>()?;
        Some(Hir::alternation(alts))
    }

    /// The same scan with caches of its own, for another thread (the automata are
    /// shared).
    pub fn fork(&self) -> AnyOf {
        AnyOf {
            key: Arc::clone(&self.key),
            full: self.full.as_ref().map(|f| f.as_ref().map(Scan::fork)),
            ascii: self.ascii.as_ref().map(|a| a.as_ref().map(Scan::fork)),
            deferred: self.deferred,
        }
    }

    /// The ASCII scan is left unbuilt by [`AnyOf::may_match`] (every text may match
    /// until then): the server builds it with [`AnyOf::prepare`] after a read event's
    /// lines, so building it (milliseconds) does not delay the line that needs it.
    pub fn defer(&mut self) {
        self.deferred = true;
    }

    /// Builds the ASCII scan if it is not yet.
    pub fn prepare(&mut self) {
        if self.ascii.is_none() {
            self.ascii = Some(self.build_ascii());
        }
    }

    fn build_ascii(&self) -> Option<Scan> {
        let (pats, shape) = &*self.key;
        let key = (pats.clone(), *shape, true);
        Scan::new(key, || AnyOf::hir(pats, *shape).map(|h| ascii_hir(&h)))
    }

    /// Whether some pattern may match `text`.
    pub fn may_match(&mut self, text: &str) -> bool {
        // After a prefix, the content is followed by the buffer's final `\n` (see
        // [`graft`]); a text without one is not the matcher's buffer.
        if self.key.1 == Shape::AfterPrefix && !text.ends_with('\n') {
            return true;
        }
        if text.is_ascii() {
            if self.ascii.is_none() {
                if self.deferred {
                    return true;
                }
                self.prepare();
            }
            if let Some(Some(a)) = &mut self.ascii {
                return a.may_match(text);
            }
        }
        // The full-Unicode scan takes milliseconds to build: a short line pays less for
        // the regexes' own searches ("may match"), so only a long one builds it.
        if self.full.is_none() && text.len() < FULL_SCAN_MIN {
            return true;
        }
        let (pats, shape) = &*self.key;
        let key = (pats.clone(), *shape, false);
        match self
            .full
            .get_or_insert_with(|| Scan::new(key, || AnyOf::hir(pats, *shape)))
        {
            Some(f) => f.may_match(text),
            None => true,
        }
    }
}

/// The scans' lazy DFA over `hirs` (pattern k the k-th), without captures, in the
/// scans' cache budget: the prefilter's one pattern and the date set scans' many.
pub(super) fn lazy_dfa(
    hirs: &[Hir],
    kind: regex_automata::MatchKind,
) -> Option<regex_automata::hybrid::dfa::DFA> {
    use regex_automata::hybrid::dfa::DFA;
    use regex_automata::nfa::thompson;
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .which_captures(thompson::WhichCaptures::None)
                .nfa_size_limit(Some(10 * (1 << 20))),
        )
        .build_many_from_hir(hirs)
        .ok()?;
    DFA::builder()
        .configure(
            DFA::config()
                .match_kind(kind)
                .cache_capacity(2 * (1 << 20))
                .minimum_cache_clear_count(Some(3))
                .minimum_bytes_per_state(Some(10)),
        )
        .build_from_nfa(nfa)
        .ok()
}

#[cfg(test)]
mod tests {
    /// The literal search in front of a scan answers as the automaton does, and stays
    /// on after its trial only where the automaton would read far into the texts it
    /// rules out: a greedy `.*` before the words (an admin's access-log filter), not a
    /// pattern that fails on the first bytes (nginx's error-log lines).
    #[test]
    fn literals_before_a_scan_stay_where_they_spare_reading() {
        use super::AnyOf;
        use crate::filter::pyre::need::Trial;
        let far = r"^\S+ \S+ \S+ \[.*\] \x22POST /xmlrpc\.php";
        let near = r"^\d+/\d+/\d+ \S+ \[error\] \d+#\d+: \*\d+ user \x22[^\x22]+\x22";
        let line = |k: usize| {
            format!(
                "192.0.2.{k} - - [14/Mar/2026:06:25:{:02} +0000] \"GET /page/{k} HTTP/1.1\" 200 512 \"-\" \"agent/{k} [x]\"\n",
                k % 60
            )
        };
        for (pattern, stays) in [(far, true), (near, false)] {
            let mut any = AnyOf::new([Some(pattern)].into_iter(), true).expect("scans");
            let exact = regex::Regex::new(pattern).expect("compiles");
            let n = Trial::TEXTS as usize + 200;
            for k in 0..n {
                let mut text = line(k);
                if k % 7 == 0 {
                    text = text.replace("GET /page", "POST /xmlrpc.php?p=");
                }
                assert_eq!(
                    any.may_match(&text),
                    exact.is_match(&text),
                    "{pattern} on {text:?}"
                );
            }
            let Some(Some(scan)) = &any.ascii else {
                panic!("an ASCII scan");
            };
            assert!(scan.dfa.needs.is_some(), "{pattern}: literals found");
            // (on, every text is looked in; off, the count stops at the trial's end)
            assert_eq!(
                scan.trial.texts as usize == n,
                stays,
                "{pattern}: {} tried",
                scan.trial.texts
            );
        }
    }
}
