//! fail2ban-regex on two or more cores, as a pipeline of threads. The reader reads the
//! log, decodes it, finds each line's date and runs the failregex prefilter
//! ([`LineScanner`]); two searchers, taking the batches in turn, run the prefregex and
//! the failregexes on the lines the prefilter lets through ([`LineSearcher`]); the
//! caller's thread runs the matcher on the lines in their order with what was found
//! ([`Matcher::process_ahead`]), taking the batches back in the same turn. The search
//! is the largest stage (about 40 % of the work on an sshd log): on one thread it
//! paced the others, which then waited on two cores; halved, no stage is much over a
//! quarter and the cores stay busy.
//! The output is the one thread's: the work ahead depends only on the lines and on the
//! date detector's template order, and the reader's copy of the detector sees the
//! lines in the same sequence as the matcher's would.
//!
//! Lines travel in batches (one text buffer per batch, buffers recycled) so the
//! threads meet a few times per thousand lines, not per line.

use std::fs::File;

use crossbeam_channel::{Receiver, Sender};

use crate::filter::matcher::{Ahead, GroupSpan, LineScanner, LineSearcher, Matcher, SpanArena};
use crate::server::reader::Encoding;

/// Lines per batch by default.
const BATCH: usize = 1024;
/// A batch also goes once its text reaches this size, so long lines (a hostile log of
/// megabyte lines) cannot pile up gigabytes between the threads.
const BATCH_BYTES: usize = 1 << 20;
/// Smaller logs are read on one thread (the second would barely start).
const MIN_BYTES: u64 = 1 << 20;
/// A log whose first [`HEAD_BYTES`] hold fewer lines than this is read on one thread
/// too: a pipeline overlaps lines, and a few huge ones (a hostile 1 MB line) gain
/// nothing from it but each thread building its own engines for them.
const HEAD_LINES: usize = 64;
const HEAD_BYTES: usize = 1 << 16;
/// Batches under way between the threads (bounds the memory ahead of the matcher).
const IN_FLIGHT: usize = 8;
/// Searching threads; batch `k` goes to searcher `k % SEARCHERS`.
const SEARCHERS: usize = 2;

/// How many lines per batch when `file` is worth a reader thread for `m`; None: one
/// thread. `GAOL_REGEX_BATCH=N` forces batches of N lines (`0`: one thread), so tests
/// can put batch edges anywhere on small logs.
pub fn plan(file: &File, m: &Matcher) -> Option<usize> {
    if !m.has_prefilter() {
        return None;
    }
    if let Some(n) = std::env::var("GAOL_REGEX_BATCH")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return (n > 0).then_some(n);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let big = file.metadata().is_ok_and(|md| md.len() >= MIN_BYTES);
    (cores >= 2 && big && many_lines(file)).then_some(BATCH)
}

/// Whether the head of `file` holds [`HEAD_LINES`] lines (read in place: the reader
/// starts from the file's current offset as before).
fn many_lines(file: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let mut head = vec![0u8; HEAD_BYTES];
    let mut len = 0;
    while len < head.len() {
        match file.read_at(&mut head[len..], len as u64) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // (unreadable here: the reader will say so; the plan does not matter)
            Err(_) => return false,
        }
    }
    memchr::memchr_iter(b'\n', &head[..len])
        .nth(HEAD_LINES - 1)
        .is_some()
}

/// One batch: the lines' text back to back, each line's range and scan, and the
/// group spans the searcher found (see [`SpanArena`]).
#[derive(Default)]
struct Batch {
    text: String,
    lines: Vec<(usize, usize, Ahead)>,
    spans: SpanArena,
}

/// What runs ahead of the matcher, one thread each.
pub struct Workers {
    pub scanner: LineScanner,
    pub searcher: LineSearcher,
}

