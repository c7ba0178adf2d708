//! Giving memory back once the jails are up: [`after_start`] runs when a command stream
//! (`server-stream`: start, reload) has been applied, [`after_activity`] notes work (a
//! jail's lines, bans, the control socket's clients) to give back once it has gone
//! quiet; [`record_exec_mappings`] runs first thing in `main`.
//!
//! Start-up is the costly phase for memory: reading the configuration and compiling
//! every filter allocates far more than the daemon keeps, and it runs code (config
//! parser, regex compilers, SQLite schema setup) an idle daemon never runs again. Two
//! things are released:
//! - the allocator's freed-but-kept memory, through a collector the binary registers
//!   ([`set_collector`]; the allocator is the binary's choice, the library does not
//!   assume one), and glibc malloc's free pages (SQLite allocates there). The
//!   collector frees the calling thread's heap only, so the long-lived threads that
//!   allocate (log reader, control socket) are woken to run it too ([`TrimCursor`]);
//! - the clean read-only file pages (text and constants) of the program and of the
//!   libraries mapped at exec: they stay in the page cache, shared with every other
//!   process, and the pages the daemon still uses fault back in on their first touch.
//!
//! Which library pages are safe to drop: another thread may be loading a library (NSS
//! for a DNS lookup, libsystemd for a journal jail) while the mappings are read, and
//! dropping a range the loader has since mapped over and relocated would bring back
//! unrelocated bytes (a crash). So only mappings that exist unchanged since exec are
//! touched: [`record_exec_mappings`] lists them before the server runs anything that
//! may load a library (a [`Mapping`] is range, offset, device, inode and path), and a trim drops a mapping only when smaps
//! shows exactly that mapping, read-only, with no private (copy-on-write) page. The
//! libraries loaded at exec are never unloaded, and a later `mmap` never lands on a live
//! mapping, so such a range still holds the same file bytes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

static COLLECTOR: OnceLock<fn()> = OnceLock::new();

/// The read-only file mappings present at exec (see the module doc).
static AT_EXEC: OnceLock<Vec<Mapping>> = OnceLock::new();

/// Registers the allocator's "return free memory to the OS" call (first call wins).
pub fn set_collector(f: fn()) {
    let _ = COLLECTOR.set(f);
}

/// Lists the process's read-only file mappings, the only ones a later trim may touch.
/// Must run before anything can load a library (the server's entry calls it first);
/// later calls do nothing. Without it a trim drops only the program's own pages.
pub fn record_exec_mappings() {
    if AT_EXEC.get().is_some() {
        return;
    }
    if let Ok(maps) = std::fs::read_to_string("/proc/self/maps") {
        let list = maps
            .lines()
            .filter_map(parse_header)
            .filter(|m| m.read_only_file())
            .collect();
        let _ = AT_EXEC.set(list);
    }
}

/// Releases what start-up left behind (see the module doc). Cheap: one read of
/// `/proc/self/smaps` and a few `madvise` calls. Does nothing when `GAOL_NO_TRIM` is set.
pub fn after_start() {
    // Once more when the jail threads have settled: starting them runs code too (opening
    // logs, first log lines).
    if give_back(false) {
        after_activity();
    }
}

/// How long the daemon must be quiet before [`after_activity`] gives back: a log that
/// writes, or an exporter that polls, more often than this keeps its pages warm.
const ACTIVITY_QUIET: Duration = Duration::from_secs(3);

/// Work noted since the last trim: when the last was, and whether a trim is pending.
struct Activity {
    last: Option<Instant>,
    pending: bool,
    /// The trimmer thread was started (it is started by the first activity only, so a
    /// daemon whose jails never work has no such thread).
    started: bool,
}

static ACTIVITY: Mutex<Activity> = Mutex::new(Activity {
    last: None,
    pending: false,
    started: false,
});
static ACTIVITY_SET: Condvar = Condvar::new();

