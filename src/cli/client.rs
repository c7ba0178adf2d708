//! `fail2ban-client`: getopt-style arguments ([`ClientArgs::parse`]), `-d`/`--dp` (dump
//! the command stream), `-t` (test the configuration), then the socket commands and the
//! interactive prompt ([`ops::Client`]). Messages go to stderr in fail2ban's format
//! ([`Logger`]); replies are printed on stdout.

mod ops;
pub use ops::shlex_split;

use crate::config::{self, Level, Source, StreamOptions};
use crate::stream::{Command, Value};

/// The parsed command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientArgs {
    pub conf: Option<String>,
    pub socket: Option<String>,
    pub pidfile: Option<String>,
    pub loglevel: Option<String>,
    pub logtarget: Option<String>,
    pub syslogsocket: Option<String>,
    /// 0: no dump, 1: `-d`, 2: `--dp`.
    pub dump: u8,
    pub test: bool,
    pub verbose: i32,
    pub force: bool,
    pub interactive: bool,
    pub background: bool,
    pub help: bool,
    /// `Some(short)` for `-V` (short) / `--version`.
    pub version: Option<bool>,
    pub str2sec: Option<String>,
    pub timeout: Option<String>,
    pub pname: Option<String>,
    pub is_async: bool,
    /// The command words after the options.
    pub command: Vec<String>,
}

impl ClientArgs {
    /// Parses like Python's `getopt.getopt` with fail2ban-client's option set (options
    /// stop at the first non-option word).
    pub fn parse(args: &[String]) -> Result<ClientArgs, String> {
        let mut a = ClientArgs {
            verbose: 1,
            background: true,
            ..Default::default()
        };
        let mut i = 0;
        let longs_with_arg = [
            "loglevel",
            "logtarget",
            "syslogsocket",
            "conf",
            "pidfile",
            "pname",
            "socket",
            "timeout",
            "str2sec",
        ];
        let longs_flag = ["test", "async", "help", "version", "dp", "dump-pretty"];
        while i < args.len() {
            let arg = &args[i];
            if arg == "--" {
                i += 1;
                break;
            }
            if let Some(long) = arg.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (long, None),
                };
                // getopt accepts unique prefixes of long options
                let all: Vec<&str> = longs_with_arg
                    .iter()
                    .chain(longs_flag.iter())
                    .copied()
                    .collect();
                let matches: Vec<&str> = if all.contains(&name) {
                    vec![name]
                } else {
                    all.iter()
                        .copied()
                        .filter(|o| o.starts_with(name))
                        .collect()
                };
                let [opt] = matches.as_slice() else {
                    return Err(format!("option --{name} not recognized"));
                };
                if longs_with_arg.contains(opt) {
                    let val = match inline {
                        Some(v) => v,
                        None => {
                            i += 1;
                            args.get(i)
                                .cloned()
                                .ok_or(format!("option --{opt} requires argument"))?
                        }
                    };
                    match *opt {
                        "loglevel" => a.loglevel = Some(val),
                        "logtarget" => a.logtarget = Some(val),
                        "syslogsocket" => a.syslogsocket = Some(val),
                        "conf" => a.conf = Some(val),
                        "pidfile" => a.pidfile = Some(val),
                        "socket" => a.socket = Some(val),
                        "pname" => a.pname = Some(val),
                        "timeout" => a.timeout = Some(val),
                        _ => {
                            a.str2sec = Some(val);
                            i += 1;
                            break;
                        }
                    }
                } else {
                    if inline.is_some() {
                        return Err(format!("option --{opt} must not have an argument"));
                    }
                    match *opt {
                        "test" => a.test = true,
                        "async" => a.is_async = true,
                        "help" => {
                            a.help = true;
                            break;
                        }
                        "version" => {
                            a.version = Some(false);
                            break;
                        }
                        _ => a.dump = 2,
                    }
                }
                i += 1;
                continue;
            }
            if arg.len() > 1 && arg.starts_with('-') {
                let chars: Vec<char> = arg[1..].chars().collect();
                let mut j = 0;
                let mut stop = false;
                while j < chars.len() {
                    let c = chars[j];
                    match c {
                        'c' | 's' | 'p' => {
                            let rest: String = chars[j + 1..].iter().collect();
                            let val = if !rest.is_empty() {
                                rest
                            } else {
                                i += 1;
                                args.get(i)
                                    .cloned()
                                    .ok_or(format!("option -{c} requires argument"))?
                            };
                            match c {
                                'c' => a.conf = Some(val),
                                's' => a.socket = Some(val),
                                _ => a.pidfile = Some(val),
                            }
                            j = chars.len();
                            continue;
                        }
                        'h' => {
                            a.help = true;
                            stop = true;
                        }
                        'V' => {
                            a.version = Some(true);
                            stop = true;
                        }
                        'x' => a.force = true,
                        'f' => a.background = false,
                        'b' => a.background = true,
                        'd' => a.dump = 1,
                        't' => a.test = true,
                        'v' => a.verbose += 1,
                        'q' => a.verbose -= 1,
                        'i' => a.interactive = true,
                        _ => return Err(format!("option -{c} not recognized")),
                    }
                    if stop {
                        break;
                    }
                    j += 1;
                }
                if stop {
                    return Ok(a);
                }
                i += 1;
                continue;
            }
            break;
        }
        a.command = args[i.min(args.len())..].to_vec();
        Ok(a)
    }
}

