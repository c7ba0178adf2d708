//! Line encoding of packed entries (see the parent module for the byte layout): the
//! process-wide reference lines ([`encode_first`] picks one for an entry's first line)
//! and [`encode_line`], which turns a line into literal bytes, id references and copies
//! of a base line.
//!
//! Principal types: `Bases` (the reference lines, each with a sorted index of its
//! [`MIN_COPY`]-byte substrings, so a copy is found by a binary search rather than a scan)
//! and `Finder` (where copies come from: an indexed reference line or a plain line).
//! Cost matters here: every new failing id packs its first line, after trying a few
//! reference lines.

use std::sync::Mutex;

use super::{ESC, ESC_COPY, ESC_FID, ESC_NUL, MIN_COPY, put_varint};

/// Reference lines shared by all entries: the first line of an entry is stored as copies
/// of one of them (failures of one filter differ in little more than the id, a time, a
/// port). Bounded: a line becomes a reference only while the table has room, and only a
/// line of at most [`MAX_BASE_LEN`] bytes; leaked on purpose (needed for the life of the
/// process, at most `MAX_BASES * MAX_BASE_LEN` bytes, plus 8 bytes per byte for the index).
static BASES: Mutex<Bases> = Mutex::new(Bases {
    lines: Vec::new(),
    index: Vec::new(),
    recent: Vec::new(),
});
const MAX_BASES: usize = 64;
const MAX_BASE_LEN: usize = 512;
/// Reference lines tried (the most recently used ones) before a line that compresses
/// badly becomes one itself.
const BASE_TRIES: usize = 4;

struct Bases {
    lines: Vec<&'static str>,
    /// Per line: its `MIN_COPY`-byte substrings with their offsets, sorted.
    index: Vec<&'static [Gram]>,
    /// Indexes into `lines`, most recently used first (failures come in runs of a few
    /// formats, so the right one is usually among the first tried).
    recent: Vec<u8>,
}

/// A `MIN_COPY`-byte substring of a reference line and where it starts (lines are at
/// most `MAX_BASE_LEN` bytes, so the offset fits 16 bits). Ordered by bytes, then offset.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Gram {
    bytes: [u8; MIN_COPY],
    off: u16,
}

fn lock_bases() -> std::sync::MutexGuard<'static, Bases> {
    // A panic while holding the lock leaves the table valid (pushes are the only change).
    BASES.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn base_line(i: usize) -> Option<&'static str> {
    lock_bases().lines.get(i).copied()
}

/// The sorted substring index of a reference line.
fn index_of(line: &[u8]) -> Vec<Gram> {
    let mut grams: Vec<Gram> = line
        .windows(MIN_COPY)
        .enumerate()
        .filter_map(|(off, w)| {
            Some(Gram {
                bytes: w.try_into().ok()?,
                off: u16::try_from(off).ok()?,
            })
        })
        .collect();
    grams.sort_unstable();
    grams
}

/// Encodes the first line of an entry into `enc` (cleared) against the reference line it
/// shares most with; returns that line's index (None: encoded without one).
pub(super) fn encode_first(enc: &mut Vec<u8>, line: &str, fid: &str) -> Option<usize> {
    // Good enough: at most half of the line left as literal bytes.
    let good = |n: usize| n * 2 <= line.len();
    let mut b = lock_bases();
    let n = b.lines.len();
    // The best encoding so far stays in `enc`; a try stops as soon as it cannot beat it
    // (only a strictly shorter one replaces it), so a poor reference costs little.
    let mut best: Option<(usize, usize)> = None;
    let mut trial = Vec::with_capacity(line.len() + 8);
    // While the line could still become a reference itself, only a good try matters (the
    // best poor one would not be used), so a try stops once it is no longer good.
    let can_push = n < MAX_BASES && line.len() <= MAX_BASE_LEN;
    let good_limit = if can_push {
        line.len() / 2 + 1
    } else {
        usize::MAX
    };
    for k in 0..b.recent.len().min(BASE_TRIES) {
        let i = usize::from(b.recent[k]);
        trial.clear();
        let limit = best.map_or(usize::MAX, |(_, l)| l).min(good_limit);
        let base = Finder::Indexed(b.lines[i].as_bytes(), b.index[i]);
        if !encode_line_within(&mut trial, line, fid, base, limit) {
            continue;
        }
        best = Some((i, trial.len()));
        std::mem::swap(enc, &mut trial);
        if good(enc.len()) {
            break;
        }
    }
    let chosen = match best {
        Some((i, l)) if good(l) => Some(i),
        _ if can_push => {
            // Leaked on purpose, bounded (see BASES).
            let kept: &'static str = Box::leak(line.to_string().into_boxed_str());
            let index: &'static [Gram] = Box::leak(index_of(kept.as_bytes()).into_boxed_slice());
            b.lines.push(kept);
            b.index.push(index);
            // MAX_BASES fits a byte.
            b.recent.push(u8::try_from(n).unwrap_or(u8::MAX));
            enc.clear();
            encode_line_within(
                enc,
                line,
                fid,
                Finder::Indexed(kept.as_bytes(), index),
                usize::MAX,
            );
            Some(n)
        }
        Some((i, _)) => Some(i),
        None => {
            enc.clear();
            encode_line(enc, line, fid, None);
            None
        }
    };
    if let Some(i) = chosen
        && let Some(k) = b.recent.iter().position(|&r| usize::from(r) == i)
    {
        b.recent[..=k].rotate_right(1);
    }
    chosen
}

