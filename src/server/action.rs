//! fail2ban's command actions.
//!
//! Data flow: the stream's `set J action A key value` lines fill a
//! [`CommandAction`] (properties); [`JailActions`] holds a jail's actions in order and
//! runs their operations (start, ban, unban, flush, stop, reload, prolong, reban). An
//! operation's command goes through the static tag pass (the action's properties,
//! per family, in `command`) and then [`replace_dynamic_tags`] with the ticket's values
//! (a [`TagSource`]), giving a [`PreparedCommand`]: values carrying shell metacharacters
//! never enter the script text; they travel as positional parameters bound to
//! `f2bV_<tag>` variables, exactly as fail2ban 1.0.2 does. [`execute`] runs it
//! (`/bin/sh -c`, own process group, timeout, one at a time).

mod batch;
mod command;
mod exec;
mod info;
mod jail;
mod pool;
mod static_pass;

pub use batch::batch_shells_started;
pub use command::{CommandAction, Runner, default_runner};
pub use exec::{ExecResult, display_command, execute, execute_codes};
pub use info::{Counters, Family, MapInfo, ip_rev, ipv6_allowed, own_hostname, set_allow_ipv6};
pub use jail::{JailActions, family_of, python_unsupported, runner};
pub(crate) use pool::restore_slots;

use regex::Regex;
use std::sync::OnceLock;

/// Dynamic values of one ticket (fail2ban's `ActionInfo`).
pub trait TagSource {
    /// Value of a known dynamic tag (`ip`, `failures`, …); `None` if the tag is unknown.
    fn get(&self, tag: &str) -> Option<String>;
    /// Ticket data field by its mapped name (`user`, `fid`, `fport`); `None` if missing.
    fn data(&self, key: &str) -> Option<String>;
    /// Host name tags that fall back when the source does not know a tag.
    fn hostname(&self, _fqdn: bool) -> String {
        String::new()
    }
}

/// A command ready for `/bin/sh -c script args…` (args become `$0`, `$1`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedCommand {
    pub script: String,
    pub args: Vec<String>,
}

impl PreparedCommand {
    /// A script run without positional arguments.
    pub fn plain(script: &str) -> PreparedCommand {
        PreparedCommand {
            script: script.to_string(),
            args: Vec::new(),
        }
    }
}

pub(crate) fn tag_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Invariant: constant pattern.
    RE.get_or_init(|| Regex::new(r"<([^ <>]+)>").expect("static regex"))
}

fn ftag_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"<F-([A-Z0-9_\-]+)>").expect("static regex"))
}

/// Characters that make a dynamic value unsafe to paste into a shell command.
fn is_special(c: char) -> bool {
    matches!(
        c,
        '\\' | '#'
            | '&'
            | ';'
            | '`'
            | '|'
            | '*'
            | '?'
            | '~'
            | '<'
            | '>'
            | '^'
            | '('
            | ')'
            | '['
            | ']'
            | '{'
            | '}'
            | '$'
            | '\''
            | '"'
            | '\n'
            | '\r'
    )
}

/// Backslash-escape (static pass for `<matches>` & co): newline → `\n`, CR → `\r`.
pub fn escape_tag(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if is_special(c) {
            out.push('\\');
            out.push(match c {
                '\n' => 'n',
                '\r' => 'r',
                c => c,
            });
        } else {
            out.push(c);
        }
    }
    out
}

/// Maps a `<F-NAME>` group name to the ticket data key (fail2ban's `mapTag2Opt`).
pub fn map_tag_to_opt(tag: &str) -> String {
    let t = tag.to_lowercase();
    match t.as_str() {
        "id" => "fid".into(),
        "port" => "fport".into(),
        _ => t,
    }
}

fn var_name(tag: &str) -> String {
    let mut s = String::from("f2bV_");
    for c in tag.chars() {
        s.push(if c.is_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        });
    }
    s
}

