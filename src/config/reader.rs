//! Typed option reading shared by all readers ([`get_options`], fail2ban's
//! `ConfigReader.getOptions`) and the `[Definition]`/`[Init]` reader used for filters and
//! actions ([`DefReader`]): jail parameters, `[Init]` defaults with `known/` copies,
//! definition values, and the combined option set after `<tag>` substitution.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::files::{Config, ConfigError, Level, TagMemo};
use super::ini::{FxBuild, OrdMap};
use super::interp::GetError;
use super::tags::substitute_recursive_tags;
use crate::stream::Value;

/// A Python option value as the readers carry it.
#[derive(Debug, Clone, PartialEq)]
pub enum Py {
    None,
    Str(String),
    Int(i64),
    Bool(bool),
}

impl Py {
    /// `str(value)` as configparser's `vars=` applies it (`None` stays absent).
    pub fn to_var(&self) -> Option<String> {
        match self {
            Py::None => None,
            Py::Str(s) => Some(s.clone()),
            Py::Int(i) => Some(i.to_string()),
            Py::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        }
    }
    pub fn to_value(&self) -> Value {
        match self {
            Py::None => Value::None,
            Py::Str(s) => Value::Str(s.clone()),
            Py::Int(i) => Value::Int(*i),
            Py::Bool(b) => Value::Bool(*b),
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Py::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn truthy(&self) -> bool {
        match self {
            Py::None => false,
            Py::Str(s) => !s.is_empty(),
            Py::Int(i) => *i != 0,
            Py::Bool(b) => *b,
        }
    }
    fn repr(&self) -> String {
        self.to_value().to_string()
    }
    /// [`Py::to_var`] borrowing strings.
    pub fn as_var(&self) -> Option<Cow<'_, str>> {
        match self {
            Py::Str(s) => Some(Cow::Borrowed(s)),
            other => other.to_var().map(Cow::Owned),
        }
    }
}

/// The option types of fail2ban's templates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    Str,
    Int,
    Bool,
}

/// fail2ban's `_as_bool`.
pub fn as_bool(s: &str) -> bool {
    matches!(s.to_lowercase().as_str(), "1" | "on" | "true" | "yes")
}

/// Python's `int(str)`: surrounding whitespace, sign, and `_` between digits allowed.
pub fn py_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let v: i64 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -v } else { v })
}

