//! `%(name)s` interpolation with fail2ban's extensions, performed when a value is read:
//! `%(__name__)s`, `%(default/x)s`, `%(known/x)s`, `%(sec/x)s`, `%%`, depth limit 10 and
//! configparser's exact failure messages. Lookup order: caller variables → section →
//! `[DEFAULT]`. Entry point: [`Config::get`].

use std::borrow::Cow;

use super::files::{Config, ConfigError};
use super::ini::Section;

/// Caller-supplied interpolation variables (keys lower-cased), Python's `vars=`.
pub type Vars = [(String, String)];

/// Why a `get` produced no value.
#[derive(Debug, Clone, PartialEq)]
pub enum GetError {
    NoSection(String),
    NoOption(String, String),
    Interp(ConfigError),
}

const MAX_DEPTH: usize = 10;

/// `str.lower()` without allocating for the (usual) already lower-case names.
pub fn lower(s: &str) -> Cow<'_, str> {
    // one pass: option names are nearly always lower-case ASCII
    if !super::ini::upper_or_non_ascii(s.as_bytes()) {
        Cow::Borrowed(s)
    } else if s.is_ascii() {
        Cow::Owned(s.to_ascii_lowercase())
    } else if s.chars().any(|c| c.is_uppercase()) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

struct Map<'a> {
    sec: Option<&'a Section>,
    defaults: &'a Section,
    vars: &'a Vars,
    /// A second variable layer, searched after `vars` (a jail's variables shared by
    /// its filter and actions, under each reader's own).
    shared: &'a Vars,
    overlay: Vec<(String, String)>,
    /// The section being read: `__name__` inside an interpolation level.
    section: &'a str,
    /// Set once interpolation started (where fail2ban's map holds `__name__`).
    in_level: bool,
    /// Set when a lookup was answered by `vars` (the result is caller-specific).
    used_vars: std::cell::Cell<bool>,
    /// Every name looked up (only when tracking): another caller gets the same result
    /// if its variables contain none of them.
    keys: Option<std::cell::RefCell<Vec<String>>>,
}

impl<'a> Map<'a> {
    fn lookup(&self, k: &str) -> Option<Cow<'_, str>> {
        if let Some(keys) = &self.keys {
            keys.borrow_mut().push(k.to_string());
        }
        if let Some((_, v)) = self.overlay.iter().rev().find(|(kk, _)| kk == k) {
            return Some(Cow::Borrowed(v));
        }
        // overlay keys from `map_section_options` all contain '/', so `__name__` is
        // never among them
        if self.in_level && k == "__name__" {
            return Some(Cow::Borrowed(self.section));
        }
        if let Some((_, v)) = self
            .vars
            .iter()
            .chain(self.shared.iter())
            .find(|(kk, _)| kk == k)
        {
            self.used_vars.set(true);
            return Some(Cow::Borrowed(v));
        }
        if let Some(v) = self.sec.and_then(|s| s.get(k)) {
            return Some(Cow::Borrowed(&v.text));
        }
        self.defaults.get(k).map(|v| Cow::Borrowed(v.text.as_str()))
    }
}

impl Map<'_> {
    fn shareable_keys(&self) -> Option<Vec<String>> {
        if self.used_vars.get() {
            return None;
        }
        self.keys.as_ref().map(|k| k.borrow().clone())
    }
}

impl Config {
    /// `has_section` (DEFAULT is not a section).
    pub fn has_section(&self, s: &str) -> bool {
        self.sections.contains_key(s)
    }

