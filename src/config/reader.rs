//! Typed option reading shared by all readers ([`get_options`], fail2ban's
//! `ConfigReader.getOptions`) and the `[Definition]`/`[Init]` reader used for filters and
//! actions ([`DefReader`]): jail parameters, `[Init]` defaults with `known/` copies,
//! definition values, and the combined option set after `<tag>` substitution.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::comb_trace::CombTrace;
use super::files::{Config, ConfigError, Level};
use super::ini::{FxBuild, OrdMap};
use super::interp::{GetError, Vars};
use super::memo::{VarNames, comb_option, def_get, init_plain};
use super::tags::substitute_recursive_tags;
use super::tags_plan::TagPlan;
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
        &|k| cfg.get(sec, k, &vars, names),
        should_exist,
        convert,
    )
}

/// [`get_options`] with the skip test and the value lookup (`get(sec, name, vars)`)
/// given directly.
#[allow(clippy::too_many_arguments)]
pub fn get_options_with(
    cfg: &Config,
    names: &[String],
    log: &mut Log,
    sec: &str,
    specs: &[Spec],
    skip: &dyn Fn(&str) -> bool,
    get: &dyn Fn(&str) -> Result<String, GetError>,
    should_exist: bool,
    convert: bool,
) -> Result<OrdMap<Py>, GetError> {
    // one entry per spec, and the specs' names are distinct (checked in the tests):
    // no duplicate search while collecting
    let mut values: Vec<(String, Py)> = Vec::with_capacity(specs.len());
    for (ty, name, default) in specs {
        if skip(name) {
            continue;
        }
        match get(name) {
            Ok(v) => {
                let conv = if convert { *ty } else { Ty::Str };
                match conv {
                    Ty::Str => values.push((name.to_string(), Py::Str(v))),
                    Ty::Bool => values.push((name.to_string(), Py::Bool(as_bool(&v)))),
                    Ty::Int => match py_int(&v) {
                        Some(i) => values.push((name.to_string(), Py::Int(i))),
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
                            values.push((name.to_string(), default.clone()));
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
                values.push((name.to_string(), default.clone()));
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
                    values.push((name.to_string(), default.clone()));
                }
            }
            Err(e @ GetError::Interp(_)) => return Err(e),
        }
    }
    Ok(OrdMap::from_unique(values))
}

/// Whether no two specs share a name ([`get_options_with`] relies on it; the tests of
/// each spec list check it).
#[cfg(test)]
pub(crate) fn specs_distinct(specs: &[Spec]) -> bool {
    let mut names: Vec<&str> = specs.iter().map(|(_, n, _)| *n).collect();
    names.sort_unstable();
    names.windows(2).all(|w| w[0] != w[1])
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

/// A jail's options as interpolation variables, shared by its filter and actions.
pub type SharedVars = Rc<Vec<(String, String)>>;

/// A filter or action definition read for one jail (fail2ban's
/// `DefinitionInitConfigReader`).
pub struct DefReader {
    pub kind: Kind,
    pub cfg: Rc<Config>,
    pub jail: String,
    /// Jail-supplied parameters, then `[Init]` values and their `known/` copies.
    pub init_opts: OrdMap<Py>,
    /// The reader's own variables (from `init_opts`), searched before `p_shared`.
    p_vars: Vec<(String, String)>,
    /// The jail's options as variables, shared by its filter and actions.
    p_shared: SharedVars,
    /// Hashes of the names in `p_vars` and `p_shared`, for the shared-memo tests.
    p_names: VarNames,
    opts: OrdMap<Py>,
    def_cache: HashMap<String, Option<String>, FxBuild>,
    /// A filter's first resolution, for its second.
    trace: Option<CombTrace>,
}

impl DefReader {
    pub fn new(kind: Kind, cfg: Rc<Config>, jail: &str, init_opts: OrdMap<Py>) -> Self {
        DefReader {
            kind,
            cfg,
            jail: jail.to_string(),
            init_opts,
            p_vars: Vec::new(),
            p_shared: SharedVars::default(),
            p_names: VarNames::default(),
            opts: OrdMap::new(),
            // grown as used: room reserved up front for a typical definition's lookups
            // saved a few regrowths but cost ~150 fresh pages over the 190 readers of
            // the all-jails tree, which weigh more than the regrowths
            def_cache: HashMap::default(),
            trace: None,
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
        self.get_options_vars(names, log, p_opts, &Rc::new(to_vars(p_opts)), all)
    }

    /// [`DefReader::get_options`] given `to_vars(p_opts)` (a jail computes it once for its
    /// filter and all its actions).
    pub fn get_options_vars(
        &mut self,
        names: &[String],
        log: &mut Log,
        p_opts: &OrdMap<Py>,
        p_vars: &SharedVars,
        all: bool,
    ) -> Result<(), GetError> {
        // {**p_opts, **init_opts}: the init options as a layer over the jail's (not a
        // copy of the jail's with these merged in)
        let mut vars: Vec<(String, String)> = Vec::new();
        for (k, v) in self.init_opts.iter() {
            let Some(v) = v.to_var() else { continue };
            let k = super::interp::lower(k);
            match vars.iter_mut().find(|(kk, _)| *kk == *k) {
                Some(e) => e.1 = v,
                None => vars.push((k.into_owned(), v)),
            }
        }
        let init = &self.init_opts;
        let cfg = &self.cfg;
        let vnames = VarNames::of(&vars, p_vars);
        let has_def = cfg.has_section("Definition");
        self.opts = get_options_with(
            cfg,
            names,
            log,
            "Definition",
            self.specs(),
            &|k| p_opts.contains_key(k) || init.contains_key(k),
            &|k| def_get(cfg, (&vars, p_vars), &vnames, has_def, names, k),
            false,
            false,
        )?;
        self.p_vars = vars;
        self.p_shared = p_vars.clone();
        self.p_names = vnames;
        if let Some(plain) = init_plain(&self.cfg, names)? {
            for (opt, known, v) in plain.iter() {
                if let Some(kn) = known {
                    self.init_opts.insert(kn.clone(), Py::Str(v.clone()));
                }
                if !self.init_opts.contains_key(opt) {
                    self.init_opts.insert(opt.clone(), Py::Str(v.clone()));
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
        // a filter's first resolution may serve its second (see comb_trace)
        let trace = self.trace.take();
        let record = self.kind == Kind::Filter && trace.is_none();
        // {**opts, **init_opts}: init values override, new names keep their order
        // both maps have unique keys, and `opts`' entries come first in its own order:
        // an init key found in `opts` at position i overrides entry i (no hash set)
        let mut entries: Vec<(&str, Option<Cow<'_, str>>)> =
            Vec::with_capacity(self.opts.len() + self.init_opts.len());
        entries.extend(self.opts.iter().map(|(k, v)| (k.as_str(), v.as_var())));
        for (k, v) in self.init_opts.iter() {
            let v = v.as_var();
            match self.opts.index_of(k) {
                Some(i) => entries[i].1 = v,
                None => entries.push((k, v)),
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
        let (cfg, p_names) = (&self.cfg, &self.p_names);
        let p_vars: (&Vars, &Vars) = (&self.p_vars, &self.p_shared);
        let reused = trace.and_then(|tr| {
            let mut addrepl = |t: &str| -> Result<Option<String>, String> {
                comb_option(cfg, p_vars, p_names, &mut cache, names, t).map_err(|e| e.message)
            };
            tr.reuse(&entries, &ign, &mut addrepl)
        });
        let mut new_trace = None;
        let fast = match reused {
            Some(r) => Some(r),
            None => {
                let ign_sorted = super::tags_plan::ign_set(&ign);
                // another jail's resolution of this file may serve (see tags_plan)
                let plans: Vec<Rc<TagPlan>> = cfg.tag_plans.borrow().plans.clone();
                let mut replayed = None;
                for p in &plans {
                    let mut addrepl = |t: &str| -> Result<Option<String>, String> {
                        comb_option(cfg, p_vars, p_names, &mut cache, names, t)
                            .map_err(|e| e.message)
                    };
                    if let Some(r) = p.apply(&entries, &ign_sorted, &mut addrepl) {
                        replayed = Some((r, p.clone()));
                        break;
                    }
                }
                match replayed {
                    Some(((changed, used), p)) => {
                        if record {
                            let lookups = p.lookups().to_vec();
                            new_trace =
                                Some(CombTrace::new(&entries, &ign, &changed, used, lookups));
                        }
                        Some(changed)
                    }
                    None => {
                        let is_ignored = |t: &str| ign.contains(&t);
                        let mut lookups: Vec<(String, Option<String>)> = Vec::new();
                        let r = {
                            let mut addrepl = |t: &str| -> Result<Option<String>, String> {
                                let r = comb_option(cfg, p_vars, p_names, &mut cache, names, t)
                                    .map_err(|e| e.message);
                                if record && let Ok(v) = &r {
                                    lookups.push((t.to_string(), v.clone()));
                                }
                                r
                            };
                            super::tags_fast::resolve_all_used(&entries, &is_ignored, &mut addrepl)
                        };
                        if r.is_some() {
                            let mut run = |marked: &[(&str, Option<Cow<'_, str>>)]| {
                                let mut seen: Vec<(String, Option<String>)> = Vec::new();
                                let mut addrepl = |t: &str| -> Result<Option<String>, String> {
                                    let r = comb_option(cfg, p_vars, p_names, &mut cache, names, t)
                                        .map_err(|e| e.message);
                                    if let Ok(v) = &r {
                                        seen.push((t.to_string(), v.clone()));
                                    }
                                    r
                                };
                                let (o, u) = super::tags_fast::resolve_all_used(
                                    marked,
                                    &is_ignored,
                                    &mut addrepl,
                                )?;
                                Some((o, u, seen))
                            };
                            cfg.tag_plans
                                .borrow_mut()
                                .learn(&entries, &ign_sorted, &mut run);
                        }
                        r.map(|(changed, used)| {
                            if record {
                                new_trace =
                                    Some(CombTrace::new(&entries, &ign, &changed, used, lookups));
                            }
                            changed
                        })
                    }
                }
            }
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
                        match comb_option(cfg, p_vars, p_names, &mut cache, names, t) {
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
        self.trace = new_trace;
        // read in order by the callers, and searched only for the few typed options:
        // not worth a hash index
        let mut out = OrdMap::from_unique_unindexed(out);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_specs_have_distinct_names() {
        assert!(specs_distinct(FILTER_OPTS));
        assert!(specs_distinct(ACTION_OPTS));
        assert!(!specs_distinct(&[
            (Ty::Str, "a", Py::None),
            (Ty::Int, "a", Py::None)
        ]));
    }

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
