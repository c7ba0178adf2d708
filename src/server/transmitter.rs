//! The transmitter: [`Server::execute`] runs one command list (as the socket or a
//! `server-stream` delivers it) and gives fail2ban's reply or exception. Jail option
//! commands are in [`crate::server::jailcmd`].

use std::sync::atomic::Ordering;

use crate::control::pickle::ExcReply;
use crate::server::daemon::{Server, State, exc};
use crate::server::jail::{lock, now};
use crate::server::log::{self, LogLevel};
use crate::server::ticket::Ticket;
use crate::stream::Value;

/// `IndexError('list index out of range')` for a missing argument.
pub fn index_error() -> ExcReply {
    ExcReply::new("builtins", "IndexError", "list index out of range")
}

/// String argument `i` (Python `str()` of the value), or IndexError.
pub fn arg(cmd: &[Value], i: usize) -> Result<String, ExcReply> {
    cmd.get(i).map(Value::to_py_str).ok_or_else(index_error)
}

/// `int(value)` as Python does it for the command's text.
pub fn py_int(v: &str) -> Result<i64, ExcReply> {
    v.trim().parse::<i64>().map_err(|_| {
        ExcReply::new(
            "builtins",
            "ValueError",
            format!(
                "invalid literal for int() with base 10: {}",
                crate::stream::py_str_repr(v)
            ),
        )
    })
}

/// str2sec: fail2ban's time values (`10m`, `1h30m`, …) as whole seconds.
pub fn str2sec(v: &str) -> Result<i64, ExcReply> {
    crate::config::time::parse_time(v)
        .map(|f| f as i64)
        .map_err(|e| match bare_name(v) {
            Some(m) => ExcReply::new("builtins", "NameError", m),
            None => ExcReply::new("builtins", "ValueError", e),
        })
}