fn usage(prog: &str) -> String {
    format!(
        "Usage: {prog} [OPTIONS] <COMMAND>\n\n\
gaol (fail2ban {v} compatible) reads log files that contain password failure reports\n\
and bans the corresponding IP addresses using firewall rules.\n\n\
Options:\n\
    -c, --conf <DIR>        configuration directory\n\
    -s, --socket <FILE>     socket path\n\
    -p, --pidfile <FILE>    pidfile path\n\
    --loglevel <LEVEL>      logging level\n\
    --logtarget <TARGET>    logging target\n\
    --syslogsocket auto|<FILE>\n\
    -d                      dump configuration. For debugging\n\
    --dp, --dump-pretty     dump the configuration using more human readable representation\n\
    -t, --test              test configuration\n\
    -v / -q                 increase / decrease verbosity\n\
    -x, -b, -f, -i          server start options (not implemented yet)\n\
    --str2sec <STRING>      convert time abbreviation format to seconds\n\
    -h, --help              display this help message\n\
    -V, --version           print the version\n",
        v = config::FAIL2BAN_VERSION
    )
}

/// When the client started (the `-vvv` log lines count milliseconds from it).
static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The client's stderr logger: fail2ban's line format for its verbosity.
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    pub verbose: i32,
}

impl Logger {
    /// The lowest level shown: `-q` errors only, default warnings, `-v` info, …
    fn threshold(&self) -> u8 {
        match self.verbose {
            i32::MIN..=0 => 40,
            1 => 30,
            2 => 20,
            3 => 10,
            _ => 5,
        }
    }

    pub fn emit(&self, level: u8, logger: &str, msg: &str) {
        if level < self.threshold() {
            return;
        }
        let name = crate::server::log::LogLevel(level).name();
        let ts = chrono::Local::now().format("%Y-%m-%d %H:%M:%S,%3f");
        if self.verbose >= 4 {
            // -vvv: milliseconds since start, thread id, logger, short level name.
            let rel = START
                .get_or_init(std::time::Instant::now)
                .elapsed()
                .as_millis();
            // SAFETY: pthread_self has no preconditions.
            let tid = unsafe { libc::pthread_self() } as u64;
            let short: String = name.chars().take(5).collect();
            let lg: String = logger.chars().take(25).collect();
            line_to_stderr(format!(" +{rel:5} {tid:X} {lg:<25} {short:<5} {msg}\n"));
        } else if self.verbose >= 3 {
            // fail2ban's verbose format: time, thread id, short level name.
            // SAFETY: pthread_self has no preconditions.
            let tid = unsafe { libc::pthread_self() } as u64;
            let short: String = name.chars().take(5).collect();
            line_to_stderr(format!(" {ts} {tid:X} {short:<5} {msg}\n"));
        } else {
            let pid = std::process::id();
            line_to_stderr(format!("{ts} {logger:<24}[{pid}]: {name:<7} {msg}\n"));
        }
    }
    pub fn error(&self, logger: &str, msg: &str) {
        self.emit(40, logger, msg);
    }
    pub fn warning(&self, logger: &str, msg: &str) {
        self.emit(30, logger, msg);
    }
    pub fn info(&self, logger: &str, msg: &str) {
        self.emit(20, logger, msg);
    }
    pub fn debug(&self, logger: &str, msg: &str) {
        self.emit(10, logger, msg);
    }
    pub fn heavy(&self, logger: &str, msg: &str) {
        self.emit(5, logger, msg);
    }

