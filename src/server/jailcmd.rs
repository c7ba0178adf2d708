//! Jail commands of the transmitter: `set J …`, `multi-set J …`, `get J …`, `status J`,
//! `banned` (compat-spec 5.3).

use std::sync::atomic::Ordering;

use crate::control::pickle::ExcReply;
use crate::filter::addr::{IpAddr, UseDns};
use crate::filter::date::DateDetector;
use crate::filter::failregex::{CompiledRegex, FailRegex, PrefRegex};
use crate::filter::matcher::SpecError;
use crate::filter::template;
use crate::server::action::CommandAction;
use crate::server::daemon::{Server, State, exc};
use crate::server::jail::{Jail, lock};
use crate::server::transmitter::{arg, index_error, py_int, str2sec};
use crate::stream::{Value, py_str_repr};

fn list_of(v: &[String]) -> Value {
    Value::List(v.iter().map(|s| Value::Str(s.clone())).collect())
}

/// Regexes as fail2ban reports them: with `<HOST>` and the other tags expanded (a value
/// that does not expand, which `add…regex` refuses anyway, is shown as given).
fn expanded_list(v: &[String], usedns: UseDns) -> Value {
    Value::List(
        v.iter()
            .map(|s| {
                Value::Str(
                    template::expand(s, usedns.host_with_dns()).unwrap_or_else(|_| s.clone()),
                )
            })
            .collect(),
    )
}

/// The prefregex as fail2ban reports it: tags expanded, `''` when unset.
fn expanded_pref(v: Option<&str>, usedns: UseDns) -> Value {
    let v = v.unwrap_or_default();
    Value::Str(template::expand(v, usedns.host_with_dns()).unwrap_or_else(|_| v.to_string()))
}

/// `get J datepattern`: fail2ban's `(pattern, name)` of the date detector — the first
/// template when there are at most two, else `(None, 'Default Detectors')`.
fn date_pattern_value(datepattern: Option<&str>) -> Value {
    let det = match datepattern {
        Some(p) => DateDetector::from_datepattern(p),
        None => DateDetector::new_default(),
    };
    match det {
        Ok(d) => detector_value(&d),
        Err(_) => Value::Tuple(vec![Value::None, Value::Str("Default Detectors".into())]),
    }
}

fn detector_value(det: &DateDetector) -> Value {
    let (pattern, name) = det.describe();
    Value::Tuple(vec![
        pattern.map_or(Value::None, Value::Str),
        Value::Str(name),
    ])
}

fn truthy(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "y"
    )
}

/// Values of a `set` (one argument) or `multi-set` (a list) as strings.
fn values(v: Option<&Value>, multiple: bool) -> Result<Vec<String>, ExcReply> {
    match (v, multiple) {
        (Some(Value::List(items)), true) | (Some(Value::Tuple(items)), true) => {
            Ok(items.iter().map(Value::to_py_str).collect())
        }
        (Some(x), _) => Ok(vec![x.to_py_str()]),
        (None, _) => Err(index_error()),
    }
}

/// `set J key args…` / `multi-set J key [values]` (cmd without the leading `set`).
/// The jail options `set` knows (besides `bantime.*`).
const SET_KEYS: &[&str] = &[
    "idle",
    "ignoreself",
    "addignoreip",
    "delignoreip",
    "ignorecommand",
    "ignorecache",
    "addlogpath",
    "dellogpath",
    "logencoding",
    "addjournalmatch",
    "deljournalmatch",
    "prefregex",
    "addfailregex",
    "delfailregex",
    "addignoreregex",
    "delignoreregex",
    "usedns",
    "findtime",
    "datepattern",
    "logtimezone",
    "maxmatches",
    "maxretry",
    "maxlines",
    "bantime",
    "attempt",
    "banip",
    "unbanip",
    "addaction",
    "delaction",
    "action",
];

