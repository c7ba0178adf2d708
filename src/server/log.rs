//! fail2ban.log: [`LogLevel`] with fail2ban's names and numbers, the file / syslog line
//! formatters ([`format_file_line`], [`format_syslog_line`]) and the process-wide logger
//! every server part writes through ([`emit`] and the `flog!` macro).
//!
//! The logger is global, as in fail2ban: readers, jails and the action runner log from
//! their own threads. The level check is one atomic load, so disabled levels cost
//! nothing. [`emit_deferred`] holds a file record back (in one process-wide buffer, so
//! the order of records stays the order of the calls) until the next [`emit`] or
//! [`flush`]: a run of `Found` lines costs one write, not one each. Targets other than
//! the plain sinks here are configured by the server (`set logtarget`), which calls
//! [`set_target`].

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

/// A log level: fail2ban's named levels or any other number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogLevel(pub u8);

impl LogLevel {
    pub const CRITICAL: LogLevel = LogLevel(50);
    pub const ERROR: LogLevel = LogLevel(40);
    pub const WARNING: LogLevel = LogLevel(30);
    pub const NOTICE: LogLevel = LogLevel(25);
    pub const INFO: LogLevel = LogLevel(20);
    pub const MSG: LogLevel = LogLevel(18);
    pub const DEBUG: LogLevel = LogLevel(10);
    pub const TRACEDEBUG: LogLevel = LogLevel(7);
    pub const HEAVYDEBUG: LogLevel = LogLevel(5);

    /// The level name as it appears in a log line.
    pub fn name(self) -> String {
        match self.known_name() {
            Some(n) => n.into(),
            None => format!("#{:02}-Lev.", self.0),
        }
    }

    /// The name of a named level (no allocation on the per-line path).
    fn known_name(self) -> Option<&'static str> {
        Some(match self.0 {
            50 => "CRITICAL",
            40 => "ERROR",
            30 => "WARNING",
            25 => "NOTICE",
            20 => "INFO",
            18 => "MSG",
            10 => "DEBUG",
            7 => "TRACE",
            5 => "HEAVY",
            0 => "NOTSET",
            _ => return None,
        })
    }

    /// Parses `loglevel` values as fail2ban accepts them: digits or a level name.
    pub fn parse(s: &str) -> Result<LogLevel, String> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<u8>()
                .map(LogLevel)
                .map_err(|_| format!("Invalid log level {s:?}"));
        }
        Ok(match s.to_uppercase().as_str() {
            "CRITICAL" | "FATAL" => Self::CRITICAL,
            "ERROR" => Self::ERROR,
            "WARNING" | "WARN" => Self::WARNING,
            "NOTICE" => Self::NOTICE,
            "INFO" => Self::INFO,
            "MSG" => Self::MSG,
            "DEBUG" => Self::DEBUG,
            "TRACEDEBUG" => Self::TRACEDEBUG,
            "HEAVYDEBUG" => Self::HEAVYDEBUG,
            "NOTSET" => LogLevel(0),
            _ => return Err(format!("Invalid log level {s:?}")),
        })
    }
}

/// Where log lines go.
pub enum Target {
    /// Nothing (before the server configured logging, and in unit tests).
    Discard,
    /// `STDOUT` / `STDERR` / a file: full lines with time and padding.
    Stream(Box<dyn Write + Send>),
    /// Lines collected in memory (tests).
    Memory(Vec<String>),
    /// A log file, kept with its path so `flushlogs` / SIGUSR1 can reopen it.
    File(std::path::PathBuf, std::fs::File),
    /// syslog over a unix datagram socket (`/dev/log`): `<pri>` + the syslog line;
    /// the `u8` is the facility number (auth = 4, daemon = 3, …).
    Syslog(std::os::unix::net::UnixDatagram, u8),
}

/// Reopens a file target (append) after log rotation; true if the target is a file.
pub fn reopen() -> bool {
    let mut guard = match TARGET.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Target::File(path, file) = &mut *guard {
        write_pending(file, &[]);
        if let Ok(f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&*path)
        {
            *file = f;
        }
        return true;
    }
    false
}

