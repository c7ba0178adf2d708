//! Which of several patterns can match a text: one overlapping lazy-DFA scan over
//! their linear supersets ([`WhichOf`]), shared process-wide by pattern list (each scan
//! keeps its own cache). The date detector asks it which templates to search; with a
//! bound on where matches may start ([`StartsBy`]), the scan stops where the patterns'
//! [`reach`] ends.

use std::sync::{Arc, OnceLock};

use regex_automata::{Input, MatchKind};
use regex_syntax::hir::{Hir, HirKind};

use super::fast::{ascii_hir, parse_for_ascii};
use super::scan::{lazy_dfa, loose_hir};
use super::share::{Table, shared};

/// [`WhichOf`] automata by patterns, shared between date detectors.
static WHICH: OnceLock<Table<Vec<String>, WhichDfa>> = OnceLock::new();
/// The pattern texts of the [`WhichOf`] scans alive, shared by value.
static WHICH_KEYS: OnceLock<Table<Vec<String>, Vec<String>>> = OnceLock::new();

/// One overlapping lazy-DFA scan telling which of several patterns can match somewhere
/// in a text (searched from its start, anchors kept). A pattern not in the answer
/// cannot match; the scan gives up (answers "all") when its cache thrashes.
#[derive(Debug)]
pub struct WhichOf {
    /// The patterns (one copy per distinct set, shared by every detector using it).
    key: Arc<Vec<String>>,
    /// Built on the first scan, like its cache (most detectors of a quiet jail never
    /// scan; a set of templates is tens of KB of automaton). `Some(None)`: it does not
    /// build, and every pattern stays a candidate.
    dfa: Option<Option<Arc<WhichDfa>>>,
    cache: Option<regex_automata::hybrid::dfa::Cache>,
    /// The scan's answer, kept for the next text.
    set: Option<regex_automata::PatternSet>,
    len: usize,
    /// Not built on a text: only by [`WhichOf::prepare`] (as [`AnyOf::defer`]).
    deferred: bool,
    /// Scans of the asked patterns alone, by asked set (see [`WhichOf::none_asked`]).
    asked: Vec<AskedScan>,
    /// Uses of an asked set before its scan is built (tests move it).
    build_after: u32,
}

/// A scan of a subset of the patterns (those a [`StartsBy`] asks about) that only tells
/// whether any of them matches: it stops at the first match, and the patterns left out
/// (the last winner among them, whose date is on most lines) report nothing.
#[derive(Debug)]
struct AskedScan {
    asked: Vec<bool>,
    /// Scans of this set so far; the automaton is built once it is in steady use.
    uses: u32,
    /// `Some(None)`: it does not build.
    dfa: Option<Option<Arc<regex_automata::hybrid::dfa::DFA>>>,
    cache: Option<regex_automata::hybrid::dfa::Cache>,
}

/// [`AskedScan`] automata by the patterns they scan, shared between date detectors.
static ASKED: OnceLock<Table<Vec<String>, regex_automata::hybrid::dfa::DFA>> = OnceLock::new();
/// Asked sets a [`WhichOf`] keeps a scan for (a detector's asked set moves only when its
/// templates are reordered).
const ASKED_SETS: usize = 4;
/// Scans of one asked set before its automaton is built (compiling it costs about as
/// much as a few hundred full scans; a set seen on a few lines is not worth it).
const ASKED_BUILD_AFTER: u32 = 64;

/// A [`WhichOf`] automaton and, per pattern, its [`reach`] (None: unbounded), which lets
/// a scan that only asks where matches may start stop early; and the patterns' scan
/// forms, from which the [`AskedScan`] automata are built.
#[derive(Debug)]
struct WhichDfa {
    dfa: regex_automata::hybrid::dfa::DFA,
    reach: Vec<Option<usize>>,
    hirs: Vec<Hir>,
}

/// A length `n` such that every match of `h` has a prefix of at most `n` bytes that is
/// itself a match of `h` (None: no such bound). Parts at the end that can match empty
/// are left out: `\d:\d+(?:\s*Z)?` reaches 1 + 1 + 1, though it matches any length.
fn reach(h: &Hir) -> Option<usize> {
    let p = h.properties();
    if p.minimum_len() == Some(0) {
        return Some(0);
    }
    match h.kind() {
        HirKind::Capture(c) => reach(&c.sub),
        HirKind::Alternation(v) => v.iter().try_fold(0, |m, b| reach(b).map(|r| m.max(r))),
        HirKind::Concat(v) => {
            // the last part that cannot match empty; what follows it may match nothing
            let last = v
                .iter()
                .rposition(|x| x.properties().minimum_len() != Some(0))?;
            let head = v[..last]
                .iter()
                .try_fold(0usize, |t, x| x.properties().maximum_len().map(|l| t + l))?;
            reach(&v[last]).map(|r| head + r)
        }
        HirKind::Repetition(r) => {
            // a match's first `min` rounds are one, the last of them cut to its reach
            let min = usize::try_from(r.min).ok()?;
            let rounds = match min {
                0 | 1 => 0,
                _ => r.sub.properties().maximum_len()?.checked_mul(min - 1)?,
            };
            reach(&r.sub)?.checked_add(rounds)
        }
        _ => p.maximum_len(),
    }
}

