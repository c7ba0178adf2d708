//! The `sd_journal_*` functions of `libsystemd.so.0`, loaded at run time with `dlopen`,
//! behind a safe [`Journal`] handle.
//!
//! Why dlopen: no build-time `-dev` package and no new crate; the same library as
//! python3-systemd, so match, flag and seek semantics are exactly fail2ban's. A machine
//! without libsystemd gets an error string (the jail reports it) instead of a link failure.
//! [`Api`] holds the symbol table (loaded once per process); [`Journal`] owns one
//! `sd_journal*` and closes it on drop.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::OnceLock;

type Handle = *mut c_void;

/// `sd_journal_wait`/`sd_journal_process` results.
pub const SD_JOURNAL_NOP: c_int = 0;
pub const SD_JOURNAL_APPEND: c_int = 1;
pub const SD_JOURNAL_INVALIDATE: c_int = 2;

/// The symbols gaol uses (signatures from sd-journal(3)).
struct Api {
    open: unsafe extern "C" fn(*mut Handle, c_int) -> c_int,
    open_directory: unsafe extern "C" fn(*mut Handle, *const c_char, c_int) -> c_int,
    open_files: unsafe extern "C" fn(*mut Handle, *const *const c_char, c_int) -> c_int,
    close: unsafe extern "C" fn(Handle),
    add_match: unsafe extern "C" fn(Handle, *const c_void, usize) -> c_int,
    add_disjunction: unsafe extern "C" fn(Handle) -> c_int,
    flush_matches: unsafe extern "C" fn(Handle),
    seek_realtime_usec: unsafe extern "C" fn(Handle, u64) -> c_int,
    seek_tail: unsafe extern "C" fn(Handle) -> c_int,
    seek_cursor: unsafe extern "C" fn(Handle, *const c_char) -> c_int,
    test_cursor: unsafe extern "C" fn(Handle, *const c_char) -> c_int,
    next: unsafe extern "C" fn(Handle) -> c_int,
    previous: unsafe extern "C" fn(Handle) -> c_int,
    get_data: unsafe extern "C" fn(Handle, *const c_char, *mut *const c_void, *mut usize) -> c_int,
    get_realtime_usec: unsafe extern "C" fn(Handle, *mut u64) -> c_int,
    get_monotonic_usec: unsafe extern "C" fn(Handle, *mut u64, *mut [u8; 16]) -> c_int,
    get_cursor: unsafe extern "C" fn(Handle, *mut *mut c_char) -> c_int,
    get_fd: unsafe extern "C" fn(Handle) -> c_int,
    process: unsafe extern "C" fn(Handle) -> c_int,
    set_data_threshold: unsafe extern "C" fn(Handle, usize) -> c_int,
}

// SAFETY: the table only holds function pointers into a library that is never unloaded.
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

fn api() -> Result<&'static Api, String> {
    API.get_or_init(load).as_ref().map_err(Clone::clone)
}

/// Looks a symbol up; `T` must be the function pointer type of its C signature.
unsafe fn sym<T: Copy>(lib: Handle, name: &str) -> Result<T, String> {
    let c = CString::new(name).map_err(|e| e.to_string())?;
    // SAFETY: lib is a live dlopen handle; c is NUL-terminated.
    let p = unsafe { libc::dlsym(lib, c.as_ptr()) };
    if p.is_null() {
        return Err(format!("libsystemd.so.0 lacks {name}"));
    }
    // SAFETY: the caller names the right signature; fn pointers and *mut c_void have the
    // same size on every platform libsystemd exists for.
    Ok(unsafe { std::mem::transmute_copy::<Handle, T>(&p) })
}

