//! The `gaol` binary, also a multi-call binary: invoked as `fail2ban-client`,
//! `fail2ban-server` or `fail2ban-regex` it behaves as that tool.

fn main() {
    gaol::server::memtrim::set_collector(collect_allocator);
    let args: Vec<String> = std::env::args().collect();
    let code = gaol::cli::dispatch(args);
    std::process::exit(code);
}

// The config reader and the filter pipeline allocate many small strings; mimalloc
// serves them markedly cheaper than glibc's malloc.
#[global_allocator]
static GLOBAL: Mi = Mi;

/// mimalloc, entered through its plain `mi_malloc`/`mi_realloc` for the usual
/// alignments: the `mimalloc` crate always takes the `_aligned` entry points, whose
/// checks cost about twice the plain fast path (and `-d` allocates ~85k times).
struct Mi;

/// Every mimalloc block is aligned to at least a machine word.
const MI_MIN_ALIGN: usize = std::mem::size_of::<usize>();

// SAFETY: each method forwards to mimalloc; blocks from either entry point are freed
// by `mi_free`, and the plain entry points are used only for alignments every
// mimalloc block already has.
unsafe impl std::alloc::GlobalAlloc for Mi {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.align() <= MI_MIN_ALIGN {
            // SAFETY: plain allocation of `size` bytes.
            unsafe { mi_malloc(layout.size()).cast() }
        } else {
            // SAFETY: as the `mimalloc` crate does it.
            unsafe { mimalloc::MiMalloc.alloc(layout) }
        }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.align() <= MI_MIN_ALIGN {
            // SAFETY: plain zeroed allocation of `size` bytes.
            unsafe { mi_zalloc(layout.size()).cast() }
        } else {
            // SAFETY: as the `mimalloc` crate does it.
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from mimalloc (any entry point).
        unsafe { mi_free(ptr.cast()) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MI_MIN_ALIGN {
            // SAFETY: `ptr` came from mimalloc; the new block keeps word alignment.
            unsafe { mi_realloc(ptr.cast(), new_size).cast() }
        } else {
            // SAFETY: as the `mimalloc` crate does it.
            unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
        }
    }
}

unsafe extern "C" {
    // All are exported by the mimalloc library the `mimalloc` crate links in.
    fn mi_version() -> std::ffi::c_int;
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    fn mi_malloc(size: usize) -> *mut std::ffi::c_void;
    fn mi_zalloc(size: usize) -> *mut std::ffi::c_void;
    fn mi_realloc(p: *mut std::ffi::c_void, size: usize) -> *mut std::ffi::c_void;
    fn mi_free(p: *mut std::ffi::c_void);
    fn mi_collect(force: bool);
}

/// Returns the allocator's free memory to the OS (the server calls it once its jails
/// are up, see `gaol::server::memtrim`).
fn collect_allocator() {
    // SAFETY: a plain C call; mimalloc serialises it with its own allocations.
    unsafe { mi_collect(true) };
}

/// mimalloc's defaults favour speed over footprint: freed memory is returned to the OS
/// only after a delay and arenas are committed eagerly. Compiling the filters' regexes
/// at start-up allocates far more than the daemon keeps, so an idle server held on to
/// tens of MiB it no longer used. Purge at once and commit on demand instead; both cost
/// little for a daemon whose steady state allocates little. An option given in the
/// environment (`MIMALLOC_<NAME>`) is left as the user set it.
///
/// A client dump (`-d`, `--dp`) is the opposite case: it lives a few milliseconds and
/// frees memory it soon allocates again, so eager commit is kept and purging is turned
/// off (purged pages were faulted in anew: ~1.3k page faults and ~130 madvise calls).
/// Its heap is not backed with transparent huge pages either: it touches ~5 MiB, but each
/// huge page is zeroed whole on first touch (~12 MiB, about a fifth of the dump's CPU
/// time), and a huge page fault may stall in the kernel's compaction for milliseconds.
/// Its arena is reserved small too (see `ARENA_RESERVE_KIB`: ~40 pages fewer to fault).
///
/// `fail2ban-regex` keeps the daemon's footprint settings but for purging, turned off
/// too: its pipeline threads free batches of lines that another thread allocates again,
/// and purged pages were faulted in anew (1M-line auth.log: ~2k page faults and ~2.5 %
/// of its wall time). Eager commit would save ~3 % more but backs each thread's pages
/// with huge pages: peak RSS 27 → 70 MiB, more than fail2ban's own.
///
/// Runs as an ELF constructor (glibc passes it `argc`/`argv`/`envp`): the first arena is
/// reserved by the first allocation, which the Rust runtime makes before `main`, and the
/// commit option only applies to arenas reserved after it is set. Nothing here allocates.
extern "C" fn tune_allocator(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) {
    // Option indexes of mimalloc 2.x and 3.x (the same for these options).
    const ARENA_EAGER_COMMIT: std::ffi::c_int = 4;
    const PURGE_DELAY: std::ffi::c_int = 15;
    const ARENA_RESERVE: std::ffi::c_int = 23;
    // An arena's bookkeeping (bitmaps sized by the reservation, written whole) is
    // resident from the first allocation: the default 1 GiB costs ~190 KiB of it, a
    // 64 MiB one a sixteenth; a process that outgrows it reserves another.
    const ARENA_RESERVE_KIB: std::ffi::c_long = 64 * 1024;
    // SAFETY: plain C calls without pointers; mi_option_set only stores the value.
    let major = unsafe { mi_version() } / 10000;
    if !(2..=3).contains(&major) {
        return;
    }
    // SAFETY: glibc hands an init_array function the process's `argc` and `argv`.
    let run = unsafe { run_of_argv(argc, argv) };
    // (a negative delay never purges)
    let no_purge = (c"MIMALLOC_PURGE_DELAY", PURGE_DELAY, -1);
    let small_arena = (c"MIMALLOC_ARENA_RESERVE", ARENA_RESERVE, ARENA_RESERVE_KIB);
    let dump = [no_purge, small_arena];
    let footprint = [
        (c"MIMALLOC_ARENA_EAGER_COMMIT", ARENA_EAGER_COMMIT, 0),
        match run {
            Run::Regex => no_purge,
            _ => (c"MIMALLOC_PURGE_DELAY", PURGE_DELAY, 0),
        },
        small_arena,
    ];
    if run == Run::Dump
        // SAFETY: getenv with a valid C string; only the null test is used.
        && unsafe { libc::getenv(c"MIMALLOC_ALLOW_THP".as_ptr()) }.is_null()
    {
        // SAFETY: a plain prctl without pointers; it only sets a flag of this process.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
    let settings = match run {
        Run::Dump => &dump[..],
        Run::Regex | Run::Other => &footprint[..],
    };
    for &(name, option, value) in settings {
        // SAFETY: getenv with a valid C string; only the null test is used.
        if unsafe { libc::getenv(name.as_ptr()) }.is_null() {
            // SAFETY: as above; the option index is valid for this library version.
            unsafe { mi_option_set(option, value) };
        }
    }
}

/// What a command line runs, as far as the allocator's settings go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// A client's dump: `fail2ban-client` or `gaol client` with `-d`, `--dp` or
    /// `--dump-pretty` among its arguments.
    Dump,
    /// `fail2ban-regex`, by that name or as `gaol regex`.
    Regex,
    /// The server, the other client commands, the rest.
    Other,
}

/// [`run_of`] on the C `argv`, read without allocating.
///
/// # Safety
/// `argv` holds `argc` pointers to NUL-terminated strings (or is null).
unsafe fn run_of_argv(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> Run {
    if argv.is_null() || argc < 1 {
        return Run::Other;
    }
    let arg = |i: usize| -> &[u8] {
        // SAFETY: `i < argc`; each entry is a NUL-terminated string (see above).
        let p = unsafe { *argv.add(i) };
        if p.is_null() {
            return b"";
        }
        // SAFETY: as above.
        unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes()
    };
    run_of(argc as usize, arg)
}

/// What the command line (`n` arguments, `arg(i)` the i-th, the program first) runs,
/// read as `cli::dispatch` does: a tool's name wins, else the first argument names it.
fn run_of<'a>(n: usize, arg: impl Fn(usize) -> &'a [u8]) -> Run {
    if n == 0 {
        return Run::Other;
    }
    let prog = arg(0);
    let base = prog.rsplit(|&b| b == b'/').next().unwrap_or(prog);
    let (tool, first) = match base {
        b"fail2ban-client" => (&b"client"[..], 1),
        b"fail2ban-server" => (&b"server"[..], 1),
        b"fail2ban-regex" => (&b"regex"[..], 1),
        _ if n > 1 => (arg(1), 2),
        _ => return Run::Other,
    };
    match tool {
        b"regex" => Run::Regex,
        b"client" if (first..n).any(|i| matches!(arg(i), b"-d" | b"--dp" | b"--dump-pretty")) => {
            Run::Dump
        }
        _ => Run::Other,
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn(std::ffi::c_int, *const *const std::ffi::c_char) =
    tune_allocator;

#[cfg(test)]
mod tests {
    use super::{Run, run_of};

    fn run(args: &[&str]) -> Run {
        run_of(args.len(), |i| args[i].as_bytes())
    }

    #[test]
    fn runs_are_told_apart_as_dispatch_does() {
        assert_eq!(
            run(&["fail2ban-client", "-c", "/etc/fail2ban", "-d"]),
            Run::Dump
        );
        assert_eq!(run(&["/usr/bin/fail2ban-client", "--dp"]), Run::Dump);
        assert_eq!(run(&["gaol", "client", "--dump-pretty"]), Run::Dump);
        assert_eq!(
            run(&["/usr/bin/fail2ban-regex", "auth.log", "sshd"]),
            Run::Regex
        );
        assert_eq!(
            run(&["gaol", "regex", "-o", "ip", "a.log", "sshd"]),
            Run::Regex
        );
        // the daemon and the other client commands keep the footprint settings
        assert_eq!(run(&["fail2ban-server", "-f"]), Run::Other);
        assert_eq!(run(&["gaol", "server", "-xf", "start"]), Run::Other);
        assert_eq!(run(&["fail2ban-client", "status", "sshd"]), Run::Other);
        assert_eq!(run(&["gaol", "client", "reload"]), Run::Other);
        // a tool's name wins over the first argument; `-d` before `client` is not its
        assert_eq!(run(&["fail2ban-server", "regex"]), Run::Other);
        assert_eq!(run(&["gaol", "fail2ban-regex"]), Run::Other);
        assert_eq!(run(&["gaol", "-d", "client"]), Run::Other);
        assert_eq!(run(&["fail2ban-regexp", "x"]), Run::Other);
        assert_eq!(run(&["gaol"]), Run::Other);
        assert_eq!(run(&[]), Run::Other);
    }
}
