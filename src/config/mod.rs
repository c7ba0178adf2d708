//! The config side: `/etc/fail2ban` (or gaol's embedded default) → the command stream.
//!
//! Data flow: [`files::Source`] (a directory or the embedded default) → [`files::FileSet`]
//! (parse each file once with [`ini`], expand includes, merge into a [`files::Config`]) →
//! readers ([`global`] for fail2ban.conf, [`jail`] for jails, [`reader::DefReader`] for
//! filters/actions, with [`interp`] `%(x)s` and [`tags`] `<x>` substitution) →
//! `Vec<`[`crate::stream::Command`]`>`.
//!
//! Public API:
//! * [`read_stream`] — the whole stream, as `fail2ban-client -d` prints it, plus the log
//!   lines fail2ban would write to stderr.
//! * [`read_filter`] — one filter (`sshd`, `sshd[mode=aggressive]`, or a path to a
//!   `.conf` file) resolved to [`FilterDef`]: the values a jail's stream would carry
//!   (used by the filter engine and fail2ban-regex).
//! * [`time::parse_time`] — fail2ban's `str2seconds`.
//! * [`embedded_source`] / [`default_source`] — the config directory gaol uses when `-c`
//!   is not given.

mod beside;
pub mod comb_trace;
pub mod dircache;
pub mod embedded;
pub mod files;
pub mod glob;
pub mod global;
pub mod ini;
pub mod interp;
pub mod jail;
mod memo;
pub mod options;
mod parallel;
pub mod reader;
pub mod tags;
pub mod tags_fast;
pub mod tags_plan;
pub mod time;

use std::collections::HashMap;
use std::rc::Rc;

pub use files::{Config, ConfigError, EmbeddedSource, FileSet, FsSource, Level, Source};
use ini::OrdMap;
use reader::{DefReader, Kind, Log, Py};
pub use time::parse_time;

use crate::stream::{Command, Value};

/// The version fail2ban's readers report (`%(fail2ban_version)s`).
pub const FAIL2BAN_VERSION: &str = "1.0.2";
/// fail2ban's default configuration directory.
pub const DEFAULT_CONF_DIR: &str = "/etc/fail2ban";

/// Shared reading state: the file cache, the jail config and cached filter/action configs.
pub struct Reader<'s> {
    pub fs: FileSet<'s>,
    pub log: Log,
    pub jail: Config,
    /// Jail option values shared between jail sections (see [`jail::jail_get`]).
    pub jail_memo: jail::JailMemo,
    /// Whether the jail config may interpolate `known/…` names ([`jail::uses_known`]).
    pub jail_uses_known: bool,
    defs: HashMap<String, Option<Rc<Config>>, ini::FxBuild>,
    /// How many messages the file layer has logged (see [`parallel`]: a second thread's
    /// file messages may repeat the first's).
    fs_msgs: usize,
}

impl<'s> Reader<'s> {
    pub fn new(src: &'s dyn Source, basedir: &str) -> Self {
        Reader {
            fs: FileSet::new(src, basedir),
            log: Log::default(),
            jail: Config::default(),
            jail_memo: Default::default(),
            jail_uses_known: true,
            defs: HashMap::default(),
            fs_msgs: 0,
        }
    }

