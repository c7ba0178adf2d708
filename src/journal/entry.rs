//! One journal entry as fail2ban sees it: [`Fields`] (the few fields the line is built
//! from, read by [`Fields::read`]) → [`Fields::line`] (`HOST IDENT[PID]: MESSAGE`, the
//! shape the shipped filters' `__prefix_line` expects) and [`Fields::time`] (the entry's
//! own timestamp: no date detection on journal lines).

use crate::journal::ffi::Journal;

/// The fields a line and its time come from (raw bytes, decoded on use).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    pub hostname: Option<Vec<u8>>,
    pub identifier: Option<Vec<u8>>,
    pub comm: Option<Vec<u8>>,
    pub syslog_pid: Option<Vec<u8>>,
    pub pid: Option<Vec<u8>>,
    pub message: Option<Vec<u8>>,
    /// `_SOURCE_REALTIME_TIMESTAMP` (µs, as text).
    pub source_realtime: Option<Vec<u8>>,
    /// The entry's `__REALTIME_TIMESTAMP` (µs).
    pub realtime: u64,
    /// `_SOURCE_MONOTONIC_TIMESTAMP` (µs, as text), for kernel lines.
    pub source_monotonic: Option<Vec<u8>>,
    pub monotonic: u64,
}

fn text(v: &[u8], latin1: bool) -> String {
    if latin1 {
        v.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8_lossy(v).into_owned()
    }
}

/// Python's `int(x)` on a field's text (journal PIDs are decimal).
fn int_of(v: &[u8]) -> Option<i64> {
    crate::config::reader::py_int(std::str::from_utf8(v).ok()?)
}

fn nonempty(v: &Option<Vec<u8>>) -> Option<&[u8]> {
    v.as_deref().filter(|v| !v.is_empty())
}

impl Fields {
    /// Reads the current entry of `j` (after a successful `next`).
    pub fn read(j: &mut Journal) -> Result<Fields, String> {
        Ok(Fields {
            hostname: j.get("_HOSTNAME"),
            identifier: j.get("SYSLOG_IDENTIFIER"),
            comm: j.get("_COMM"),
            syslog_pid: j.get("SYSLOG_PID"),
            pid: j.get("_PID"),
            message: j.get("MESSAGE"),
            source_realtime: j.get("_SOURCE_REALTIME_TIMESTAMP"),
            realtime: j.realtime_usec()?,
            source_monotonic: j.get("_SOURCE_MONOTONIC_TIMESTAMP"),
            monotonic: j.monotonic_usec().unwrap_or(0),
        })
    }

    /// The line: hostname, identifier (or `_COMM`) with `[pid]` (SYSLOG_PID or `_PID`)
    /// and a colon, kernel lines their monotonic seconds, then MESSAGE; newlines in it
    /// become a literal `\n` so one entry stays one line. `encoding` is `logencoding`.
    pub fn line(&self, encoding: &str) -> String {
        let latin1 = matches!(
            encoding.to_ascii_lowercase().replace('_', "-").as_str(),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1"
        );
        let mut parts: Vec<String> = Vec::new();
        if let Some(h) = nonempty(&self.hostname) {
            parts.push(text(h, latin1));
        }
        if let Some(ident) = nonempty(&self.identifier).or(nonempty(&self.comm)) {
            let mut s = text(ident, latin1);
            if let Some(pid) = nonempty(&self.syslog_pid).or(nonempty(&self.pid)) {
                match int_of(pid) {
                    Some(n) => s.push_str(&format!("[{n}]")),
                    None => s.push_str(&format!("[{}]", text(pid, latin1))),
                }
            }
            s.push(':');
            let kernel = s == "kernel:";
            parts.push(s);
            if kernel {
                let us = self
                    .source_monotonic
                    .as_deref()
                    .and_then(int_of)
                    .unwrap_or(i64::try_from(self.monotonic).unwrap_or(0));
                parts.push(format!("[{:12.6}]", us as f64 / 1e6));
            }
        }
        parts.push(
            self.message
                .as_deref()
                .map_or(String::new(), |m| text(m, latin1)),
        );
        parts.join(" ").replace('\n', "\\n")
    }