fn activity() -> std::sync::MutexGuard<'static, Activity> {
    // Plain values: a panic elsewhere leaves them usable.
    ACTIVITY.lock().unwrap_or_else(|p| p.into_inner())
}

/// The daemon worked: a jail read lines, banned or unbanned, or the control socket
/// served a client. That runs code start-up never ran (matching a jail's first lines
/// compiles its regexes): once nothing has worked for [`ACTIVITY_QUIET`], those pages
/// (and the ones the kernel mapped around them) and the allocators' free memory are
/// given back by the rules of [`after_start`] (the RSS an admin sees after a ban fell
/// from ~11 to ~6 MiB with one sshd jail). Cheap enough per read event or socket turn:
/// a lock and a clock read.
pub fn after_activity() {
    let mut a = activity();
    a.last = Some(Instant::now());
    if !a.pending {
        a.pending = true;
        ACTIVITY_SET.notify_one();
    }
    if !a.started {
        a.started = true;
        // Without the thread nothing is trimmed, which only costs memory.
        let _ = std::thread::Builder::new()
            .name("f2b/idle-trim".into())
            .stack_size(64 * 1024)
            .spawn(trim_when_quiet);
    }
}

/// The trimmer: waits for activity, then until [`ACTIVITY_QUIET`] has passed since the
/// last, then trims.
fn trim_when_quiet() {
    loop {
        let mut a = activity();
        while !a.pending {
            a = ACTIVITY_SET.wait(a).unwrap_or_else(|p| p.into_inner());
        }
        let quiet_at = a.last.map_or_else(Instant::now, |t| t + ACTIVITY_QUIET);
        let now = Instant::now();
        if now < quiet_at {
            drop(a);
            std::thread::sleep(quiet_at - now);
            continue;
        }
        a.pending = false;
        drop(a);
        give_back(true);
    }
}

/// Trims so far: a long-lived thread that allocates compares it with the last it saw
/// ([`TrimCursor`]) to give back its own free memory.
static TRIMS: AtomicUsize = AtomicUsize::new(0);

/// Collections the nudged threads have made, and its signal (see [`give_back`]).
static COLLECTED: Mutex<usize> = Mutex::new(0);
static COLLECTED_SET: Condvar = Condvar::new();

/// How long a trim waits for the nudged threads to collect before it drops the file
/// pages (they run code to do it). Far more than they need; a thread busy for longer
/// has work that touches its code again anyway.
const NUDGE_WAIT: Duration = Duration::from_millis(50);
/// Then how long it lets them go back to sleep: the code they run on the way (their
/// loop, a `poll`) would otherwise fault back in right after the drop.
const NUDGE_SETTLE: Duration = Duration::from_millis(10);

/// A registered thread's wake-up; false when the thread is gone (it is then dropped).
type Nudge = Box<dyn Fn() -> bool + Send>;

static NUDGES: Mutex<Vec<Nudge>> = Mutex::new(Vec::new());

fn lock_nudges() -> std::sync::MutexGuard<'static, Vec<Nudge>> {
    NUDGES.lock().unwrap_or_else(|p| p.into_inner())
}

fn lock_collected() -> std::sync::MutexGuard<'static, usize> {
    COLLECTED.lock().unwrap_or_else(|p| p.into_inner())
}

/// A long-lived thread's part in the trims. An allocator with per-thread heaps
/// (mimalloc) hands a thread's free pages back to the OS only from that thread: the
/// trimmer's own collect reaches none of the others' (with 50 jails, ~0.4 MiB stayed
/// with the main thread and the log reader after start-up). So a thread that
/// allocates registers a wake-up ([`TrimCursor::register`]) and, woken, calls
/// [`TrimCursor::collect_if_due`]. Every trim wakes them all: a thread that did nothing
/// may still have free pages, freed by the threads its allocations went to (the
/// reader's line buffers, freed by the jails), and trims come only after activity.
#[derive(Debug)]
pub struct TrimCursor {
    seen: usize,
}

