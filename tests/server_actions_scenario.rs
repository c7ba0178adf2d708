//! Scenarios against fail2ban itself: the same actions and steps (start, bans, broken
//! firewall state, unbans, flush, stop) run once with fail2ban's Actions/CommandAction
//! (tests/oracle/action_scenario.py) and once with gaol's JailActions, both executing
//! the commands for real in their own temp directory. The commands' side effects (an
//! `ops` journal) and the log records of `fail2ban.actions` / `fail2ban.CommandAction`
//! must be the same. One test fn: the logger is process-wide.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use gaol::server::action::{CommandAction, Family, JailActions, MapInfo, TagSource};
use gaol::server::log::{self, LogLevel, Target};

mod common;

type Props = Vec<(&'static str, &'static str)>;

struct Scenario {
    name: &'static str,
    actions: Vec<(&'static str, Props)>,
    steps: Vec<(&'static str, &'static str)>,
}

fn scenarios() -> Vec<Scenario> {
    let fw: Props = vec![
        (
            "actionstart",
            "echo start <family> >> D/ops; touch D/up-<family>",
        ),
        (
            "actionstop",
            "echo stop <family> >> D/ops; rm -f D/up-<family>",
        ),
        ("actioncheck", "test -f D/up-<family>"),
        (
            "actionrepair",
            "echo repair <family> >> D/ops; touch D/up-<family>",
        ),
        (
            "actionban",
            "test -f D/up-<family> && echo ban <ip> <family> >> D/ops",
        ),
        (
            "actionunban",
            "test -f D/up-<family> && echo unban <ip> >> D/ops",
        ),
        ("x?family=inet6", "6"),
    ];
    let plain: Props = vec![
        ("actionstart", "echo start >> D/ops; touch D/up"),
        ("actionstop", "echo stop >> D/ops; rm -f D/up"),
        ("actioncheck", "test -f D/up"),
        ("actionban", "test -f D/up && echo ban <ip> >> D/ops"),
        ("actionunban", "test -f D/up && echo unban <ip> >> D/ops"),
    ];
    vec![
        Scenario {
            name: "repair per family, on demand",
            actions: vec![("fw", fw.clone())],
            steps: vec![
                ("start", ""),
                ("ban", "192.0.2.1"),
                ("ban", "2001:db8::1"),
                ("rm", "D/up-inet4"),
                ("ban", "192.0.2.2"),
                ("rm", "D/up-inet6"),
                ("unban", "2001:db8::1"),
                ("unban", "192.0.2.1"),
                ("rm", "D/up-inet4"),
                ("check", ""),
                ("flush", ""),
                ("stop", ""),
            ],
        },
        Scenario {
            name: "restart without repair, raw ids, unban impossible",
            actions: vec![("plain", plain.clone())],
            steps: vec![
                ("start", ""),
                ("ban", "192.0.2.1"),
                ("rm", "D/up"),
                ("ban", "192.0.2.2"),
                ("ban", "user1"),
                ("rm", "D/up"),
                ("unban", "192.0.2.1"),
                ("unban", "user1"),
                ("stop", ""),
            ],
        },
        Scenario {
            name: "two actions, failing flush, failing start",
            actions: vec![
                (
                    "flusher",
                    vec![
                        ("actionban", "echo f-ban <ip> >> D/ops"),
                        ("actionflush", "echo f-flush >> D/ops; exit 1"),
                        ("actioncheck", "test -f D/ok"),
                        ("actionstop", "echo f-stop >> D/ops"),
                    ],
                ),
                (
                    "unbanner",
                    vec![
                        ("actionstart", "echo u-start >> D/ops; exit 4"),
                        ("actionban", "echo u-ban <ip> >> D/ops"),
                        ("actionunban", "echo u-unban <ip> >> D/ops"),
                        ("actionstop", "echo u-stop >> D/ops"),
                    ],
                ),
                ("cond", fw),
            ],
            steps: vec![
                ("start", ""),
                ("ban", "192.0.2.5"),
                ("ban", "2001:db8::5"),
                ("flush", ""),
                ("stop", ""),
            ],
        },
        Scenario {
            name: "flush with a sane check",
            actions: vec![(
                "flusher",
                vec![
                    ("actionban", "echo f-ban <ip> >> D/ops"),
                    ("actionflush", "echo f-flush >> D/ops; exit 1"),
                    ("actioncheck", "test -f D/ok"),
                    ("actionrepair_on_unban", "1"),
                ],
            )],
            steps: vec![
                ("touch", "D/ok"),
                ("ban", "192.0.2.6"),
                ("flush", ""),
                ("ban", "192.0.2.7"),
                ("rm", "D/ok"),
                ("flush", ""),
            ],
        },
    ]
}

fn subst(s: &str, d: &Path) -> String {
    s.replace("D/", &format!("{}/", d.display()))
}

fn run_python(sc: &Scenario, d: &Path) -> Vec<(String, String)> {
    let actions: Vec<serde_json::Value> = sc
        .actions
        .iter()
        .map(|(n, props)| {
            let p: Vec<serde_json::Value> = props
                .iter()
                .map(|(k, v)| serde_json::json!([k, subst(v, d)]))
                .collect();
            serde_json::json!([n, p])
        })
        .collect();
    let steps: Vec<serde_json::Value> = sc
        .steps
        .iter()
        .map(|(op, a)| serde_json::json!([op, subst(a, d)]))
        .collect();
    let req = serde_json::json!({"actions": actions, "steps": steps});
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/oracle/action_scenario.py"
    );
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "oracle failed for {}", sc.name);
    let recs: Vec<(String, String)> = serde_json::from_slice(&out.stdout).unwrap();
    recs
}

