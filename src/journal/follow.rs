//! The journal reader thread of a `backend = systemd` jail: [`Follower::spawn`] opens one
//! `sd_journal` (options, matches), seeks to max(DB position, now − findtime), then sends
//! batches of [`JournalLine`]s to the jail's filter side as `ReadEvent::Journal`.
//!
//! Following blocks in `poll` on the journal's inotify fd and one process-wide eventfd
//! that [`Follower::stop`] signals (every follower wakes, only the stopped one ends and
//! drains it); a 1 s timeout re-checks the journal in case a writer's change went
//! unnoticed (mmap writes raise no inotify event). No busy polling: an idle jail costs
//! one wake-up a second and, like fail2ban, two fds (inotify, one per journal file).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use crate::journal::entry::{Fields, iso_time};
use crate::journal::ffi::{Journal, SD_JOURNAL_INVALIDATE};
use crate::journal::options::JournalOptions;
use crate::server::reader::{EventTx, ReadEvent};

/// The DB `logs.path` of a jail's journal position (fail2ban's name).
pub const DB_PATH: &str = "systemd-journal";

/// Entries per batch (fail2ban also hands over at most 100 before looking again).
const BATCH: usize = 100;

/// One journal entry for the filter: the line, its time and where it sits.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalLine {
    pub line: String,
    /// The entry's ISO time plus a space: stands for the date part of the line.
    pub time_text: String,
    /// Failure time (epoch seconds).
    pub time: f64,
    /// `__REALTIME_TIMESTAMP` (µs): the position stored in the DB.
    pub pos_usec: u64,
}

pub struct FollowConfig {
    pub jail: String,
    pub options: JournalOptions,
    /// `journalmatch` groups (ANDed inside, ORed between).
    pub matches: Vec<Vec<String>>,
    pub findtime: f64,
    /// The DB position (µs of the last processed entry).
    pub saved_usec: Option<u64>,
    pub encoding: String,
}

/// A running journal reader.
pub struct Follower {
    stop: Arc<AtomicBool>,
    /// The match groups it reads with (a reload with other matches replaces it).
    pub matches: Vec<Vec<String>>,
    /// `__REALTIME_TIMESTAMP` of the last entry sent (0: none yet).
    last: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

struct EventFd(libc::c_int);

impl EventFd {
    fn new() -> Result<EventFd, String> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(format!("eventfd: {}", std::io::Error::last_os_error()));
        }
        Ok(EventFd(fd))
    }

    fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a local to our own fd.
        unsafe { libc::write(self.0, (&one as *const u64).cast(), 8) };
    }

    fn drain(&self) {
        let mut n: u64 = 0;
        // SAFETY: reads 8 bytes into a local from our own non-blocking fd.
        unsafe { libc::read(self.0, (&mut n as *mut u64).cast(), 8) };
    }
}

/// The stop signal shared by all followers (one fd for the process, not one per jail).
fn wake() -> Result<&'static EventFd, String> {
    static WAKE: std::sync::OnceLock<Result<EventFd, String>> = std::sync::OnceLock::new();
    WAKE.get_or_init(EventFd::new)
        .as_ref()
        .map_err(Clone::clone)
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: our fd, closed once.
        unsafe { libc::close(self.0) };
    }
}

/// Adds the match groups as fail2ban does: each element a match, a disjunction after
/// each group.
pub fn apply_matches(j: &mut Journal, groups: &[Vec<String>]) -> Result<(), String> {
    for g in groups {
        for m in g {
            j.add_match(m)?;
        }
        j.add_disjunction()?;
    }
    Ok(())
}

/// `journalmatch` arguments (`A B + C`) as groups (`[[A, B], [C]]`).
pub fn match_groups(args: &[String]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for a in args {
        if a == "+" {
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            last.push(a.clone());
        }
    }
    out
}

/// Opens the journal of a jail with its matches (errors name what failed).
pub fn open(options: &JournalOptions, matches: &[Vec<String>]) -> Result<Journal, String> {
    let mut j = Journal::open(&options.source(), options.flags())?;
    apply_matches(&mut j, matches)?;
    Ok(j)
}

impl Follower {
    pub fn spawn(cfg: FollowConfig, tx: impl Into<EventTx>) -> Result<Follower, String> {
        let tx = tx.into();
        let j = open(&cfg.options, &cfg.matches)?;
        let stop = Arc::new(AtomicBool::new(false));
        let w = wake()?;
        let s2 = stop.clone();
        let last = Arc::new(AtomicU64::new(0));
        let l2 = last.clone();
        let matches = cfg.matches.clone();
        let thread = std::thread::Builder::new()
            .name(format!("f2b/j.{}", cfg.jail))
            .spawn(move || {
                run(j, cfg, tx, &s2, w, &l2);
                // The signal was for this follower: take it away from the others.
                w.drain();
            })
            .map_err(|e| e.to_string())?;
        Ok(Follower {
            stop,
            matches,
            last,
            thread: Some(thread),
        })
    }