/// syslog severity of a level (NOTICE maps to notice).
fn syslog_severity(level: LogLevel) -> u8 {
    match level.0 {
        50.. => 2,
        40..=49 => 3,
        30..=39 => 4,
        25..=29 => 5,
        20..=24 => 6,
        _ => 7,
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(20);
static TARGET: Mutex<Target> = Mutex::new(Target::Discard);
/// File records held back by [`emit_deferred`]. Locked only while holding `TARGET`.
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Held-back bytes past which a deferred record is written at once.
const PENDING_MAX: usize = 32 * 1024;

fn lock_target() -> std::sync::MutexGuard<'static, Target> {
    match TARGET.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn lock_pending() -> std::sync::MutexGuard<'static, Vec<u8>> {
    match PENDING.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Writes the held-back records and then `line` to `file` in one write (the caller
/// holds `TARGET`). A failing log sink must not take the server down: dropped then.
fn write_pending(file: &mut std::fs::File, line: &[u8]) {
    let mut pending = lock_pending();
    if pending.is_empty() {
        if !line.is_empty() {
            let _ = file.write_all(line);
        }
        return;
    }
    pending.extend_from_slice(line);
    let _ = file.write_all(&pending);
    pending.clear();
    if pending.capacity() > 4 * PENDING_MAX {
        pending.shrink_to(PENDING_MAX);
    }
}

/// Writes the records [`emit_deferred`] held back.
pub fn flush() {
    if let Target::File(_, f) = &mut *lock_target() {
        write_pending(f, &[]);
    }
}

/// As [`emit`], but a file record may wait for the next [`emit`] or [`flush`] (callers
/// logging a run of records flush after the run).
pub fn emit_deferred(level: LogLevel, name: &str, msg: &str) {
    if !enabled(level) {
        return;
    }
    let mut guard = lock_target();
    let Target::File(_, f) = &mut *guard else {
        drop(guard);
        return emit(level, name, msg);
    };
    let mut line = file_line_now(name, std::process::id(), level, msg);
    line.push('\n');
    let mut pending = lock_pending();
    pending.extend_from_slice(line.as_bytes());
    if pending.len() >= PENDING_MAX {
        let _ = f.write_all(&pending);
        pending.clear();
    }
}

/// Sets the minimum level that is written.
pub fn set_level(level: LogLevel) {
    LEVEL.store(level.0, Ordering::Relaxed);
}

/// The current minimum level.
pub fn level() -> LogLevel {
    LogLevel(LEVEL.load(Ordering::Relaxed))
}

/// True if a record at `level` would be written (check before formatting costly messages).
pub fn enabled(level: LogLevel) -> bool {
    level.0 >= LEVEL.load(Ordering::Relaxed)
}

/// Replaces the sink; returns the previous one (so a caller can drain a `Memory` sink).
pub fn set_target(target: Target) -> Target {
    let mut t = lock_target();
    if let Target::File(_, f) = &mut *t {
        write_pending(f, &[]);
    }
    std::mem::replace(&mut *t, target)
}

/// Writes one record from logger `name` (`fail2ban.filter`, `fail2ban.actions`, …).
pub fn emit(level: LogLevel, name: &str, msg: &str) {
    if !enabled(level) {
        return;
    }
    let mut guard = lock_target();
    match &mut *guard {
        Target::Discard => {}
        Target::Stream(w) => {
            let mut line = file_line_now(name, std::process::id(), level, msg);
            line.push('\n');
            // A failing log sink must not take the server down; the record is dropped.
            let _ = w.write_all(line.as_bytes());
            let _ = w.flush();
        }
        Target::File(_, f) => {
            let mut line = file_line_now(name, std::process::id(), level, msg);
            line.push('\n');
            // One write per record (a reader never sees half a line), after the records
            // held back, if any.
            write_pending(f, line.as_bytes());
        }
        Target::Syslog(sock, facility) => {
            let line = format!(
                "<{}>{}",
                u16::from(*facility) * 8 + u16::from(syslog_severity(level)),
                format_syslog_line(name, std::process::id(), level, msg)
            );
            let _ = sock.send(line.as_bytes());
        }
        Target::Memory(lines) => {
            lines.push(format_file_line(
                &chrono::Local::now(),
                name,
                std::process::id(),
                level,
                msg,
            ));
        }
    }
}

/// `flog!(NOTICE, "actions", "[{}] Ban {}", jail, ip)` logs to `fail2ban.actions` at NOTICE,
/// formatting only when the level is enabled.
#[macro_export]
macro_rules! flog {
    ($level:ident, $name:literal, $($arg:tt)+) => {
        if $crate::server::log::enabled($crate::server::log::LogLevel::$level) {
            $crate::server::log::emit(
                $crate::server::log::LogLevel::$level,
                concat!("fail2ban.", $name),
                &format!($($arg)+),
            );
        }
    };
}

/// File/STDOUT line: `YYYY-MM-DD HH:MM:SS,mmm <name:24>[pid]: <LEVEL:7> message`.
pub fn format_file_line(
    time: &chrono::DateTime<chrono::Local>,
    logger: &str,
    pid: u32,
    level: LogLevel,
    msg: &str,
) -> String {
    use chrono::Timelike;
    let ms = (time.nanosecond() / 1_000_000).min(999);
    file_line(&local_seconds(time), ms, logger, pid, level, msg)
}

/// `YYYY-MM-DD HH:MM:SS` of a local time (written field by field: a strftime pattern is
/// re-parsed on every call).
fn local_seconds(time: &chrono::DateTime<chrono::Local>) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
    )
}

/// The file line of a record logged now. The local date text of the current second is
/// kept per thread: a busy jail logs many lines a second, and the local-time conversion
/// and date formatting cost more than the rest of the line.
fn file_line_now(logger: &str, pid: u32, level: LogLevel, msg: &str) -> String {
    use chrono::TimeZone;
    use std::cell::RefCell;
    thread_local! {
        static STAMP: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) else {
        return format_file_line(&chrono::Local::now(), logger, pid, level, msg);
    };
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let ms = d.subsec_millis();
    STAMP.with(|cell| {
        let mut stamp = cell.borrow_mut();
        if stamp.0 != secs {
            let Some(t) = chrono::Local.timestamp_opt(secs, 0).single() else {
                return format_file_line(&chrono::Local::now(), logger, pid, level, msg);
            };
            *stamp = (secs, local_seconds(&t));
        }
        file_line(&stamp.1, ms, logger, pid, level, msg)
    })
}

/// The line from its parts (`date`: `YYYY-MM-DD HH:MM:SS`).
fn file_line(date: &str, ms: u32, logger: &str, pid: u32, level: LogLevel, msg: &str) -> String {
    use std::fmt::Write as _;
    // Padded by hand: a flood logs a line per failure, and the formatter's padding
    // machinery cost more than the rest of the line.
    let mut out = String::with_capacity(64 + logger.len().max(24) + msg.len());
    out.push_str(date);
    out.push(',');
    for d in [ms / 100 % 10, ms / 10 % 10, ms % 10] {
        out.push(char::from_digit(d, 10).unwrap_or('0'));
    }
    out.push(' ');
    push_padded(&mut out, logger, 24);
    let _ = write!(out, "[{pid}]: ");
    match level.known_name() {
        Some(n) => push_padded(&mut out, n, 7),
        None => push_padded(&mut out, &level.name(), 7),
    }
    out.push(' ');
    out.push_str(msg);
    out
}

/// `s` left-aligned in `width` characters (Python's `%-Ns`).
fn push_padded(out: &mut String, s: &str, width: usize) {
    out.push_str(s);
    for _ in s.chars().count()..width {
        out.push(' ');
    }
}

/// SYSLOG target line: no time, no padding.
pub fn format_syslog_line(logger: &str, pid: u32, level: LogLevel, msg: &str) -> String {
    format!("{logger}[{pid}]: {} {msg}", level.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn matches_captured_lines() {
        let t = chrono::Local
            .with_ymd_and_hms(2026, 11, 21, 15, 52, 46)
            .single()
            .unwrap()
            + chrono::Duration::milliseconds(547);
        assert_eq!(
            format_file_line(
                &t,
                "fail2ban.actions",
                8072,
                LogLevel::NOTICE,
                "[test] Ban 192.0.2.5"
            ),
            "2026-11-21 15:52:46,547 fail2ban.actions        [8072]: NOTICE  [test] Ban 192.0.2.5"
        );
        assert_eq!(
            format_syslog_line(
                "fail2ban.actions",
                8072,
                LogLevel::NOTICE,
                "[test] Ban 192.0.2.5"
            ),
            "fail2ban.actions[8072]: NOTICE [test] Ban 192.0.2.5"
        );
        assert_eq!(LogLevel::parse("20"), Ok(LogLevel::INFO));
        assert_eq!(LogLevel::parse("notice"), Ok(LogLevel::NOTICE));
        assert_eq!(LogLevel(12).name(), "#12-Lev.");
    }

    #[test]
    fn pieces_are_padded_as_python_pads_them() {
        let d = "2026-11-21 15:52:46";
        assert_eq!(
            file_line(d, 7, "fail2ban.a-logger-name-over-24", 0, LogLevel(12), "m"),
            "2026-11-21 15:52:46,007 fail2ban.a-logger-name-over-24[0]: #12-Lev. m"
        );
        assert_eq!(
            file_line(d, 999, "fail2ban.jäil", 4_294_967_295, LogLevel::ERROR, ""),
            "2026-11-21 15:52:46,999 fail2ban.jäil           [4294967295]: ERROR   "
        );
    }

    #[test]
    fn line_now_has_the_local_time_of_now() {
        // The cached date text must be what a fresh conversion gives: compare with
        // lines formatted from clock readings just before and after (one of the two
        // seconds, with its milliseconds in between).
        for _ in 0..3 {
            let before = chrono::Local::now();
            let line = file_line_now("fail2ban.filter", 42, LogLevel::INFO, "x");
            let after = chrono::Local::now();
            let a = format_file_line(&before, "fail2ban.filter", 42, LogLevel::INFO, "x");
            let b = format_file_line(&after, "fail2ban.filter", 42, LogLevel::INFO, "x");
            assert!(a <= line && line <= b, "{a} <= {line} <= {b}");
            assert_eq!(line.len(), a.len());
            assert_eq!(line[23..], a[23..]);
        }
    }
}
