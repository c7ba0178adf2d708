//! The per-line pipeline shared by the server and fail2ban-regex.
//!
//! Principal types: [`MatcherSpec`] (a filter's settings), [`Matcher`] (compiled regexes,
//! the date detector, the `maxlines` buffer and the mlfid cache) and [`Failure`] (one
//! failure found). Flow per line: date found and cut out → the line joins the buffer →
//! ignoreregex pre-check → prefregex (its `content` replaces the buffer) → failregexes
//! (first match, or all with `check_all`) → ignoreregex on the match → mlfid merge
//! ([`mlfid`]) → failure id ([`failure_id`]; names resolved through a [`Resolver`]).
//! No I/O and no clock: `now` is an argument. Time-sanity rules of the server (ignore
//! old lines, clamp future ones, use `now` for a dateless match in operation) are the
//! caller's business: [`Failure::time`] is `None` when the line had no usable date, and
//! [`Matcher::report`] says why. Hot path: on the single-line path the line's storage and
//! the joined buffer are recycled, so a line that no regex matches allocates nothing here;
//! with `maxlines` 1 one lazy-DFA scan ([`AnyOf`]) drops a line no failregex can match
//! before the prefregex runs. [`Matcher::time_line`] times one line (benchmarks).

mod memo;
pub mod mlfid;

use std::ops::Range;
use std::sync::Arc;

use crate::filter::addr::{IpAddr, UseDns};
use crate::filter::date::{DateDetector, DateError, LocalZone, SystemZone};
use crate::filter::failregex::{
    FailId, FailRegex, Fields, IdError, IgnoreRegex, PrefRegex, RegexError, failure_id, merge_into,
};
pub use crate::filter::pyre::GroupSpan;
use crate::filter::pyre::{AnyOf, Match, Regex};
use crate::stream::Value;

use memo::{Shape, SpanMemo};
use mlfid::{MlfidCache, merge_failure};

/// A filter's settings as the matcher needs them.
#[derive(Debug, Clone, Default)]
pub struct MatcherSpec {
    pub prefregex: Option<String>,
    pub failregex: Vec<String>,
    pub ignoreregex: Vec<String>,
    pub maxlines: usize,
    pub datepattern: Option<String>,
    pub usedns: UseDns,
    pub logtimezone: Option<String>,
}

impl MatcherSpec {
    /// The settings of a resolved filter (`config::read_filter`). An unknown `usedns`
    /// value becomes `no`, as fail2ban does (it logs a warning the caller may echo).
    pub fn from_def(def: &crate::config::FilterDef) -> Self {
        MatcherSpec {
            prefregex: def.prefregex.clone(),
            failregex: def.failregex.clone(),
            ignoreregex: def.ignoreregex.clone(),
            maxlines: def
                .maxlines
                .map_or(1, |n| usize::try_from(n).unwrap_or(1).max(1)),
            datepattern: def.datepattern.clone(),
            usedns: def
                .usedns
                .as_deref()
                .map_or(UseDns::Warn, |u| UseDns::parse(u).unwrap_or(UseDns::No)),
            logtimezone: None,
        }
    }
}

/// Why a matcher could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("failregex {0}: {1}")]
    Fail(usize, RegexError),
    #[error("ignoreregex {0}: {1}")]
    Ignore(usize, RegexError),
    #[error("prefregex: {0}")]
    Pref(RegexError),
    #[error("{0}")]
    Date(#[from] crate::filter::date::Error),
}

/// Host name → addresses (usedns yes/warn). Tests plug a table; the server plugs DNS.
pub trait Resolver {
    fn resolve(&self, host: &str, use_dns: UseDns) -> Vec<IpAddr>;
}

/// A resolver that knows no names.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoResolver;

impl Resolver for NoResolver {
    fn resolve(&self, _host: &str, _use_dns: UseDns) -> Vec<IpAddr> {
        Vec::new()
    }
}

/// One buffered line: the whole text and the byte range of its date text.
#[derive(Debug, Clone, PartialEq)]
pub struct TupleLine {
    pub text: String,
    pub cut: (usize, usize),
}

impl TupleLine {
    fn plain(text: String) -> Self {
        TupleLine { text, cut: (0, 0) }
    }

    /// The line without its date (what the regexes see).
    fn push_undated(&self, out: &mut String) {
        out.push_str(&self.text[..self.cut.0]);
        out.push_str(&self.text[self.cut.1..]);
    }
}

