//! One monitored log file ([`LogFile`]): its position, first-line hash and inode, the
//! rotation check, and [`LogFile::pass`], which reads every new complete line and sends
//! them to the jail in [`ReadEvent::Lines`] batches through an [`Out`].
//!
//! Unlike fail2ban, the reader keeps the file it last read open between passes. When the
//! path later names another file (rename + create, delete + create), the complete lines
//! still unread in the old file are read first, then the old file is closed. Holding it
//! open also stops its inode number from being reused by a re-created file, which would
//! hide the rotation. A file that vanishes is closed at once.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::SendTimeoutError;

use super::decode::{Encoding, py_bytes_repr, trim_cr};
use super::seek::{self, TimeOf};
use super::{EventTx, ReadEvent, ReaderConfig, StartAt, py_os_error};
use crate::flog;
use crate::server::log::{LogLevel, emit, enabled};
use crate::stream::py_str_repr;

/// Lines per [`ReadEvent::Lines`] at most, and bytes of line text per event at most.
const BATCH_LINES: usize = 4096;
const BATCH_BYTES: usize = 1 << 20;
const READ_CHUNK: usize = 64 * 1024;
/// Batches a jail may have waiting before the reader pauses its file: reading is far
/// faster than matching, and without a bound a burst (or a large file read from its
/// head) would sit in memory whole. The pause keeps the position; the rest is read
/// once the jail has caught up ([`Pass::Busy`]).
const MAX_QUEUED: usize = 4;
/// How soon a paused file is read again (a batch takes the jail ~10 ms to match).
pub(super) const BUSY_RETRY: Duration = Duration::from_millis(10);
/// Longer lines are cut to this many bytes (memory per reader stays bounded).
pub(super) const MAX_LINE: usize = 1 << 20;
/// How often the first-line hash is re-read when size and inode look unchanged.
const HASH_RECHECK: Duration = Duration::from_secs(30);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// State shared between a reader thread and its [`super::FileReader`].
#[derive(Default)]
pub struct Shared {
    pub stop: AtomicBool,
    pub removed: AtomicBool,
}

/// The sending side of a reader: gives up when the reader is stopped or the jail gone.
pub struct Out {
    pub tx: EventTx,
    pub shared: Arc<Shared>,
}

impl Out {
    pub fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    /// Whether the jail has enough batches waiting that reading on should wait.
    fn busy(&self) -> bool {
        self.tx.len() >= MAX_QUEUED
    }

    /// Sends `ev`; false when the reader must end (stopped, or the receiver is gone).
    /// A full bounded channel is waited on, but never past a stop request, so `stop`
    /// cannot deadlock with a jail that no longer drains the channel.
    pub fn send(&self, mut ev: ReadEvent) -> bool {
        loop {
            match self.tx.send_timeout(ev, Duration::from_millis(100)) {
                Ok(()) => return true,
                Err(SendTimeoutError::Timeout(e)) => {
                    if self.stopped() {
                        return false;
                    }
                    ev = e;
                }
                Err(SendTimeoutError::Disconnected(_)) => {
                    self.shared.stop.store(true, Ordering::Relaxed);
                    return false;
                }
            }
        }
    }
}

/// The result of one pass over the file.
#[derive(Debug, PartialEq)]
pub enum Pass {
    /// Read to the end (possibly nothing new).
    Done,
    /// Paused before the end: the jail has [`MAX_QUEUED`] batches waiting. The next
    /// pass goes on from the position reached.
    Busy,
    /// The path does not exist (the old file's lines were read first).
    Missing,
    /// The file could not be opened or read (logged, and an Error event sent).
    Failed,
    /// The reader was stopped, or the jail is gone.
    Stopped,
}

struct Handle {
    file: File,
    dev: u64,
    ino: u64,
}

pub struct LogFile {
    pub path: PathBuf,
    enc: Encoding,
    enc_name: String,
    handle: Option<Handle>,
    ino: u64,
    pos: u64,
    hash: String,
    hash_next: Instant,
    in_operation: bool,
    seek: Option<(f64, TimeOf)>,
    /// The path vanished since the last read: whatever appears there next is a new file.
    vanished: bool,
    /// When the last decode-error WARNING was logged (later ones are trace level).
    decode_warned: Option<Instant>,
    /// An open error was logged and not followed by a successful open yet.
    open_failing: bool,
    /// The file size seen by the last pass.
    last_size: u64,
}

/// How a read of the file's new lines ended.
#[derive(Debug, PartialEq)]
enum Read {
    /// At the end of the file.
    End,
    /// Early, at a line boundary: the jail is [`Out::busy`].
    Paused,
    /// The reader must stop.
    Stopped,
}