pub fn set(srv: &Server, st: &mut State, cmd: &[Value], multiple: bool) -> Result<Value, ExcReply> {
    let quiet = srv.quiet.load(Ordering::Relaxed);
    let name = arg(cmd, 0)?;
    let key = arg(cmd, 1)?;
    if key == "banip" {
        return Server::ban_ips(st, &name, &cmd[2..]);
    }
    // fail2ban looks the jail up only for the keys it knows.
    if !SET_KEYS.contains(&key.as_str()) && !key.starts_with("bantime.") {
        return Err(exc(format!(
            "Invalid command {} (no set action or not yet implemented)",
            py_str_repr(&key)
        )));
    }
    let jail = Server::find(st, &name)?;
    let reply = |v: Value| -> Result<Value, ExcReply> { Ok(if quiet { Value::None } else { v }) };
    let mut f = lock(&jail.filter);
    match key.as_str() {
        "idle" => {
            let v = arg(cmd, 2)?;
            let on = match v.as_str() {
                "on" => true,
                "off" => false,
                _ => return Err(exc("Invalid idle option, must be 'on' or 'off'")),
            };
            f.idle = on;
            lock(&jail.acts).idle = on;
            reply(Value::Bool(on))
        }
        "ignoreself" => {
            f.ignore.ignore_self = truthy(&arg(cmd, 2)?);
            reply(Value::Bool(f.ignore.ignore_self))
        }
        "addignoreip" => {
            // No value at all adds nothing (fail2ban loops over the remaining words).
            let mut vals = match cmd.get(2) {
                None => Vec::new(),
                v => values(v, multiple)?,
            };
            vals.extend(cmd.iter().skip(3).map(Value::to_py_str));
            for v in vals {
                match f.ignore.add(&v) {
                    Ok(crate::server::ignore::AddIgnore::Duplicate) => {
                        if let Ok(ip) = IpAddr::parse(&v) {
                            crate::flog!(
                                MSG,
                                "filter",
                                "{}",
                                crate::server::ignore::duplicate_text(&ip, &v)
                            );
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return Err(ExcReply::new("builtins", "ValueError", e)),
                }
            }
            reply(list_of(&f.ignore.entries()))
        }
        "delignoreip" => {
            let v = arg(cmd, 2)?;
            f.ignore
                .remove(&v)
                .map_err(|e| ExcReply::new("builtins", "ValueError", e))?;
            reply(list_of(&f.ignore.entries()))
        }
        "ignorecommand" => {
            f.ignore.set_command(&arg(cmd, 2)?);
            reply(f.ignore.command_value())
        }
        "ignorecache" => {
            f.ignore
                .set_cache(&arg(cmd, 2)?)
                .map_err(|e| ExcReply::new("builtins", "ValueError", e))?;
            reply(f.ignore.cache_value())
        }
        "addlogpath" => {
            let path = arg(cmd, 2)?;
            let tail = match cmd.get(3).map(Value::to_py_str).as_deref() {
                None | Some("head") => false,
                Some("tail") => true,
                Some(_) => {
                    return Err(ExcReply::new(
                        "builtins",
                        "ValueError",
                        "File option must be 'head' or 'tail'",
                    ));
                }
            };
            if cmd.len() > 4 {
                return Err(ExcReply::new(
                    "builtins",
                    "ValueError",
                    "Only one file can be added at a time",
                ));
            }
            drop(f);
            // fail2ban opens the file: a missing one is an OSError with its errno.
            if let Err(e) = std::fs::metadata(&path) {
                return Err(ExcReply::os_error(&e, &path));
            }
            jail.add_log_path(&path, tail)
                .map_err(|e| ExcReply::new("builtins", "FileNotFoundError", e))?;
            reply(log_paths(jail))
        }
        "dellogpath" => {
            drop(f);
            jail.del_log_path(&arg(cmd, 2)?);
            reply(log_paths(jail))
        }
        "logencoding" => {
            let mut e = arg(cmd, 2)?;
            if e.eq_ignore_ascii_case("auto") {
                e = "UTF-8".into();
            }
            if !known_encoding(&e) {
                return Err(ExcReply::new(
                    "builtins",
                    "LookupError",
                    format!("unknown encoding: {e}"),
                ));
            }
            crate::flog!(INFO, "filter", "  encoding: {e}");
            f.logencoding = e.clone();
            reply(Value::Str(e))
        }
        "addjournalmatch" | "deljournalmatch" if jail.journal.is_some() => {
            let args: Vec<String> = cmd.iter().skip(2).map(Value::to_py_str).collect();
            journal_match(&jail.name, &mut f, key == "addjournalmatch", &args)?;
            reply(journal_match_value(&f.journalmatch))
        }
        "addjournalmatch" | "deljournalmatch" => reply(Value::List(vec![])),
        "prefregex" => {
            let v = arg(cmd, 2)?;
            let new = if v.trim().is_empty() {
                None
            } else {
                // Compiled alone first: its error names the pattern, not "prefregex".
                if let Err(e) = PrefRegex::new(&v, f.spec.usedns) {
                    return Err(ExcReply::new(
                        "fail2ban.server.failregex",
                        "RegexException",
                        e.to_string(),
                    ));
                }
                Some(v.clone())
            };
            // Only the new regex is checked here (above); the whole matcher (date
            // templates and all) is built once, when the jail starts.
            f.spec.prefregex = new;
            f.invalidate();
            reply(expanded_pref(f.spec.prefregex.as_deref(), f.spec.usedns))
        }
        "addfailregex" | "addignoreregex" => {
            let vals = values(cmd.get(2), multiple)?;
            // fail2ban compiles each regex before adding it: a bad one is not kept and its
            // message names only the pattern (no list index). A failregex also needs an
            // id group, its own or the prefregex's.
            let pref = match (key.as_str(), &f.spec.prefregex) {
                ("addfailregex", Some(p)) => PrefRegex::new(p, f.spec.usedns).ok(),
                _ => None,
            };
            let multiline = f.spec.maxlines > 1;
            for v in &vals {
                let checked = if key == "addfailregex" {
                    FailRegex::new(v, pref.as_ref(), multiline, f.spec.usedns).map(drop)
                } else {
                    CompiledRegex::new(v, f.spec.usedns, false).map(drop)
                };
                if let Err(e) = checked {
                    return Err(ExcReply::new(
                        "fail2ban.server.failregex",
                        "RegexException",
                        e.to_string(),
                    ));
                }
            }
            let list = if key == "addfailregex" {
                &mut f.spec.failregex
            } else {
                &mut f.spec.ignoreregex
            };
            list.extend(vals);
            f.invalidate();
            if multiple {
                return Ok(Value::Bool(true));
            }
            let list = if key == "addfailregex" {
                &f.spec.failregex
            } else {
                &f.spec.ignoreregex
            };
            reply(expanded_list(list, f.spec.usedns))
        }
        "delfailregex" | "delignoreregex" => {
            let i = py_int(&arg(cmd, 2)?)?;
            let list = if key == "delfailregex" {
                &mut f.spec.failregex
            } else {
                &mut f.spec.ignoreregex
            };
            match usize::try_from(i).ok().filter(|i| *i < list.len()) {
                Some(i) => {
                    list.remove(i);
                }
                None => crate::flog!(
                    ERROR,
                    "filter",
                    "Cannot remove regular expression. Index {i} is not valid"
                ),
            }
            f.invalidate();
            let list = if key == "delfailregex" {
                &f.spec.failregex
            } else {
                &f.spec.ignoreregex
            };
            reply(expanded_list(list, f.spec.usedns))
        }
        "usedns" => {
            let v = arg(cmd, 2)?;
            f.spec.usedns = UseDns::parse(&v).unwrap_or(UseDns::No);
            f.invalidate();
            reply(Value::Str(f.spec.usedns.as_str().to_string()))
        }
        "findtime" => {
            let v = str2sec(&arg(cmd, 2)?)?;
            f.fm.findtime = v as f64;
            crate::flog!(INFO, "filter", "  findtime: {v}");
            reply(Value::Int(v))
        }
        "datepattern" => {
            let v = arg(cmd, 2)?;
            // Only the pattern is checked here; the matcher is built when the jail
            // starts. A pattern that fails is not kept.
            DateDetector::from_datepattern(&v).map_err(|e| exc(SpecError::Date(e).to_string()))?;
            f.spec.datepattern = Some(v);
            f.invalidate();
            reply(date_pattern_value(f.spec.datepattern.as_deref()))
        }
        "logtimezone" => {
            let v = arg(cmd, 2)?;
            let old = f.spec.logtimezone.replace(v.clone());
            f.invalidate();
            if let Err(e) = f.compile() {
                f.spec.logtimezone = old;
                f.invalidate();
                return Err(exc(e));
            }
            reply(Value::Str(v))
        }
        "maxmatches" => {
            let v = py_int(&arg(cmd, 2)?)?;
            f.fm.maxmatches = usize::try_from(v).unwrap_or(0);
            reply(Value::Int(v))
        }
        "maxretry" => {
            let v = py_int(&arg(cmd, 2)?)?;
            f.fm.maxretry = u32::try_from(v).unwrap_or(0);
            crate::flog!(INFO, "filter", "  maxRetry: {v}");
            reply(Value::Int(v))
        }
        "maxlines" => {
            let v = py_int(&arg(cmd, 2)?)?;
            if v <= 0 {
                return Err(ExcReply::new(
                    "builtins",
                    "ValueError",
                    "maxlines must be integer greater than zero",
                ));
            }
            f.spec.maxlines = usize::try_from(v).unwrap_or(1);
            f.invalidate();
            crate::flog!(INFO, "filter", "  maxLines: {}", f.spec.maxlines);
            reply(Value::Int(f.spec.maxlines as i64))
        }
        "bantime" => {
            let v = str2sec(&arg(cmd, 2)?)?;
            let mut core = lock(&jail.acts);
            core.bm.set_bantime(v);
            core.actions.set_bantime(v);
            crate::flog!(INFO, "actions", "  banTime: {v}");
            reply(Value::Int(v))
        }
        "attempt" => {
            let ip = arg(cmd, 2).map_err(|_| {
                ExcReply::new(
                    "builtins",
                    "TypeError",
                    "Filter.addAttempt() missing 1 required positional argument: 'ip'",
                )
            })?;
            let lines = cmd[3..].iter().map(Value::to_py_str).collect();
            drop(f);
            let n = jail.attempt(&ip, lines).map_err(exc)?;
            reply(Value::Int(n))
        }
        "unbanip" => {
            drop(f);
            // fail2ban reads the first argument unconditionally: none is an IndexError.
            let (report, ips) = match cmd.get(2).map(Value::to_py_str).as_deref() {
                None => return Err(index_error()),
                Some("--report-absent") => (true, &cmd[3..]),
                Some(_) => (false, &cmd[2..]),
            };
            let mut core = lock(&jail.acts);
            let mut n = 0;
            let mut absent = Vec::new();
            for ip in ips {
                let text = ip.to_py_str();
                let fid = IpAddr::parse(&text)
                    .map(|a| a.ntoa())
                    .unwrap_or(text.clone());
                if core.unban_ip(&fid) {
                    n += 1;
                } else {
                    crate::flog!(MSG, "actions", "{fid} is not banned");
                    absent.push(Value::Str(fid.clone()));
                }
                if let Some(db) = jail.db() {
                    let _ = db.del_ban(&jail.name, &[&fid]);
                }
            }
            if report && !absent.is_empty() {
                return Err(ExcReply::new(
                    "builtins",
                    "ValueError",
                    format!("not banned: {}", Value::List(absent)),
                ));
            }
            Ok(Value::Int(n))
        }
        "addaction" => {
            drop(f);
            let a = arg(cmd, 2)?;
            lock(&jail.acts)
                .actions
                .add(CommandAction::new(&jail.name, &a))
                .map_err(|e| ExcReply::new("builtins", "ValueError", e))?;
            reply(Value::Str(a))
        }
        "delaction" => {
            drop(f);
            let a = arg(cmd, 2)?;
            let mut core = lock(&jail.acts);
            if core.actions.get(&a).is_none() {
                return Err(ExcReply::new(
                    "builtins",
                    "KeyError",
                    format!("Invalid Action name: {a}"),
                ));
            }
            core.actions.remove(&a);
            Ok(Value::None)
        }
        "action" => {
            drop(f);
            let a = arg(cmd, 2)?;
            let mut core = lock(&jail.acts);
            let act = core.actions.get_mut(&a).ok_or_else(|| {
                ExcReply::new("builtins", "KeyError", format!("Invalid Action name: {a}"))
            })?;
            if multiple {
                if let Some(Value::List(pairs)) = cmd.get(3) {
                    for p in pairs {
                        if let Value::List(kv) | Value::Tuple(kv) = p
                            && kv.len() == 2
                        {
                            act.set_property(&kv[0].to_py_str(), &kv[1].to_py_str());
                        }
                    }
                }
                return Ok(Value::Bool(true));
            }
            let k = arg(cmd, 3)?;
            let v = arg(cmd, 4)?;
            act.set_property(&k, &v);
            // The stored value: `timeout 10m` reads back as 600.
            let stored = act.value(&k).cloned().unwrap_or(Value::Str(v));
            reply(stored)
        }
        k if k.starts_with("bantime.") => {
            let v = arg(cmd, 2)?;
            let opt = &k["bantime.".len()..];
            f.incr
                .set(opt, &v)
                .map_err(|e| ExcReply::new("builtins", "ValueError", e))?;
            drop(f);
            let mut core = lock(&jail.acts);
            let _ = core.incr.set(opt, &v);
            crate::flog!(INFO, "jail", "Set banTime.{opt} = {v}");
            reply(core.incr.get(opt))
        }
        other => Err(exc(format!(
            "Invalid command {} (no set action or not yet implemented)",
            crate::stream::py_str_repr(other)
        ))),
    }
}

/// Whether Python's codec registry knows `name` (the common codecs and their aliases;
/// fail2ban refuses a name it cannot look up). ASCII classes only: Unicode `\d`/`\w`
/// made this one check ~100 KB of automaton, kept for the daemon's lifetime.
fn known_encoding(name: &str) -> bool {
    static RE: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"^(?:utf_?(?:8|16|32)(?:_?(?:le|be|sig))?|u8|utf|ascii|us_?ascii|646|latin_?[1-9]|l[1-9]|iso_?8859_?[0-9]{1,2}|iso_?ir_?[0-9]+|cp_?[0-9]{3,5}|windows_?[0-9]{3,4}|koi8_?[rut]|mac_?[a-z]+|big5(?:hkscs)?|gb2312|gbk|gb18030|hz|euc_?(?:jp|kr|jis_?2004|jisx0213)|shift_?jis(?:_?2004|x0213)?|sjis|iso_?2022_?(?:jp(?:_?(?:1|2|2004|3|ext))?|kr)|johab|ptcp154|tis_?620|unicode_escape|raw_unicode_escape|idna|punycode|palmos|hp_roman8|charmap)$",
        )
        .ok()
    });
    let n = name
        .trim()
        .to_ascii_lowercase()
        .replace(['-', ' ', '.'], "_");
    RE.as_ref().is_some_and(|re| re.is_match(&n))
}