    /// Messages of the configuration reader.
    pub fn config_lines(&self, lines: &[(Level, String, String)]) {
        for (lvl, logger, msg) in lines {
            let n = match lvl {
                Level::Notice => 25,
                Level::Warning => 30,
                Level::Error => 40,
            };
            self.emit(n, logger, msg);
        }
    }
}

fn print_log(lines: &[(Level, String, String)], verbose: i32) {
    Logger { verbose }.config_lines(lines);
}

/// Python's `pprint.pformat(cmd, width=1000, indent=2)` (what `--dp` prints).
fn pretty(c: &Command) -> String {
    let mut out = String::new();
    pp_format(&Value::List(c.to_values()), &mut out, 0, 0, 0);
    out
}

const PP_WIDTH: usize = 1000;
const PP_INDENT: usize = 2;

fn clen(s: &str) -> usize {
    s.chars().count()
}

fn pp_format(v: &Value, out: &mut String, indent: usize, allowance: usize, level: usize) {
    let rep = v.to_string();
    let max_width = PP_WIDTH.saturating_sub(indent + allowance);
    if clen(&rep) > max_width {
        match v {
            Value::List(items) => {
                out.push('[');
                pp_items(items, out, indent, allowance + 1, level + 1);
                out.push(']');
                return;
            }
            Value::Str(s) => {
                pp_str(s, out, indent, allowance, level + 1);
                return;
            }
            _ => {}
        }
    }
    out.push_str(&rep);
}

fn pp_items(items: &[Value], out: &mut String, indent: usize, allowance: usize, level: usize) {
    let indent = indent + PP_INDENT;
    out.push_str(&" ".repeat(PP_INDENT - 1));
    let delimnl = format!(",\n{}", " ".repeat(indent));
    for (i, ent) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(&delimnl);
        }
        let last = i + 1 == items.len();
        pp_format(ent, out, indent, if last { allowance } else { 1 }, level);
    }
}

/// Long strings are cut after whitespace into adjacent literals.
fn pp_str(s: &str, out: &mut String, indent: usize, allowance: usize, level: usize) {
    if s.is_empty() {
        out.push_str("''");
        return;
    }
    let (mut indent, mut allowance) = (indent, allowance);
    if level == 1 {
        indent += 1;
        allowance += 1;
    }
    let max_width = PP_WIDTH.saturating_sub(indent);
    let mut max_width1 = max_width;
    let lines: Vec<&str> = s.split_inclusive('\n').collect();
    let mut chunks: Vec<String> = Vec::new();
    let mut rep = String::new();
    for (i, line) in lines.iter().enumerate() {
        rep = crate::stream::py_str_repr(line);
        if i == lines.len() - 1 {
            max_width1 = max_width1.saturating_sub(allowance);
        }
        if clen(&rep) <= max_width1 {
            chunks.push(rep.clone());
            continue;
        }
        // alternating runs of non-space then space (`\S*\s*`)
        let mut parts: Vec<&str> = Vec::new();
        let mut start = 0;
        let mut in_space = false;
        for (j, ch) in line.char_indices() {
            let sp = ch.is_whitespace();
            if !sp && in_space {
                parts.push(&line[start..j]);
                start = j;
            }
            in_space = sp;
        }
        parts.push(&line[start..]);
        let mut max_width2 = max_width;
        let mut current = String::new();
        for (j, part) in parts.iter().enumerate() {
            let candidate = format!("{current}{part}");
            if j == parts.len() - 1 && i == lines.len() - 1 {
                max_width2 = max_width2.saturating_sub(allowance);
            }
            if clen(&crate::stream::py_str_repr(&candidate)) > max_width2 {
                if !current.is_empty() {
                    chunks.push(crate::stream::py_str_repr(&current));
                }
                current = part.to_string();
            } else {
                current = candidate;
            }
        }
        if !current.is_empty() {
            chunks.push(crate::stream::py_str_repr(&current));
        }
    }
    if chunks.len() == 1 {
        out.push_str(&rep);
        return;
    }
    if level == 1 {
        out.push('(');
    }
    for (i, c) in chunks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(c);
    }
    if level == 1 {
        out.push(')');
    }
}

