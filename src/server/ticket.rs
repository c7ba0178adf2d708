//! [`Ticket`]: one failure id's record as it travels from the failure manager
//! (counting, `retry`/`first_time` window state) to the ban manager (ban time, ban count,
//! epoch) and the actions (tags). Plus the time text fail2ban prints for ticket times
//! ([`time2str`]). Pure data: no clock, no I/O.

use crate::filter::addr::IpAddr;
use crate::stream::Value;

/// End of ban of a permanent ban (fail2ban's `MAX_TIME`, far beyond year 9999).
pub const MAX_TIME: f64 = 140_737_488_355_327.0;

/// A failure/ban ticket.
///
/// `data` keeps the fields of the failure that created the ticket; later failures of
/// the same id only add `matches`, `failures` and `retry` (as fail2ban does).
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    /// Failure id (address text, network text or raw id); the key of both managers.
    pub fid: String,
    /// The id as an address object (`None` when the spine has none to give).
    pub ip: Option<IpAddr>,
    /// Ticket time: the last failure (a ban starts here).
    pub time: f64,
    /// Failures counted (fail2ban's `failures`/attempts, the `<failures>` tag).
    pub failures: u32,
    pub matches: Vec<String>,
    /// `F-*` fields and other failure data, insertion order.
    pub data: Vec<(String, Value)>,
    /// Explicit ban time (`None` = the jail's).
    pub bantime: Option<i64>,
    /// The exact ban time when fail2ban holds it as a float: a prolonged ban adds the
    /// (fractional) distance between the two ticket times. `bantime` then holds its
    /// truncation (what `--with-time` prints with `%d`); the end of ban uses this.
    pub bantime_float: Option<f64>,
    pub bancount: u32,
    pub restored: bool,
    pub ban_epoch: u64,
    /// First failure time of the counting window (moved forward by rescaling).
    pub first_time: f64,
    /// The count compared with maxretry: failures, rescaled to the findtime window and
    /// raised for known bad ids. A float as in fail2ban (always integral in practice).
    pub retry: f64,
}

impl Ticket {
    /// A fresh ticket for id `fid` at `time`, no failures counted yet.
    pub fn new(fid: impl Into<String>, ip: Option<IpAddr>, time: f64) -> Ticket {
        Ticket {
            fid: fid.into(),
            ip,
            time,
            failures: 0,
            matches: Vec::new(),
            data: Vec::new(),
            bantime: None,
            bantime_float: None,
            bancount: 0,
            restored: false,
            ban_epoch: 0,
            first_time: time,
            retry: 0.0,
        }
    }

    /// A ticket whose id is the address `ip` (fid = its text).
    pub fn for_ip(ip: IpAddr, time: f64) -> Ticket {
        Ticket::new(ip.ntoa(), Some(ip), time)
    }

    /// Builder: the matched lines of this failure.
    pub fn with_matches(mut self, matches: Vec<String>) -> Ticket {
        self.matches = matches;
        self
    }

    /// The id as fail2ban's `IPAddr` (what ignore checks compare): `ip` when it spells
    /// the fid, else the fid parsed as an address (kept as text when it is none).
    pub fn id_addr(&self) -> IpAddr {
        match &self.ip {
            Some(ip) if ip.ntoa() == self.fid => ip.clone(),
            _ => IpAddr::parse(&self.fid).unwrap_or_else(|_| IpAddr::raw(&self.fid)),
        }
    }

    /// A data field by name.
    pub fn get_data(&self, key: &str) -> Option<&Value> {
        self.data.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets a data field (replacing in place, else appending).
    pub fn set_data(&mut self, key: &str, value: Value) {
        match self.data.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.data.push((key.to_string(), value)),
        }
    }

    /// The ban time of this ticket: its own or the jail's `default`.
    pub fn ban_time(&self, default: i64) -> i64 {
        self.bantime.unwrap_or(default)
    }

