//! `fail2ban-regex`: tests a filter (or literal regexes) against a log file or a line.
//!
//! Flow: [`parse_args`] → [`Opts`] → the failregex/ignoreregex source is resolved
//! ([`resolve_regex`]: filter name, filter file, or literal) into a `MatcherSpec` → each
//! log line (file or argument text; blank and `#` lines skipped) goes through
//! `filter::matcher::Matcher` → either `-o` output lines ([`out`]) or the summary report.

mod args;
mod out;
mod par;
mod report;
mod zone;

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use crate::config::files::FsSource;
use crate::filter::addr::UseDns;
use crate::filter::date::{DateDetector, SystemZone};
use crate::filter::matcher::{
    Ahead, Failure, GroupSpan, LineScanner, Matcher, MatcherSpec, Resolver, SpecError,
};

use crate::stream::Value;
use args::{Opts, Parsed};

/// Where the failregexes came from, for the report header.
enum RegexSource {
    Filter { name: String, basedir: String },
    File(String),
    Literal(String),
}

/// Whether `arg` looks like a filter name or path (fail2ban's test), then whether such a
/// file exists: returns the name to hand to `read_filter`.
fn filter_candidate(arg: &str, confdir: &str) -> Option<(String, bool)> {
    let (base, opts) = match arg.find('[') {
        Some(p) if arg.ends_with(']') => (&arg[..p], &arg[p..]),
        _ => (arg, ""),
    };
    let lead = base.len() - base.trim_start_matches('/').len();
    if base.is_empty()
        || lead > 3
        || !base
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '/' | '-' | '.'))
    {
        return None;
    }
    let fdir = if confdir.ends_with("filter.d") {
        confdir.to_string()
    } else {
        format!("{confdir}/filter.d")
    };
    let in_tree = !base.contains('/');
    for ext in ["", ".conf", ".local"] {
        let path = if in_tree {
            format!("{fdir}/{base}{ext}")
        } else {
            format!("{base}{ext}")
        };
        if Path::new(&path).is_file() {
            if in_tree {
                let stem = base
                    .strip_suffix(".conf")
                    .or_else(|| base.strip_suffix(".local"))
                    .unwrap_or(base);
                return Some((format!("{stem}{opts}"), true));
            }
            return Some((format!("{path}{opts}"), false));
        }
    }
    None
}

fn shortstr(s: &str) -> String {
    if s.chars().count() > 53 {
        let head: String = s.chars().take(50).collect();
        format!("{head}...")
    } else {
        s.to_string()
    }
}

/// Runs `fail2ban-regex` with `args` (without the program name); returns the exit code.
pub fn main(prog: &str, args: Vec<String>) -> i32 {
    let o = match args::parse_args(prog, &args) {
        Parsed::Run(o) => o,
        Parsed::Exit(c) => return c,
    };
    let mut w = Out::new();
    let code = run(&o, &mut w);
    w.flush();
    code
}

/// Buffered stdout that ends quietly on a broken pipe.
struct Out {
    inner: io::BufWriter<io::Stdout>,
    broken: bool,
}

impl Out {
    fn new() -> Self {
        Out {
            inner: io::BufWriter::with_capacity(1 << 16, io::stdout()),
            broken: false,
        }
    }
    fn line(&mut self, s: &str) {
        if !self.broken && writeln!(self.inner, "{s}").is_err() {
            self.broken = true;
        }
    }
    /// Writes text that already ends in newlines.
    fn raw(&mut self, s: &str) {
        if !self.broken && self.inner.write_all(s.as_bytes()).is_err() {
            self.broken = true;
        }
    }
    fn flush(&mut self) {
        if !self.broken && self.inner.flush().is_err() {
            self.broken = true;
        }
    }
}