struct Vars(Vec<(String, String)>);

impl Vars {
    fn escape(&mut self, tag: &str, value: String) -> String {
        if !value.chars().any(is_special) {
            return value;
        }
        let name = var_name(tag);
        // Like a Python dict: a repeated name keeps its slot, the last value wins.
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.clone(), value)),
        }
        format!("${name}")
    }
}

fn fallback(tag: &str, src: &dyn TagSource) -> Option<String> {
    match tag {
        "br" => Some("\n".into()),
        "sp" => Some(" ".into()),
        "fq-hostname" => Some(src.hostname(true)),
        "sh-hostname" => Some(src.hostname(false)),
        _ => None,
    }
}

/// The dynamic pass: not recursive, unsafe values passed as variables.
pub fn replace_dynamic_tags(cmd: &str, src: &dyn TagSource) -> PreparedCommand {
    let mut vars = Vars(Vec::new());
    let cmd = tag_re()
        .replace_all(cmd, |c: &regex::Captures| {
            let tag = &c[1];
            match src.get(tag) {
                Some(v) => vars.escape(tag, v),
                None => fallback(tag, src).unwrap_or_else(|| c[0].to_string()),
            }
        })
        .into_owned();
    let cmd = if cmd.contains('<') {
        ftag_re()
            .replace_all(&cmd, |c: &regex::Captures| {
                let key = map_tag_to_opt(&c[1]);
                match src.data(&key) {
                    Some(v) => vars.escape(&format!("F_{key}"), v),
                    None => String::new(),
                }
            })
            .into_owned()
    } else {
        cmd
    };
    if vars.0.is_empty() {
        return PreparedCommand {
            script: cmd,
            args: Vec::new(),
        };
    }
    let mut head = String::new();
    for (i, (k, _)) in vars.0.iter().enumerate() {
        // fail2ban writes `$10`, which sh reads as `${1}0`: braces keep the 11th and
        // later values intact (identical text below ten).
        if i < 10 {
            head.push_str(&format!("{k}=${i} "));
        } else {
            head.push_str(&format!("{k}=${{{i}}} "));
        }
    }
    PreparedCommand {
        script: format!("{head}\n{cmd}"),
        args: vars.0.into_iter().map(|(_, v)| v).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Src(HashMap<&'static str, String>, HashMap<&'static str, String>);
    impl TagSource for Src {
        fn get(&self, t: &str) -> Option<String> {
            self.0.get(t).cloned()
        }
        fn data(&self, k: &str) -> Option<String> {
            self.1.get(k).cloned()
        }
    }

    #[test]
    fn spec_capture_escaping() {
        // Captured from fail2ban 1.0.2 (compat-spec §4.9.4).
        let src = Src(
            HashMap::from([
                ("ip", "192.0.2.1".to_string()),
                ("failures", "3".to_string()),
                ("matches", "line1 $(id)\nline2 \"q\"".to_string()),
            ]),
            HashMap::from([
                ("user", "bob'; rm -rf /".to_string()),
                ("fid", "192.0.2.1".to_string()),
            ]),
        );
        let p = replace_dynamic_tags(
            "echo <ip> <failures> \"<matches>\" <F-USER> <F-ID> <F-MISSING> <unknown> <br> <sp>x",
            &src,
        );
        assert_eq!(
            p.script,
            "f2bV_matches=$0 f2bV_F_user=$1 \necho 192.0.2.1 3 \"$f2bV_matches\" $f2bV_F_user 192.0.2.1  <unknown> \n  x"
        );
        assert_eq!(p.args, vec!["line1 $(id)\nline2 \"q\"", "bob'; rm -rf /"]);
    }

    #[test]
    fn escape_tag_matches_capture() {
        assert_eq!(escape_tag("a;b`c` $d"), "a\\;b\\`c\\` \\$d");
        assert_eq!(escape_tag("x\ny\r"), "x\\ny\\r");
    }
}