    /// Own option names of a section (without `[DEFAULT]`).
    pub fn own_options(&self, s: &str) -> Vec<String> {
        self.sections
            .get(s)
            .map(|sec| sec.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether `opt` is visible in `s` (own or DEFAULT).
    pub fn has_option(&self, s: &str, opt: &str) -> bool {
        match self.sections.get(s) {
            Some(sec) => sec.contains_key(opt) || self.defaults.contains_key(opt),
            None => false,
        }
    }

    fn section_for(&self, section: &str) -> Result<Option<&Section>, GetError> {
        match self.sections.get(section) {
            Some(s) => Ok(Some(s)),
            None if section == "DEFAULT" => Ok(None),
            None => Err(GetError::NoSection(section.to_string())),
        }
    }

    /// The raw value as `get(raw=True)` sees it (vars → section → DEFAULT).
    pub fn get_raw(&self, section: &str, option: &str, vars: &Vars) -> Result<String, GetError> {
        let sec = self.section_for(section)?;
        let opt = lower(option);
        let map = Map {
            sec,
            defaults: &self.defaults,
            vars,
            shared: &[],
            overlay: Vec::new(),
            section,
            in_level: false,
            used_vars: std::cell::Cell::new(false),
            keys: None,
        };
        map.lookup(&opt)
            .map(|c| c.into_owned())
            .ok_or_else(|| GetError::NoOption(opt.to_string(), section.to_string()))
    }

    /// Python's `get(section, option, vars=vars)` with interpolation. `names` maps
    /// file indices to paths for precise error locations.
    pub fn get(
        &self,
        section: &str,
        option: &str,
        vars: &Vars,
        names: &[String],
    ) -> Result<String, GetError> {
        self.get_impl(section, option, (vars, &[]), names, false)
            .map(|(v, _)| v)
    }

    /// [`Config::get`] without variables, memoised (the config must not change after).
    pub fn get_plain(
        &self,
        section: &str,
        option: &str,
        names: &[String],
    ) -> Result<String, GetError> {
        if let Some(v) = self
            .plain_memo
            .borrow()
            .get(section)
            .and_then(|m| m.get(option))
        {
            return Ok(v.clone());
        }
        let v = self.get(section, option, &[], names)?;
        self.plain_memo
            .borrow_mut()
            .entry(section.to_string())
            .or_default()
            .insert(option.to_string(), v.clone());
        Ok(v)
    }

    /// [`Config::get`], also giving, when `vars` did not contribute to the value, every
    /// name that was looked up: a caller whose variables hold none of them gets the same
    /// value (so it may be shared). `None` when the value is caller-specific.
    pub fn get_tracked(
        &self,
        section: &str,
        option: &str,
        vars: &Vars,
        names: &[String],
    ) -> Result<(String, Option<Vec<String>>), GetError> {
        self.get_impl(section, option, (vars, &[]), names, true)
    }

    /// [`Config::get_tracked`] with the variables in two layers: `vars` over `shared`
    /// (the same as one list of `vars` then the `shared` names not in `vars`).
    pub fn get_tracked2(
        &self,
        section: &str,
        option: &str,
        (vars, shared): (&Vars, &Vars),
        names: &[String],
    ) -> Result<(String, Option<Vec<String>>), GetError> {
        self.get_impl(section, option, (vars, shared), names, true)
    }

    fn get_impl(
        &self,
        section: &str,
        option: &str,
        (vars, shared): (&Vars, &Vars),
        names: &[String],
        track: bool,
    ) -> Result<(String, Option<Vec<String>>), GetError> {
        let sec = self.section_for(section)?;
        let opt = lower(option);
        let map = Map {
            sec,
            defaults: &self.defaults,
            vars,
            shared,
            overlay: Vec::new(),
            section,
            in_level: false,
            used_vars: std::cell::Cell::new(false),
            keys: track.then(|| std::cell::RefCell::new(Vec::new())),
        };
        let value = match map.lookup(&opt) {
            Some(v) => v.into_owned(),
            None => return Err(GetError::NoOption(opt.into_owned(), section.to_string())),
        };
        if memchr::memchr(b'%', value.as_bytes()).is_none() {
            return Ok((value, map.shareable_keys()));
        }
        let mut acc = String::with_capacity(value.len());
        let mut map = map;
        self.interpolate_some(&opt, &mut acc, &value, section, &mut map, 1)
            .map_err(|e| {
                let origin = sec
                    .and_then(|s| s.get(&opt))
                    .or_else(|| self.defaults.get(&opt))
                    .and_then(|v| {
                        names
                            .get(v.file as usize)
                            .map(|f| format!("{f}, line {}", v.line))
                    });
                let loc = match origin {
                    Some(o) => format!("{o}, section [{section}], option '{opt}'"),
                    None => format!("section [{section}], option '{opt}'"),
                };
                GetError::Interp(e.at(loc))
            })?;
        Ok((acc, map.shareable_keys()))
    }

    /// Raw value for error messages (`get(raw=True, fallback=rest)`, no vars).
    fn rawval(&self, section: &str, option: &str, fallback: &str) -> String {
        let sec = self.sections.get(section);
        sec.and_then(|s| s.get(option))
            .or_else(|| self.defaults.get(option))
            .map(|v| String::clone(&v.text))
            .unwrap_or_else(|| fallback.to_string())
    }

    /// Adds `sec/opt` references found in `rest` to the map (fail2ban's extension).
    fn map_section_options(&self, section: &str, rest: &str, map: &mut Map<'_>) {
        if memchr::memchr(b'/', rest.as_bytes()).is_none() || !rest.contains("%(") {
            return;
        }
        let mut pos = 0;
        while let Some(i) = rest[pos..].find("%(") {
            let start = pos + i + 2;
            pos = start;
            // `%\(([\w\-]+/([^\)]+))\)s`
            let tail = &rest[start..];
            let sec_len = tail
                .char_indices()
                .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '-'))
                .map(|(j, _)| j)
                .unwrap_or(tail.len());
            if sec_len == 0 || !tail[sec_len..].starts_with('/') {
                continue;
            }
            let after = &tail[sec_len + 1..];
            let Some(close) = after.find(')') else {
                continue;
            };
            if close == 0 || !after[close..].starts_with(")s") {
                continue;
            }
            let sec = &tail[..sec_len];
            let opt = &after[..close];
            let sopt = &tail[..sec_len + 1 + close];
            if map.lookup(sopt).is_some() {
                continue;
            }
            let seclwr = sec.to_lowercase();
            let mut v: Option<String> = None;
            let mut usedef = false;
            if seclwr != "default" {
                if seclwr == "known" {
                    match self
                        .sections
                        .get(&format!("KNOWN/{section}"))
                        .and_then(|s| s.get(opt))
                    {
                        Some(x) => v = Some(String::clone(&x.text)),
                        None => usedef = true,
                    }
                } else {
                    let Some(s) = self.sections.get(sec) else {
                        continue;
                    };
                    match s.get(opt) {
                        Some(x) => v = Some(String::clone(&x.text)),
                        None => usedef = true,
                    }
                }
            } else {
                usedef = true;
            }
            if usedef {
                match self.defaults.get(opt) {
                    Some(x) => v = Some(String::clone(&x.text)),
                    None => continue,
                }
            }
            if let Some(v) = v {
                map.overlay.push((sopt.to_string(), v));
            }
        }
    }

