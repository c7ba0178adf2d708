//! The date detector: finds the timestamp of a log line the way fail2ban 1.0.2 does.
//!
//! Principal types: [`DateDetector`] (an ordered list of [`templates::Template`]s with
//! fail2ban's per-detector hit counts and "last matched template first" reordering) and
//! [`DateMatch`] (the byte span to cut out of the line, which template won, and the time).
//! Flow: `datepattern` text → templates ([`templates`]) → `match_time(line, now)` searches
//! the line → the winning match's named groups → Unix time ([`strptime`]).
//!
//! Speed: a template's captures and converted time are memoized per slot and reused when
//! the next line repeats the same date text (`Memo`); after the last winner misses, one
//! overlapping DFA scan names the templates that can match the line at all, so the
//! others are skipped without a search. When the last winner still matched, elsewhere
//! (an access log's date moves with the client address), that scan stops where no
//! later match could still win (`DateDetector::bound_scan`).
//!
//! Ownership: `match_time` takes `&mut self` because every call updates the hit counts and
//! may reorder templates (which decides the winner on ambiguous lines). Use one detector per
//! jail (server) or per run (fail2ban-regex), as fail2ban does. There is no hidden clock:
//! "now" is an argument, and the `%ExY` year window is fixed when the detector is built.
//!
//! For callers (fail2ban's `processLine`): on a match, split the line into
//! `(line[..span.0], line[span.0..span.1], line[span.1..])` and run the regexes on the
//! joined outer parts. `time` is `Ok(t)`; or `Err(Empty)` (empty date text: use the last
//! date if under 60 s old, else now); or `Err(Invalid)` (fail2ban logs `findFailure failed
//! to parse timeText: <text>` and treats the line as dateless, the date text still cut
//! out); or `Err(UnknownZone)` (fail2ban 1.0.2 raises: the server skips the line with
//! "Failed to process line", fail2ban-regex aborts). Zone-less times are local time through
//! [`LocalZone`] ([`SystemZone`] by default, which mimics glibc `mktime`, including its
//! process-wide memory of the last offset for repeated DST hours).
//!
//! Differences from fail2ban, on purpose: regexes compile when the detector is built (not
//! on first use), so a bad pattern fails at configuration time; the "template found
//! something" counter is per detector (fail2ban shares it process-wide, but it only gates
//! a shortcut taken at offset 0, where the full search picks the same template anyway);
//! an unknown upper-case zone abbreviation yields [`DateError::UnknownZone`] instead of an
//! uncaught exception. The reordering clock ("template unused for 5 minutes") runs on the
//! `now` passed in, where fail2ban reads the wall clock.

mod anchored;
mod memo;
mod shape;
pub mod strptime;
pub mod templates;

use std::sync::Arc;

use chrono::Datelike;

use crate::filter::pyre::{StartsBy, Told};
use memo::{ConvMemo, Memo, Repeat, Window, Windows, search_at, short_at_held};
pub use strptime::{DateError, FixedZone, LocalZone, SystemZone};
use templates::{Kind, LINE_BEGIN, LINE_END, Template};

/// A `datepattern` / `logtimezone` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(
        "Failed to set datepattern '{pattern}' (may be an invalid format or unescaped percent char): {message}"
    )]
    Pattern { pattern: String, message: String },
    #[error("Compile '{name}' failed, expression '{regex}': {message}")]
    Compile {
        name: String,
        regex: String,
        message: String,
    },
    #[error("There is already a template with name {0}")]
    Duplicate(String),
    #[error("Unknown or unsupported time zone: '{0}'")]
    TimeZone(String),
}

/// The date found in a line.
#[derive(Debug, Clone, PartialEq)]
pub struct DateMatch {
    /// Byte range of the date text (fail2ban's group 1): the part removed from the line
    /// before the failregexes run.
    pub span: (usize, usize),
    /// Byte range of the whole template match (group 0), e.g. including `{DATE}` context.
    pub whole: (usize, usize),
    /// Unix time in seconds, or why there is none (see [`DateError`]). An empty span (e.g.
    /// `{NONE}`) gives `Err(DateError::Empty)`: the caller uses the last date or now.
    pub time: Result<f64, DateError>,
    /// Display name of the winning template.
    pub template: Arc<str>,
}

/// Usage of one template, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateStats {
    /// Times it won.
    pub hits: u64,
    /// hits × template weight / max(1, last match offset): the reordering weight.
    pub weight: f64,
    /// 100 for the default line-begin anchored copies, else 1.
    pub template_weight: f64,
    pub name: Arc<str>,
    pub pattern: Option<String>,
    pub regex: String,
}