/// The data of a failure (fail2ban's `fail` dict).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailData {
    /// Merged named groups (prefregex, failregex, mlfid cache), incl. `nofail`,
    /// `mlfgained` when set.
    pub fields: Fields,
    /// Whole lines for `<matches>`.
    pub matches: Vec<String>,
    /// Lines seen while the connection was in a no-failure state.
    pub nofail_matches: Vec<String>,
    /// Users seen on the connection (insertion order, unique).
    pub users: Vec<String>,
    /// Where `users` sits among `fields` in fail2ban's dict order (the key is added
    /// when the first user is seen; meaningful while `users` is not empty).
    pub users_at: usize,
    /// An mlfid failure without an id yet.
    pub pending: bool,
    /// Address when the ticket id is a distinct `F-ID`.
    pub ip: Option<IpAddr>,
}

impl FailData {
    pub fn nofail(&self) -> bool {
        truthy(self.fields.get("nofail"))
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::None) => false,
        Some(Value::Str(s)) => !s.is_empty(),
        Some(Value::Int(i)) => *i != 0,
        Some(Value::Bool(b)) => *b,
        Some(_) => true,
    }
}

/// One result of a line: `id` None for a pending mlfid or a no-failure entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub regex_index: usize,
    pub id: Option<IpAddr>,
    pub time: Option<f64>,
    pub data: FailData,
}

impl Failure {
    /// Whether this counts as a failure (fail2ban skips id-less and `nofail` entries).
    pub fn is_failure(&self) -> bool {
        self.id.is_some() && !self.data.nofail()
    }
}

/// A line's outcome beyond failures, for fail2ban-regex's statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineReport {
    /// Index of the ignoreregex that dropped the line, if any.
    pub ignored: Option<usize>,
    /// A date text that could not be parsed.
    pub bad_date: Option<String>,
    /// The line had no usable date.
    pub no_date: bool,
    /// An id with a bad `/suffix` aborted the line (fail2ban: "Failed to process line").
    pub error: Option<String>,
}

/// The compiled per-filter pipeline with its per-log state.
pub struct Matcher {
    date: DateDetector,
    pref: Option<PrefRegex>,
    fail: Vec<FailRegex>,
    /// Per failregex, the bytes its match can begin with: most lines fail every
    /// failregex but one on the first byte, and this table is read instead of each
    /// regex's own (a cache line or two per regex).
    fail_first: Vec<[u64; 4]>,
    /// Per failregex, its results by text shape (see [`memo`]).
    fail_memo: Vec<SpanMemo>,
    /// The shape of the failregexes' text.
    shape: Shape,
    /// The most fields a failregex match adds to the prefregex's: the prefregex's
    /// fields are made with room for them, so the merge does not grow the list.
    fail_room: usize,
    ignore: Vec<IgnoreRegex>,
    /// Single-line filters: one scan that rejects a line no failregex can match.
    any_fail: Option<AnyOf>,
    maxlines: usize,
    use_dns: UseDns,
    /// fail2ban-regex `--raw`: never resolve ids.
    pub raw_host: bool,
    /// Try every failregex (fail2ban-regex), not just the first that matches.
    pub check_all: bool,
    /// Drop pending mlfid entries silently (the server).
    pub ignore_pending: bool,
    buffer: Vec<TupleLine>,
    /// Reused for the joined buffer text (no allocation per line once warm).
    joined: String,
    /// Storage a line's work hands back for the next line's (no allocation per line
    /// once warm): a replaced buffer's list and its line's text (a full log line's
    /// capacity, where the buffer's own holds only a prefregex content), and the text
    /// the failregexes search when it is not the buffer's.
    spare_lines: Vec<TupleLine>,
    spare_text: String,
    scratch: String,
    last_date: Option<f64>,
    /// The date text of `last_date` (stands in for a missing date).
    last_text: String,
    mlfid: MlfidCache,
    pub report: LineReport,
    /// The date span of the last line (see [`Matcher::line_date_span`]).
    date_span: Option<Option<(usize, usize)>>,
    /// Whether the prefregex matched the last line (see [`Matcher::pref_hit`]).
    pref_hit: Option<bool>,
    /// The searches on the current line's buffer found ahead (see [`Ahead`]).
    scanned: Option<Scanned>,
}

/// The group spans a [`LineSearcher`] found for a batch of lines, back to back; a
/// line's [`Ahead`] names its matches' ranges. One buffer per batch, reused: the
/// matcher reads the spans in place, so no allocation of the searcher's is freed by the
/// matcher's (a block freed across threads comes back cold to the searcher's
/// allocator, a cache miss on every match), and the matcher allocates none either.
pub type SpanArena = Vec<GroupSpan>;

