//! Command line of `fail2ban-regex`: optparse-like parsing into [`Opts`], the help text
//! (fail2ban's layout — usage line, argument sections, one optparse row per option — in
//! gaol's own words) and the usage errors with fail2ban's exit codes.

use std::io::{self, Write};

pub const VERSION: &str = "1.0.2";

/// Parsed command line.
#[derive(Debug, Default)]
pub struct Opts {
    pub config: Option<String>,
    pub datepattern: Option<String>,
    pub timezone: Option<String>,
    pub encoding: Option<String>,
    pub raw: bool,
    pub usedns: Option<String>,
    pub maxlines: Option<usize>,
    pub out: Option<String>,
    pub verbose: u32,
    pub verbose_date: bool,
    /// `-D`: debuggex.com links after each listed line.
    pub debuggex: bool,
    pub check_all: bool,
    pub print_all_matched: bool,
    pub print_all_missed: bool,
    pub print_all_ignored: bool,
    pub print_no_missed: bool,
    pub print_no_ignored: bool,
    /// `-m`: journal matches replacing the filter's (shell-split).
    pub journalmatch: Option<String>,
    pub args: Vec<String>,
}

pub enum Parsed {
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

/// The program path as Python's `sys.argv[0]` shows it: the invoked path, or the `PATH`
/// entry the shell found for a bare name.
pub fn prog_path(prog: &str) -> String {
    let argv0 = std::env::args().next().unwrap_or_default();
    if !prog.starts_with("fail2ban-regex") {
        return prog.to_string();
    }
    if argv0.contains('/') {
        return argv0;
    }
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(&argv0))
                .find(|f| f.is_file())
        })
        .map_or(argv0, |f| f.to_string_lossy().into_owned())
}

fn usage(prog: &str) -> String {
    format!("Usage: {prog} [OPTIONS] <LOG> <REGEX> [IGNOREREGEX]\n")
}