/// `{'opt': 'value', …}` of the `[…]` options of a filter argument (Python dict repr:
/// a repeated key keeps its first place and takes the last value).
fn filter_options_repr(arg: &str) -> Option<String> {
    let (_, opts) = crate::config::options::extract_options(arg).ok()?;
    if opts.is_empty() {
        return None;
    }
    let mut dict: Vec<(Value, Value)> = Vec::new();
    for (k, v) in opts {
        match dict
            .iter_mut()
            .find(|(dk, _)| *dk == Value::str(k.as_str()))
        {
            Some(e) => e.1 = Value::str(v),
            None => dict.push((Value::str(k), Value::str(v))),
        }
    }
    Some(Value::Dict(dict).to_string())
}

/// `-vv`: the filter options in effect, as fail2ban shows them: `logtype` (the file
/// backend's `file` unless the filter argument names one), the filter's `datepattern`
/// if it has one, then every option of the filter argument.
fn real_options_repr(arg: &str, datepattern: Option<&str>) -> String {
    let opts = crate::config::options::extract_options(arg)
        .map(|(_, o)| o)
        .unwrap_or_default();
    let given = |k: &str| {
        opts.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let mut dict: Vec<(Value, Value)> = vec![(
        Value::str("logtype"),
        Value::str(given("logtype").unwrap_or_else(|| "file".into())),
    )];
    if let Some(dp) = given("datepattern").or(datepattern.map(str::to_string)) {
        dict.push((Value::str("datepattern"), Value::str(dp)));
    }
    for (k, v) in &opts {
        if !dict.iter().any(|(dk, _)| *dk == Value::str(k.as_str())) {
            let v = given(k).unwrap_or_else(|| v.clone());
            dict.push((Value::str(k.as_str()), Value::str(v)));
        }
    }
    Value::Dict(dict).to_string()
}

/// Where the lines come from: a file (streamed), argument text, or the journal.
enum Input {
    File(std::fs::File, crate::server::reader::Encoding),
    Text(Vec<String>),
    /// From its head, lines with their own time; the `String` is the log encoding.
    Journal(Box<crate::journal::ffi::Journal>, String),
}

/// A journal line's own (date text, time): no date detection for it.
type At<'a> = Option<(&'a str, f64)>;

/// `systemd-journal[opts]` opened with the match groups of `args` (`A + B`).
fn open_journal(log: &str, args: &[String]) -> Result<crate::journal::ffi::Journal, String> {
    use crate::journal::{follow, options::JournalOptions};
    let (_, opts) = JournalOptions::parse(log)?;
    let groups = if args.is_empty() {
        Vec::new()
    } else {
        follow::match_groups(args)
    };
    follow::open(&opts, &groups)
}

impl Input {
    /// Calls `f` with each line (without `\r\n`; blank and `#` lines skipped) until it
    /// returns false. File lines are read into one reused buffer and decoded in the log's
    /// encoding (borrowed when valid UTF-8, U+FFFD for invalid bytes); like fail2ban's file reader, which only hands
    /// out complete lines, a last line without `\n` is dropped.
    fn each_line(self, mut f: impl FnMut(&str, At) -> bool) {
        let mut visit = |raw: &str| log_line(raw).is_none_or(|line| f(line, None));
        match self {
            Input::Journal(mut j, enc) => {
                while let Ok(true) = j.next_entry() {
                    let Ok(e) = crate::journal::entry::Fields::read(&mut j) else {
                        continue;
                    };
                    let text = format!("{} ", crate::journal::entry::iso_time(e.time_usec()));
                    if !f(&e.line(&enc), Some((&text, e.time()))) {
                        return;
                    }
                }
            }
            Input::Text(ls) => {
                for l in &ls {
                    if !visit(l) {
                        return;
                    }
                }
            }
            Input::File(file, enc) => each_file_line(file, enc, visit),
        }
    }
}

/// A log line as fail2ban-regex tests it: without its `\r\n`; None for a blank or
/// `#` line (skipped).
fn log_line(raw: &str) -> Option<&str> {
    let line = raw.trim_end_matches(['\r', '\n']);
    (!line.is_empty() && !line.starts_with('#')).then_some(line)
}

