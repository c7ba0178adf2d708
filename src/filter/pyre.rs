//! Python `re` → Rust regex: translation of fail2ban's regex dialect and engine choice.
//!
//! [`compile`] takes a pattern exactly as fail2ban hands it to Python's `re.compile` and
//! returns a [`Regex`] that runs on the linear-time `regex` crate when the translated
//! pattern allows it, and on `fancy-regex` (with a backtrack limit) when it needs
//! backreferences or look-around. [`Regex::search`] has Python's `pattern.search(s, pos)`
//! semantics; offsets are byte offsets into the `&str`.
//!
//! [`translate::translate`] is the pure text rewrite; this file holds the engines. A
//! pattern with a non-multiline `$` also keeps a lazily compiled fancy variant with Python's
//! exact `$`, used only when the haystack has an interior `\n` (multi-line buffers).
//! Fancy searches that hit the backtrack limit count as "no match" in [`Regex::search`];
//! [`Regex::try_search`] reports them. [`fast`] adds exact shortcuts in front of both
//! engines (ASCII-only twins, anchored literal prefixes, a linear superset that rejects
//! texts before the fancy VM runs and tells it where to start), and the scans
//! [`AnyOf`] (can any of these regexes match?) and [`WhichOf`] (which of them can?).

mod backref;
mod chain;
mod fast;
pub mod linearize;
pub use scan::AnyOf;
mod near;
mod need;
mod scan;
mod share;
mod short;
mod tail;
pub mod translate;
mod which;
#[cfg(test)]
pub(crate) use which::ASKED_ANSWERS;
pub use which::{StartsBy, Told, WhichOf};

pub use translate::{FancyReason, Rule, Translated, translate};

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use regex_syntax::hir::Hir;

/// Python `re` flags that fail2ban sets from outside the pattern.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `re.MULTILINE` (fail2ban sets it for failregexes when `maxlines > 1`).
    pub multiline: bool,
    /// `re.IGNORECASE`.
    pub ignore_case: bool,
}

/// A pattern that compiles in neither engine, with the part that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub pattern: String,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Unable to compile regular expression '{}':\n{}",
            self.pattern, self.message
        )
    }
}

impl std::error::Error for Error {}

/// Steps fancy-regex may backtrack before a search gives up.
pub const BACKTRACK_LIMIT: usize = 1_000_000;

#[derive(Debug)]
enum Engine {
    Linear(Lazy),
    /// fancy-regex on `translated.fancy`. Compiled once when the pattern is (a pattern
    /// it rejects is a config error), then dropped and compiled again on the first
    /// search that needs it: the linear stand-in ([`Inner::checked`]) takes most texts,
    /// and a quiet jail's log brings none (sshd's fancy pattern held ~110 KB).
    Fancy(OnceLock<Option<fancy_regex::Regex>>),
}

/// The full-Unicode compilation of a linear pattern, built on the first haystack the
/// ASCII twin and the cut compilations ([`near`]) cannot take (most logs are all ASCII,
/// and this NFA is the largest part of compiling a pattern). The pattern was parsed at
/// compile time, so only a size limit can still fail here; the pattern then runs on
/// fancy-regex (same semantics).
#[derive(Debug, Default)]
struct Lazy {
    full: OnceLock<Option<regex::Regex>>,
    fallback: OnceLock<Option<fancy_regex::Regex>>,
    near: near::Near,
}

