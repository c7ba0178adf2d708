//! The default summary report of fail2ban-regex. Principal types: [`PrefProbe`] (prefregex
//! hits and, with `-v`, their groups) and [`Stats`] (hit counts and `-v` hit lists per
//! regex, line counts, the capped line lists, and the multi-line buffer bookkeeping),
//! filled per line by the run loop in `super` and printed at the end.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{Opts, Out};
use crate::filter::date::{DateDetector, SystemZone};
use crate::filter::failregex::PrefRegex;
use crate::filter::matcher::{Failure, Matcher, MatcherSpec};
use crate::stream::Value;

/// The prefregex with its own date detector: the matcher does not report prefregex
/// hits, so the report re-runs it on the line without its date (single-line view).
pub struct PrefProbe {
    re: PrefRegex,
    dates: DateDetector,
    hits: u64,
    /// `-v`: the group dicts of the first `limit` matches, then `...`.
    verbose: bool,
    limit: usize,
    groups: Vec<String>,
    /// The filter's buffer size.
    maxlines: usize,
    /// Reused for the text the prefregex runs on.
    text: String,
}

impl PrefProbe {
    pub fn new(spec: &MatcherSpec, verbose: bool, limit: usize) -> Option<Self> {
        let raw = spec.prefregex.as_deref().filter(|p| !p.trim().is_empty())?;
        let re = PrefRegex::new(raw, spec.usedns).ok()?;
        let year = chrono::Datelike::year(&chrono::Local::now());
        let mut dates =
            DateDetector::with_options(spec.datepattern.as_deref(), year, Arc::new(SystemZone))
                .ok()?;
        dates.set_logtimezone(spec.logtimezone.as_deref()).ok()?;
        Some(PrefProbe {
            re,
            dates,
            hits: 0,
            verbose,
            limit,
            groups: Vec::new(),
            maxlines: spec.maxlines.max(1),
            text: String::new(),
        })
    }

    /// Counts `line` when the prefregex matches the buffer it ends: `prev` are the
    /// matcher's buffered lines before it (multi-line mode, dates already cut), of which
    /// the last `maxlines - 1` stay. Nothing counts when an ignoreregex dropped the line.
    /// `m` is the matcher that just took `line`: its date span and prefregex result
    /// stand in for the probe's own work when it has them (same spec, same lines).
    pub fn add(&mut self, prev: &[String], line: &str, now: f64, m: &Matcher) {
        // The new line's date is cut as the matcher does: by the matcher's detector when
        // it ran one on this line, else by the probe's own (which then sees every line).
        let (span, from_matcher) = match m.line_date_span() {
            Some(s) => (s, true),
            None => (self.dates.match_time(line, now).map(|d| d.span), false),
        };
        if m.report.ignored.is_some() {
            return;
        }
        // The matcher ran the prefregex on this very text (its single-line buffer).
        if from_matcher
            && !self.verbose
            && let Some(hit) = m.pref_hit()
        {
            self.hits += u64::from(hit);
            return;
        }
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        let keep = self.maxlines.saturating_sub(1);
        for l in &prev[prev.len().saturating_sub(keep)..] {
            text.push_str(l);
            text.push('\n');
        }
        match span {
            Some((s, e)) => {
                text.push_str(&line[..s]);
                text.push_str(&line[e..]);
            }
            None => text.push_str(line),
        }
        text.push('\n');
        if !self.verbose {
            self.hits += u64::from(self.re.0.is_match(&text));
            self.text = text;
            return;
        }
        self.verbose_hit(&text);
        self.text = text;
    }

    /// `-v`: counts a match of `text` and keeps its group dict (up to the limit).
    fn verbose_hit(&mut self, text: &str) {
        let Some(m) = self.re.0.search(text) else {
            return;
        };
        self.hits += 1;
        if self.groups.len() < self.limit {
            let fields = self.re.0.fields(&m);
            let dict = fields
                .0
                .into_iter()
                .map(|(k, v)| (Value::str(k), v))
                .collect();
            self.groups.push(Value::Dict(dict).to_string());
        } else if self.groups.len() == self.limit {
            self.groups.push("...".to_string());
        }
    }
}

/// One `-v` hit: the failure id, its time, and fail2ban's "multiple regex matched" flag.
struct Hit {
    id: String,
    time: Option<f64>,
    multi: bool,
}

pub struct Stats {
    fail_hits: Vec<u64>,
    ignore_hits: Vec<u64>,
    hit_lists: Vec<Vec<Hit>>,
    tested: i64,
    matched: i64,
    ignored: i64,
    missed: i64,
    matched_lines: Vec<String>,
    ignored_lines: Vec<String>,
    missed_lines: Vec<String>,
    /// The lines the matcher's multi-line buffer holds (maxlines > 1), as fail2ban-regex
    /// tracks them to move lines a later match consumed from missed to matched.
    window: VecDeque<String>,
    buffer_size: usize,
    /// Line-list threshold: `-L` or 20.
    limit: i64,
    verbose: bool,
    all_matched: bool,
    all_missed: bool,
    all_ignored: bool,
    no_missed: bool,
    no_ignored: bool,
}