impl TrimCursor {
    /// `wake` wakes the thread (false: it is gone).
    pub fn register(wake: impl Fn() -> bool + Send + 'static) -> TrimCursor {
        lock_nudges().push(Box::new(wake));
        TrimCursor {
            seen: TRIMS.load(Ordering::Acquire),
        }
    }

    /// Gives back this thread's free allocator memory when a trim came since the last
    /// call. Cheap otherwise: one atomic load.
    pub fn collect_if_due(&mut self) {
        let now = TRIMS.load(Ordering::Acquire);
        if now == self.seen {
            return;
        }
        self.seen = now;
        collect_here();
        *lock_collected() += 1;
        COLLECTED_SET.notify_all();
    }
}

/// Gives back the calling thread's free allocator memory (see [`TrimCursor`]) and the
/// unused depth of its stack ([`drop_dead_stack`]); for a thread that has just dropped
/// what a trim could not yet see freed.
pub fn collect_here() {
    if trim_off() {
        return;
    }
    if let Some(f) = COLLECTOR.get() {
        f();
    }
    drop_dead_stack();
}

/// `GAOL_NO_TRIM` is set: no trim gives anything back (read once).
fn trim_off() -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    *OFF.get_or_init(|| std::env::var_os("GAOL_NO_TRIM").is_some())
}

/// Stack kept below the caller's frame by [`drop_dead_stack`]: the frames of the drop
/// itself (its own, the libc call's) live there while it runs.
const STACK_KEEP: usize = 16 * 1024;

thread_local! {
    /// The lowest address of this thread's stack, once asked (0: unknown).
    static STACK_LOW: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// The lowest address of the calling thread's stack (glibc bounds the main thread's by
/// its rlimit and by the mapping below it).
fn stack_low() -> Option<usize> {
    let low = STACK_LOW.with(|c| {
        *c.get().get_or_insert_with(|| {
            // SAFETY: `attr` is initialised by pthread_getattr_np before it is read and
            // destroyed after; the out-pointers are valid locals.
            unsafe {
                let mut attr: libc::pthread_attr_t = std::mem::zeroed();
                if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
                    return 0;
                }
                let mut addr: *mut libc::c_void = std::ptr::null_mut();
                let mut size: libc::size_t = 0;
                let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
                libc::pthread_attr_destroy(&mut attr);
                if ok { addr as usize } else { 0 }
            }
        })
    });
    (low != 0).then_some(low)
}

/// Drops the resident pages of the calling thread's stack below its current frame
/// (less [`STACK_KEEP`]). A deep call once (the config reader's recursion, a socket
/// read's buffer) leaves its pages resident for the thread's life though nothing
/// reads them before writing them again; dropped, they come back as zero pages when
/// the stack next grows that deep.
#[inline(never)]
pub fn drop_dead_stack() {
    let here = 0u8;
    let frame = std::hint::black_box(&here) as *const u8 as usize;
    let Some(low) = stack_low() else {
        return;
    };
    // SAFETY: a plain libc call.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let start = low.next_multiple_of(page);
    let end = frame.saturating_sub(STACK_KEEP) & !(page - 1);
    if end > start {
        // SAFETY: the range lies in this thread's stack below every live frame (the
        // callee frames of this call stay within STACK_KEEP of `frame`): no data there
        // is read before being written again, and a dropped page refaults as zeroes.
        // Below the main thread's mapped stack the call fails for the unmapped part
        // only (glibc's bound stops at the previous mapping).
        unsafe { dontneed(start, end) };
    }
}

/// Wakes the registered threads, waits (at most [`NUDGE_WAIT`]) until they have
/// collected, then [`NUDGE_SETTLE`].
fn nudge_threads() {
    let before = *lock_collected();
    TRIMS.fetch_add(1, Ordering::AcqRel);
    let mut woken = 0;
    lock_nudges().retain(|wake| {
        let alive = wake();
        woken += usize::from(alive);
        alive
    });
    let deadline = Instant::now() + NUDGE_WAIT;
    let mut done = lock_collected();
    while *done < before + woken {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        done = match COLLECTED_SET.wait_timeout(done, left) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        };
    }
    drop(done);
    if woken > 0 {
        std::thread::sleep(NUDGE_SETTLE);
    }
}

