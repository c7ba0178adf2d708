//! Existence checks answered from directory listings.
//!
//! Reading a config tree asks, for every logical name, whether `x.conf`, `x.local` and
//! `x.d/` exist, and for every included file whether its `.local` exists: mostly names
//! that are absent. [`DirCache`] lists each directory once ([`Source::scan_dir`]) and
//! answers those questions from the listing. Entries whose kind a listing cannot tell
//! (symlinks, unknown types) and directories that cannot be listed fall back to the
//! [`Source`]'s own checks; a file present in a listing is still read normally. A cache
//! lives as long as one `FileSet` (one configuration load), so later changes on disk are
//! seen by the next load.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::files::Source;
use super::ini::FxBuild;

/// What a listing says about one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// Exists, neither a regular file nor a directory (fifo, socket, device).
    Other,
    /// Needs a real stat (symlink, or a kind the listing did not give).
    Unknown,
}

/// A directory listing as a [`Source`] can give it.
#[derive(Debug, Clone)]
pub enum DirScan {
    /// The directory does not exist (or is not a directory): nothing under it exists.
    Absent,
    /// Every entry with its kind.
    Entries(HashMap<String, EntryKind, FxBuild>),
    /// No listing available (unsupported, unreadable): ask the source per path.
    Unknown,
}

/// Listings by directory path, filled on first use.
#[derive(Default)]
pub struct DirCache {
    dirs: RefCell<HashMap<String, Rc<DirScan>, FxBuild>>,
}

/// What is known of one path without asking the source.
enum Known {
    Absent,
    Kind(EntryKind),
    /// Ask the source.
    Ask,
}

impl DirCache {
    fn scan(&self, src: &dyn Source, dir: &str) -> Rc<DirScan> {
        if let Some(s) = self.dirs.borrow().get(dir) {
            return s.clone();
        }
        let s = Rc::new(src.scan_dir(dir));
        self.dirs.borrow_mut().insert(dir.to_string(), s.clone());
        s
    }

    fn known(&self, src: &dyn Source, path: &str) -> Known {
        // Only plain `dir/name` paths: `.`/`..`, empty names and trailing slashes are left
        // to the source, whose path rules they depend on.
        let Some(i) = path.rfind('/') else {
            return Known::Ask;
        };
        let (dir, name) = (&path[..i], &path[i + 1..]);
        if dir.is_empty() || name.is_empty() || name == "." || name == ".." {
            return Known::Ask;
        }
        match &*self.scan(src, dir) {
            DirScan::Absent => Known::Absent,
            DirScan::Unknown => Known::Ask,
            DirScan::Entries(m) => match m.get(name) {
                None => Known::Absent,
                Some(EntryKind::Unknown) => Known::Ask,
                Some(k) => Known::Kind(*k),
            },
        }
    }

    /// `os.path.exists`.
    pub fn exists(&self, src: &dyn Source, path: &str) -> bool {
        match self.known(src, path) {
            Known::Absent => false,
            Known::Kind(_) => true,
            Known::Ask => src.exists(path),
        }
    }

    /// `os.path.isfile`.
    pub fn is_file(&self, src: &dyn Source, path: &str) -> bool {
        match self.known(src, path) {
            Known::Absent => false,
            Known::Kind(k) => k == EntryKind::File,
            Known::Ask => src.is_file(path),
        }
    }

    /// The file's bytes; no open attempt for a name the listing lacks.
    pub fn read(&self, src: &dyn Source, path: &str) -> Option<Vec<u8>> {
        match self.known(src, path) {
            Known::Absent => None,
            _ => src.read(path),
        }
    }

    /// Entry names of `dir` (unsorted), empty when absent.
    pub fn list_dir(&self, src: &dyn Source, dir: &str) -> Vec<String> {
        if dir.is_empty() {
            return src.list_dir(dir);
        }
        if let Known::Absent = self.known(src, dir) {
            return Vec::new();
        }
        match &*self.scan(src, dir) {
            DirScan::Absent => Vec::new(),
            DirScan::Entries(m) => m.keys().cloned().collect(),
            DirScan::Unknown => src.list_dir(dir),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::files::FsSource;

    #[test]
    fn answers_match_the_file_system() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_str().unwrap().to_string();
        std::fs::create_dir(format!("{root}/d")).unwrap();
        std::fs::create_dir(format!("{root}/d/sub.d")).unwrap();
        std::fs::write(format!("{root}/d/a.conf"), "[x]\n").unwrap();
        std::os::unix::fs::symlink(format!("{root}/d/a.conf"), format!("{root}/d/l.local"))
            .unwrap();
        std::os::unix::fs::symlink(format!("{root}/d/sub.d"), format!("{root}/d/ld.d")).unwrap();
        std::os::unix::fs::symlink(format!("{root}/nowhere"), format!("{root}/d/dead.conf"))
            .unwrap();
        let paths = [
            "d",
            "d/a.conf",
            "d/a.local",
            "d/sub.d",
            "d/sub.d/x",
            "d/l.local",
            "d/ld.d",
            "d/dead.conf",
            "d/a.conf/x",
            "nope/a.conf",
            "d/.",
            "d/..",
            "d/",
            "d//a.conf",
        ];
        let cache = DirCache::default();
        for p in paths {
            let full = format!("{root}/{p}");
            assert_eq!(
                cache.exists(&FsSource, &full),
                FsSource.exists(&full),
                "exists {p}"
            );
            assert_eq!(
                cache.is_file(&FsSource, &full),
                FsSource.is_file(&full),
                "is_file {p}"
            );
            assert_eq!(
                cache.read(&FsSource, &full),
                FsSource.read(&full),
                "read {p}"
            );
            let mut a = cache.list_dir(&FsSource, &full);
            let mut b = FsSource.list_dir(&full);
            a.sort();
            b.sort();
            assert_eq!(a, b, "list_dir {p}");
        }
    }
}