fn load() -> Result<Api, String> {
    // SAFETY: plain dlopen of a system library by soname; never dlclose'd.
    let lib = unsafe { libc::dlopen(c"libsystemd.so.0".as_ptr(), libc::RTLD_NOW) };
    if lib.is_null() {
        return Err("cannot load libsystemd.so.0 (is systemd installed?)".to_string());
    }
    // SAFETY: each name is paired with the signature from sd-journal(3).
    unsafe {
        Ok(Api {
            open: sym(lib, "sd_journal_open")?,
            open_directory: sym(lib, "sd_journal_open_directory")?,
            open_files: sym(lib, "sd_journal_open_files")?,
            close: sym(lib, "sd_journal_close")?,
            add_match: sym(lib, "sd_journal_add_match")?,
            add_disjunction: sym(lib, "sd_journal_add_disjunction")?,
            flush_matches: sym(lib, "sd_journal_flush_matches")?,
            seek_realtime_usec: sym(lib, "sd_journal_seek_realtime_usec")?,
            seek_tail: sym(lib, "sd_journal_seek_tail")?,
            seek_cursor: sym(lib, "sd_journal_seek_cursor")?,
            test_cursor: sym(lib, "sd_journal_test_cursor")?,
            next: sym(lib, "sd_journal_next")?,
            previous: sym(lib, "sd_journal_previous")?,
            get_data: sym(lib, "sd_journal_get_data")?,
            get_realtime_usec: sym(lib, "sd_journal_get_realtime_usec")?,
            get_monotonic_usec: sym(lib, "sd_journal_get_monotonic_usec")?,
            get_cursor: sym(lib, "sd_journal_get_cursor")?,
            get_fd: sym(lib, "sd_journal_get_fd")?,
            process: sym(lib, "sd_journal_process")?,
            set_data_threshold: sym(lib, "sd_journal_set_data_threshold")?,
        })
    }
}

/// A negative errno as text (`sd_journal_add_match: Invalid argument`).
fn err(what: &str, r: c_int) -> String {
    format!("{what}: {}", std::io::Error::from_raw_os_error(-r))
}

fn check(what: &str, r: c_int) -> Result<c_int, String> {
    if r < 0 { Err(err(what, r)) } else { Ok(r) }
}

/// Where to read from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The system's journal (`sd_journal_open`).
    Local,
    /// All journal files in a directory (`journalpath`).
    Directory(String),
    /// Exactly these files (`journalfiles`).
    Files(Vec<String>),
}

/// One open journal (one `sd_journal*`): not shared between threads.
pub struct Journal {
    api: &'static Api,
    j: Handle,
}

// SAFETY: an sd_journal may move between threads as long as only one uses it at a time,
// which `&mut self` on every call guarantees.
unsafe impl Send for Journal {}

impl Journal {
    /// Opens the journal; `flags` are sd_journal_open's (`SD_JOURNAL_LOCAL_ONLY` = 1, …).
    pub fn open(src: &Source, flags: i32) -> Result<Journal, String> {
        let api = api()?;
        let mut j: Handle = std::ptr::null_mut();
        // SAFETY: out-pointer to a local; C strings outlive the calls.
        let r = unsafe {
            match src {
                Source::Local => (api.open)(&mut j, flags),
                Source::Directory(d) => {
                    let c = CString::new(d.as_str()).map_err(|e| e.to_string())?;
                    (api.open_directory)(&mut j, c.as_ptr(), flags)
                }
                Source::Files(files) => {
                    let cs: Vec<CString> = files
                        .iter()
                        .map(|f| CString::new(f.as_str()))
                        .collect::<Result<_, _>>()
                        .map_err(|e| e.to_string())?;
                    let mut ptrs: Vec<*const c_char> = cs.iter().map(|c| c.as_ptr()).collect();
                    ptrs.push(std::ptr::null());
                    (api.open_files)(&mut j, ptrs.as_ptr(), flags)
                }
            }
        };
        check("sd_journal_open", r)?;
        if j.is_null() {
            return Err("sd_journal_open returned no journal".to_string());
        }
        let jr = Journal { api, j };
        // Fields longer than 64 KiB are cut (libsystemd's default, kept explicit).
        // SAFETY: valid handle.
        unsafe { (jr.api.set_data_threshold)(jr.j, 0x10000) };
        Ok(jr)
    }

    /// `FIELD=value` (AND with other matches of the same group).
    pub fn add_match(&mut self, m: &str) -> Result<(), String> {
        // SAFETY: pointer/length of a live str.
        let r = unsafe { (self.api.add_match)(self.j, m.as_ptr().cast(), m.len()) };
        check("sd_journal_add_match", r).map(|_| ())
    }

    /// Starts a new OR group.
    pub fn add_disjunction(&mut self) -> Result<(), String> {
        // SAFETY: valid handle.
        check("sd_journal_add_disjunction", unsafe {
            (self.api.add_disjunction)(self.j)
        })
        .map(|_| ())
    }

    pub fn flush_matches(&mut self) {
        // SAFETY: valid handle.
        unsafe { (self.api.flush_matches)(self.j) }
    }

    pub fn seek_realtime_usec(&mut self, usec: u64) -> Result<(), String> {
        // SAFETY: valid handle.
        check("sd_journal_seek_realtime_usec", unsafe {
            (self.api.seek_realtime_usec)(self.j, usec)
        })
        .map(|_| ())
    }