    fn interpolate_some(
        &self,
        option: &str,
        acc: &mut String,
        rest: &str,
        section: &str,
        map: &mut Map<'_>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        // Python copies the map per level; a stack truncated on return is equivalent.
        let mark = map.overlay.len();
        let r = self.interpolate_level(option, acc, rest, section, map, depth);
        map.overlay.truncate(mark);
        r
    }

    fn interpolate_level(
        &self,
        option: &str,
        acc: &mut String,
        rest: &str,
        section: &str,
        map: &mut Map<'_>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        map.in_level = true;
        self.map_section_options(section, rest, map);
        if depth > MAX_DEPTH {
            return Err(ConfigError::new(format!(
                "Recursion limit exceeded in value substitution: option {} in section {} contains an interpolation key which cannot be substituted in {} steps. Raw value: {}",
                py(option),
                py(section),
                MAX_DEPTH,
                py(&self.rawval(section, option, rest))
            )));
        }
        let mut rest = rest;
        while !rest.is_empty() {
            let Some(p) = memchr::memchr(b'%', rest.as_bytes()) else {
                acc.push_str(rest);
                return Ok(());
            };
            acc.push_str(&rest[..p]);
            rest = &rest[p..];
            let c = rest[1..].chars().next();
            match c {
                Some('%') => {
                    acc.push('%');
                    rest = &rest[2..];
                }
                Some('(') => {
                    // `%\(([^)]+)\)s`
                    let inner = &rest[2..];
                    let close = memchr::memchr(b')', inner.as_bytes());
                    let ok = match close {
                        Some(j) => j > 0 && inner[j..].starts_with(")s"),
                        None => false,
                    };
                    if !ok {
                        return Err(ConfigError::new(format!(
                            "bad interpolation variable reference {}",
                            py(rest)
                        )));
                    }
                    let j = close.unwrap_or(0);
                    let var = lower(&inner[..j]).into_owned();
                    rest = &inner[j + 2..];
                    let v = match map.lookup(&var) {
                        Some(v) => v.into_owned(),
                        None => {
                            return Err(ConfigError::new(format!(
                                "Bad value substitution: option {} in section {} contains an interpolation key {} which is not a valid option name. Raw value: {}",
                                py(option),
                                py(section),
                                py(&var),
                                py(&self.rawval(section, option, rest))
                            )));
                        }
                    };
                    if memchr::memchr(b'%', v.as_bytes()).is_some() {
                        self.interpolate_some(option, acc, &v, section, map, depth + 1)?;
                    } else {
                        acc.push_str(&v);
                    }
                }
                _ => {
                    return Err(ConfigError::new(format!(
                        "'%' must be followed by '%' or '(', found: {}",
                        py(rest)
                    )));
                }
            }
        }
        Ok(())
    }
}

fn py(s: &str) -> String {
    crate::stream::py_str_repr(s)
}

#[cfg(test)]
mod tests {
    use super::super::files::{EmbeddedSource, FileSet};
    use super::*;

