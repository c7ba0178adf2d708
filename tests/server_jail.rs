//! End-to-end jail behaviour through `Server::execute`: real log file, real polling,
//! the matcher, failure counting, a file-writing shell action, a real SQLite file.

mod server_util;

use gaol::server::Server;
use server_util::*;

#[test]
fn ban_within_findtime_then_unban_after_bantime() {
    let env = Env::new();
    // A ban starts at the failure's (whole-second) time and is dropped as expired if it
    // is over when the line is read: 5 s leave room for polling and a slow machine.
    let srv = env.start(false, &[("bantime", "5")]);
    assert!(wait_for(60.0, || env
        .out_lines()
        .contains(&"start test".to_string())));
    env.append(&[line_now("192.0.2.1"), line_now("192.0.2.1")]);
    assert!(wait_for(60.0, || counters(&srv).1 == 2));
    assert_eq!(counters(&srv), (1, 2, 0, 0), "two failures: not banned yet");
    env.append(&[line_now("192.0.2.1")]);
    assert!(
        wait_for(60.0, || env
            .out_lines()
            .iter()
            .any(|l| l.starts_with("ban 192.0.2.1"))),
        "{:?}",
        env.out_lines()
    );
    let ban = env
        .out_lines()
        .into_iter()
        .find(|l| l.starts_with("ban "))
        .unwrap();
    assert_eq!(ban, "ban 192.0.2.1 3 5 1 0");
    let banned = srv.execute(&cmd(&["get", "test", "banned"])).unwrap();
    assert_eq!(banned.to_string(), "['192.0.2.1']");
    assert!(wait_for(60.0, || env
        .out_lines()
        .contains(&"unban 192.0.2.1".to_string())));
    assert_eq!(counters(&srv).2, 0);
    srv.execute(&cmd(&["stop", "test"])).unwrap();
    assert_eq!(env.out_lines().last().unwrap(), "stop test");
}

#[test]
fn failures_spread_beyond_findtime_do_not_ban() {
    let env = Env::new();
    let srv = env.start(false, &[("findtime", "2")]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    for i in 0..3 {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_millis(2600));
        }
        env.append(&[line_now("192.0.2.2")]);
    }
    assert!(wait_for(60.0, || counters(&srv).1 == 3));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(counters(&srv).3, 0, "{:?}", env.out_lines());
    assert!(!env.out_lines().iter().any(|l| l.starts_with("ban")));
    srv.shutdown();
}

