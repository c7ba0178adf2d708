//! `set logtarget`: turns fail2ban's target text (`/path/file.log`, `STDOUT`, `STDERR`,
//! `SYSLOG[facility=…]`, `SYSTEMD-JOURNAL`) into a [`Target`] of the process logger, and
//! `flushlogs` (reopen a file target after rotation).

use crate::server::log::{self, Target};

/// Strips `[opts]` from a target and returns (name, options text).
fn split_opts(target: &str) -> (&str, &str) {
    match target.split_once('[') {
        Some((n, rest)) => (n.trim(), rest.trim_end_matches(']')),
        None => (target.trim(), ""),
    }
}

fn facility(opts: &str) -> u8 {
    let f = opts
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.trim() == "facility")
        .map(|(_, v)| v.trim().to_ascii_uppercase());
    match f.as_deref().map(|f| f.trim_start_matches("LOG_")) {
        Some("KERN") => 0,
        Some("USER") => 1,
        Some("MAIL") => 2,
        Some("AUTH") => 4,
        Some("SYSLOG") => 5,
        Some("AUTHPRIV") => 10,
        Some(l) if l.starts_with("LOCAL") => 16 + l[5..].parse::<u8>().unwrap_or(0).min(7),
        _ => 3,
    }
}

/// Applies `target`; `syslogsocket` is used for SYSLOG (`auto` = `/dev/log`).
pub fn apply(target: &str, syslogsocket: &str) -> Result<(), String> {
    let (name, opts) = split_opts(target);
    let new = match name.to_ascii_uppercase().as_str() {
        "STDOUT" | "SYSOUT" => Target::Stream(Box::new(std::io::stdout())),
        "STDERR" => Target::Stream(Box::new(std::io::stderr())),
        "SYSLOG" => {
            let path = if syslogsocket == "auto" {
                "/dev/log"
            } else {
                syslogsocket
            };
            let sock = std::os::unix::net::UnixDatagram::unbound()
                .and_then(|s| s.connect(path).map(|()| s))
                .map_err(|e| format!("Failed to change log target: syslog socket {path}: {e}"))?;
            Target::Syslog(sock, facility(opts))
        }
        "SYSTEMD-JOURNAL" => {
            crate::flog!(
                WARNING,
                "server",
                "Log target SYSTEMD-JOURNAL is not yet supported by gaol; keeping the current target"
            );
            return Ok(());
        }
        _ => {
            let path = std::path::PathBuf::from(name);
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("Unable to log to {name:?}: {e}"))?;
            Target::File(path, f)
        }
    };
    log::set_target(new);
    Ok(())
}

/// `flushlogs` (also SIGUSR1): reopen a file target (`rolled over`), else `flushed`.
pub fn flush(target: &str) -> &'static str {
    if log::reopen() {
        crate::flog!(INFO, "server", "rollover performed on {target}");
        "rolled over"
    } else {
        crate::flog!(INFO, "server", "flush performed on {target}");
        "flushed"
    }
}