fn log_paths(jail: &Jail) -> Value {
    let f = lock(&jail.filter);
    Value::List(
        f.logpaths
            .iter()
            .map(|l| Value::Str(l.path.to_string_lossy().into_owned()))
            .collect(),
    )
}

/// `get J key …` (cmd without the leading `get`).
pub fn get(st: &State, cmd: &[Value]) -> Result<Value, ExcReply> {
    let name = arg(cmd, 0)?;
    let key = arg(cmd, 1)?;
    let jail = Server::find(st, &name)?;
    if key == "logpath" {
        return Ok(log_paths(jail));
    }
    let f = lock(&jail.filter);
    let core = lock(&jail.acts);
    Ok(match key.as_str() {
        "banned" => {
            let banned: Vec<String> = core.bm.ban_list();
            match &cmd[2..] {
                [] => list_of(&banned),
                [one] => Value::Int(i64::from(banned.contains(&one.to_py_str()))),
                many => Value::List(
                    many.iter()
                        .map(|v| Value::Int(i64::from(banned.contains(&v.to_py_str()))))
                        .collect(),
                ),
            }
        }
        "banip" => {
            let with_time = cmd.get(2).map(Value::to_py_str).as_deref() == Some("--with-time");
            if with_time {
                list_of(&core.bm.ban_list_with_time())
            } else {
                let ids = core.bm.ban_list_ordered();
                match cmd.get(2) {
                    Some(sep) => Value::Str(ids.join(&sep.to_py_str())),
                    None => list_of(&ids),
                }
            }
        }
        "logencoding" => Value::Str(f.logencoding.clone()),
        "journalmatch" => journal_match_value(&f.journalmatch),
        "ignoreself" => Value::Bool(f.ignore.ignore_self),
        "ignoreip" => list_of(&f.ignore.entries()),
        "ignorecommand" => f.ignore.command_value(),
        "ignorecache" => f.ignore.cache_value(),
        "prefregex" => expanded_pref(f.spec.prefregex.as_deref(), f.spec.usedns),
        "failregex" => expanded_list(&f.spec.failregex, f.spec.usedns),
        "ignoreregex" => expanded_list(&f.spec.ignoreregex, f.spec.usedns),
        "usedns" => Value::Str(f.spec.usedns.as_str().to_string()),
        "findtime" => Value::Int(f.fm.findtime as i64),
        "datepattern" => date_pattern_value(f.spec.datepattern.as_deref()),
        "logtimezone" => f.spec.logtimezone.clone().map_or(Value::None, Value::Str),
        "maxmatches" => Value::Int(f.fm.maxmatches as i64),
        "maxretry" => Value::Int(i64::from(f.fm.maxretry)),
        "maxlines" => Value::Int(f.spec.maxlines as i64),
        "bantime" => Value::Int(core.bm.bantime()),
        "actions" => list_of(&core.actions.names()),
        "action" => {
            let a = arg(cmd, 2)?;
            let p = arg(cmd, 3)?;
            let act = core.actions.get(&a).ok_or_else(|| {
                ExcReply::new("builtins", "KeyError", format!("Invalid Action name: {a}"))
            })?;
            match act.value(&p) {
                Some(v) => v.clone(),
                None => {
                    return Err(ExcReply::new(
                        "builtins",
                        "AttributeError",
                        format!(
                            "'CommandAction' object has no attribute {}",
                            py_str_repr(&p)
                        ),
                    ));
                }
            }
        }
        "actionmethods" => {
            let a = arg(cmd, 2)?;
            if core.actions.get(&a).is_none() {
                return Err(ExcReply::new(
                    "builtins",
                    "KeyError",
                    format!("Invalid Action name: {a}"),
                ));
            }
            list_of(&CommandAction::method_names())
        }
        "actionproperties" => {
            let a = arg(cmd, 2)?;
            let act = core.actions.get(&a).ok_or_else(|| {
                ExcReply::new("builtins", "KeyError", format!("Invalid Action name: {a}"))
            })?;
            list_of(&act.property_names())
        }
        k if k.starts_with("bantime.") => core.incr.get(&k["bantime.".len()..]),
        _ => {
            return Err(exc(
                "Invalid command (no get action or not yet implemented)",
            ));
        }
    })
}

