//! Where config text comes from and how a logical name becomes one merged [`Config`].
//!
//! [`Source`] abstracts the directory (a real one, or gaol's embedded default). [`FileSet`]
//! parses each file once (cached by path), expands `[INCLUDES]` (each include followed by
//! its `.local`), and merges the file list into a [`Config`] with `KNOWN/<section>`
//! snapshots of overridden values, as fail2ban's reader does.

use std::collections::HashMap;
use std::rc::Rc;

use super::dircache::{DirCache, DirScan, EntryKind};
use super::ini::{self, FxBuild, IniFile, OrdMap, RawVal, Section};

/// A read-only view of a config directory.
pub trait Source: Sync {
    /// The file's bytes, or `None` when it does not exist / cannot be read.
    fn read(&self, path: &str) -> Option<Vec<u8>>;
    /// `os.path.exists` (files and directories).
    fn exists(&self, path: &str) -> bool;
    /// `os.path.isfile`.
    fn is_file(&self, path: &str) -> bool;
    /// Names of the entries of a directory (unsorted), empty when absent.
    fn list_dir(&self, dir: &str) -> Vec<String>;
    /// The entries of a directory with their kinds, letting a [`DirCache`] answer
    /// existence checks without a query per path. The default knows nothing.
    fn scan_dir(&self, _dir: &str) -> DirScan {
        DirScan::Unknown
    }
}

/// The real file system.
pub struct FsSource;

impl Source for FsSource {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        // `fs::read` queries size (and `read_to_end` position) first, and a safe read
        // zero-fills the buffer: config files are small, so read straight into a presized
        // buffer's spare capacity. 8 KiB holds most of them and is still a small block
        // for mimalloc (see `config::open_piece` on why that matters).
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(path).ok()?;
        let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
        loop {
            if buf.spare_capacity_mut().is_empty() {
                buf.reserve(buf.len());
            }
            let spare = buf.spare_capacity_mut();
            // SAFETY: the kernel writes at most `spare.len()` bytes into memory owned by
            // `buf` beyond its length; `f` keeps the descriptor open for the call.
            let n = unsafe { libc::read(f.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return None;
            }
            if n == 0 {
                break;
            }
            // SAFETY: `n` bytes past the old length were just initialised by `read`.
            unsafe { buf.set_len(buf.len() + n as usize) };
        }
        Some(buf)
    }
    fn scan_dir(&self, dir: &str) -> DirScan {
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return DirScan::Absent,
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return DirScan::Absent,
            Err(_) => return DirScan::Unknown,
        };
        let mut m = HashMap::default();
        for e in rd {
            let Ok(e) = e else {
                return DirScan::Unknown;
            };
            let Ok(name) = e.file_name().into_string() else {
                // A name that is not UTF-8 can never be asked for: skip it.
                continue;
            };
            let kind = match e.file_type() {
                Ok(t) if t.is_file() => EntryKind::File,
                Ok(t) if t.is_dir() => EntryKind::Dir,
                Ok(t) if t.is_symlink() => EntryKind::Unknown,
                Ok(_) => EntryKind::Other,
                Err(_) => EntryKind::Unknown,
            };
            m.insert(name, kind);
        }
        DirScan::Entries(m)
    }
    fn exists(&self, path: &str) -> bool {
        std::path::Path::new(path).exists()
    }
    fn is_file(&self, path: &str) -> bool {
        std::path::Path::new(path).is_file()
    }
    fn list_dir(&self, dir: &str) -> Vec<String> {
        let d = if dir.is_empty() { "." } else { dir };
        match std::fs::read_dir(d) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Files compiled into the binary, addressed as `<root>/<relative path>`.
pub struct EmbeddedSource {
    pub root: String,
    pub files: &'static [(&'static str, &'static str)],
}

impl EmbeddedSource {
    fn rel<'a>(&self, path: &'a str) -> Option<&'a str> {
        path.strip_prefix(self.root.as_str())?.strip_prefix('/')
    }
}