/// One entry of an options template: type, name, default (`Py::None` = no default).
pub type Spec = (Ty, &'static str, Py);

/// Messages collected while reading (stderr log lines), plus gaol-only problems.
#[derive(Default)]
pub struct Log {
    pub lines: Vec<(Level, String, String)>,
    /// gaol's stricter findings (e.g. a non-numeric `maxretry`): `-t` fails on them.
    pub strict_errors: Vec<String>,
}

impl Log {
    pub fn push(&mut self, level: Level, logger: &str, msg: String) {
        self.lines.push((level, logger.to_string(), msg));
    }
}

/// Converts a jail/option dict into configparser `vars` (keys lower-cased).
pub fn to_vars(p: &OrdMap<Py>) -> Vec<(String, String)> {
    p.iter()
        .filter_map(|(k, v)| {
            v.to_var()
                .map(|v| (super::interp::lower(k).into_owned(), v))
        })
        .collect()
}

/// fail2ban's `ConfigReader.getOptions`: reads each template option of `sec` not already
/// in `p_opts`, with warnings and defaults as fail2ban gives them.
#[allow(clippy::too_many_arguments)]
pub fn get_options(
    cfg: &Config,
    names: &[String],
    log: &mut Log,
    sec: &str,
    specs: &[Spec],
    p_opts: &OrdMap<Py>,
    should_exist: bool,
    convert: bool,
) -> Result<OrdMap<Py>, GetError> {
    let vars = to_vars(p_opts);
    get_options_with(
        cfg,
        names,
        log,
        sec,
        specs,
        &|k| p_opts.contains_key(k),
        &vars,
        should_exist,
        convert,
    )
}

/// [`get_options`] with the skip test and the variables given directly.
#[allow(clippy::too_many_arguments)]
pub fn get_options_with(
    cfg: &Config,
    names: &[String],
    log: &mut Log,
    sec: &str,
    specs: &[Spec],
    skip: &dyn Fn(&str) -> bool,
    vars: &[(String, String)],
    should_exist: bool,
    convert: bool,
) -> Result<OrdMap<Py>, GetError> {
    let mut values = OrdMap::new();
    for (ty, name, default) in specs {
        if skip(name) {
            continue;
        }
        match cfg.get(sec, name, vars, names) {
            Ok(v) => {
                let conv = if convert { *ty } else { Ty::Str };
                match conv {
                    Ty::Str => values.insert(name.to_string(), Py::Str(v)),
                    Ty::Bool => values.insert(name.to_string(), Py::Bool(as_bool(&v))),
                    Ty::Int => match py_int(&v) {
                        Some(i) => values.insert(name.to_string(), Py::Int(i)),
                        None => {
                            log.push(
                                Level::Warning,
                                "fail2ban.configreader",
                                format!(
                                    "Wrong value for '{name}' in '{sec}'. Using default one: '{}'",
                                    default.repr()
                                ),
                            );
                            let origin = cfg
                                .sections
                                .get(sec)
                                .and_then(|s| s.get(name))
                                .or_else(|| cfg.defaults.get(name))
                                .and_then(|rv| {
                                    names
                                        .get(rv.file as usize)
                                        .map(|f| format!("{f}, line {}", rv.line))
                                })
                                .unwrap_or_else(|| "unknown file".into());
                            let msg = format!(
                                "invalid integer {} for '{name}' in [{sec}] ({origin})",
                                crate::stream::py_str_repr(&v)
                            );
                            log.push(Level::Error, "gaol.config", msg.clone());
                            log.strict_errors.push(msg);
                            values.insert(name.to_string(), default.clone());
                        }
                    },
                }
            }
            Err(GetError::NoSection(s)) => {
                if should_exist {
                    return Err(GetError::NoSection(s));
                }
                log.push(
                    Level::Error,
                    "fail2ban.configreader",
                    format!("No section: {}", crate::stream::py_str_repr(&s)),
                );
                values.insert(name.to_string(), default.clone());
            }
            Err(GetError::NoOption(..)) => {
                if *default != Py::None {
                    log.push(
                        Level::Warning,
                        "fail2ban.configreader",
                        format!(
                            "'{name}' not defined in '{sec}'. Using default one: {}",
                            default.repr()
                        ),
                    );
                    values.insert(name.to_string(), default.clone());
                }
            }
            Err(e @ GetError::Interp(_)) => return Err(e),
        }
    }
    Ok(values)
}

/// Which kind of definition file a [`DefReader`] reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Filter,
    Action,
}

pub const FILTER_OPTS: &[Spec] = &[
    (Ty::Str, "usedns", Py::None),
    (Ty::Str, "prefregex", Py::None),
    (Ty::Str, "ignoreregex", Py::None),
    (Ty::Str, "failregex", Py::None),
    (Ty::Int, "maxlines", Py::None),
    (Ty::Str, "datepattern", Py::None),
    (Ty::Str, "journalmatch", Py::None),
];

pub const ACTION_OPTS: &[Spec] = &[
    (Ty::Str, "actionstart", Py::None),
    (Ty::Bool, "actionstart_on_demand", Py::None),
    (Ty::Str, "actionstop", Py::None),
    (Ty::Str, "actionflush", Py::None),
    (Ty::Str, "actionreload", Py::None),
    (Ty::Str, "actioncheck", Py::None),
    (Ty::Str, "actionrepair", Py::None),
    (Ty::Bool, "actionrepair_on_unban", Py::None),
    (Ty::Str, "actionban", Py::None),
    (Ty::Str, "actionprolong", Py::None),
    (Ty::Str, "actionreban", Py::None),
    (Ty::Str, "actionunban", Py::None),
    (Ty::Bool, "norestored", Py::None),
];

