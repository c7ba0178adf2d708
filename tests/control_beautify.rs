//! gaol's beautifier against fail2ban's own `Beautifier` (tests/oracle/beautify_oracle.py):
//! the same (command, reply) pairs must print the same text and flag the same fallbacks.

mod control_support;

use gaol::control::beautify::{beautify, beautify_error};
use gaol::control::pickle::ExcReply;
use gaol::stream::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

fn s(x: &str) -> Value {
    Value::str(x)
}
fn l(x: Vec<Value>) -> Value {
    Value::List(x)
}
fn t(x: Vec<Value>) -> Value {
    Value::Tuple(x)
}
fn i(n: i64) -> Value {
    Value::Int(n)
}
fn strs(x: &[&str]) -> Value {
    l(x.iter().map(|a| s(a)).collect())
}
fn pair(a: &str, b: Value) -> Value {
    t(vec![s(a), b])
}

fn jail_status(ips: Value, files: Value) -> Value {
    l(vec![
        pair(
            "Filter",
            l(vec![
                pair("Currently failed", i(2)),
                pair("Total failed", i(3)),
                pair("File list", files),
            ]),
        ),
        pair(
            "Actions",
            l(vec![
                pair("Currently banned", i(1)),
                pair("Total banned", i(1)),
                pair("Banned IP list", ips),
            ]),
        ),
    ])
}