/// What a [`LineScanner`] found for one line ahead of the matcher.
#[derive(Debug, Clone)]
pub struct Ahead {
    date: Option<LineDate>,
    scan: Option<Scanned>,
}

/// The part of a [`crate::filter::date::DateMatch`] the matcher reads: the date text's
/// span and the time. (Without the template's shared name, so a line handed to another
/// thread touches no counter the detector's thread also writes.)
#[derive(Debug, Clone)]
struct LineDate {
    span: (usize, usize),
    time: Result<f64, DateError>,
}

impl From<((usize, usize), Result<f64, DateError>)> for LineDate {
    fn from((span, time): ((usize, usize), Result<f64, DateError>)) -> Self {
        LineDate { span, time }
    }
}

/// The searches a [`LineScanner`] ran on a single-line buffer (the line less the date
/// cut it assumed, then `\n`): all of them depend on that text alone.
/// A match's spans are a range of the batch's [`SpanArena`].
#[derive(Debug, Clone)]
struct Scanned {
    /// The date cut assumed (the date's span, or none).
    cut: (usize, usize),
    /// The prefilter's verdict (false: no failregex can match).
    may_match: bool,
    /// The prefregex's match (`Some(None)`: none); None: not run.
    pref: Option<Option<Range<usize>>>,
    /// How many failregexes were searched, in order, on the text they see; all but
    /// the last missed, and `hit` is the last one's match.
    tried: usize,
    hit: Option<Range<usize>>,
}

impl Scanned {
    /// Whether every range is in `arena` (else the matcher searches on its own).
    fn fits(&self, arena: &[GroupSpan]) -> bool {
        let pref = self.pref.iter().flatten();
        pref.chain(&self.hit)
            .all(|r| r.end <= arena.len() && r.start <= r.end)
    }
}

/// The part of a single-line matcher's work that needs no state but the date
/// detector's template order: date detection and the failregex prefilter
/// ([`LineScanner`]), then the prefregex and the failregexes up to the first that
/// matches ([`LineSearcher`]). Both can run on other threads, ahead of the matcher
/// (fail2ban-regex's reader), the searcher with the matcher's compiled regexes.
#[derive(Debug)]
pub struct LineScanner {
    date: DateDetector,
    any_fail: Option<AnyOf>,
    /// Reused for the line less its date.
    undated: String,
}

impl LineScanner {
    /// The date of `line` and the prefilter's verdict on the buffer the matcher will
    /// build from it when no earlier date stands in for its own.
    pub fn scan(&mut self, line: &str, now: f64) -> Ahead {
        let date = self.date.match_span_time(line, now).map(LineDate::from);
        let cut = date.as_ref().map_or((0, 0), |d| d.span);
        let scan = self.any_fail.as_mut().and_then(|a| {
            undated(line, cut, &mut self.undated)?;
            Some(Scanned {
                cut,
                may_match: a.may_match(&self.undated),
                pref: None,
                tried: 0,
                hit: None,
            })
        });
        Ahead { date, scan }
    }
}

/// `line` less `cut`, then `\n`, into `out`: a single-line buffer's text.
fn undated(line: &str, cut: (usize, usize), out: &mut String) -> Option<()> {
    let (head, tail) = (line.get(..cut.0)?, line.get(cut.1..)?);
    out.clear();
    out.push_str(head);
    out.push_str(tail);
    out.push('\n');
    Some(())
}

/// The searches after a [`LineScanner`] (see there). A clone shares the compiled
/// regexes (their caches are per thread), for another searching thread.
#[derive(Debug, Clone)]
pub struct LineSearcher {
    pref: Option<PrefRegex>,
    fail: Vec<FailRegex>,
    /// Per failregex, the bytes its match can begin with: most lines fail every
    /// failregex but one on the first byte, and this table is read instead of each
    /// regex's own (a cache line or two per regex).
    fail_first: Vec<[u64; 4]>,
    fail_memo: Vec<SpanMemo>,
    shape: Shape,
    undated: String,
    /// Reused for the prefregex's content.
    content: String,
}