    pub fn seek_tail(&mut self) -> Result<(), String> {
        // SAFETY: valid handle.
        check("sd_journal_seek_tail", unsafe {
            (self.api.seek_tail)(self.j)
        })
        .map(|_| ())
    }

    pub fn seek_cursor(&mut self, cursor: &str) -> Result<(), String> {
        let c = CString::new(cursor).map_err(|e| e.to_string())?;
        // SAFETY: valid handle, NUL-terminated string.
        check("sd_journal_seek_cursor", unsafe {
            (self.api.seek_cursor)(self.j, c.as_ptr())
        })
        .map(|_| ())
    }

    /// True when the current entry is the one `cursor` names.
    pub fn test_cursor(&mut self, cursor: &str) -> bool {
        let Ok(c) = CString::new(cursor) else {
            return false;
        };
        // SAFETY: valid handle, NUL-terminated string.
        unsafe { (self.api.test_cursor)(self.j, c.as_ptr()) > 0 }
    }

    /// Moves to the next entry; false at the end.
    pub fn next_entry(&mut self) -> Result<bool, String> {
        // SAFETY: valid handle.
        check("sd_journal_next", unsafe { (self.api.next)(self.j) }).map(|n| n > 0)
    }

    pub fn previous_entry(&mut self) -> Result<bool, String> {
        // SAFETY: valid handle.
        check("sd_journal_previous", unsafe {
            (self.api.previous)(self.j)
        })
        .map(|n| n > 0)
    }

    /// The value of `field` in the current entry (bytes after `FIELD=`), None if absent.
    pub fn get(&mut self, field: &str) -> Option<Vec<u8>> {
        let c = CString::new(field).ok()?;
        let mut p: *const c_void = std::ptr::null();
        let mut n: usize = 0;
        // SAFETY: out-pointers to locals; the returned buffer is valid until the next
        // call on this journal, and is copied before that.
        let r = unsafe { (self.api.get_data)(self.j, c.as_ptr(), &mut p, &mut n) };
        if r < 0 || p.is_null() {
            return None;
        }
        // SAFETY: libsystemd guarantees n readable bytes at p.
        let all = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n) };
        all.get(field.len() + 1..).map(<[u8]>::to_vec)
    }

    pub fn realtime_usec(&mut self) -> Result<u64, String> {
        let mut t = 0u64;
        // SAFETY: out-pointer to a local.
        check("sd_journal_get_realtime_usec", unsafe {
            (self.api.get_realtime_usec)(self.j, &mut t)
        })?;
        Ok(t)
    }

    pub fn monotonic_usec(&mut self) -> Result<u64, String> {
        let mut t = 0u64;
        let mut boot = [0u8; 16];
        // SAFETY: out-pointers to locals (sd_id128_t is 16 bytes).
        check("sd_journal_get_monotonic_usec", unsafe {
            (self.api.get_monotonic_usec)(self.j, &mut t, &mut boot)
        })?;
        Ok(t)
    }

    pub fn cursor(&mut self) -> Result<String, String> {
        let mut p: *mut c_char = std::ptr::null_mut();
        // SAFETY: out-pointer; the string is malloc'd by libsystemd and freed here.
        check("sd_journal_get_cursor", unsafe {
            (self.api.get_cursor)(self.j, &mut p)
        })?;
        if p.is_null() {
            return Err("sd_journal_get_cursor returned nothing".to_string());
        }
        // SAFETY: p is a NUL-terminated string we own.
        let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        // SAFETY: allocated with malloc by libsystemd.
        unsafe { libc::free(p.cast()) };
        Ok(s)
    }

    /// The inotify fd that becomes readable on changes (for `poll`).
    pub fn fd(&mut self) -> Result<c_int, String> {
        // SAFETY: valid handle.
        check("sd_journal_get_fd", unsafe { (self.api.get_fd)(self.j) })
    }

    /// After the fd was readable: NOP, APPEND or INVALIDATE.
    pub fn process(&mut self) -> Result<c_int, String> {
        // SAFETY: valid handle.
        check("sd_journal_process", unsafe { (self.api.process)(self.j) })
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and not used after this.
        unsafe { (self.api.close)(self.j) }
    }
}

/// True when libsystemd can be loaded (tests skip otherwise).
pub fn available() -> bool {
    api().is_ok()
}

/// Loads libsystemd; the error says why it cannot be used.
pub fn check_available() -> Result<(), String> {
    api().map(|_| ())
}
