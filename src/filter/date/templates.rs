//! Date templates: turning a `datepattern` (or one of the built-in defaults) into the exact
//! Python regex fail2ban 1.0.2 would build, plus the flags and display name it derives.
//!
//! Principal type: [`Template`] (name, original pattern, final regex string, compiled
//! [`pyre::Regex`], anchoring flags, kind). Flow: pattern text → `%`-directive expansion
//! ([`expand_directives`]) → boundary/anchor wrapping ([`wrap_regex`]) → `pyre::compile`.
//! The default list and the `{^LN-BEG}` / `{DATE}` / `{DEFAULT}` / `{NONE}` keys are
//! resolved in [`template_for_key`] and [`default_templates`]. A default template's regex
//! is compiled on first use ([`LazyRegex`]): a log runs one or two of the ~34 defaults, the
//! detector's set scan rules the rest out, and each compiled regex costs ~100 KB.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::filter::pyre::{self, Flags};

use super::{Error, shape};

/// Anchored at line start (`^` or `{^LN-BEG}`): a match stops the template search.
pub const LINE_BEGIN: u8 = 8;
/// Anchored at line end (`$`).
pub const LINE_END: u8 = 4;
pub const WORD_BEGIN: u8 = 2;
pub const WORD_END: u8 = 1;

/// How the matched text becomes a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// strptime-like fields from named groups.
    Pattern,
    /// Unix time in group `group`; `long` also accepts milli/microsecond forms.
    Epoch { long: bool, group: usize },
    /// `@` + 24 hex digits; seconds are hex digits 2..17 of the group.
    Tai64n,
}

impl Kind {
    /// A byte every match of a template of this kind holds, when one is known: a line
    /// without it is told "no match" by one `memchr`, not a search. The TAI64N
    /// template (the last of the defaults, searched on every line where the last
    /// winner's date moved) is built around a literal `@`.
    pub fn needs_byte(self) -> Option<u8> {
        match self {
            Kind::Tai64n => Some(b'@'),
            Kind::Pattern | Kind::Epoch { .. } => None,
        }
    }
}

/// One date template, immutable once built (hit counts live in the detector).
#[derive(Debug, Clone)]
pub struct Template {
    pub name: Arc<str>,
    /// The `%`-pattern it was built from (absent for Epoch/TAI64N built from keywords).
    pub pattern: Option<String>,
    /// The final Python-dialect regex handed to `pyre::compile`.
    pub regex: String,
    pub re: LazyRegex,
    pub flags: u8,
    /// Default anchored copies get 100 so they bubble up first when reordering.
    pub weight: f64,
    pub kind: Kind,
    /// fail2ban's cache key (the pattern, upper-cased when it has no `%`). fail2ban shares
    /// one template object per key, so a key equal to a default anchored copy's key also
    /// shares that copy's weight of 100 (see [`shares_anchored_weight`]).
    pub key: String,
}

/// A template regex compiled on first dereference. Templates from a `datepattern` are
/// compiled when built (so errors name the pattern at config time); default ones are
/// known-good and wait for a line that needs them. Clones share one compilation.
#[derive(Clone)]
pub struct LazyRegex(Arc<LazyInner>);

struct LazyInner {
    regex: String,
    /// The linear (or relaxed) translation, for the detector's set scan.
    scan: Option<String>,
    re: OnceLock<pyre::Regex>,
}

impl LazyRegex {
    /// Translates now (a translation error is reported here); compiles later.
    fn new(regex: &str) -> Result<LazyRegex, pyre::Error> {
        let t = pyre::translate(regex, false, false).map_err(|e| pyre::Error {
            pattern: regex.to_string(),
            message: e.to_string(),
        })?;
        Ok(LazyRegex(Arc::new(LazyInner {
            regex: regex.to_string(),
            scan: t.linear.or(t.relaxed),
            re: OnceLock::new(),
        })))
    }

    /// Compiles now if not yet done.
    fn force(&self) -> Result<&pyre::Regex, pyre::Error> {
        if let Some(re) = self.0.re.get() {
            return Ok(re);
        }
        let re = pyre::compile(&self.0.regex, Flags::default())?;
        Ok(self.0.re.get_or_init(|| re))
    }