impl LineSearcher {
    /// Runs the prefregex and the failregexes as [`Matcher::find_in`] runs them first,
    /// on the buffer `ahead` was scanned for, when the prefilter lets it through.
    /// The matches' spans go to `arena` (see [`SpanArena`]).
    pub fn search(&mut self, line: &str, ahead: &mut Ahead, arena: &mut SpanArena) {
        let Some(s) = ahead.scan.as_mut().filter(|s| s.may_match) else {
            return;
        };
        if undated(line, s.cut, &mut self.undated).is_none() {
            return;
        }
        let buf = self.undated.as_str();
        let mut stash = |spans: &[GroupSpan]| {
            let from = arena.len();
            arena.extend_from_slice(spans);
            from..arena.len()
        };
        let mut has_content = false;
        if let Some(p) = &self.pref {
            let Some(m) = p.search(buf) else {
                s.pref = Some(None);
                return;
            };
            if p.content_into(&m, &mut self.content) {
                self.content.push('\n');
                has_content = true;
            }
            s.pref = Some(Some(stash(m.spans())));
        }
        let text = if has_content { &self.content } else { buf };
        let regexes = self.fail.iter().zip(&self.fail_first);
        self.shape.clear();
        for ((re, first), memo) in regexes.zip(&mut self.fail_memo) {
            s.tried += 1;
            if !Regex::may_start(first, text) {
                continue;
            }
            if let Some(m) = memo.search(re, text, &mut self.shape) {
                s.hit = Some(stash(m.spans()));
                return;
            }
        }
    }
}

impl Matcher {
    /// Builds with the system local zone and the current year for `%ExY`.
    pub fn new(spec: &MatcherSpec) -> Result<Self, SpecError> {
        let year = chrono::Datelike::year(&chrono::Local::now());
        Self::with_zone(spec, year, Arc::new(SystemZone))
    }