/// (command, reply) pairs: every format, its empty and multi-item forms, and replies
/// of the wrong shape (fallback text).
fn cases() -> Vec<(&'static str, Value)> {
    let regexes = strs(&["^a <HOST>$", "^b (?P<ip4>x)"]);
    vec![
        ("ping", s("pong")),
        ("ping 0.5", s("pong")),
        ("ping", i(1)),
        ("version", s("1.0.2")),
        ("version", Value::None),
        ("start sshd", Value::None),
        ("stop", Value::None),
        ("stop", s("x")),
        ("stop sshd", Value::None),
        ("stop --all", i(3)),
        ("add sshd", s("sshd")),
        ("add sshd polling", i(1)),
        ("flushlogs", s("rolled over")),
        ("flushlogs", s("flushed")),
        ("echo a b", strs(&["a", "b"])),
        ("echo", l(vec![])),
        ("echo", s("abc")),
        ("echo 1", l(vec![i(1)])),
        ("echo x", t(vec![s("x"), s("y")])),
        (
            "status",
            l(vec![
                pair("Number of jail", i(2)),
                pair("Jail list", s("sshd, test")),
            ]),
        ),
        (
            "status",
            l(vec![pair("Number of jail", i(0)), pair("Jail list", s(""))]),
        ),
        ("status", l(vec![])),
        (
            "status",
            l(vec![
                pair("List", strs(&["a", "b"])),
                pair("Tuple", t(vec![s("a")])),
            ]),
        ),
        ("status", s("broken")),
        ("status", l(vec![s("x")])),
        (
            "status sshd",
            jail_status(
                strs(&["192.0.2.1", "2001:db8::1"]),
                strs(&["/var/log/auth.log"]),
            ),
        ),
        ("status sshd", jail_status(l(vec![]), l(vec![]))),
        (
            "status sshd basic",
            jail_status(strs(&["1.2.3.4"]), strs(&["/a", "/b"])),
        ),
        (
            "status sshd short",
            l(vec![
                pair(
                    "Filter",
                    l(vec![
                        pair("Currently failed", i(0)),
                        pair(
                            "Journal matches",
                            strs(&["_SYSTEMD_UNIT=sshd.service + _COMM=sshd"]),
                        ),
                    ]),
                ),
                pair(
                    "Actions",
                    l(vec![
                        pair("Currently banned", i(0)),
                        pair("Total banned", i(0)),
                    ]),
                ),
            ]),
        ),
        (
            "status sshd cymru",
            l(vec![pair(
                "Actions",
                l(vec![pair("Banned ASN list", s("error"))]),
            )]),
        ),
        ("status sshd", l(vec![pair("Filter", l(vec![]))])),
        ("status sshd", l(vec![pair("Filter", i(3))])),
        ("status sshd", i(3)),
        ("get syslogsocket", s("auto")),
        ("set syslogsocket", s("/dev/log")),
        ("get logtarget", s("/var/log/fail2ban.log")),
        ("get logtarget", Value::None),
        ("get loglevel", s("INFO")),
        ("set loglevel", s("20")),
        ("get loglevel", i(20)),
        ("get loglevel", i(25)),
        ("get loglevel", i(13)),
        ("get loglevel", i(60)),
        ("get loglevel", Value::Bool(true)),
        ("get loglevel", Value::None),
        ("get dbfile", s("/var/lib/fail2ban/fail2ban.sqlite3")),
        ("get dbfile", Value::None),
        ("get dbfile", i(3)),
        ("get dbpurgeage", i(86400)),
        ("get dbpurgeage", Value::Float(3.7)),
        ("get dbpurgeage", Value::None),
        ("get dbpurgeage", s("1d")),
        ("get dbmaxmatches", i(10)),
        ("get sshd logpath", strs(&["/var/log/auth.log"])),
        ("get sshd logpath", strs(&["/a", "/b", "/c"])),
        ("get sshd logpath", l(vec![])),
        ("set sshd addlogpath", strs(&["/a"])),
        ("set sshd dellogpath", l(vec![])),
        ("get sshd logpath", Value::None),
        ("get sshd logpath", l(vec![s("/a"), i(1)])),
        ("get sshd logencoding", s("UTF-8")),
        (
            "get sshd journalmatch",
            l(vec![
                strs(&["_SYSTEMD_UNIT=sshd.service", "_COMM=sshd"]),
                strs(&["_COMM=x"]),
            ]),
        ),
        ("get sshd journalmatch", l(vec![])),
        ("set sshd addjournalmatch", l(vec![strs(&["A=1"])])),
        (
            "get sshd datepattern",
            t(vec![s("%Y-%m-%d"), s("Year-Month-Day")]),
        ),
        (
            "get sshd datepattern",
            t(vec![Value::None, s("Default Detectors")]),
        ),
        ("get sshd datepattern", Value::None),
        ("get sshd datepattern", l(vec![s("a"), s("b")])),
        ("get sshd datepattern", t(vec![s("a"), s("b"), s("c")])),
        ("get sshd ignoreip", strs(&["127.0.0.1/8", "::1"])),
        ("get sshd ignoreip", l(vec![])),
        ("set sshd addignoreip", strs(&["1.2.3.4"])),
        ("set sshd delignoreip", l(vec![])),
        ("get sshd failregex", regexes.clone()),
        ("get sshd failregex", l(vec![])),
        ("set sshd addfailregex", strs(&["^x$"])),
        ("set sshd delfailregex", regexes.clone()),
        ("get sshd ignoreregex", regexes.clone()),
        ("set sshd addignoreregex", l(vec![])),
        ("set sshd delignoreregex", strs(&["a"])),
        (
            "get sshd actions",
            strs(&["iptables-multiport", "sendmail"]),
        ),
        ("get sshd actions", l(vec![])),
        (
            "get sshd actionproperties iptables",
            strs(&["actionban", "actionstart"]),
        ),
        ("get sshd actionproperties iptables", l(vec![])),
        ("get sshd actionproperties", strs(&["a"])),
        ("get sshd actionmethods iptables", strs(&["ban", "unban"])),
        ("get sshd actionmethods iptables", l(vec![])),
        ("get sshd banip", strs(&["192.0.2.1", "192.0.2.2"])),
        ("get sshd banip", l(vec![])),
        ("get sshd banip ,", strs(&["192.0.2.1", "192.0.2.2"])),
        (
            "get sshd banip --with-time",
            strs(&[
                "1.2.3.4 \t2026-11-21 15:52:46 + 20 = 2026-11-21 15:53:06",
                "5.6.7.8 \t2026-11-21 15:52:46 + -1 = 9999-12-31 23:59:59",
            ]),
        ),
        ("get sshd banip", i(0)),
        ("set sshd banip", i(2)),
        ("get sshd banned", strs(&["192.0.2.5"])),
        ("get sshd banned 1.2.3.4", i(1)),
        (
            "banned",
            l(vec![
                Value::Dict(vec![(s("sshd"), strs(&["1.2.3.4"]))]),
                Value::Dict(vec![(s("t"), l(vec![]))]),
            ]),
        ),
        (
            "banned 1.2.3.4 5.6.7.8",
            l(vec![strs(&["sshd"]), l(vec![])]),
        ),
        ("get sshd bantime", i(600)),
        ("get sshd bantime.increment", Value::Bool(true)),
        ("get sshd bantime.factor", Value::None),
        ("get sshd usedns", s("warn")),
        ("get sshd prefregex", s("")),
        ("get sshd ignorecommand", s("")),
        ("get sshd ignorecache", l(vec![s("<ip>"), i(100), i(300)])),
        ("get sshd logtimezone", Value::None),
        ("get sshd findtime", Value::Float(0.5)),
        (
            "get sshd action iptables actionban",
            s("iptables -I f2b-<name> 1 -s <ip> -j <blocktype>\nline2"),
        ),
        ("set thread", Value::Dict(vec![(s("stacksize"), i(32))])),
        ("reload --all", s("OK")),
        ("server-status", s("Server ready")),
        ("unban --all", i(0)),
        ("get", s("x")),
        ("set", s("quoted 'x' \"y\"")),
    ]
}