impl Stats {
    pub fn new(nfail: usize, spec: &MatcherSpec, o: &Opts) -> Self {
        Stats {
            fail_hits: vec![0; nfail],
            ignore_hits: vec![0; spec.ignoreregex.len()],
            hit_lists: (0..nfail).map(|_| Vec::new()).collect(),
            tested: 0,
            matched: 0,
            ignored: 0,
            missed: 0,
            matched_lines: Vec::new(),
            ignored_lines: Vec::new(),
            missed_lines: Vec::new(),
            window: VecDeque::new(),
            buffer_size: spec.maxlines.max(1),
            limit: o.maxlines.unwrap_or(20) as i64,
            verbose: o.verbose > 0,
            all_matched: o.print_all_matched,
            all_missed: o.print_all_missed,
            all_ignored: o.print_all_ignored,
            no_missed: o.print_no_missed,
            no_ignored: o.print_no_ignored,
        }
    }

    /// Counts one line's outcome (every regex hit, nofail ones included, as fail2ban).
    pub fn add(&mut self, line: &str, found: &[Failure], ignored_by: Option<usize>) {
        let mut is_ignored = false;
        let mut real = 0usize;
        for f in found {
            if let Some(h) = self.fail_hits.get_mut(f.regex_index) {
                *h += 1;
            }
            if self.verbose
                && let Some(list) = self.hit_lists.get_mut(f.regex_index)
            {
                list.push(Hit {
                    id: f
                        .id
                        .as_ref()
                        .map_or_else(|| "None".to_string(), |i| i.to_string()),
                    time: f.time,
                    // fail2ban flags a hit when more than one real failure preceded it.
                    multi: real > 1,
                });
            }
            if f.data.nofail() {
                is_ignored = true;
            } else {
                real += 1;
            }
        }
        if let Some(i) = ignored_by {
            is_ignored = true;
            if let Some(h) = self.ignore_hits.get_mut(i) {
                *h += 1;
            }
        }
        if self.buffer_size > 1 {
            self.track_buffer(line, found);
        }
        if is_ignored {
            self.ignored += 1;
            if !self.no_ignored && (self.all_ignored || self.ignored <= self.limit + 1) {
                self.ignored_lines.push(line.to_string());
            }
        } else if real > 0 {
            self.matched += 1;
            if self.all_matched {
                self.matched_lines.push(line.to_string());
            }
        } else {
            self.missed += 1;
            if !self.no_missed && (self.all_missed || self.missed <= self.limit + 1) {
                self.missed_lines.push(line.to_string());
            }
        }
        self.tested += 1;
    }

    /// The lines of the multi-line buffer that stay when the next line comes in.
    /// Multi-line mode: earlier buffered lines a match consumed count as matched now
    /// (they were counted missed when they came in). The buffer is mirrored from the
    /// matched lines the failures carry.
    fn track_buffer(&mut self, line: &str, found: &[Failure]) {
        if self.window.len() >= self.buffer_size {
            // The oldest line leaves the buffer by its size, not by a match.
            self.window.pop_front();
        }
        let org: Vec<String> = self.window.drain(..).collect();
        let consumed = |l: &str| found.iter().any(|f| f.data.matches.iter().any(|m| m == l));
        for l in org {
            if !consumed(&l) {
                self.window.push_back(l);
                continue;
            }
            if let Some(p) = self.missed_lines.iter().position(|m| *m == l) {
                self.missed_lines.remove(p);
            }
            if self.all_matched {
                self.matched_lines.push(l);
            }
            self.matched += 1;
            self.missed -= 1;
        }
        if !consumed(line) {
            self.window.push_back(line.to_string());
        }
    }

    pub fn print(
        &self,
        w: &mut Out,
        pref: Option<&PrefProbe>,
        spec: &MatcherSpec,
        m: &mut Matcher,
        elapsed: f64,
        o: &Opts,
    ) {
        w.line("");
        w.line("Results");
        w.line("=======");
        if let Some(p) = pref {
            w.line("");
            w.line(&format!("Prefregex: {} total", p.hits));
            let mut items = vec![p.re.0.pattern().to_string()];
            items.extend(p.groups.iter().map(|g| format!("    {g}")));
            list(w, &items, None);
        }
        self.regex_block(w, "Failregex", &spec.failregex, &self.fail_hits, true);
        self.regex_block(
            w,
            "Ignoreregex",
            &spec.ignoreregex,
            &self.ignore_hits,
            false,
        );
        w.line("");
        w.line("Date template hits:");
        let mut tpl = Vec::new();
        for t in m.date_detector().template_stats() {
            if !self.verbose && t.hits == 0 {
                continue;
            }
            tpl.push(format!("[{}] {}", t.hits, t.name));
            if o.verbose_date {
                tpl.push(format!(
                    "    # weight: {:.3} ({:.3}), pattern: {}",
                    t.weight,
                    t.template_weight,
                    t.pattern.as_deref().unwrap_or("")
                ));
                tpl.push(format!("    # regex:   {}", t.regex));
            }
        }
        list(w, &tpl, Some("[# of hits] date format"));
        w.line("");
        w.line(&format!(
            "Lines: {} lines, {} ignored, {} matched, {} missed",
            self.tested, self.ignored, self.matched, self.missed
        ));
        w.line(&format!("[processed in {elapsed:.2} sec]"));
        w.line("");
        // `-D`: each listed line once per regex of its kind, with a debuggex.com link.
        let dbg = |regexes| Debuggex::new(o, spec, regexes);
        if o.print_all_matched {
            let d = dbg(&spec.failregex);
            self.lines(w, "Matched", self.matched, &self.matched_lines, true, d);
        }
        if !o.print_no_ignored {
            let all = o.print_all_ignored;
            let d = dbg(&spec.ignoreregex);
            self.lines(w, "Ignored", self.ignored, &self.ignored_lines, all, d);
        }
        if !o.print_no_missed {
            let all = o.print_all_missed;
            let d = dbg(&spec.failregex);
            self.lines(w, "Missed", self.missed, &self.missed_lines, all, d);
        }
    }