/// One optparse help row: the option column padded to 24, the text wrapped at 79.
fn row(out: &mut String, opts: &str, text: &str) {
    const COL: usize = 24;
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        if !cur.is_empty() && COL + cur.len() + 1 + word.len() > 79 {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    lines.push(cur);
    if opts.len() + 2 <= COL - 2 {
        out.push_str(&format!("  {opts:<w$}{}\n", lines[0], w = COL - 2));
    } else {
        out.push_str(&format!("  {opts}\n{:COL$}{}\n", "", lines[0]));
    }
    for l in &lines[1..] {
        out.push_str(&format!("{:COL$}{l}\n", ""));
    }
}

pub fn help(prog: &str) -> String {
    let mut s = usage(prog);
    s.push_str(
        "\ngaol's fail2ban-regex: runs a filter (or failregex/ignoreregex lines) over a\n\
         log and reports what fail2ban would find in it.\n\n\
         LOG:\n  string                one log line given as text\n  \
         filename              a log file to read (/var/log/auth.log)\n  \
         systemd-journal       the systemd journal, optionally with backend\n                        \
         parameters (systemd-journal[journalflags=1])\n\n\
         REGEX:\n  string                a failregex given as text\n  \
         filter                a filter name, optionally with options\n                        \
         (sshd[mode=aggressive])\n  \
         filename              a filter file (filter.d/sshd.conf)\n\n\
         IGNOREREGEX:\n  string                an ignoreregex given as text\n  \
         filename              a filter file (filter.d/sshd.conf)\n\n\nOptions:\n",
    );
    let rows: &[(&str, &str)] = &[
        ("--version", "print the program's version and exit"),
        ("-h, --help", "print this help and exit"),
        (
            "-c CONFIG, --config=CONFIG",
            "configuration directory to use",
        ),
        (
            "-d DATEPATTERN, --datepattern=DATEPATTERN",
            "date pattern to use instead of the filter's",
        ),
        (
            "--timezone=TIMEZONE, --TZ=TIMEZONE",
            "time zone of dates without one",
        ),
        (
            "-e ENCODING, --encoding=ENCODING",
            "encoding of the log file (default: the locale's)",
        ),
        ("-r, --raw", "keep host names as they are, no DNS lookups"),
        (
            "--usedns=USEDNS",
            "how <HOST> matches and host names resolve: yes, warn, no or raw",
        ),
        (
            "-L MAXLINES, --maxlines=MAXLINES",
            "number of lines buffered for multi-line regexes",
        ),
        (
            "-m JOURNALMATCH, --journalmatch=JOURNALMATCH",
            "journal matches replacing the filter's (systemd-journal only)",
        ),
        (
            "-l LOG_LEVEL, --log-level=LOG_LEVEL",
            "level of the tool's own log messages",
        ),
        ("-V", "print the short version number and exit"),
        ("-v, --verbose", "more detail (repeat for even more)"),
        ("--verbosity=VERBOSE", "detail level as a number (0..4)"),
        (
            "--verbose-date, --VD",
            "show the weight, pattern and regex of each date template",
        ),
        (
            "-D, --debuggex",
            "add debuggex.com links for the listed lines",
        ),
        (
            "--no-check-all",
            "stop at the first failregex that matches a line",
        ),
        (
            "-o OUT, --out=OUT",
            "print only this about each failure (row, id, ip, msg, host, ip4, ip6, dns, matches, or a template with <tags>)",
        ),
        ("--print-no-missed", "never list the missed lines"),
        ("--print-no-ignored", "never list the ignored lines"),
        ("--print-all-matched", "list every matched line"),
        (
            "--print-all-missed",
            "list every missed line, however many there are",
        ),
        (
            "--print-all-ignored",
            "list every ignored line, however many there are",
        ),
        (
            "-t, --log-traceback",
            "add short tracebacks to log messages",
        ),
        (
            "--full-traceback",
            "add full tracebacks to log messages (with -t)",
        ),
    ];
    for (o, t) in rows {
        row(&mut s, o, t);
    }
    s.push_str("\n\nReport problems with gaol to its maintainers.\n\n");
    s
}

fn usage_error(prog: &str, msg: &str) -> Parsed {
    eprint!("{}\n{prog}: error: {msg}\n", usage(&prog_path(prog)));
    Parsed::Exit(2)
}

/// optparse-like parsing: options anywhere, `--opt=v`, `-ov`, `--` ends options.
pub fn parse_args(prog: &str, args: &[String]) -> Parsed {
    let mut args = args.to_vec();
    let mut o = Opts {
        check_all: true,
        ..Opts::default()
    };
    let mut i = 0;
    let mut only_pos = false;
    while i < args.len() {
        let a = args[i].clone();
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
        } else if a.len() > 2 && a.is_char_boundary(2) && takes_value(&a[..2]) {
            (a[..2].to_string(), Some(a[2..].to_string()))
        } else if a.len() > 2 && a.is_char_boundary(2) {
            // Clustered flags (`-vv`, `-vD`): the first now, the rest as the next word.
            args.insert(i, format!("-{}", &a[2..]));
            (a[..2].to_string(), None)
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
                None => return usage_error(prog, &format!("{name} option requires 1 argument")),
            }
        } else {
            None
        };
        let v = value.unwrap_or_default();
        match name.as_str() {
            "-h" | "--help" => {
                print!("{}", help(&prog_path(prog)));
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
            "-L" | "--maxlines" | "--verbosity" => match v.trim().parse::<i64>() {
                Ok(n) if name == "--verbosity" => o.verbose = n.clamp(0, 9) as u32,
                Ok(n) => o.maxlines = (n != 0).then_some(n.max(1) as usize),
                Err(_) => {
                    return usage_error(
                        prog,
                        &format!("option {name}: invalid integer value: '{v}'"),
                    );
                }
            },
            "-o" | "--out" => o.out = Some(v),
            "-v" | "--verbose" => o.verbose += 1,
            "--VD" | "--verbose-date" => o.verbose_date = true,
            "--no-check-all" => o.check_all = false,
            "--print-all-matched" => o.print_all_matched = true,
            "--print-all-missed" => o.print_all_missed = true,
            "--print-all-ignored" => o.print_all_ignored = true,
            "--print-no-missed" => o.print_no_missed = true,
            "--print-no-ignored" => o.print_no_ignored = true,
            "-D" | "--debuggex" => o.debuggex = true,
            // Accepted for compatibility; they only change diagnostics gaol does not print.
            "-m" | "--journalmatch" => o.journalmatch = Some(v),
            "-l" | "--log-level" | "-t" | "--log-traceback" | "--full-traceback" => {}
            _ => return usage_error(prog, &format!("no such option: {name}")),
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
        print!("{}", help(&prog_path(prog)));
        let _ = io::stdout().flush();
        eprintln!("\n{}", errors.join("\n"));
        return Parsed::Exit(255);
    }
    Parsed::Run(Box::new(o))
}