/// What runs a linear pattern on a non-ASCII haystack.
enum Full<'a> {
    Linear(&'a regex::Regex),
    /// Classes cut to the haystack's blocks: the full engine's answers on it.
    Near(Arc<regex_automata::meta::Regex>),
    /// The linear compile failed: spans come in the pattern's own group numbering.
    Fancy(&'a fancy_regex::Regex),
    /// Neither compiles (logged once): no match.
    None,
}

#[derive(Debug)]
struct Inner {
    engine: Engine,
    /// Fancy pattern with Python's exact non-multiline `$`, compiled on first need.
    exact_dollar: Option<String>,
    exact: OnceLock<Option<fancy_regex::Regex>>,
    translated: Translated,
    fast: fast::Fast,
    /// Linear stand-in of a fancy pattern with one-char back-references only (built on
    /// the first search: most date templates never run).
    checked: OnceLock<Option<backref::Checked>>,
    /// The DFA-only form of a prefregex-shaped pattern (see [`tail`]), built on the
    /// first search from the text start.
    tail: OnceLock<Option<tail::Tail>>,
    /// Group index → name, for named groups (index 0 is the whole match).
    names: Vec<Option<String>>,
}

/// A compiled fail2ban regex.
#[derive(Debug, Clone)]
pub struct Regex {
    inner: Arc<Inner>,
}

/// A fancy-regex search that gave up (backtrack limit or stack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchError {
    pub message: String,
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SearchError {}

fn build_fancy(p: &str) -> Result<fancy_regex::Regex, fancy_regex::Error> {
    fancy_regex::RegexBuilder::new(p)
        .backtrack_limit(BACKTRACK_LIMIT)
        .build()
}

/// `text.starts_with(lit)` compared inline, eight bytes at a time: the literals the
/// matcher tests on every line are mostly a few bytes long, shorter than the cost of
/// the libc `memcmp` call that `starts_with` makes.
#[inline]
pub(crate) fn has_prefix(text: &[u8], lit: &[u8]) -> bool {
    let Some(head) = text.get(..lit.len()) else {
        return false;
    };
    let (mut a, mut b) = (head.chunks_exact(8), lit.chunks_exact(8));
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
    a.by_ref().zip(b.by_ref()).all(|(x, y)| word(x) == word(y))
        && a.remainder().iter().zip(b.remainder()).all(|(x, y)| x == y)
}

/// Live compilations by pattern and flags (see [`share`]).
static COMPILED: OnceLock<share::Table<(String, bool, bool), Inner>> = OnceLock::new();

/// Compiles a Python-dialect pattern. A pattern compiled before and still held anywhere
/// in the process is shared, not compiled again (a compiled regex is immutable; its
/// search caches are per thread).
pub fn compile(pattern: &str, flags: Flags) -> Result<Regex, Error> {
    let table = COMPILED.get_or_init(Default::default);
    let key = (pattern.to_string(), flags.multiline, flags.ignore_case);
    let mut res = None;
    let shared = share::shared(table, key, || match compile_new(pattern, flags) {
        Ok(r) => Arc::into_inner(r.inner),
        Err(e) => {
            res = Some(Err(e));
            None
        }
    });
    match (shared, res) {
        (Some(inner), _) => Ok(Regex { inner }),
        (None, Some(e)) => e,
        // `Arc::into_inner` failed, which it cannot on a fresh Arc: compile unshared.
        (None, None) => compile_new(pattern, flags),
    }
}

/// Group names of the pattern: of its fancy compilation when it has one, else of the
/// linear pattern (a linearized one keeps the original numbering).
fn names_of(
    fancy: Option<&fancy_regex::Regex>,
    t: &Translated,
    linear: Option<&Hir>,
) -> Vec<Option<String>> {
    match (fancy, &t.regrouped, linear) {
        (Some(re), _, _) => re.capture_names().map(|n| n.map(str::to_string)).collect(),
        (None, Some(l), _) => l.names.clone(),
        (None, None, Some(hir)) => fast::capture_names(hir),
        (None, None, None) => Vec::new(),
    }
}

fn compile_new(pattern: &str, flags: Flags) -> Result<Regex, Error> {
    let fail = |message: String| Error {
        pattern: pattern.to_string(),
        message,
    };
    let t =
        translate(pattern, flags.multiline, flags.ignore_case).map_err(|e| fail(e.to_string()))?;
    // Parsing is what rejects a pattern (the regex crate reports the parser's error
    // text); the NFAs are built by `Fast` (ASCII) and on demand (full Unicode).
    let mut linear_err = None;
    let mut hir = match t.linear.as_deref().map(fast::parse_checked) {
        Some(Ok(hir)) => Some(hir),
        Some(Err(e)) => {
            linear_err = Some(e);
            None
        }
        None => None,
    };
    // A pattern that might exceed the size limit is compiled now: failing that is a
    // config error (or a fall back to fancy-regex), as it always was.
    let mut eager = None;
    if let (Some(h), Some(p)) = (&hir, &t.linear)
        && fast::may_exceed_limit(h)
    {
        match regex::Regex::new(p) {
            Ok(re) => eager = Some(re),
            Err(e) => {
                linear_err = Some(e.to_string());
                hir = None;
            }
        }
    }
    let mut fancy = None;
    let engine = match hir {
        Some(_) => Engine::Linear(Lazy {
            full: eager.map_or_else(OnceLock::new, |re| OnceLock::from(Some(re))),
            fallback: OnceLock::new(),
            near: near::Near::default(),
        }),
        None => match build_fancy(&t.fancy) {
            Ok(re) => {
                fancy = Some(re);
                Engine::Fancy(OnceLock::new())
            }
            Err(e) => {
                let mut m = format!("{e} (in translated pattern '{}')", t.fancy);
                if let Some(l) = linear_err {
                    m = format!("{l}\n{m}");
                }
                return Err(fail(m));
            }
        },
    };
    let names = names_of(fancy.as_ref(), &t, hir.as_ref());
    drop(fancy);
    let fast = match (&engine, hir) {
        // The twin must number its groups as the linear pattern does: for a regrouped
        // pattern `names` are the original's, not the linear pattern's own.
        (Engine::Linear(_), Some(hir)) if t.regrouped.is_some() => {
            let own = fast::capture_names(&hir);
            fast::Fast::linear(hir, t.linear.as_deref().unwrap_or_default(), &own)
        }
        (Engine::Linear(_), Some(hir)) => {
            fast::Fast::linear(hir, t.linear.as_deref().unwrap_or_default(), &names)
        }
        _ => fast::Fast::fancy(t.relaxed.as_deref()),
    };
    Ok(Regex {
        inner: Arc::new(Inner {
            engine,
            exact_dollar: t.exact_dollar.clone(),
            exact: OnceLock::new(),
            translated: t,
            fast,
            checked: OnceLock::new(),
            tail: OnceLock::new(),
            names,
        }),
    })
}

/// A group's byte span in a match (None: the group took no part).
pub type GroupSpan = Option<(usize, usize)>;

/// Byte spans of all groups of one match.
type Spans = Vec<GroupSpan>;

/// Group spans of the first match at or after `pos` on a meta regex (a DFA-only check
/// first, as most searches miss).
fn near_spans(re: &regex_automata::meta::Regex, text: &str, pos: usize) -> Option<Spans> {
    let input = regex_automata::Input::new(text).range(pos..);
    if !re.is_match(input.clone()) {
        return None;
    }
    let mut caps = re.create_captures();
    re.search_captures(&input, &mut caps);
    caps.is_match().then(|| {
        (0..caps.group_len())
            .map(|i| caps.get_group(i).map(|s| (s.start, s.end)))
            .collect()
    })
}

fn spans_fancy(
    re: &fancy_regex::Regex,
    text: &str,
    pos: usize,
) -> Result<Option<Spans>, SearchError> {
    match re.captures_from_pos(text, pos) {
        Ok(Some(caps)) => Ok(Some(
            caps.iter()
                .map(|m| m.map(|m| (m.start(), m.end())))
                .collect(),
        )),
        Ok(None) => Ok(None),
        Err(e) => Err(SearchError {
            message: e.to_string(),
        }),
    }
}

impl Regex {
    /// Python's `pattern.search(text, pos)`: the first match starting at or after `pos`
    /// (`^` and look-behind still see the text before `pos`). A fancy search that hits the
    /// backtrack limit is "no match"; use [`Regex::try_search`] to see it.
    pub fn search<'t>(&self, text: &'t str, pos: usize) -> Option<Match<'t>> {
        self.try_search(text, pos).ok().flatten()
    }

    /// Python's `pattern.search(text, pos, endpos)`: as if `text` ended at `endpos`.
    pub fn search_bounded<'t>(
        &self,
        text: &'t str,
        pos: usize,
        endpos: usize,
    ) -> Option<Match<'t>> {
        let mut end = endpos.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.search(&text[..end], pos)
    }

    /// [`Regex::search`] that reports a fancy search giving up.
    pub fn try_search<'t>(
        &self,
        text: &'t str,
        pos: usize,
    ) -> Result<Option<Match<'t>>, SearchError> {
        // Python clamps `pos`; Rust wants a char boundary within the text.
        let mut pos = pos.min(text.len());
        while !text.is_char_boundary(pos) {
            pos += 1;
        }
        if pos == 0
            && let Some(t) = self.tail()
            && let Some(spans) = t.spans(text)
        {
            return Ok(Some(Match {
                text,
                spans: Cow::Owned(spans),
            }));
        }
        self.search_engines(text, pos)
    }

    /// The match starting at `start` by the small backtracker and its memory of the last
    /// text (see [`short`]): for the date detector's short texts, whose digits change
    /// from line to line. A match starting at `start` is the leftmost from there, so
    /// `Some` is what [`Regex::search`] from `start` finds. None when no match starts
    /// there or it cannot tell: the caller searches as usual.
    pub fn search_short<'t>(&self, text: &'t str, start: usize) -> Option<Match<'t>> {
        if !self.ascii_from(text, start) {
            return None;
        }
        let spans = match self.inner.engine {
            Engine::Linear(_) => self.regroup(self.inner.fast.short_spans(text, start))?,
            // A back-reference template (the access log's `(?P=_sep)`): its linear
            // stand-in's program, checked.
            Engine::Fancy(_) => self.checked()?.short_spans(text, start)?,
        };
        Some(Match {
            text,
            spans: Cow::Owned(spans),
        })
    }

    /// The match starting at `start` (`Some` is what [`Regex::search`] from `start`
    /// finds when a match starts there), told by the small backtracker's memory of its
    /// last search on this thread without searching (see [`short`]), and how far into
    /// `text` it depends on (the rest of the text changes nothing). None when it cannot
    /// tell: the caller searches.
    pub fn search_settled<'t>(&self, text: &'t str, start: usize) -> Option<(Match<'t>, usize)> {
        if !matches!(self.inner.engine, Engine::Linear(_)) || self.exact_engine(text).is_some() {
            return None;
        }
        let (spans, read) = self.inner.fast.settled_spans(text, start)?;
        let spans = self.regroup(Some(spans))?;
        Some((
            Match {
                text,
                spans: Cow::Owned(spans),
            },
            read,
        ))
    }

    /// [`Regex::try_search`] by the engines alone (`pos` a char boundary in `text`).
    fn search_engines<'t>(
        &self,
        text: &'t str,
        pos: usize,
    ) -> Result<Option<Match<'t>>, SearchError> {
        let mut ascii = None;
        let Some(start) = self.inner.fast.may_match(text, pos, &mut ascii) else {
            return Ok(None);
        };
        let spans = match self.exact_engine(text) {
            Some(re) => spans_fancy(re, text, start)?,
            None => self.regroup(match &self.inner.engine {
                Engine::Linear(_)
                    if *ascii.get_or_insert_with(|| text.is_ascii())
                        && self.inner.fast.ascii().is_some() =>
                {
                    self.inner.fast.ascii_spans(text, pos)
                }
                Engine::Linear(_) => match self.for_text(text) {
                    // A DFA-only check first: most fail2ban searches miss, and a miss then
                    // skips allocating capture slots.
                    Full::Linear(re) if !re.is_match_at(text, pos) => None,
                    Full::Linear(re) => re.captures_at(text, pos).map(|caps| {
                        caps.iter()
                            .map(|m| m.map(|m| (m.start(), m.end())))
                            .collect()
                    }),
                    Full::Near(re) => near_spans(&re, text, pos),
                    // The linear compile failed: the fancy stand-in's spans are in the
                    // pattern's own numbering already.
                    Full::Fancy(re) => {
                        let spans = spans_fancy(re, text, start)?;
                        return Ok(spans.map(|spans| Match {
                            text,
                            spans: Cow::Owned(spans),
                        }));
                    }
                    Full::None => None,
                },
                Engine::Fancy(lazy) => {
                    let fancy = || {
                        lazy.get_or_init(|| build_fancy(&self.inner.translated.fancy).ok())
                            .as_ref()
                    };
                    match self.checked().map(|c| c.spans(text, pos, &mut ascii)) {
                        Some(Ok(s)) => s,
                        // It compiled before: only memory running out could fail now.
                        _ => match fancy() {
                            Some(re) => spans_fancy(re, text, start)?,
                            None => None,
                        },
                    }
                }
            }),
        };
        Ok(spans.map(|spans| Match {
            text,
            spans: Cow::Owned(spans),
        }))
    }

    /// Whether [`Regex::search`] finds a match, without extracting groups: a linear
    /// pattern is decided by its DFAs alone (no capture pass).
    pub fn is_match(&self, text: &str, pos: usize) -> bool {
        let Engine::Linear(_) = &self.inner.engine else {
            return self.search(text, pos).is_some();
        };
        if self.exact_engine(text).is_some() {
            return self.search(text, pos).is_some();
        }
        let mut pos = pos.min(text.len());
        while !text.is_char_boundary(pos) {
            pos += 1;
        }
        let mut ascii = None;
        if self.inner.fast.may_match(text, pos, &mut ascii).is_none() {
            return false;
        }
        match self.twin(text, &mut ascii) {
            Some(a) => a.is_match(regex_automata::Input::new(text).range(pos..)),
            _ => match self.for_text(text) {
                Full::Linear(re) => re.is_match_at(text, pos),
                Full::Near(re) => re.is_match(regex_automata::Input::new(text).range(pos..)),
                // The linear build failed: the fancy stand-in decides, through search.
                Full::Fancy(_) | Full::None => self.search(text, pos).is_some(),
            },
        }
    }

    /// The span of the first match at or after `pos` without group extraction, when the
    /// linear engine decides it (`None`: this pattern needs the full [`Regex::search`]).
    /// Group spans of a linear match depend only on the matched text and at most one
    /// char (4 bytes) either side of it, which lets callers memoize captures.
    pub fn find_span(&self, text: &str, pos: usize) -> Option<Option<(usize, usize)>> {
        let Engine::Linear(_) = &self.inner.engine else {
            return None;
        };
        if self.exact_engine(text).is_some() {
            return None;
        }
        let mut pos = pos.min(text.len());
        while !text.is_char_boundary(pos) {
            pos += 1;
        }
        let mut ascii = None;
        if self.inner.fast.may_match(text, pos, &mut ascii).is_none() {
            return Some(None);
        }
        Some(match self.twin(text, &mut ascii) {
            Some(a) => a
                .find(regex_automata::Input::new(text).range(pos..))
                .map(|m| (m.start(), m.end())),
            _ => match self.for_text(text) {
                Full::Linear(re) => re.find_at(text, pos).map(|m| (m.start(), m.end())),
                Full::Near(re) => re
                    .find(regex_automata::Input::new(text).range(pos..))
                    .map(|m| (m.start(), m.end())),
                Full::Fancy(_) | Full::None => return None,
            },
        })
    }

    /// For a back-reference pattern with a linear stand-in (see [`backref`]): the span of
    /// the stand-in's first match at or after `pos` in an ASCII `text`. `Some(None)`: the
    /// stand-in has none, so the pattern has none either (each of its matches is one of
    /// the stand-in's). A span found is the pattern's only if [`Regex::search_short`]
    /// from its start confirms it (same span). None: not such a pattern or text.
    pub fn stand_in_span(&self, text: &str, pos: usize) -> Option<Option<(usize, usize)>> {
        let Engine::Fancy(_) = &self.inner.engine else {
            return None;
        };
        if !self.ascii_from(text, pos) {
            return None;
        }
        self.checked()?.span(text, pos)
    }

    /// Whether [`Regex::search_short`] may answer for `text` from `pos` (an ASCII text
    /// without a newline inside): only then is its answer the small backtracker's,
    /// which reads nothing before the byte ahead of `pos`.
    pub fn short_applies(&self, text: &str, pos: usize) -> bool {
        self.ascii_from(text, pos)
    }

    /// Whether the ASCII-only paths ([`Regex::search_short`], [`Regex::stand_in_span`])
    /// may answer for `text` from `pos`.
    fn ascii_from(&self, text: &str, pos: usize) -> bool {
        pos <= text.len() && text.is_ascii() && self.exact_engine(text).is_none()
    }

    /// The full-Unicode engine of a linear pattern, compiled on first use.
    fn full(&self) -> Full<'_> {
        let (Engine::Linear(l), Some(p)) = (&self.inner.engine, &self.inner.translated.linear)
        else {
            return Full::None;
        };
        let full = l.full.get_or_init(|| match regex::Regex::new(p) {
            Ok(re) => Some(re),
            Err(e) => {
                crate::flog!(
                    WARNING,
                    "filter",
                    "Regex {p:?} exceeds the linear engine's limits ({e}); using fancy-regex"
                );
                None
            }
        });
        if let Some(re) = full {
            return Full::Linear(re);
        }
        let fancy = l
            .fallback
            .get_or_init(|| match build_fancy(&self.inner.translated.fancy) {
                Ok(re) => Some(re),
                Err(e) => {
                    crate::flog!(
                        ERROR,
                        "filter",
                        "Regex {p:?} compiles in no engine ({e}); it matches nothing"
                    );
                    None
                }
            });
        fancy.as_ref().map_or(Full::None, Full::Fancy)
    }

    /// The ASCII twin when `text` is ASCII and the pattern has one.
    fn twin(&self, text: &str, ascii: &mut Option<bool>) -> Option<&regex_automata::meta::Regex> {
        if *ascii.get_or_insert_with(|| text.is_ascii()) {
            self.inner.fast.ascii()
        } else {
            None
        }
    }

    /// The engine for a text the ASCII twin cannot take: a cut compilation when the
    /// text's non-ASCII chars fall in a few blocks and the full engine is not built yet
    /// (building it costs tens of times more), else the full engine.
    fn for_text(&self, text: &str) -> Full<'_> {
        if let (Engine::Linear(l), Some(p)) = (&self.inner.engine, &self.inner.translated.linear)
            && l.full.get().is_none()
            && let Some(key) = near::blocks(text)
            && let Some(re) = l.near.get(p, key)
        {
            return Full::Near(re);
        }
        self.full()
    }

    /// Per ASCII byte, a class number such that [`Regex::search`] from 0 gives the same
    /// spans on any two ASCII texts of equal length whose bytes have equal numbers, and
    /// no `\n` before their last byte (see [`fast::class_cuts`]). None for a pattern
    /// that can compare text with text (a back-reference).
    pub fn ascii_classes(&self) -> Option<[u8; 128]> {
        match self.inner.engine {
            Engine::Linear(_) => self.inner.fast.classes(),
            Engine::Fancy(_) => None,
        }
    }

    /// A match rebuilt from group spans this regex produced earlier on equal text.
    pub fn match_from_spans<'t>(
        &self,
        text: &'t str,
        spans: Vec<Option<(usize, usize)>>,
    ) -> Match<'t> {
        Match {
            text,
            spans: Cow::Owned(spans),
        }
    }

    /// [`Regex::match_from_spans`] on spans held elsewhere (not copied).
    pub fn match_from_slice<'t>(&self, text: &'t str, spans: &'t [GroupSpan]) -> Match<'t> {
        Match {
            text,
            spans: Cow::Borrowed(spans),
        }
    }

    /// Spans of a linear search in the original pattern's group numbering (a
    /// [`linearize`]d pattern has copies of groups, see [`linearize::Linear`]).
    fn regroup(&self, spans: Option<Spans>) -> Option<Spans> {
        match (&self.inner.translated.regrouped, &self.inner.engine) {
            (Some(l), Engine::Linear(_)) => {
                spans.map(|s| linearize::map_spans(&l.map, self.inner.names.len(), &s))
            }
            _ => spans,
        }
    }

    /// The DFA-only form of a linear pattern shaped as a prefregex (see [`tail`]).
    fn tail(&self) -> Option<&tail::Tail> {
        let inner = &self.inner;
        let t = &inner.translated;
        inner
            .tail
            .get_or_init(|| match (&inner.engine, &t.regrouped, &t.linear) {
                (Engine::Linear(_), None, Some(p)) => {
                    tail::Tail::maybe(p, || fast::parse_checked(p).ok(), inner.names.len())
                }
                _ => None,
            })
            .as_ref()
    }

    /// The linear stand-in of a back-reference pattern (see [`backref`]).
    fn checked(&self) -> Option<&backref::Checked> {
        let t = &self.inner.translated;
        self.inner
            .checked
            .get_or_init(|| {
                let only_backrefs = t.fancy_reasons.iter().all(|r| *r == FancyReason::Backref);
                only_backrefs
                    .then(|| backref::Checked::new(&t.fancy))
                    .flatten()
            })
            .as_ref()
    }

    /// The exact-`$` engine, when the pattern has a non-multiline `$` and `text` has a
    /// `\n` before its last character (there `(?m:$)` would also match mid-buffer).
    fn exact_engine(&self, text: &str) -> Option<&fancy_regex::Regex> {
        let p = self.inner.exact_dollar.as_deref()?;
        let b = text.as_bytes();
        memchr::memchr(b'\n', &b[..b.len().saturating_sub(1)])?;
        self.inner
            .exact
            .get_or_init(|| build_fancy(p).ok())
            .as_ref()
    }

    /// One scan that rejects texts none of `regexes` can match (with `whole`, searched
    /// from the text start as [`Regex::search`] does; else anywhere inside the text, for
    /// regexes run on a part of it). None when a pattern has no linear form.
    pub fn any_of(regexes: &[&Regex], whole: bool) -> Option<scan::AnyOf> {
        scan::AnyOf::new(
            regexes.iter().map(|r| {
                let t = &r.inner.translated;
                t.linear.as_deref().or(t.relaxed.as_deref())
            }),
            whole,
        )
    }

    /// A set scan over `regexes` (see [`WhichOf`]); None when one has no linear form.
    pub fn which_of(regexes: &[&Regex]) -> Option<WhichOf> {
        WhichOf::new(regexes.iter().map(|r| {
            let t = &r.inner.translated;
            t.linear.as_deref().or(t.relaxed.as_deref())
        }))
    }

    /// [`Regex::which_of`] from the patterns' linear (or relaxed) translations, for
    /// regexes not compiled yet.
    pub fn which_of_scans<'a>(scans: impl Iterator<Item = Option<&'a str>>) -> Option<WhichOf> {
        WhichOf::new(scans)
    }

    /// The bytes a match of a search from the text start can begin with, as a bit set
    /// (all of them when the pattern has no literal prefixes).
    pub fn first_bytes(&self) -> [u64; 4] {
        self.inner.fast.first_bytes()
    }

    /// Whether a search from the start of `text` may match, by its first byte alone
    /// (see [`Regex::first_bytes`]); an empty text may.
    pub fn may_start(first: &[u64; 4], text: &str) -> bool {
        text.as_bytes()
            .first()
            .is_none_or(|&b| first[usize::from(b >> 6)] >> (b & 63) & 1 == 1)
    }

    /// Whether a long non-ASCII `text` holds none of the literals every match holds one
    /// of (then there is no match; false when it cannot tell, or for other texts). A
    /// vectorised search, and nothing built but the literal searcher.
    pub fn lacks_literals(&self, text: &str) -> bool {
        self.inner.fast.lacks_literals(text, 0)
    }

    /// Whether the pattern runs on the linear-time engine.
    pub fn is_linear(&self) -> bool {
        matches!(&self.inner.engine, Engine::Linear(_))
    }

    /// The translation this regex was compiled from.
    pub fn translated(&self) -> &Translated {
        &self.inner.translated
    }

    /// Index of the named group `name`.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.inner
            .names
            .iter()
            .position(|n| n.as_deref() == Some(name))
    }

    /// Text of the named group `name` in `m`, a match of this regex.
    pub fn group_text<'t>(&self, m: &Match<'t>, name: &str) -> Option<&'t str> {
        m.group(self.group_index(name)?)
    }

    /// `(index, name)` of every named group.
    pub fn group_names(&self) -> impl Iterator<Item = (usize, &str)> {
        self.inner
            .names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_deref().map(|n| (i, n)))
    }
}

