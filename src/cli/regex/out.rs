//! `-o/--out` formatting of fail2ban-regex: one output line (or several for `<msg>`) per
//! failure. Principal function: [`format_failure`], fed by the run loop in `super`.

use crate::filter::matcher::Failure;
use crate::stream::{Value, py_float_repr, write_py_str_repr};

/// The text of `fail[name]` as Python's `dict.get` + `str()` would print it.
fn field_str(f: &Failure, name: &str) -> String {
    match name {
        "matches" => {
            let mut s = String::from("[");
            for (i, m) in f.data.matches.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_py_str_repr(m, &mut s);
            }
            s.push(']');
            s
        }
        "ip" => match &f.data.ip {
            Some(ip) => ip.to_string(),
            None => "None".to_string(),
        },
        _ => f
            .data
            .fields
            .0
            .iter()
            .find(|(k, _)| **k == *name)
            .map_or_else(|| "None".to_string(), |(_, v)| v.to_py_str()),
    }
}

fn id_str(f: &Failure) -> String {
    f.id.as_ref()
        .map_or_else(|| "None".to_string(), |i| i.to_string())
}

/// Python's repr of the time: an int for zone-aware dates (see `super::zone`).
fn time_repr(f: &Failure, int_time: bool) -> String {
    match f.time {
        None => "None".to_string(),
        Some(t) if int_time && t.fract() == 0.0 => format!("{}", t as i64),
        Some(t) => py_float_repr(t),
    }
}

/// `[id, time, data-without-matches]` as fail2ban's `row` output (Python reprs).
fn row(f: &Failure, int_time: bool) -> String {
    let mut s = String::from("[");
    write_py_str_repr(&id_str(f), &mut s);
    s.push_str(",\t");
    s.push_str(&time_repr(f, int_time));
    s.push_str(",\t{");
    let mut first = true;
    let mut sep = |s: &mut String| {
        if !first {
            s.push_str(", ");
        }
        first = false;
    };
    // `users` keeps the dict place it was added at (fail2ban's insertion order).
    let users_at = if f.data.users.is_empty() {
        usize::MAX
    } else {
        f.data.users_at.min(f.data.fields.0.len())
    };
    for i in 0..=f.data.fields.0.len() {
        if i == users_at {
            sep(&mut s);
            s.push_str("'users': {");
            for (j, u) in f.data.users.iter().enumerate() {
                if j > 0 {
                    s.push_str(", ");
                }
                write_py_str_repr(u, &mut s);
            }
            s.push('}');
        }
        if let Some((k, v)) = f.data.fields.0.get(i) {
            sep(&mut s);
            write_py_str_repr(k, &mut s);
            s.push_str(": ");
            v.write_repr(&mut s);
        }
    }
    if let Some(ip) = &f.data.ip {
        sep(&mut s);
        s.push_str("'ip': ");
        write_py_str_repr(&ip.to_string(), &mut s);
    }
    if !f.data.nofail_matches.is_empty() {
        sep(&mut s);
        s.push_str("'nofail-matches': ");
        Value::List(
            f.data
                .nofail_matches
                .iter()
                .map(|m| Value::str(m.clone()))
                .collect(),
        )
        .write_repr(&mut s);
    }
    s.push_str("}],");
    s
}

/// Replaces `<tag>`s of a template; `msg` stands for the matched text given.
fn expand(fmt: &str, f: &Failure, msg: &str, int_time: bool) -> String {
    let mut out = String::new();
    let mut rest = fmt;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find(['>', '<']);
        match close {
            Some(c) if after.as_bytes()[c] == b'>' && c > 0 => {
                let tag = &after[..c];
                match tag_value(tag, f, msg, int_time) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('<');
                        out.push_str(tag);
                        out.push('>');
                    }
                }
                rest = &after[c + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn tag_value(tag: &str, f: &Failure, msg: &str, int_time: bool) -> Option<String> {
    if let Some(name) = tag.strip_prefix("F-") {
        let key = name.to_lowercase();
        return Some(
            f.data
                .fields
                .get(&key)
                .map(Value::to_py_str)
                .unwrap_or_default(),
        );
    }
    let ip = f.data.ip.as_ref().or(f.id.as_ref());
    Some(match tag {
        "ip" => ip.map(|i| i.to_string()).unwrap_or_default(),
        "fid" => id_str(f),
        // A ticket without a time takes the clock's (`row` shows the bare None).
        "time" if f.time.is_none() => py_float_repr(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        ),
        "time" => time_repr(f, int_time),
        "failures" => "0".to_string(),
        "br" => "\n".to_string(),
        "sp" => " ".to_string(),
        "msg" | "matches" => msg.to_string(),
        "family" => match ip.and_then(|i| i.family()) {
            Some(fam) => fam.as_str().to_string(),
            None => String::new(),
        },
        "ip-rev" => ip.map(rev).unwrap_or_default(),
        _ => return None,
    })
}

fn rev(ip: &crate::filter::addr::IpAddr) -> String {
    let s = ip.ntoa();
    if s.contains(':') {
        let hex = format!("{:032x}", ip.addr());
        let mut r: Vec<String> = hex.chars().rev().map(|c| c.to_string()).collect();
        r.push(String::new());
        r.join(".")
    } else {
        let mut parts: Vec<&str> = s.split('.').collect();
        parts.reverse();
        format!("{}.", parts.join("."))
    }
}

/// `-o matches`: Python's `str()` of the matched lines as fail2ban keeps them, tuples of
/// (text before the date, date, text after); `date_span` finds a line's date.
pub fn matches_repr(
    f: &Failure,
    date_span: &mut dyn FnMut(&str) -> Option<(usize, usize)>,
) -> String {
    let mut s = String::from("[");
    for (i, m) in f.data.matches.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let (a, b) = date_span(m).unwrap_or((0, 0));
        let parts = if (a, b) == (0, 0) {
            ["", "", m.as_str()]
        } else {
            [&m[..a], &m[a..b], &m[b..]]
        };
        s.push('(');
        for (j, p) in parts.iter().enumerate() {
            if j > 0 {
                s.push_str(", ");
            }
            write_py_str_repr(p, &mut s);
        }
        s.push(')');
    }
    s.push(']');
    s
}

/// Whether format `fmt` prints the failure's time (only then is the zone probe needed).
pub fn shows_time(fmt: &str) -> bool {
    fmt == "row" || fmt.contains("<time>")
}

fn push_line(out: &mut String, s: &str) {
    out.push_str(s);
    out.push('\n');
}

/// Appends the output lines (each ended by `\n`) for one failure in format `fmt`.
pub fn format_failure(fmt: &str, f: &Failure, int_time: bool, out: &mut String) {
    use std::fmt::Write;
    match fmt {
        "id" | "fid" => push_line(out, &id_str(f)),
        "ip" => {
            // The hot path of scripted use: no temporary strings.
            let _ = match f.data.ip.as_ref().or(f.id.as_ref()) {
                Some(ip) => writeln!(out, "{ip}"),
                None => writeln!(out, "None"),
            };
        }
        "msg" => {
            for m in &f.data.matches {
                push_line(out, m);
            }
        }
        "row" => push_line(out, &row(f, int_time)),
        w if !w.contains('<') => push_line(out, &field_str(f, w)),
        _ => {
            let uses_msg = fmt.contains("<msg>") || fmt.contains("<matches>");
            if uses_msg && f.data.matches.len() > 1 {
                for m in &f.data.matches {
                    push_line(out, &expand(fmt, f, m, int_time));
                }
            } else {
                push_line(out, &expand(fmt, f, &f.data.matches.join("\n"), int_time));
            }
        }
    }
}