/// Where the copies of an encoded line come from.
#[derive(Clone, Copy)]
enum Finder<'a> {
    /// A line searched byte by byte (an entry's own first line: used for a line or two).
    Plain(&'a [u8]),
    /// A reference line with its substring index.
    Indexed(&'a [u8], &'a [Gram]),
}

impl Finder<'_> {
    fn base(&self) -> &[u8] {
        match self {
            Finder::Plain(b) | Finder::Indexed(b, _) => b,
        }
    }

    /// The longest prefix (≥ [`MIN_COPY`]) of `rest` found in the base, as (offset,
    /// length); of equally long ones the first.
    fn longest_copy(&self, rest: &[u8]) -> Option<(usize, usize)> {
        match self {
            Finder::Plain(base) => longest_copy(base, rest),
            Finder::Indexed(base, index) => {
                let probe: [u8; MIN_COPY] = rest.get(..MIN_COPY)?.try_into().ok()?;
                let from = index.partition_point(|g| g.bytes < probe);
                let mut best: Option<(usize, usize)> = None;
                for g in index[from..].iter().take_while(|g| g.bytes == probe) {
                    let off = usize::from(g.off);
                    let len = common_prefix(&base[off..], rest);
                    if best.is_none_or(|(_, l)| len > l) {
                        best = Some((off, len));
                    }
                }
                best
            }
        }
    }
}

/// Encodes `line`: the id text and (for later lines) runs of the first line `base`
/// become references. Copies start only at word starts, which keeps the search cheap.
pub(super) fn encode_line(out: &mut Vec<u8>, line: &str, fid: &str, base: Option<&str>) {
    let base = Finder::Plain(base.map(str::as_bytes).unwrap_or(&[]));
    encode_line_within(out, line, fid, base, usize::MAX);
}

/// As [`encode_line`], giving up (false, `out` partly written) once the encoding of
/// `line` reaches `limit` bytes.
fn encode_line_within(
    out: &mut Vec<u8>,
    line: &str,
    fid: &str,
    base: Finder<'_>,
    limit: usize,
) -> bool {
    let start = out.len();
    let bytes = line.as_bytes();
    let fidb = fid.as_bytes();
    let can_copy = base.base().len() >= MIN_COPY;
    // Bytes where something other than a plain literal may happen: the id's first byte,
    // the escape byte, and (when copies are possible) a space, since a word starts after it.
    let fid0 = fidb.first().copied().unwrap_or(ESC);
    let space = if can_copy { b' ' } else { ESC };
    let mut i = 0;
    while i < bytes.len() {
        if out.len() - start >= limit {
            return false;
        }
        let word_start = i == 0 || bytes[i - 1] == b' ';
        if !fidb.is_empty() && bytes[i] == fid0 && bytes[i..].starts_with(fidb) {
            out.extend_from_slice(&[ESC, ESC_FID]);
            i += fidb.len();
            continue;
        }
        if word_start
            && can_copy
            && let Some((off, len)) = base.longest_copy(&bytes[i..])
        {
            out.extend_from_slice(&[ESC, ESC_COPY]);
            put_varint(out, off as u64);
            put_varint(out, len as u64);
            i += len;
            continue;
        }
        if bytes[i] == ESC {
            out.extend_from_slice(&[ESC, ESC_NUL]);
            i += 1;
            continue;
        }
        // A literal, and the run of literals after it up to the next byte where the
        // checks above could apply (after a space the next byte starts a word).
        let run_end = if bytes[i] == space {
            i + 1
        } else {
            let rest = &bytes[i + 1..];
            i + 1 + memchr::memchr3(fid0, ESC, space, rest).unwrap_or(rest.len())
        };
        out.extend_from_slice(&bytes[i..run_end]);
        i = run_end;
    }
    out.len() - start < limit
}

/// Length of the common prefix of `a` and `b`.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The longest prefix (≥ [`MIN_COPY`]) of `rest` found in `base`, as (offset, length).
fn longest_copy(base: &[u8], rest: &[u8]) -> Option<(usize, usize)> {
    let probe = rest.get(..MIN_COPY)?;
    let mut best: Option<(usize, usize)> = None;
    // Candidates by their first byte: `base` is one short line, where building a
    // substring searcher per word cost more than the scan itself.
    for off in memchr::memchr_iter(probe[0], base) {
        if !base[off..].starts_with(probe) {
            continue;
        }
        let len = common_prefix(&base[off..], rest);
        if best.is_none_or(|(_, l)| len > l) {
            best = Some((off, len));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The indexed search finds what the scan finds (same offset, same length), and whole
    /// lines encode to the same bytes either way, with the same verdict under a limit.
    #[test]
    fn indexed_copies_equal_scanned_ones() {
        let Some(text) = super::super::upstream_sshd_log() else {
            return;
        };
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && l.len() <= MAX_BASE_LEN)
            .take(200)
            .collect();
        assert!(lines.len() > 50, "too few sample lines");
        let fid = "192.0.2.1";
        for pair in lines.windows(2) {
            let (base, line) = (pair[0].as_bytes(), pair[1].as_bytes());
            let index = index_of(base);
            for i in 0..line.len() {
                let rest = &line[i..];
                let want = longest_copy(base, rest);
                assert_eq!(Finder::Indexed(base, &index).longest_copy(rest), want);
            }
            let indexed = Finder::Indexed(base, &index);
            let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
            encode_line_within(&mut a, pair[1], fid, Finder::Plain(base), usize::MAX);
            encode_line_within(&mut b, pair[1], fid, indexed, usize::MAX);
            assert_eq!(a, b);
            let fits = encode_line_within(&mut c, pair[1], fid, indexed, 40);
            assert_eq!(fits, a.len() < 40);
            if fits {
                assert_eq!(a, c);
            }
        }
    }
}