/// What a [`WhichOf`] scan asks of the patterns `asked` names: only whether a match of
/// theirs may start at or before byte `start_max`; `reach`: the largest [`reach`] of
/// theirs (see [`WhichOf::reach`]). The others answer "may match" unless the scan read
/// the whole text.
pub struct StartsBy<'a> {
    pub start_max: usize,
    pub asked: &'a [bool],
    pub reach: usize,
}

/// How a [`WhichOf::candidates_into`] scan answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// Per pattern, in the output vector.
    Each,
    /// Every pattern the [`StartsBy`] asked about is ruled out and every other one may
    /// match; the output vector is left empty (its caller knows what it asked).
    AskedOut,
}

impl WhichOf {
    /// For ASCII texts only (the patterns are cut to ASCII). None when a pattern has
    /// no linear form.
    pub(super) fn new<'a>(patterns: impl Iterator<Item = Option<&'a str>>) -> Option<WhichOf> {
        let key: Vec<String> = patterns
            .map(|p| p.map(str::to_string))
            .collect::<Option<_>>()?;
        let len = key.len();
        let table = WHICH_KEYS.get_or_init(Default::default);
        let key = match shared(table, key.clone(), || Some(key.clone())) {
            Some(k) => k,
            None => Arc::new(key),
        };
        Some(WhichOf {
            key,
            dfa: None,
            cache: None,
            set: None,
            len,
            deferred: false,
            asked: Vec::new(),
            build_after: ASKED_BUILD_AFTER,
        })
    }

    fn build(patterns: &[String]) -> Option<WhichDfa> {
        let mut hirs = Vec::new();
        for p in patterns {
            hirs.push(ascii_hir(&loose_hir(&parse_for_ascii(p)?, true)));
        }
        let reach = hirs.iter().map(reach).collect();
        let dfa = lazy_dfa(&hirs, MatchKind::All)?;
        Some(WhichDfa { dfa, reach, hirs })
    }

    /// Whether none of the patterns `asked` names matches in `text[..end]` (ASCII,
    /// checked by the caller); None when this cannot tell yet (the set's automaton is not
    /// built, or its scan gave up). One forward scan that stops at the first match of
    /// any of them: on the date detector's usual line, where only the template it skips
    /// finds its date, this reads the bytes once without the overlapping scan's stop at
    /// every match of every pattern.
    fn none_asked(
        scans: &mut Vec<AskedScan>,
        build_after: u32,
        which: &WhichDfa,
        text: &str,
        end: usize,
        asked: &[bool],
    ) -> Option<bool> {
        if !asked.iter().any(|&a| a) {
            return Some(true);
        }
        let k = match scans.iter().position(|a| a.asked == asked) {
            Some(k) => k,
            None => {
                if scans.len() >= ASKED_SETS {
                    scans.remove(0);
                }
                scans.push(AskedScan {
                    asked: asked.to_vec(),
                    uses: 0,
                    dfa: None,
                    cache: None,
                });
                scans.len() - 1
            }
        };
        let scan = &mut scans[k];
        scan.uses = scan.uses.saturating_add(1);
        if scan.dfa.is_none() {
            if scan.uses < build_after {
                return None;
            }
            let picked = || asked.iter().zip(&which.hirs).filter(|(a, _)| **a);
            let key: Vec<String> = picked().map(|(_, h)| h.to_string()).collect();
            let table = ASKED.get_or_init(Default::default);
            scan.dfa = Some(shared(table, key, || {
                let hirs: Vec<Hir> = picked().map(|(_, h)| h.clone()).collect();
                lazy_dfa(&hirs, MatchKind::LeftmostFirst)
            }));
        }
        let dfa = scan.dfa.as_ref()?.as_ref()?;
        let cache = scan.cache.get_or_insert_with(|| dfa.create_cache());
        // Stopping at the first match state: before any thread matches, leftmost-first
        // drops none, so no match found means no asked pattern matches there.
        let input = Input::new(text).range(..end).earliest(true);
        let none = dfa.try_search_fwd(cache, &input).ok().map(|m| m.is_none());
        #[cfg(test)]
        if none == Some(true) {
            ASKED_ANSWERS.with(|n| n.set(n.get() + 1));
        }
        none
    }

    /// See [`AnyOf::defer`].
    pub fn defer(&mut self) {
        self.deferred = true;
    }

    /// Builds the scan if it is not yet.
    pub fn prepare(&mut self) {
        if self.dfa.is_none() {
            let table = WHICH.get_or_init(Default::default);
            let key = &self.key;
            self.dfa = Some(shared(table, key.as_ref().clone(), || WhichOf::build(key)));
        }
    }

    /// Builds the automaton now unless the scan is deferred and not built yet (then
    /// false: it answers nothing).
    fn ready(&mut self) -> bool {
        if self.deferred && self.dfa.is_none() {
            return false;
        }
        self.prepare();
        true
    }

    /// [`WhichOf::candidates_into`] as a new vector, one answer per pattern (None when
    /// unknown).
    #[cfg(test)]
    pub fn candidates(&mut self, text: &str, starts: Option<StartsBy<'_>>) -> Option<Vec<bool>> {
        let asked = starts.as_ref().map(|s| s.asked.to_vec());
        let mut out = Vec::new();
        match self.candidates_into(text, starts, &mut out)? {
            Told::Each => Some(out),
            Told::AskedOut => {
                let asked = asked.unwrap_or_default();
                Some(
                    (0..self.len)
                        .map(|k| !asked.get(k).copied().unwrap_or(false))
                        .collect(),
                )
            }
        }
    }

    /// Per pattern, into `out` (its storage reused line after line): whether it may
    /// match `text`; None when unknown (non-ASCII text, the scan deferred and not built
    /// yet, or the scan gave up). With `starts` (see [`StartsBy`]) the scan reads the
    /// text only up to `start_max + reach`, and may answer [`Told::AskedOut`] without
    /// filling `out`.
    pub fn candidates_into(
        &mut self,
        text: &str,
        starts: Option<StartsBy<'_>>,
        out: &mut Vec<bool>,
    ) -> Option<Told> {
        out.clear();
        // The scan forms keep no assertion but the text start, so a match that ends by
        // the cut is found whatever follows, and a match starting by `start_max` has one
        // (a prefix of it) ending by `start_max + reach`: only the bytes read up to the
        // cut need be ASCII (the rest, never read, may hold anything).
        let end = starts.as_ref().map_or(text.len(), |s| {
            s.start_max.saturating_add(s.reach).min(text.len())
        });
        if !text.as_bytes()[..end].is_ascii() || !self.ready() {
            return None;
        }
        let Some(Some(which)) = self.dfa.as_ref() else {
            return None;
        };
        let len = self.len;
        // read short of the end: the patterns not asked about may match
        let asked = starts.filter(|_| end < text.len()).map(|s| s.asked);
        if let Some(a) = asked
            && let Some(true) =
                WhichOf::none_asked(&mut self.asked, self.build_after, which, text, end, a)
        {
            return Some(Told::AskedOut);
        }
        let set = self
            .set
            .get_or_insert_with(|| regex_automata::PatternSet::new(len));
        set.clear();
        let cache = self.cache.get_or_insert_with(|| which.dfa.create_cache());
        let input = Input::new(text).range(..end);
        if which
            .dfa
            .try_which_overlapping_matches(cache, &input, set)
            .is_err()
        {
            return None;
        }
        out.extend((0..len).map(|k| {
            asked.is_some_and(|a| !a.get(k).copied().unwrap_or(false))
                || set.contains(regex_automata::PatternID::new_unchecked(k))
        }));
        Some(Told::Each)
    }

    /// Per pattern, its scan form's [`reach`] (None: unbounded); None when the scan does
    /// not build (or is deferred and not built yet).
    pub fn reach(&mut self) -> Option<Vec<Option<usize>>> {
        if !self.ready() {
            return None;
        }
        Some(self.dfa.as_ref()?.as_ref()?.reach.clone())
    }
}

