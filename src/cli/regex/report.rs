//! The default summary report of fail2ban-regex. Principal type: [`Stats`] (hit counts per
//! regex, line counts and the line lists), filled per line and printed at the end.

use std::sync::Arc;

use super::{Opts, Out};
use crate::filter::date::{DateDetector, SystemZone};
use crate::filter::failregex::PrefRegex;
use crate::filter::matcher::{Failure, Matcher, MatcherSpec};

/// The prefregex with its own date detector: the matcher does not report prefregex
/// hits, so the report re-runs it on the line without its date (single-line view).
pub struct PrefProbe {
    re: PrefRegex,
    dates: DateDetector,
    hits: u64,
}

impl PrefProbe {
    pub fn new(spec: &MatcherSpec) -> Option<Self> {
        let raw = spec.prefregex.as_deref().filter(|p| !p.trim().is_empty())?;
        let re = PrefRegex::new(raw, spec.usedns).ok()?;
        let year = chrono::Datelike::year(&chrono::Local::now());
        let mut dates =
            DateDetector::with_options(spec.datepattern.as_deref(), year, Arc::new(SystemZone))
                .ok()?;
        dates.set_logtimezone(spec.logtimezone.as_deref()).ok()?;
        Some(PrefProbe { re, dates, hits: 0 })
    }

    /// Counts `line` when the prefregex matches it (unless an ignoreregex dropped it).
    pub fn add(&mut self, line: &str, now: f64, ignored: bool) {
        let span = self.dates.match_time(line, now).map(|d| d.span);
        if ignored {
            return;
        }
        let mut text = match span {
            Some((s, e)) => format!("{}{}", &line[..s], &line[e..]),
            None => line.to_string(),
        };
        text.push('\n');
        if self.re.0.search(&text).is_some() {
            self.hits += 1;
        }
    }
}

pub struct Stats {
    fail_hits: Vec<u64>,
    ignore_hits: Vec<u64>,
    tested: u64,
    matched: u64,
    ignored: u64,
    missed: u64,
    matched_lines: Vec<String>,
    ignored_lines: Vec<String>,
    missed_lines: Vec<String>,
}

impl Stats {
    pub fn new(nfail: usize, nignore: usize) -> Self {
        Stats {
            fail_hits: vec![0; nfail],
            ignore_hits: vec![0; nignore],
            tested: 0,
            matched: 0,
            ignored: 0,
            missed: 0,
            matched_lines: Vec::new(),
            ignored_lines: Vec::new(),
            missed_lines: Vec::new(),
        }
    }

    /// Counts one line's outcome (every regex hit, nofail ones included, as fail2ban).
    pub fn add(&mut self, line: &str, found: &[Failure], ignored_by: Option<usize>) {
        let mut is_ignored = false;
        let mut real = false;
        for f in found {
            if let Some(h) = self.fail_hits.get_mut(f.regex_index) {
                *h += 1;
            }
            if f.data.nofail() {
                is_ignored = true;
            } else {
                real = true;
            }
        }
        if let Some(i) = ignored_by {
            is_ignored = true;
            if let Some(h) = self.ignore_hits.get_mut(i) {
                *h += 1;
            }
        }
        if is_ignored {
            self.ignored += 1;
            self.ignored_lines.push(line.to_string());
        } else if real {
            self.matched += 1;
            self.matched_lines.push(line.to_string());
        } else {
            self.missed += 1;
            self.missed_lines.push(line.to_string());
        }
        self.tested += 1;
    }

    #[allow(clippy::too_many_arguments)]
    pub fn print(
        &self,
        w: &mut Out,
        pref: Option<&PrefProbe>,
        spec: &MatcherSpec,
        m: &mut Matcher,
        elapsed: f64,
        limit: usize,
        o: &Opts,
    ) {
        w.line("");
        w.line("Results");
        w.line("=======");
        if let Some(p) = pref {
            w.line("");
            w.line(&format!("Prefregex: {} total", p.hits));
            list(w, &[p.re.0.pattern().to_string()], None);
        }
        regex_block(w, "Failregex", &spec.failregex, &self.fail_hits);
        regex_block(w, "Ignoreregex", &spec.ignoreregex, &self.ignore_hits);
        w.line("");
        w.line("Date template hits:");
        let tpl: Vec<String> = m
            .date_detector()
            .template_stats()
            .iter()
            .filter(|t| t.hits > 0)
            .map(|t| format!("[{}] {}", t.hits, t.name))
            .collect();
        list(w, &tpl, Some("[# of hits] date format"));
        w.line("");
        w.line(&format!(
            "Lines: {} lines, {} ignored, {} matched, {} missed",
            self.tested, self.ignored, self.matched, self.missed
        ));
        w.line(&format!("[processed in {elapsed:.2} sec]"));
        w.line("");
        if o.print_all_matched {
            lines(w, "Matched", &self.matched_lines, true, limit);
        }
        if !o.print_no_ignored {
            lines(
                w,
                "Ignored",
                &self.ignored_lines,
                o.print_all_ignored,
                limit,
            );
        }
        if !o.print_no_missed {
            lines(w, "Missed", &self.missed_lines, o.print_all_missed, limit);
        }
    }
}

fn regex_block(w: &mut Out, title: &str, regexes: &[String], hits: &[u64]) {
    let total: u64 = hits.iter().sum();
    let out: Vec<String> = regexes
        .iter()
        .zip(hits)
        .enumerate()
        .filter(|(_, (_, h))| **h > 0)
        .map(|(i, (r, h))| format!("{:2}) [{h}] {r}", i + 1))
        .collect();
    w.line("");
    w.line(&format!("{title}: {total} total"));
    list(w, &out, Some(" #) [# of hits] regular expression"));
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

fn lines(w: &mut Out, kind: &str, l: &[String], all: bool, limit: usize) {
    let header = format!("{kind} line(s):");
    if l.is_empty() {
        return;
    }
    if all || l.len() < limit {
        let items: Vec<String> = l.iter().map(|s| s.trim_end().to_string()).collect();
        list(w, &items, Some(&header));
    } else {
        w.line(&format!(
            "{header} too many to print.  Use --print-all-{} to print all {} lines",
            kind.to_lowercase(),
            l.len()
        ));
    }
}