fn ticket(ip: &str) -> MapInfo {
    MapInfo::for_id(ip, 1795276366.0)
}

fn run_gaol(sc: &Scenario, d: &Path) -> Vec<(String, String)> {
    log::set_level(LogLevel::INFO);
    log::set_target(Target::Memory(Vec::new()));
    gaol::server::action::set_allow_ipv6(Some(true));
    let mut ja = JailActions::new("test");
    for (n, props) in &sc.actions {
        let mut a = CommandAction::new("test", n);
        for (k, v) in props {
            a.set_property(k, &subst(v, d));
        }
        ja.add(a).unwrap();
    }
    let mut banned: Vec<MapInfo> = Vec::new();
    let notice = |m: String| log::emit(LogLevel::NOTICE, "fail2ban.actions", &m);
    for (op, arg) in &sc.steps {
        let arg = subst(arg, d);
        match *op {
            "start" => ja.start(),
            "ban" => {
                // What the jail does around the actions: log, then ban.
                notice(format!("[test] Ban {arg}"));
                let t = ticket(&arg);
                ja.ban(&t, Family::of_id(&arg), false);
                banned.push(t);
            }
            "unban" => {
                notice(format!("[test] Unban {arg}"));
                let i = banned
                    .iter()
                    .position(|t| t.get("ip").as_deref() == Some(arg.as_str()))
                    .unwrap();
                let t = banned.remove(i);
                ja.unban(&t, Family::of_id(&arg));
            }
            "flush" => {
                let refs: Vec<&dyn TagSource> =
                    banned.iter().map(|t| t as &dyn TagSource).collect();
                ja.flush(&refs);
                banned.clear();
            }
            "check" => ja.consistency_check(),
            "stop" => ja.stop(),
            "touch" => std::fs::write(&arg, "").unwrap(),
            "rm" => std::fs::remove_file(&arg).unwrap(),
            other => panic!("unknown step {other}"),
        }
    }
    let Target::Memory(lines) = log::set_target(Target::Discard) else {
        panic!("memory target")
    };
    lines
        .iter()
        .filter_map(|l| {
            let (head, rest) = l.split_once("]: ")?;
            if !(head.contains("fail2ban.actions ") || head.contains("fail2ban.CommandAction ")) {
                return None;
            }
            let (lvl, msg) = rest.split_once(' ')?;
            Some((lvl.to_string(), msg.trim_start().to_string()))
        })
        .collect()
}

/// fail2ban prints its ActionInfo object in error lines; compare without it.
fn normalize(recs: Vec<(String, String)>) -> Vec<(String, String)> {
    let re = regex::Regex::new(r"(?s) info '.*': ").unwrap();
    recs.into_iter()
        .map(|(l, m)| (l, re.replace(&m, " info '…': ").into_owned()))
        .collect()
}

#[test]
fn scenarios_match_fail2ban() {
    if !common::have_oracle() {
        return;
    }
    for sc in scenarios() {
        let (pd, gd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let theirs = normalize(run_python(&sc, pd.path()));
        let ours = normalize(run_gaol(&sc, gd.path()));
        let ops = |d: &Path| std::fs::read_to_string(d.join("ops")).unwrap_or_default();
        assert_eq!(ops(pd.path()), ops(gd.path()), "{}: commands run", sc.name);
        assert!(!ops(gd.path()).is_empty(), "{}: nothing ran", sc.name);
        assert_eq!(theirs, ours, "{}: log records", sc.name);
        if std::env::var("GAOL_DUMP").is_ok() {
            eprintln!("== {}\n{}{:#?}", sc.name, ops(gd.path()), ours);
        }
    }
}
