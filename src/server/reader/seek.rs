//! The initial seek to a start time ([`seek_to_time`]): a binary search over byte offsets
//! of a log file for the first line whose time is ≥ `since`, reading only a few lines
//! around each probe (fail2ban's `seekToTime`), so a large file is never scanned whole.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::decode::{Encoding, trim_cr};
use super::file::{MAX_LINE, find_newline};

/// The time of a log line, as the jail's date detector sees it.
pub type TimeOf = Box<dyn FnMut(&str) -> Option<f64> + Send>;

/// How many lines after a probe point may be undated before the probe gives up.
const PROBE_LINES: usize = 6;
const CHUNK: usize = 4096;

/// Returns the offset to start reading at: the first line (at or after `start`, a line
/// start) following the last probed line older than `since`. Lines must be roughly in
/// time order, as in any log; undated lines are never skipped past a dated one that is
/// not known to be old. Only complete lines before `end` are looked at.
pub fn seek_to_time(
    file: &File,
    start: u64,
    end: u64,
    since: f64,
    time_of: &mut TimeOf,
    enc: Encoding,
) -> io::Result<u64> {
    let (mut lo, mut hi) = (start, end);
    // Each step narrows [lo, hi) strictly; the bound only guards against a logic slip.
    for _ in 0..256 {
        if lo >= hi {
            break;
        }
        let mid = lo + (hi - lo) / 2;
        let p = if mid <= lo {
            lo
        } else {
            match next_line_start(file, mid, hi)? {
                Some(p) if p < hi => p,
                _ => lo,
            }
        };
        match probe(file, p, hi, since, time_of, enc)? {
            Some((s, e, old)) => {
                if old {
                    lo = e;
                } else {
                    hi = s;
                }
            }
            None if p == lo => break,
            None => hi = p,
        }
    }
    Ok(lo)
}

/// From line start `p`, the first of up to [`PROBE_LINES`] lines that has a time:
/// `(start, end, time < since)`.
fn probe(
    file: &File,
    mut p: u64,
    hi: u64,
    since: f64,
    time_of: &mut TimeOf,
    enc: Encoding,
) -> io::Result<Option<(u64, u64, bool)>> {
    for _ in 0..PROBE_LINES {
        let Some((line, e)) = line_at(file, p, hi)? else {
            return Ok(None);
        };
        let body = trim_cr(&line[..line.len() - 1]);
        if let Some(t) = time_of(&enc.decode(body).0) {
            return Ok(Some((p, e, t < since)));
        }
        p = e;
    }
    Ok(None)
}

/// The complete line starting at `s` (with its `\n`) and the offset after it, if it ends
/// at or before `limit`.
pub(super) fn line_at(file: &File, s: u64, limit: u64) -> io::Result<Option<(Vec<u8>, u64)>> {
    let mut line = Vec::new();
    let mut buf = [0u8; CHUNK];
    let mut off = s;
    while off < limit {
        let n = file.read_at(&mut buf, off)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            line.extend_from_slice(&buf[..=i]);
            let e = off + i as u64 + 1;
            return Ok((e <= limit).then_some((line, e)));
        }
        line.extend_from_slice(&buf[..n]);
        off += n as u64;
        if line.len() >= MAX_LINE {
            // Keep the head of an over-long line only (as the reader does).
            return Ok(match find_newline(file, off)? {
                Some(nl) if nl < limit => {
                    line.push(b'\n');
                    Some((line, nl + 1))
                }
                _ => None,
            });
        }
    }
    Ok(None)
}

/// The first line start at or after `pos` (before `limit`).
fn next_line_start(file: &File, pos: u64, limit: u64) -> io::Result<Option<u64>> {
    if pos == 0 {
        return Ok(Some(0));
    }
    let mut buf = [0u8; CHUNK];
    let mut off = pos - 1;
    while off < limit {
        let n = file.read_at(&mut buf, off)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(Some(off + i as u64 + 1));
        }
        off += n as u64;
    }
    Ok(None)
}