// Answers the asked scans gave on this thread (exact within one test).
#[cfg(test)]
thread_local! {
    pub(crate) static ASKED_ANSWERS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the asked patterns' own scan answers (none of them matches by the cut),
    /// the overlapping scan of all patterns rules every asked pattern out too, and the
    /// answers are the same; on texts where an asked pattern matches by the cut the
    /// asked scan leaves the answer to the overlapping scan. Patterns: the default date
    /// templates' scan forms; texts: access-log lines with the date after client
    /// addresses of several lengths and date-like texts before, at and past the cut.
    #[test]
    fn asked_scan_answers_as_the_overlapping_scan() {
        let dd = crate::filter::date::DateDetector::new_default().expect("defaults");
        let scans = dd.scan_forms();
        let mut warm = WhichOf::new(scans.iter().map(|s| s.as_deref())).expect("scans");
        let mut cold = WhichOf::new(scans.iter().map(|s| s.as_deref())).expect("scans");
        warm.build_after = 0;
        cold.build_after = u32::MAX;
        let reach = cold.reach().expect("built");
        let n = reach.len();
        let mut texts = Vec::new();
        for ip in [
            "10.0.0.1",
            "203.0.113.133",
            "2409:75e6:e00d:7736::45ed",
            "h",
        ] {
            for before in ["", "06:25:00 ", "2026-03-14 ", "@4000000063a2f0b20e5c7a5c "] {
                for after in [
                    "",
                    " \"GET / HTTP/1.1\" 200",
                    " Mar 14 06:25:00 x",
                    " 1773469500",
                ] {
                    texts.push(format!(
                        "{ip} {before}- - [14/Mar/2026:06:25:09 +0000]{after}"
                    ));
                }
            }
        }
        let (mut told, mut left) = (0, 0);
        // asked: every bounded pattern but one (the detector's last winner) in turn
        for skip in 0..n {
            let asked: Vec<bool> = (0..n).map(|k| k != skip && reach[k].is_some()).collect();
            let most = (0..n)
                .filter(|&k| asked[k])
                .filter_map(|k| reach[k])
                .max()
                .unwrap_or(0);
            for text in &texts {
                for start_max in [0, 5, 12, 20, 40] {
                    let starts = || {
                        Some(StartsBy {
                            start_max,
                            asked: &asked,
                            reach: most,
                        })
                    };
                    let before = ASKED_ANSWERS.with(|a| a.get());
                    let got = warm.candidates(text, starts()).expect("warm scan answers");
                    let want = cold.candidates(text, starts()).expect("cold scan answers");
                    if ASKED_ANSWERS.with(|a| a.get()) > before {
                        told += 1;
                        for k in (0..n).filter(|&k| asked[k]) {
                            assert!(!want[k], "{text:?} by {start_max}: pattern {k} matches");
                        }
                    } else {
                        left += 1;
                    }
                    assert_eq!(got, want, "{text:?} by {start_max}, skipping {skip}");
                }
            }
        }
        assert!(told > 0 && left > 0, "told {told}, left {left}");
    }

    /// A pattern's reach bounds the shortest match from every place it matches: the
    /// earliest match end of an anchored search there, on texts built to stretch the
    /// parts that may repeat.
    #[test]
    fn reach_bounds_the_shortest_match() {
        use regex_automata::{Anchored, meta};
        let cases: [(&str, Option<usize>); 10] = [
            (r"\d:\d+(?:\s*Z)?", Some(3)),
            (r"\d+:\d", None),
            (r"\d+", Some(1)),
            (r"a{2,5}b?", Some(2)),
            (r"(?:ab|c)d*", Some(2)),
            (r"x.*y", None),
            (r"q*", Some(0)),
            (r"(?:\d{2} ){2}end", Some(9)),
            (r"^\W{0,2}(\d{4})-(\d\d)(?:[.,]\d{1,6})?", Some(9)),
            (r"(?:ab|c{3})(?:x|yy)+", Some(5)),
        ];
        let texts = [
            "12:34   Z 5:7Z 1:2",
            "aaaaab aab ab",
            "abddd cd ab",
            "x  y xy",
            "qqq",
            "12 34 end 12 34 endd",
            "--2026-03.123456 2026-03",
            "abyyxx cccxyy ccyy",
        ];
        for (p, want) in cases {
            let hir = ascii_hir(&loose_hir(&parse_for_ascii(p).expect("parses"), true));
            let got = reach(&hir);
            assert_eq!(got, want, "reach of {p}");
            let Some(r) = got else { continue };
            let re = meta::Regex::new(p).expect("compiles");
            for text in texts {
                for at in 0..=text.len() {
                    let input = Input::new(text)
                        .range(at..)
                        .anchored(Anchored::Yes)
                        .earliest(true);
                    if let Some(m) = re.search(&input) {
                        assert!(m.end() - at <= r, "{p} on {text:?} at {at}: {m:?} past {r}");
                    }
                }
            }
        }
    }
}