    /// A filter/action config by logical name (`filter.d/sshd`), read once.
    pub fn def_config(&mut self, name: &str) -> Result<Option<Rc<Config>>, ConfigError> {
        if let Some(c) = self.defs.get(name) {
            return Ok(c.clone());
        }
        let c = self.fs.read(name);
        self.sync_log();
        let c = c?.map(Rc::new);
        self.defs.insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// Moves the file layer's messages into the reader's log, keeping their order.
    pub fn sync_log(&mut self) {
        self.fs_msgs += self.fs.log.len() + self.fs.strict.len();
        let lines = std::mem::take(&mut self.fs.log);
        self.log.lines.extend(lines);
        let strict = std::mem::take(&mut self.fs.strict);
        self.log.strict_errors.extend(strict);
    }

    fn take_log(&mut self) -> Vec<(Level, String, String)> {
        let mut out = std::mem::take(&mut self.fs.log);
        out.append(&mut self.log.lines);
        out
    }
}

/// What the client asks of [`read_stream`].
#[derive(Debug, Clone, Default)]
pub struct StreamOptions {
    /// Settings given on the command line (`--loglevel`, `--logtarget`, `--syslogsocket`);
    /// missing ones come from fail2ban.conf's early options.
    pub loglevel: Option<String>,
    pub logtarget: Option<String>,
    pub syslogsocket: Option<String>,
    /// `-t`: a broken jail fails the read, and missing log files are fatal.
    pub test: bool,
    /// `-d`/`--dp`: a jail without log files is tolerated (a warning only).
    pub dump: bool,
}

/// The outcome of reading a configuration.
#[derive(Debug, Default)]
pub struct StreamResult {
    /// `None` when the whole configuration failed (`error` says why).
    pub commands: Option<Vec<Command>>,
    /// fail2ban's overall status (false: every enabled jail failed, or a fatal error).
    pub ok: bool,
    pub error: Option<ConfigError>,
    /// Log lines for stderr: level, logger name, message.
    pub log: Vec<(Level, String, String)>,
    /// gaol's stricter findings (e.g. a non-numeric `maxretry`).
    pub strict_errors: Vec<String>,
    /// Early options (socket, pidfile, loglevel, logtarget, syslogsocket).
    pub early: Vec<(String, String)>,
    /// With [`read_stream_rendered`]: the commands rendered, as pieces to write in order
    /// (then `commands` is `Some` but empty: the commands were not kept).
    pub text: Option<Vec<String>>,
}

/// Appends commands to a text kept as pieces (one line each, the way a dump prints
/// them; see [`open_piece`]).
pub type RenderFn = fn(&[Command], &mut Vec<String>);

/// A rendered text piece's capacity. A dump's text (~240 KiB for the stock tree with
/// every jail enabled) is kept in pieces of one small size rather than one growing
/// string: mimalloc serves each size class from pages of its own (64 KiB up to 10 KiB
/// blocks, 512 KiB up to 84 KiB, 4 MiB up to 512 KiB), and the kernel backs the first
/// touch of each 2 MiB stretch of them with a huge page it must zero (~0.15 ms each).
/// A growing string walked through several of the larger classes, a fresh page each.
const PIECE: usize = 8 * 1024;

/// The piece of `pieces` to append a rendered line to: the last one while it has room
/// for a typical line, else a new one.
pub fn open_piece(pieces: &mut Vec<String>) -> &mut String {
    if pieces.last().is_none_or(|p| p.len() > PIECE - PIECE / 8) {
        pieces.push(String::with_capacity(PIECE));
    }
    // not empty: a piece was pushed above when there was none
    let n = pieces.len() - 1;
    &mut pieces[n]
}

/// An error that happens before the stream is read (fail2ban prints `ERROR: <msg>` on
/// stdout and exits 255).
#[derive(Debug)]
pub struct EarlyError(pub ConfigError, pub Vec<(Level, String, String)>);

/// Reads the configuration in `basedir` of `src` into the command stream, the way
/// `fail2ban-client -d` (or `-t`) does.
pub fn read_stream(
    src: &dyn Source,
    basedir: &str,
    opts: &StreamOptions,
) -> Result<StreamResult, EarlyError> {
    read_stream_impl(src, basedir, opts, false, None)
}

/// [`read_stream`] for a process that exits soon after (`fail2ban-client -d`): the
/// readers' caches are not freed (the OS reclaims them; freeing them cost ~4% of a
/// dump of the stock tree).
pub fn read_stream_then_exit(
    src: &dyn Source,
    basedir: &str,
    opts: &StreamOptions,
) -> Result<StreamResult, EarlyError> {
    read_stream_impl(src, basedir, opts, true, None)
}

/// [`read_stream_then_exit`] that also renders the commands with `render` into
/// [`StreamResult::text`]: each reading thread renders its own jails while the other
/// still reads (what `fail2ban-client -d` prints, without a second pass).
pub fn read_stream_rendered(
    src: &dyn Source,
    basedir: &str,
    opts: &StreamOptions,
    render: RenderFn,
) -> Result<StreamResult, EarlyError> {
    read_stream_impl(src, basedir, opts, true, Some(render))
}

/// `leak`: see [`read_stream_then_exit`]; `render`: see [`read_stream_rendered`].
fn read_stream_impl(
    src: &dyn Source,
    basedir: &str,
    opts: &StreamOptions,
    leak: bool,
    render: Option<RenderFn>,
) -> Result<StreamResult, EarlyError> {
    let none: Option<fn() -> parallel::EarlyHalf> = None;
    if !leak {
        return read_stream_with(src, basedir, opts, leak, render, none);
    }
    // a process that exits after the read: the second thread starts now, before
    // fail2ban.conf is read (see `parallel::early_second_half`), on another CPU; with
    // one CPU it would only take turns with this one
    let cpus = beside::Cpus::beside_current();
    if cpus.is_none() && !parallel::split_forced() {
        return read_stream_with(src, basedir, opts, leak, render, none);
    }
    beside::scope(
        cpus.as_ref(),
        move || parallel::early_second_half(src, basedir, opts, leak, render),
        |helper| {
            let second = move || helper.join().flatten();
            read_stream_with(src, basedir, opts, leak, render, Some(second))
        },
    )
}

/// [`read_stream_impl`]; `second`: the second half read by an early second thread, if
/// started.
fn read_stream_with(
    src: &dyn Source,
    basedir: &str,
    opts: &StreamOptions,
    leak: bool,
    render: Option<RenderFn>,
    second: Option<impl FnOnce() -> parallel::EarlyHalf>,
) -> Result<StreamResult, EarlyError> {
    let mut rd = Reader::new(src, basedir);
    // Early phase: fail2ban.conf for the client's own settings.
    let f2b = rd.fs.read("fail2ban");
    rd.sync_log();
    let f2b = match f2b {
        Ok(c) => c,
        Err(e) => {
            let log = rd.take_log();
            return Err(EarlyError(e, log));
        }
    };
    let mut overrides: OrdMap<Py> = OrdMap::new();
    let cli = [
        ("logtarget", &opts.logtarget),
        ("loglevel", &opts.loglevel),
        ("syslogsocket", &opts.syslogsocket),
    ];
    let early = match global::early_options(f2b.as_ref(), &rd.fs.names, &mut rd.log) {
        Ok(e) => e,
        Err(e) => {
            let log = rd.take_log();
            return Err(EarlyError(e, log));
        }
    };
    for (k, v) in cli {
        let val = match v {
            Some(v) => Py::Str(v.clone()),
            None => early.get(k).cloned().unwrap_or(Py::None),
        };
        overrides.insert(k.to_string(), val);
    }
    if let Some(Py::Str(l)) = overrides.get("loglevel")
        && let Err(e) = global::check_loglevel(l)
    {
        let log = rd.take_log();
        return Err(EarlyError(e, log));
    }
    let early_list: Vec<(String, String)> = early
        .iter()
        .map(|(k, v)| (k.clone(), v.to_var().unwrap_or_default()))
        .collect();
    let mut result = StreamResult {
        early: early_list,
        ..Default::default()
    };
    match read_all(
        &mut rd,
        f2b.as_ref(),
        &overrides,
        opts,
        leak,
        render,
        second,
    ) {
        Ok((cmds, ok, text)) => {
            result.commands = Some(cmds);
            result.text = text;
            result.ok = ok;
        }
        Err(e) => {
            rd.log.push(
                Level::Error,
                "fail2ban",
                format!("Failed during configuration: {}", e.message),
            );
            result.error = Some(e);
            result.ok = false;
        }
    }
    result.strict_errors = std::mem::take(&mut rd.log.strict_errors);
    result.log = rd.take_log();
    if leak {
        std::mem::forget(rd);
        std::mem::forget(f2b);
        std::mem::forget(overrides);
    }
    Ok(result)
}

/// The commands, the overall status and the rendered text (see [`read_stream_rendered`]).
type AllRead = (Vec<Command>, bool, Option<Vec<String>>);

/// The jail config's sections that may be jails, in order.
fn jail_sections(jail: &Config) -> Vec<String> {
    jail.sections
        .keys()
        .filter(|s| !s.starts_with("KNOWN/") && s.as_str() != "INCLUDES")
        .cloned()
        .collect()
}

/// The jails' part of the read: the jail config, the global stream and the jails;
/// `early`: the second half read by an early second thread, if started.
fn read_all(
    rd: &mut Reader<'_>,
    f2b: Option<&Config>,
    overrides: &OrdMap<Py>,
    opts: &StreamOptions,
    leak: bool,
    render: Option<RenderFn>,
    early: Option<impl FnOnce() -> parallel::EarlyHalf>,
) -> Result<AllRead, ConfigError> {
    let jail = rd.fs.read("jail");
    rd.sync_log();
    rd.jail = jail?.unwrap_or_default();
    rd.jail_uses_known = jail::uses_known(&rd.jail);
    let global = global::global_stream(f2b, &rd.fs.names, &mut rd.log, overrides)?;
    let sections = jail_sections(&rd.jail);
    let mut text = render.map(|r| {
        let mut t = Vec::new();
        r(&global, &mut t);
        (r, t)
    });
    let (mut stream, status) = match parallel::plan(rd, &sections, early.is_some(), || {
        early.is_some() || beside::Cpus::beside_current().is_some()
    }) {
        Some(at) => {
            let out = text.as_mut().map(|(r, t)| (*r, t));
            match early {
                Some(e) => parallel::read_split_early(rd, &sections, at, opts, leak, out, e)?,
                None => parallel::read_split(rd, &sections, at, opts, leak, out)?,
            }
        }
        None => {
            let out = text.as_mut().map(|(r, t)| (*r, t));
            let done = read_convert(rd, &sections, opts, out)?;
            let status = done.status;
            let (cmds, starts) = done.settle(&mut rd.log)?;
            // (with a text, `cmds` is already rendered there and empty)
            let all = chain(cmds, starts);
            if let Some((r, pieces)) = text.as_mut() {
                r(&all, pieces);
            }
            (all, status)
        }
    };
    let ignore_wrong = !opts.test;
    let ok = (ignore_wrong && status & 1 != 0) || status & 2 == 0;
    if let Some((_, pieces)) = text {
        if leak {
            std::mem::forget((global, stream));
        }
        return Ok((Vec::new(), ok, Some(pieces)));
    }
    let mut all = global;
    all.append(&mut stream);
    Ok((all, ok, None))
}

/// The jails' commands followed by their `start` commands.
fn chain(mut cmds: Vec<Command>, starts: Vec<Command>) -> Vec<Command> {
    cmds.extend(starts);
    cmds
}

/// Reads one jail section: the jail to convert (enabled or broken), if any, with its
/// status bit set in `status` (1: an enabled jail read, 2: a broken one).
fn read_section(
    rd: &mut Reader<'_>,
    sec: &str,
    opts: &StreamOptions,
    status: &mut u8,
) -> Result<Option<jail::JailState>, ConfigError> {
    let st = jail::read_jail(rd, sec)?;
    if st.config_error.is_none() {
        if !st.enabled {
            return Ok(None);
        }
        *status |= 1;
    } else {
        let suffix = if opts.test { "" } else { " Skipping..." };
        rd.log.push(
            Level::Error,
            "fail2ban.jailsreader",
            format!(
                "Errors in jail {}.{suffix}",
                crate::stream::py_str_repr(sec)
            ),
        );
        *status |= 2;
    }
    Ok(Some(st))
}

/// A log line of the reader: level, logger, message.
type LogLine = (Level, String, String);

/// What [`read_convert`] gives: the read phase's status bits, and the convert phase's
/// outcome (the jails' commands, then their `start` commands) with its messages, kept
/// apart from the read phase's (left in the reader's log) for the caller to place after
/// them.
struct ReadConverted {
    status: u8,
    conv: Result<(Vec<Command>, Vec<Command>), ConfigError>,
    conv_log: Vec<LogLine>,
    conv_strict: Vec<String>,
}

impl ReadConverted {
    /// The convert phase's outcome, its messages appended to `log` (where the read
    /// phase's already are).
    fn settle(self, log: &mut Log) -> Result<(Vec<Command>, Vec<Command>), ConfigError> {
        log.lines.extend(self.conv_log);
        log.strict_errors.extend(self.conv_strict);
        self.conv
    }
}

/// Reads the jail sections `sections` in order and converts each jail as soon as it is
/// read, dropping its state before the next is read, so its memory serves the next jail
/// instead of fresh pages (~280 fewer page faults on the all-jails tree, whose jail
/// states hold ~1 MiB). With `out`, each jail's commands are rendered there as soon as
/// they are made and not returned: the whole stream (~70 KiB for the all-jails tree) is
/// never held as one block, a size mimalloc serves from a page of its own (see
/// [`PIECE`]). The outcome is fail2ban's two passes (read every jail, then convert every
/// jail): a read error returns at once (nothing converted counts); the convert phase's
/// messages are set apart, and its first error stops converting while reading goes on
/// (a later read error still wins). Converting reads no config file, so no file-layer
/// message moves between the phases.
fn read_convert(
    rd: &mut Reader<'_>,
    sections: &[String],
    opts: &StreamOptions,
    mut out: parallel::Out<'_>,
) -> Result<ReadConverted, ConfigError> {
    let mut status = 0u8;
    let mut stream = Vec::new();
    let mut starts = Vec::new();
    let mut failed = None;
    let (mut conv_log, mut conv_strict) = (Vec::new(), Vec::new());
    for sec in sections {
        let Some(mut st) = read_section(rd, sec, opts, &mut status)? else {
            continue;
        };
        if failed.is_some() {
            continue;
        }
        let mark = (rd.log.lines.len(), rd.log.strict_errors.len());
        match st.convert(rd, opts.dump) {
            Ok(cmds) => match out.as_mut() {
                Some((render, pieces)) => render(&cmds, pieces),
                None => stream.extend(cmds),
            },
            Err(e) => failed = Some(e),
        }
        conv_log.extend(rd.log.lines.drain(mark.0..));
        conv_strict.extend(rd.log.strict_errors.drain(mark.1..));
        if st.config_error.is_none() && !st.skipped {
            starts.push(Command::Start(st.name));
        }
    }
    Ok(ReadConverted {
        status,
        conv: match failed {
            Some(e) => Err(e),
            None => Ok((stream, starts)),
        },
        conv_log,
        conv_strict,
    })
}

/// The config directory gaol uses when `-c` is not given: `/etc/fail2ban` when it
/// exists, else the embedded default.
pub fn default_source() -> (Box<dyn Source>, String) {
    if std::path::Path::new(DEFAULT_CONF_DIR).exists() {
        (Box::new(FsSource), DEFAULT_CONF_DIR.to_string())
    } else {
        (Box::new(embedded_source()), DEFAULT_CONF_DIR.to_string())
    }
}

/// gaol's own small default configuration, compiled in, rooted at `/etc/fail2ban`.
pub fn embedded_source() -> EmbeddedSource {
    EmbeddedSource {
        root: DEFAULT_CONF_DIR.to_string(),
        files: embedded::FILES,
    }
}

/// A filter resolved as a jail's stream would carry it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterDef {
    pub usedns: Option<String>,
    pub prefregex: Option<String>,
    pub failregex: Vec<String>,
    pub ignoreregex: Vec<String>,
    pub maxlines: Option<i64>,
    pub datepattern: Option<String>,
    /// One entry per `journalmatch` line, shell-split.
    pub journalmatch: Vec<Vec<String>>,
    /// The files read, in merge order.
    pub files: Vec<String>,
    /// Warnings fail2ban would log.
    pub log: Vec<(Level, String, String)>,
}