/// A template in this detector with its usage statistics.
#[derive(Debug, Clone)]
struct Slot {
    tpl: Arc<Template>,
    /// Times this template won.
    hits: u64,
    /// Times its regex found something (fail2ban counts this on the template itself).
    searched_hits: u64,
    last_used: f64,
    /// Char offset of its last winning match.
    distance: usize,
    /// Index of this template in [`DateDetector::which`].
    set_index: Option<usize>,
    /// The last full search and conversion of this template (see [`Memo`]). Boxed, as
    /// the two below: most templates of a detector never match, and every jail keeps
    /// a detector of some 30 slots.
    memo: Option<Box<Memo>>,
    /// Its last conversion by group texts (see [`ConvMemo`]).
    conv: Option<Box<ConvMemo>>,
    /// Its last matches at a stand-in span, by the text around them (see [`Window`]).
    window: Option<Box<Windows>>,
    /// Its last match from the last winner's place, by the text from there to the last
    /// match end (the search of a line whose date kept its place).
    window_at: Option<Box<Window>>,
    /// Span finder for a start-anchored template, built on its first whole-line search
    /// (`Some(None)`: not applicable).
    anchored: Option<Option<Box<anchored::AnchoredEnd>>>,
    /// What decided the anchored DFA's last answer (None: it gave none).
    decided: Option<anchored::Decided>,
}

impl Slot {
    fn new(tpl: Arc<Template>) -> Self {
        Slot {
            tpl,
            hits: 0,
            searched_hits: 0,
            last_used: 0.0,
            distance: 0x7fff_ffff,
            set_index: None,
            memo: None,
            conv: None,
            window: None,
            window_at: None,
            anchored: None,
            decided: None,
        }
    }
    fn weight(&self) -> f64 {
        self.hits as f64 * self.tpl.weight / (self.distance.max(1) as f64)
    }

    /// The match of a start-anchored template (its anchored DFA built) told from the
    /// start of `line` by the small backtracker's memory of its last search (see
    /// `pyre::Regex::search_settled`), without the DFA pass; the bytes it read are what
    /// decided it, as the DFA's deciding bytes do for [`Repeat`]. None: search.
    fn settled<'t>(&mut self, line: &'t str) -> Option<crate::filter::pyre::Match<'t>> {
        if !matches!(self.anchored, Some(Some(_))) {
            return None;
        }
        let (m, read) = self.tpl.re.search_settled(line, 0)?;
        #[cfg(test)]
        SETTLED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.decided = Some(anchored::Decided {
            len: read,
            whole: false,
        });
        Some(m)
    }

    /// [`crate::filter::pyre::Regex::find_span`] from 0, by the anchored DFA when the
    /// template allows it (and, `build` false, when it is built already).
    fn find_span(&mut self, line: &str, build: bool) -> Option<Option<(usize, usize)>> {
        if self.anchored.is_none() && !build {
            self.decided = None;
            return self.tpl.re.find_span(line, 0);
        }
        let tpl = &self.tpl;
        // (a long non-ASCII line the template's literals rule out: no automaton to
        // build for it, as each template such a line reaches would)
        if self.anchored.is_none() && tpl.re.lacks_literals(line) {
            self.decided = None;
            return Some(None);
        }
        let fast = self
            .anchored
            .get_or_insert_with(|| anchored::AnchoredEnd::new(&tpl.re).map(Box::new))
            .as_mut()
            .and_then(|a| a.span(line));
        self.decided = fast.map(|f| f.1);
        fast.map(|f| f.0).or_else(|| self.tpl.re.find_span(line, 0))
    }
}

// Matches told by a slot's [`Window`] on this thread (tests check the path is taken).
#[cfg(test)]
thread_local! {
    static WINDOW_TOLD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// ... of them, those told by a spare window (see [`memo::Windows`]).
    static SPARE_TOLD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Matches told by [`Slot::settled`] (tests check the path is taken).
#[cfg(test)]
static SETTLED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Position memory of the last winning match: char offset plus the chars before and at it.
#[derive(Debug, Clone, Copy)]
struct Edge {
    pos: usize,
    before: Option<char>,
    at: Option<char>,
}

/// On lines longer than this the first template searched with the set skips the scan:
/// the scan reads the whole line, where that search usually stops at the date near its
/// start. The templates after it use the scan: on a long line with no date, each
/// search of its own would read the whole line again.
const SET_SCAN_MAX: usize = 4096;

/// Seconds after which an unused template may be displaced when reordering.
const UNUSED_TIME: f64 = 300.0;

/// fail2ban's date detector (see the module doc).
#[derive(Debug, Clone)]
pub struct DateDetector {
    slots: Vec<Slot>,
    /// Year the `%ExY` window is computed from.
    year: i32,
    last_start: Option<Edge>,
    last_end: Option<Edge>,
    last_index: Option<usize>,
    first_unused: usize,
    /// `logtimezone` in minutes east, for dates without a zone.
    default_tz: Option<i32>,
    local: Arc<dyn LocalZone>,
    /// "Now" as a wall-clock time in `local`, for the last "now" asked (by its bits):
    /// the lines of a run (fail2ban-regex's) or of a read share one.
    now_local: Option<(u64, chrono::NaiveDateTime)>,
    /// One scan per line naming the templates that can match it at all (slot `k` is
    /// pattern `set_index` of the scan); saves a search per template on lines where
    /// the date is not at the start.
    which: Option<Arc<std::sync::Mutex<crate::filter::pyre::WhichOf>>>,
    /// Whether the scan told the current line's candidates, in `cand_buf` (None: not
    /// asked yet).
    cands: Option<bool>,
    /// Per slot's `set_index`: whether that template can match the current line (kept
    /// from line to line, not allocated anew).
    cand_buf: Vec<bool>,
    /// Once the scan told the candidates (detectors of up to 64 slots): bit `i` set
    /// when slot `i` is not ruled out, so the search steps from one to the next
    /// instead of asking of each slot in turn.
    live: Option<u64>,
    /// While the templates are searched with a reserve in hand: the char offset past
    /// which a match can no longer change the winner (see [`DateDetector::bound_scan`]).
    scan_bound: Option<usize>,
    /// What the scan is asked then, for the current template order and skipped one.
    scan_plan: Option<ScanPlan>,
    /// Counts the reorderings (a [`ScanPlan`] holds for one order).
    order: u64,
    /// Whether this (long) line's one search without the scan was spent.
    long_skip_spent: bool,
    /// The last line's result, for a next line that starts the same (see [`Repeat`]).
    repeat: Option<Repeat>,
    /// The last line's winner was the last winner, anchored, tried first.
    won_first: bool,
    /// Span finders are not built (see [`DateDetector::defer_scans`]).
    defer_anchored: bool,
}

/// What [`DateDetector::bound_scan`] asks of the templates' scan, worked out once per
/// template order and skipped template: which patterns (see [`StartsBy`]).
#[derive(Debug, Clone)]
struct ScanPlan {
    order: u64,
    skip: Option<usize>,
    asked: Vec<bool>,
    reach: usize,
    /// Bit `i` set when slot `i` (of the first 64) is not asked about: once the scan
    /// rules out all that are, these are the candidates left.
    unasked: u64,
}

/// A matched span converted between chars and bytes.
struct Found<'t> {
    m: crate::filter::pyre::Match<'t>,
    start: usize,
    end: usize,
    /// The match came from the slot's memo (which then fits this line).
    memo: bool,
    /// Which of the slot's [`Window`]s the match is (told by it, or just taken into it).
    window: Held,
}