    /// Full control over the date detector's year window and local zone.
    pub fn with_zone(
        spec: &MatcherSpec,
        year: i32,
        local: Arc<dyn LocalZone>,
    ) -> Result<Self, SpecError> {
        let mut date = DateDetector::with_options(spec.datepattern.as_deref(), year, local)?;
        date.set_logtimezone(spec.logtimezone.as_deref())?;
        let use_dns = spec.usedns;
        let pref = match spec.prefregex.as_deref() {
            Some(p) if !p.trim().is_empty() => {
                Some(PrefRegex::new(p, use_dns).map_err(SpecError::Pref)?)
            }
            _ => None,
        };
        let maxlines = spec.maxlines.max(1);
        let fail = spec
            .failregex
            .iter()
            .enumerate()
            .map(|(i, r)| {
                FailRegex::new(r, pref.as_ref(), maxlines > 1, use_dns)
                    .map_err(|e| SpecError::Fail(i, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ignore = spec
            .ignoreregex
            .iter()
            .enumerate()
            .map(|(i, r)| IgnoreRegex::new(r, use_dns).map_err(|e| SpecError::Ignore(i, e)))
            .collect::<Result<Vec<_>, _>>()?;
        // With one line per buffer, a line no failregex can match leaves no trace (the
        // buffer is replaced by the next line), so the prefregex need not run on it.
        let any_fail = if maxlines == 1 {
            let rs: Vec<&crate::filter::pyre::Regex> = fail.iter().map(|f| f.regex()).collect();
            // After a prefregex: one anchored scan of prefix and content together.
            pref.as_ref()
                .and_then(|p| AnyOf::after_prefix(p.regex(), &rs))
                .or_else(|| crate::filter::pyre::Regex::any_of(&rs, pref.is_none()))
        } else {
            None
        };
        let fail_first: Vec<_> = fail.iter().map(|f| f.regex().first_bytes()).collect();
        let fail_room = fail.iter().map(|f| f.0.field_count()).max().unwrap_or(0);
        Ok(Matcher {
            date,
            any_fail,
            pref,
            fail,
            fail_memo: vec![SpanMemo::default(); fail_first.len()],
            shape: Shape::default(),
            fail_first,
            fail_room,
            ignore,
            maxlines,
            use_dns,
            raw_host: false,
            check_all: false,
            ignore_pending: true,
            buffer: Vec::new(),
            joined: String::new(),
            spare_lines: Vec::new(),
            spare_text: String::new(),
            scratch: String::new(),
            last_date: None,
            last_text: String::new(),
            mlfid: MlfidCache::default(),
            report: LineReport::default(),
            date_span: None,
            pref_hit: None,
            scanned: None,
        })
    }

    pub fn failregex_count(&self) -> usize {
        self.fail.len()
    }

    pub fn date_detector(&mut self) -> &mut DateDetector {
        &mut self.date
    }

    /// The byte span of the date the detector found in the last line given to
    /// [`Matcher::process_line`] (`Some(None)`: none found); None after
    /// [`Matcher::process_line_at`], which runs no detection. A second detector built
    /// from the same spec and fed the same lines finds the same spans (callers that
    /// need them save that detector's work).
    pub fn line_date_span(&self) -> Option<Option<(usize, usize)>> {
        self.date_span
    }

    /// Whether the prefregex matched the last line's single-line buffer (`maxlines` 1:
    /// the line without its date, plus `\n`); None when the matcher did not run it.
    pub fn pref_hit(&self) -> Option<bool> {
        self.pref_hit
    }

    /// Processes one line (no trailing newline): finds its date, then the failures.
    pub fn process_line(&mut self, line: &str, now: f64, resolver: &dyn Resolver) -> Vec<Failure> {
        let date = self.date.match_span_time(line, now).map(LineDate::from);
        let ahead = Ahead { date, scan: None };
        self.process_ahead(line, ahead, &[], now, resolver)
    }

    /// A scanner that does this matcher's per-line work that depends on nothing but
    /// the line: date detection (a copy of this detector, in its current template
    /// order) and the prefilter. Fed the lines in the same order, it finds what this
    /// matcher would, so [`Matcher::process_ahead`] can skip that work.
    pub fn line_scanner(&self) -> LineScanner {
        LineScanner {
            date: self.date.clone(),
            any_fail: self.any_fail.as_ref().map(AnyOf::fork),
            undated: String::new(),
        }
    }

    /// Takes back the date detector of a scanner that saw the lines in this matcher's
    /// place (its template order and hit counts are now the detector's state).
    pub fn adopt_scanner(&mut self, scanner: LineScanner) {
        self.date = scanner.date;
    }

    /// The searcher that follows [`Matcher::line_scanner`] (this matcher's regexes).
    pub fn line_searcher(&self) -> LineSearcher {
        LineSearcher {
            pref: self.pref.clone(),
            fail: self.fail.clone(),
            fail_first: self.fail_first.clone(),
            fail_memo: vec![SpanMemo::default(); self.fail.len()],
            shape: Shape::default(),
            undated: String::new(),
            content: String::new(),
        }
    }

    /// The prefilter and date scans are not built on a line, only by
    /// [`Matcher::prepare_scans`]: the server calls it after each read event's lines,
    /// so the first lines of a jail do not wait for them (they match without).
    pub fn defer_scans(&mut self) {
        if let Some(a) = &mut self.any_fail {
            a.defer();
        }
        self.date.defer_scans();
    }

    /// Builds the scans [`Matcher::defer_scans`] left unbuilt (cheap once built).
    pub fn prepare_scans(&mut self) {
        if let Some(a) = &mut self.any_fail {
            a.prepare();
        }
        self.date.prepare_scans();
    }

    /// Whether a [`LineScanner`] takes a share of the work beyond the date (single-line
    /// filters with a failregex prefilter).
    pub fn has_prefilter(&self) -> bool {
        self.any_fail.is_some()
    }

    /// [`Matcher::process_line`] with the line's date, and possibly the searches on its
    /// buffer, found ahead by a [`LineScanner`] fed every line in order (then a
    /// [`LineSearcher`], whose spans are in `arena`). A search result is used only for
    /// the very buffer it was found on; anything not found ahead is searched here.
    pub fn process_ahead(
        &mut self,
        line: &str,
        ahead: Ahead,
        arena: &[GroupSpan],
        now: f64,
        resolver: &dyn Resolver,
    ) -> Vec<Failure> {
        self.report = LineReport::default();
        self.pref_hit = None;
        let mut date = None;
        // (prefix standing for the date, cut range within prefix + line)
        let mut use_last = false;
        let mut cut = (0, 0);
        let dm = ahead.date;
        self.date_span = Some(dm.as_ref().map(|d| d.span));
        if let Some(dm) = dm {
            let (s, e) = dm.span;
            cut = (s, e);
            match dm.time {
                Ok(t) => {
                    date = Some(t);
                    self.last_date = Some(t);
                    self.last_text.clear();
                    self.last_text.push_str(&line[s..e]);
                }
                Err(DateError::Empty) => {
                    if self.recent_date(now) {
                        date = self.last_date;
                        use_last = true;
                    } else {
                        date = Some(now);
                    }
                }
                Err(DateError::UnknownZone(z)) => {
                    self.report.error = Some(format!("Unknown zone: {z}"));
                    return Vec::new();
                }
                Err(_) => self.report.bad_date = Some(line[s..e].to_string()),
            }
        }
        if date.is_none() {
            self.report.no_date = true;
            if self.recent_date(now) {
                date = self.last_date;
                use_last = true;
            }
        }
        let mut text = self.fresh_line();
        if use_last {
            text.push_str(&self.last_text);
            cut = (0, text.len());
        }
        text.push_str(line);
        // The scan ran on the line less its date: it holds unless the last date stands
        // in for a missing one (a different buffer text).
        self.scanned = ahead
            .scan
            .filter(|s| !use_last && s.cut == cut && s.fits(arena));
        self.push_buffer(TupleLine { text, cut });
        self.find_failure(date, now, resolver, arena)
    }

    /// Benchmark hook: runs one line through [`Matcher::process_line`] and returns the
    /// CPU time of the calling thread it took (steady on a loaded machine, unlike wall
    /// time) and how many failures it produced. The matcher's state
    /// (date template order, buffer, mlfid cache) carries over as in normal use.
    pub fn time_line(
        &mut self,
        line: &str,
        now: f64,
        resolver: &dyn Resolver,
    ) -> (std::time::Duration, usize) {
        let t = thread_cpu_time();
        let found = self.process_line(line, now, resolver);
        let took = thread_cpu_time().saturating_sub(t);
        (took, found.iter().filter(|f| f.is_failure()).count())
    }

    /// Processes a line whose time is known (journal): `time_text` stands for the date.
    pub fn process_line_at(
        &mut self,
        line: &str,
        time_text: &str,
        time: f64,
        now: f64,
        resolver: &dyn Resolver,
    ) -> Vec<Failure> {
        self.report = LineReport::default();
        self.date_span = None;
        self.pref_hit = None;
        self.scanned = None;
        self.last_date = Some(time);
        self.last_text.clear();
        self.last_text.push_str(time_text);
        let mut text = self.fresh_line();
        text.push_str(time_text);
        text.push_str(line);
        self.push_buffer(TupleLine {
            text,
            cut: (0, time_text.len()),
        });
        self.find_failure(Some(time), now, resolver, &[])
    }

    /// The buffered lines as the regexes see them (dates cut out, a prefregex
    /// `content` in place of its lines), oldest first: what the next line joins in
    /// multi-line mode (fail2ban-regex counts prefregex hits on that buffer).
    pub fn buffered_lines(&self) -> Vec<String> {
        self.buffer
            .iter()
            .map(|l| {
                let mut s = String::new();
                l.push_undated(&mut s);
                s
            })
            .collect()
    }

    /// Clears the buffer and its held state (e.g. a log rotated away).
    pub fn reset(&mut self) {
        self.buffer.clear();
    }

    fn recent_date(&self, now: f64) -> bool {
        self.last_date.is_some_and(|t| t > now - 60.0)
    }

    /// An empty string for the next line, recycling the oldest buffered line's storage
    /// when it is about to leave the buffer.
    fn fresh_line(&mut self) -> String {
        let recycle = if self.maxlines > 1 {
            self.buffer.len() >= self.maxlines
        } else {
            !self.buffer.is_empty()
        };
        let old = recycle.then(|| self.buffer.remove(0).text);
        // The larger of the two, so a line seldom grows its text.
        let mut s = match old {
            Some(t) if t.capacity() >= self.spare_text.capacity() => t,
            _ => std::mem::take(&mut self.spare_text),
        };
        s.clear();
        s
    }

    fn push_buffer(&mut self, t: TupleLine) {
        if self.maxlines <= 1 {
            self.buffer.clear();
        }
        self.buffer.push(t);
        let excess = self.buffer.len().saturating_sub(self.maxlines);
        self.buffer.drain(..excess);
    }

    /// `arena`: the spans [`Matcher::scanned`] refers to.
    fn find_failure(
        &mut self,
        date: Option<f64>,
        now: f64,
        resolver: &dyn Resolver,
        arena: &[GroupSpan],
    ) -> Vec<Failure> {
        let mut out = Vec::new();
        // The prefilter ruled the line out ahead and no ignoreregex runs first: nothing
        // to search, so no buffer text to build (most lines of a busy log).
        if self.ignore.is_empty() && self.scanned.as_ref().is_some_and(|s| !s.may_match) {
            self.scanned = None;
            return out;
        }
        let mut joined = std::mem::take(&mut self.joined);
        join_lines(&self.buffer, &mut joined);
        let org = std::mem::take(&mut self.buffer);
        let mut owned = None;
        let result = self.find_in(
            &joined,
            &org,
            (date, now),
            resolver,
            (&mut out, &mut owned),
            arena,
        );
        if let Some(s) = owned {
            self.scratch = s;
        }
        // `None`: the buffer is unchanged by the failregexes.
        match result {
            Ok(Some(rest)) => {
                self.buffer = rest;
                self.recycle(org);
            }
            Ok(None) => self.buffer = org,
            Err(e) => {
                self.buffer = org;
                self.report.error = Some(e);
                out.clear();
            }
        }
        self.joined = joined;
        out
    }

    /// Keeps a replaced buffer's storage for the next lines (see `spare_lines`).
    fn recycle(&mut self, mut org: Vec<TupleLine>) {
        if let Some(l) = org.pop()
            && l.text.capacity() > self.spare_text.capacity()
        {
            self.spare_text = l.text;
        }
        if org.capacity() > self.spare_lines.capacity() {
            org.clear();
            self.spare_lines = org;
        }
    }

    /// The failregex loop; the new buffer when a match or prefregex content changed it.
    /// `owned` receives the text the failregexes searched when it was not `org_buf`
    /// (the caller keeps its storage for the next line).
    fn find_in(
        &mut self,
        org_buf: &str,
        org: &[TupleLine],
        (date, now): (Option<f64>, f64),
        resolver: &dyn Resolver,
        (out, owned): (&mut Vec<Failure>, &mut Option<String>),
        arena: &[GroupSpan],
    ) -> Result<Option<Vec<TupleLine>>, String> {
        if !self.ignore.is_empty()
            && self.ignore.len() + 2 < self.fail.len()
            && let Some(i) = self.ignore.iter().position(|r| r.is_match(org_buf))
        {
            self.report.ignored = Some(i);
            return Ok(None);
        }
        // (single-line buffers only: `scanned` is never set otherwise)
        let mut scanned = self.scanned.take();
        let may_match = match &scanned {
            Some(s) => s.may_match,
            None => self.any_fail.as_mut().is_none_or(|a| a.may_match(org_buf)),
        };
        if !may_match {
            return Ok(None);
        }
        let mut pre = Fields::default();
        // The prefregex match, kept to rebuild `pre` after a merge consumed it.
        let mut pre_match = None;
        let mut pre_taken = false;
        // The buffer the failregexes see, when it is no longer `org`.
        let mut cur: Option<Vec<TupleLine>> = None;
        if let Some(p) = &self.pref {
            // (`fits` checked the ranges: `get` finds them)
            let m = match scanned.as_mut().and_then(|s| s.pref.take()) {
                Some(None) => None,
                Some(Some(r)) => arena
                    .get(r)
                    .map(|sp| p.0.regex().match_from_slice(org_buf, sp)),
                None => p.search(org_buf),
            };
            if self.maxlines == 1 {
                self.pref_hit = Some(m.is_some());
            }
            let Some(m) = m else {
                return Ok(None);
            };
            let (f, c) = p.split_content(&m, self.fail_room);
            pre = f;
            pre_match = Some(m);
            if let Some(c) = c {
                // (no `format!`: this runs on most lines of a prefregex filter)
                let mut o = std::mem::take(&mut self.scratch);
                o.clear();
                o.reserve(c.len() + 1);
                o.push_str(&c);
                o.push('\n');
                *owned = Some(o);
                let mut v = std::mem::take(&mut self.spare_lines);
                v.push(TupleLine::plain(c));
                cur = Some(v);
            }
        }
        self.shape.clear();
        for idx in 0..self.fail.len() {
            let text: &str = owned.as_deref().unwrap_or(org_buf);
            let re = &self.fail[idx];
            let found = match &mut scanned {
                Some(s) if idx + 1 < s.tried => None,
                Some(s) if idx + 1 == s.tried => s
                    .hit
                    .take()
                    .and_then(|r| arena.get(r))
                    .map(|sp| re.regex().match_from_slice(text, sp)),
                _ if !Regex::may_start(&self.fail_first[idx], text) => None,
                _ => self.fail_memo[idx].search(re, text, &mut self.shape),
            };
            let Some(m) = found else {
                continue;
            };
            // One buffered line: the match covers it (no copy of it for that).
            let (split, unmatched) = if org.len() <= 1 {
                (None, Vec::new())
            } else {
                let (a, b) = split_lines(re, &m, text, org);
                (Some(a), b)
            };
            let matched: &[TupleLine] = split.as_deref().unwrap_or(org);
            let fail_fields = re.fields(&m);
            if !self.ignore.is_empty() {
                let ignored = if self.maxlines > 1 {
                    let mut b = String::new();
                    join_lines(matched, &mut b);
                    self.ignore.iter().position(|r| r.is_match(&b))
                } else {
                    self.ignore.iter().position(|r| r.is_match(text))
                };
                if let Some(i) = ignored {
                    self.report.ignored = Some(i);
                    if !self.check_all {
                        break;
                    }
                    continue;
                }
            }
            let matched_text: Vec<String> = matched.iter().map(|l| l.text.clone()).collect();
            if !self.check_all || self.maxlines > 1 {
                let mut s = owned
                    .take()
                    .unwrap_or_else(|| std::mem::take(&mut self.scratch));
                join_lines(&unmatched, &mut s);
                *owned = Some(s);
                cur = Some(unmatched);
                // The next failregexes (with `check_all`) search another text.
                self.shape.clear();
            }
            // The prefregex groups move into the merge (most lines have one match);
            // a later match of the same line gets them afresh from the prefregex match.
            if pre_taken && let (Some(p), Some(pm)) = (&self.pref, &pre_match) {
                pre = p.split_content(pm, self.fail_room).0;
            }
            pre_taken = true;
            let merged = if pre.0.is_empty() {
                fail_fields
            } else {
                merge_into(std::mem::take(&mut pre), fail_fields)
            };
            let mut data;
            let mlfid = merged.text("mlfid");
            if let Some(mlfid) = &mlfid {
                // A helper match (no failure) ends the line unless every regex is tried.
                let keep_nofail = self.check_all;
                match merge_failure(
                    &mut self.mlfid,
                    mlfid,
                    merged,
                    matched_text,
                    now,
                    keep_nofail,
                ) {
                    Some(d) => data = d,
                    None => return Ok(cur),
                }
            } else {
                data = FailData {
                    fields: merged,
                    matches: matched_text,
                    ..Default::default()
                };
            }
            let ids = match failure_id(&data.fields, self.use_dns, self.raw_host) {
                Ok(FailId::Id { id, ip }) => {
                    data.ip = ip;
                    vec![Some(id)]
                }
                Ok(FailId::Resolve(host)) => resolver
                    .resolve(&host, self.use_dns)
                    .into_iter()
                    .map(Some)
                    .collect(),
                Ok(FailId::Unresolved) => Vec::new(),
                Ok(FailId::Pending) => {
                    data.pending = true;
                    if let Some(k) = &mlfid {
                        self.mlfid.mark_pending(k, &data.matches);
                    }
                    if !self.check_all && self.ignore_pending {
                        return Ok(cur);
                    }
                    vec![None]
                }
                Err(IdError::NoIdGroup) => continue,
                Err(IdError::BadAddress(e)) => return Err(e),
            };
            // The last failure takes the data itself (most matches give one id).
            let last = ids.len().saturating_sub(1);
            for (k, id) in ids.into_iter().enumerate() {
                let data = if k == last {
                    std::mem::take(&mut data)
                } else {
                    data.clone()
                };
                out.push(Failure {
                    regex_index: idx,
                    id,
                    time: date,
                    data,
                });
            }
            if !self.check_all {
                break;
            }
        }
        Ok(cur)
    }
}

/// CPU time consumed by the calling thread so far.
fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// fail2ban's buffer text: the lines without their dates, each ended by `\n`.
fn join_lines(lines: &[TupleLine], out: &mut String) {
    out.clear();
    // (sized once: a long line grown by doubling is copied and faulted in again at
    // each step)
    let len: usize = lines.iter().map(|l| l.text.len() + 1).sum();
    out.reserve(len);
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        l.push_undated(out);
    }
    out.push('\n');
}

/// Splits the original tuple lines into those the match covers (less `<SKIPLINES>`) and
/// the rest (kept in the buffer).
fn split_lines(
    re: &FailRegex,
    m: &Match<'_>,
    text: &str,
    org: &[TupleLine],
) -> (Vec<TupleLine>, Vec<TupleLine>) {
    if org.len() <= 1 {
        return (org.to_vec(), Vec::new());
    }
    let start = text[..(m.start() + 1).min(text.len())]
        .rfind('\n')
        .map_or(0, |p| p + 1);
    let end = text[m.end().saturating_sub(1)..]
        .find('\n')
        .map_or(text.len(), |p| m.end().saturating_sub(1) + p + 1);
    let c1 = memchr::memchr_iter(b'\n', &text.as_bytes()[..start]).count();
    let c2 = memchr::memchr_iter(b'\n', &text.as_bytes()[..end]).count();
    let c1 = c1.min(org.len());
    let c2 = c2.clamp(c1, org.len());
    let mut matched = org[c1..c2].to_vec();
    let mut unmatched = org[..c1].to_vec();
    let mut n = 0;
    for skipped in re.skipped_lines(m) {
        let pos = matched[n..].iter().position(|l| {
            let mut s = String::new();
            l.push_undated(&mut s);
            s == skipped
        });
        if let Some(p) = pos {
            unmatched.push(matched.remove(n + p));
            n += p;
        }
    }
    unmatched.extend_from_slice(&org[c2..]);
    (matched, unmatched)
}

#[cfg(test)]
mod tests;