    /// The pattern text the set scan uses (None: no linear form).
    pub fn scan(&self) -> Option<&str> {
        self.0.scan.as_deref()
    }
}

impl std::ops::Deref for LazyRegex {
    type Target = pyre::Regex;

    fn deref(&self) -> &pyre::Regex {
        // Only default templates reach here uncompiled, and every one of them compiles
        // (tests::defaults_compile); a failure would leave that template never matching.
        self.force().unwrap_or_else(|_| never())
    }
}

impl std::fmt::Debug for LazyRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyRegex")
            .field("regex", &self.0.regex)
            .field("compiled", &self.0.re.get().is_some())
            .finish()
    }
}

/// A regex that matches nothing (stand-in for a template that failed to compile).
fn never() -> &'static pyre::Regex {
    static NEVER: OnceLock<pyre::Regex> = OnceLock::new();
    NEVER.get_or_init(|| {
        // A constant pattern both engines accept: compiling it cannot fail.
        pyre::compile(r"[^\s\S]", Flags::default()).expect("constant pattern compiles")
    })
}

/// `wordBegin` of fail2ban: none, a word boundary, or the line start (`{^LN-BEG}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Begin {
    No,
    Word,
    Line,
}

/// The default template patterns, in fail2ban's order.
pub(super) const DEFAULT_PATTERNS: [&str; 17] = [
    r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    r"%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
    r"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    r"%m/%d/%ExY:%H:%M:%S",
    r"%m-%d-%ExY %k:%M:%S(?:\.%f)?",
    "EPOCH",
    r"{^LN-BEG}%H:%M:%S",
    r"^<%m/%d/%Exy@%H:%M:%S>",
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    r"%b %d, %ExY %I:%M:%S %p",
    r"^%b-%d-%Exy %k:%M:%S",
    r"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    "TAI64N",
];

/// Python's `str.strip()` whitespace set is wider than ASCII; `char::is_whitespace` is close.
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace())
}

/// Python `str.upper()` (ASCII suffices: keys compared against are ASCII).
fn upper(s: &str) -> String {
    s.to_uppercase()
}

// ---------------------------------------------------------------------------------------
// `%` directives.

/// The regex fail2ban substitutes for a directive (its `timeRE` table).
fn directive_regex(key: &str, ex_year: &str) -> Option<String> {
    const TZ_ABBR: &str = "[A-Z](?:[A-Z]{2,4})?";
    let s = match key {
        "%" => "%",
        "a" => "(?P<a>mon|tue|wed|thu|fri|sat|sun)",
        "A" => "(?P<A>wednesday|thursday|saturday|tuesday|monday|friday|sunday)",
        "b" => "(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
        "B" => {
            "(?P<B>september|february|november|december|january|october|august|march|april|june|july|may)"
        }
        "c" => {
            r"(?P<a>mon|tue|wed|thu|fri|sat|sun)\s+(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])\s+(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)\s+(?P<Y>\d\d\d\d)"
        }
        "d" => r"(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])",
        "f" => r"(?P<f>[0-9]{1,6})",
        "G" => r"(?P<G>\d\d\d\d)",
        "H" => r"(?P<H>[0-1]?\d|2[0-3])",
        "I" => r"(?P<I>1[0-2]|0[1-9]|[1-9])",
        "j" => r"(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])",
        "k" => r" ?(?P<H>[0-2]?\d)",
        "l" => r" ?(?P<I>1?\d)",
        "m" => r"(?P<m>0?[1-9]|1[0-2])",
        "M" => r"(?P<M>[0-5]?\d)",
        "p" => "(?P<p>am|pm)",
        "S" => r"(?P<S>[0-5]?\d|6[0-1])",
        "u" => "(?P<u>[1-7])",
        "U" => r"(?P<U>5[0-3]|[0-4]\d|\d)",
        "V" => r"(?P<V>5[0-3]|0[1-9]|[1-4]\d|\d)",
        "w" => "(?P<w>[0-6])",
        "W" => r"(?P<W>5[0-3]|[0-4]\d|\d)",
        "x" => r"(?P<m>1[0-2]|0[1-9]|[1-9])/(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])/(?P<y>\d\d)",
        "X" => r"(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)",
        "y" => r"(?P<y>\d\d)",
        "Y" => r"(?P<Y>\d{4})",
        "z" => r"(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)",
        "Z" => "(?P<Z>Z|[A-Z]{3,5})",
        "Exd" => r"(?P<d>[1-2]\d|0[1-9]|3[0-1])",
        "Exm" => r"(?P<m>0[1-9]|1[0-2])",
        "ExH" => r"(?P<H>[0-1]\d|2[0-3])",
        "Exk" => r" ?(?P<H>[0-1]?\d|2[0-3])",
        "Exl" => r" ?(?P<I>1[0-2]|\d)",
        "ExM" => r"(?P<M>[0-5]\d)",
        "ExS" => r"(?P<S>[0-5]\d|6[0-1])",
        "ExY" => return Some(format!(r"(?P<Y>{ex_year}\d)")),
        "Exy" => r"(?P<y>\d{2})",
        "ExZ" => return Some(format!("(?P<Z>{TZ_ABBR})")),
        "Exz" => {
            return Some(format!(
                r"(?P<z>(?:{TZ_ABBR})?[+-][01]\d(?::?\d{{2}})?|{TZ_ABBR})"
            ));
        }
        _ => return None,
    };
    Some(s.to_string())
}

