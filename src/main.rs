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
/// frees memory it soon allocates again, so the defaults are kept and purging is turned
/// off (purged pages were faulted in anew: ~1.3k page faults and ~130 madvise calls).
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
    if unsafe { is_client_dump(argc, argv) } {
        // SAFETY: getenv with a valid C string; only the null test is used.
        if unsafe { libc::getenv(c"MIMALLOC_PURGE_DELAY".as_ptr()) }.is_null() {
            // SAFETY: as below; a negative delay never purges.
            unsafe { mi_option_set(PURGE_DELAY, -1) };
        }
        return;
    }
    for (name, option, value) in [
        (c"MIMALLOC_ARENA_EAGER_COMMIT", ARENA_EAGER_COMMIT, 0),
        (c"MIMALLOC_PURGE_DELAY", PURGE_DELAY, 0),
        (c"MIMALLOC_ARENA_RESERVE", ARENA_RESERVE, ARENA_RESERVE_KIB),
    ] {
        // SAFETY: getenv with a valid C string; only the null test is used.
        if unsafe { libc::getenv(name.as_ptr()) }.is_null() {
            // SAFETY: as above; the option index is valid for this library version.
            unsafe { mi_option_set(option, value) };
        }
    }
}

/// Whether the command line is a client's dump: invoked as `fail2ban-client` or as
/// `gaol client`, with `-d`, `--dp` or `--dump-pretty` among its arguments.
///
/// # Safety
/// `argv` holds `argc` pointers to NUL-terminated strings (or is null).
unsafe fn is_client_dump(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> bool {
    if argv.is_null() || argc < 2 {
        return false;
    }
    let arg = |i: std::ffi::c_int| -> &[u8] {
        // SAFETY: `i < argc`; each entry is a NUL-terminated string (see above).
        let p = unsafe { *argv.add(i as usize) };
        if p.is_null() {
            return b"";
        }
        // SAFETY: as above.
        unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes()
    };
    let prog = arg(0);
    let base = prog.rsplit(|&b| b == b'/').next().unwrap_or(prog);
    let first = if base == b"fail2ban-client" {
        1
    } else if arg(1) == b"client" {
        2
    } else {
        return false;
    };
    (first..argc).any(|i| matches!(arg(i), b"-d" | b"--dp" | b"--dump-pretty"))
}

#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn(std::ffi::c_int, *const *const std::ffi::c_char) =
    tune_allocator;