impl Source for EmbeddedSource {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        let rel = self.rel(path)?;
        self.files
            .iter()
            .find(|(p, _)| *p == rel)
            .map(|(_, t)| t.as_bytes().to_vec())
    }
    fn exists(&self, path: &str) -> bool {
        if path == self.root {
            return true;
        }
        let Some(rel) = self.rel(path) else {
            return false;
        };
        self.files
            .iter()
            .any(|(p, _)| *p == rel || p.strip_prefix(rel).is_some_and(|r| r.starts_with('/')))
    }
    fn is_file(&self, path: &str) -> bool {
        self.rel(path)
            .is_some_and(|rel| self.files.iter().any(|(p, _)| *p == rel))
    }
    fn list_dir(&self, dir: &str) -> Vec<String> {
        let prefix = if dir == self.root {
            String::new()
        } else {
            match self.rel(dir) {
                Some(r) => format!("{r}/"),
                None => return Vec::new(),
            }
        };
        let mut out: Vec<String> = Vec::new();
        for (p, _) in self.files {
            if let Some(rest) = p.strip_prefix(prefix.as_str()) {
                let name = rest.split('/').next().unwrap_or(rest).to_string();
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        out
    }
}

/// A whole-configuration failure (fail2ban: "Failed during configuration: …").
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// fail2ban's own wording of the problem.
    pub message: String,
    /// gaol's precise location ("file, line N, section S, option O"), when known.
    pub location: Option<String>,
}

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            location: None,
        }
    }
    pub fn at(mut self, loc: impl Into<String>) -> Self {
        if self.location.is_none() {
            self.location = Some(loc.into());
        }
        self
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(l) = &self.location {
            write!(f, " [{l}]")?;
        }
        Ok(())
    }
}

/// A merged config (one logical name): `[DEFAULT]`, sections in first-seen order, and the
/// hidden `KNOWN/<section>` snapshots.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub defaults: Section,
    pub sections: OrdMap<Section>,
    /// The file list read, in merge order (empty: nothing accessible).
    pub files: Vec<String>,
    /// Tag lookups of the definition readers that did not depend on a jail's variables,
    /// or names absent from the file: shared by all jails using this filter/action.
    pub tag_memo: std::cell::RefCell<HashMap<String, TagMemo, FxBuild>>,
    /// Values read without caller variables (`[Init]`, extra `[Definition]` options):
    /// the same for every jail, so interpolated once.
    /// Section → option → value (two levels: looked up without allocating a key).
    pub plain_memo: std::cell::RefCell<HashMap<String, HashMap<String, String, FxBuild>, FxBuild>>,
    /// `[Init]` read once for every jail: each own option with its `known/` name (`None`
    /// for options already named `known/…`) and its value without caller variables.
    pub init_memo: std::cell::RefCell<Option<Rc<InitPlain>>>,
    /// Tag resolutions of this definition that other jails may replay
    /// ([`super::tags_plan`]).
    pub tag_plans: std::cell::RefCell<super::tags_plan::PlanStore>,
}

/// See [`Config::init_memo`].
pub type InitPlain = Vec<(String, Option<String>, String)>;

/// A shared tag lookup result (see [`Config::tag_memo`]).
#[derive(Debug, Clone)]
pub enum TagMemo {
    /// The value, valid for callers whose variables contain none of the names it was
    /// built from (kept as their hashes, see `reader::VarNames`).
    Value(String, Vec<u64>),
    /// Not in the file: only a caller variable of that name could supply it.
    Absent,
}

/// Parses and caches files, and resolves logical names.
pub struct FileSet<'s> {
    pub src: &'s dyn Source,
    pub basedir: String,
    /// File table: index = `RawVal::file`.
    pub names: Vec<String>,
    parsed: HashMap<String, Option<Rc<IniFile>>, FxBuild>,
    includes: HashMap<String, Rc<Vec<String>>, FxBuild>,
    /// Directory listings answering existence checks (one load's lifetime).
    dirs: DirCache,
    /// Warnings/errors to log (level, message).
    pub log: Vec<(Level, String, String)>,
    /// gaol's stricter findings (include loops, undecodable files): `-t` fails on them.
    pub strict: Vec<String>,
}