/// Reads one filter: `spec` is a name with optional options (`sshd[mode=aggressive]`,
/// looked up as `filter.d/<name>` under `basedir`) or a path to a filter file (read
/// with its includes). `backend` drives the `logtype` default (`systemd…` → journal).
pub fn read_filter(
    src: &dyn Source,
    basedir: &str,
    spec: &str,
    backend: &str,
) -> Result<FilterDef, ConfigError> {
    let (name, fopts) = options::extract_options(spec).map_err(|e| {
        ConfigError::new(format!(
            "Invalid filter definition {}: {e}",
            crate::stream::py_str_repr(spec)
        ))
    })?;
    let mut rd = Reader::new(src, basedir);
    let looks_like_file = name.contains('/') || name.ends_with(".conf") || name.ends_with(".local");
    let cfg = if looks_like_file && src.is_file(&name) {
        rd.fs.read_explicit(&name)?
    } else {
        rd.def_config(&format!("filter.d/{name}"))?
            .map(|c| (*c).clone())
    };
    let Some(cfg) = cfg else {
        return Err(ConfigError::new(format!(
            "Unable to read the filter {}",
            crate::stream::py_str_repr(&name)
        )));
    };
    let files = cfg.files.clone();
    let init: OrdMap<Py> = fopts.into_iter().map(|(k, v)| (k, Py::Str(v))).collect();
    let mut fr = DefReader::new(Kind::Filter, Rc::new(cfg), "fail2ban-regex-jail", init);
    fr.apply_auto_options(backend);
    let names = rd.fs.names.clone();
    fr.get_options(&names, &mut rd.log, &OrdMap::new(), false)
        .map_err(|e| match e {
            interp::GetError::Interp(e) => e,
            other => ConfigError::new(format!("{other:?}")),
        })?;
    let opts = fr.get_combined(&names, &mut rd.log, &[])?;
    let mut stream = Vec::new();
    jail::fill_stream(&mut stream, &opts, "fail2ban-regex-jail")?;
    let mut def = FilterDef {
        files,
        ..Default::default()
    };
    let s = |v: &Value| v.to_py_str();
    for c in stream {
        match c {
            Command::SetJail { key, args, .. } => match (key.as_str(), args.first()) {
                ("usedns", Some(v)) => def.usedns = Some(s(v)),
                ("prefregex", Some(v)) => def.prefregex = Some(s(v)),
                ("maxlines", Some(Value::Int(i))) => def.maxlines = Some(*i),
                ("datepattern", Some(v)) => def.datepattern = Some(s(v)),
                ("addfailregex", Some(v)) => def.failregex.push(s(v)),
                ("addignoreregex", Some(v)) => def.ignoreregex.push(s(v)),
                ("addjournalmatch", _) => def.journalmatch.push(args.iter().map(s).collect()),
                _ => {}
            },
            Command::MultiSetJail { key, values, .. } => {
                let list = values.iter().map(s).collect::<Vec<_>>();
                match key.as_str() {
                    "addfailregex" => def.failregex.extend(list),
                    "addignoreregex" => def.ignoreregex.extend(list),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    def.log = rd.take_log();
    Ok(def)
}