/// `status J [flavor]`.
pub fn status(jail: &Jail, flavor: &str) -> Value {
    let f = lock(&jail.filter);
    let core = lock(&jail.acts);
    let t = |k: &str, v: Value| Value::Tuple(vec![k.into(), v]);
    let files = Value::List(
        f.logpaths
            .iter()
            .map(|l| Value::Str(l.path.to_string_lossy().into_owned()))
            .collect(),
    );
    let filter = Value::List(vec![
        t("Currently failed", Value::Int(f.fm.size() as i64)),
        t("Total failed", Value::Int(f.fm.total_failed() as i64)),
        if jail.journal.is_some() {
            let groups: Vec<String> = f.journalmatch.iter().map(|g| g.join(" ")).collect();
            t("Journal matches", list_of(&[groups.join(" + ")]))
        } else {
            t("File list", files)
        },
    ]);
    let mut acts = vec![
        t("Currently banned", Value::Int(core.bm.size() as i64)),
        t("Total banned", Value::Int(core.bm.total_banned() as i64)),
    ];
    if flavor != "short" {
        let ids: Vec<String> = core.bm.ban_list();
        acts.push(t("Banned IP list", list_of(&ids)));
    }
    if flavor == "cymru" {
        // fail2ban asks Team Cymru's DNS through dnspython; without that package every
        // list is `['error']`. gaol has no DNS client, so it answers as fail2ban does then.
        crate::flog!(
            ERROR,
            "banmanager",
            "dnspython package is required but could not be imported"
        );
        let err = || Value::List(vec![Value::str("error")]);
        acts.push(t("Banned ASN list", err()));
        acts.push(t("Banned Country list", err()));
        acts.push(t("Banned RIR list", err()));
    }
    Value::List(vec![t("Filter", filter), t("Actions", Value::List(acts))])
}