/// Log levels used on stderr, as fail2ban names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Notice,
    Warning,
    Error,
}

impl<'s> FileSet<'s> {
    pub fn new(src: &'s dyn Source, basedir: &str) -> Self {
        let mut b = basedir.trim_end_matches('/').to_string();
        if b.is_empty() && basedir.starts_with('/') {
            b = String::new();
        }
        FileSet {
            src,
            basedir: b,
            names: Vec::new(),
            parsed: HashMap::default(),
            includes: HashMap::default(),
            dirs: DirCache::default(),
            log: Vec::new(),
            strict: Vec::new(),
        }
    }

    pub fn warn(&mut self, logger: &str, msg: String) {
        self.log.push((Level::Warning, logger.to_string(), msg));
    }
    pub fn error(&mut self, logger: &str, msg: String) {
        self.log.push((Level::Error, logger.to_string(), msg));
    }

    /// Describes where a value came from, for gaol's precise error messages.
    pub fn origin(&self, v: &RawVal) -> String {
        match self.names.get(v.file as usize) {
            Some(f) => format!("{f}, line {}", v.line),
            None => "built-in value".to_string(),
        }
    }

    /// Parses one file (cached). `Ok(None)` = absent/undecodable (logged).
    fn parse_file(&mut self, path: &str) -> Result<Option<Rc<IniFile>>, ConfigError> {
        if let Some(p) = self.parsed.get(path) {
            return Ok(p.clone());
        }
        let parsed = match self.dirs.read(self.src, path) {
            None => None,
            Some(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    let idx = self.names.len() as u32;
                    self.names.push(path.to_string());
                    match ini::parse(&text, idx, path) {
                        Ok(f) => Some(Rc::new(f)),
                        Err(e) => {
                            return Err(
                                ConfigError::new(e.message).at(format!("{path}, line {}", e.line))
                            );
                        }
                    }
                }
                Err(e) => {
                    let off = e.utf8_error().valid_up_to();
                    let line = e.as_bytes()[..off].iter().filter(|&&b| b == b'\n').count() + 1;
                    let msg = format!(
                        "Error decoding config file '{path}': invalid UTF-8 at byte {off} (line {line}); file ignored"
                    );
                    self.strict.push(msg.clone());
                    self.error("fail2ban.configparserinc", msg);
                    None
                }
            },
        };
        self.parsed.insert(path.to_string(), parsed.clone());
        Ok(parsed)
    }

    fn local_of(path: &str) -> String {
        // os.path.splitext: extension of the last component only, leading dots ignored.
        let (dir, file) = match path.rfind('/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => ("", path),
        };
        let stem_start = file.len() - file.trim_start_matches('.').len();
        let stem = match file[stem_start..].rfind('.') {
            Some(i) => &file[..stem_start + i],
            None => file,
        };
        format!("{dir}{stem}.local")
    }

    fn expand_with_local(&self, files: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for f in files {
            out.push(f.clone());
            let local = Self::local_of(f);
            if !files.contains(&local) && self.dirs.is_file(self.src, &local) {
                out.push(local);
            }
        }
        out
    }

    fn get_includes(
        &mut self,
        files: &[String],
        seen: &[String],
    ) -> Result<Vec<String>, ConfigError> {
        let files = self.expand_with_local(files);
        let key = files.join("\x01");
        if let Some(v) = self.includes.get(&key) {
            return Ok((**v).clone());
        }
        let mut full = Vec::new();
        for f in &files {
            full.extend(self.includes_uncached(f, seen)?);
        }
        self.includes.insert(key, Rc::new(full.clone()));
        Ok(full)
    }

    fn includes_uncached(
        &mut self,
        resource: &str,
        seen: &[String],
    ) -> Result<Vec<String>, ConfigError> {
        let Some(parsed) = self.parse_file(resource)? else {
            return Ok(Vec::new());
        };
        let dir = match resource.rfind('/') {
            Some(i) => &resource[..i],
            None => "",
        };
        let mut before = Vec::new();
        let mut after = Vec::new();
        if let Some(inc) = parsed.sections.get("INCLUDES") {
            for (opt, list) in [("before", &mut before), ("after", &mut after)] {
                let Some(v) = inc.get(opt) else { continue };
                // Interpolated like any value; include lists rarely use %(...)s.
                let text = v.text.replace("%%", "%");
                for name in text.split('\n') {
                    let r = if name.starts_with('/') || dir.is_empty() {
                        name.to_string()
                    } else {
                        format!("{dir}/{name}")
                    };
                    if seen.contains(&r) {
                        let msg = format!(
                            "Include loop: '{resource}' includes '{r}' which is already being read; include skipped"
                        );
                        self.strict.push(msg.clone());
                        self.warn("fail2ban.configparserinc", msg);
                        continue;
                    }
                    let mut s = seen.to_vec();
                    s.push(resource.to_string());
                    list.extend(self.get_includes(&[r], &s)?);
                }
            }
        }
        let mut out = before;
        out.push(resource.to_string());
        out.extend(after);
        Ok(out)
    }

    /// Python's sorted(glob('dir/*.ext')): non-hidden names ending in `ext`.
    fn dot_d(&self, dir: &str, ext: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .dirs
            .list_dir(self.src, dir)
            .into_iter()
            .filter(|n| !n.starts_with('.') && n.ends_with(ext))
            .map(|n| format!("{dir}/{n}"))
            .collect();
        names.sort();
        names
    }

    pub fn join(&self, name: &str) -> String {
        if name.starts_with('/') {
            name.to_string()
        } else {
            format!("{}/{}", self.basedir, name)
        }
    }

    /// Reads logical name `name` (e.g. `jail`, `filter.d/sshd`). `Ok(None)` when no file
    /// is accessible (logged as fail2ban does).
    pub fn read(&mut self, name: &str) -> Result<Option<Config>, ConfigError> {
        if !self.dirs.exists(self.src, &self.basedir) && !(self.basedir.is_empty()) {
            return Err(ConfigError::new(format!(
                "Base configuration directory {} does not exist ",
                self.basedir
            )));
        }
        let base = self.join(name);
        let mut cands = vec![format!("{base}.conf")];
        let dd = format!("{base}.d");
        cands.extend(self.dot_d(&dd, ".conf"));
        cands.push(format!("{base}.local"));
        cands.extend(self.dot_d(&dd, ".local"));
        let cands: Vec<String> = cands
            .into_iter()
            .filter(|c| self.dirs.exists(self.src, c))
            .collect();
        if cands.is_empty() {
            self.error(
                "fail2ban.configreader",
                format!(
                    "Found no accessible config files for {} under {}",
                    crate::stream::py_str_repr(name),
                    self.basedir
                ),
            );
            return Ok(None);
        }
        let full = self.get_includes(&cands, &[])?;
        let mut cfg = Config::default();
        for f in &full {
            let Some(p) = self.parse_file(f)? else {
                continue;
            };
            cfg.files.push(f.clone());
            merge_into(&mut cfg, &p);
        }
        if cfg.files.is_empty() {
            self.error(
                "fail2ban.configreader",
                format!(
                    "Found no accessible config files for {} under {}",
                    crate::stream::py_str_repr(name),
                    self.basedir
                ),
            );
            return Ok(None);
        }
        Ok(Some(cfg))
    }
}