/// One log line on its way to the matcher: with its journal time, or with what a
/// reader thread found for it ahead ([`par`]).
struct Step<'a> {
    line: &'a str,
    at: At<'a>,
    /// What was found ahead, and the batch's spans it refers to.
    ahead: Option<(Ahead, &'a [GroupSpan])>,
}

impl Step<'_> {
    fn process(self, m: &mut Matcher, now: f64) -> Vec<Failure> {
        match (self.at, self.ahead) {
            (Some((text, t)), _) => m.process_line_at(self.line, text, t, now, &SystemResolver),
            (None, Some((a, spans))) => m.process_ahead(self.line, a, spans, now, &SystemResolver),
            (None, None) => m.process_line(self.line, now, &SystemResolver),
        }
    }
}

/// Hands every line of `input` to `f` until it returns false: read and scanned on
/// threads ahead when `threads` gives them and the batch size (see [`par::plan`]), else
/// all on this thread. The scanner that saw the lines, if one did (the matcher adopts
/// its date detector).
fn drive(
    input: Input,
    threads: Option<(par::Workers, usize)>,
    now: f64,
    mut f: impl FnMut(Step) -> bool,
) -> Option<LineScanner> {
    if let (Input::File(file, enc), Some((ahead, batch))) = (&input, threads) {
        let step = |line: &str, ahead, spans: &[_]| {
            f(Step {
                line,
                at: None,
                ahead: Some((ahead, spans)),
            })
        };
        if let Ok(scanner) = par::run(file, *enc, ahead, batch, now, step) {
            return Some(scanner);
        }
    }
    input.each_line(|line, at| {
        f(Step {
            line,
            at,
            ahead: None,
        })
    });
    None
}

/// The complete lines of `file` (with their `\n`) to `visit` until it returns false.
/// Read in large blocks: a block's complete lines are validated as UTF-8 at once (a
/// `\n` never cuts a character, so each line of a valid block is valid); a block that
/// is not valid, or a log in another encoding, is decoded line by line.
fn each_file_line(
    mut file: std::fs::File,
    enc: crate::server::reader::Encoding,
    mut visit: impl FnMut(&str) -> bool,
) {
    use std::io::Read;
    let utf8 = enc == crate::server::reader::Encoding::Utf8;
    let mut buf = vec![0u8; 1 << 16];
    let mut end = 0;
    loop {
        let n = match file.read(&mut buf[end..]) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        // Only the new bytes can hold the block's last newline.
        let Some(nl) = memchr::memrchr(b'\n', &buf[end..end + n]).map(|p| end + p) else {
            end += n;
            if end == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            continue;
        };
        end += n;
        let block = &buf[..=nl];
        let valid = |b| {
            if utf8 {
                std::str::from_utf8(b).ok()
            } else {
                None
            }
        };
        match valid(block) {
            Some(text) => {
                let mut from = 0;
                for p in memchr::memchr_iter(b'\n', text.as_bytes()) {
                    if !visit(&text[from..=p]) {
                        return;
                    }
                    from = p + 1;
                }
            }
            None => {
                for raw in block.split_inclusive(|c| *c == b'\n') {
                    let ok = match valid(raw) {
                        Some(s) => visit(s),
                        None => visit(&enc.decode(raw).0),
                    };
                    if !ok {
                        return;
                    }
                }
            }
        }
        buf.copy_within(nl + 1..end, 0);
        end -= nl + 1;
    }
}