/// Reads the configuration as `-d`/`-t` do. Returns the exit code.
pub fn dump(args: &ClientArgs) -> i32 {
    let (src, basedir): (Box<dyn Source>, String) = match &args.conf {
        Some(c) => (Box::new(config::FsSource), c.clone()),
        None => config::default_source(),
    };
    let opts = StreamOptions {
        loglevel: args.loglevel.clone(),
        logtarget: args.logtarget.clone(),
        syslogsocket: args.syslogsocket.clone(),
        test: args.test,
        dump: args.dump > 0,
    };
    // the process ends after the dump: its memory is left to the OS
    let render: config::RenderFn = if args.dump == 2 {
        render_pretty
    } else {
        render_plain
    };
    let read = if args.dump > 0 {
        // the reading threads render their own jails (see `read_stream_rendered`)
        config::read_stream_rendered(src.as_ref(), &basedir, &opts, render)
    } else {
        config::read_stream_then_exit(src.as_ref(), &basedir, &opts)
    };
    let res = match read {
        Ok(r) => r,
        Err(config::EarlyError(e, log)) => {
            print_log(&log, args.verbose);
            println!("ERROR: {}", e.message);
            if let Some(l) = &e.location {
                eprintln!("gaol: {l}");
            }
            return 255;
        }
    };
    // not freed either: the process exits after this
    let res = std::mem::ManuallyDrop::new(res);
    print_log(&res.log, args.verbose);
    if let Some(e) = &res.error
        && let Some(l) = &e.location
    {
        eprintln!("gaol: configuration error at {l}: {}", e.message);
    }
    let mut ok = res.ok;
    if args.dump > 0 {
        match (&res.commands, &res.text) {
            (Some(_), Some(pieces)) => write_pieces(pieces),
            (Some(cmds), None) => {
                let mut pieces = Vec::new();
                render(cmds, &mut pieces);
                write_pieces(&pieces);
            }
            (None, _) => {
                println!("ERROR: The configuration stream failed because of the invalid syntax.")
            }
        }
        if !args.test {
            if !ok {
                print_log(
                    &[(
                        Level::Error,
                        "fail2ban".into(),
                        "Init of command line failed".into(),
                    )],
                    args.verbose,
                );
                return 255;
            }
            return 0;
        }
        // `-d -t`: fail2ban re-reads for the test with the dump's tolerance.
    }
    if args.test {
        ok = ok && res.strict_errors.is_empty();
        if !ok {
            print_log(
                &[(
                    Level::Error,
                    "fail2ban".into(),
                    "ERROR: test configuration failed".into(),
                )],
                args.verbose,
            );
            return 255;
        }
        if args.command.is_empty() {
            println!("OK: configuration test is successful");
            return 0;
        }
    }
    0
}