/// The word fail2ban shows for a directive in a template name.
fn directive_name(key: &str) -> String {
    let base = |k: &str| -> Option<&'static str> {
        Some(match k {
            "a" => "DAY",
            "A" => "DAYNAME",
            "b" => "MON",
            "B" => "MONTH",
            "d" => "Day",
            "H" => "24hour",
            "I" => "12hour",
            "j" => "Yearday",
            "m" => "Month",
            "M" => "Minute",
            "p" => "AMPM",
            "S" => "Second",
            "U" | "W" => "Yearweek",
            "w" => "Weekday",
            "y" => "Year2",
            "Y" => "Year",
            "%" => "%",
            "z" => "Zone offset",
            "f" => "Microseconds",
            "Z" => "Zone name",
            _ => return None,
        })
    };
    if let Some(n) = base(key) {
        return n.to_string();
    }
    if let Some(rest) = key.strip_prefix("Ex")
        && let Some(n) = base(rest)
    {
        return format!("Ex{n}");
    }
    if let Some(rest) = key.strip_prefix("Ex") {
        // Extended keys without a word keep their `%` form after "Ex" (e.g. `Ex%k`).
        return format!("Ex%{rest}");
    }
    format!("%{key}")
}

const EX_KEYS: [&str; 11] = [
    "ExZ", "Exz", "Exd", "Exm", "ExH", "Exk", "Exl", "ExM", "ExS", "ExY", "Exy",
];
const SINGLE_KEYS: &str = "dfHIGjmMSUwuVyYzAaBbpZ%WcxXkl";

/// Expands every `%` directive: returns (display name, regex). A `%` that is not a known
/// directive is an error (fail2ban either fails or builds a garbage regex for it).
pub fn expand_directives(pattern: &str, ex_year: &str) -> Result<(String, String), String> {
    let mut name = String::with_capacity(pattern.len());
    let mut regex = String::with_capacity(pattern.len() * 4);
    let mut rest = pattern;
    while let Some(i) = rest.find('%') {
        name.push_str(&rest[..i]);
        regex.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let key = if after.starts_with('%') {
            Some("%")
        } else if let Some(k) = EX_KEYS.iter().find(|k| after.starts_with(**k)) {
            Some(*k)
        } else {
            after
                .chars()
                .next()
                .filter(|c| SINGLE_KEYS.contains(*c))
                .map(|c| &after[..c.len_utf8()])
        };
        let Some(key) = key else {
            let shown: String = after.chars().take(1).collect();
            return Err(format!("unsupported format character '%{shown}'"));
        };
        // Every key accepted above has a table entry.
        let re = directive_regex(key, ex_year).unwrap_or_default();
        name.push_str(&directive_name(key));
        regex.push_str(&re);
        rest = &after[key.len()..];
    }
    name.push_str(rest);
    regex.push_str(rest);
    Ok((name, regex))
}