fn run(o: &Opts, w: &mut Out) -> i32 {
    let confdir = o.config.clone().unwrap_or_else(|| "/etc/fail2ban".into());
    let report = o.out.is_none();
    let mut header = Vec::new();
    // `-L` and `-d` are applied (and announced) before the filter is read; the filter's
    // own values only count when the command line left them unset.
    if let Some(n) = o.maxlines {
        header.push(format!("Use         maxlines : {n}"));
    }
    // The datepattern line names the detector built below; its place is kept here.
    let mut datepattern_at = None;
    if let Some(dp) = &o.datepattern {
        datepattern_at = Some((header.len(), dp.clone()));
        header.push(String::new());
    }
    let mut filter_maxlines = false;
    let mut filter_datepattern = None;
    let journal_log = o.args[0].starts_with("systemd-journal");
    let mut journalmatch: Option<Vec<String>> = None;
    let (mut spec, source) = match filter_candidate(&o.args[1], &confdir) {
        Some((name, in_tree)) => {
            let basedir = if confdir.ends_with("filter.d") {
                confdir
                    .trim_end_matches("filter.d")
                    .trim_end_matches('/')
                    .to_string()
            } else {
                confdir.clone()
            };
            let backend = if journal_log { "systemd" } else { "auto" };
            let def = match crate::config::read_filter(&FsSource, &basedir, &name, backend) {
                Ok(d) => d,
                Err(e) => {
                    w.line(&format!("ERROR: failed to load filter {}: {e}", o.args[1]));
                    return 255;
                }
            };
            let src = if in_tree {
                RegexSource::Filter {
                    name: o.args[1].clone(),
                    basedir,
                }
            } else {
                RegexSource::File(o.args[1].clone())
            };
            filter_maxlines = def.maxlines.is_some();
            // As fail2ban-regex, the filter's last journalmatch line counts.
            journalmatch = def.journalmatch.last().cloned();
            filter_datepattern = def.datepattern.clone();
            (MatcherSpec::from_def(&def), src)
        }
        None => (
            MatcherSpec {
                failregex: vec![o.args[1].clone()],
                maxlines: 1,
                ..MatcherSpec::default()
            },
            RegexSource::Literal(o.args[1].clone()),
        ),
    };
    match &source {
        RegexSource::Filter { name, basedir } => {
            let base = name.split('[').next().unwrap_or(name);
            header.push(format!(
                "Use   failregex filter file : {base}, basedir: {basedir}"
            ));
        }
        RegexSource::File(p) => {
            let base = p.split('[').next().unwrap_or(p);
            header.push(format!("Use   failregex file : {base}"));
        }
        RegexSource::Literal(r) => header.push(format!("Use   failregex line : {}", shortstr(r))),
    }
    if !matches!(source, RegexSource::Literal(_))
        && let Some(opts) = filter_options_repr(&o.args[1])
    {
        header.push(format!("Use   filter options : {opts}"));
    }
    if o.verbose > 1 && !matches!(source, RegexSource::Literal(_)) {
        let real = real_options_repr(&o.args[1], filter_datepattern.as_deref());
        header.push(format!("Real  filter options : {real}"));
    }
    if let Some(n) = o.maxlines {
        spec.maxlines = n.max(1);
    } else if filter_maxlines {
        header.push(format!("Use         maxlines : {}", spec.maxlines));
    }
    if o.datepattern.is_some() {
        spec.datepattern = o.datepattern.clone();
    } else if let Some(dp) = &filter_datepattern {
        datepattern_at = Some((header.len(), dp.clone()));
        header.push(String::new());
    }
    let ignore_line = header.len();
    if let Some(ig) = o.args.get(2) {
        spec.ignoreregex = vec![ig.clone()];
        header.push(format!("Use ignoreregex line : {}", shortstr(ig)));
    }
    if let Some(u) = &o.usedns {
        spec.usedns = UseDns::parse(u).unwrap_or(UseDns::No);
    }
    spec.logtimezone = o.timezone.clone();
    let mut m = match Matcher::new(&spec) {
        Ok(m) => m,
        Err(e) => {
            // fail2ban fails while reading the regexes: the header lines printed so far
            // (up to the failregex or the ignoreregex) come first.
            let (msg, upto) = match &e {
                SpecError::Fail(_, r) | SpecError::Pref(r) => (r.to_string(), ignore_line),
                SpecError::Ignore(_, r) => (r.to_string(), header.len()),
                SpecError::Date(d) => (d.to_string(), header.len()),
            };
            if let Some((i, dp)) = &datepattern_at {
                let year = chrono::Datelike::year(&chrono::Local::now());
                let name = DateDetector::with_options(Some(dp), year, Arc::new(SystemZone))
                    .map_or_else(|_| "Default Detectors".to_string(), |d| d.describe().1);
                header[*i] = format!("Use      datepattern : {dp} : {name}");
            }
            if report {
                w.line("");
                w.line("Running tests");
                w.line("=============");
                w.line("");
                for h in &header[..upto.min(header.len())] {
                    w.line(h);
                }
            }
            w.line(&format!("ERROR: {msg}"));
            return 255;
        }
    };
    if let Some((i, dp)) = datepattern_at {
        // fail2ban names the detector after its template when there are one or two.
        let name = m.date_detector().describe().1;
        header[i] = format!("Use      datepattern : {dp} : {name}");
    }
    m.raw_host = o.raw;
    m.check_all = o.check_all && o.out.is_none();
    m.ignore_pending = o.out.is_some();
    let encoding = o.encoding.clone().unwrap_or_else(|| "UTF-8".into());
    let log = &o.args[0];
    let input = if Path::new(log).is_file() {
        header.push(format!("Use         log file : {log}"));
        header.push(format!("Use         encoding : {encoding}"));
        let enc = match crate::server::reader::Encoding::lookup(&encoding) {
            Ok(e) => e,
            Err(e) => {
                w.line(&format!("ERROR: {e}"));
                return 255;
            }
        };
        match std::fs::File::open(log) {
            Ok(file) => Input::File(file, enc),
            Err(e) => {
                w.line(&format!("{e}"));
                return 255;
            }
        }
    } else if journal_log {
        if let Some(m) = &o.journalmatch {
            match crate::config::options::shlex_split(m) {
                Ok(v) => journalmatch = Some(v),
                Err(e) => {
                    w.line(&format!("ERROR: {e}"));
                    return 255;
                }
            }
        }
        match open_journal(log, journalmatch.as_deref().unwrap_or(&[])) {
            Ok(j) => {
                header.push("Use         systemd journal".into());
                header.push(format!("Use         encoding : {encoding}"));
                if let Some(m) = journalmatch.as_ref().filter(|m| !m.is_empty()) {
                    header.push(format!("Use    journal match : {}", m.join(" ")));
                }
                Input::Journal(Box::new(j), encoding.clone())
            }
            Err(e) => {
                w.line(&format!("ERROR: {e}"));
                return 255;
            }
        }
    } else if spec.maxlines <= 1 && !log.contains('\n') {
        header.push(format!(
            "Use      single line : {}",
            shortstr(&log.replace('\n', "\\n"))
        ));
        Input::Text(vec![log.clone()])
    } else {
        let ls: Vec<String> = log.split('\n').map(str::to_string).collect();
        header.push(format!("Use      multi line : {} line(s)", ls.len()));
        for (i, l) in ls.iter().enumerate() {
            if i >= 5 {
                header.push("| ...".into());
                break;
            }
            let n: String = (i + 1).to_string().chars().take(2).collect();
            header.push(format!("| {n:>2}: {}", shortstr(l)));
        }
        header.push("`-".into());
        Input::Text(ls)
    };
    if report {
        w.line("");
        w.line("Running tests");
        w.line("=============");
        w.line("");
        for h in &header {
            w.line(h);
        }
        w.line("");
    }
    let started = std::time::Instant::now();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let threads = match &input {
        Input::File(file, _) => par::plan(file, &m).map(|batch| {
            let ahead = par::Workers {
                scanner: m.line_scanner(),
                searcher: m.line_searcher(),
            };
            (ahead, batch)
        }),
        _ => None,
    };
    match &o.out {
        Some(fmt) => {
            print_failures(fmt, &spec, &mut m, (input, threads), now, w);
            0
        }
        None => {
            let mut pref = report::PrefProbe::new(&spec, o.verbose > 0, o.maxlines.unwrap_or(20));
            let mut stats = report::Stats::new(m.failregex_count(), &spec, o);
            let scanner = drive(input, threads, now, |step| {
                let prev = if pref.is_some() && spec.maxlines > 1 {
                    m.buffered_lines()
                } else {
                    Vec::new()
                };
                let (line, at) = (step.line, step.at);
                let found = step.process(&mut m, now);
                let raw = line;
                let whole;
                let line = match at {
                    Some((text, _)) => {
                        whole = format!("{text}{line}");
                        whole.as_str()
                    }
                    None => line,
                };
                if let Some(p) = pref.as_mut() {
                    p.add(&prev, raw, now, &m);
                }
                stats.add(line, &found, m.report.ignored);
                true
            });
            if let Some(sc) = scanner {
                m.adopt_scanner(sc);
            }
            let elapsed = started.elapsed().as_secs_f64();
            stats.print(w, pref.as_ref(), &spec, &mut m, elapsed, o);
            0
        }
    }
}