/// Reads `file` on a reader thread and calls `f` with each log line (as
/// [`super::log_line`] keeps them), what was found for it ahead and its batch's spans,
/// in order, until `f` returns false; then the scanner (its date detector saw the
/// lines). Err when a thread could not be started (nothing was read then).
pub fn run(
    file: &File,
    enc: Encoding,
    ahead: Workers,
    batch: usize,
    now: f64,
    mut f: impl FnMut(&str, Ahead, &[GroupSpan]) -> bool,
) -> Result<LineScanner, ()> {
    let Workers {
        mut scanner,
        searcher,
    } = ahead;
    // The reader gets its own descriptor, so a failed start leaves `file` unread.
    let theirs = file.try_clone().map_err(|_| ())?;
    let per = IN_FLIGHT / SEARCHERS;
    let (scanned_tx, scanned_rx): (Vec<_>, Vec<_>) = (0..SEARCHERS)
        .map(|_| crossbeam_channel::bounded::<Batch>(per))
        .unzip();
    let (full_tx, full_rx): (Vec<_>, Vec<_>) = (0..SEARCHERS)
        .map(|_| crossbeam_channel::bounded::<Batch>(per))
        .unzip();
    let (free_tx, free_rx) = crossbeam_channel::bounded::<Batch>(2 * IN_FLIGHT + 1);
    std::thread::scope(|s| {
        // The searchers first: if the reader then fails to start, they see their input
        // closed and end, and so does the loop below.
        let searchers = std::iter::repeat_n(searcher, SEARCHERS);
        for ((mut searcher, input), output) in searchers.zip(scanned_rx).zip(full_tx) {
            std::thread::Builder::new()
                .name("regex-search".into())
                .spawn_scoped(s, move || {
                    for mut b in input.iter() {
                        for (from, to, ahead) in &mut b.lines {
                            searcher.search(&b.text[*from..*to], ahead, &mut b.spans);
                        }
                        if output.send(b).is_err() {
                            return;
                        }
                    }
                })
                .map_err(|_| ())?;
        }
        let scanner = &mut scanner;
        let reader = std::thread::Builder::new()
            .name("regex-read".into())
            .spawn_scoped(s, move || {
                read(theirs, enc, scanner, batch, now, &scanned_tx, &free_rx)
            });
        if reader.is_err() {
            return Err(());
        }
        // Batch `k` comes back from the searcher it went to; a closed channel there
        // means the reader sent no batch `k`.
        'batches: for k in 0.. {
            let Ok(mut b) = full_rx[k % SEARCHERS].recv() else {
                break;
            };
            for (from, to, ahead) in b.lines.drain(..) {
                if !f(&b.text[from..to], ahead, &b.spans) {
                    break 'batches;
                }
            }
            b.text.clear();
            b.spans.clear();
            // A full pool only means the reader makes a new buffer.
            let _ = free_tx.try_send(b);
        }
        // Dropping the receivers ends the threads ahead (the scope then joins them).
        drop(full_rx);
        Ok(())
    })?;
    Ok(scanner)
}

/// The reader thread: scans every line and sends the batches on, to the searchers in
/// turn, until a receiver goes away.
fn read(
    file: File,
    enc: Encoding,
    scanner: &mut LineScanner,
    batch: usize,
    now: f64,
    full: &[Sender<Batch>],
    free: &Receiver<Batch>,
) {
    let mut cur = Batch::default();
    let mut sent = 0usize;
    let mut send = |b: Batch| {
        let ok = full[sent % full.len()].send(b).is_ok();
        sent += 1;
        ok
    };
    super::each_file_line(file, enc, |raw| {
        let Some(line) = super::log_line(raw) else {
            return true;
        };
        let ahead = scanner.scan(line, now);
        let from = cur.text.len();
        cur.text.push_str(line);
        cur.lines.push((from, cur.text.len(), ahead));
        if cur.lines.len() < batch && cur.text.len() < BATCH_BYTES {
            return true;
        }
        let next = free.try_recv().unwrap_or_default();
        send(std::mem::replace(&mut cur, next))
    });
    if !cur.lines.is_empty() {
        let _ = send(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::{HEAD_BYTES, HEAD_LINES, many_lines};
    use std::io::{Seek, SeekFrom, Write};

    /// A log is worth the pipeline when its head holds enough lines: not one huge
    /// line, nor lines long enough that the head holds too few; the count reads the
    /// head in place (the file's offset is where it was).
    #[test]
    fn the_head_counts_lines_in_place() {
        let cases = [
            ("x".repeat(1 << 20) + "\n", false),
            (
                "short line\n".repeat(HEAD_LINES - 1) + &"x".repeat(1 << 20),
                false,
            ),
            (
                "short line\n".repeat(HEAD_LINES) + &"x".repeat(1 << 20),
                true,
            ),
            // (lines long enough that the head holds half as many, then twice)
            (
                ("y".repeat(2 * HEAD_BYTES / HEAD_LINES - 1) + "\n").repeat(512),
                false,
            ),
            (
                ("y".repeat(HEAD_BYTES / HEAD_LINES / 2 - 1) + "\n").repeat(2048),
                true,
            ),
        ];
        for (text, want) in cases {
            let mut f = tempfile::tempfile().expect("temp file");
            f.write_all(text.as_bytes()).expect("write");
            f.seek(SeekFrom::Start(3)).expect("seek");
            assert_eq!(many_lines(&f), want, "{} bytes", text.len());
            assert_eq!(f.stream_position().expect("offset"), 3);
        }
    }
}