/// The registered threads' free allocator memory (`nudge`), this thread's, then the
/// file pages, last (see [`drop_file_pages`]). False, doing nothing,
/// when `GAOL_NO_TRIM` is set. Start-up does not nudge: the trim after its activity,
/// [`ACTIVITY_QUIET`] later, does, and start-up is not held up by the wait.
fn give_back(nudge: bool) -> bool {
    if trim_off() {
        return false;
    }
    if nudge {
        nudge_threads();
    }
    drop_file_pages();
    // SQLite (and libc itself) allocate from glibc's malloc whatever the Rust allocator:
    // its free pages go back too.
    // SAFETY: a plain libc call without pointers.
    unsafe { libc::malloc_trim(0) };
    true
}

/// Gives back this thread's free allocator memory, then drops the clean read-only file
/// pages that are safe to drop (see the module doc). In that order, with nothing
/// allocated or freed after the drop: code run after it faults back in.
fn drop_file_pages() {
    let keep: Vec<Mapping>;
    let allowed: &[Mapping] = match AT_EXEC.get() {
        Some(list) => list,
        None => {
            // Not recorded (a test binary, a library user): the program's own mappings
            // only, which are mapped at exec and never remapped.
            let Some(exe) = own_executable() else {
                return;
            };
            let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
                return;
            };
            keep = maps
                .lines()
                .filter_map(parse_header)
                .filter(|m| m.read_only_file() && m.inode == exe.inode && m.path == exe.path)
                .collect();
            &keep
        }
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    // The ranges are copied out and the heap buffers freed and collected before the
    // first page is dropped.
    let found = clean_ranges(&smaps, allowed);
    drop(smaps);
    // (a process has far fewer; any beyond the copy are dropped first)
    let mut ranges = [(0usize, 0usize); 64];
    let n = found.len().min(ranges.len());
    ranges[..n].copy_from_slice(&found[..n]);
    found[n..].iter().for_each(drop_range);
    drop(found);
    collect_here();
    ranges[..n].iter().for_each(drop_range);
}

/// Drops the resident pages of `(start, end)`, a range [`clean_ranges`] found.
fn drop_range(&(start, end): &(usize, usize)) {
    // SAFETY: the range is a whole mapping of this process, unchanged since exec (or the
    // program's own), read-only and without privately modified page (see
    // `clean_ranges`), so dropping its pages loses nothing: each refaults from the file
    // on its next touch.
    unsafe { dontneed(start, end) };
}

/// `madvise(MADV_DONTNEED)` over `[start, end)`: its resident pages are dropped.
///
/// # Safety
/// Nothing may read those pages expecting what they held: a file page refaults from
/// the file, an anonymous one as zeroes.
unsafe fn dontneed(start: usize, end: usize) {
    // SAFETY: the kernel checks the range; what dropping means is the caller's part.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
    }
}

/// The running program's file: its path as the maps print it and its inode.
#[derive(Debug, PartialEq)]
struct Executable {
    path: String,
    inode: u64,
}

fn own_executable() -> Option<Executable> {
    use std::os::unix::fs::MetadataExt;
    let link = std::fs::read_link("/proc/self/exe").ok()?;
    let link = link.to_str()?;
    // A program replaced on disk since it started is still mapped from its old inode.
    let path = link.strip_suffix(" (deleted)").unwrap_or(link).to_string();
    let inode = std::fs::metadata("/proc/self/exe").ok()?.ino();
    Some(Executable { path, inode })
}

/// One line of `/proc/self/maps` (or a mapping header of smaps).
#[derive(Debug, Clone, PartialEq)]
struct Mapping {
    start: usize,
    end: usize,
    perms: String,
    offset: u64,
    dev: String,
    inode: u64,
    path: String,
}

