//! The per-file reader loops: [`run_inotify`] (a watch on the file for writes and on its
//! directory for files created, moved or deleted there, so a rotation is seen at once)
//! (plus a look every few seconds without events, for what inotify cannot see) and
//! [`run_polling`] (fail2ban's `(mtime, inode, size)` stat polling). Both sleep on a
//! [`Wake`] eventfd so that `FileReader::stop` interrupts them immediately.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

use super::ReadEvent;
use super::file::{LogFile, Out, Pass};
use super::py_os_error;
use crate::flog;
use crate::stream::py_str_repr;

/// An eventfd the stopping side writes to.
pub struct Wake {
    fd: OwnedFd,
}

impl Wake {
    pub fn new() -> io::Result<Wake> {
        // SAFETY: plain syscall; the returned descriptor is owned right below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(Wake {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own eventfd. A failure (counter
        // overflow) means it is already signalled.
        unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            );
        }
    }

    /// Waits until `timeout` passes (None: forever), the eventfd is signalled, or
    /// `other` becomes readable. Returns (woken, other_ready).
    fn wait(&self, other: Option<RawFd>, timeout: Option<Duration>) -> (bool, bool) {
        let mut fds = [
            libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: other.unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = match timeout {
            None => -1,
            Some(d) => d.as_millis().clamp(0, i32::MAX as u128) as i32,
        };
        // SAFETY: `fds` is a valid array of two pollfd for the whole call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if n <= 0 {
            return (false, false);
        }
        (fds[0].revents != 0, fds[1].revents != 0)
    }
}

/// fail2ban's polling: check `(mtime, inode, size)` after sleeps of 0.2, 0.4, 0.6… s
/// within a 2 s cycle (restarted after every change); read on a change. A path that
/// cannot be stat'ed 51 times in a row is dropped from monitoring.
pub fn run_polling(mut log: LogFile, out: Out, wake: &Wake) {
    const STEP: Duration = Duration::from_millis(200);
    const CYCLE: Duration = Duration::from_secs(2);
    let path = log.path.clone();
    let mut prev: Option<(i64, i64, u64, u64)> = None;
    let mut errors = 0u32;
    let mut cycle = Instant::now();
    let mut sleep = Duration::ZERO;
    while !out.stopped() {
        match std::fs::metadata(&path) {
            Ok(m) => {
                errors = 0;
                let stats = (m.mtime(), m.mtime_nsec(), m.ino(), m.len());
                if prev != Some(stats) {
                    flog!(DEBUG, "filterpoll", "{} has been modified", path.display());
                    prev = Some(stats);
                    if matches!(log.pass(&out), Pass::Stopped) {
                        return;
                    }
                    cycle = Instant::now();
                    sleep = Duration::ZERO;
                }
            }
            Err(e) => {
                if errors < 2 {
                    let msg = py_os_error(&e, &path);
                    if e.kind() == io::ErrorKind::NotFound {
                        flog!(
                            DEBUG,
                            "filterpoll",
                            "Log absence detected (possibly rotation) for {}, reason: {}",
                            path.display(),
                            msg
                        );
                    } else {
                        flog!(
                            ERROR,
                            "filterpoll",
                            "Unable to get stat on {} because of: {}",
                            path.display(),
                            msg
                        );
                    }
                }
                if !log.release(&out) {
                    return;
                }
                prev = None;
                errors += 1;
                if errors > 50 {
                    let msg = format!(
                        "Too many errors. Remove file {} from monitoring process",
                        py_str_repr(&path.to_string_lossy())
                    );
                    flog!(WARNING, "filterpoll", "{}", msg);
                    out.shared.removed.store(true, Ordering::Relaxed);
                    out.send(ReadEvent::Error {
                        path: path.clone(),
                        message: msg,
                    });
                    return;
                }
            }
        }
        if cycle.elapsed() >= CYCLE {
            cycle = Instant::now();
            sleep = Duration::ZERO;
            continue;
        }
        sleep += STEP;
        if wake.wait(None, Some(sleep)).0 {
            return;
        }
    }
}

/// Back-off for a missing file (and a failing open): fail2ban's pending-file checks.
struct Pending {
    next: Instant,
    delay: Duration,
}

