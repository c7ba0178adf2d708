//! `bantime.increment` and friends: [`BanTimeIncrement`] holds the `bantime.*` options
//! as `set J bantime.X` stores them and the compiled ban-time function (formula or
//! multipliers, `maxtime` cap, `rndtime` jitter); [`new_bantime`] / [`BanTimeIncrement::calc`]
//! compute a ban time from the jail's base time and the id's earlier ban count.
//! [`observe_failure`] is the "known bad ids count faster" rule. [`seconds2str`] and the
//! `*_text` functions give fail2ban's exact log texts. No clock, no randomness inside:
//! the caller passes `rnd` (a uniform draw in [0, 1)).

use crate::config::time::parse_time_typed;
use crate::server::formula::{Env, Formula, Num};
use crate::server::ticket::time2str;
use crate::stream::Value;

/// fail2ban's default `bantime.formula`.
pub const DEFAULT_FORMULA: &str = "ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor";

/// The `bantime.*` options of a jail and the ban-time function built from them.
#[derive(Debug, Clone)]
pub struct BanTimeIncrement {
    /// Stored values as `get J bantime.X` returns them (insertion order).
    stored: Vec<(String, Value)>,
    factor: Num,
    formula: Formula,
    multipliers: Vec<i64>,
    maxtime: Option<Num>,
    rndtime: Option<Num>,
}

impl Default for BanTimeIncrement {
    fn default() -> Self {
        BanTimeIncrement::new()
    }
}

fn default_formula() -> Formula {
    // The constant is valid; a failure here would be a bug in the evaluator.
    Formula::parse(DEFAULT_FORMULA).unwrap_or_else(|e| unreachable!("default formula: {e}"))
}

impl BanTimeIncrement {
    /// Nothing set: increment off, factor 1, the default formula.
    pub fn new() -> BanTimeIncrement {
        BanTimeIncrement {
            stored: Vec::new(),
            factor: Num::Int(1),
            formula: default_formula(),
            multipliers: Vec::new(),
            maxtime: None,
            rndtime: None,
        }
    }

    /// `bantime.increment`.
    pub fn increment(&self) -> bool {
        matches!(self.get("increment"), Value::Bool(true))
    }

    /// `bantime.overalljails` (stored as given; true for `1/on/true/yes`).
    pub fn overalljails(&self) -> bool {
        match self.get("overalljails") {
            Value::Str(s) => as_bool(&s),
            Value::Bool(b) => b,
            _ => false,
        }
    }

    /// `bantime.maxtime` in seconds, if set.
    pub fn maxtime(&self) -> Option<Num> {
        self.maxtime
    }

