//! The journal backend's options: `backend = systemd[journalpath=…, journalfiles=…,
//! journalflags=…, rotated=…]` of a jail and `systemd-journal[…]` of fail2ban-regex.
//!
//! [`JournalOptions::parse`] turns the backend text into a [`JournalOptions`]; its
//! [`JournalOptions::source`] / [`JournalOptions::flags`] are what `ffi::Journal::open`
//! takes, chosen as fail2ban chooses them (flags default to "system only" (4, or env
//! `F2B_SYSTEMD_DEFAULT_FLAGS`) only when neither files nor a path are given).

use crate::config::options::{extract_options, splitwords};
use crate::journal::ffi::Source;

/// Parsed `systemd[…]` options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JournalOptions {
    /// The options as given, in order (for the `uses systemd {…}` log line).
    pub raw: Vec<(String, String)>,
    pub path: Option<String>,
    /// `journalfiles` after splitting and globbing (sorted, deduplicated).
    pub files: Option<Vec<String>>,
    pub flags: Option<i32>,
    /// fail2ban 1.1's `rotated`: false opens only the active (not archived `*@*.journal`)
    /// files of `journalpath`, bounding open fds (gh-3391).
    pub rotated: Option<bool>,
    pub namespace: Option<String>,
}

/// Python-style boolean words, as fail2ban's `_as_bool`.
fn as_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" | "y" => Some(true),
        "0" | "no" | "false" | "off" | "n" | "" => Some(false),
        _ => None,
    }
}

impl JournalOptions {
    /// `systemd`, `systemd[…]`, `systemd-journal[…]` → (base name, options).
    pub fn parse(backend: &str) -> Result<(String, JournalOptions), String> {
        let (name, opts) = extract_options(backend.trim())?;
        let mut o = JournalOptions::default();
        for (k, v) in &opts {
            match k.as_str() {
                "journalpath" => o.path = Some(v.clone()),
                "journalfiles" => o.files = Some(glob_files(v)),
                "journalflags" => {
                    let n = crate::config::reader::py_int(v).ok_or_else(|| {
                        format!("invalid literal for int() with base 10: {}", py(v))
                    })?;
                    o.flags =
                        Some(i32::try_from(n).map_err(|_| format!("journalflags {n} too big"))?);
                }
                "rotated" => {
                    o.rotated = Some(
                        as_bool(v).ok_or_else(|| format!("rotated: not a boolean: {}", py(v)))?,
                    )
                }
                "namespace" => o.namespace = Some(v.clone()),
                other => {
                    return Err(format!(
                        "__init__() got an unexpected keyword argument {}",
                        py(other)
                    ));
                }
            }
        }
        o.raw = opts;
        Ok((name.to_ascii_lowercase(), o))
    }

    /// What to open: the named files, the directory, or the system journal.
    pub fn source(&self) -> Source {
        if let Some(f) = self.files.as_ref().filter(|f| !f.is_empty()) {
            return Source::Files(f.clone());
        }
        match self.path.as_ref().filter(|p| !p.is_empty()) {
            Some(p) if self.rotated == Some(false) => Source::Files(active_files(p)),
            Some(p) => Source::Directory(p.clone()),
            None => Source::Local,
        }
    }

    /// `sd_journal_open` flags: `journalflags`, else 0 with files/path, else 4 (system
    /// only) or `F2B_SYSTEMD_DEFAULT_FLAGS`.
    pub fn flags(&self) -> i32 {
        if let Some(f) = self.flags {
            return f;
        }
        if matches!(self.source(), Source::Local) {
            return std::env::var("F2B_SYSTEMD_DEFAULT_FLAGS")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(4);
        }
        0
    }

    /// The options as a Python dict repr: `{'journalpath': '/x'}`.
    pub fn repr(&self) -> String {
        let items: Vec<String> = self
            .raw
            .iter()
            .map(|(k, v)| format!("{}: {}", py(k), py(v)))
            .collect();
        format!("{{{}}}", items.join(", "))
    }
}

fn py(s: &str) -> String {
    crate::stream::py_str_repr(s)
}

/// `journalfiles`: words, each a glob; nonexistent patterns contribute nothing.
fn glob_files(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in splitwords(v) {
        if let Ok(paths) = glob::glob(&w) {
            out.extend(paths.flatten().map(|p| p.to_string_lossy().into_owned()));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The journal files of a directory (one level deep, as journald lays them out) that are
/// not archived (`name@…` is what journald renames a rotated file to).
pub fn active_files(dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut visit = |d: &std::path::Path| {
        let Ok(rd) = std::fs::read_dir(d) else {
            return Vec::new();
        };
        let mut sub = Vec::new();
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                sub.push(p);
            } else if name.ends_with(".journal") && !name.contains('@') {
                out.push(p.to_string_lossy().into_owned());
            }
        }
        sub
    };
    for s in visit(std::path::Path::new(dir)) {
        visit(&s);
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fail2ban_backend_options() {
        let (n, o) =
            JournalOptions::parse("systemd[journalpath=/var/log/x, journalflags=1]").unwrap();
        assert_eq!(n, "systemd");
        assert_eq!(o.path.as_deref(), Some("/var/log/x"));
        assert_eq!(o.flags(), 1);
        assert_eq!(o.source(), Source::Directory("/var/log/x".into()));
        assert_eq!(
            o.repr(),
            "{'journalpath': '/var/log/x', 'journalflags': '1'}"
        );
        let (_, o) = JournalOptions::parse("systemd").unwrap();
        assert_eq!(o.source(), Source::Local);
        assert_eq!(o.repr(), "{}");
        let (_, o) = JournalOptions::parse("systemd[journalpath=/x]").unwrap();
        assert_eq!(o.flags(), 0, "path given: all journal types");
        assert!(JournalOptions::parse("systemd[bogus=1]").is_err());
        assert!(JournalOptions::parse("systemd[journalflags=x]").is_err());
    }

    #[test]
    fn journalfiles_are_globbed_and_rotated_off_skips_archives() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "system.journal",
            "system@0001-0002.journal",
            "user-1000.journal",
        ] {
            std::fs::write(d.path().join(n), "").unwrap();
        }
        let dir = d.path().display().to_string();
        let (_, o) = JournalOptions::parse(&format!(
            "systemd[journalfiles=\"{dir}/system*.journal {dir}/none*\"]"
        ))
        .unwrap();
        assert_eq!(
            o.files.unwrap(),
            vec![
                format!("{dir}/system.journal"),
                format!("{dir}/system@0001-0002.journal")
            ]
        );
        let (_, o) =
            JournalOptions::parse(&format!("systemd[journalpath={dir}, rotated=off]")).unwrap();
        assert_eq!(
            o.source(),
            Source::Files(vec![
                format!("{dir}/system.journal"),
                format!("{dir}/user-1000.journal")
            ])
        );
    }
}