const PENDING_FIRST: Duration = Duration::from_millis(200);
const PENDING_MAX: Duration = Duration::from_secs(60);
/// Longest sleep without any inotify event before the file is looked at anyway.
const SAFETY_TICK: Duration = Duration::from_secs(5);

struct Watcher {
    inotify: Inotify,
    dir: PathBuf,
    name: OsString,
    dir_wd: Option<WatchDescriptor>,
    /// The watch on the file and the inode it was added for.
    file_wd: Option<(WatchDescriptor, u64)>,
}

impl Watcher {
    fn new(path: &Path) -> io::Result<Watcher> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path.file_name().map(OsString::from).unwrap_or_default();
        Ok(Watcher {
            inotify: Inotify::init()?,
            dir,
            name,
            dir_wd: None,
            file_wd: None,
        })
    }

    fn watch_dir(&mut self) {
        if self.dir_wd.is_some() {
            return;
        }
        let mask = WatchMask::CREATE
            | WatchMask::MOVED_TO
            | WatchMask::MOVED_FROM
            | WatchMask::DELETE
            | WatchMask::ATTRIB
            | WatchMask::MOVE_SELF
            | WatchMask::DELETE_SELF
            | WatchMask::ONLYDIR;
        match self.inotify.watches().add(&self.dir, mask) {
            Ok(wd) => {
                self.dir_wd = Some(wd);
                flog!(
                    DEBUG,
                    "filterpyinotify",
                    "Added monitor for the parent directory {}",
                    self.dir.display()
                );
            }
            Err(e) => flog!(
                DEBUG,
                "filterpyinotify",
                "Cannot watch directory {}: {}",
                self.dir.display(),
                e
            ),
        }
    }

    /// Puts the file watch on inode `ino` (the file just read). True when a new watch
    /// was added: writes made before it were not reported, so the caller reads again.
    fn watch_file(&mut self, path: &Path, ino: u64) -> bool {
        if self.file_wd.as_ref().is_some_and(|(_, i)| *i == ino) {
            return false;
        }
        if let Some((wd, _)) = self.file_wd.take() {
            // The old inode may already be gone (its watch removed by the kernel).
            let _ = self.inotify.watches().remove(wd);
        }
        match self.inotify.watches().add(path, WatchMask::MODIFY) {
            Ok(wd) => {
                self.file_wd = Some((wd, ino));
                flog!(
                    DEBUG,
                    "filterpyinotify",
                    "Added file watcher for {}",
                    path.display()
                );
                true
            }
            Err(_) => false,
        }
    }
}

/// What the inotify events since the last look mean for our file.
#[derive(Default)]
struct Seen {
    changed: bool,
    /// Name of the event that touched the file's name in the directory.
    reason: Option<&'static str>,
    /// The file was (re)created at the path: the file watch must be renewed.
    created: bool,
}

fn mask_name(m: EventMask) -> &'static str {
    if m.contains(EventMask::CREATE) {
        "IN_CREATE"
    } else if m.contains(EventMask::MOVED_TO) {
        "IN_MOVED_TO"
    } else if m.contains(EventMask::MOVED_FROM) {
        "IN_MOVED_FROM"
    } else if m.contains(EventMask::DELETE) {
        "IN_DELETE"
    } else if m.contains(EventMask::MOVE_SELF) {
        "IN_MOVE_SELF"
    } else if m.contains(EventMask::DELETE_SELF) {
        "IN_DELETE_SELF"
    } else if m.contains(EventMask::ATTRIB) {
        "IN_ATTRIB"
    } else if m.contains(EventMask::IGNORED) {
        "IN_IGNORED"
    } else {
        "IN_MODIFY"
    }
}