/// A filter or action definition read for one jail (fail2ban's
/// `DefinitionInitConfigReader`).
pub struct DefReader {
    pub kind: Kind,
    pub cfg: Rc<Config>,
    pub jail: String,
    /// Jail-supplied parameters, then `[Init]` values and their `known/` copies.
    pub init_opts: OrdMap<Py>,
    p_vars: Vec<(String, String)>,
    opts: OrdMap<Py>,
    def_cache: HashMap<String, Option<String>, FxBuild>,
}

impl DefReader {
    pub fn new(kind: Kind, cfg: Rc<Config>, jail: &str, init_opts: OrdMap<Py>) -> Self {
        DefReader {
            kind,
            cfg,
            jail: jail.to_string(),
            init_opts,
            p_vars: Vec::new(),
            opts: OrdMap::new(),
            def_cache: HashMap::default(),
        }
    }

    fn specs(&self) -> &'static [Spec] {
        match self.kind {
            Kind::Filter => FILTER_OPTS,
            Kind::Action => ACTION_OPTS,
        }
    }

    /// Filters: `logtype` follows the backend unless set by the jail or the filter.
    pub fn apply_auto_options(&mut self, backend: &str) {
        let set = self.init_opts.get("logtype").is_some_and(Py::truthy);
        let own = self
            .cfg
            .sections
            .get("Definition")
            .is_some_and(|s| s.contains_key("logtype"));
        if !set && !own {
            let lt = if backend.starts_with("systemd") {
                "journal"
            } else {
                "file"
            };
            self.init_opts.insert("logtype".into(), Py::Str(lt.into()));
        }
    }

    /// Reads `[Definition]` (with `p_opts` + jail parameters as variables) and `[Init]`.
    pub fn get_options(
        &mut self,
        names: &[String],
        log: &mut Log,
        p_opts: &OrdMap<Py>,
        all: bool,
    ) -> Result<(), GetError> {
        // {**p_opts, **init_opts} without copying the jail's options twice
        let mut vars = to_vars(p_opts);
        for (k, v) in self.init_opts.iter() {
            let Some(v) = v.to_var() else { continue };
            let k = k.to_lowercase();
            match vars.iter_mut().find(|(kk, _)| *kk == k) {
                Some(e) => e.1 = v,
                None => vars.push((k, v)),
            }
        }
        let init = &self.init_opts;
        self.opts = get_options_with(
            &self.cfg,
            names,
            log,
            "Definition",
            self.specs(),
            &|k| p_opts.contains_key(k) || init.contains_key(k),
            &vars,
            false,
            false,
        )?;
        self.p_vars = vars;
        if self.cfg.has_section("Init") {
            for opt in self.cfg.own_options("Init") {
                let mut v: Option<String> = None;
                if !opt.starts_with("known/") {
                    let got = self.cfg.get_plain("Init", &opt, names)?;
                    v = Some(got.clone());
                    self.init_opts.insert(format!("known/{opt}"), Py::Str(got));
                }
                if !self.init_opts.contains_key(&opt) {
                    let got = match v {
                        Some(v) => v,
                        None => self.cfg.get_plain("Init", &opt, names)?,
                    };
                    self.init_opts.insert(opt.clone(), Py::Str(got));
                }
            }
        }
        if all && self.cfg.has_section("Definition") {
            for opt in self.cfg.own_options("Definition") {
                if self.opts.contains_key(&opt) {
                    continue;
                }
                let v = self.cfg.get_plain("Definition", &opt, names)?;
                self.opts.insert(opt, Py::Str(v));
            }
        }
        Ok(())
    }

    /// The combined options after tag substitution and type conversion.
    pub fn get_combined(
        &mut self,
        names: &[String],
        log: &mut Log,
        ignore: &[&str],
    ) -> Result<OrdMap<Py>, ConfigError> {
        // {**opts, **init_opts}: init values override, new names keep their order
        let mut entries: Vec<(&str, Option<Cow<'_, str>>)> =
            Vec::with_capacity(self.opts.len() + self.init_opts.len());
        let mut pos: HashMap<&str, usize, FxBuild> =
            HashMap::with_capacity_and_hasher(entries.capacity(), FxBuild::default());
        for (k, v) in self.opts.iter().chain(self.init_opts.iter()) {
            let v = v.as_var();
            match pos.get(k.as_str()) {
                Some(&i) => entries[i].1 = v,
                None => {
                    pos.insert(k, entries.len());
                    entries.push((k, v));
                }
            }
        }
        if entries.is_empty() {
            return Ok(OrdMap::new());
        }
        let mut ign: Vec<&str> = ignore.to_vec();
        for (k, _) in &entries {
            if k.contains('?') {
                let (base, cond) = super::files::split_conditional(k);
                if cond.is_some() {
                    ign.push(base);
                }
            }
        }
        let mut cache = std::mem::take(&mut self.def_cache);
        let (cfg, p_vars) = (&self.cfg, &self.p_vars);
        let fast = {
            let is_ignored = |t: &str| ign.contains(&t);
            let mut addrepl = |t: &str| -> Result<Option<String>, String> {
                comb_option(cfg, p_vars, &mut cache, names, t).map_err(|e| e.message)
            };
            super::tags_fast::resolve_all(&entries, &is_ignored, &mut addrepl)
        };
        let subst: Vec<Option<String>> = match fast {
            Some(changed) => entries
                .iter()
                .zip(changed)
                .map(|((_, v), c)| c.or_else(|| v.as_ref().map(|v| v.to_string())))
                .collect(),
            None => {
                // the pass algorithm decides (and words any error exactly)
                let combined: OrdMap<Option<String>> = entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.as_ref().map(|v| v.to_string())))
                    .collect();
                let ign_set: HashSet<String, FxBuild> = ign.iter().map(|s| s.to_string()).collect();
                let mut err: Option<ConfigError> = None;
                let r = {
                    let mut addrepl = |t: &str| -> Result<Option<String>, String> {
                        match comb_option(cfg, p_vars, &mut cache, names, t) {
                            Ok(v) => Ok(v),
                            Err(e) => {
                                let m = e.message.clone();
                                err = Some(e);
                                Err(m)
                            }
                        }
                    };
                    substitute_recursive_tags(combined, &ign_set, &mut addrepl)
                };
                match r {
                    Ok(s) => s.into_entries().into_iter().map(|(_, v)| v).collect(),
                    Err(m) => {
                        self.def_cache = cache;
                        return Err(err.unwrap_or_else(|| {
                            ConfigError::new(m).at(format!(
                                "jail '{}', {}",
                                self.jail,
                                self.cfg.files.last().cloned().unwrap_or_default()
                            ))
                        }));
                    }
                }
            }
        };
        let mut out: Vec<(String, Py)> = Vec::with_capacity(entries.len());
        for ((k, _), v) in entries.iter().zip(subst) {
            let pv = match v {
                Some(s) => Py::Str(s),
                None => Py::None,
            };
            out.push((k.to_string(), pv));
        }
        drop(entries);
        self.def_cache = cache;
        let mut out = OrdMap::from_unique(out);
        // convert typed options
        for (ty, name, default) in self.specs() {
            let Some(Py::Str(s)) = out.get(name) else {
                continue;
            };
            let conv = match ty {
                Ty::Str => continue,
                Ty::Bool => Py::Bool(as_bool(s)),
                Ty::Int => match py_int(s) {
                    Some(i) => Py::Int(i),
                    None => {
                        log.push(
                            Level::Warning,
                            "fail2ban.configreader",
                            format!(
                                "Wrong int value {} for '{name}'. Using default one: {}",
                                crate::stream::py_str_repr(s),
                                default.repr()
                            ),
                        );
                        default.clone()
                    }
                },
            };
            if let Some(slot) = out.get_mut(name) {
                *slot = conv;
            }
        }
        Ok(out)
    }

    /// `True` when the definition declares `name` as one of its known options.
    pub fn is_config_opt(&self, name: &str) -> bool {
        self.specs().iter().any(|(_, n, _)| *n == name)
    }
}

