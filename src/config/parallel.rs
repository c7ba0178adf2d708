//! Reading many jails on two threads ([`plan`], [`read_split`], [`read_split_early`]).
//!
//! The sections are cut into two contiguous halves. The calling thread reads and
//! converts the first half with the main [`Reader`]; a helper thread, started on
//! another CPU and joined before the read returns (`beside`), reads and converts
//! the second with a fresh `Reader` of its own (the readers' memos are `Rc`/`RefCell`,
//! not shareable), given a plain copy of the jail config, or, in a process that exits
//! after the read ([`early_second_half`]), started before the configuration is read and
//! reading it itself (its file messages dropped: the calling thread logs them), its half
//! used only when it planned the same cut. Each half's log is kept in two
//! parts, read phase and convert phase, and everything is reassembled in the sequential
//! order: read(1), read(2), convert(1), convert(2), then the `start` commands; the first
//! error in that order wins, with the log cut where the sequential run would stop.
//! Given a [`RenderFn`], each thread renders its converted jails itself (the first while
//! the second may still read), and the texts are joined in the same order.
//!
//! Exactness limits, checked rather than assumed:
//! * the file layer logs a problem only on a file's first read, so the second thread may
//!   repeat the first's messages: when the second thread's file layer logged anything,
//!   its work is dropped and the second half is redone sequentially on the main reader;
//! * a jail config that interpolates `known/…` names lets a section see other sections'
//!   filter values: such configs are not split.

use super::files::{Config, ConfigError};
use super::ini::{OrdMap, Section};
use super::{LogLine, ReadConverted, Reader, RenderFn, StreamOptions, jail, read_convert};
use crate::stream::Command;

/// Below this many (estimated) enabled jails one thread is kept: the second saves a
/// fraction of a millisecond there (most admins' configs), not worth its CPU.
const MIN_ENABLED: usize = 8;

/// The env var tests use to force a path: `1` sequential, `2` split (when allowed).
const FORCE_ENV: &str = "GAOL_CONFIG_THREADS";

/// Whether the tests' env var forces the split (`2`).
pub(super) fn split_forced() -> bool {
    std::env::var(FORCE_ENV).is_ok_and(|v| v == "2")
}

/// Where to cut `sections` (the second half's first index), or `None` to read them on
/// one thread. `early`: the second thread reads the jail config itself
/// ([`early_second_half`]). `two_cpus`: whether a second CPU is there to run it (asked
/// only when the rest of the plan would split).
pub(super) fn plan(
    rd: &Reader<'_>,
    sections: &[String],
    early: bool,
    two_cpus: impl FnOnce() -> bool,
) -> Option<usize> {
    if rd.jail_uses_known || sections.len() < 2 {
        return None;
    }
    let force = std::env::var(FORCE_ENV).ok();
    // estimated work: the jails whose `enabled` reads true before interpolation
    let enabled: Vec<bool> = sections
        .iter()
        .map(|s| {
            let raw = rd
                .jail
                .sections
                .get(s)
                .and_then(|sec| sec.get("enabled"))
                .or_else(|| rd.jail.defaults.get("enabled"));
            raw.is_some_and(|v| super::reader::as_bool(v.text.trim()))
        })
        .collect();
    let total = enabled.iter().filter(|&&e| e).count();
    match force.as_deref() {
        Some("1") => return None,
        Some("2") => {}
        _ if total < MIN_ENABLED || !two_cpus() => return None,
        _ => {}
    }
    // a disabled section costs about 1/24 of an enabled jail (measured in instructions
    // on the stock tree with all or a few jails enabled). Given a copy of the jail
    // config, the second thread's cold caches cost about what the first thread's share
    // of the bookkeeping after the join does: halves of equal weight. Reading the jail
    // config itself, it has about one enabled jail's work more: its half is that lighter.
    let weight = |e: bool| if e { 24 } else { 1 };
    let total_w: usize = enabled.iter().map(|&e| weight(e)).sum();
    let want = if early {
        (total_w / 2).saturating_sub(24)
    } else {
        total_w / 2
    };
    let mut seen = 0;
    let mut at = sections.len();
    for (i, &e) in enabled.iter().enumerate().rev() {
        if seen >= want.max(1) {
            break;
        }
        seen += weight(e);
        at = i;
    }
    (at > 0 && at < sections.len()).then_some(at)
}