impl FileSet<'_> {
    /// Reads one explicitly named file with its includes (fail2ban-regex's
    /// `readexplicit`). `Ok(None)` when it cannot be read.
    pub fn read_explicit(&mut self, path: &str) -> Result<Option<Config>, ConfigError> {
        let full = self.get_includes(&[path.to_string()], &[])?;
        let mut cfg = Config::default();
        for f in &full {
            let Some(p) = self.parse_file(f)? else {
                continue;
            };
            cfg.files.push(f.clone());
            merge_into(&mut cfg, &p);
        }
        Ok(if cfg.files.is_empty() {
            None
        } else {
            Some(cfg)
        })
    }
}

/// Merges one parsed file into `cfg`, remembering overridden values in `KNOWN/<section>`
/// and renaming the keys of conditional sections (`Init?family=inet6`) to `key?cond`.
fn merge_into(cfg: &mut Config, f: &IniFile) {
    for (k, v) in f.defaults.iter() {
        cfg.defaults.insert(k.clone(), v.clone());
    }
    for (name, sec) in f.sections.iter() {
        let (base, cond) = split_conditional(name);
        let renamed;
        let sec: &Section = match cond {
            Some(c) => {
                renamed = sec
                    .iter()
                    .map(|(k, v)| (format!("{k}{c}"), v.clone()))
                    .collect::<Section>();
                &renamed
            }
            None => sec,
        };
        if let Some(existing) = cfg.sections.get_mut(base) {
            let known: Vec<(String, RawVal)> = existing
                .iter()
                .filter(|(k, _)| sec.contains_key(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (k, v) in sec.iter() {
                existing.insert(k.clone(), v.clone());
            }
            let kname = format!("KNOWN/{base}");
            if !cfg.sections.contains_key(&kname) {
                cfg.sections.insert(kname.clone(), Section::new());
            }
            if let Some(ks) = cfg.sections.get_mut(&kname) {
                for (k, v) in known {
                    ks.insert(k, v);
                }
            }
        } else {
            cfg.sections.insert(base.to_string(), sec.clone());
        }
    }
}

/// `^(\w+)(\?.+)$` on a section name.
pub fn split_conditional(name: &str) -> (&str, Option<&str>) {
    if let Some(i) = memchr::memchr(b'?', name.as_bytes()) {
        let (b, c) = name.split_at(i);
        if !b.is_empty() && c.len() > 1 && b.chars().all(|ch| ch.is_alphanumeric() || ch == '_') {
            return (b, Some(c));
        }
    }
    (name, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    static FILES: &[(&str, &str)] = &[
        (
            "c.conf",
            "[INCLUDES]\nbefore = inc.conf\n[s]\na = conf\nb = conf\n",
        ),
        ("inc.conf", "[DEFAULT]\nd = inc\n[s]\na = inc\n"),
        ("inc.local", "[DEFAULT]\nd = inclocal\n"),
        ("c.d/90.conf", "[s]\nb = d90\n"),
        ("c.local", "[s]\nb = local\n[Init?family=inet6]\nx = 6\n"),
        ("c.d/1.local", "[s]\nb = d1local\n"),
    ];

    #[test]
    fn merge_order_and_known() {
        let src = EmbeddedSource {
            root: "/e".into(),
            files: FILES,
        };
        let mut fs = FileSet::new(&src, "/e");
        let cfg = fs.read("c").unwrap().unwrap();
        assert_eq!(
            cfg.files,
            [
                "/e/inc.conf",
                "/e/inc.local",
                "/e/c.conf",
                "/e/c.d/90.conf",
                "/e/c.local",
                "/e/c.d/1.local"
            ]
        );
        let s = cfg.sections.get("s").unwrap();
        assert_eq!(s.get("a").unwrap().text.as_str(), "conf");
        assert_eq!(s.get("b").unwrap().text.as_str(), "d1local");
        assert_eq!(cfg.defaults.get("d").unwrap().text.as_str(), "inclocal");
        let k = cfg.sections.get("KNOWN/s").unwrap();
        assert_eq!(k.get("b").unwrap().text.as_str(), "local");
        assert_eq!(k.get("a").unwrap().text.as_str(), "inc");
        assert_eq!(
            cfg.sections
                .get("Init")
                .unwrap()
                .get("x?family=inet6")
                .unwrap()
                .text
                .as_str(),
            "6"
        );
        assert!(fs.read("nothing").unwrap().is_none());
    }
}