/// Writes one log line to stderr in one write: `eprintln!` writes each formatted piece
/// of it on its own (stderr is not buffered).
fn line_to_stderr(line: String) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Writes a rendered dump to stdout, its pieces gathered into as few writes as the
/// kernel takes (a write error, such as a closed pipe, ends it quietly).
fn write_pieces(pieces: &[String]) {
    use std::io::{IoSlice, Write};
    let mut out = std::io::stdout().lock();
    let mut slices: Vec<IoSlice<'_>> = pieces.iter().map(|p| IoSlice::new(p.as_bytes())).collect();
    let mut rest = &mut slices[..];
    // drops empty pieces in front (a write of nothing would end the loop early)
    IoSlice::advance_slices(&mut rest, 0);
    while !rest.is_empty() {
        match out.write_vectored(rest) {
            Ok(0) => return,
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
    let _ = out.flush();
}

/// The dump's lines (`-d`): each command's Python repr.
fn render_plain(cmds: &[Command], pieces: &mut Vec<String>) {
    for c in cmds {
        let out = config::open_piece(pieces);
        c.write_repr(out);
        out.push('\n');
    }
}

/// The dump's lines in `--dp`'s layout.
fn render_pretty(cmds: &[Command], pieces: &mut Vec<String>) {
    for c in cmds {
        let out = config::open_piece(pieces);
        out.push_str(&pretty(c));
        out.push('\n');
    }
}

/// Runs `fail2ban-client` with `args` (without the program name); returns the exit code.
pub fn main(prog: &str, args: Vec<String>) -> i32 {
    START.get_or_init(std::time::Instant::now);
    let a = match ClientArgs::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{prog}: {e}");
            print!("{}", usage(prog));
            return 255;
        }
    };
    if a.help {
        print!("{}", usage(prog));
        return 0;
    }
    if let Some(short) = a.version {
        if short {
            println!("{}", config::FAIL2BAN_VERSION);
        } else {
            // exactly fail2ban's text: scripts parse it
            println!("Fail2Ban v{}", config::FAIL2BAN_VERSION);
        }
        return 0;
    }
    if let Some(s) = &a.str2sec {
        return match config::time::parse_time_typed(s) {
            Ok((v, false)) if v.fract() == 0.0 && v.abs() < 1e15 => {
                println!("{}", v as i64);
                0
            }
            Ok((v, _)) => {
                println!("{}", crate::stream::py_float_repr(v));
                0
            }
            Err(e) => {
                let e = crate::server::transmitter::bare_name(s).unwrap_or(e);
                println!("ERROR: {e}");
                // Logged before the client's log handler exists: the bare message.
                eprintln!("Init of command line failed");
                255
            }
        };
    }
    if a.dump > 0 || a.test {
        let code = dump(&a);
        if code != 0 || a.command.is_empty() || a.dump > 0 {
            return code;
        }
    }
    if a.command.is_empty() && !a.interactive {
        print!("{}", usage(prog));
        return 255;
    }
    let log = Logger { verbose: a.verbose };
    let mut client = match init_client(prog, a, log) {
        Ok(c) => c,
        Err(code) => {
            log.debug("fail2ban", &format!("Exit with code {code}"));
            return code;
        }
    };
    let ok = if client.args.interactive {
        let cmd = client.args.command.clone();
        (cmd.is_empty() || client.process_command(&cmd)) && client.interactive()
    } else {
        let cmd = client.args.command.clone();
        client.process_command(&cmd)
    };
    let code = if ok { 0 } else { 255 };
    log.debug("fail2ban", &format!("Exit with code {code}"));
    code
}

/// Settings from the command line, the rest from fail2ban.conf (as fail2ban's
/// `initCmdLine`); on failure the exit code.
fn init_client(prog: &str, a: ClientArgs, log: Logger) -> Result<ops::Client, i32> {
    let timeout = match &a.timeout {
        None => ops::MAX_WAITTIME,
        Some(t) => match config::time::parse_time(t) {
            Ok(v) => v,
            Err(e) => {
                println!("ERROR: {e}");
                log.error("fail2ban", "Init of command line failed");
                return Err(255);
            }
        },
    };
    let given = [
        a.socket.clone(),
        a.pidfile.clone(),
        a.loglevel.clone(),
        a.logtarget.clone(),
        a.syslogsocket.clone(),
    ];
    let mut vals: Vec<String> = Vec::with_capacity(5);
    let mut early: Option<Vec<(String, String)>> = None;
    for (i, name) in ["socket", "pidfile", "loglevel", "logtarget", "syslogsocket"]
        .iter()
        .enumerate()
    {
        if let Some(v) = &given[i] {
            vals.push(v.clone());
            continue;
        }
        if early.is_none() {
            early = Some(match early_options(&a) {
                Ok(e) => e,
                Err(msg) => {
                    println!("ERROR: {msg}");
                    log.error("fail2ban", "Init of command line failed");
                    return Err(255);
                }
            });
        }
        let v = early
            .iter()
            .flatten()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        vals.push(v);
    }
    let [socket, pidfile, loglevel, logtarget, syslogsocket]: [String; 5] =
        vals.try_into().map_err(|_| 255)?;
    log.info("fail2ban", &format!("Using socket file {socket}"));
    if let Err(e) = config::global::check_loglevel(&loglevel) {
        println!("ERROR: {}", e.message);
        log.error("fail2ban", "Init of command line failed");
        return Err(255);
    }
    let lname = crate::server::log::LogLevel::parse(&loglevel)
        .map(|l| l.name())
        .unwrap_or_else(|_| loglevel.clone());
    log.info(
        "fail2ban",
        &format!("Using pid file {pidfile}, [{lname}] logging to {logtarget}"),
    );
    Ok(ops::Client {
        prog: prog.to_string(),
        args: a,
        log,
        socket,
        pidfile,
        loglevel,
        logtarget,
        syslogsocket,
        timeout,
    })
}