/// fail2ban evaluates a time value as a Python expression: a bare word is an unknown
/// name, and that is the message it reports (`name 'bogus' is not defined`).
pub fn bare_name(v: &str) -> Option<String> {
    let w = v.trim();
    let mut cs = w.chars();
    let first = cs.next()?;
    ((first.is_ascii_alphabetic() || first == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then(|| format!("name '{w}' is not defined"))
}

fn strs(v: &[Value]) -> Value {
    Value::List(v.to_vec())
}

impl Server {
    /// Executes one command; errors are logged like fail2ban's transmitter does.
    pub fn execute(&self, command: &[Value]) -> Result<Value, ExcReply> {
        let r = self.handle_cmd(command);
        if let Err(e) = &r {
            crate::flog!(
                ERROR,
                "transmitter",
                "Command {} has failed. Received {}",
                strs(command),
                e
            );
        }
        r
    }

    fn handle_cmd(&self, cmd: &[Value]) -> Result<Value, ExcReply> {
        let name = arg(cmd, 0)?;
        match name.as_str() {
            "ping" => Ok("pong".into()),
            "version" => Ok(crate::config::FAIL2BAN_VERSION.into()),
            "echo" => Ok(Value::List(cmd[1..].to_vec())),
            "sleep" => {
                let secs = arg(cmd, 1)?.parse::<f64>().unwrap_or(0.0);
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.clamp(0.0, 3600.0)));
                Ok(Value::None)
            }
            "server-status" => Ok("Server ready".into()),
            "config-error" => {
                crate::flog!(ERROR, "transmitter", "{}", arg(cmd, 1)?);
                Ok(Value::None)
            }
            "server-stream" => {
                let Some(Value::List(cmds)) = cmd.get(1) else {
                    return Err(index_error());
                };
                self.quiet.store(true, Ordering::Relaxed);
                let mut res = Ok(Value::None);
                for c in cmds {
                    let items = match c {
                        Value::List(v) | Value::Tuple(v) => v.clone(),
                        other => vec![other.clone()],
                    };
                    // The first failing command aborts the rest of the stream.
                    if let Err(e) = self.handle_cmd(&items) {
                        res = Err(e);
                        break;
                    }
                }
                self.quiet.store(false, Ordering::Relaxed);
                // The jails are up: give back what reading and compiling left behind
                // (the restore read the database: its pages need not stay cached).
                if let Some(db) = lock(&self.state).db.clone() {
                    db.release_memory();
                }
                crate::server::memtrim::after_start();
                res
            }
            "add" => {
                let jail = arg(cmd, 1)?;
                if jail == "--all" {
                    return Err(exc(format!(
                        "Reserved name {}",
                        crate::stream::py_str_repr(&jail)
                    )));
                }
                let backend = cmd.get(2).map_or("auto".to_string(), Value::to_py_str);
                let mut st = lock(&self.state);
                Server::add_jail(&mut st, &jail, &backend)?;
                Ok(Value::Str(jail))
            }
            "start" => {
                let jail = arg(cmd, 1)?;
                let mut st = lock(&self.state);
                let j = Server::find_mut(&mut st, &jail)?;
                if !j.is_running() {
                    j.start().map_err(exc)?;
                } else if st.reloading.remove(&jail).is_some() {
                    crate::flog!(INFO, "server", "Jail '{jail}' reloaded");
                }
                let j = Server::find(&st, &jail)?;
                lock(&j.filter).idle = false;
                lock(&j.acts).idle = false;
                Ok(Value::None)
            }
            "stop" => {
                if cmd.len() == 1 {
                    self.request_quit();
                    return Ok(Value::None);
                }
                let jail = arg(cmd, 1)?;
                let mut st = lock(&self.state);
                if jail == "--all" {
                    for j in &st.jails {
                        j.signal_stop();
                    }
                    for j in st.jails.iter_mut() {
                        j.join();
                    }
                    st.jails.clear();
                } else {
                    Server::find(&st, &jail)?;
                    if let Some(i) = st.jails.iter().position(|j| j.name == jail) {
                        let mut j = st.jails.remove(i);
                        j.join();
                    }
                }
                Ok(Value::None)
            }
            "status" => {
                let st = lock(&self.state);
                match cmd.get(1) {
                    None => {
                        let mut names: Vec<String> =
                            st.jails.iter().map(|j| j.name.clone()).collect();
                        names.sort();
                        Ok(Value::List(vec![
                            Value::Tuple(vec![
                                "Number of jail".into(),
                                Value::Int(names.len() as i64),
                            ]),
                            Value::Tuple(vec!["Jail list".into(), names.join(", ").into()]),
                        ]))
                    }
                    Some(j) => {
                        let flavor = cmd
                            .get(2)
                            .map(Value::to_py_str)
                            .unwrap_or_else(|| "basic".into());
                        let jail = Server::find(&st, &j.to_py_str())?;
                        Ok(crate::server::jailcmd::status(jail, &flavor))
                    }
                }
            }
            "banned" => {
                let st = lock(&self.state);
                crate::server::jailcmd::banned_all(&st, &cmd[1..])
            }
            // fail2ban knows `unban` only with at least one argument.
            "unban" if cmd.len() >= 2 => {
                let st = lock(&self.state);
                let mut n = 0i64;
                if cmd.get(1).and_then(Value::as_str) == Some("--all") {
                    for j in &st.jails {
                        let mut core = lock(&j.acts);
                        n += core.flush_all(false) as i64;
                        if let Some(db) = j.db() {
                            let _ = db.del_ban(&j.name, &[]);
                        }
                    }
                } else {
                    for ip in &cmd[1..] {
                        let ip = ip.to_py_str();
                        for j in &st.jails {
                            if lock(&j.acts).unban_ip(&ip) {
                                n += 1;
                            }
                            if let Some(db) = j.db() {
                                let _ = db.del_ban(&j.name, &[&ip]);
                            }
                        }
                    }
                }
                Ok(Value::Int(n))
            }
            "reload" => self.reload(cmd),
            "flushlogs" => {
                let target = lock(&self.state).logtarget.clone();
                Ok(crate::server::logtarget::flush(&target).into())
            }
            "set" => {
                let key = arg(cmd, 1)?;
                let mut st = lock(&self.state);
                if !is_global(&key) || st.jails.iter().any(|j| j.name == key) {
                    return crate::server::jailcmd::set(self, &mut st, &cmd[1..], false);
                }
                self.set_global(&mut st, &key, &cmd[2..])
            }
            "multi-set" => {
                let mut st = lock(&self.state);
                crate::server::jailcmd::set(self, &mut st, &cmd[1..], true)
            }
            "get" => {
                let key = arg(cmd, 1)?;
                let st = lock(&self.state);
                if is_global(&key) && !st.jails.iter().any(|j| j.name == key) {
                    return get_global(&st, &key);
                }
                crate::server::jailcmd::get(&st, &cmd[1..])
            }
            _ => Err(exc("Invalid command")),
        }
    }

    /// `reload J|--all [opts] [stream]` in place (compat-spec 4.2): the affected jails go
    /// idle with their regex/ignore lists emptied, the stream sets them again (`add` with
    /// the same backend keeps the jail, its bans, logs and actions; `start` un-idles it),
    /// and what the stream did not re-add — jails, logs, actions — is removed at the end.
    /// `--unban` first unbans the jails' tickets, `--restart` stops them first.
    fn reload(&self, cmd: &[Value]) -> Result<Value, ExcReply> {
        let target = arg(cmd, 1)?;
        let opts: Vec<String> = match cmd.get(2) {
            Some(Value::List(v)) | Some(Value::Tuple(v)) => {
                v.iter().map(Value::to_py_str).collect()
            }
            _ => Vec::new(),
        };
        let stream = match cmd.get(3) {
            Some(Value::List(v)) | Some(Value::Tuple(v)) => v.clone(),
            _ => Vec::new(),
        };
        let has = |o: &str| opts.iter().any(|x| x == o);
        let all = target == "--all";
        {
            let mut st = lock(&self.state);
            if !st.reloading.is_empty() && (all || st.reloading.contains_key(&target)) {
                return Err(ExcReply::new(
                    "fail2ban.server.server",
                    "ServerInitializationError",
                    "Reload already in progress",
                ));
            }
            if all {
                crate::flog!(INFO, "server", "Reload all jails");
            } else {
                crate::flog!(INFO, "server", "Reload jail {target}");
            }
            let exists = st.jails.iter().any(|j| j.name == target);
            if !all && (exists || !has("--if-exists")) {
                Server::find(&st, &target)?;
            }
            let names: Vec<String> = st
                .jails
                .iter()
                .filter(|j| all || j.name == target)
                .map(|j| j.name.clone())
                .collect();
            if has("--unban") {
                for j in st.jails.iter().filter(|j| names.contains(&j.name)) {
                    lock(&j.acts).flush_all(false);
                    if let Some(db) = j.db() {
                        let _ = db.del_ban(&j.name, &[]);
                    }
                }
            }
            if has("--restart") {
                for name in &names {
                    if let Some(i) = st.jails.iter().position(|j| &j.name == name) {
                        let mut j = st.jails.remove(i);
                        j.join();
                    }
                }
            }
            for j in st.jails.iter().filter(|j| names.contains(&j.name)) {
                let mut f = lock(&j.filter);
                f.idle = true;
                f.begin_reload();
                drop(f);
                let mut core = lock(&j.acts);
                core.idle = true;
                core.actions.begin_reload();
            }
            let kept: Vec<String> = st
                .jails
                .iter()
                .filter(|j| names.contains(&j.name))
                .map(|j| j.name.clone())
                .collect();
            for name in kept {
                st.reloading.insert(name, true);
            }
        }
        self.quiet.store(true, Ordering::Relaxed);
        let mut res = Ok(Value::from("OK"));
        for c in &stream {
            let items = match c {
                Value::List(v) | Value::Tuple(v) => v.clone(),
                other => vec![other.clone()],
            };
            if let Err(e) = self.handle_cmd(&items) {
                res = Err(e);
                break;
            }
        }
        self.quiet.store(false, Ordering::Relaxed);
        let mut st = lock(&self.state);
        let gone: Vec<String> = st.reloading.drain().map(|(n, _)| n).collect();
        for j in st.jails.iter().filter(|j| !gone.contains(&j.name)) {
            j.end_reload();
        }
        for name in gone {
            if let Some(i) = st.jails.iter().position(|j| j.name == name) {
                let mut j = st.jails.remove(i);
                j.join();
            }
        }
        drop(st);
        crate::flog!(INFO, "server", "Reload finished.");
        res
    }

    fn set_global(&self, st: &mut State, key: &str, args: &[Value]) -> Result<Value, ExcReply> {
        let quiet = self.quiet.load(Ordering::Relaxed);
        let value = arg(args, 0)?;
        let reply = |v: Value| Ok(if quiet { Value::None } else { v });
        match key {
            "loglevel" => {
                let lv = LogLevel::parse(&value).map_err(|_| {
                    ExcReply::new(
                        "builtins",
                        "ValueError",
                        format!(
                            "Invalid log level {}",
                            crate::stream::py_str_repr(&value.to_uppercase())
                        ),
                    )
                })?;
                log::set_level(lv);
                st.loglevel = value.to_uppercase();
                reply(Value::Str(st.loglevel.clone()))
            }
            "logtarget" => {
                Server::set_logtarget(st, &value)?;
                reply(Value::Str(st.logtarget.clone()))
            }
            "syslogsocket" => {
                st.syslogsocket = value.clone();
                if st.logtarget.to_uppercase().starts_with("SYSLOG") {
                    let t = st.logtarget.clone();
                    Server::set_logtarget(st, &t)?;
                }
                reply(Value::Str(value))
            }
            "allowipv6" => {
                st.allowipv6 = value.clone();
                reply(Value::Str(value))
            }
            // fail2ban takes the options as a dict (from a stream); a word has no `.items()`.
            "thread" => match args.first() {
                Some(Value::Dict(_)) => Ok(Value::None),
                Some(v) => Err(ExcReply::new(
                    "builtins",
                    "AttributeError",
                    format!("'{}' object has no attribute 'items'", py_type(v)),
                )),
                None => Err(index_error()),
            },
            "dbfile" => {
                Server::set_dbfile(st, &value)?;
                reply(st.dbfile.clone().map_or(Value::None, Value::Str))
            }
            "dbmaxmatches" => {
                let n = py_int(&value)?;
                st.dbmaxmatches = n;
                let Some(db) = &st.db else {
                    return Ok(Value::None);
                };
                db.set_max_matches(usize::try_from(n).unwrap_or(0));
                reply(Value::Int(n))
            }
            "dbpurgeage" => {
                let n = str2sec(&value)?;
                st.dbpurgeage = n;
                let Some(db) = &st.db else {
                    return Ok(Value::None);
                };
                db.set_purge_age(n);
                reply(Value::Int(n))
            }
            _ => Err(exc(format!(
                "Invalid command {} (no set action or not yet implemented)",
                crate::stream::py_str_repr(key)
            ))),
        }
    }

    /// `set J banip IP…` — manual bans at "now"; reply = number newly banned.
    pub(crate) fn ban_ips(st: &State, jail: &str, ips: &[Value]) -> Result<Value, ExcReply> {
        let j = Server::find(st, jail)?;
        let mut n = 0;
        let t = now();
        let mut core = lock(&j.acts);
        for ip in ips {
            let text = ip.to_py_str();
            let addr = crate::filter::addr::IpAddr::parse(&text).ok();
            let fid = addr.as_ref().map(|a| a.ntoa()).unwrap_or(text.clone());
            let mut tk = Ticket::new(fid, addr, t);
            tk.failures = 0;
            if core.ban_ticket(tk, t, j.db()) {
                n += 1;
            }
        }
        Ok(Value::Int(n))
    }
}

