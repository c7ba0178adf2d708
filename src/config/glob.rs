//! Python's `glob.glob` (non-recursive) for `logpath`: results in directory order (not
//! sorted), hidden names only matched by hidden patterns, dangling links returned for
//! literal paths (the caller warns about them).

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn split(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            (if trimmed.is_empty() { head } else { trimmed }, &p[i + 1..])
        }
        None => ("", p),
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else if a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

fn lexists(p: &str) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

fn list_dir(dir: &str, dironly: bool) -> Vec<String> {
    let d = if dir.is_empty() { "." } else { dir };
    let Ok(rd) = std::fs::read_dir(d) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| {
            !dironly
                || std::fs::metadata(e.path())
                    .map(|m| m.is_dir())
                    .unwrap_or(false)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// `fnmatch.fnmatchcase`: `*`, `?`, `[seq]`, `[!seq]`.
pub fn fnmatch(name: &str, pat: &str) -> bool {
    let n: Vec<char> = name.chars().collect();
    let p: Vec<char> = pat.chars().collect();
    fn class(p: &[char], i: usize, c: char) -> Option<(bool, usize)> {
        // returns (matched, index after `]`) or None when `[` is literal
        let mut j = i + 1;
        let neg = j < p.len() && p[j] == '!';
        if neg {
            j += 1;
        }
        let start = j;
        if j < p.len() && p[j] == ']' {
            j += 1;
        }
        while j < p.len() && p[j] != ']' {
            j += 1;
        }
        if j >= p.len() {
            return None;
        }
        let set = &p[start..j];
        let mut hit = false;
        let mut k = 0;
        while k < set.len() {
            if k + 2 < set.len() && set[k + 1] == '-' {
                if set[k] <= c && c <= set[k + 2] {
                    hit = true;
                }
                k += 3;
            } else {
                if set[k] == c {
                    hit = true;
                }
                k += 1;
            }
        }
        Some((hit != neg, j + 1))
    }
    fn rec(n: &[char], p: &[char], ni: usize, pi: usize) -> bool {
        if pi == p.len() {
            return ni == n.len();
        }
        match p[pi] {
            '*' => (ni..=n.len()).any(|k| rec(n, p, k, pi + 1)),
            '?' => ni < n.len() && rec(n, p, ni + 1, pi + 1),
            '[' => match class(p, pi, *n.get(ni).unwrap_or(&'\0')) {
                Some((m, next)) => ni < n.len() && m && rec(n, p, ni + 1, next),
                None => ni < n.len() && n[ni] == '[' && rec(n, p, ni + 1, pi + 1),
            },
            c => ni < n.len() && n[ni] == c && rec(n, p, ni + 1, pi + 1),
        }
    }
    rec(&n, &p, 0, 0)
}

fn glob1(dir: &str, pat: &str, dironly: bool) -> Vec<String> {
    let hidden_ok = pat.starts_with('.');
    list_dir(dir, dironly)
        .into_iter()
        .filter(|x| hidden_ok || !x.starts_with('.'))
        .filter(|x| fnmatch(x, pat))
        .collect()
}

fn iglob(path: &str, dironly: bool) -> Vec<String> {
    let (dirname, basename) = split(path);
    if !has_magic(path) {
        if !basename.is_empty() {
            return if lexists(path) {
                vec![path.to_string()]
            } else {
                vec![]
            };
        }
        return if std::path::Path::new(dirname).is_dir() {
            vec![path.to_string()]
        } else {
            vec![]
        };
    }
    if dirname.is_empty() {
        return glob1("", basename, dironly);
    }
    let dirs = if dirname != path && has_magic(dirname) {
        iglob(dirname, true)
    } else {
        vec![dirname.to_string()]
    };
    let mut out = Vec::new();
    for d in dirs {
        if has_magic(basename) {
            for n in glob1(&d, basename, dironly) {
                out.push(join(&d, &n));
            }
        } else if basename.is_empty() {
            if std::path::Path::new(&d).is_dir() {
                out.push(join(&d, ""));
            }
        } else if lexists(&join(&d, basename)) {
            out.push(join(&d, basename));
        }
    }
    out
}

/// `glob.glob(pattern)`.
pub fn glob(pattern: &str) -> Vec<String> {
    iglob(pattern, false)
}

/// `glob.glob(pattern)`, each result paired with `os.path.exists` (false: dangling link).
/// A literal path, the usual `logpath`, costs one stat instead of two.
pub fn glob_checked(pattern: &str) -> Vec<(String, bool)> {
    if !has_magic(pattern) && !split(pattern).1.is_empty() {
        return match std::fs::metadata(pattern) {
            Ok(_) => vec![(pattern.to_string(), true)],
            Err(_) if lexists(pattern) => vec![(pattern.to_string(), false)],
            Err(_) => Vec::new(),
        };
    }
    glob(pattern)
        .into_iter()
        .map(|p| {
            let e = std::path::Path::new(&p).exists();
            (p, e)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_cases() {
        assert!(fnmatch("a-error.log", "*error.log"));
        assert!(!fnmatch("a-error.log.1", "*error.log"));
        assert!(fnmatch("x1", "x[0-9]"));
        assert!(!fnmatch("x1", "x[!0-9]"));
        assert!(fnmatch("a[b", "a[b"));
        assert!(fnmatch("abc", "a?c"));
    }

    #[test]
    fn globbing_a_tree() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_str().unwrap();
        std::fs::create_dir(format!("{root}/sub")).unwrap();
        std::fs::write(format!("{root}/sub/a-error.log"), "").unwrap();
        std::fs::write(format!("{root}/sub/.h-error.log"), "").unwrap();
        std::fs::write(format!("{root}/b.log"), "").unwrap();
        assert_eq!(
            glob(&format!("{root}/s*/*error.log")),
            [format!("{root}/sub/a-error.log")]
        );
        assert_eq!(glob(&format!("{root}/b.log")), [format!("{root}/b.log")]);
        assert!(glob(&format!("{root}/nope.log")).is_empty());
        std::os::unix::fs::symlink(format!("{root}/gone"), format!("{root}/dead.log")).unwrap();
        std::os::unix::fs::symlink(format!("{root}/b.log"), format!("{root}/ok.log")).unwrap();
        for p in [
            "b.log", "dead.log", "ok.log", "nope.log", "*.log", "s*/*.log", "sub/",
        ] {
            let p = format!("{root}/{p}");
            let want: Vec<(String, bool)> = glob(&p)
                .into_iter()
                .map(|x| {
                    let e = std::path::Path::new(&x).exists();
                    (x, e)
                })
                .collect();
            assert_eq!(glob_checked(&p), want, "{p}");
        }
        assert_eq!(glob_checked(&format!("{root}/dead.log")).len(), 1);
    }
}