/// The `%ExY` century alternation: the 3-digit year prefixes of last year up to three years
/// ahead, plus every third year from 2000 on (fail2ban's window; `20[012]` in 2026).
pub fn ex_year_prefix(year: i32) -> String {
    let cent = |y: i32| {
        let s = y.to_string();
        s.chars().take(3).collect::<String>()
    };
    let mut set = std::collections::BTreeSet::new();
    set.insert(cent(year - 1));
    set.insert(cent(year + 3));
    // fail2ban's "alternate now" is pinned to early 2001.
    let mut y = 2000;
    while y < year + 1 {
        set.insert(cent(y));
        y += 3;
    }
    let items: Vec<String> = set.into_iter().collect();
    group_prefixes(&items)
}

/// Factors a sorted set of equal-length strings into a compact alternation.
fn group_prefixes(items: &[String]) -> String {
    if items.len() > 1 {
        let all_but_last = |s: &String| s[..s.len().saturating_sub(1)].to_string();
        let first = all_but_last(&items[0]);
        let mut common = if items.iter().all(|i| all_but_last(i) == first) {
            first
        } else {
            String::new()
        };
        if common.is_empty() {
            let c0 = items[0].get(..1).unwrap_or("").to_string();
            if !c0.is_empty() && items.iter().all(|i| i.get(..1) == Some(c0.as_str())) {
                common = c0;
            }
        }
        if !common.is_empty() {
            let rest: Vec<String> = items
                .iter()
                .map(|i| i[common.len()..].to_string())
                .collect();
            return format!("{common}{}", group_prefixes(&rest));
        }
        if items[0].len() > 1 {
            return format!("(?:{})", items.join("|"));
        }
        return format!("[{}]", items.concat());
    }
    items.concat()
}

// ---------------------------------------------------------------------------------------
// Boundary wrapping.

/// fail2ban's `DateTemplate.setRegex`: strips, moves inline flags to the front, adds the
/// capture group 1 if missing, word/line boundaries, and derives the anchoring flags.
/// Returns (regex, flags, name-gets-{^LN-BEG}-prefix).
fn wrap_regex(regex: &str, begin: Begin, end: bool) -> (String, u8, bool) {
    let mut regex = py_strip(regex).to_string();
    let flags_group = shape::global_flags(&regex).map(|r| {
        let g = regex[r.clone()].to_string();
        regex.replace_range(r, "");
        g
    });
    let bound_begin = begin != Begin::No && !shape::no_word_begin(&regex);
    let bound_end = end && !shape::no_word_end(&regex);
    if !shape::grouped(&regex)
        && let Some((g1, g2, g3)) = shape::group_split(&regex)
    {
        regex = format!("{g1}({g2}){g3}");
    }
    let mut flags = 0u8;
    let mut line_prefix = false;
    if bound_begin {
        if begin == Begin::Line {
            flags |= LINE_BEGIN;
            regex = format!(r"^(?:\W{{0,2}})?{regex}");
            line_prefix = true;
        } else {
            flags |= WORD_BEGIN;
            regex = format!(r"(?=^|\b|\W){regex}");
        }
    }
    if bound_end {
        flags |= WORD_END;
        regex.push_str(r"(?=\b|\W|$)");
    }
    if flags & LINE_BEGIN == 0 && shape::line_begin(&regex) {
        flags |= LINE_BEGIN;
    }
    if flags & LINE_END == 0 && shape::line_end(&regex) {
        flags |= LINE_END;
    }
    regex = shape::strip_star_bounds(&regex);
    if let Some(g) = flags_group {
        regex = format!("{g}{regex}");
    }
    (regex, flags, line_prefix)
}