/// fail2ban's `get_ex("Definition", name, vars=pOpts)`, cached per reader like
/// `getCombOption`, and shared between readers of the same file when no jail variable
/// influenced it.
fn comb_option(
    cfg: &Config,
    p_vars: &[(String, String)],
    def_cache: &mut HashMap<String, Option<String>, FxBuild>,
    names: &[String],
    name: &str,
) -> Result<Option<String>, ConfigError> {
    if let Some(v) = def_cache.get(name) {
        return Ok(v.clone());
    }
    let in_vars = |k: &str| p_vars.iter().any(|(kk, _)| kk == k);
    {
        // a shared answer is as good as a cached one (both are fixed for this reader)
        let memo = cfg.tag_memo.borrow();
        match memo.get(name) {
            Some(TagMemo::Value(v, keys)) if !keys.iter().any(|k| in_vars(k)) => {
                return Ok(Some(v.clone()));
            }
            // absent from the file: only the jail's variables could still supply it
            Some(TagMemo::Absent) if !in_vars(&super::interp::lower(name)) => {
                return Ok(None);
            }
            _ => {}
        }
    }
    let vars = p_vars;
    let mut result: Option<String> = None;
    let mut done = false;
    if let Some((sec, opt)) = name.split_once('/') {
        let valid_sec = !sec.is_empty()
            && sec
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        let valid_opt = !opt.is_empty() && !opt.chars().any(|c| c.is_whitespace() || c == '>');
        if valid_sec && valid_opt {
            let seclwr = sec.to_lowercase();
            let secs: &[&str] = if seclwr == "known" {
                &["KNOWN/Definition", "Definition"]
            } else if seclwr == "default" {
                &["DEFAULT"]
            } else {
                &[sec]
            };
            for s in secs {
                match cfg.get(s, opt, &[], names) {
                    Ok(v) => {
                        result = Some(v);
                        done = true;
                        break;
                    }
                    Err(GetError::Interp(e)) => return Err(e),
                    Err(_) => {}
                }
            }
        }
    }
    // what may be shared with other jails: values that no jail variable influenced,
    // and names absent from the file
    let mut share: Option<TagMemo> = None;
    if done {
        if let Some(v) = &result {
            share = Some(TagMemo::Value(v.clone(), Vec::new()));
        }
    } else {
        match cfg.get_tracked("Definition", name, vars, names) {
            Ok((v, keys)) => {
                share = keys.map(|k| TagMemo::Value(v.clone(), k));
                result = Some(v);
            }
            Err(GetError::Interp(e)) => return Err(e),
            Err(_) => share = Some(TagMemo::Absent),
        }
    }
    if let Some(m) = share {
        cfg.tag_memo.borrow_mut().insert(name.to_string(), m);
    }
    def_cache.insert(name.to_string(), result.clone());
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_and_bool() {
        assert_eq!(py_int(" 5 "), Some(5));
        assert_eq!(py_int("+1_000"), Some(1000));
        assert_eq!(py_int("-3"), Some(-3));
        for bad in ["abc", "5.0", "0x10", "", "1__0", "_1"] {
            assert_eq!(py_int(bad), None, "{bad}");
        }
        assert!(as_bool("Yes") && as_bool("1") && as_bool("ON"));
        assert!(!as_bool("yes please") && !as_bool("0"));
    }
}