impl LogFile {
    /// Opens the file and sets the start position like fail2ban's `addLogPath`: `tail` →
    /// end of file; `head` → the saved position if the saved hash is the current one.
    pub fn open(cfg: &mut ReaderConfig) -> io::Result<LogFile> {
        let enc = Encoding::lookup(&cfg.encoding)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let enc_name = if cfg.encoding.eq_ignore_ascii_case("auto") {
            "UTF-8".to_string()
        } else {
            cfg.encoding.clone()
        };
        let file = File::open(&cfg.path)?;
        let meta = file.metadata()?;
        let hash = if meta.len() > 0 {
            first_line_hash(&file)?
        } else {
            String::new()
        };
        let tail = matches!(cfg.start, StartAt::Tail);
        let mut pos = if tail { meta.len() } else { 0 };
        if let Some((saved_hash, saved_pos)) = &cfg.saved
            && !tail
            && *saved_hash == hash
            && *saved_pos > 0
        {
            pos = *saved_pos;
        }
        let seek = match (tail, cfg.seek_since, cfg.time_of.take()) {
            (false, Some(since), Some(f)) => Some((since, f)),
            _ => None,
        };
        flog!(
            INFO,
            "filter",
            "Added logfile: {} (pos = {}, hash = {})",
            py_str_repr(&cfg.path.to_string_lossy()),
            pos,
            hash
        );
        Ok(LogFile {
            path: cfg.path.clone(),
            enc,
            enc_name,
            ino: meta.ino(),
            handle: Some(Handle {
                dev: meta.dev(),
                ino: meta.ino(),
                file,
            }),
            pos,
            hash,
            hash_next: Instant::now() + HASH_RECHECK,
            in_operation: tail,
            seek,
            vanished: false,
            decode_warned: None,
            open_failing: false,
            last_size: meta.len(),
        })
    }

    /// The current inode (of the file last read).
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// Reads the lines still unread in the file last opened and closes it (its path is
    /// gone); the next file at the path is read from its start.
    pub fn release(&mut self, out: &Out) -> bool {
        self.vanished = true;
        match self.handle.take() {
            // A read error on a file that is gone is not worth more than losing its tail.
            Some(old) => !matches!(self.read_lines(&old.file, out, false), Ok(Read::Stopped)),
            None => true,
        }
    }