    static FILES: &[(&str, &str)] = &[
        (
            "j.conf",
            "[DEFAULT]\nb = a\nx = base\nzz = the%(__name__)s\n[section]\ny = 4%(b)s\nz = %(default/x)s\n[j1]\ny = one\nz = %(j2/w)s\nv = %(undefined)s\np = 100%%\nbad = 5%\nloop = %(loop)s\n[j2]\nw = W-%(x)s-%(__name__)s\n",
        ),
        ("j.local", "[j1]\ny = %(known/y)s three\n"),
    ];

    /// The word-at-a-time scan agrees with the plain byte test for every byte value
    /// at every position of short and long inputs.
    #[test]
    fn upper_scan_matches_bytewise() {
        use super::super::ini::upper_or_non_ascii;
        let plain = |b: &[u8]| b.iter().any(|b| b.is_ascii_uppercase() || !b.is_ascii());
        for len in [1usize, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 21] {
            for pos in 0..len {
                for x in 0..=255u8 {
                    let mut v = vec![b'a'; len];
                    v[pos] = x;
                    assert_eq!(upper_or_non_ascii(&v), plain(&v), "len {len} pos {pos} {x}");
                }
            }
        }
        assert!(!upper_or_non_ascii(b""));
        // the neighbours of 'A'..='Z' in whole words
        assert!(!upper_or_non_ascii(b"@[`{@[`{@[`{"));
        assert!(upper_or_non_ascii(b"@[`{@[`Z@[`{"));
    }

    fn get(cfg: &Config, s: &str, o: &str) -> Result<String, GetError> {
        cfg.get(s, o, &[], &[])
    }

    #[test]
    fn interpolation_forms() {
        let src = EmbeddedSource {
            root: "/e".into(),
            files: FILES,
        };
        let mut fs = FileSet::new(&src, "/e");
        let cfg = fs.read("j").unwrap().unwrap();
        assert_eq!(get(&cfg, "section", "y").unwrap(), "4a");
        assert_eq!(get(&cfg, "section", "zz").unwrap(), "thesection");
        assert_eq!(get(&cfg, "section", "z").unwrap(), "base");
        assert_eq!(get(&cfg, "j1", "y").unwrap(), "one three");
        assert_eq!(get(&cfg, "j1", "z").unwrap(), "W-base-j1");
        assert_eq!(get(&cfg, "j1", "p").unwrap(), "100%");
        let vars = vec![("b".to_string(), "VAR".to_string())];
        assert_eq!(cfg.get("section", "y", &vars, &[]).unwrap(), "4VAR");
        let GetError::Interp(e) = get(&cfg, "j1", "v").unwrap_err() else {
            panic!()
        };
        assert_eq!(
            e.message,
            "Bad value substitution: option 'v' in section 'j1' contains an interpolation key 'undefined' which is not a valid option name. Raw value: '%(undefined)s'"
        );
        let GetError::Interp(e) = get(&cfg, "j1", "bad").unwrap_err() else {
            panic!()
        };
        assert_eq!(e.message, "'%' must be followed by '%' or '(', found: '%'");
        let GetError::Interp(e) = get(&cfg, "j1", "loop").unwrap_err() else {
            panic!()
        };
        assert!(
            e.message.starts_with("Recursion limit exceeded"),
            "{}",
            e.message
        );
        assert!(matches!(
            get(&cfg, "nosuch", "y"),
            Err(GetError::NoSection(_))
        ));
        assert!(matches!(
            get(&cfg, "j2", "nosuch"),
            Err(GetError::NoOption(..))
        ));
    }

    static CHAIN: &[(&str, &str)] = &[
        (
            "jail.conf",
            "[DEFAULT]\nx = base\nd = %(known/d)s\n[j1]\ny = one\n",
        ),
        ("jail.d/a.conf", "[j1]\ny = %(known/y)s two\n"),
        (
            "jail.local",
            "[j1]\ny = %(known/y)s three\n[j2]\nv = %(j1/y)s\n",
        ),
    ];

    #[test]
    fn known_chains_fail_like_fail2ban() {
        // spec 1.4: chaining known/ across three files exceeds the depth limit,
        // known/ inside [DEFAULT] always recurses, and a cross-section reference to a
        // value using known/ resolves against the referencing section.
        let src = EmbeddedSource {
            root: "/e".into(),
            files: CHAIN,
        };
        let mut fs = FileSet::new(&src, "/e");
        let cfg = fs.read("jail").unwrap().unwrap();
        for (s, o) in [("j1", "y"), ("j1", "d"), ("j2", "v")] {
            let GetError::Interp(e) = get(&cfg, s, o).unwrap_err() else {
                panic!("{s}/{o} should fail")
            };
            assert!(
                e.message.starts_with("Recursion limit exceeded")
                    || e.message.starts_with("Bad value substitution"),
                "{s}/{o}: {}",
                e.message
            );
        }
    }
}