/// fail2ban.conf's early options (socket, pidfile, log settings) of the chosen config dir.
fn early_options(a: &ClientArgs) -> Result<Vec<(String, String)>, String> {
    let (src, basedir): (Box<dyn Source>, String) = match &a.conf {
        Some(c) => (Box::new(config::FsSource), c.clone()),
        None => config::default_source(),
    };
    let log = Logger { verbose: a.verbose };
    // fail2ban's reader announces what it reads (visible with -v / -vv).
    log.info(
        "fail2ban.configreader",
        &format!("Loading configs for fail2ban under {basedir} "),
    );
    log.debug(
        "fail2ban.configreader",
        &format!("Reading configs for fail2ban under {basedir} "),
    );
    let mut rd = config::Reader::new(src.as_ref(), &basedir);
    let f2b = rd.fs.read("fail2ban").map_err(|e| e.message)?;
    rd.sync_log();
    if let Some(c) = &f2b
        && !c.files.is_empty()
    {
        log.debug(
            "fail2ban.configreader",
            &format!("Reading config files: {}", c.files.join(", ")),
        );
        // fail2ban parses each file alone first (looking for includes), then the set.
        let one = |f: &String| Value::List(vec![Value::str(f.clone())]);
        let all = Value::List(c.files.iter().map(|f| Value::str(f.clone())).collect());
        for (f, list) in c.files.iter().map(|f| (f, one(f))) {
            log.info(
                "fail2ban.configparserinc",
                &format!("  Loading files: {list}"),
            );
            log.emit(
                7,
                "fail2ban.configparserinc",
                &format!("    Reading file: {f}"),
            );
        }
        log.info(
            "fail2ban.configparserinc",
            &format!("  Loading files: {all}"),
        );
        for f in &c.files {
            log.emit(
                7,
                "fail2ban.configparserinc",
                &format!("    Shared file: {f}"),
            );
        }
    }
    let names = rd.fs.names.clone();
    let early =
        config::global::early_options(f2b.as_ref(), &names, &mut rd.log).map_err(|e| e.message)?;
    Logger { verbose: a.verbose }.config_lines(&rd.log.lines);
    Ok(early
        .iter()
        .map(|(k, v)| (k.clone(), v.to_var().unwrap_or_default()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> ClientArgs {
        ClientArgs::parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn getopt_style() {
        let a = p(&["-c", "/x", "-dv", "status", "sshd"]);
        assert_eq!(a.conf.as_deref(), Some("/x"));
        assert_eq!(a.dump, 1);
        assert_eq!(a.verbose, 2);
        assert_eq!(a.command, ["status", "sshd"]);
        let a = p(&["-c/y", "--dp", "--conf=/z", "--test"]);
        assert_eq!(a.conf.as_deref(), Some("/z"));
        assert_eq!(a.dump, 2);
        assert!(a.test);
        assert!(ClientArgs::parse(&["-k".to_string()]).is_err());
        assert!(ClientArgs::parse(&["-c".to_string()]).is_err());
    }
}