    /// One pass: rotation check on the file now at the path, the initial seek on the
    /// first pass, then every complete line up to the end of the file.
    pub fn pass(&mut self, out: &Out) -> Pass {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) => return self.missing_or_failed(e, out),
        };
        let same = self
            .handle
            .as_ref()
            .is_some_and(|h| h.dev == meta.dev() && h.ino == meta.ino());
        let meta = if same {
            meta
        } else {
            let file = match File::open(&self.path) {
                Ok(f) => f,
                Err(e) => return self.missing_or_failed(e, out),
            };
            let m = match file.metadata() {
                Ok(m) => m,
                Err(e) => return self.missing_or_failed(e, out),
            };
            if let Some(old) = self.handle.take() {
                match self.read_lines(&old.file, out, false) {
                    Ok(Read::Stopped) => return Pass::Stopped,
                    Ok(_) => {}
                    // The old file is gone anyway; its read error does not matter now.
                    Err(_) => {}
                }
            }
            self.handle = Some(Handle {
                dev: m.dev(),
                ino: m.ino(),
                file,
            });
            m
        };
        self.open_failing = false;
        let Some(h) = self.handle.take() else {
            return Pass::Failed;
        };
        let res = self.pass_open(&h.file, meta.len(), meta.ino(), out);
        self.handle = Some(h);
        match res {
            Ok(Read::End) => Pass::Done,
            Ok(Read::Paused) => Pass::Busy,
            Ok(Read::Stopped) => Pass::Stopped,
            Err(e) => {
                let msg = py_os_error(&e, &self.path);
                flog!(
                    ERROR,
                    "filter",
                    "Unable to read {}: {}",
                    self.path.display(),
                    msg
                );
                if out.send(ReadEvent::Error {
                    path: self.path.clone(),
                    message: msg,
                }) {
                    Pass::Failed
                } else {
                    Pass::Stopped
                }
            }
        }
    }

    fn missing_or_failed(&mut self, e: io::Error, out: &Out) -> Pass {
        if e.kind() == io::ErrorKind::NotFound {
            return if self.release(out) {
                Pass::Missing
            } else {
                Pass::Stopped
            };
        }
        let msg = py_os_error(&e, &self.path);
        if !self.open_failing {
            self.open_failing = true;
            flog!(ERROR, "filter", "Unable to open {}", self.path.display());
            flog!(ERROR, "filter", "{}", msg);
        }
        if out.send(ReadEvent::Error {
            path: self.path.clone(),
            message: msg,
        }) {
            Pass::Failed
        } else {
            Pass::Stopped
        }
    }

    fn pass_open(&mut self, file: &File, size: u64, ino: u64, out: &Out) -> io::Result<Read> {
        let rotated = size < self.pos || ino != self.ino || self.vanished;
        let now = Instant::now();
        // fail2ban re-reads the first line at most every 30 s when the file did not
        // shrink; gaol also does whenever the size changed (one small read per pass with
        // new data), so a copytruncate followed by more new data than the old position
        // is still seen as a new file rather than read from the middle.
        let resized = size != self.last_size;
        self.last_size = size;
        if rotated || resized || self.hash.is_empty() || now > self.hash_next {
            let my_hash = first_line_hash(file)?;
            if !my_hash.is_empty() {
                self.hash_next = now + HASH_RECHECK;
            }
            if rotated || my_hash != self.hash {
                if !self.hash.is_empty() {
                    flog!(
                        MSG,
                        "filter",
                        "Log rotation detected for {}, reason: ({}, {}, {}, {}, '{}', '{}')",
                        self.path.display(),
                        size,
                        self.pos,
                        ino,
                        self.ino,
                        my_hash,
                        self.hash
                    );
                    self.pos = 0;
                } else if rotated {
                    // fail2ban keeps the old position here; a new file starts at 0.
                    self.pos = 0;
                }
                self.ino = ino;
                self.hash = my_hash;
                self.vanished = false;
            }
        }
        // Taken even for an empty file: the seek is for the first read only.
        if let Some((since, mut time_of)) = self.seek.take()
            && size > 0
        {
            flog!(
                DEBUG,
                "filter",
                "Seek to find time {} ({}), file size {}",
                since,
                time2str(since),
                size
            );
            let from = self.pos;
            self.pos = seek::seek_to_time(file, from, size, since, &mut time_of, self.enc)?;
            flog!(
                DEBUG,
                "filter",
                "Position {} from {} (start {}) after seek",
                self.pos,
                size,
                from
            );
        }
        if size <= self.pos {
            self.in_operation = true;
            return Ok(Read::End);
        }
        self.read_lines(file, out, true)
    }

    /// Streams the complete lines from the current position to the end of `file` to
    /// the jail in batches; the position then points after the last complete line.
    /// `may_pause`: stop early, at a line boundary, when the jail is [`Out::busy`]; a
    /// file about to be closed is read to its end instead.
    fn read_lines(&mut self, file: &File, out: &Out, may_pause: bool) -> io::Result<Read> {
        if may_pause && out.busy() {
            return Ok(Read::Paused);
        }
        let mut buf = vec![0u8; READ_CHUNK];
        let mut filled = 0usize;
        let mut batch: Vec<String> = Vec::new();
        let mut batch_bytes = 0usize;
        loop {
            if filled == buf.len() && buf.len() >= MAX_LINE {
                // buf holds the start of one over-long line: keep that much of it and
                // skip the rest without buffering it, once its end has been written.
                let Some(nl) = find_newline(file, self.pos + filled as u64)? else {
                    break;
                };
                flog!(
                    WARNING,
                    "filter",
                    "Line longer than {} bytes in {} at {}: truncated",
                    MAX_LINE,
                    self.path.display(),
                    self.pos
                );
                let mut raw = std::mem::take(&mut buf);
                raw.push(b'\n');
                let line = self.decode_line(&raw);
                batch_bytes += line.len();
                batch.push(line);
                buf = vec![0u8; READ_CHUNK];
                filled = 0;
                self.pos = nl + 1;
                if batch.len() >= BATCH_LINES || batch_bytes >= BATCH_BYTES {
                    let pos = self.pos;
                    if !self.flush(file, &mut batch, pos, out)? {
                        return Ok(Read::Stopped);
                    }
                    batch_bytes = 0;
                    if may_pause && out.busy() {
                        return Ok(Read::Paused);
                    }
                }
                continue;
            }
            if filled == buf.len() {
                // A line longer than the buffer: grow for it (memory ~ longest line).
                buf.resize((buf.len() * 2).min(MAX_LINE), 0);
            }
            let n = file.read_at(&mut buf[filled..], self.pos + filled as u64)?;
            if n == 0 {
                break;
            }
            let scan_from = filled;
            filled += n;
            let mut start = 0usize;
            for nl in memchr::memchr_iter(b'\n', &buf[scan_from..filled]) {
                let end = scan_from + nl + 1;
                let line = self.decode_line(&buf[start..end]);
                batch_bytes += line.len();
                batch.push(line);
                start = end;
                if batch.len() >= BATCH_LINES || batch_bytes >= BATCH_BYTES {
                    let pos = self.pos + start as u64;
                    if !self.flush(file, &mut batch, pos, out)? {
                        return Ok(Read::Stopped);
                    }
                    batch_bytes = 0;
                    if may_pause && out.busy() {
                        // Everything up to `start` was sent; the rest is read again.
                        self.pos = pos;
                        return Ok(Read::Paused);
                    }
                }
            }
            self.pos += start as u64;
            buf.copy_within(start..filled, 0);
            filled -= start;
            if buf.len() > READ_CHUNK && filled < READ_CHUNK {
                buf.truncate(READ_CHUNK);
                buf.shrink_to_fit();
            }
        }
        if !batch.is_empty() {
            let pos = self.pos;
            if !self.flush(file, &mut batch, pos, out)? {
                return Ok(Read::Stopped);
            }
        }
        self.in_operation = true;
        Ok(Read::End)
    }

    fn flush(
        &mut self,
        file: &File,
        batch: &mut Vec<String>,
        pos: u64,
        out: &Out,
    ) -> io::Result<bool> {
        if self.hash.is_empty() {
            // The first line was incomplete (or absent) when the hash was last taken.
            self.hash = first_line_hash(file)?;
            self.hash_next = Instant::now() + HASH_RECHECK;
        }
        let ok = out.send(ReadEvent::Lines {
            path: self.path.clone(),
            lines: std::mem::take(batch),
            pos,
            hash: self.hash.clone(),
            in_operation: self.in_operation,
        });
        Ok(ok && !out.stopped())
    }

    /// Decodes one raw line (with its `\n`), logging undecodable input like fail2ban.
    fn decode_line(&mut self, raw: &[u8]) -> String {
        let body = trim_cr(&raw[..raw.len() - 1]);
        let (text, bad) = self.enc.decode(body);
        if bad {
            self.warn_decode(raw);
        }
        text.into_owned()
    }

    fn warn_decode(&mut self, raw: &[u8]) {
        let now = Instant::now();
        let level = match self.decode_warned {
            Some(t) if now.duration_since(t) < DAY => LogLevel::TRACEDEBUG,
            _ => {
                self.decode_warned = Some(now);
                LogLevel::WARNING
            }
        };
        if !enabled(level) {
            return;
        }
        let path = self.path.to_string_lossy();
        emit(
            level,
            "fail2ban.filter",
            &format!(
                "Error decoding line from '{}' with '{}'.",
                path, self.enc_name
            ),
        );
        emit(
            level,
            "fail2ban.filter",
            &format!(
                "Consider setting logencoding to appropriate encoding for this jail. \
                 Continuing to process line ignoring invalid characters: {}",
                py_bytes_repr(raw)
            ),
        );
    }
}

