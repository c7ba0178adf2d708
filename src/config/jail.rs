//! One jail: its options, filter and actions as fail2ban's `JailReader` reads them
//! ([`read_jail`]), and its part of the command stream ([`JailState::convert`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::files::{Config, ConfigError, Level};
use super::ini::{FxBuild, OrdMap, RawVal, Section};
use super::interp::GetError;
use super::options::{extract_options, json_dumps, shlex_split, split_with_options, splitwords};
use super::reader::{DefReader, FILTER_OPTS, Kind, Py, Spec, Ty, get_options_with, to_vars};
use super::{Reader, glob};
use crate::stream::{Command, Value};

const OPTS_1ST: &[Spec] = &[
    (Ty::Bool, "enabled", Py::Bool(false)),
    (Ty::Str, "backend", Py::Str(String::new())),
    (Ty::Str, "filter", Py::Str(String::new())),
];

/// `OPTS_1ST` with its real defaults (`backend` = `auto`); a `const` cannot hold them.
fn opts_1st() -> Vec<Spec> {
    let mut v = OPTS_1ST.to_vec();
    v[1].2 = Py::Str("auto".into());
    v
}

/// The jail option template (order matters: it is the order of the stream).
fn jail_opts() -> Vec<Spec> {
    let mut v: Vec<Spec> = vec![
        (Ty::Bool, "enabled", Py::Bool(false)),
        (Ty::Str, "backend", Py::Str("auto".into())),
        (Ty::Int, "maxretry", Py::None),
        (Ty::Int, "maxmatches", Py::None),
        (Ty::Str, "findtime", Py::None),
        (Ty::Str, "bantime", Py::None),
        (Ty::Bool, "bantime.increment", Py::None),
        (Ty::Str, "bantime.factor", Py::None),
        (Ty::Str, "bantime.formula", Py::None),
        (Ty::Str, "bantime.multipliers", Py::None),
        (Ty::Str, "bantime.maxtime", Py::None),
        (Ty::Str, "bantime.rndtime", Py::None),
        (Ty::Bool, "bantime.overalljails", Py::None),
        (Ty::Str, "ignorecommand", Py::None),
        (Ty::Bool, "ignoreself", Py::None),
        (Ty::Str, "ignoreip", Py::None),
        (Ty::Str, "ignorecache", Py::None),
        (Ty::Str, "filter", Py::Str(String::new())),
        (Ty::Str, "logtimezone", Py::None),
        (Ty::Str, "logencoding", Py::None),
        (Ty::Str, "logpath", Py::None),
        (Ty::Str, "action", Py::Str(String::new())),
        // fail2ban 1.1's policy for a jail whose logpath matches nothing; never in the stream.
        (Ty::Bool, "skip_if_nologs", Py::None),
        (Ty::Bool, "systemd_if_nologs", Py::None),
    ];
    v.extend(FILTER_OPTS.iter().cloned());
    v
}

const ESCAPED_ACTION_TAGS: &[&str] = &[
    "matches",
    "ipmatches",
    "ipjailmatches",
    "timeout",
    "bantime",
];

enum ActionEntry {
    Cmd(Box<DefReader>, String),
    Python(Command),
}

/// A jail read from the config.
pub struct JailState {
    pub name: String,
    pub enabled: bool,
    pub config_error: Option<String>,
    /// `skip_if_nologs` left the jail out: no commands, no `start`.
    pub skipped: bool,
    opts: OrdMap<Py>,
    filter: Option<Box<DefReader>>,
    actions: Vec<ActionEntry>,
}

enum JErr {
    Def(String),
    Fatal(ConfigError),
}

impl From<ConfigError> for JErr {
    fn from(e: ConfigError) -> Self {
        JErr::Fatal(e)
    }
}

fn get_err(e: GetError) -> JErr {
    match e {
        GetError::Interp(e) => JErr::Fatal(e),
        GetError::NoSection(s) => JErr::Fatal(ConfigError::new(format!(
            "No section: {}",
            crate::stream::py_str_repr(&s)
        ))),
        GetError::NoOption(o, s) => JErr::Fatal(ConfigError::new(format!(
            "No option {} in section: {}",
            crate::stream::py_str_repr(&o),
            crate::stream::py_str_repr(&s)
        ))),
    }
}

fn repr(s: &str) -> String {
    crate::stream::py_str_repr(s)
}