impl Mapping {
    /// A private, read-only mapping of a file (text or constants).
    fn read_only_file(&self) -> bool {
        let p = self.perms.as_bytes();
        p.len() == 4
            && p[0] == b'r'
            && p[1] != b'w'
            && p[3] == b'p'
            && self.inode != 0
            && self.path.starts_with('/')
            && self.end > self.start
    }
}

/// Parses a mapping header line (`start-end perms offset dev inode [path]`); None for
/// any other line.
fn parse_header(line: &str) -> Option<Mapping> {
    let mut f = line.split_ascii_whitespace();
    let (a, b) = f.next()?.split_once('-')?;
    let start = usize::from_str_radix(a, 16).ok()?;
    let end = usize::from_str_radix(b, 16).ok()?;
    let perms = f.next()?.to_string();
    let offset = u64::from_str_radix(f.next()?, 16).ok()?;
    let dev = f.next()?.to_string();
    let inode = f.next()?.parse().ok()?;
    // The path may hold spaces; " (deleted)" stays part of it, as in both reads.
    let path = f.collect::<Vec<_>>().join(" ");
    Some(Mapping {
        start,
        end,
        perms,
        offset,
        dev,
        inode,
        path,
    })
}

/// The address ranges of `smaps` whose mapping is one of `allowed` exactly, read-only,
/// with no anonymous (copy-on-write) and no locked page. A range that was ever written
/// (relocations fixed up before it turned read-only) keeps its pages: dropping them
/// would bring back the file's unrelocated bytes.
fn clean_ranges(smaps: &str, allowed: &[Mapping]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    // The mapping being read, while it still qualifies.
    let mut cur: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(m) = parse_header(line) {
            out.extend(cur.take());
            cur = (m.read_only_file() && allowed.contains(&m)).then_some((m.start, m.end));
        } else if let Some(v) = line.strip_prefix("Anonymous:") {
            if v.trim() != "0 kB" {
                cur = None;
            }
        } else if let Some(v) = line.strip_prefix("Locked:")
            && v.trim() != "0 kB"
        {
            cur = None;
        }
    }
    out.extend(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
5600aa000000-5600aa100000 r--p 00000000 08:01 1234 /usr/bin/gaol
Size:               1024 kB
Rss:                 900 kB
Anonymous:             0 kB
Locked:                0 kB
VmFlags: rd mr mw me
5600aa100000-5600aa800000 r-xp 00100000 08:01 1234 /usr/bin/gaol
Rss:                5000 kB
Anonymous:             0 kB
5600aa800000-5600aa900000 r--p 00800000 08:01 1234 /usr/bin/gaol
Anonymous:           120 kB
5600aa900000-5600aa910000 rw-p 00900000 08:01 1234 /usr/bin/gaol
Anonymous:            64 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0 
Anonymous:          1024 kB
7f0000200000-7f0000300000 r-xp 00000000 08:01 99 /usr/lib/libc.so.6
Anonymous:             0 kB
7f0000300000-7f0000301000 r--p 00000000 00:00 0 [vvar]
Anonymous:             0 kB
7f0000400000-7f0000500000 r-xp 00000000 08:01 77 /usr/lib/lib x.so (deleted)
Anonymous:             0 kB
Locked:                4 kB
7f0000600000-7f0000700000 r-xp 00010000 08:01 55 /usr/lib/libnew.so
Anonymous:             0 kB
";

    /// The mapping headers of `SAMPLE` as a record made at exec would list them.
    fn at_exec() -> Vec<Mapping> {
        SAMPLE
            .lines()
            .filter_map(parse_header)
            .filter(Mapping::read_only_file)
            .collect()
    }

    #[test]
    fn parses_headers_with_spaces_and_no_path() {
        let m = parse_header("7f0000400000-7f0000500000 r-xp 00001000 08:01 77 /a b (deleted)")
            .unwrap();
        assert_eq!(
            (m.start, m.end, m.offset, m.inode),
            (0x7f0000400000, 0x7f0000500000, 0x1000, 77)
        );
        assert_eq!(
            (m.perms.as_str(), m.dev.as_str(), m.path.as_str()),
            ("r-xp", "08:01", "/a b (deleted)")
        );
        let anon = parse_header("7f0000000000-7f0000100000 rw-p 00000000 00:00 0 ").unwrap();
        assert!(!anon.read_only_file());
        assert!(parse_header("Rss:                 900 kB").is_none());
        assert!(parse_header("VmFlags: rd mr mw me").is_none());
    }

    #[test]
    fn drops_only_clean_read_only_mappings_unchanged_since_exec() {
        let exec = at_exec();
        // The program's text and constants, libc's text; not the relocated constants
        // (anonymous pages), the data, the heap, [vvar], nor the locked library.
        let want = vec![
            (0x5600aa000000, 0x5600aa100000),
            (0x5600aa100000, 0x5600aa800000),
            (0x7f0000200000, 0x7f0000300000),
            (0x7f0000600000, 0x7f0000700000),
        ];
        assert_eq!(clean_ranges(SAMPLE, &exec), want);
        // A library loaded after exec is not in the record: left alone.
        let without_new: Vec<Mapping> = exec.iter().filter(|m| m.inode != 55).cloned().collect();
        assert_eq!(clean_ranges(SAMPLE, &without_new), want[..3].to_vec());
        // A range that was unmapped and mapped again from another file, offset or with
        // other bounds is not the mapping recorded at exec.
        for (from, to) in [
            ("08:01 55 /usr/lib/libnew.so", "08:01 56 /usr/lib/libnew.so"),
            ("00010000 08:01 55", "00020000 08:01 55"),
            ("7f0000600000-7f0000700000", "7f0000600000-7f0000680000"),
            ("/usr/lib/libnew.so", "/usr/lib/libother.so"),
        ] {
            let changed = SAMPLE.replace(from, to);
            assert_eq!(clean_ranges(&changed, &exec), want[..3].to_vec(), "{to}");
        }
        // Turned writable since exec (a text relocation): left alone.
        let writable = SAMPLE.replace(
            "7f0000200000-7f0000300000 r-xp",
            "7f0000200000-7f0000300000 rwxp",
        );
        assert_eq!(
            clean_ranges(&writable, &exec),
            vec![want[0], want[1], want[3]]
        );
    }

    #[test]
    fn own_smaps_parses_and_trim_keeps_the_process_working() {
        // Threads already run in a test binary, so nothing is recorded here: the trim
        // falls back to the program's own mappings (the libraries' path is covered above).
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
        let exe = own_executable().expect("/proc/self/exe");
        let own: Vec<Mapping> = maps
            .lines()
            .filter_map(parse_header)
            .filter(|m| m.read_only_file() && m.inode == exe.inode)
            .collect();
        let ranges = clean_ranges(&smaps, &own);
        // The test binary's own text is among them, libc's is not.
        let here = own_smaps_parses_and_trim_keeps_the_process_working as *const () as usize;
        assert!(ranges.iter().any(|&(a, b)| a <= here && here < b));
        let libc_fn = libc::getpid as *const () as usize;
        assert!(!ranges.iter().any(|&(a, b)| a <= libc_fn && libc_fn < b));
        after_start();
        // Code and constants refault from the file after the trim.
        assert_eq!(clean_ranges(SAMPLE, &at_exec()).len(), 4);
    }

    /// Collections made on the thread `trim-test` (the collector is process-wide: other
    /// threads' calls are not counted).
    static TEST_THREAD_COLLECTS: AtomicUsize = AtomicUsize::new(0);

    fn counting_collector() {
        if std::thread::current().name() == Some("trim-test") {
            TEST_THREAD_COLLECTS.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_trim_has_each_registered_thread_collect_its_own_heap_before_it_ends() {
        set_collector(counting_collector);
        let (wake_tx, wake_rx) = crossbeam_channel::unbounded::<()>();
        let (stop_tx, stop_rx) = crossbeam_channel::unbounded::<()>();
        let (ready_tx, ready_rx) = crossbeam_channel::unbounded::<()>();
        let calls = std::sync::Arc::new(AtomicUsize::new(0));
        let calls2 = calls.clone();
        let t = std::thread::Builder::new()
            .name("trim-test".into())
            .spawn(move || {
                let mut cursor = TrimCursor::register(move || {
                    calls2.fetch_add(1, Ordering::SeqCst);
                    wake_tx.send(()).is_ok()
                });
                let _ = ready_tx.send(());
                loop {
                    crossbeam_channel::select! {
                        recv(wake_rx) -> _ => cursor.collect_if_due(),
                        recv(stop_rx) -> _ => return,
                    }
                }
            })
            .expect("thread");
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("registered");
        for _ in 0..2 {
            let before = TEST_THREAD_COLLECTS.load(Ordering::SeqCst);
            nudge_threads();
            // The trim waits for the collection; a trim another test started at the
            // same time may have been counted in its place, hence the grace here.
            let deadline = Instant::now() + Duration::from_secs(10);
            while TEST_THREAD_COLLECTS.load(Ordering::SeqCst) == before && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(TEST_THREAD_COLLECTS.load(Ordering::SeqCst) > before);
        }
        // A thread that has ended is forgotten at the next trim.
        stop_tx.send(()).expect("stop");
        t.join().expect("join");
        nudge_threads();
        let seen = calls.load(Ordering::SeqCst);
        nudge_threads();
        assert_eq!(calls.load(Ordering::SeqCst), seen);
    }

    /// Resident pages among the whole pages of `[start, end)`.
    fn resident_pages(start: usize, end: usize) -> usize {
        let page = 4096;
        let (start, end) = (start.next_multiple_of(page), end & !(page - 1));
        if end <= start {
            return 0;
        }
        let mut vec = vec![0u8; (end - start) / page];
        // SAFETY: `vec` has one byte per page of the range; the range is mapped (a stack).
        let rc =
            unsafe { libc::mincore(start as *mut libc::c_void, end - start, vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        vec.iter().filter(|&&b| b & 1 == 1).count()
    }

    /// Writes `depth` KiB of stack below the caller and returns a sum that depends on it.
    #[inline(never)]
    fn deep(depth: usize) -> u64 {
        let mut block = [0u8; 1024];
        for (i, b) in block.iter_mut().enumerate() {
            *b = (i + depth) as u8;
        }
        let block = std::hint::black_box(block);
        let below = if depth > 1 { deep(depth - 1) } else { 0 };
        below + block.iter().map(|&b| u64::from(b)).sum::<u64>()
    }

    #[test]
    fn the_dead_depth_of_a_thread_stack_is_dropped_and_the_thread_runs_on() {
        let t = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let low = stack_low().expect("stack bounds of a spawned thread");
                let here = 0u8;
                let frame = std::hint::black_box(&here) as *const u8 as usize;
                let first = deep(512);
                // 512 KiB were written below this frame and are still resident.
                let dead_end = frame - STACK_KEEP - 4096;
                let before = resident_pages(low, dead_end);
                assert!(before >= 100, "{before} pages resident after a deep call");
                drop_dead_stack();
                let after = resident_pages(low, dead_end);
                // The frames of this test and of the drop stay within STACK_KEEP.
                assert_eq!(after, 0, "{after} of {before} pages still resident");
                // The dropped depth is usable again, and computes the same.
                assert_eq!(deep(512), first);
                assert!(resident_pages(low, dead_end) >= 100);
            })
            .expect("thread");
        t.join().expect("the thread ran on after the drop");
        // And on the test harness's own thread, whatever its stack.
        drop_dead_stack();
        assert!(deep(64) > 0);
    }
}
