//! `fail2ban-regex`: tests a filter (or literal regexes) against a log file or a line.
//!
//! Flow: [`parse_args`] → [`Opts`] → the failregex/ignoreregex source is resolved
//! ([`resolve_regex`]: filter name, filter file, or literal) into a `MatcherSpec` → each
//! log line (file or argument text; blank and `#` lines skipped) goes through
//! `filter::matcher::Matcher` → either `-o` output lines ([`out`]) or the summary report.

mod out;
mod zone;

use std::io::{self, Write};
use std::path::Path;

use crate::config::files::FsSource;
use crate::filter::addr::UseDns;
use crate::filter::matcher::{Matcher, MatcherSpec, Resolver};

const VERSION: &str = "1.0.2";

/// Parsed command line.
#[derive(Debug, Default)]
struct Opts {
    config: Option<String>,
    datepattern: Option<String>,
    timezone: Option<String>,
    encoding: Option<String>,
    raw: bool,
    usedns: Option<String>,
    maxlines: Option<usize>,
    out: Option<String>,
    check_all: bool,
    print_all_matched: bool,
    print_all_missed: bool,
    print_all_ignored: bool,
    print_no_missed: bool,
    print_no_ignored: bool,
    args: Vec<String>,
}

enum Parsed {
    Run(Box<Opts>),
    Exit(i32),
}

/// Options taking a value (long and short spellings).
fn takes_value(name: &str) -> bool {
    matches!(
        name,
        "-c" | "--config"
            | "-d"
            | "--datepattern"
            | "--timezone"
            | "--TZ"
            | "-e"
            | "--encoding"
            | "--usedns"
            | "-L"
            | "--maxlines"
            | "-m"
            | "--journalmatch"
            | "-l"
            | "--log-level"
            | "--verbosity"
            | "-o"
            | "--out"
    )
}

fn usage(prog: &str) -> String {
    format!("Usage: {prog} [OPTIONS] <LOG> <REGEX> [IGNOREREGEX]\n")
}

fn help(prog: &str) -> String {
    format!(
        "{}\nfail2ban-regex {VERSION} compatible: tests a filter or regexes against a log.\n\n\
LOG:\n  a log file path, a systemd-journal spec, or a line of text\n\n\
REGEX:\n  a failregex, a filter name (optionally with [options]) or a filter file path\n\n\
IGNOREREGEX:\n  an ignoreregex\n\n\
Options:\n  -c, --config DIR, -d, --datepattern P, --timezone TZ, -e, --encoding ENC,\n  \
-r, --raw, --usedns MODE, -L, --maxlines N, -m, --journalmatch M,\n  \
-l, --log-level L, -v, --verbose, --verbosity N, --VD, --verbose-date, -D, --debuggex,\n  \
--no-check-all, -o, --out FMT, --print-no-missed, --print-no-ignored,\n  \
--print-all-matched, --print-all-missed, --print-all-ignored,\n  \
-t, --log-traceback, --full-traceback, -V, --version, -h, --help\n",
        usage(prog)
    )
}

/// optparse-like parsing: options anywhere, `--opt=v`, `-ov`, `--` ends options.
fn parse_args(prog: &str, args: &[String]) -> Parsed {
    let mut o = Opts {
        check_all: true,
        ..Opts::default()
    };
    let mut i = 0;
    let mut only_pos = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_pos || a == "-" || !a.starts_with('-') {
            o.args.push(a.clone());
            continue;
        }
        if a == "--" {
            only_pos = true;
            continue;
        }
        let (name, inline) = if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (format!("--{n}"), Some(v.to_string())),
                None => (a.clone(), None),
            }
        } else if a.len() > 2 && takes_value(&a[..2]) {
            (a[..2].to_string(), Some(a[2..].to_string()))
        } else {
            (a.clone(), None)
        };
        let value = if takes_value(&name) {
            match inline {
                Some(v) => Some(v),
                None if i < args.len() => {
                    i += 1;
                    Some(args[i - 1].clone())
                }
                None => {
                    eprint!("{}", usage(prog));
                    eprintln!("{prog}: error: {name} option requires 1 argument");
                    return Parsed::Exit(2);
                }
            }
        } else {
            None
        };
        let v = value.unwrap_or_default();
        match name.as_str() {
            "-h" | "--help" => {
                print!("{}", help(prog));
                return Parsed::Exit(0);
            }
            "-V" => {
                println!("{VERSION}");
                return Parsed::Exit(0);
            }
            "--version" => {
                println!("fail2ban-regex {VERSION}");
                return Parsed::Exit(0);
            }
            "-c" | "--config" => o.config = Some(v),
            "-d" | "--datepattern" => o.datepattern = Some(v),
            "--timezone" | "--TZ" => o.timezone = Some(v),
            "-e" | "--encoding" => o.encoding = Some(v),
            "-r" | "--raw" => o.raw = true,
            "--usedns" => o.usedns = Some(v),
            "-L" | "--maxlines" => match v.trim().parse::<usize>() {
                Ok(n) => o.maxlines = Some(n),
                Err(_) => {
                    eprint!("{}", usage(prog));
                    eprintln!("{prog}: error: option {name}: invalid integer value: '{v}'");
                    return Parsed::Exit(2);
                }
            },
            "-o" | "--out" => o.out = Some(v),
            "--no-check-all" => o.check_all = false,
            "--print-all-matched" => o.print_all_matched = true,
            "--print-all-missed" => o.print_all_missed = true,
            "--print-all-ignored" => o.print_all_ignored = true,
            "--print-no-missed" => o.print_no_missed = true,
            "--print-no-ignored" => o.print_no_ignored = true,
            // Accepted for compatibility; they only change diagnostics gaol does not print.
            "-m" | "--journalmatch" | "-l" | "--log-level" | "--verbosity" | "-v" | "--verbose"
            | "--VD" | "--verbose-date" | "-D" | "--debuggex" | "-t" | "--log-traceback"
            | "--full-traceback" => {}
            _ => {
                eprint!("{}", usage(prog));
                eprintln!("{prog}: error: no such option: {name}");
                return Parsed::Exit(2);
            }
        }
    }
    let mut errors = Vec::new();
    if o.print_no_missed && o.print_all_missed {
        errors.push("ERROR: --print-no-missed and --print-all-missed are mutually exclusive.");
    }
    if o.print_no_ignored && o.print_all_ignored {
        errors.push("ERROR: --print-no-ignored and --print-all-ignored are mutually exclusive.");
    }
    if !(2..=3).contains(&o.args.len()) {
        errors.push("ERROR: provide both <LOG> and <REGEX>.");
    }
    if !errors.is_empty() {
        print!("{}", help(prog));
        let _ = io::stdout().flush();
        eprintln!("\n{}", errors.join("\n"));
        return Parsed::Exit(255);
    }
    Parsed::Run(Box::new(o))
}

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
    let o = match parse_args(prog, &args) {
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
            inner: io::BufWriter::new(io::stdout()),
            broken: false,
        }
    }
    fn line(&mut self, s: &str) {
        if !self.broken && writeln!(self.inner, "{s}").is_err() {
            self.broken = true;
        }
    }
    fn flush(&mut self) {
        if !self.broken && self.inner.flush().is_err() {
            self.broken = true;
        }
    }
}