/// Which [`Window`] of a slot holds a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    No,
    /// [`Slot::window`]: at a stand-in span.
    Moved,
    /// [`Slot::window_at`]: from the last winner's place.
    At,
}

impl Slot {
    fn window_of(&mut self, held: Held) -> Option<&mut Window> {
        match held {
            Held::No => None,
            Held::Moved => self.window.as_deref_mut().map(|w| &mut w.current),
            Held::At => self.window_at.as_deref_mut(),
        }
    }
}

fn char_pos(line: &str, byte: usize) -> usize {
    // Only the text before `byte` matters (dates sit near the line start: cheap).
    let head = &line.as_bytes()[..byte.min(line.len())];
    if head.is_ascii() {
        byte
    } else {
        line[..byte].chars().count()
    }
}

fn byte_pos(line: &str, chars: usize) -> usize {
    // Char `chars` is byte `chars` when the bytes before it are ASCII (as in `char_pos`,
    // only the text before the place is read).
    if line.as_bytes()[..chars.min(line.len())].is_ascii() {
        chars.min(line.len())
    } else {
        line.char_indices()
            .nth(chars)
            .map_or(line.len(), |(b, _)| b)
    }
}

/// Python `line[i:i+1]` as a char (None for an empty slice; `i < 0` gives None), for
/// the few chars around a match [`DateDetector::find`] reads: the line is checked to be
/// ASCII once, as far as asked (char `i` is then byte `i`), not again for each char.
struct CharsAt<'a> {
    line: &'a str,
    /// Bytes from the line start known to be ASCII.
    ascii: usize,
}

impl<'a> CharsAt<'a> {
    fn new(line: &'a str) -> Self {
        CharsAt { line, ascii: 0 }
    }

    fn at(&mut self, i: isize) -> Option<char> {
        let Ok(i) = usize::try_from(i) else {
            return None;
        };
        let b = self.line.as_bytes();
        let want = b.len().min(i.saturating_add(1));
        if want > self.ascii {
            if !b[self.ascii..want].is_ascii() {
                return self.line.chars().nth(i);
            }
            self.ascii = want;
        }
        b.get(i).map(|c| *c as char)
    }
}

impl DateDetector {
    /// The default templates, `%ExY` window from the system clock, system local zone.
    pub fn new_default() -> Result<Self, Error> {
        Self::with_options(None, current_year(), Arc::new(SystemZone))
    }

    /// A `datepattern` value (one or more newline-separated patterns), `%ExY` window from
    /// the system clock, system local zone.
    pub fn from_datepattern(datepattern: &str) -> Result<Self, Error> {
        Self::with_options(Some(datepattern), current_year(), Arc::new(SystemZone))
    }

    /// Full control: `datepattern` (None → defaults), the year the `%ExY` window is built
    /// around (fail2ban uses the current year at start-up), and the local zone.
    pub fn with_options(
        datepattern: Option<&str>,
        year: i32,
        local: Arc<dyn LocalZone>,
    ) -> Result<Self, Error> {
        let mut dd = DateDetector {
            slots: Vec::new(),
            year,
            last_start: None,
            last_end: None,
            last_index: None,
            first_unused: 0,
            default_tz: None,
            local,
            now_local: None,
            which: None,
            cands: None,
            cand_buf: Vec::new(),
            live: None,
            scan_bound: None,
            scan_plan: None,
            order: 0,
            long_skip_spent: false,
            repeat: None,
            won_first: false,
            defer_anchored: false,
        };
        if let Some(dp) = datepattern {
            for p in dp.split('\n').map(str::trim).filter(|p| !p.is_empty()) {
                dd.append_pattern(p)?;
            }
        }
        if dd.slots.is_empty() {
            dd.add_defaults(false)?;
        }
        // Kept for the jail's lifetime: no spare capacity.
        dd.slots.shrink_to_fit();
        if dd.slots.len() > 2 {
            let scans = dd.slots.iter().map(|s| s.tpl.re.scan());
            if let Some(w) = crate::filter::pyre::Regex::which_of_scans(scans) {
                dd.which = Some(Arc::new(std::sync::Mutex::new(w)));
                for (k, s) in dd.slots.iter_mut().enumerate() {
                    s.set_index = Some(k);
                }
            }
        }
        Ok(dd)
    }