/// fail2ban's `unboundPattern`: a template pattern without its own boundaries, for `{DATE}`.
fn unbound_pattern(p: &str) -> String {
    let p = p.strip_prefix("{UNB}").unwrap_or(p);
    let p = p.strip_prefix("{^LN-BEG}").unwrap_or(p);
    let p = [r"(^|\b|\W)", r"(?:^|\b|\W)"]
        .iter()
        .find_map(|pre| p.strip_prefix(pre))
        .unwrap_or(p);
    let p = p.strip_suffix(r"(?=\b|\W|$)").unwrap_or(p);
    p.to_string()
}

// ---------------------------------------------------------------------------------------
// Template regexes, shared process-wide (many jails use the default templates); each
// compiles on first use (see [`LazyRegex`]).

fn shared_regex(regex: &str) -> Result<LazyRegex, pyre::Error> {
    static CACHE: OnceLock<Mutex<HashMap<String, LazyRegex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(c) = cache.lock()
        && let Some(re) = c.get(regex)
    {
        return Ok(re.clone());
    }
    let re = LazyRegex::new(regex)?;
    if let Ok(mut c) = cache.lock() {
        c.insert(regex.to_string(), re.clone());
    }
    Ok(re)
}

fn finish(
    name: String,
    pattern: Option<String>,
    regex: String,
    flags: u8,
    kind: Kind,
) -> Result<Template, Error> {
    let re = shared_regex(&regex).map_err(|e| Error::Compile {
        name: name.clone(),
        regex: regex.clone(),
        message: e.message,
    })?;
    Ok(Template {
        name: name.into(),
        pattern,
        regex,
        re,
        flags,
        weight: 1.0,
        kind,
        key: String::new(),
    })
}

/// A `%`-pattern template (fail2ban's `DatePatternRegex`).
fn pattern_template(pattern: &str, year: i32) -> Result<Template, Error> {
    let mut p = pattern;
    let mut begin = Begin::Word;
    let mut end = true;
    if let Some(rest) = p.strip_prefix("{UNB}") {
        p = rest;
        begin = Begin::No;
        end = false;
    }
    if begin != Begin::No
        && let Some(rest) = p.strip_prefix("{^LN-BEG}")
    {
        p = rest;
        begin = Begin::Line;
    }
    let (mut name, mut regex) =
        expand_directives(p, &ex_year_prefix(year)).map_err(|message| Error::Pattern {
            pattern: pattern.to_string(),
            message,
        })?;
    if shape::has_alpha_directive(p) {
        regex = format!("(?iu){regex}");
    }
    let (regex, flags, line_prefix) = wrap_regex(&regex, begin, end);
    if line_prefix && !name.starts_with("{^LN-BEG}") {
        name = format!("{{^LN-BEG}}{name}");
    }
    finish(name, Some(pattern.to_string()), regex, flags, Kind::Pattern)
}

/// Unix-time template: plain `EPOCH` (line start, `[…]` or `audit(…:`), line-begin only, or
/// a pattern containing `{EPOCH}`/`{LEPOCH}`.
fn epoch_template(
    line_begin_only: bool,
    pattern: Option<&str>,
    long: bool,
) -> Result<Template, Error> {
    let epoch = if long {
        r"\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?"
    } else {
        r"\d{10,11}\b(?:\.\d{3,6})?"
    };
    let mut name = match (pattern, long) {
        (Some(p), _) => p.to_string(),
        (None, true) => "LongEpoch".to_string(),
        (None, false) => "Epoch".to_string(),
    };
    let (regex, flags, group, line_prefix) = if let Some(p) = pattern {
        let body = shape::replace_epoch(p, &format!("({epoch})"));
        let (r, f, lp) = wrap_regex(&format!("({body})"), Begin::Word, true);
        (r, f, 2, lp)
    } else if !line_begin_only {
        // Plain EPOCH: at line start, inside a leading `[…]`, or after `audit(`.
        let body = r"((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))EPOCH)(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))"
            .replace("EPOCH", epoch);
        let (r, f, lp) = wrap_regex(&body, Begin::No, true);
        (r, f, 1, lp)
    } else {
        let body = format!(r"((?P<square>(?<=^\[))?{epoch})(?(square)(?=\]))");
        let (r, f, lp) = wrap_regex(&body, Begin::Line, true);
        (r, f, 1, lp)
    };
    if line_prefix && !name.starts_with("{^LN-BEG}") {
        name = format!("{{^LN-BEG}}{name}");
    }
    finish(name, None, regex, flags, Kind::Epoch { long, group })
}