fn exceptions() -> Vec<(&'static str, ExcReply)> {
    vec![
        (
            "get nosuch maxretry",
            ExcReply::new("fail2ban.exceptions", "UnknownJailException", "nosuch"),
        ),
        (
            "add sshd",
            ExcReply::new("fail2ban.exceptions", "DuplicateJailException", "sshd"),
        ),
        (
            "set sshd unbanip",
            ExcReply::new("builtins", "IndexError", "list index out of range"),
        ),
        (
            "bogus",
            ExcReply::new("builtins", "Exception", "Invalid command"),
        ),
        (
            "set sshd maxretry abc",
            ExcReply::new(
                "builtins",
                "ValueError",
                "invalid literal for int() with base 10: 'abc'",
            ),
        ),
        (
            "get sshd action x y",
            ExcReply::new("builtins", "KeyError", "Invalid Action name: x"),
        ),
        (
            "set sshd addfailregex ((",
            ExcReply::new(
                "fail2ban.server.failregex",
                "RegexException",
                "Unable to compile regular expression '((':\nmissing )",
            ),
        ),
        (
            "echo",
            ExcReply {
                module: "builtins".into(),
                name: "Exception".into(),
                args: vec![s("a"), i(1)],
            },
        ),
        (
            "echo",
            ExcReply {
                module: "builtins".into(),
                name: "Exception".into(),
                args: vec![],
            },
        ),
    ]
}

fn words(c: &str) -> Vec<String> {
    c.split(' ').map(String::from).collect()
}

#[test]
fn beautifier_matches_fail2ban() {
    if !control_support::have_fail2ban() {
        return;
    }
    let mut child = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/oracle/beautify_oracle.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut input = String::new();
    let mut ours = Vec::new();
    for (c, r) in cases() {
        let req = serde_json::json!({"cmd": words(c), "resp": r.to_string()});
        input.push_str(&req.to_string());
        input.push('\n');
        let b = beautify(&words(c), &r);
        ours.push((format!("{c} <- {r}"), b.text, b.fallback));
    }
    for (c, e) in exceptions() {
        let args = Value::Tuple(e.args.clone()).to_string();
        let req = serde_json::json!({"cmd": words(c), "exc": [e.module, e.name, args]});
        input.push_str(&req.to_string());
        input.push('\n');
        ours.push((format!("{c} <- {e}"), beautify_error(&e), false));
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut n = 0;
    let mut diffs = Vec::new();
    for (line, (what, text, fallback)) in out.lines().zip(&ours) {
        let (want_text, want_fb): (String, bool) = serde_json::from_str(&line.unwrap()).unwrap();
        if (&want_text, want_fb) != (text, *fallback) {
            diffs.push(format!(
                "{what}\n  fail2ban: {want_text:?} {want_fb}\n  gaol:     {text:?} {fallback}"
            ));
        }
        n += 1;
    }
    writer.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(n, ours.len(), "oracle answered every case");
    assert!(
        diffs.is_empty(),
        "{} of {n} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