/// One match: the spans of all groups (their names are the regex's: see
/// [`Regex::group_index`]; a match holds no counted reference, which every match
/// would move).
#[derive(Debug, Clone)]
pub struct Match<'t> {
    text: &'t str,
    spans: Cow<'t, [GroupSpan]>,
}

impl<'t> Match<'t> {
    /// Spans of all groups (index 0: the whole match).
    pub fn spans(&self) -> &[Option<(usize, usize)>] {
        &self.spans
    }
    pub fn start(&self) -> usize {
        self.spans[0].map_or(0, |s| s.0)
    }
    pub fn end(&self) -> usize {
        self.spans[0].map_or(0, |s| s.1)
    }
    pub fn as_str(&self) -> &'t str {
        &self.text[self.start()..self.end()]
    }
    /// Span of group `i`, `None` if it did not take part in the match.
    pub fn span(&self, i: usize) -> Option<(usize, usize)> {
        self.spans.get(i).copied().flatten()
    }
    /// Text of group `i`.
    pub fn group(&self, i: usize) -> Option<&'t str> {
        self.span(i).map(|(s, e)| &self.text[s..e])
    }
    /// The group spans, taken out of the match.
    pub fn into_spans(self) -> Vec<Option<(usize, usize)>> {
        self.spans.into_owned()
    }
    /// Number of groups including group 0.
    pub fn len(&self) -> usize {
        self.spans.len()
    }
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod survey;

#[cfg(test)]
mod prefix_tests {
    use super::has_prefix;

    #[test]
    fn has_prefix_agrees_with_starts_with_at_every_length_and_mismatch() {
        let text: Vec<u8> = (0u8..40).map(|i| b'a' + i % 26).collect();
        for len in 0..=text.len() {
            let lit = &text[..len];
            for cut in 0..=text.len() {
                assert_eq!(has_prefix(&text[..cut], lit), text[..cut].starts_with(lit));
            }
            for at in 0..len {
                let mut bad = lit.to_vec();
                bad[at] ^= 0x20;
                assert!(!has_prefix(&text, &bad), "len {len}, mismatch at {at}");
            }
        }
    }
}

#[cfg(test)]
mod lazy_tests;
