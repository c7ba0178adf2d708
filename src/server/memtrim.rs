//! Giving memory back once the jails are up: [`after_start`] runs when a command stream
//! (`server-stream`: start, reload) has been applied.
//!
//! Start-up is the costly phase for memory: reading the configuration and compiling
//! every filter allocates far more than the daemon keeps, and it runs code (config
//! parser, regex compilers, SQLite schema setup) an idle daemon never runs again. Two
//! things are released:
//! - the allocator's freed-but-kept memory, through a collector the binary registers
//!   ([`set_collector`]; the allocator is the binary's choice, the library does not
//!   assume one);
//! - the program's own read-only file pages (text and constants): they stay in the page
//!   cache, shared with every other process, and the pages the daemon still uses fault
//!   back in on their first touch. Shared libraries are left alone: another thread may
//!   be loading one (NSS for a DNS lookup, libsystemd for a journal jail) while the
//!   mappings are read, and dropping a range the loader has since mapped over and
//!   relocated would bring back unrelocated bytes (a crash).

use std::sync::OnceLock;

static COLLECTOR: OnceLock<fn()> = OnceLock::new();

/// Registers the allocator's "return free memory to the OS" call (first call wins).
pub fn set_collector(f: fn()) {
    let _ = COLLECTOR.set(f);
}

/// Releases what start-up left behind (see the module doc). Cheap: one read of
/// `/proc/self/smaps` and a few `madvise` calls. Does nothing when `GAOL_NO_TRIM` is set.
pub fn after_start() {
    if std::env::var_os("GAOL_NO_TRIM").is_some() {
        return;
    }
    if let Some(f) = COLLECTOR.get() {
        f();
    }
    drop_file_pages();
    // Once more when the jail threads have settled: starting them runs code too (opening
    // logs, first log lines). A short-lived thread; no harm if it cannot start.
    let _ = std::thread::Builder::new()
        .name("f2b/trim".into())
        .stack_size(64 * 1024)
        .spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(1));
            drop_file_pages();
        });
}

/// Drops the clean read-only file pages of the program (see the module doc).
fn drop_file_pages() {
    let Some(exe) = own_executable() else {
        return;
    };
    if let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") {
        for (start, end) in clean_file_ranges(&smaps, &exe) {
            // SAFETY: the range is a whole mapping of this process that is read-only and
            // holds no privately modified page (see `clean_file_ranges`), so dropping its
            // pages loses nothing: each refaults from the file on its next touch.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}

/// The running program's file: its path as smaps prints it and its inode. The program
/// is mapped once at exec and never remapped, unlike libraries loaded later.
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

/// The address ranges of `smaps` that are private read-only mappings of the program's
/// file with no anonymous (copy-on-write) page. A range that was ever written
/// (relocations fixed up before it turned read-only) keeps its pages: dropping them
/// would bring back the file's unrelocated bytes.
fn clean_file_ranges(smaps: &str, exe: &Executable) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    // The mapping being read, while it still qualifies.
    let mut cur: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(r) = mapping_header(line, exe) {
            out.extend(cur.take());
            cur = r;
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

/// For a mapping header line of smaps: `Some(None)` for a mapping not to touch,
/// `Some(Some(range))` for a candidate; `None` for any other line.
fn mapping_header(line: &str, exe: &Executable) -> Option<Option<(usize, usize)>> {
    let mut f = line.split_ascii_whitespace();
    let range = f.next()?;
    let (a, b) = range.split_once('-')?;
    let start = usize::from_str_radix(a, 16).ok()?;
    let end = usize::from_str_radix(b, 16).ok()?;
    let perms = f.next()?;
    // offset, device, inode, then the path (absent for anonymous memory).
    let inode = f.nth(2)?;
    let path = f.next();
    let candidate = perms.len() == 4
        && perms.starts_with('r')
        && !perms.contains('w')
        && perms.ends_with('p')
        && inode.parse::<u64>().ok() == Some(exe.inode)
        && path == Some(exe.path.as_str())
        && end > start;
    Some(candidate.then_some((start, end)))
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
7f0000400000-7f0000500000 r-xp 00000000 08:01 99 /usr/lib/libx.so (deleted)
Anonymous:             0 kB
Locked:                4 kB
";

    fn sample_exe() -> Executable {
        Executable {
            path: "/usr/bin/gaol".into(),
            inode: 1234,
        }
    }

    #[test]
    fn picks_only_the_programs_clean_read_only_mappings() {
        // libc's clean text is left alone: libraries are not the program's file.
        assert_eq!(
            clean_file_ranges(SAMPLE, &sample_exe()),
            vec![
                (0x5600aa000000, 0x5600aa100000),
                (0x5600aa100000, 0x5600aa800000),
            ]
        );
        // Same path, other inode (the program was replaced on disk): not ours.
        let other = Executable {
            path: "/usr/bin/gaol".into(),
            inode: 99,
        };
        assert!(clean_file_ranges(SAMPLE, &other).is_empty());
    }

    #[test]
    fn own_smaps_parses_and_trim_keeps_the_process_working() {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let exe = own_executable().expect("/proc/self/exe");
        let ranges = clean_file_ranges(&smaps, &exe);
        // The test binary's own text is among them, libc's is not.
        let here = own_smaps_parses_and_trim_keeps_the_process_working as *const () as usize;
        assert!(ranges.iter().any(|&(a, b)| a <= here && here < b));
        let libc_fn = libc::getpid as *const () as usize;
        assert!(!ranges.iter().any(|&(a, b)| a <= libc_fn && libc_fn < b));
        after_start();
        // Code and constants refault from the file after the trim.
        assert_eq!(clean_file_ranges(SAMPLE, &sample_exe()).len(), 2);
    }
}