#[test]
fn ignoreip_and_ignorecommand() {
    let env = Env::new();
    let srv = env.start(
        false,
        &[
            ("addignoreip", "192.0.2.0/24"),
            ("ignorecommand", r#"[ "<ip>" = "203.0.113.9" ]"#),
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut lines = Vec::new();
    for ip in ["192.0.2.7", "203.0.113.9", "198.51.100.7"] {
        for _ in 0..3 {
            lines.push(line_now(ip));
        }
    }
    env.append(&lines);
    assert!(wait_for(60.0, || env
        .out_lines()
        .iter()
        .any(|l| l.starts_with("ban "))));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let bans: Vec<String> = env
        .out_lines()
        .into_iter()
        .filter(|l| l.starts_with("ban "))
        .collect();
    assert_eq!(bans, vec!["ban 198.51.100.7 3 600 1 0"]);
    assert_eq!(counters(&srv).1, 3, "ignored failures are not counted");
    srv.shutdown();
}

#[test]
fn hostile_line_reaches_action_only_as_data() {
    let env = Env::new();
    let canary = env.path("pwned");
    let out = env.out.display().to_string();
    let srv = Server::new();
    let mut st = env.jail_stream(false, &[]);
    // A second action that passes the user and the matches to a shell.
    if let gaol::stream::Value::List(cmds) = &mut st[1] {
        let start = cmds.pop().unwrap();
        cmds.push(gaol::stream::Value::List(cmd(&[
            "set",
            "test",
            "addfailregex",
            r"Invalid user <F-USER>.+</F-USER> from <HOST>",
        ])));
        cmds.push(gaol::stream::Value::List(cmd(&[
            "set",
            "test",
            "addaction",
            "canary",
        ])));
        cmds.push(gaol::stream::Value::List(cmd(&[
            "set",
            "test",
            "action",
            "canary",
            "actionban",
            &format!(
                "printf 'user=%s\\n' \"<F-USER>\" >> {out}; printf 'm=%s\\n' \"<matches>\" >> {out}"
            ),
        ])));
        cmds.push(start);
    }
    srv.execute(&st).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let evil = format!("$(touch {0})`touch {0}`;touch {0}", canary.display());
    let ts = {
        use chrono::TimeZone;
        chrono::Local
            .timestamp_opt(now() as i64, 0)
            .unwrap()
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let lines: Vec<String> = (0..3)
        .map(|_| format!("{ts} host sshd[1]: Invalid user {evil} from 192.0.2.66"))
        .collect();
    env.append(&lines);
    assert!(wait_for(60.0, || env
        .out_lines()
        .iter()
        .any(|l| l.starts_with("user="))));
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!canary.exists(), "the hostile line was executed");
    let outl = env.out_lines();
    assert!(outl.contains(&format!("user={evil}")), "{outl:?}");
    srv.shutdown();
}

#[test]
fn unknown_jail_and_invalid_commands() {
    let srv = Server::new();
    let e = srv.execute(&cmd(&["status", "nojail"])).unwrap_err();
    assert_eq!(e.to_string(), "UnknownJailException('nojail')");
    let e = srv.execute(&cmd(&["nonsense"])).unwrap_err();
    assert_eq!(e.message(), "Invalid command");
    srv.execute(&cmd(&["add", "j1", "polling"])).unwrap();
    let e = srv.execute(&cmd(&["set", "j1", "foo", "1"])).unwrap_err();
    assert_eq!(
        e.message(),
        "Invalid command 'foo' (no set action or not yet implemented)"
    );
    let e = srv
        .execute(&cmd(&["set", "j1", "maxretry", "x"]))
        .unwrap_err();
    assert_eq!(e.name, "ValueError");
    assert_eq!(
        srv.execute(&cmd(&["set", "j1", "findtime", "1h"]))
            .unwrap()
            .to_string(),
        "3600"
    );
    // The first failing command of a stream aborts the rest.
    let st = vec![
        s("server-stream"),
        gaol::stream::Value::List(vec![
            gaol::stream::Value::List(cmd(&["set", "j1", "maxretry", "7"])),
            gaol::stream::Value::List(cmd(&["set", "j1", "addlogpath", "/nonexistent/x.log"])),
            gaol::stream::Value::List(cmd(&["set", "j1", "maxretry", "9"])),
        ]),
    ];
    let e = srv.execute(&st).unwrap_err();
    assert!(
        e.message().contains("No such file or directory"),
        "{}",
        e.message()
    );
    assert_eq!(
        srv.execute(&cmd(&["get", "j1", "maxretry"]))
            .unwrap()
            .to_string(),
        "7"
    );
}

#[test]
fn systemd_jail_stays_down_and_the_rest_runs() {
    let env = Env::new();
    let srv = Server::new();
    let st = vec![
        s("server-stream"),
        gaol::stream::Value::List(vec![
            gaol::stream::Value::List(cmd(&["add", "sd", "systemd"])),
            gaol::stream::Value::List(cmd(&["start", "sd"])),
            gaol::stream::Value::List(cmd(&["add", "test", "polling"])),
            gaol::stream::Value::List(cmd(&[
                "set",
                "test",
                "addlogpath",
                &env.log.display().to_string(),
            ])),
            gaol::stream::Value::List(cmd(&["start", "test"])),
        ]),
    ];
    srv.execute(&st).unwrap();
    let status = srv.execute(&cmd(&["status"])).unwrap().to_string();
    assert_eq!(status, "[('Number of jail', 2), ('Jail list', 'sd, test')]");
    srv.shutdown();
}

/// A failure left alone is forgotten once `findtime` has passed, while the log stays
/// quiet (the idle cleanup, run by a timer of the filter workers).
#[test]
fn a_quiet_jail_forgets_failures_after_findtime() {
    let env = Env::new();
    let srv = env.start(false, &[("findtime", "2")]);
    env.append(&[line_now("192.0.2.9")]);
    assert!(wait_for(60.0, || counters(&srv).1 == 1));
    assert_eq!(counters(&srv).0, 1, "one id with failures pending");
    assert!(
        wait_for(30.0, || counters(&srv).0 == 0),
        "still pending: {:?}",
        counters(&srv)
    );
    assert_eq!(counters(&srv).1, 1, "the total keeps it");
    srv.shutdown();
}
