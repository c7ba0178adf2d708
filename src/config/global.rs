//! `fail2ban.conf` (+ `fail2ban.d`, `.local`): the early options the client needs
//! (socket, pidfile, log settings) and the global part of the command stream.

use super::files::{Config, ConfigError};
use super::ini::OrdMap;
use super::interp::GetError;
use super::reader::{Log, Py, Spec, Ty, get_options};
use crate::stream::{Command, Value};

const EARLY: &[Spec] = &[
    (Ty::Str, "socket", Py::Str(String::new())),
    (Ty::Str, "pidfile", Py::Str(String::new())),
    (Ty::Str, "loglevel", Py::Str(String::new())),
    (Ty::Str, "logtarget", Py::Str(String::new())),
    (Ty::Str, "syslogsocket", Py::Str(String::new())),
];

fn early_specs() -> Vec<Spec> {
    let d = [
        "/var/run/fail2ban/fail2ban.sock",
        "/var/run/fail2ban/fail2ban.pid",
        "INFO",
        "/var/log/fail2ban.log",
        "auto",
    ];
    EARLY
        .iter()
        .zip(d)
        .map(|((t, n, _), d)| (*t, *n, Py::Str(d.into())))
        .collect()
}

fn main_specs() -> Vec<Spec> {
    vec![
        (Ty::Str, "loglevel", Py::Str("INFO".into())),
        (Ty::Str, "logtarget", Py::Str("STDERR".into())),
        (Ty::Str, "syslogsocket", Py::Str("auto".into())),
        (Ty::Str, "allowipv6", Py::Str("auto".into())),
        (
            Ty::Str,
            "dbfile",
            Py::Str("/var/lib/fail2ban/fail2ban.sqlite3".into()),
        ),
        (Ty::Int, "dbmaxmatches", Py::None),
        (Ty::Str, "dbpurgeage", Py::Str("1d".into())),
    ]
}

fn fatal(e: GetError) -> ConfigError {
    match e {
        GetError::Interp(e) => e,
        GetError::NoSection(s) => {
            ConfigError::new(format!("No section: {}", crate::stream::py_str_repr(&s)))
        }
        GetError::NoOption(o, s) => ConfigError::new(format!("No option {o:?} in section {s:?}")),
    }
}

/// Early options: socket, pidfile, loglevel, logtarget, syslogsocket (with defaults).
pub fn early_options(
    cfg: Option<&Config>,
    names: &[String],
    log: &mut Log,
) -> Result<OrdMap<Py>, ConfigError> {
    let empty = Config::default();
    get_options(
        cfg.unwrap_or(&empty),
        names,
        log,
        "Definition",
        &early_specs(),
        &OrdMap::new(),
        false,
        true,
    )
    .map_err(fatal)
}

/// The global commands, `overrides` being the client's own settings (command line or
/// early options) that replace the file's `loglevel`/`logtarget`/`syslogsocket`.
pub fn global_stream(
    cfg: Option<&Config>,
    names: &[String],
    log: &mut Log,
    overrides: &OrdMap<Py>,
) -> Result<Vec<Command>, ConfigError> {
    let empty = Config::default();
    let cfg = cfg.unwrap_or(&empty);
    let mut opts = get_options(
        cfg,
        names,
        log,
        "Definition",
        &main_specs(),
        &OrdMap::new(),
        false,
        true,
    )
    .map_err(fatal)?;
    for (k, v) in overrides.iter() {
        opts.insert(k.clone(), v.clone());
    }
    if let Some(Py::Str(l)) = opts.get("loglevel") {
        check_loglevel(l)?;
    }
    let mut thread: Option<Value> = None;
    if cfg.has_section("Thread") {
        let t = get_options(
            cfg,
            names,
            log,
            "Thread",
            &[(Ty::Int, "stacksize", Py::None)],
            &OrdMap::new(),
            false,
            true,
        )
        .map_err(fatal)?;
        if !t.is_empty() {
            thread = Some(Value::Dict(
                t.iter()
                    .map(|(k, v)| (Value::from(k.as_str()), v.to_value()))
                    .collect(),
            ));
        }
    }
    let mut out = Vec::new();
    if let Some(t) = thread {
        out.push(Command::SetGlobal {
            key: "thread".into(),
            value: t,
        });
    }
    for key in [
        "syslogsocket",
        "loglevel",
        "logtarget",
        "allowipv6",
        "dbfile",
        "dbmaxmatches",
        "dbpurgeage",
    ] {
        if let Some(v) = opts.get(key) {
            out.push(Command::SetGlobal {
                key: key.into(),
                value: v.to_value(),
            });
        }
    }
    Ok(out)
}

/// fail2ban's `str2LogLevel`: digits or a known level name.
pub fn check_loglevel(l: &str) -> Result<(), ConfigError> {
    let known = [
        "CRITICAL",
        "FATAL",
        "ERROR",
        "WARN",
        "WARNING",
        "NOTICE",
        "INFO",
        "DEBUG",
        "TRACEDEBUG",
        "HEAVYDEBUG",
        "NOTSET",
        "MSG",
    ];
    if (!l.is_empty() && l.chars().all(|c| c.is_ascii_digit()))
        || known.contains(&l.to_uppercase().as_str())
    {
        Ok(())
    } else {
        Err(ConfigError::new(format!(
            "Invalid log level {}",
            crate::stream::py_str_repr(l)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_specs_have_distinct_names() {
        assert!(crate::config::reader::specs_distinct(&early_specs()));
        assert!(crate::config::reader::specs_distinct(&main_specs()));
    }
}