fn run(o: &Opts, w: &mut Out) -> i32 {
    let confdir = o.config.clone().unwrap_or_else(|| "/etc/fail2ban".into());
    let report = o.out.is_none();
    let mut header = Vec::new();
    let mut maxlines_set = o.maxlines.is_some();
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
            let def = match crate::config::read_filter(&FsSource, &basedir, &name, "auto") {
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
            maxlines_set |= def.maxlines.is_some();
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
        RegexSource::File(p) => header.push(format!("Use   failregex file : {p}")),
        RegexSource::Literal(r) => header.push(format!("Use   failregex line : {}", shortstr(r))),
    }
    if let Some(ig) = o.args.get(2) {
        spec.ignoreregex = vec![ig.clone()];
        header.push(format!("Use ignoreregex line : {}", shortstr(ig)));
    }
    if let Some(n) = o.maxlines {
        spec.maxlines = n.max(1);
    }
    if o.datepattern.is_some() {
        spec.datepattern = o.datepattern.clone();
    }
    if let Some(u) = &o.usedns {
        spec.usedns = UseDns::parse(u).unwrap_or(UseDns::No);
    }
    spec.logtimezone = o.timezone.clone();
    if maxlines_set {
        header.push(format!("Use         maxlines : {}", spec.maxlines));
    }
    let mut m = match Matcher::new(&spec) {
        Ok(m) => m,
        Err(e) => {
            w.line(&format!("ERROR: {e}"));
            return 255;
        }
    };
    if let Some(dp) = &spec.datepattern {
        // fail2ban names the detector after its template when there are one or two.
        let stats = m.date_detector().template_stats();
        let name = match stats.first() {
            Some(t) if stats.len() <= 2 => t.name.to_string(),
            _ => "Default Detectors".to_string(),
        };
        header.push(format!("Use      datepattern : {dp} : {name}"));
    }
    m.raw_host = o.raw;
    m.check_all = o.check_all && o.out.is_none();
    m.ignore_pending = o.out.is_some();
    let encoding = o.encoding.clone().unwrap_or_else(|| "UTF-8".into());
    let log = &o.args[0];
    let lines: Vec<String> = if Path::new(log).is_file() {
        header.push(format!("Use         log file : {log}"));
        header.push(format!("Use         encoding : {encoding}"));
        let enc = match crate::server::reader::Encoding::lookup(&encoding) {
            Ok(e) => e,
            Err(e) => {
                w.line(&format!("ERROR: {e}"));
                return 255;
            }
        };
        match std::fs::read(log) {
            Ok(bytes) => crate::server::reader::decode::split_lines(&bytes, enc),
            Err(e) => {
                w.line(&format!("{e}"));
                return 255;
            }
        }
    } else if spec.maxlines <= 1 && !log.contains('\n') {
        header.push(format!(
            "Use      single line : {}",
            shortstr(&log.replace('\n', "\\n"))
        ));
        vec![log.clone()]
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
        ls
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
    let mut probe = o.out.as_ref().and_then(|_| {
        zone::ZoneProbe::new(spec.datepattern.as_deref(), spec.logtimezone.as_deref())
    });
    let mut pref = if report {
        report::PrefProbe::new(&spec)
    } else {
        None
    };
    let mut stats = report::Stats::new(m.failregex_count(), spec.ignoreregex.len());
    for line in &lines {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let int_time = probe.as_mut().is_some_and(|p| p.int_time(line, now));
        let found = m.process_line(line, now, &SystemResolver);
        if let Some(fmt) = &o.out {
            if m.report.ignored.is_some() {
                continue;
            }
            for f in found.iter().filter(|f| f.is_failure()) {
                for l in out::format_failure(fmt, f, int_time) {
                    w.line(&l);
                }
            }
            if w.broken {
                return 0;
            }
        } else {
            if let Some(p) = pref.as_mut() {
                p.add(line, now, m.report.ignored.is_some());
            }
            stats.add(line, &found, m.report.ignored);
        }
    }
    if report {
        let elapsed = started.elapsed().as_secs_f64();
        let limit = o.maxlines.unwrap_or(20);
        stats.print(w, pref.as_ref(), &spec, &mut m, elapsed, limit, o);
    }
    0
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

mod report;