/// The `-o` loop: the failures of each line in format `fmt`, one output buffer reused.
fn print_failures(
    fmt: &str,
    spec: &MatcherSpec,
    m: &mut Matcher,
    (input, threads): (Input, Option<(par::Workers, usize)>),
    now: f64,
    w: &mut Out,
) {
    // The zone probe costs two more date detections: only for formats showing the time,
    // and only on lines that print something.
    let mut probe = out::shows_time(fmt)
        .then(|| zone::ZoneProbe::new(spec.datepattern.as_deref(), spec.logtimezone.as_deref()))
        .flatten();
    // `-o matches` splits each matched line around its date, as fail2ban stores it.
    let mut dates = (fmt == "matches")
        .then(|| {
            let year = chrono::Datelike::year(&chrono::Local::now());
            let mut d =
                DateDetector::with_options(spec.datepattern.as_deref(), year, Arc::new(SystemZone))
                    .ok()?;
            d.set_logtimezone(spec.logtimezone.as_deref()).ok()?;
            Some(d)
        })
        .flatten();
    let mut buf = String::new();
    let scanner = drive(input, threads, now, |step| {
        let (line, at) = (step.line, step.at);
        let found = step.process(m, now);
        // fail2ban prints nothing for a line an ignoreregex or a no-failure match hit.
        if found.is_empty()
            || m.report.ignored.is_some()
            || found.iter().any(|f| f.data.nofail())
            || !found.iter().any(|f| f.is_failure())
        {
            return true;
        }
        let int_time = probe.as_mut().is_some_and(|p| p.int_time(line, now));
        buf.clear();
        for f in found.iter().filter(|f| f.is_failure()) {
            match dates.as_mut() {
                // A journal line's date part is its own time text.
                Some(_) if at.is_some() => {
                    let text = at.map_or("", |(t, _)| t);
                    let mut span = |l: &str| l.starts_with(text).then_some((0, text.len()));
                    buf.push_str(&out::matches_repr(f, &mut span));
                    buf.push('\n');
                }
                Some(d) => {
                    let mut span = |l: &str| d.match_time(l, now).map(|m| m.span);
                    buf.push_str(&out::matches_repr(f, &mut span));
                    buf.push('\n');
                }
                None => out::format_failure(fmt, f, int_time, &mut buf),
            }
        }
        w.raw(&buf);
        !w.broken
    });
    if let Some(sc) = scanner {
        m.adopt_scanner(sc);
    }
}

/// Host names in failures are looked up like fail2ban does (`usedns` yes/warn) through
/// the system resolver; unique addresses in resolver order.
struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str, use_dns: UseDns) -> Vec<crate::filter::addr::IpAddr> {
        use std::net::ToSocketAddrs;
        if !use_dns.host_with_dns() {
            return Vec::new();
        }
        let mut out: Vec<crate::filter::addr::IpAddr> = Vec::new();
        let mut seen = Vec::new();
        if let Ok(addrs) = (host, 0).to_socket_addrs() {
            for a in addrs {
                let ip = a.ip();
                if !seen.contains(&ip) {
                    seen.push(ip);
                    if let Ok(p) = crate::filter::addr::IpAddr::parse(&ip.to_string()) {
                        out.push(p);
                    }
                }
            }
        }
        out
    }
}
