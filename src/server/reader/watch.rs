//! The per-file watch states of the reader hub ([`super::hub`], one thread for all log
//! files): [`Poll`] (fail2ban's `(mtime, inode, size)` stat polling) and [`Notify`] (an
//! inotify watch on the file for writes and on its directory for files created, moved or
//! deleted there, so a rotation is seen at once; a file inotify may not see whole (see
//! [`blind`]) is also looked at every few seconds without events, the others only on
//! events, as fail2ban's pyinotify backend does). All files share one inotify instance
//! ([`Watches`]); the kernel gives one descriptor per inode and instance, so descriptors
//! are counted by user. [`Wake`] is the eventfd that interrupts the hub's sleep.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

use super::ReadEvent;
use super::file::{BUSY_RETRY, LogFile, Out, Pass};
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

    /// Resets the eventfd after a wake-up was seen.
    pub(super) fn clear(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64 from our own non-blocking eventfd;
        // EAGAIN (nothing signalled) is fine.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut v as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            );
        }
    }

    /// Waits until `timeout` passes (None: forever), the eventfd is signalled, or
    /// `other` becomes readable. Returns (woken, other_ready).
    pub(super) fn wait(&self, other: Option<RawFd>, timeout: Option<Duration>) -> (bool, bool) {
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
pub(super) struct Poll {
    prev: Option<(i64, i64, u64, u64)>,
    /// The last pass paused ([`Pass::Busy`]).
    busy: bool,
    errors: u32,
    cycle: Instant,
    sleep: Duration,
    /// When the next look is due.
    pub next: Instant,
}

impl Poll {
    pub fn new() -> Poll {
        let now = Instant::now();
        Poll {
            prev: None,
            busy: false,
            errors: 0,
            cycle: now,
            sleep: Duration::ZERO,
            next: now,
        }
    }

    /// One look at the file; false when it is dropped or its reader must end.
    pub fn step(&mut self, log: &mut LogFile, out: &Out) -> bool {
        const STEP: Duration = Duration::from_millis(200);
        const CYCLE: Duration = Duration::from_secs(2);
        let path = log.path.clone();
        match std::fs::metadata(&path) {
            Ok(m) => {
                self.errors = 0;
                let stats = (m.mtime(), m.mtime_nsec(), m.ino(), m.len());
                if self.prev != Some(stats) {
                    if !self.busy {
                        flog!(DEBUG, "filterpoll", "{} has been modified", path.display());
                    }
                    self.prev = Some(stats);
                    match log.pass(out) {
                        Pass::Stopped => return false,
                        Pass::Busy => {
                            // Not read to the end: look again soon, changed or not.
                            self.prev = None;
                            self.busy = true;
                            self.next = Instant::now() + BUSY_RETRY;
                            return true;
                        }
                        _ => self.busy = false,
                    }
                    self.cycle = Instant::now();
                    self.sleep = Duration::ZERO;
                }
            }
            Err(e) => {
                if self.errors < 2 {
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
                if !log.release(out) {
                    return false;
                }
                self.prev = None;
                self.errors += 1;
                if self.errors > 50 {
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
                    return false;
                }
            }
        }
        let now = Instant::now();
        if now.duration_since(self.cycle) >= CYCLE {
            // A new cycle starts with an immediate look.
            self.cycle = now;
            self.sleep = Duration::ZERO;
            self.next = now;
        } else {
            self.sleep += STEP;
            self.next = now + self.sleep;
        }
        true
    }
}

/// The hub's inotify instance and how many files use each watch descriptor.
pub(super) struct Watches {
    pub inotify: Inotify,
    refs: HashMap<WatchDescriptor, usize>,
}

impl Watches {
    pub fn new() -> io::Result<Watches> {
        Ok(Watches {
            inotify: Inotify::init()?,
            refs: HashMap::new(),
        })
    }

    fn add(&mut self, path: &Path, mask: WatchMask) -> io::Result<WatchDescriptor> {
        let wd = self.inotify.watches().add(path, mask)?;
        *self.refs.entry(wd.clone()).or_insert(0) += 1;
        Ok(wd)
    }

    /// One user less; the watch goes when nobody uses it any more.
    fn release(&mut self, wd: WatchDescriptor) {
        if let Some(n) = self.refs.get_mut(&wd) {
            *n -= 1;
            if *n == 0 {
                self.refs.remove(&wd);
                // The inode may already be gone (its watch removed by the kernel).
                let _ = self.inotify.watches().remove(wd);
            }
        }
    }

    /// After an event for `wd`: the kernel dropped the watch (IN_IGNORED), or its
    /// directory moved or went away (dropped for all users: it would follow a moved
    /// directory; each file then watches whatever directory has its path).
    pub fn after_event(&mut self, wd: &WatchDescriptor, mask: EventMask) {
        if mask.contains(EventMask::IGNORED) {
            self.refs.remove(wd);
        } else if mask.intersects(EventMask::MOVE_SELF | EventMask::DELETE_SELF)
            && self.refs.remove(wd).is_some()
        {
            let _ = self.inotify.watches().remove(wd.clone());
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
/// Longest time without any inotify event before a blind file is looked at anyway.
const SAFETY_TICK: Duration = Duration::from_secs(5);

/// The inotify state of one file.
pub(super) struct Notify {
    dir: PathBuf,
    name: OsString,
    dir_wd: Option<WatchDescriptor>,
    /// The watch on the file and the inode it was added for.
    file_wd: Option<(WatchDescriptor, u64)>,
    pending: Option<Pending>,
    /// A pass is due.
    pub dirty: bool,
    /// Name of the last event that touched the file's name (for the absence message).
    reason: &'static str,
    /// When the file is looked at anyway without events (None: only on events).
    look_at: Option<Instant>,
    /// inotify may miss changes at the path (see [`blind`]), judged when the file's
    /// watch is added.
    blind: bool,
    /// Of the events read in one go: the reason and whether the file was (re)created.
    batch_reason: Option<&'static str>,
    batch_created: bool,
}

impl Notify {
    /// Watches first, then the first read (a pass is due): nothing written in between
    /// is missed.
    pub fn start(log: &LogFile, w: &mut Watches) -> Notify {
        let path = &log.path;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let now = Instant::now();
        let mut n = Notify {
            dir,
            name: path.file_name().map(OsString::from).unwrap_or_default(),
            dir_wd: None,
            file_wd: None,
            pending: Some(Pending {
                next: now,
                delay: PENDING_FIRST,
            }),
            dirty: true,
            reason: "INITIAL",
            look_at: None,
            blind: true,
            batch_reason: None,
            batch_created: false,
        };
        n.watch_dir(w);
        n.watch_file(w, path, log.ino());
        flog!(
            MSG,
            "filterpyinotify",
            "Log absence detected (possibly rotation) for {}, reason: INITIAL of {}",
            path.display(),
            path.display()
        );
        n
    }

    /// Gives the watches back (the file leaves the hub).
    pub fn release(&mut self, w: &mut Watches) {
        if let Some(wd) = self.dir_wd.take() {
            w.release(wd);
        }
        if let Some((wd, _)) = self.file_wd.take() {
            w.release(wd);
        }
    }

    fn watch_dir(&mut self, w: &mut Watches) {
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
        match w.add(&self.dir, mask) {
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
    fn watch_file(&mut self, w: &mut Watches, path: &Path, ino: u64) -> bool {
        if self.file_wd.as_ref().is_some_and(|(_, i)| *i == ino) {
            return false;
        }
        if let Some((wd, _)) = self.file_wd.take() {
            w.release(wd);
        }
        self.blind = blind(path, &self.dir);
        match w.add(path, WatchMask::MODIFY) {
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

    /// Runs the passes that are due; false when the reader must end.
    pub fn run(&mut self, log: &mut LogFile, out: &Out, w: &mut Watches) -> bool {
        while self.dirty {
            if out.stopped() {
                return false;
            }
            self.dirty = false;
            match log.pass(out) {
                pass @ (Pass::Done | Pass::Busy) => {
                    if self.pending.take().is_some() {
                        flog!(
                            MSG,
                            "filterpyinotify",
                            "Log presence detected for file {}",
                            log.path.display()
                        );
                    }
                    self.watch_dir(w);
                    let new_watch = self.watch_file(w, &log.path, log.ino());
                    self.look_at = self.safety_look();
                    if pass == Pass::Busy {
                        // The rest is read after a short wait, not in this loop: the
                        // jail needs the time to catch up (a new watch changes nothing).
                        self.look_at = Some(Instant::now() + BUSY_RETRY);
                    } else if new_watch {
                        self.dirty = true;
                    }
                }
                Pass::Missing | Pass::Failed => {
                    if self.pending.is_none() {
                        flog!(
                            MSG,
                            "filterpyinotify",
                            "Log absence detected (possibly rotation) for {}, reason: {} of {}",
                            log.path.display(),
                            self.reason,
                            log.path.display()
                        );
                        self.pending = Some(Pending {
                            next: Instant::now() + PENDING_FIRST,
                            delay: PENDING_FIRST,
                        });
                    }
                }
                Pass::Stopped => return false,
            }
        }
        true
    }

    /// When the next timed look is due (None: none is, events alone wake the file).
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.as_ref().map_or(self.look_at, |p| Some(p.next))
    }

    /// The look without events after a pass: only where inotify may miss a change (a
    /// blind path, or a watch that could not be added). A file seen whole by its
    /// watches costs nothing while its log is quiet: no wake-up, no code run.
    fn safety_look(&self) -> Option<Instant> {
        let seen = !self.blind && self.dir_wd.is_some() && self.file_wd.is_some();
        (!seen).then(|| Instant::now() + SAFETY_TICK)
    }

    /// The timers: the retries of a missing file, the look without events.
    pub fn tick(&mut self, w: &mut Watches, now: Instant) {
        match self.pending.as_mut() {
            Some(p) => {
                if now >= p.next {
                    p.delay = (p.delay * 2).min(PENDING_MAX);
                    p.next = now + p.delay;
                    self.watch_dir(w);
                    self.dirty = true;
                }
            }
            None => {
                if self.look_at.is_some_and(|t| now >= t) {
                    // Nothing reported for a while: look anyway (a pass on an unchanged
                    // file is one stat), for changes inotify cannot see (e.g. the target
                    // of a symlinked log rotated in another directory).
                    self.dirty = true;
                }
            }
        }
    }

    /// One inotify event (the hub offers every event to every file).
    pub fn event(&mut self, wd: &WatchDescriptor, mask: EventMask, name: Option<&OsStr>) {
        if self.file_wd.as_ref().is_some_and(|(f, _)| f == wd) {
            if mask.contains(EventMask::IGNORED) {
                self.file_wd = None;
            }
            self.changed();
        } else if self.dir_wd.as_ref() == Some(wd) {
            if mask.intersects(EventMask::MOVE_SELF | EventMask::DELETE_SELF | EventMask::IGNORED) {
                // The directory itself went away, and the file with it (the hub drops
                // the watch for all its users).
                self.dir_wd = None;
                self.changed();
                self.batch_reason.get_or_insert(mask_name(mask));
            } else if name.is_some_and(|n| n == self.name.as_os_str()) {
                self.changed();
                self.batch_reason = Some(mask_name(mask));
                if mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) {
                    self.batch_created = true;
                }
            }
        }
    }

    /// Events were lost (queue overflow): the file may have changed.
    pub fn changed(&mut self) {
        self.dirty = true;
    }

    /// After the events read in one go.
    pub fn end_batch(&mut self) {
        if let Some(r) = self.batch_reason.take() {
            self.reason = r;
        }
        if std::mem::take(&mut self.batch_created) {
            // A new file at the path: its watch is renewed after the read.
            self.file_wd = self.file_wd.take().map(|(wd, _)| (wd, u64::MAX));
        }
    }
}

fn mask_name(m: EventMask) -> &'static str {
    // In order of precedence: an event with several bits is named by the first.
    const NAMES: [(EventMask, &str); 8] = [
        (EventMask::CREATE, "IN_CREATE"),
        (EventMask::MOVED_TO, "IN_MOVED_TO"),
        (EventMask::MOVED_FROM, "IN_MOVED_FROM"),
        (EventMask::DELETE, "IN_DELETE"),
        (EventMask::MOVE_SELF, "IN_MOVE_SELF"),
        (EventMask::DELETE_SELF, "IN_DELETE_SELF"),
        (EventMask::ATTRIB, "IN_ATTRIB"),
        (EventMask::IGNORED, "IN_IGNORED"),
    ];
    NAMES
        .iter()
        .find(|(bit, _)| m.contains(*bit))
        .map_or("IN_MODIFY", |(_, name)| name)
}

/// Whether inotify may miss changes to the log at `path` (in `dir`): the path goes
/// through a symlink (the target's own directory is not watched, so a rotation there
/// goes unseen), or it lies on a file system whose changes made elsewhere raise no
/// event (network and FUSE mounts). Unsure (the path does not resolve, statfs fails)
/// counts as blind: a look every few seconds is the safe side.
fn blind(path: &Path, dir: &Path) -> bool {
    let through_link = match std::fs::canonicalize(path) {
        Ok(real) => real != path,
        Err(_) => true,
    };
    through_link || remote_fs(dir).unwrap_or(true)
}

/// Whether `dir` is on a network or FUSE file system (None: statfs failed).
fn remote_fs(dir: &Path) -> Option<bool> {
    use std::os::unix::ffi::OsStrExt;
    // f_type values of <linux/magic.h> (and the FUSE, Ceph and CIFS ones of their modules)
    const REMOTE: [i64; 11] = [
        0x6969,      // NFS
        0x517b,      // SMB
        0xff53_4d42, // CIFS
        0xfe53_4d42, // SMB2
        0x6573_5546, // FUSE
        0x0102_1997, // 9P
        0x00c3_6400, // Ceph
        0x5346_414f, // AFS
        0x7375_7245, // Coda
        0x0116_1970, // GFS2
        0x7461_636f, // OCFS2
    ];
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: an all-zero statfs is a valid value for the kernel to fill in.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a writable statfs.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    let t = st.f_type as i64;
    Some(REMOTE.contains(&t))
}
