//! fail2ban-client's reply formats: [`beautify`] turns a success reply of command `cmd`
//! into the text the client prints, [`beautify_error`] does the same for an exception.
//!
//! The formats are chosen by a table ([`RULES`]) keyed on the command words, in the
//! order fail2ban's client checks them (first match wins). Each format is a small pure
//! function that builds its text step by step in a [`Msg`]; when a reply has an
//! unexpected shape the function gives up and the result is fail2ban's fallback text,
//! `repr(partial message) + repr(reply)` (flagged in [`Beautified::fallback`] so the
//! client can log its warning).

use super::pickle::ExcReply;
use crate::stream::{Value, py_str_repr};

/// What the client prints for a success reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Beautified {
    pub text: String,
    /// The reply did not fit the command's format (the client logs a warning).
    pub fallback: bool,
}

/// The message under construction, as fail2ban's variable `msg` at the time of a failure.
enum Msg {
    Reply,
    Text(String),
    Lines(Vec<String>),
}

/// A format gave up (the reply has the wrong shape); the partial message says how far
/// it got.
struct Bad;

type Format = fn(&[String], &Value, &mut Msg) -> Result<(), Bad>;

/// Which commands a format applies to.
enum Key {
    /// `cmd[0] == word`.
    First(&'static str),
    /// `cmd[0] == "status"` (checked before the length guards below).
    Status,
    /// `cmd[1] == word` (needs two words).
    Second(&'static str),
    /// `cmd[2]` is one of the words (needs three words).
    Third(&'static [&'static str]),
    /// `get J banip …`.
    GetBanip,
}

/// fail2ban's order of checks. Entries after the first `Second` need `len >= 2`, after
/// the first `Third` `len >= 3`: a shorter command falls through to the plain reply.
const RULES: &[(Key, Format)] = &[
    (Key::First("ping"), f_ping),
    (Key::First("version"), f_plain),
    (Key::First("start"), |_, _, m| set(m, "Jail started")),
    (Key::First("stop"), f_stop),
    (Key::First("add"), |_, r, m| prefixed(m, "Added jail ", r)),
    (Key::First("flushlogs"), |_, r, m| prefixed(m, "logs: ", r)),
    (Key::First("echo"), f_echo),
    (Key::Status, f_status),
    (Key::Second("syslogsocket"), |_, r, m| {
        two_step(m, "Current syslog socket is:\n", "`- ", r)
    }),
    (Key::Second("logtarget"), |_, r, m| {
        two_step(m, "Current logging target is:\n", "`- ", r)
    }),
    (Key::Second("loglevel"), f_loglevel),
    (Key::Second("dbfile"), f_dbfile),
    (Key::Second("dbpurgeage"), f_dbpurgeage),
    (
        Key::Third(&["logpath", "addlogpath", "dellogpath"]),
        |_, r, m| {
            tree(
                m,
                r,
                "No file is currently monitored",
                "Current monitored log file(s):\n",
                false,
            )
        },
    ),
    (Key::Third(&["logencoding"]), |_, r, m| {
        two_step(m, "Current log encoding is set to:\n", "", r)
    }),
    (
        Key::Third(&["journalmatch", "addjournalmatch", "deljournalmatch"]),
        f_journal,
    ),
    (Key::Third(&["datepattern"]), f_datepattern),
    (
        Key::Third(&["ignoreip", "addignoreip", "delignoreip"]),
        |_, r, m| {
            tree(
                m,
                r,
                "No IP address/network is ignored",
                "These IP addresses/networks are ignored:\n",
                false,
            )
        },
    ),
    (
        Key::Third(&[
            "failregex",
            "addfailregex",
            "delfailregex",
            "ignoreregex",
            "addignoreregex",
            "delignoreregex",
        ]),
        |_, r, m| {
            tree(
                m,
                r,
                "No regular expression is defined",
                "The following regular expression are defined:\n",
                true,
            )
        },
    ),
    (Key::Third(&["actions"]), f_actions),
    (Key::Third(&["actionproperties"]), |c, r, m| {
        f_action_list(c, r, m, "properties")
    }),
    (Key::Third(&["actionmethods"]), |c, r, m| {
        f_action_list(c, r, m, "methods")
    }),
    (Key::GetBanip, f_banip),
];

/// The text fail2ban-client prints for reply `response` to command `cmd`.
pub fn beautify(cmd: &[String], response: &Value) -> Beautified {
    let mut msg = Msg::Reply;
    let w = |i: usize| cmd.get(i).map(String::as_str);
    let mut result = Ok(());
    for (key, format) in RULES {
        let hit = match key {
            Key::First(word) => w(0) == Some(word),
            Key::Status => w(0) == Some("status"),
            Key::Second(word) => cmd.len() >= 2 && w(1) == Some(word),
            Key::Third(words) => cmd.len() >= 3 && words.iter().any(|x| w(2) == Some(x)),
            Key::GetBanip => cmd.len() >= 3 && w(2) == Some("banip") && w(0) == Some("get"),
        };
        if hit {
            result = format(cmd, response, &mut msg);
            break;
        }
    }
    match result {
        Ok(()) => Beautified {
            text: match msg {
                Msg::Reply => response.to_py_str(),
                Msg::Text(s) => s,
                Msg::Lines(l) => l.join("\n"),
            },
            fallback: false,
        },
        Err(Bad) => {
            let partial = match msg {
                Msg::Reply => response.to_string(),
                Msg::Text(s) => py_str_repr(&s),
                Msg::Lines(l) => Value::List(l.into_iter().map(Value::Str).collect()).to_string(),
            };
            Beautified {
                text: format!("{partial}{response}"),
                fallback: true,
            }
        }
    }
}

/// The text fail2ban-client prints for an error reply.
pub fn beautify_error(e: &ExcReply) -> String {
    let first = || e.args.first().map(Value::to_py_str).unwrap_or_default();
    match (e.module.as_str(), e.name.as_str()) {
        ("fail2ban.exceptions", "UnknownJailException") => {
            format!("Sorry but the jail '{}' does not exist", first())
        }
        ("builtins", "IndexError") => "Sorry but the command is invalid".to_string(),
        ("fail2ban.exceptions", "DuplicateJailException") => {
            format!("The jail '{}' already exists", first())
        }
        // str(KeyError(x)) is repr(x).
        ("builtins", "KeyError") if e.args.len() == 1 => e.args[0].to_string(),
        _ => e.message(),
    }
}

fn set(m: &mut Msg, s: &str) -> Result<(), Bad> {
    *m = Msg::Text(s.to_string());
    Ok(())
}

fn text(v: &Value) -> Result<&str, Bad> {
    v.as_str().ok_or(Bad)
}

/// `prefix + reply` (the reply must be a str).
fn prefixed(m: &mut Msg, prefix: &str, r: &Value) -> Result<(), Bad> {
    let s = text(r)?;
    *m = Msg::Text(format!("{prefix}{s}"));
    Ok(())
}

/// `msg = head` then `msg += mark + reply`: a failure leaves `head` as the message.
fn two_step(m: &mut Msg, head: &str, mark: &str, r: &Value) -> Result<(), Bad> {
    set(m, head)?;
    let s = text(r)?;
    set(m, &format!("{head}{mark}{s}"))
}

/// The elements of a sequence reply (list, tuple, or the characters of a str).
fn items(v: &Value) -> Result<Vec<Value>, Bad> {
    match v {
        Value::List(x) | Value::Tuple(x) => Ok(x.clone()),
        Value::Str(s) => Ok(s.chars().map(|c| Value::Str(c.to_string())).collect()),
        _ => Err(Bad),
    }
}

/// Python's `str.join` over a sequence of str.
fn join(sep: &str, v: &Value) -> Result<String, Bad> {
    let xs = items(v)?;
    let mut parts = Vec::with_capacity(xs.len());
    for x in &xs {
        parts.push(text(x)?.to_string());
    }
    Ok(parts.join(sep))
}

fn f_plain(_: &[String], _: &Value, _: &mut Msg) -> Result<(), Bad> {
    Ok(())
}

fn f_ping(_: &[String], r: &Value, m: &mut Msg) -> Result<(), Bad> {
    prefixed(m, "Server replied: ", r)
}

fn f_stop(c: &[String], r: &Value, m: &mut Msg) -> Result<(), Bad> {
    if *r == Value::None {
        set(
            m,
            if c.len() == 1 {
                "Shutdown successful"
            } else {
                "Jail stopped"
            },
        )?;
    }
    Ok(())
}

fn f_echo(_: &[String], r: &Value, m: &mut Msg) -> Result<(), Bad> {
    let s = match r {
        Value::Dict(kv) => {
            let keys = Value::List(kv.iter().map(|(k, _)| k.clone()).collect());
            join(" ", &keys)?
        }
        other => join(" ", other)?,
    };
    *m = Msg::Text(s);
    Ok(())
}

/// An element `x[i]` of a pair-like reply item.
fn nth(v: &Value, i: usize) -> Result<&Value, Bad> {
    match v {
        Value::List(x) | Value::Tuple(x) => x.get(i).ok_or(Bad),
        _ => Err(Bad),
    }
}

/// A status value: lists are space-joined `str()`s, anything else is `str()`.
fn status_value(v: &Value) -> String {
    match v {
        Value::List(xs) => xs
            .iter()
            .map(Value::to_py_str)
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_py_str(),
    }
}

fn f_status(c: &[String], r: &Value, m: &mut Msg) -> Result<(), Bad> {
    let top = items(r);
    if c.len() > 1 {
        *m = Msg::Lines(vec![format!("Status for the jail: {}", c[1])]);
        let top = top?;
        for (n, res1) in top.iter().enumerate() {
            let last1 = n + 1 == top.len();
            let name = nth(res1, 0)?.to_py_str();
            push_line(m, format!("{} {name}", if last1 { "`-" } else { "|-" }));
            let indent = if last1 { "   " } else { "|  " };
            let sub = items(nth(res1, 1)?)?;
            for (k, res2) in sub.iter().enumerate() {
                let mark = if k + 1 == sub.len() { "`-" } else { "|-" };
                let (label, val) = (nth(res2, 0)?, nth(res2, 1)?);
                push_line(
                    m,
                    format!(
                        "{indent}{mark} {}:\t{}",
                        label.to_py_str(),
                        status_value(val)
                    ),
                );
            }
        }
    } else {
        *m = Msg::Lines(vec!["Status".to_string()]);
        let top = top?;
        for (n, res1) in top.iter().enumerate() {
            let mark = if n + 1 == top.len() { "`-" } else { "|-" };
            let val = status_value(nth(res1, 1)?);
            let label = nth(res1, 0)?.to_py_str();
            push_line(m, format!("{mark} {label}:\t{val}"));
        }
    }
    Ok(())
}

fn push_line(m: &mut Msg, line: String) {
    if let Msg::Lines(l) = m {
        l.push(line);
    }
}

/// Python's `logging.getLevelName(int)` with fail2ban's extra names: the server's level
/// names, and `Level N` for numbers logging has no name for.
fn level_name(n: i64) -> String {
    match u8::try_from(n) {
        Ok(l) if l <= 50 => crate::server::log::LogLevel(l).name(),
        _ => format!("Level {n}"),
    }
}

fn f_loglevel(_: &[String], r: &Value, m: &mut Msg) -> Result<(), Bad> {
    let shown = match r {
        Value::Int(n) => py_str_repr(&level_name(*n)),
        Value::Bool(b) => py_str_repr(&level_name(i64::from(*b))),
        other => other.to_string(),
    };
    set(m, &format!("Current logging level is {shown}"))
}

fn f_dbfile(_: &[String], r: &Value, m: &mut Msg) -> Result<(), Bad> {
    if *r == Value::None {
        return set(m, "Database currently disabled");
    }
    two_step(m, "Current database file is:\n", "`- ", r)
}

fn f_dbpurgeage(_: &[String], r: &Value, m: &mut Msg) -> Result<(), Bad> {
    if *r == Value::None {
        return set(m, "Database currently disabled");
    }
    set(m, "Current database purge age is:\n")?;
    // `%i` takes any number, truncating floats.
    let n = match r {
        Value::Int(n) => n.to_string(),
        Value::Bool(b) => i64::from(*b).to_string(),
        Value::Float(f) if f.is_finite() => format!("{}", f.trunc() as i128),
        _ => return Err(Bad),
    };
    set(m, &format!("Current database purge age is:\n`- {n}seconds"))
}

/// The `|- a` / `` `- z `` lists (log files, ignored IPs, regexes with `[i]: `).
fn tree(m: &mut Msg, r: &Value, empty: &str, head: &str, numbered: bool) -> Result<(), Bad> {
    let xs = items(r)?;
    if xs.is_empty() {
        return set(m, empty);
    }
    let mut s = head.to_string();
    *m = Msg::Text(s.clone());
    for (i, x) in xs.iter().enumerate() {
        let mark = if i + 1 == xs.len() { "`- " } else { "|- " };
        let num = if numbered {
            format!("[{i}]: ")
        } else {
            String::new()
        };
        s.push_str(mark);
        s.push_str(&num);
        s.push_str(text(x)?);
        if i + 1 < xs.len() {
            s.push('\n');
        }
        *m = Msg::Text(s.clone());
    }
    Ok(())
}

fn f_journal(_: &[String], r: &Value, m: &mut Msg) -> Result<(), Bad> {
    let xs = items(r)?;
    if xs.is_empty() {
        return set(m, "No journal match filter set");
    }
    set(m, "Current match filter:\n")?;
    let mut groups = Vec::with_capacity(xs.len());
    for g in &xs {
        groups.push(join(" ", g)?);
    }
    set(m, &format!("Current match filter:\n{}", groups.join(" + ")))
}

fn f_datepattern(_: &[String], r: &Value, m: &mut Msg) -> Result<(), Bad> {
    let head = "Current date pattern set to: ";
    set(m, head)?;
    let tail = match r {
        Value::None => "Not set/required".to_string(),
        other => {
            let first = nth(other, 0)?;
            if *first == Value::None {
                nth(other, 1)?.to_py_str()
            } else {
                // `"%s (%s)" % reply` needs exactly a 2-tuple.
                match other {
                    Value::Tuple(t) if t.len() == 2 => {
                        format!("{} ({})", t[0].to_py_str(), t[1].to_py_str())
                    }
                    _ => return Err(Bad),
                }
            }
        }
    };
    set(m, &format!("{head}{tail}"))
}

fn f_actions(c: &[String], r: &Value, m: &mut Msg) -> Result<(), Bad> {
    let xs = items(r)?;
    let jail = &c[1];
    if xs.is_empty() {
        return set(m, &format!("No actions for jail {jail}"));
    }
    set(m, &format!("The jail {jail} has the following actions:\n"))?;
    let list = join(", ", r)?;
    set(
        m,
        &format!("The jail {jail} has the following actions:\n{list}"),
    )
}

fn f_action_list(c: &[String], r: &Value, m: &mut Msg, what: &str) -> Result<(), Bad> {
    let xs = items(r)?;
    let (jail, action) = (&c[1], c.get(3).ok_or(Bad)?);
    if xs.is_empty() {
        return set(m, &format!("No {what} for jail {jail} action {action}"));
    }
    let head = format!("The jail {jail} action {action} has the following {what}:\n");
    set(m, &head)?;
    let list = join(", ", r)?;
    set(m, &format!("{head}{list}"))
}

fn f_banip(c: &[String], r: &Value, m: &mut Msg) -> Result<(), Bad> {
    if !matches!(r, Value::List(_)) {
        return Ok(());
    }
    let sep = match c.get(3).map(String::as_str) {
        None => " ",
        Some("--with-time") => "\n",
        Some(s) => s,
    };
    let s = join(sep, r)?;
    set(m, &s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn short_commands_fall_through() {
        // `get logpath` is too short for the jail formats: printed as a plain reply.
        let r = Value::List(vec![Value::str("/a")]);
        assert_eq!(beautify(&cmd("get logpath"), &r).text, "['/a']");
        assert_eq!(
            beautify(&cmd("get j logpath"), &r).text,
            "Current monitored log file(s):\n`- /a"
        );
    }

    #[test]
    fn fallback_keeps_partial_message() {
        let b = beautify(&cmd("get dbfile"), &Value::Int(3));
        assert!(b.fallback);
        assert_eq!(b.text, "'Current database file is:\\n'3");
    }
}