    /// `logtimezone`: fixed offsets only (`UTC`, `UTC+0200`, `GMT-05:00`, `CET`, `+0100` …).
    pub fn set_logtimezone(&mut self, tz: Option<&str>) -> Result<(), Error> {
        self.default_tz = match tz {
            None => None,
            Some(t) => Some(strptime::parse_zone(t).map_err(|_| Error::TimeZone(t.to_string()))?),
        };
        for s in &mut self.slots {
            s.memo = None;
            s.conv = None;
            s.window = None;
            s.window_at = None;
        }
        self.repeat = None;
        Ok(())
    }

    /// Display names of the templates in their current order.
    pub fn template_names(&self) -> Vec<Arc<str>> {
        self.slots.iter().map(|s| Arc::clone(&s.tpl.name)).collect()
    }

    /// Per template in the current order: what `fail2ban-regex` lists under "Date template
    /// hits" (with `--VD`: weights, pattern, regex).
    pub fn template_stats(&self) -> Vec<TemplateStats> {
        self.slots
            .iter()
            .map(|s| TemplateStats {
                hits: s.hits,
                weight: s.weight(),
                template_weight: s.tpl.weight,
                name: Arc::clone(&s.tpl.name),
                pattern: s.tpl.pattern.clone(),
                regex: s.tpl.regex.clone(),
            })
            .collect()
    }