    /// Stops the thread; returns the position of the last entry it sent (µs), if any.
    pub fn stop(mut self) -> Option<u64> {
        self.shutdown();
        Some(self.last.load(Ordering::Relaxed)).filter(|&l| l > 0)
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(w) = wake() {
            w.signal();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // A thread that had already ended left the signal up: the others must not spin.
        if let Ok(w) = wake() {
            w.drain();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn now_usec() -> u64 {
    (crate::server::jail::now() * 1e6) as u64
}

/// Where reading starts. Returns (in operation already, cursor of the last entry now).
fn seek_start(j: &mut Journal, cfg: &FollowConfig) -> Result<(bool, Option<String>), String> {
    j.seek_tail()?;
    let last = if j.previous_entry()? {
        j.cursor().ok()
    } else {
        None
    };
    let Some(last) = last else {
        // Nothing matching yet: start at now (fail2ban avoids seek_tail here too).
        j.seek_realtime_usec(now_usec())?;
        return Ok((true, None));
    };
    let since = now_usec().saturating_sub((cfg.findtime.max(0.0) * 1e6) as u64);
    let start = cfg.saved_usec.map_or(since, |s| s.max(since));
    j.seek_realtime_usec(start)?;
    Ok((false, Some(last)))
}

fn in_operation_now(jail: &str) {
    crate::flog!(
        INFO,
        "filter",
        "[{jail}] Jail is in operation now (process new journal entries)"
    );
}

fn run(
    mut j: Journal,
    cfg: FollowConfig,
    tx: EventTx,
    stop: &AtomicBool,
    wake: &EventFd,
    last: &AtomicU64,
) {
    if cfg.matches.iter().all(Vec::is_empty) {
        crate::flog!(
            NOTICE,
            "filter",
            "[{}] Jail started without 'journalmatch' set. Jail regexs will be checked against all journal entries, which is not advised for performance reasons.",
            cfg.jail
        );
    }
    let (mut in_op, mut start_cursor) = match seek_start(&mut j, &cfg) {
        Ok(x) => x,
        Err(e) => {
            crate::flog!(ERROR, "filter", "[{}] {e}", cfg.jail);
            (true, None)
        }
    };
    if in_op {
        in_operation_now(&cfg.jail);
    }
    let fd = match j.fd() {
        Ok(fd) => Some(fd),
        Err(e) => {
            crate::flog!(
                WARNING,
                "filter",
                "[{}] no journal fd ({e}); polling",
                cfg.jail
            );
            None
        }
    };
    let saved = cfg.saved_usec.unwrap_or(0);
    while !stop.load(Ordering::Relaxed) {
        let mut batch = Vec::new();
        let mut at_end = false;
        while batch.len() < BATCH && !stop.load(Ordering::Relaxed) {
            match j.next_entry() {
                Ok(true) => {}
                Ok(false) => {
                    at_end = true;
                    break;
                }
                Err(e) => {
                    crate::flog!(
                        ERROR,
                        "filter",
                        "Error reading line from systemd journal: {e}"
                    );
                    at_end = true;
                    break;
                }
            }
            let f = match Fields::read(&mut j) {
                Ok(f) => f,
                Err(e) => {
                    crate::flog!(
                        ERROR,
                        "filter",
                        "Error reading line from systemd journal: {e}"
                    );
                    continue;
                }
            };
            // Processed before the restart (the DB position is the last one done).
            if f.realtime <= saved {
                continue;
            }
            let time = f.time();
            if !in_op && time >= crate::server::jail::now() - 1.0 {
                if !batch.is_empty() {
                    send(last, &tx, std::mem::take(&mut batch), false);
                }
                in_op = true;
                in_operation_now(&cfg.jail);
            }
            // The entry that was last at start is the last "old" one.
            let last_old = !in_op && start_cursor.as_deref().is_some_and(|c| j.test_cursor(c));
            let line = f.line(&cfg.encoding);
            crate::server::log::emit(
                crate::server::log::LogLevel::HEAVYDEBUG,
                "fail2ban.filtersystemd",
                &format!(
                    "[{}] Read systemd journal entry: {} {line}",
                    cfg.jail,
                    iso_time(f.time_usec())
                ),
            );
            batch.push(JournalLine {
                time_text: format!("{} ", iso_time(f.time_usec())),
                line,
                time,
                pos_usec: f.realtime,
            });
            if last_old {
                send(last, &tx, std::mem::take(&mut batch), false);
                in_op = true;
                start_cursor = None;
                in_operation_now(&cfg.jail);
            }
        }
        if at_end && !in_op {
            if !batch.is_empty() {
                send(last, &tx, std::mem::take(&mut batch), false);
            }
            in_op = true;
            in_operation_now(&cfg.jail);
        }
        if !batch.is_empty() && !send(last, &tx, batch, in_op) {
            return;
        }
        if at_end {
            wait(&mut j, fd, wake, stop);
        }
    }
}

fn send(last: &AtomicU64, tx: &EventTx, lines: Vec<JournalLine>, in_operation: bool) -> bool {
    if let Some(l) = lines.last() {
        last.store(l.pos_usec, Ordering::Relaxed);
    }
    tx.send(ReadEvent::Journal {
        lines,
        in_operation,
    })
    .is_ok()
}

/// Blocks until the journal changed, the follower is stopped, or 1 s passed.
fn wait(j: &mut Journal, fd: Option<libc::c_int>, wake: &EventFd, stop: &AtomicBool) {
    let mut fds = [
        libc::pollfd {
            fd: wake.0,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: fd.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: two valid pollfd structs; a negative fd is ignored by poll.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, 1000) };
    if r < 0 || stop.load(Ordering::Relaxed) {
        return;
    }
    if fds[0].revents != 0 && fds[1].revents == 0 {
        // Another follower's stop: let its thread drain the signal before polling again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        return;
    }
    // Lets libsystemd notice appended data, new and rotated files.
    if let Ok(code) = j.process()
        && code == SD_JOURNAL_INVALIDATE
    {
        // After a rotation step back and forth so the position is not in dead space.
        if let Ok(true) = j.previous_entry() {
            let _ = j.next_entry();
        }
    }
}