/// Where a split renders its commands: the render function and the text's pieces (the
/// last one open for appending).
pub(super) type Out<'a> = Option<(RenderFn, &'a mut Vec<String>)>;

/// What the second thread hands back: the read phase's log, and what [`read_convert`]
/// gave (`Err`: a read error, which stops the sequential run there).
pub(super) struct Half {
    read_log: Vec<LogLine>,
    read_strict: Vec<String>,
    done: Result<ReadConverted, ConfigError>,
    /// The jails' commands rendered (when asked and converting succeeded).
    text: Option<Vec<String>>,
}

/// The main reader's jail config as plain (sendable) data: the config without its memos
/// (`Rc` inside, and only caches), and the file table its values point into.
struct JailCopy {
    defaults: Section,
    sections: OrdMap<Section>,
    files: Vec<String>,
    names: Vec<String>,
}

/// Reads and converts `sections` on a fresh reader over a copy of the jail config.
/// `None` when the result may differ from the sequential one (see the module doc).
fn second_half(
    src: &dyn super::Source,
    basedir: &str,
    jail: JailCopy,
    sections: &[String],
    opts: &StreamOptions,
    leak: bool,
    render: Option<RenderFn>,
) -> Option<Half> {
    let mut rd = Reader::new(src, basedir);
    rd.fs.names = jail.names;
    rd.jail = Config {
        defaults: jail.defaults,
        sections: jail.sections,
        files: jail.files,
        ..Default::default()
    };
    rd.jail_uses_known = false;
    run_half(rd, sections, opts, leak, render)
}

/// What [`early_second_half`] read: the split it planned (cut index, section count)
/// and the second half.
pub(super) type EarlyHalf = Option<(usize, usize, Half)>;

/// The second thread started before the configuration is read (a process that exits after
/// the read, see [`super::read_stream_then_exit`]): it reads the jail config itself, in
/// parallel with the calling thread's own read (instead of waiting for it and a copy of
/// it), plans the split the same way, and reads the second half. The jail config's
/// file messages are the calling thread's to log: this reader's are dropped.
pub(super) fn early_second_half(
    src: &dyn super::Source,
    basedir: &str,
    opts: &StreamOptions,
    leak: bool,
    render: Option<RenderFn>,
) -> EarlyHalf {
    let mut rd = Reader::new(src, basedir);
    let jail = rd.fs.read("jail");
    rd.fs.log.clear();
    rd.fs.strict.clear();
    rd.jail = jail.ok()?.unwrap_or_default();
    rd.jail_uses_known = jail::uses_known(&rd.jail);
    let sections = super::jail_sections(&rd.jail);
    // (this thread runs because a second CPU is there, or the split is forced)
    let at = plan(&rd, &sections, true, || true)?;
    let n = sections.len();
    let half = run_half(rd, &sections[at..], opts, leak, render)?;
    if leak {
        std::mem::forget(sections);
    }
    Some((at, n, half))
}

/// Reads and converts `sections` on `rd` (a second thread's reader).
fn run_half(
    mut rd: Reader<'_>,
    sections: &[String],
    opts: &StreamOptions,
    leak: bool,
    render: Option<RenderFn>,
) -> Option<Half> {
    let mut text = render.map(|r| (r, Vec::new()));
    let out = text.as_mut().map(|(r, t)| (*r, t));
    let done = read_convert(&mut rd, sections, opts, out);
    // (the convert phase's messages are in `done`)
    let read_log = std::mem::take(&mut rd.log.lines);
    let read_strict = std::mem::take(&mut rd.log.strict_errors);
    rd.sync_log();
    if rd.fs_msgs > 0 {
        return None;
    }
    // rendered by `read_convert` (the commands are not kept)
    let text = match (&done, text) {
        (Ok(d), Some((_, t))) if d.conv.is_ok() => Some(t),
        _ => None,
    };
    let half = Half {
        read_log,
        read_strict,
        done,
        text,
    };
    if leak {
        // the process exits soon (see `read_stream_then_exit`)
        std::mem::forget(rd);
    }
    Some(half)
}