    fn regex_block(&self, w: &mut Out, title: &str, regexes: &[String], hits: &[u64], ips: bool) {
        let total: u64 = hits.iter().sum();
        let mut out = Vec::new();
        for (i, (r, h)) in regexes.iter().zip(hits).enumerate() {
            if *h > 0 || self.verbose {
                out.push(format!("{:2}) [{h}] {r}", i + 1));
            }
            if !(self.verbose && ips) {
                continue;
            }
            for hit in self.hit_lists.get(i).map_or(&[][..], Vec::as_slice) {
                out.push(format!(
                    "    {}  {}{}",
                    hit.id,
                    local_time(hit.time),
                    if hit.multi {
                        " (multiple regex matched)"
                    } else {
                        ""
                    }
                ));
            }
        }
        w.line("");
        w.line(&format!("{title}: {total} total"));
        list(w, &out, Some(" #) [# of hits] regular expression"));
    }

    /// A line list, or the "too many" note when it reached the threshold.
    fn lines(
        &self,
        w: &mut Out,
        kind: &str,
        count: i64,
        l: &[String],
        all: bool,
        dbg: Option<Debuggex<'_>>,
    ) {
        if count == 0 {
            return;
        }
        let header = format!("{kind} line(s):");
        if all || count < self.limit {
            let items: Vec<String> = match dbg {
                Some(d) => l
                    .iter()
                    .flat_map(|line| d.regexes.iter().map(move |r| d.item(line, r)))
                    .collect(),
                None => l.iter().map(|s| s.trim_end().to_string()).collect(),
            };
            list(w, &items, Some(&header));
        } else {
            w.line(&format!(
                "{header} too many to print.  Use --print-all-{} to print all {count} lines",
                kind.to_lowercase(),
            ));
        }
    }
}

/// `-D/--debuggex`: the regexes a line list is paired with, and how they are expanded.
#[derive(Clone, Copy)]
struct Debuggex<'a> {
    regexes: &'a [String],
    multiline: bool,
    host_with_dns: bool,
}

impl<'a> Debuggex<'a> {
    fn new(o: &Opts, spec: &MatcherSpec, regexes: &'a [String]) -> Option<Self> {
        o.debuggex.then_some(Debuggex {
            regexes,
            multiline: spec.maxlines > 1,
            host_with_dns: o.usedns.as_deref() != Some("no"),
        })
    }

    /// `<line> | <regex> |  <url>` for the debuggex.com page testing `regex` (tags
    /// expanded as the filter would) on `line` with Python's flavour.
    fn item(&self, line: &str, regex: &str) -> String {
        let re = crate::filter::template::expand_tags(regex, self.host_with_dns);
        let mut url = format!(
            "https://www.debuggex.com/?re={}&str={}&flavor=python",
            quote_plus(&re),
            quote_plus(line)
        );
        if self.multiline {
            url.push_str("&flags=m");
        }
        format!("{line} | {regex} |  {url}").trim_end().to_string()
    }
}

/// Python's `urllib.parse.quote_plus`: UTF-8 bytes, space as `+`, all but
/// `A-Za-z0-9_.-~` as `%XX`.
fn quote_plus(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A hit's time as fail2ban's `-v` list shows it (local time; none: the clock).
fn local_time(t: Option<f64>) -> String {
    use chrono::TimeZone;
    let secs = t.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    });
    match chrono::Local.timestamp_opt(secs.floor() as i64, 0) {
        chrono::LocalResult::Single(d) | chrono::LocalResult::Ambiguous(d, _) => {
            d.format("%a %b %d %H:%M:%S %Y").to_string()
        }
        chrono::LocalResult::None => String::new(),
    }
}

/// fail2ban's list block: `|- header`, `|  item`…, `` `- ``; nothing when empty.
fn list(w: &mut Out, items: &[String], header: Option<&str>) {
    if items.is_empty() {
        return;
    }
    if let Some(h) = header {
        w.line(&format!("|- {h}"));
    }
    for i in items {
        w.line(&format!("|  {i}"));
    }
    w.line("`-");
}