/// SHA-1 of the first complete line of `file` (`""` when it has none), as stored in the
/// database (see [`crate::server::db::first_line_hash`]).
pub fn first_line_hash(file: &File) -> io::Result<String> {
    let mut buf = [0u8; 4096];
    let n = file.read_at(&mut buf, 0)?;
    let end = match memchr::memchr(b'\n', &buf[..n]) {
        Some(i) => i as u64,
        // A long first line: find its end first, so a file without any newline costs
        // no memory.
        None if n == buf.len() => match find_newline(file, n as u64)? {
            Some(e) => e,
            None => return Ok(String::new()),
        },
        None => return Ok(String::new()),
    };
    let len = usize::try_from(end + 1)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "first line too long"))?;
    let mut line = vec![0u8; len];
    file.read_exact_at(&mut line, 0)?;
    Ok(crate::server::db::first_line_hash(&line).unwrap_or_default())
}

/// Offset of the next `\n` at or after `from`, scanning without keeping the bytes.
pub(super) fn find_newline(file: &File, mut from: u64) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = file.read_at(&mut buf, from)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(Some(from + i as u64));
        }
        from += n as u64;
    }
}

/// fail2ban's `MyTime.time2str`: local time `YYYY-MM-DD HH:MM:SS`.
fn time2str(t: f64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_opt(t as i64, 0).single() {
        Some(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => String::new(),
    }
}