/// Python's type name of a command argument.
fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Str(_) => "str",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Bool(_) => "bool",
        Value::None => "NoneType",
        Value::List(_) => "list",
        Value::Tuple(_) => "tuple",
        Value::Dict(_) => "dict",
    }
}

fn is_global(key: &str) -> bool {
    matches!(
        key,
        "loglevel"
            | "logtarget"
            | "syslogsocket"
            | "allowipv6"
            | "thread"
            | "dbfile"
            | "dbmaxmatches"
            | "dbpurgeage"
    )
}

fn get_global(st: &State, key: &str) -> Result<Value, ExcReply> {
    Ok(match key {
        "loglevel" => Value::Str(st.loglevel.clone()),
        "logtarget" => Value::Str(st.logtarget.clone()),
        "syslogsocket" => Value::Str(st.syslogsocket.clone()),
        // The thread stack size Python reports by default.
        "thread" => Value::Dict(vec![(Value::str("stacksize"), Value::Int(0))]),
        "dbfile" => st.dbfile.clone().map_or(Value::None, Value::Str),
        "dbmaxmatches" => match &st.db {
            Some(db) => Value::Int(db.max_matches() as i64),
            None => Value::None,
        },
        "dbpurgeage" => match &st.db {
            Some(db) => Value::Int(db.purge_age()),
            None => Value::None,
        },
        // Not a global for `get`: fail2ban reads it as a jail name and the next word.
        "allowipv6" => return Err(index_error()),
        _ => {
            return Err(exc(
                "Invalid command (no get action or not yet implemented)",
            ));
        }
    })
}