fn path_join(a: &str, b: &str) -> String {
    if b.starts_with('/') {
        b.to_string()
    } else if a.is_empty() || a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// Reads jail `name` from the (mutable: it receives `known/…` filter values) jail config.
pub fn read_jail(rd: &mut Reader<'_>, name: &str) -> Result<JailState, ConfigError> {
    let basedir = rd.fs.basedir.clone();
    rd.jail.defaults.insert(
        "fail2ban_version".into(),
        RawVal::synthetic(super::FAIL2BAN_VERSION),
    );
    rd.jail.defaults.insert(
        "fail2ban_confpath".into(),
        RawVal::synthetic(basedir.clone()),
    );
    let mut st = JailState {
        name: name.to_string(),
        enabled: false,
        config_error: None,
        skipped: false,
        opts: OrdMap::new(),
        filter: None,
        actions: Vec::new(),
    };
    match read_jail_inner(rd, &mut st, &basedir) {
        Ok(()) => Ok(st),
        Err(JErr::Def(msg)) => {
            rd.log
                .push(Level::Error, "fail2ban.jailreader", msg.clone());
            st.config_error = Some(msg);
            Ok(st)
        }
        Err(JErr::Fatal(e)) => Err(e),
    }
}

fn read_jail_inner(rd: &mut Reader<'_>, st: &mut JailState, basedir: &str) -> Result<(), JErr> {
    let name = st.name.clone();
    let opts1 = jail_options(rd, &name, &opts_1st(), true).map_err(get_err)?;
    st.enabled = opts1.get("enabled").is_some_and(Py::truthy);
    st.opts = opts1.clone();
    if !st.enabled {
        return Ok(());
    }
    let flt = opts1
        .get("filter")
        .and_then(Py::as_str)
        .unwrap_or("")
        .to_string();
    if !flt.is_empty() {
        let (fname, fopts) = extract_options(&flt)
            .map_err(|e| JErr::Def(format!("Invalid filter definition {}: {e}", repr(&flt))))?;
        let Some(cfg) = rd.def_config(&path_join("filter.d", &fname))? else {
            return Err(JErr::Def(format!(
                "Unable to read the filter {}",
                repr(&fname)
            )));
        };
        let init: OrdMap<Py> = fopts.into_iter().map(|(k, v)| (k, Py::Str(v))).collect();
        let mut fr = DefReader::new(Kind::Filter, cfg, &name, init);
        let backend = opts1
            .get("backend")
            .and_then(Py::as_str)
            .unwrap_or("")
            .to_string();
        fr.apply_auto_options(&backend);
        fr.get_options(&rd.fs.names, &mut rd.log, &opts1, true)
            .map_err(get_err)?;
        let comb = fr.get_combined(&rd.fs.names, &mut rd.log, &[])?;
        // (only an interpolation in the jail config can see them)
        if rd.jail_uses_known
            && let Some(sec) = rd.jail.sections.get_mut(&name)
        {
            for (k, v) in comb.iter() {
                if k.starts_with("known/") || k == "__name__" {
                    continue;
                }
                let text = v.to_var().unwrap_or_else(|| "None".into());
                sec.insert(format!("known/{k}"), RawVal::synthetic(text));
            }
        }
        st.filter = Some(Box::new(fr));
    } else {
        rd.log.push(
            Level::Warning,
            "fail2ban.jailreader",
            format!("No filter set for jail {name}"),
        );
    }
    let specs = jail_opts();
    let opts = jail_options(rd, &name, &specs, false).map_err(get_err)?;
    st.opts = opts;
    // the jail's options as variables, shared by its filter and actions
    let jvars = std::rc::Rc::new(to_vars(&st.opts));
    if let Some(fr) = st.filter.as_mut() {
        fr.get_options_vars(&rd.fs.names, &mut rd.log, &st.opts, &jvars, false)
            .map_err(get_err)?;
    }
    let action_val = st
        .opts
        .get("action")
        .and_then(Py::as_str)
        .unwrap_or("")
        .to_string();
    for act in split_with_options(&action_val) {
        let act = act.trim();
        if act.is_empty() {
            continue;
        }
        let (an, mut ao) = extract_options(act)
            .map_err(|e| JErr::Def(format!("Invalid action definition {}: {e}", repr(act))))?;
        if an.ends_with(".py") {
            let actname = match ao.iter().position(|(k, _)| k == "actname") {
                Some(i) => ao.remove(i).1,
                None => {
                    let file = an.rsplit('/').next().unwrap_or(&an);
                    let cut = file
                        .rfind('.')
                        .filter(|&i| i > 0)
                        .map(|i| an.len() - file.len() + i)
                        .unwrap_or(an.len());
                    an[..cut].to_string()
                }
            };
            st.actions.push(ActionEntry::Python(Command::AddAction {
                jail: name.clone(),
                action: actname,
                python: Some((
                    path_join(&path_join(basedir, "action.d"), &an),
                    json_dumps(&ao),
                )),
            }));
            continue;
        }
        let mut init: OrdMap<Py> = ao.into_iter().map(|(k, v)| (k, Py::Str(v))).collect();
        let n = match init.get("name").and_then(Py::as_str) {
            Some(n) => n.to_string(),
            None => {
                init.insert("name".into(), Py::Str(name.clone()));
                name.clone()
            }
        };
        let actname = match init.get("actname").and_then(Py::as_str) {
            Some(a) => a.to_string(),
            None => {
                let mut a = an.clone();
                if n != name {
                    match n.strip_prefix(name.as_str()) {
                        Some(rest) => a.push_str(rest),
                        None => {
                            a.push('-');
                            a.push_str(&n);
                        }
                    }
                }
                init.insert("actname".into(), Py::Str(a.clone()));
                a
            }
        };
        let Some(cfg) = rd
            .def_config(&path_join("action.d", &an))
            .map_err(|e| wrap_action(act, e))?
        else {
            return Err(JErr::Def(format!("Unable to read action {}", repr(&an))));
        };
        let mut ar = DefReader::new(Kind::Action, cfg, &name, init);
        ar.get_options_vars(&rd.fs.names, &mut rd.log, &st.opts, &jvars, false)
            .map_err(|e| match get_err(e) {
                JErr::Fatal(e) => wrap_action(act, e),
                d => d,
            })?;
        st.actions.push(ActionEntry::Cmd(Box::new(ar), actname));
    }
    if st.actions.is_empty() {
        rd.log.push(
            Level::Warning,
            "fail2ban.jailreader",
            format!("No actions were defined for {name}"),
        );
    }
    Ok(())
}

/// Whether a value of the jail config may interpolate a `known/…` name (`%(known/x)s`,
/// any case): only then do the filter values merged into a jail as `known/…` matter.
pub fn uses_known(cfg: &Config) -> bool {
    let has_ref = |t: &str| {
        let b = t.as_bytes();
        // a byte search per value: a substring searcher's set-up costs more than
        // these short texts take to scan
        memchr::memchr_iter(b'%', b).any(|i| {
            b.get(i + 1) == Some(&b'(')
                && b.get(i + 2..i + 8)
                    .is_some_and(|w| w.eq_ignore_ascii_case(b"known/"))
        })
    };
    cfg.defaults.iter().any(|(_, v)| has_ref(&v.text))
        || cfg
            .sections
            .iter()
            .any(|(_, s)| s.iter().any(|(_, v)| has_ref(&v.text)))
}

/// `getOptions` of the jail section `sec` (no caller variables), with [`jail_get`].
fn jail_options(
    rd: &mut Reader<'_>,
    sec: &str,
    specs: &[Spec],
    should_exist: bool,
) -> Result<OrdMap<Py>, GetError> {
    let (cfg, memo, names) = (&rd.jail, &rd.jail_memo, &rd.fs.names);
    // the section is found once for all its options
    let own = cfg.sections.get(sec);
    get_options_with(
        cfg,
        names,
        &mut rd.log,
        sec,
        specs,
        &|_| false,
        &|k| jail_get(cfg, memo, sec, own, k, names),
        should_exist,
        true,
    )
}

/// Jail option values as a section that overrides nothing would read them: option →
/// [`Shared`]. Most jails take most options from `[DEFAULT]`.
pub type JailMemo = RefCell<HashMap<String, Shared, FxBuild>>;

/// A jail option read in `[DEFAULT]` alone (see [`jail_get`]).
pub enum Shared {
    /// The value, and every name its interpolation looked up.
    Value(String, Vec<String>),
    /// Not in `[DEFAULT]`.
    Absent,
    /// Section-specific (`__name__`, `sec/x`, `known/x`) or an error: read per section.
    No,
}

/// `cfg.get(sec, opt)` without variables, shared between sections. The value is read
/// once in `[DEFAULT]` alone; a section that defines none of the names it looked up
/// would look each of them up in `[DEFAULT]` too, so it gets the same value. Values
/// built from `__name__`, `sec/x` or `known/x` (the jail config changes only by
/// `known/…` names in a section) are read per section.
fn jail_get(
    cfg: &Config,
    memo: &JailMemo,
    sec: &str,
    own: Option<&Section>,
    opt: &str,
    names: &[String],
) -> Result<String, GetError> {
    // option names come from the templates: already lower-case
    let Some(own) = own else {
        return cfg.get(sec, opt, &[], names);
    };
    {
        let m = memo.borrow();
        match m.get(opt) {
            Some(Shared::Value(v, keys)) if !keys.iter().any(|k| own.contains_key(k)) => {
                return Ok(v.clone());
            }
            Some(Shared::Absent) if !own.contains_key(opt) => {
                return Err(GetError::NoOption(opt.to_string(), sec.to_string()));
            }
            Some(_) => return cfg.get(sec, opt, &[], names),
            None => {}
        }
    }
    let shared = match cfg.get_tracked("DEFAULT", opt, &[], names) {
        Ok((v, Some(keys))) if keys.iter().all(|k| k != "__name__" && !k.contains('/')) => {
            Shared::Value(v, keys)
        }
        Err(GetError::NoOption(..)) => Shared::Absent,
        _ => Shared::No,
    };
    memo.borrow_mut().insert(opt.to_string(), shared);
    // answered by the memo now
    jail_get(cfg, memo, sec, Some(own), opt, names)
}

fn wrap_action(act: &str, e: ConfigError) -> JErr {
    JErr::Fatal(ConfigError {
        message: format!("Error in action definition {}: {}", repr(act), e.message),
        location: e.location,
    })
}

/// fail2ban's `FilterReader._fillStream`: regexes, and `usedns`/`prefregex`/`maxlines`
/// moved to the front.
pub fn fill_stream(
    stream: &mut Vec<Command>,
    opts: &OrdMap<Py>,
    jail: &str,
) -> Result<(), ConfigError> {
    let mut prio0 = 0usize;
    for (opt, value) in opts.iter() {
        if *value == Py::None {
            continue;
        }
        let set = |key: &str, args: Vec<Value>| Command::SetJail {
            jail: jail.to_string(),
            key: key.to_string(),
            args,
        };
        match opt.as_str() {
            "failregex" | "ignoreregex" => {
                let text = value.to_var().unwrap_or_default();
                let multi: Vec<Value> = text
                    .split('\n')
                    .filter(|r| !r.is_empty())
                    .map(Value::from)
                    .collect();
                let key = format!("add{opt}");
                if multi.len() > 1 {
                    stream.push(Command::MultiSetJail {
                        jail: jail.to_string(),
                        key,
                        values: multi,
                    });
                } else if let Some(one) = multi.into_iter().next() {
                    stream.push(set(&key, vec![one]));
                }
            }
            "usedns" | "maxlines" | "prefregex" => {
                let idx = if opt == "usedns" { 0 } else { prio0 };
                stream.insert(idx.min(stream.len()), set(opt, vec![value.to_value()]));
                prio0 += 1;
            }
            "journalmatch" => {
                let text = value.to_var().unwrap_or_default();
                for m in text.split('\n').filter(|m| !m.is_empty()) {
                    let words = shlex_split(m).map_err(|e| {
                        ConfigError::new(e).at(format!("jail '{jail}', journalmatch {}", repr(m)))
                    })?;
                    stream.push(set(
                        "addjournalmatch",
                        words.into_iter().map(Value::from).collect(),
                    ));
                }
            }
            // fail2ban tests `opt in ('datepattern')`, a substring test on a string.
            o if in_datepattern(o) => stream.push(set(opt, vec![value.to_value()])),
            _ => {}
        }
    }
    Ok(())
}

/// `o in 'datepattern'` (a substring test), without the general searcher's set-up
/// (called for every option of every jail).
fn in_datepattern(o: &str) -> bool {
    const D: &[u8] = b"datepattern";
    let o = o.as_bytes();
    o.is_empty() || (o.len() <= D.len() && D.windows(o.len()).any(|w| w == o))
}

const IGNORE_OPTS: &[&str] = &[
    "action",
    "filter",
    "enabled",
    "usedns",
    "prefregex",
    "ignoreregex",
    "failregex",
    "maxlines",
    "datepattern",
    "journalmatch",
    "skip_if_nologs",
    "systemd_if_nologs",
];

impl JailState {
    /// The jail's commands (without `start`). `allow_no_files`: `-d` tolerates a jail
    /// without log files, `-t`/start do not.
    pub fn convert(
        &mut self,
        rd: &mut Reader<'_>,
        allow_no_files: bool,
    ) -> Result<Vec<Command>, ConfigError> {
        if let Some(e) = &self.config_error {
            return Ok(vec![Command::ConfigError(format!(
                "Jail '{}' skipped, because of wrong configuration: {e}",
                self.name
            ))]);
        }
        let jail = self.name.clone();
        let mut stream = Vec::new();
        let mut stream2 = Vec::new();
        if let Some(fr) = self.filter.as_mut() {
            let opts = fr.get_combined(&rd.fs.names, &mut rd.log, &[])?;
            if !opts.is_empty() {
                fill_stream(&mut stream, &opts, &jail)?;
            }
        }
        fill_stream(&mut stream, &self.opts, &jail)?;
        let mut backend = String::new();
        let mut journal_backend = None;
        let backend_opt = self
            .opts
            .get("backend")
            .and_then(Py::as_str)
            .unwrap_or_default()
            .to_string();
        let is_systemd = self
            .opts
            .get("backend")
            .and_then(Py::as_str)
            .is_some_and(|b| b.starts_with("systemd"));
        for (opt, value) in self.opts.iter() {
            match opt.as_str() {
                "logpath" => {
                    if is_systemd {
                        continue;
                    }
                    let mut found = 0;
                    let text = value.to_var().unwrap_or_default();
                    for line in text.split('\n') {
                        let (path, tail) = match line.rsplit_once(' ') {
                            Some((p, t)) => (p, t),
                            None => (line, "head"),
                        };
                        let list = glob::glob_checked(path);
                        let mut any = false;
                        for (p, exists) in list {
                            if !exists {
                                rd.log.push(
                                    Level::Warning,
                                    "fail2ban.jailreader",
                                    format!(
                                        "File {p} is a dangling link, thus cannot be monitored"
                                    ),
                                );
                                continue;
                            }
                            any = true;
                            found += 1;
                            stream2.push(Command::SetJail {
                                jail: jail.clone(),
                                key: "addlogpath".into(),
                                args: vec![p.into(), tail.into()],
                            });
                        }
                        if !any {
                            rd.log.push(
                                Level::Notice,
                                "fail2ban.jailreader",
                                format!("No file(s) found for glob {path}"),
                            );
                        }
                    }
                    if found == 0 {
                        let msg = format!("Have not found any log file for {jail} jail");
                        if !allow_no_files {
                            match no_logs_policy(&self.opts, &backend_opt, &stream, &jail) {
                                NoLogs::Fail => return Err(ConfigError::new(msg)),
                                NoLogs::Skip => {
                                    rd.log.push(
                                        Level::Warning,
                                        "fail2ban.jailreader",
                                        format!("{msg}; skipped (skip_if_nologs)"),
                                    );
                                    self.skipped = true;
                                    return Ok(Vec::new());
                                }
                                NoLogs::Journal(b) => {
                                    rd.log.push(
                                        Level::Warning,
                                        "fail2ban.jailreader",
                                        format!("{msg}; it reads the systemd journal instead"),
                                    );
                                    journal_backend = Some(b);
                                    stream2.clear();
                                    continue;
                                }
                            }
                        }
                        rd.log.push(Level::Warning, "fail2ban.jailreader", msg);
                    }
                }
                "backend" => backend = value.to_var().unwrap_or_default(),
                "ignoreip" => {
                    let mut args = vec![];
                    args.extend(
                        splitwords(&value.to_var().unwrap_or_default())
                            .into_iter()
                            .map(Value::from),
                    );
                    stream.push(Command::SetJail {
                        jail: jail.clone(),
                        key: "addignoreip".into(),
                        args,
                    });
                }
                o if IGNORE_OPTS.contains(&o) => {}
                _ => stream.push(Command::SetJail {
                    jail: jail.clone(),
                    key: opt.clone(),
                    args: vec![value.to_value()],
                }),
            }
        }
        stream.extend(stream2);
        for a in self.actions.iter_mut() {
            match a {
                ActionEntry::Python(c) => stream.push(c.clone()),
                ActionEntry::Cmd(ar, actname) => {
                    let opts = ar.get_combined(&rd.fs.names, &mut rd.log, ESCAPED_ACTION_TAGS)?;
                    stream.push(Command::AddAction {
                        jail: jail.clone(),
                        action: actname.clone(),
                        python: None,
                    });
                    let mut multi: Vec<(String, Value)> = Vec::new();
                    for (k, v) in opts.iter() {
                        if ar.is_config_opt(k) && !k.starts_with("known/") {
                            multi.push((k.clone(), v.to_value()));
                        }
                    }
                    for (k, v) in ar.init_opts.iter() {
                        if !ar.is_config_opt(k) && !k.starts_with("known/") {
                            multi.push((k.clone(), v.to_value()));
                        }
                    }
                    if multi.len() > 1 {
                        stream.push(Command::MultiSetAction {
                            jail: jail.clone(),
                            action: actname.clone(),
                            pairs: multi,
                        });
                    } else if let Some((k, v)) = multi.into_iter().next() {
                        stream.push(Command::SetAction {
                            jail: jail.clone(),
                            action: actname.clone(),
                            key: k,
                            value: v,
                        });
                    }
                }
            }
        }
        stream.insert(
            0,
            Command::AddJail {
                jail: jail.clone(),
                backend: journal_backend.unwrap_or(backend),
            },
        );
        Ok(stream)
    }
}

/// What a server start does with a jail whose `logpath` matches no file (fail2ban 1.1's
/// policy; fail2ban 1.0.2 only knows `Fail`, and `-d` keeps 1.0.2's warning).
#[derive(Debug, PartialEq)]
enum NoLogs {
    Fail,
    /// `skip_if_nologs = true`: the jail is left out, the others start.
    Skip,
    /// `backend = auto` with a journalmatch (and `systemd_if_nologs` not false): the
    /// jail reads the journal; the backend to use (`auto[…]` options carried over).
    Journal(String),
}

fn no_logs_policy(opts: &OrdMap<Py>, backend: &str, stream: &[Command], jail: &str) -> NoLogs {
    let flag = |k: &str| match opts.get(k) {
        Some(Py::Bool(b)) => Some(*b),
        _ => None,
    };
    let has_match = stream.iter().any(|c| {
        matches!(c, Command::SetJail { jail: j, key, args }
            if j == jail && key == "addjournalmatch" && !args.is_empty())
    });
    let auto = backend
        .get(..4)
        .is_some_and(|b| b.eq_ignore_ascii_case("auto"));
    if auto && has_match && flag("systemd_if_nologs") != Some(false) {
        return NoLogs::Journal(format!("systemd{}", &backend[4..]));
    }
    if flag("skip_if_nologs") == Some(true) {
        return NoLogs::Skip;
    }
    NoLogs::Fail
}

/// Keeps `Rc` in scope for readers that share filter configs.
pub type SharedConfig = Rc<super::files::Config>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jail_specs_have_distinct_names() {
        assert!(crate::config::reader::specs_distinct(&opts_1st()));
        assert!(crate::config::reader::specs_distinct(&jail_opts()));
    }

    fn opts(pairs: &[(&str, bool)]) -> OrdMap<Py> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Py::Bool(*v)))
            .collect()
    }

    fn with_match(jail: &str) -> Vec<Command> {
        vec![Command::SetJail {
            jail: jail.into(),
            key: "addjournalmatch".into(),
            args: vec!["_SYSTEMD_UNIT=sshd.service".into()],
        }]
    }

    #[test]
    fn no_log_files_policy() {
        let m = with_match("sshd");
        assert_eq!(
            no_logs_policy(&opts(&[]), "auto", &m, "sshd"),
            NoLogs::Journal("systemd".into())
        );
        assert_eq!(
            no_logs_policy(&opts(&[]), "AUTO[journalflags=1]", &m, "sshd"),
            NoLogs::Journal("systemd[journalflags=1]".into())
        );
        // No journalmatch (or another jail's), another backend, or switched off: 1.0.2's error.
        assert_eq!(
            no_logs_policy(&opts(&[]), "auto", &[], "sshd"),
            NoLogs::Fail
        );
        assert_eq!(
            no_logs_policy(&opts(&[]), "auto", &m, "other"),
            NoLogs::Fail
        );
        assert_eq!(
            no_logs_policy(&opts(&[]), "polling", &m, "sshd"),
            NoLogs::Fail
        );
        let off = opts(&[("systemd_if_nologs", false)]);
        assert_eq!(no_logs_policy(&off, "auto", &m, "sshd"), NoLogs::Fail);
        let skip = opts(&[("systemd_if_nologs", false), ("skip_if_nologs", true)]);
        assert_eq!(no_logs_policy(&skip, "auto", &m, "sshd"), NoLogs::Skip);
        let skip = opts(&[("skip_if_nologs", true)]);
        assert_eq!(no_logs_policy(&skip, "polling", &m, "sshd"), NoLogs::Skip);
    }
}