    /// The final regexes of the templates in their current order.
    pub fn template_regexes(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.tpl.regex.as_str()).collect()
    }

    /// What `get <jail> datepattern` shows: `(pattern, name)` for one or two templates,
    /// `(None, "Default Detectors")` for more.
    pub fn describe(&self) -> (Option<String>, String) {
        match self.slots.first() {
            Some(s) if self.slots.len() <= 2 => (s.tpl.pattern.clone(), s.tpl.name.to_string()),
            _ => (None, "Default Detectors".to_string()),
        }
    }

    fn push(&mut self, mut t: Template, ignore_dup: bool) -> Result<(), Error> {
        if templates::shares_anchored_weight(&t.key) {
            t.weight = 100.0;
        }
        self.push_shared(Arc::new(t), ignore_dup)
    }

    /// As [`DateDetector::push`] for a template whose weight is already settled.
    fn push_shared(&mut self, t: Arc<Template>, ignore_dup: bool) -> Result<(), Error> {
        if self.slots.iter().any(|s| s.tpl.name == t.name) {
            if ignore_dup {
                return Ok(());
            }
            return Err(Error::Duplicate(t.name.to_string()));
        }
        self.slots.push(Slot::new(t));
        Ok(())
    }

    /// fail2ban's `addDefaultTemplate`; `line_begin_only` keeps the anchored ones.
    fn add_defaults(&mut self, line_begin_only: bool) -> Result<(), Error> {
        let ignore_dup = !self.slots.is_empty();
        for t in templates::default_templates(self.year)? {
            if line_begin_only && t.flags & LINE_BEGIN == 0 {
                continue;
            }
            self.push_shared(t, ignore_dup)?;
        }
        Ok(())
    }

    /// fail2ban's `appendTemplate` for one pattern line.
    fn append_pattern(&mut self, pattern: &str) -> Result<(), Error> {
        let key = if pattern.contains('%') {
            pattern.to_string()
        } else {
            pattern.to_uppercase()
        };
        match key.as_str() {
            "{^LN-BEG}" => return self.add_defaults(true),
            "{DEFAULT}" => return self.add_defaults(false),
            _ => {}
        }
        if templates::has_date_placeholder(&key) {
            let ignore_dup = !self.slots.is_empty();
            for t in templates::date_templates(pattern, self.year)? {
                self.push(t, ignore_dup)?;
            }
            return Ok(());
        }
        let t = if key == "{NONE}" {
            templates::none_template(self.year)?
        } else {
            templates::template_for_key(pattern, self.year)?
        };
        self.push(t, false)
    }

    /// True once per long line (see [`SET_SCAN_MAX`]): that search goes without the scan.
    fn skip_set_once(&mut self, line: &str) -> bool {
        if line.len() <= SET_SCAN_MAX || self.long_skip_spent {
            return false;
        }
        self.long_skip_spent = true;
        true
    }

    /// Whether the set scan (run on the first question of a line) rules slot `i` out of
    /// the search over all templates: then searching it would find nothing that counts.
    #[inline]
    fn ruled_out(&mut self, i: usize, line: &str) -> bool {
        if self.skip_set_once(line) {
            return false;
        }
        let (Some(k), Some(w)) = (self.slots[i].set_index, &self.which) else {
            return false;
        };
        if self.cands.is_none() {
            let starts = self
                .scan_bound
                .zip(self.scan_plan.as_ref())
                .map(|(start_max, plan)| StartsBy {
                    start_max,
                    asked: &plan.asked,
                    reach: plan.reach,
                });
            let buf = &mut self.cand_buf;
            let told = w
                .lock()
                .ok()
                .and_then(|mut w| w.candidates_into(line, starts, buf));
            self.live = None;
            let small = self.slots.len() <= 64;
            self.cands = Some(match told {
                None => false,
                Some(Told::Each) => {
                    if small {
                        let mut live = 0u64;
                        for (j, s) in self.slots.iter().enumerate() {
                            let out = s
                                .set_index
                                .is_some_and(|k| !self.cand_buf.get(k).copied().unwrap_or(true));
                            live |= u64::from(!out) << j;
                        }
                        self.live = Some(live);
                    }
                    true
                }
                // The plan in hand named what was asked: its mask holds for every line.
                Some(Told::AskedOut) => match &self.scan_plan {
                    Some(plan) if small => {
                        self.live = Some(plan.unasked);
                        true
                    }
                    Some(plan) => {
                        self.cand_buf.clear();
                        self.cand_buf.extend(plan.asked.iter().map(|a| !a));
                        true
                    }
                    None => false,
                },
            });
        }
        match self.live {
            Some(live) => live >> i & 1 == 0,
            None => self.cands == Some(true) && !self.cand_buf.get(k).copied().unwrap_or(true),
        }
    }

    /// The next slot after `i` the search over all templates may have to search: the
    /// next not ruled out once the scan told (see [`DateDetector::live`]), else `i + 1`.
    #[inline]
    fn next_after(&self, i: usize) -> usize {
        match self.live {
            Some(live) if self.cands == Some(true) && i < 63 => {
                let rest = live >> (i + 1);
                if rest == 0 {
                    self.slots.len()
                } else {
                    i + 1 + rest.trailing_zeros() as usize
                }
            }
            _ => i + 1,
        }
    }

    /// Searches slot `i` in `line[pos..endpos]` (char offsets; `endpos` None = end).
    fn search<'t>(
        &mut self,
        i: usize,
        line: &'t str,
        range: Option<(usize, usize)>,
    ) -> Option<Found<'t>> {
        let build = !self.defer_anchored;
        let slot = &mut self.slots[i];
        if let Some(b) = slot.tpl.kind.needs_byte() {
            let from = range.map_or(0, |(pos, _)| byte_pos(line, pos));
            // (a line without it: no match)
            memchr::memchr(b, line.as_bytes().get(from..).unwrap_or_default())?;
        }
        let mut from_memo = false;
        let mut windowed = Held::No;
        let settled = match range {
            None => slot.settled(line),
            Some(_) => None,
        };
        let m = match range {
            None if settled.is_some() => settled,
            None => match slot.find_span(line, build) {
                Some(None) => None,
                Some(Some((s, e))) => {
                    // The spans are lent to the match (no copy per line) and given back
                    // by `match_time`; a match dropped unused costs one memo miss.
                    let hit = slot.memo.as_mut().and_then(|mm| {
                        (mm.spans.first() == Some(&Some((s, e))) && mm.key == Memo::key_of(line, e))
                            .then(|| std::mem::take(&mut mm.spans))
                    });
                    match hit {
                        Some(spans) => {
                            from_memo = true;
                            Some(slot.tpl.re.match_from_spans(line, spans))
                        }
                        None => search_at(&slot.tpl.re, line, (s, e)),
                    }
                }
                // A back-reference template (the access log's): its linear stand-in's
                // span, confirmed by the small backtracker, else the full search.
                None => match slot.tpl.re.stand_in_span(line, 0) {
                    Some(None) => None,
                    span => span
                        .flatten()
                        .and_then(|span| {
                            let m = short_at_held(&mut slot.window, &slot.tpl.re, line, span);
                            if m.is_some() {
                                windowed = Held::Moved;
                            }
                            m
                        })
                        .or_else(|| slot.tpl.re.search(line, 0)),
                },
            },
            Some((pos, endpos)) => {
                let end_b = byte_pos(line, endpos);
                let pos_b = byte_pos(line, pos);
                if pos > endpos || pos_b > end_b {
                    return None;
                }
                // Most lines have the last match where it was: the small backtracker
                // tells it from there (exact when it answers, see `search_short`).
                let part = &line[..end_b];
                let re = &slot.tpl.re;
                // The backtracker answers where it applies to `part`; what it answered
                // there depends on the bytes from the one before `pos_b` on (see [`Window`]).
                let applies = re.short_applies(part, pos_b);
                let len = end_b - pos_b;
                let told = slot
                    .window_at
                    .as_ref()
                    .filter(|_| applies)
                    .and_then(|w| w.told(re, line, pos_b, end_b, len));
                if told.is_some() {
                    windowed = Held::At;
                }
                told.or_else(|| {
                    let m = re.search_short(part, pos_b)?;
                    // (rebuilt on `line`: the match borrows the shorter slice)
                    let m = re.match_from_spans(line, m.into_spans());
                    slot.window_at
                        .get_or_insert_with(Default::default)
                        .hold(line, pos_b, end_b, len, &m);
                    windowed = Held::At;
                    Some(m)
                })
                .or_else(|| re.search(part, pos_b))
            }
        }?;
        slot.searched_hits += 1;
        Some(Found {
            start: char_pos(line, m.start()),
            end: char_pos(line, m.end()),
            m,
            memo: from_memo,
            window: windowed,
        })
    }

    /// The templates' scan is built only by [`DateDetector::prepare_scans`] (see
    /// [`crate::filter::pyre::AnyOf::defer`]); until then every template is tried, and
    /// a template's anchored span finder is not built either (its general search gives
    /// the same span: building it was a fifth of a jail's first line).
    pub fn defer_scans(&mut self) {
        self.defer_anchored = true;
        if let Some(w) = &self.which
            && let Ok(mut w) = w.lock()
        {
            w.defer();
        }
    }

    /// The templates' set-scan forms, in order (the tests build their own scans).
    #[cfg(test)]
    pub(crate) fn scan_forms(&self) -> Vec<Option<String>> {
        self.slots
            .iter()
            .map(|s| s.tpl.re.scan().map(str::to_string))
            .collect()
    }

    /// Builds the templates' scan if it is not yet.
    pub fn prepare_scans(&mut self) {
        self.defer_anchored = false;
        if let Some(w) = &self.which
            && let Ok(mut w) = w.lock()
        {
            w.prepare();
        }
    }

    /// Finds the date in `line` and converts it. `now` is the current Unix time (year and
    /// day inference). None when no template matches.
    pub fn match_time(&mut self, line: &str, now: f64) -> Option<DateMatch> {
        match self.repeated(line, now) {
            Some(dm) => Some(dm.clone()),
            None => self.match_fresh(line, now),
        }
    }

    /// [`DateDetector::match_time`]'s span and time alone: a line that repeats the last
    /// one's date copies no template name (a counted reference, an atomic operation
    /// each way).
    pub fn match_span_time(
        &mut self,
        line: &str,
        now: f64,
    ) -> Option<((usize, usize), Result<f64, DateError>)> {
        match self.repeated(line, now) {
            Some(dm) => Some((dm.span, dm.time.clone())),
            None => self.match_fresh(line, now).map(|dm| (dm.span, dm.time)),
        }
    }

    /// The last line's result when `line` repeats it (see [`Repeat`]), its hit counted.
    fn repeated(&mut self, line: &str, now: f64) -> Option<&DateMatch> {
        let r = self.repeat.as_ref().filter(|r| r.fits(line, now))?;
        let (i, start) = (r.index, r.start);
        self.repeat_hit(i, start, now);
        self.repeat.as_ref().map(|r| &r.result)
    }

    /// [`DateDetector::match_time`] for a line that does not repeat the last one.
    fn match_fresh(&mut self, line: &str, now: f64) -> Option<DateMatch> {
        // (its key's storage is kept for the next one)
        let old = self.repeat.take();
        self.won_first = false;
        let dm = self.match_time_slow(line, now)?;
        if self.won_first
            && let Some(i) = self.last_index
            && let Some(decided) = self.slots[i].decided
        {
            let start = self.slots[i].distance;
            self.repeat = Some(Repeat::new(i, line, decided, now, &dm, start, old));
        }
        Some(dm)
    }

    /// What [`DateDetector::find`] does to the counters when the last winner, tried
    /// first, wins again with the same match (a [`Repeat`]); the position memory stays
    /// (the chars around the match are the same).
    fn repeat_hit(&mut self, i: usize, start: usize, now: f64) {
        self.cands = None;
        self.long_skip_spent = false;
        let slot = &mut self.slots[i];
        slot.searched_hits += 1;
        slot.hits += 1;
        slot.last_used = now;
        slot.distance = start;
        if self.first_unused == i {
            self.first_unused += 1;
        }
        self.last_index = Some(i);
    }

    fn match_time_slow(&mut self, line: &str, now: f64) -> Option<DateMatch> {
        let (found, i) = self.find(line, now)?;
        let tpl = Arc::clone(&self.slots[i].tpl);
        let m = &found.m;
        let whole = (m.start(), m.end());
        let span = m.span(1).unwrap_or((m.start(), m.end()));
        let bits = now.to_bits();
        let windowed = self.slots[i]
            .window_of(found.window)
            .and_then(|w| w.conv.as_ref())
            .filter(|(b, _)| *b == bits)
            .map(|(_, t)| t.clone());
        let time = if span.0 == span.1 {
            Err(DateError::Empty)
        } else if let Some(t) = windowed {
            t
        } else {
            let fits = self.slots[i]
                .memo
                .as_ref()
                .is_some_and(|mm| found.memo || mm.fits(line, m.spans()));
            let cached = match &self.slots[i].memo {
                Some(mm) if fits => mm.conv.clone(),
                _ => None,
            };
            match cached {
                Some((b, t)) if b == bits => t,
                _ => {
                    let t = self.convert_memo(i, &tpl, m, now);
                    let mm = self.slots[i].memo.get_or_insert_with(Default::default);
                    if !fits {
                        // Another date text (or the first): the memo's storage takes it.
                        mm.hold(line, m.spans());
                    }
                    mm.conv = Some((bits, t.clone()));
                    t
                }
            }
        };
        if let Some(w) = self.slots[i].window_of(found.window)
            && w.conv.as_ref().is_none_or(|(b, _)| *b != bits)
        {
            w.conv = Some((bits, time.clone()));
        }
        if found.memo
            && let Some(mm) = self.slots[i].memo.as_mut()
            && mm.spans.is_empty()
        {
            mm.spans = found.m.into_spans();
        }
        Some(DateMatch {
            span,
            whole,
            time,
            template: Arc::clone(&tpl.name),
        })
    }

    /// [`DateDetector::convert`], reusing the slot's last conversion when the groups it
    /// reads are the same (see [`ConvMemo`]).
    fn convert_memo(
        &mut self,
        i: usize,
        tpl: &Template,
        m: &crate::filter::pyre::Match<'_>,
        now: f64,
    ) -> Result<f64, DateError> {
        if !matches!(tpl.kind, Kind::Pattern) {
            return self.convert(tpl, m, now);
        }
        let bits = now.to_bits();
        if let Some(c) = &self.slots[i].conv
            && c.bits == bits
            && ConvMemo::same_groups(&c.key, &tpl.re, m)
        {
            return c.time.clone();
        }
        let time = self.convert(tpl, m, now);
        let c = self.slots[i].conv.get_or_insert_with(|| {
            Box::new(ConvMemo {
                key: Vec::new(),
                bits,
                time: time.clone(),
            })
        });
        ConvMemo::key_of(&mut c.key, &tpl.re, m);
        c.bits = bits;
        c.time = time.clone();
        time
    }

    /// `now` as a wall-clock time in the local zone (see `now_local`).
    fn now_local(&mut self, now: f64) -> chrono::NaiveDateTime {
        let bits = now.to_bits();
        match self.now_local {
            Some((b, t)) if b == bits => t,
            _ => {
                let t = strptime::local_now(now, self.local.as_ref());
                self.now_local = Some((bits, t));
                t
            }
        }
    }

    fn convert(
        &mut self,
        tpl: &Template,
        m: &crate::filter::pyre::Match<'_>,
        now: f64,
    ) -> Result<f64, DateError> {
        match tpl.kind {
            Kind::Pattern => {
                let fields: Vec<(&str, &str)> = tpl
                    .re
                    .group_names()
                    .filter_map(|(i, n)| m.group(i).map(|v| (n, v)))
                    .collect();
                let now_local = self.now_local(now);
                strptime::fields_to_time_at(
                    &fields,
                    now_local,
                    self.default_tz,
                    self.local.as_ref(),
                )
            }
            Kind::Epoch { long, group } => {
                let v = m.group(group).ok_or(DateError::Invalid)?;
                let x: f64 = v.parse().map_err(|_| DateError::Invalid)?;
                Ok(if long && v.len() >= 13 {
                    if v.len() >= 16 && !v.contains('.') {
                        x / 1_000_000.0
                    } else {
                        x / 1000.0
                    }
                } else {
                    x
                })
            }
            Kind::Tai64n => {
                let v = m.group(1).ok_or(DateError::Invalid)?;
                let hex = v.get(2..17).ok_or(DateError::Invalid)?;
                i64::from_str_radix(hex, 16)
                    .map(|s| s as f64)
                    .map_err(|_| DateError::Invalid)
            }
        }
    }

    fn is_anchored(&self, i: usize) -> bool {
        self.slots[i].tpl.flags & (LINE_BEGIN | LINE_END) != 0
    }

    /// Sets what the templates' scan must tell for the search over all templates that
    /// follows a reserve found at char `reserve` (see [`StartsBy`]); `skip`: the template
    /// that search leaves out.
    ///
    /// Why it is exact: in that search a template that is not the last one and not
    /// end-anchored, matching first at `p` beyond both `reserve` and `last_distance`,
    /// only counts as a reserve, and the reserve in hand (which only moves left) is
    /// closer: such a template cannot change the winner, whether it is searched or not.
    /// Its search would only count a hit of it (the `searched_hits` that decide the
    /// offset-0 shortcut, which picks what the full rule picks). A start-anchored
    /// template's matches start at 0. The last template and end-anchored ones win
    /// wherever they match: the scan is not asked about them, and they are searched.
    fn bound_scan(&mut self, reserve: Option<usize>, last_distance: usize, skip: Option<usize>) {
        self.scan_bound = reserve.map(|r| r.max(last_distance));
        if self.scan_bound.is_none()
            || self
                .scan_plan
                .as_ref()
                .is_some_and(|p| p.order == self.order && p.skip == skip)
        {
            return;
        }
        let reach = self
            .which
            .as_ref()
            .and_then(|w| w.lock().ok().and_then(|mut w| w.reach()));
        let Some(reach) = reach else {
            self.scan_bound = None;
            return;
        };
        let n = self.slots.len();
        let mut asked = vec![false; reach.len()];
        let mut longest = 0;
        let mut unasked = u64::MAX;
        for (i, slot) in self.slots.iter().enumerate() {
            // searched anyway: the last, end-anchored ones; not searched: `skip`
            if i + 1 == n || Some(i) == skip || slot.tpl.flags & LINE_END != 0 {
                continue;
            }
            if let Some(k) = slot.set_index
                && let (Some(Some(r)), Some(a)) = (reach.get(k), asked.get_mut(k))
            {
                *a = true;
                longest = longest.max(*r);
                if i < 64 {
                    unasked &= !(1u64 << i);
                }
            }
        }
        self.scan_plan = Some(ScanPlan {
            order: self.order,
            skip,
            asked,
            reach: longest,
            unasked,
        });
    }

    /// fail2ban's `matchTime`: the winning match and the index of its template (after any
    /// reordering), with hit counts and position memory updated.
    fn find<'t>(&mut self, line: &'t str, now: f64) -> Option<(Found<'t>, usize)> {
        let mut chars = CharsAt::new(line);
        self.cands = None;
        self.scan_bound = None;
        self.long_skip_spent = false;
        let n = self.slots.len();
        let mut chosen: Option<(Found<'t>, usize)> = None;
        // Best alternative kept while searching on: (match, distance, index).
        let mut reserve: Option<(Found<'t>, usize)> = None;
        let mut skip = None;
        if let Some(i) = self.last_index.filter(|&i| i < n) {
            let found = if self.is_anchored(i) {
                skip = Some(i);
                self.search(i, line, None)
            } else {
                let (ls, le) = (self.last_start?, self.last_end?);
                let d = ls.pos as isize;
                let e = le.pos as isize;
                let left = chars.at(d - 1) == ls.before
                    || (chars.at(d) == ls.at && !ls.at.is_some_and(char::is_alphanumeric));
                let right = chars.at(e) == le.at
                    || (chars.at(e - 1) == le.before
                        && !le.before.is_some_and(char::is_alphanumeric));
                if left && right {
                    self.search(i, line, Some((ls.pos, le.pos)))
                } else {
                    skip = Some(i);
                    self.search(i, line, None)
                }
            };
            if let Some(f) = found {
                let same = self
                    .last_start
                    .zip(self.last_end)
                    .is_some_and(|(s, e)| f.start == s.pos && f.end == e.pos);
                if n == 1 || self.is_anchored(i) || same {
                    self.won_first = self.is_anchored(i);
                    chosen = Some((f, i));
                } else {
                    reserve = Some((f, i));
                }
            }
        }
        if chosen.is_none() {
            let last_distance = self.last_start.map_or(1, |s| s.pos);
            self.bound_scan(reserve.as_ref().map(|(f, _)| f.start), last_distance, skip);
            let mut i = 0;
            while i < n {
                if skip == Some(i) || self.ruled_out(i, line) {
                    i = self.next_after(i);
                    continue;
                }
                if let Some(f) = self.search(i, line, None) {
                    let distance = f.start;
                    if i + 1 >= n || self.is_anchored(i) {
                        chosen = Some((f, i));
                        break;
                    }
                    if distance == 0
                        && self.slots[i].hits > 0
                        && self.slots[i + 1].searched_hits == 0
                    {
                        chosen = Some((f, i));
                        break;
                    }
                    if distance > self.slots[i].distance || distance > last_distance {
                        if reserve.as_ref().is_none_or(|(r, _)| distance < r.start) {
                            reserve = Some((f, i));
                        }
                        i += 1;
                        continue;
                    }
                    chosen = Some((f, i));
                    break;
                }
                i += 1;
            }
            if chosen.is_none() {
                chosen = reserve;
            }
        }
        let (f, mut i) = chosen?;
        let slot = &mut self.slots[i];
        slot.hits += 1;
        slot.last_used = now;
        slot.distance = f.start;
        if self.first_unused == i {
            self.first_unused += 1;
        }
        self.last_start = Some(Edge {
            pos: f.start,
            before: chars.at(f.start as isize - 1),
            at: chars.at(f.start as isize),
        });
        self.last_end = Some(Edge {
            pos: f.end,
            // fail2ban reads `line[end-1]`: for an empty match at 0 that is the last char.
            before: if f.end == 0 {
                line.chars().next_back()
            } else {
                chars.at(f.end as isize - 1)
            },
            at: chars.at(f.end as isize),
        });
        if i != 0 && Some(i) != self.last_index {
            i = self.reorder(i);
        }
        self.last_index = Some(i);
        Some((f, i))
    }

    /// Bubbles template `num` up the list when its weight (or staleness of the target)
    /// allows; returns its new index.
    fn reorder(&mut self, num: usize) -> usize {
        let untime = self.slots[num].last_used - UNUSED_TIME;
        let weight = self.slots[num].weight();
        let movable = |slots: &[Slot], pos: usize| {
            weight > slots[pos].weight() || untime > slots[pos].last_used
        };
        let mut pos = if self.first_unused < num {
            self.first_unused
        } else {
            num / 2
        };
        if !movable(&self.slots, pos) {
            if pos + 1 == num {
                return num;
            }
            pos = num - 1;
            if !movable(&self.slots, pos) {
                return num;
            }
        }
        let slot = self.slots.remove(num);
        self.slots.insert(pos, slot);
        self.order += 1;
        while self.first_unused < self.slots.len() && self.slots[self.first_unused].hits > 0 {
            self.first_unused += 1;
        }
        pos
    }
}

fn current_year() -> i32 {
    chrono::Local::now().year()
}

#[cfg(test)]
mod tests;