/// TAI64N template, anywhere (word-bounded only at the end) or at line start.
fn tai64n_template(line_begin: bool) -> Result<Template, Error> {
    let begin = if line_begin { Begin::Line } else { Begin::No };
    let (regex, flags, line_prefix) = wrap_regex("@[0-9a-f]{24}", begin, true);
    let name = if line_prefix {
        "{^LN-BEG}TAI64N"
    } else {
        "TAI64N"
    };
    finish(name.to_string(), None, regex, flags, Kind::Tai64n)
}

/// fail2ban's `_getPatternTemplate`: keyword keys (`EPOCH`, `LEPOCH`, `TAI64N`, with
/// `{^LN-BEG}`/`^` forms) or a `%`-pattern.
pub fn template_for_key(pattern: &str, year: i32) -> Result<Template, Error> {
    compiled(key_template(pattern, year)?)
}

/// [`template_for_key`] with the regex left to compile on first use (defaults only).
fn key_template(pattern: &str, year: i32) -> Result<Template, Error> {
    let mut t = build_for_key(pattern, year)?;
    t.key = cache_key(pattern);
    Ok(t)
}

/// `t` with its regex compiled (errors name the template).
fn compiled(t: Template) -> Result<Template, Error> {
    if let Err(e) = t.re.force() {
        return Err(Error::Compile {
            name: t.name.to_string(),
            regex: t.regex.clone(),
            message: e.message,
        });
    }
    Ok(t)
}

/// fail2ban's cache key of a pattern.
pub fn cache_key(pattern: &str) -> String {
    if pattern.contains('%') {
        pattern.to_string()
    } else {
        upper(pattern)
    }
}

/// Whether a template with this cache key is the same object as one of the default
/// anchored copies in fail2ban (and so carries their weight 100).
pub fn shares_anchored_weight(key: &str) -> bool {
    static KEYS: OnceLock<Vec<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        DEFAULT_PATTERNS
            .iter()
            .filter(|p| !p.starts_with('^') && !p.starts_with("{^LN-BEG}"))
            .map(|p| cache_key(&format!("{{^LN-BEG}}{p}")))
            .collect()
    })
    .iter()
    .any(|k| k == key)
}

fn build_for_key(pattern: &str, year: i32) -> Result<Template, Error> {
    let key = cache_key(pattern);
    if key.contains("EPOCH") {
        if shape::has_epoch_placeholder(pattern) {
            return epoch_template(false, Some(pattern), key.contains("LEPOCH"));
        }
        match key.as_str() {
            "EPOCH" | "{^LN-BEG}EPOCH" | "^EPOCH" => {
                return epoch_template(key != "EPOCH", None, false);
            }
            "LEPOCH" | "{^LN-BEG}LEPOCH" | "^LEPOCH" => {
                return epoch_template(key != "LEPOCH", None, true);
            }
            _ => {}
        }
    }
    match key.as_str() {
        "TAI64N" | "{^LN-BEG}TAI64N" | "^TAI64N" => tai64n_template(key != "TAI64N"),
        _ => pattern_template(pattern, year),
    }
}

/// fail2ban's `_getAnchoredTemplate`: the copy of `t` with `wrap` applied to its pattern
/// (pattern templates) or to its name (Epoch/TAI64N, rebuilt from the wrapped keyword).
fn wrapped_template(
    t: &Template,
    year: i32,
    wrap: impl Fn(&str) -> String,
) -> Result<Template, Error> {
    match &t.pattern {
        Some(p) => key_template(&wrap(p), year),
        None => key_template(&wrap(&t.name), year),
    }
}

/// The 17 original default templates (fail2ban's `defaultTemplates`).
fn original_defaults(year: i32) -> Result<Vec<Template>, Error> {
    DEFAULT_PATTERNS
        .iter()
        .map(|p| key_template(p, year))
        .collect()
}