    /// End of ban: time + ban time, [`MAX_TIME`] for `-1` (only `-1` is permanent, as in
    /// fail2ban; another negative value ends the ban before it starts).
    pub fn end_of_ban(&self, default: i64) -> f64 {
        match (self.ban_time(default), self.bantime_float) {
            (-1, _) => MAX_TIME,
            (_, Some(f)) => self.time + f,
            (bt, None) => self.time + bt as f64,
        }
    }

    /// Sets an integral ban time (drops a float one).
    pub fn set_bantime(&mut self, bantime: i64) {
        self.bantime = Some(bantime);
        self.bantime_float = None;
    }

    /// Sets a float ban time (a prolongation), keeping its truncation in `bantime`.
    pub fn set_bantime_float(&mut self, bantime: f64) {
        self.bantime = Some(bantime.trunc() as i64);
        self.bantime_float = Some(bantime);
    }

    /// The `<bantime>` tag text of `bantime` (the ban time in effect for this ticket):
    /// a float ban time prints as Python prints a float (`610.5`, `610.0`).
    pub fn bantime_text(&self, bantime: i64) -> String {
        match self.bantime_float {
            Some(f) if self.bantime == Some(bantime) => crate::stream::py_float_repr(f),
            _ => bantime.to_string(),
        }
    }

    /// Whether the ban is over at `now` (strictly after its end).
    pub fn is_timed_out(&self, now: f64, default: i64) -> bool {
        self.ban_time(default) != -1 && now > self.end_of_ban(default)
    }

    /// Raises the ban count to `value` unless it is already higher.
    pub fn raise_bancount(&mut self, value: u32) {
        if value > self.bancount {
            self.bancount = value;
        }
    }
}

/// `%Y-%m-%d %H:%M:%S` of a local time, written field by field (a strftime pattern is
/// re-parsed per call, and this runs for every found failure).
pub fn ymd_hms(dt: &chrono::DateTime<chrono::Local>) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// fail2ban's `MyTime.time2str`: local time `%Y-%m-%d %H:%M:%S`, capped at the end of
/// year 9999 for huge values (permanent bans).
pub fn time2str(t: f64) -> String {
    use chrono::{Local, TimeZone};
    const CAP: &str = "9999-12-31 23:59:59";
    if t.is_nan() || t >= 253_402_214_400.0 {
        return CAP.to_string();
    }
    // Python rounds to microseconds, then drops them.
    let micros = (t * 1e6).round();
    let secs = (micros / 1e6).floor() as i64;
    match Local.timestamp_opt(secs, 0).earliest() {
        Some(dt) => ymd_hms(&dt),
        None => CAP.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_ban_and_timeout() {
        let mut t = Ticket::new("192.0.2.1", None, 1000.0);
        assert_eq!(t.end_of_ban(600), 1600.0);
        assert!(!t.is_timed_out(1600.0, 600));
        assert!(t.is_timed_out(1600.5, 600));
        t.bantime = Some(-1);
        assert_eq!(t.end_of_ban(600), MAX_TIME);
        assert!(!t.is_timed_out(1e18, 600));
        assert_eq!(time2str(MAX_TIME), "9999-12-31 23:59:59");
    }

    #[test]
    fn id_addr_prefers_matching_ip() {
        let ip = IpAddr::parse("10.0.0.1").unwrap();
        let t = Ticket::for_ip(ip.clone(), 0.0);
        assert_eq!(t.id_addr(), ip);
        let t = Ticket::new("alice", Some(ip), 0.0);
        assert!(!t.id_addr().is_valid());
        assert_eq!(t.id_addr().ntoa(), "alice");
        let raw = IpAddr::raw("10.0.0.1");
        assert!(Ticket::for_ip(raw, 0.0).id_addr().is_raw());
    }

    #[test]
    fn data_set_replaces_in_place() {
        let mut t = Ticket::new("x", None, 0.0);
        t.set_data("user", Value::str("a"));
        t.set_data("port", Value::Int(22));
        t.set_data("user", Value::str("b"));
        assert_eq!(t.data[0], ("user".to_string(), Value::str("b")));
        assert_eq!(t.get_data("port"), Some(&Value::Int(22)));
    }
}
