//! Log file reading for jails (compat-spec §4.3): [`FileReader::spawn`] hands a log file
//! to the reader hub (`hub`: one thread for all files of all jails), which sends
//! [`ReadEvent`]s to the jail over a crossbeam channel.
//!
//! Data flow: [`ReaderConfig`] → `file::LogFile::open` (start position from `head`/`tail`
//! and the saved (hash, position)) → the hub's watch state for the file (`watch`: inotify,
//! or fail2ban's stat polling) that calls `LogFile::pass` on every change → complete lines, decoded by
//! `logencoding` (`decode`), in batches with the position/hash after them → the jail.
//! The first pass may binary-search for a start time (`seek`). Rotation (smaller size,
//! new inode, new first line) restarts reading at 0 without losing or repeating lines.
//!
//! Deliberate differences from fail2ban (all in the direction of losing or repeating no
//! line): the last file read stays open until the next pass, so lines written just
//! before a rename/delete are still read; a vanished or replaced file always restarts
//! at 0; the first-line hash is also re-checked when the size changed; an initial pass
//! with nothing to read counts as having reached the end (`in_operation` from then on);
//! inotify mode also looks every 5 s without events at a file its watches may not see
//! whole (a path through a symlink, a network or FUSE mount, a watch refused); lines
//! over 1 MiB are cut.
//!
//! For the jail: use an unbounded channel (a full one would stall the hub, and with it
//! every other file), wrapped in an [`EventTx`] whose hook tells the jail's filter worker
//! there is work; store `pos`/`hash` only after processing the lines.

pub mod decode;
mod file;
mod hub;
mod seek;
mod watch;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{SendError, SendTimeoutError, Sender};

pub use decode::Encoding;
pub use file::first_line_hash;
pub use seek::TimeOf;

/// Where a newly added log is first read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    Head,
    Tail,
}

/// How changes are noticed. `auto` and `pyinotify` map to [`Backend::Inotify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Polling,
    Inotify,
}

impl Backend {
    /// The backend for a jail's `backend` value (`polling`, `pyinotify`, `auto`, with
    /// optional `[...]` options); None for ones without a file reader (`systemd`, …).
    pub fn from_name(name: &str) -> Option<Backend> {
        let base = name.split('[').next().unwrap_or(name).trim();
        match base {
            "polling" => Some(Backend::Polling),
            "pyinotify" | "auto" | "inotify" => Some(Backend::Inotify),
            _ => None,
        }
    }
}

pub struct ReaderConfig {
    pub jail: String,
    pub path: PathBuf,
    pub start: StartAt,
    /// (first-line hash, position) from the DB.
    pub saved: Option<(String, u64)>,
    /// `logencoding` ("auto", "UTF-8", "latin-1"…).
    pub encoding: String,
    pub backend: Backend,
    /// On the first read (not for Tail) skip to the first line with time >= since.
    pub seek_since: Option<f64>,
    /// Time of a line for the seek (the jail passes a closure over its own date detector).
    pub time_of: Option<TimeOf>,
}

/// Where a reader sends its events: the jail's channel, and a hook run after each event
/// is queued (the server's jails have no thread waiting on the channel: the hook hands
/// the jail to a filter worker). From a plain `Sender` it has no hook.
#[derive(Clone)]
pub struct EventTx {
    tx: Sender<ReadEvent>,
    queued: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl EventTx {
    pub fn new(tx: Sender<ReadEvent>, queued: Arc<dyn Fn() + Send + Sync>) -> EventTx {
        EventTx {
            tx,
            queued: Some(queued),
        }
    }

    pub fn send(&self, ev: ReadEvent) -> Result<(), SendError<ReadEvent>> {
        self.tx.send(ev)?;
        self.after_send();
        Ok(())
    }

    pub fn send_timeout(
        &self,
        ev: ReadEvent,
        wait: std::time::Duration,
    ) -> Result<(), SendTimeoutError<ReadEvent>> {
        self.tx.send_timeout(ev, wait)?;
        self.after_send();
        Ok(())
    }

    /// Events waiting in the channel.
    pub fn len(&self) -> usize {
        self.tx.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tx.is_empty()
    }

    fn after_send(&self) {
        if let Some(hook) = &self.queued {
            hook();
        }
    }
}

impl From<Sender<ReadEvent>> for EventTx {
    fn from(tx: Sender<ReadEvent>) -> EventTx {
        EventTx { tx, queued: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReadEvent {
    /// Complete lines (decoded, without the trailing newline), in order, and the file
    /// position/hash *after* them: the jail stores pos/hash in the DB only after it has
    /// processed the lines, so a restart neither loses nor re-counts a line.
    Lines {
        path: PathBuf,
        lines: Vec<String>,
        pos: u64,
        hash: String,
        in_operation: bool,
    },
    /// The file could not be read (logged by the reader too); the reader keeps trying,
    /// unless [`FileReader::is_removed`] says polling gave the file up.
    Error { path: PathBuf, message: String },
    /// Entries of a `systemd` jail's journal, with their own times (no date detection).
    Journal {
        lines: Vec<crate::journal::follow::JournalLine>,
        in_operation: bool,
    },
}

/// A log file being read (by the reader hub).
pub struct FileReader {
    path: PathBuf,
    id: u64,
    shared: Arc<file::Shared>,
    stopped: bool,
}

impl FileReader {
    /// Opens `cfg.path` (error if it does not exist, like fail2ban's addlogpath; also for
    /// an unknown `encoding`), logs `Added logfile: …` and hands it to the reader hub,
    /// which sends `ReadEvent`s to `tx` (an unbounded channel).
    pub fn spawn(mut cfg: ReaderConfig, tx: impl Into<EventTx>) -> io::Result<FileReader> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let log = file::LogFile::open(&mut cfg)?;
        let shared = Arc::new(file::Shared::default());
        let out = file::Out {
            tx: tx.into(),
            shared: shared.clone(),
        };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let hub = hub::Hub::get().map_err(io::Error::other)?;
        let entry = hub::Entry {
            id,
            log,
            out,
            backend: cfg.backend,
        };
        if !hub.send(hub::Cmd::Add(Box::new(entry))) {
            return Err(io::Error::other("the log reader thread is gone"));
        }
        Ok(FileReader {
            path: cfg.path,
            id,
            shared,
            stopped: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the polling backend dropped the file after 50 failed checks in a row
    /// (fail2ban's `Too many errors. Remove file …`); nothing more is read from it.
    pub fn is_removed(&self) -> bool {
        self.shared.removed.load(Ordering::Relaxed)
    }

    /// Stops reading; once it returns, no more events come from this file.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        // The flag ends a pass in progress early; the hub acknowledges the removal by
        // dropping `ack` (also when it has died: then nothing reads any more anyway).
        self.shared.stop.store(true, Ordering::Relaxed);
        let Ok(hub) = hub::Hub::get() else { return };
        let (ack, done) = crossbeam_channel::bounded::<()>(0);
        if hub.send(hub::Cmd::Remove(self.id, ack)) {
            let _ = done.recv();
        }
    }
}

impl Drop for FileReader {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// An OS error as Python prints it: `[Errno 2] No such file or directory: '/path'`.
pub fn py_os_error(e: &io::Error, path: &Path) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let text = e.to_string();
            let text = text
                .strip_suffix(&format!(" (os error {code})"))
                .unwrap_or(&text)
                .to_string();
            format!(
                "[Errno {code}] {text}: {}",
                crate::stream::py_str_repr(&path.to_string_lossy())
            )
        }
        None => e.to_string(),
    }
}