/// The jails' commands (then their `start`s) and status bits, as the sequential
/// [`read_convert`] gives them, with `sections[at..]` read on a
/// second thread. Log lines land in `rd.log` in the sequential order. With `out`, the
/// commands are also rendered onto its text.
pub(super) fn read_split(
    rd: &mut Reader<'_>,
    sections: &[String],
    at: usize,
    opts: &StreamOptions,
    leak: bool,
    out: Out<'_>,
) -> Result<(Vec<Command>, u8), ConfigError> {
    let (first, second) = sections.split_at(at);
    let src = rd.fs.src;
    let basedir = rd.fs.basedir.clone();
    let copy = JailCopy {
        defaults: rd.jail.defaults.clone(),
        sections: rd.jail.sections.clone(),
        files: rd.jail.files.clone(),
        names: rd.fs.names.clone(),
    };
    let render = out.as_ref().map(|(r, _)| *r);
    let cpus = super::beside::Cpus::beside_current();
    super::beside::scope(
        cpus.as_ref(),
        move || second_half(src, &basedir, copy, second, opts, leak, render),
        |helper| {
            finish_split(rd, first, second, opts, leak, out, || {
                helper.join().flatten()
            })
        },
    )
}

/// [`read_split`] with the second half read by [`early_second_half`] (`early`, joined
/// by the caller): used when it planned the same cut as the calling thread.
#[allow(clippy::too_many_arguments)]
pub(super) fn read_split_early(
    rd: &mut Reader<'_>,
    sections: &[String],
    at: usize,
    opts: &StreamOptions,
    leak: bool,
    out: Out<'_>,
    early: impl FnOnce() -> EarlyHalf,
) -> Result<(Vec<Command>, u8), ConfigError> {
    let (first, second) = sections.split_at(at);
    let n = sections.len();
    finish_split(rd, first, second, opts, leak, out, || {
        early()
            .filter(|(a, len, _)| *a == at && *len == n)
            .map(|(_, _, h)| h)
    })
}

/// The calling thread's part of a split: reads and converts `first`, takes the second
/// half from `join` (`None`: redo it here), and puts both together in order.
fn finish_split(
    rd: &mut Reader<'_>,
    first: &[String],
    second: &[String],
    opts: &StreamOptions,
    leak: bool,
    out: Out<'_>,
    join: impl FnOnce() -> Option<Half>,
) -> Result<(Vec<Command>, u8), ConfigError> {
    {
        // this half is rendered as it is converted, while the other thread may still
        // work (the text is dropped on an error); a read error stops the sequential
        // run here too (the thread's result is dropped)
        let mut out = out;
        let out1 = out.as_mut().map(|(r, pieces)| (*r, &mut **pieces));
        let done1 = read_convert(rd, first, opts, out1)?;
        let (done2, text2) = match join() {
            Some(h) => {
                rd.log.lines.extend(h.read_log);
                rd.log.strict_errors.extend(h.read_strict);
                (h.done?, h.text)
            }
            // redo the second half here, after the first's read phase (its convert
            // phase's messages are set apart like the others)
            None => (read_convert(rd, second, opts, None)?, None),
        };
        let status = done1.status | done2.status;
        let (mut cmds, mut starts) = done1.settle(&mut rd.log)?;
        let (cmds2, starts2) = done2.settle(&mut rd.log)?;
        starts.extend(starts2);
        if let Some((r, pieces)) = out {
            // the text is the result: the second half's piece is kept as it is, and
            // the commands are not put together
            match text2 {
                Some(t2) => pieces.extend(t2),
                None => r(&cmds2, pieces),
            }
            r(&starts, pieces);
            if leak {
                std::mem::forget((cmds, cmds2, starts));
            }
            return Ok((Vec::new(), status));
        }
        cmds.extend(cmds2);
        cmds.extend(starts);
        Ok((cmds, status))
    }
}