    /// `set J bantime.<opt> <value>`; `""` unsets. Like fail2ban, the value is stored
    /// before the function is rebuilt, so a bad formula is kept (and reported) while the
    /// previous function stays in use.
    pub fn set(&mut self, opt: &str, value: &str) -> Result<(), String> {
        let value = (!value.is_empty()).then_some(value);
        let stored = match (opt, value) {
            ("increment", v) => Some(Value::Bool(v.is_some_and(as_bool))),
            ("maxtime" | "rndtime", Some(v)) => Some(num_value(seconds(v)?)),
            (_, v) => v.map(Value::str),
        };
        match stored {
            Some(v) => match self.stored.iter_mut().find(|(k, _)| k == opt) {
                Some(slot) => slot.1 = v,
                None => self.stored.push((opt.to_string(), v)),
            },
            None => self.stored.retain(|(k, _)| k != opt),
        }
        match opt {
            "maxtime" => self.maxtime = value.map(seconds).transpose()?,
            "rndtime" => self.rndtime = value.map(seconds).transpose()?,
            _ => {}
        }
        if opt == "multipliers" {
            self.multipliers = match value {
                Some(v) => v.split(' ').map(py_int).collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
        }
        if matches!(
            opt,
            "formula" | "factor" | "maxtime" | "rndtime" | "multipliers"
        ) {
            let factor = match self.get("factor") {
                Value::Str(f) => Formula::parse(&f)?.eval(&Env::empty())?,
                _ => Num::Int(1),
            };
            let formula = match self.get("formula") {
                Value::Str(f) => Formula::parse(&f)?,
                _ => default_formula(),
            };
            self.factor = factor;
            self.formula = formula;
        }
        Ok(())
    }

    /// As [`BanTimeIncrement::set`] for a value from the command stream: the config
    /// side sends `bantime.overalljails` as a bool, which is stored (and shown by `get`)
    /// as that bool.
    pub fn set_value(&mut self, opt: &str, value: &Value) -> Result<(), String> {
        match (opt, value) {
            ("overalljails", Value::Bool(b)) => {
                self.set(opt, if *b { "true" } else { "false" })?;
                if let Some(slot) = self.stored.iter_mut().find(|(k, _)| k == opt) {
                    slot.1 = Value::Bool(*b);
                }
                Ok(())
            }
            (_, Value::None) => self.set(opt, ""),
            (_, v) => self.set(opt, &v.to_py_str()),
        }
    }

    /// `get J bantime.<opt>`: the stored value, `None` when unset.
    pub fn get(&self, opt: &str) -> Value {
        self.stored
            .iter()
            .find(|(k, _)| k == opt)
            .map_or(Value::None, |(_, v)| v.clone())
    }

    /// The ban-time function for base time `base` and `count` earlier bans: multipliers
    /// (`base × factor × m[min(count, len-1)]`) or `max(base, formula)`, then
    /// `min(·, maxtime)`, then `+ rnd × rndtime`. Python's number types are kept (the
    /// log texts show them). Errors are the formula's runtime errors.
    pub fn calc(&self, base: i64, count: u32, rnd: f64) -> Result<Num, String> {
        use crate::server::formula::Num::{Float, Int};
        let time = Int(i128::from(base));
        let mut r = if self.multipliers.is_empty() {
            let env = Env {
                ban_time: time,
                ban_count: Int(i128::from(count)),
                ban_factor: Some(self.factor),
            };
            let v = self.formula.eval(&env)?;
            if gt(v, time) { v } else { time }
        } else {
            let i = (count as usize).min(self.multipliers.len() - 1);
            let m = Int(i128::from(self.multipliers[i]));
            mul(mul(time, self.factor)?, m)?
        };
        if let Some(max) = self.maxtime
            && gt(r, max)
        {
            r = max;
        }
        if let Some(rt) = self.rndtime {
            r = Float(r.as_f64() + rnd * rt.as_f64());
        }
        Ok(r)
    }
}

fn gt(a: Num, b: Num) -> bool {
    crate::server::formula::num::compare(a, b) == Some(std::cmp::Ordering::Greater)
}

fn mul(a: Num, b: Num) -> Result<Num, String> {
    crate::server::formula::num::mul(a, b)
}

/// fail2ban's observer step for a ban found (`incrBanTime`): the new ban time of an id
/// with `prev_bancount` earlier bans (0 = none → `base`). Returns `base` when increment
/// is off, the ban is permanent/zero, or the formula fails (fail2ban logs the error and
/// keeps the base time; use [`BanTimeIncrement::calc`] to see it). Fractions from
/// `rndtime` are truncated.
pub fn new_bantime(opts: &BanTimeIncrement, base: i64, prev_bancount: u32, rnd: f64) -> i64 {
    if !opts.increment() || base <= 0 || prev_bancount == 0 {
        return base;
    }
    opts.calc(base, prev_bancount, rnd)
        .map_or(base, Num::to_i64_saturating)
}

/// What the "known bad id" rule does with a found failure (fail2ban's `failureFound`,
/// active with `bantime.increment`).
#[derive(Debug, Clone, PartialEq)]
pub enum BadFailure {
    /// Not a known bad id (or no extra count): nothing more to do.
    NotBad,
    /// The failure is not newer than the id's last ban (re-read after a restart): skip.
    BeforeLastBan,
    /// Count `count` more (FailManager::add_observed) and raise the ban count; `retry`
    /// is the number the log line shows.
    Boost {
        bancount: u32,
        retry: Num,
        count: f64,
    },
}

/// The rule: with the id's last ban in the database `last_ban = (bancount, timeofban)`,
/// a failure counts `2^n/2 + 1` (n = max(bancount, ticket's), at most 20) capped at
/// maxretry, instead of 1.
pub fn observe_failure(
    last_ban: Option<(u32, f64)>,
    ticket_bancount: u32,
    failure_time: f64,
    maxretry: u32,
) -> BadFailure {
    let mut bancount = 0;
    let mut retry = Num::Int(1);
    if let Some((n, _)) = last_ban {
        bancount = n.max(ticket_bancount);
        retry = Num::Float(f64::from(1u32 << bancount.min(20)) / 2.0 + 1.0);
    }
    let max = Num::Int(i128::from(maxretry));
    if gt(retry, max) {
        retry = max;
    }
    if let Some((_, tob)) = last_ban
        && failure_time <= tob
    {
        return BadFailure::BeforeLastBan;
    }
    if !gt(retry, Num::Int(1)) {
        return BadFailure::NotBad;
    }
    BadFailure::Boost {
        bancount,
        retry,
        count: retry.as_f64() - 1.0,
    }
}

/// `[J] Found <ip>, bad - <time>, <n> # -> <retry>[, Ban]` (INFO).
pub fn found_bad_text(
    jail: &str,
    ip: &str,
    time: f64,
    bancount: u32,
    retry: Num,
    maxretry: u32,
) -> String {
    let ban = if retry.as_f64() >= f64::from(maxretry) {
        ", Ban"
    } else {
        ""
    };
    format!(
        "[{jail}] Found {ip}, bad - {}, {bancount} # -> {retry}{ban}",
        time2str(time)
    )
}

/// `[J] IP <ip> is bad: <n> # last <time> - incr <old> to <new>` (INFO).
pub fn bad_ip_text(
    jail: &str,
    ip: &str,
    bancount: u32,
    time_of_ban: f64,
    old: Num,
    new: Num,
) -> String {
    format!(
        "[{jail}] IP {ip} is bad: {bancount} # last {} - incr {} to {}",
        time2str(time_of_ban),
        seconds2str(old),
        seconds2str(new)
    )
}

/// `[J] Increase Ban <ip> (<n> # <duration> -> <end>)` (NOTICE); `permanent`/`infinite`
/// for bantime -1.
pub fn increase_ban_text(jail: &str, ip: &str, bancount: u32, bantime: Num, start: f64) -> String {
    let (dur, end) = if bantime == Num::Int(-1) || bantime == Num::Float(-1.0) {
        ("permanent".to_string(), "infinite".to_string())
    } else {
        (seconds2str(bantime), time2str(start + bantime.as_f64()))
    };
    format!("[{jail}] Increase Ban {ip} ({bancount} # {dur} -> {end})")
}

/// fail2ban's compact duration (`MyTime.seconds2str`): `40s`, `59m 50s`, `1h`,
/// `2d 7h 15m`, `1w 2d`, `1y 3w 4d`; coarser rounding for larger values, at most three
/// groups. Floats below an hour keep Python's float spelling (`40.5s`).
pub fn seconds2str(sec: Num) -> String {
    let s = sec.as_f64();
    let rounded = |unit: f64| (s / unit).round_ties_even() as i64;
    let mut r = String::new();
    if s >= 31_536_000.0 {
        let mut d = rounded(86400.0);
        r.push_str(&format!("{}y ", d / 365));
        d %= 365;
        if d >= 7 {
            r.push_str(&format!("{}w ", d / 7));
            d %= 7;
        }
        if d != 0 {
            r.push_str(&format!("{d}d "));
        }
    } else if s >= 604_800.0 {
        let mut h = rounded(3600.0);
        r.push_str(&format!("{}w ", h / 168));
        h %= 168;
        if h >= 24 {
            r.push_str(&format!("{}d ", h / 24));
            h %= 24;
        }
        if h != 0 {
            r.push_str(&format!("{h}h "));
        }
    } else if s >= 86_400.0 {
        let mut m = rounded(60.0);
        r.push_str(&format!("{}d ", m / 1440));
        m %= 1440;
        if m >= 60 {
            r.push_str(&format!("{}h ", m / 60));
            m %= 60;
        }
        if m != 0 {
            r.push_str(&format!("{m}m "));
        }
    } else if s >= 3595.0 {
        let mut t = rounded(10.0);
        r.push_str(&format!("{}h ", t / 360));
        t %= 360;
        if t >= 6 {
            r.push_str(&format!("{}m ", t / 6));
        }
    } else {
        let (mins, rest) = match sec {
            Num::Float(x) => (
                Num::Float((x / 60.0).floor()),
                Num::Float(x.rem_euclid(60.0)),
            ),
            n => {
                let i = n.as_int().unwrap_or(0);
                (Num::Int(i.div_euclid(60)), Num::Int(i.rem_euclid(60)))
            }
        };
        if s >= 60.0 {
            r.push_str(&format!("{mins}m "));
        }
        let rest = if s >= 60.0 { rest } else { sec };
        if rest.truthy() {
            r.push_str(&format!("{rest}s "));
        } else if !sec.truthy() {
            r = "0 ".to_string();
        }
    }
    r.pop();
    r
}

/// fail2ban's `_as_bool` for text.
fn as_bool(v: &str) -> bool {
    matches!(v.to_lowercase().as_str(), "1" | "on" | "true" | "yes")
}

/// A time option (`maxtime`, `rndtime`) in seconds: int unless Python computes a float.
fn seconds(v: &str) -> Result<Num, String> {
    let (x, is_float) = parse_time_typed(v)?;
    Ok(if is_float || x.fract() != 0.0 {
        Num::Float(x)
    } else {
        Num::Int(x as i128)
    })
}

fn num_value(n: Num) -> Value {
    match n {
        Num::Float(x) => Value::Float(x),
        Num::Bool(b) => Value::Bool(b),
        Num::Int(i) => Value::Int(i.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64),
    }
}

/// Python's `int(text)` (base 10), with its error text.
fn py_int(text: &str) -> Result<i64, String> {
    crate::config::reader::py_int(text).ok_or_else(|| {
        format!(
            "invalid literal for int() with base 10: {}",
            crate::stream::py_str_repr(text)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let i = |v: i64| seconds2str(Num::Int(i128::from(v)));
        // Examples from fail2ban's MyTime.seconds2str documentation.
        assert_eq!(i(86400 * 390), "1y 3w 4d");
        assert_eq!(i(86400 * 368), "1y 3d");
        // (its docstring says "1y" here, the code gives "1y 1d": 365.5 rounds to even 366)
        assert_eq!(seconds2str(Num::Float(86400.0 * 365.5)), "1y 1d");
        assert_eq!(i(86400 * 2 + 3600 * 7 + 60 * 15), "2d 7h 15m");
        assert_eq!(i(86400 * 2 + 3599), "2d 1h");
        assert_eq!(i(3600 - 5), "1h");
        assert_eq!(i(3600 - 10), "59m 50s");
        assert_eq!(i(59), "59s");
        assert_eq!(i(40), "40s");
        assert_eq!(i(0), "0");
        assert_eq!(i(120), "2m");
        assert_eq!(seconds2str(Num::Float(100.5)), "1.0m 40.5s");
    }

    #[test]
    fn stock_increment() {
        let mut b = BanTimeIncrement::new();
        b.set("increment", "true").unwrap();
        assert_eq!(new_bantime(&b, 20, 1, 0.0), 40);
        assert_eq!(new_bantime(&b, 20, 0, 0.0), 20);
        b.set("maxtime", "1h").unwrap();
        assert_eq!(b.get("maxtime"), Value::Int(3600));
        assert_eq!(new_bantime(&b, 600, 5, 0.0), 3600);
        b.set("multipliers", "1 2 4 8").unwrap();
        assert_eq!(new_bantime(&b, 60, 9, 0.0), 480);
        b.set("multipliers", "").unwrap();
        b.set("rndtime", "10").unwrap();
        assert_eq!(b.calc(20, 1, 0.5), Ok(Num::Float(45.0)));
        assert!(b.set("formula", "ban.Time +").is_err());
        assert_eq!(b.get("formula"), Value::str("ban.Time +"));
        // The bad text stays stored: rebuilding fails until it is replaced.
        assert!(b.set("multipliers", "").is_err());
        b.set("formula", "").unwrap();
        assert!(b.set("multipliers", "1  2").is_err());
        b.set("rndtime", "").unwrap();
        assert_eq!(b.get("rndtime"), Value::None);
        b.set_value("overalljails", &Value::Bool(true)).unwrap();
        assert!(b.overalljails());
        assert_eq!(b.get("overalljails"), Value::Bool(true));
        b.set_value("increment", &Value::Bool(false)).unwrap();
        assert!(!b.increment());
    }

    #[test]
    fn bad_ids_count_faster() {
        assert_eq!(observe_failure(None, 0, 10.0, 3), BadFailure::NotBad);
        assert_eq!(
            observe_failure(Some((1, 5.0)), 0, 10.0, 3),
            BadFailure::Boost {
                bancount: 1,
                retry: Num::Float(2.0),
                count: 1.0
            }
        );
        assert_eq!(
            observe_failure(Some((3, 5.0)), 0, 10.0, 3),
            BadFailure::Boost {
                bancount: 3,
                retry: Num::Int(3),
                count: 2.0
            }
        );
        assert_eq!(
            observe_failure(Some((3, 15.0)), 0, 10.0, 3),
            BadFailure::BeforeLastBan
        );
        assert_eq!(
            found_bad_text("t", "1.2.3.4", 0.0, 1, Num::Float(2.0), 3)
                .split(" - ")
                .next(),
            Some("[t] Found 1.2.3.4, bad")
        );
    }
}