fn read_events(w: &mut Watcher, buf: &mut [u8]) -> Seen {
    let mut seen = Seen::default();
    loop {
        let events = match w.inotify.read_events(buf) {
            Ok(ev) => ev,
            Err(_) => break, // WouldBlock: drained
        };
        let mut any = false;
        for ev in events {
            any = true;
            if ev.mask.contains(EventMask::Q_OVERFLOW) {
                seen.changed = true;
                continue;
            }
            if w.file_wd.as_ref().is_some_and(|(wd, _)| *wd == ev.wd) {
                if ev.mask.contains(EventMask::IGNORED) {
                    w.file_wd = None;
                }
                seen.changed = true;
            } else if w.dir_wd.as_ref() == Some(&ev.wd) {
                if ev
                    .mask
                    .intersects(EventMask::MOVE_SELF | EventMask::DELETE_SELF | EventMask::IGNORED)
                {
                    // The directory itself went away: the file with it.
                    if ev.mask.contains(EventMask::IGNORED) {
                        w.dir_wd = None;
                    }
                    seen.changed = true;
                    seen.reason.get_or_insert(mask_name(ev.mask));
                } else if ev.name.is_some_and(|n| n == w.name.as_os_str()) {
                    seen.changed = true;
                    seen.reason = Some(mask_name(ev.mask));
                    if ev.mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) {
                        seen.created = true;
                    }
                }
            }
        }
        if !any {
            break;
        }
    }
    seen
}

/// The inotify backend. Falls back to polling when inotify cannot be set up.
pub fn run_inotify(mut log: LogFile, out: Out, wake: &Wake) {
    let path = log.path.clone();
    let mut w = match Watcher::new(&path) {
        Ok(w) => w,
        Err(e) => {
            flog!(
                ERROR,
                "filterpyinotify",
                "Cannot use inotify for {} ({}), polling instead",
                path.display(),
                e
            );
            return run_polling(log, out, wake);
        }
    };
    w.watch_dir();
    // Watches first, then the first read: nothing written in between is missed.
    w.watch_file(&path, log.ino());
    flog!(
        MSG,
        "filterpyinotify",
        "Log absence detected (possibly rotation) for {}, reason: INITIAL of {}",
        path.display(),
        path.display()
    );
    let mut pending: Option<Pending> = Some(Pending {
        next: Instant::now(),
        delay: PENDING_FIRST,
    });
    let mut dirty = true;
    let mut reason: &'static str = "INITIAL";
    let mut buf = [0u8; 4096];
    while !out.stopped() {
        if dirty {
            dirty = false;
            match log.pass(&out) {
                Pass::Done => {
                    if pending.take().is_some() {
                        flog!(
                            MSG,
                            "filterpyinotify",
                            "Log presence detected for file {}",
                            path.display()
                        );
                    }
                    w.watch_dir();
                    if w.watch_file(&path, log.ino()) {
                        dirty = true;
                        continue;
                    }
                }
                Pass::Missing | Pass::Failed => {
                    if pending.is_none() {
                        flog!(
                            MSG,
                            "filterpyinotify",
                            "Log absence detected (possibly rotation) for {}, reason: {} of {}",
                            path.display(),
                            reason,
                            path.display()
                        );
                        pending = Some(Pending {
                            next: Instant::now() + PENDING_FIRST,
                            delay: PENDING_FIRST,
                        });
                    }
                }
                Pass::Stopped => return,
            }
        }
        let timeout = pending.as_ref().map_or(SAFETY_TICK, |p| {
            p.next.saturating_duration_since(Instant::now())
        });
        let (woken, ready) = wake.wait(Some(w.inotify.as_raw_fd()), Some(timeout));
        if woken {
            return;
        }
        if !ready && pending.is_none() {
            // Nothing reported for a while: look anyway (a pass on an unchanged file is
            // one stat), for changes inotify cannot see (e.g. the target of a symlinked
            // log rotated in another directory).
            dirty = true;
        }
        if ready {
            let seen = read_events(&mut w, &mut buf);
            if seen.changed {
                dirty = true;
            }
            if let Some(r) = seen.reason {
                reason = r;
            }
            if seen.created {
                // A new file at the path: its watch is renewed after the read.
                w.file_wd = w.file_wd.take().map(|(wd, _)| (wd, u64::MAX));
            }
        }
        if let Some(p) = pending.as_mut() {
            let now = Instant::now();
            if now >= p.next {
                w.watch_dir();
                dirty = true;
                p.delay = (p.delay * 2).min(PENDING_MAX);
                p.next = now + p.delay;
            }
        }
    }
}