/// `banned [IP…]` over all jails.
pub fn banned_all(st: &State, ips: &[Value]) -> Result<Value, ExcReply> {
    if ips.is_empty() {
        return Ok(Value::List(
            st.jails
                .iter()
                .map(|j| {
                    let ids: Vec<String> = lock(&j.acts).bm.ban_list();
                    Value::Dict(vec![(Value::Str(j.name.clone()), list_of(&ids))])
                })
                .collect(),
        ));
    }
    Ok(Value::List(
        ips.iter()
            .map(|ip| {
                let ip = ip.to_py_str();
                let js: Vec<String> = st
                    .jails
                    .iter()
                    .filter(|j| lock(&j.acts).bm.contains(&ip))
                    .map(|j| j.name.clone())
                    .collect();
                list_of(&js)
            })
            .collect(),
    ))
}

fn journal_match_value(groups: &[Vec<String>]) -> Value {
    Value::List(groups.iter().map(|g| list_of(g)).collect())
}

/// `addjournalmatch A B + C` adds the groups; `deljournalmatch` without arguments removes
/// all, with arguments the equal group. The reader takes the matches when the jail starts.
fn journal_match(
    jail: &str,
    f: &mut crate::server::jail::FilterState,
    add: bool,
    args: &[String],
) -> Result<(), ExcReply> {
    let text = args.join(" ");
    if add {
        f.journalmatch
            .extend(crate::journal::follow::match_groups(args));
        crate::flog!(
            INFO,
            "filter",
            "[{jail}] Added journal match for: {}",
            crate::stream::py_str_repr(&text)
        );
        return Ok(());
    }
    if args.is_empty() {
        if f.journalmatch.is_empty() {
            return Ok(());
        }
        f.journalmatch.clear();
    } else if let Some(i) = f.journalmatch.iter().position(|g| g == args) {
        f.journalmatch.remove(i);
    } else {
        let items: Vec<String> = args.iter().map(|a| crate::stream::py_str_repr(a)).collect();
        return Err(ExcReply::new(
            "builtins",
            "ValueError",
            format!("Match [{}] not found", items.join(", ")),
        ));
    }
    let what = if args.is_empty() {
        "'*'".to_string()
    } else {
        format!(
            "[{}]",
            args.iter()
                .map(|a| crate::stream::py_str_repr(a))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    crate::flog!(INFO, "filter", "[{jail}] Removed journal match for: {what}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::known_encoding;

    #[test]
    fn encoding_names_python_knows_and_some_it_does_not() {
        for ok in [
            "UTF-8",
            "utf8",
            "utf_16_le",
            "latin-1",
            "ISO-8859-15",
            "iso8859_2",
            "cp1252",
            "windows-1251",
            "iso2022_jp_2",
            "iso-2022-jp-1",
            "iso2022_kr",
            "koi8-r",
            "US-ASCII",
            "shift_jis",
        ] {
            assert!(known_encoding(ok), "{ok}");
        }
        for bad in [
            "klingon",
            "utf-9",
            "iso-8859-",
            "cp12",
            "windows-12",
            "iso2022_",
            "iso2022_jp_4",
        ] {
            assert!(!known_encoding(bad), "{bad}");
        }
    }
}