    /// The failure time in µs: `_SOURCE_REALTIME_TIMESTAMP`, else the entry's own.
    pub fn time_usec(&self) -> u64 {
        self.source_realtime
            .as_deref()
            .and_then(int_of)
            .and_then(|t| u64::try_from(t).ok())
            .unwrap_or(self.realtime)
    }

    /// The failure time as epoch seconds.
    pub fn time(&self) -> f64 {
        self.time_usec() as f64 / 1e6
    }
}

/// Local ISO time as Python's `datetime.isoformat()` prints python-systemd's zone-aware
/// times (µs only when non-zero, then the UTC offset):
/// the text fail2ban stores as the journal position and uses as the line's date part.
pub fn iso_time(usec: u64) -> String {
    use chrono::TimeZone;
    let secs = i64::try_from(usec / 1_000_000).unwrap_or(i64::MAX);
    let micros = usec % 1_000_000;
    match chrono::Local.timestamp_opt(secs, 0).single() {
        Some(d) if micros == 0 => d.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Some(d) => format!(
            "{}.{micros:06}{}",
            d.format("%Y-%m-%dT%H:%M:%S"),
            d.format("%:z")
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Fields {
        let mut x = Fields::default();
        for (k, v) in pairs {
            let v = Some(v.as_bytes().to_vec());
            match *k {
                "_HOSTNAME" => x.hostname = v,
                "SYSLOG_IDENTIFIER" => x.identifier = v,
                "_COMM" => x.comm = v,
                "SYSLOG_PID" => x.syslog_pid = v,
                "_PID" => x.pid = v,
                "MESSAGE" => x.message = v,
                "_SOURCE_MONOTONIC_TIMESTAMP" => x.source_monotonic = v,
                "_SOURCE_REALTIME_TIMESTAMP" => x.source_realtime = v,
                _ => panic!("{k}"),
            }
        }
        x
    }

    #[test]
    fn lines_are_built_as_fail2ban_builds_them() {
        let e = f(&[
            ("_HOSTNAME", "h1"),
            ("SYSLOG_IDENTIFIER", "sshd"),
            ("_PID", "0042"),
            ("_COMM", "sshd-session"),
            ("MESSAGE", "Failed password\nx"),
        ]);
        assert_eq!(e.line("UTF-8"), "h1 sshd[42]: Failed password\\nx");
        let e = f(&[("_COMM", "cron"), ("SYSLOG_PID", "abc"), ("MESSAGE", "m")]);
        assert_eq!(e.line("UTF-8"), "cron[abc]: m");
        let e = f(&[("_HOSTNAME", ""), ("MESSAGE", "bare")]);
        assert_eq!(e.line("UTF-8"), "bare");
        let e = f(&[
            ("SYSLOG_IDENTIFIER", "kernel"),
            ("_SOURCE_MONOTONIC_TIMESTAMP", "12345678"),
            ("MESSAGE", "IN=eth0"),
        ]);
        assert_eq!(e.line("UTF-8"), "kernel: [   12.345678] IN=eth0");
        let e = f(&[("MESSAGE", "caf\u{e9}")]);
        assert_eq!(e.line("latin-1"), "caf\u{c3}\u{a9}");
    }

    #[test]
    fn time_prefers_the_source_timestamp() {
        let mut e = f(&[("_SOURCE_REALTIME_TIMESTAMP", "1700000000123456")]);
        e.realtime = 1_700_000_001_000_000;
        assert_eq!(e.time_usec(), 1_700_000_000_123_456);
        e.source_realtime = None;
        assert_eq!(e.time(), 1_700_000_001.0);
        assert_eq!(iso_time(1_700_000_001_000_000).len(), 25);
        let t = iso_time(1_700_000_001_000_010);
        assert_eq!(&t[19..26], ".000010", "{t}");
        assert!(t.ends_with(&chrono::Local::now().format("%:z").to_string()));
    }
}