/// The full default list: anchored copies (weight 100) first, then the originals.
/// Built once per year and shared: every jail's detectors hold the same templates.
pub fn default_templates(year: i32) -> Result<Vec<Arc<Template>>, Error> {
    static CACHE: OnceLock<Mutex<HashMap<i32, Vec<Arc<Template>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(c) = cache.lock()
        && let Some(v) = c.get(&year)
    {
        return Ok(v.clone());
    }
    let mut anchored = Vec::new();
    let mut plain = Vec::new();
    for t in original_defaults(year)? {
        let name = &t.name;
        if !name.starts_with("{^LN-BEG}") && !name.starts_with('^') {
            let mut t2 = wrapped_template(&t, year, |s| format!("{{^LN-BEG}}{s}"))?;
            if t2.name != t.name {
                t2.weight = 100.0;
                anchored.push(t2);
            }
        }
        plain.push(t);
    }
    anchored.extend(plain);
    let shared: Vec<Arc<Template>> = anchored
        .into_iter()
        .map(|mut t| {
            if shares_anchored_weight(&t.key) {
                t.weight = 100.0;
            }
            Arc::new(t)
        })
        .collect();
    if let Ok(mut c) = cache.lock() {
        c.insert(year, shared.clone());
    }
    Ok(shared)
}

/// The originals with `{DATE}` in `pre_match` replaced by each one's unbounded pattern.
pub fn date_templates(pre_match: &str, year: i32) -> Result<Vec<Template>, Error> {
    original_defaults(year)?
        .iter()
        .map(|t| {
            wrapped_template(t, year, |s| {
                shape::replace_date(pre_match, &unbound_pattern(s))
            })
            .and_then(compiled)
        })
        .collect()
}

/// Whether `key` (upper-cased unless it has `%`) contains the `{DATE}` placeholder.
pub fn has_date_placeholder(key: &str) -> bool {
    key.contains("{DATE}")
}

/// `{NONE}`: an empty match at line start (every line gets "now").
pub fn none_template(year: i32) -> Result<Template, Error> {
    let mut t = compiled(pattern_template("{UNB}^", year)?)?;
    t.key = "{NONE}".to_string();
    Ok(t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn defaults_compile() {
        // The lazily compiled defaults must all compile: a failure would only show when
        // a log first needs that template.
        let all = default_templates(2026).unwrap();
        assert!(all.len() > 30);
        for t in &all {
            assert!(t.re.force().is_ok(), "{} {}", t.name, t.regex);
        }
    }

    #[test]
    fn datepattern_errors_when_built() {
        // A user's pattern is compiled when it is read, so the error names it there.
        assert!(matches!(
            template_for_key("%Y-%m(?P<x>", 2026),
            Err(Error::Compile { .. }) | Err(Error::Pattern { .. })
        ));
    }

    use super::*;

    #[test]
    fn ex_year_window() {
        assert_eq!(ex_year_prefix(2026), "20[012]");
        assert_eq!(ex_year_prefix(2005), "200");
        assert_eq!(ex_year_prefix(2028), "20[0123]");
        assert_eq!(
            ex_year_prefix(2099),
            "2(?:00|01|02|03|04|05|06|07|08|09|10)"
        );
    }

    #[test]
    fn wrap_adds_group_and_bounds() {
        let (r, f, _) = wrap_regex("^a{3,5}b?c*$", Begin::Word, true);
        assert_eq!(r, "^(a{3,5}b?c*)$");
        assert_eq!(f, LINE_BEGIN | LINE_END);
        let (r, f, _) = wrap_regex("(?iu)**time:x**", Begin::Word, true);
        assert_eq!(r, "(?iu)(time:x)");
        assert_eq!(f, 0);
    }

    #[test]
    fn unknown_directive_is_error() {
        assert!(pattern_template("%Y-%e", 2026).is_err());
        assert!(pattern_template("%Y-%s", 2026).is_err());
        assert!(pattern_template("100%% %Y", 2026).is_ok());
    }
}
