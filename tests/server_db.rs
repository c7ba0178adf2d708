//! Server + real SQLite file: bans restored after a restart, bantime.increment across a
//! restart, log positions resumed (no line lost or counted twice).

mod server_util;

use server_util::*;

#[test]
fn restart_restores_bans() {
    let env = Env::new();
    let srv = env.start(true, &[]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let n = srv
        .execute(&cmd(&["set", "test", "banip", "192.0.2.10", "192.0.2.11"]))
        .unwrap();
    assert_eq!(n.to_string(), "2");
    let n = srv
        .execute(&cmd(&["set", "test", "banip", "192.0.2.10"]))
        .unwrap();
    assert_eq!(n.to_string(), "0", "already banned");
    srv.shutdown();
    let out = env.out_lines();
    assert!(
        out.contains(&"unban 192.0.2.10".to_string()),
        "flushed on stop: {out:?}"
    );
    std::fs::write(&env.out, "").unwrap();
    // A second server on the same DB restores both (restored = 1), through the jail's
    // actions thread as fail2ban's queue does.
    let srv = env.start(true, &[]);
    let ban_lines = || {
        env.out_lines()
            .into_iter()
            .filter(|l| l.starts_with("ban "))
            .count()
    };
    assert!(wait_for(60.0, || ban_lines() >= 2), "{:?}", env.out_lines());
    let out = env.out_lines();
    let mut bans: Vec<&String> = out.iter().filter(|l| l.starts_with("ban ")).collect();
    bans.sort();
    assert_eq!(
        bans,
        vec!["ban 192.0.2.10 0 600 2 1", "ban 192.0.2.11 0 600 2 1"]
    );
    // unbanip deletes from the DB: a third start restores only one.
    let n = srv
        .execute(&cmd(&["set", "test", "unbanip", "192.0.2.10"]))
        .unwrap();
    assert_eq!(n.to_string(), "1");
    srv.shutdown();
    std::fs::write(&env.out, "").unwrap();
    let srv = env.start(true, &[]);
    assert!(wait_for(60.0, || ban_lines() >= 1));
    // Give a wrongly restored second ban the time to show up.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let bans: Vec<String> = env
        .out_lines()
        .into_iter()
        .filter(|l| l.starts_with("ban "))
        .collect();
    assert_eq!(bans, vec!["ban 192.0.2.11 0 600 2 1"]);
    srv.shutdown();
}

#[test]
fn bantime_increment_across_restart() {
    let env = Env::new();
    // A ban starts at the failure's (whole-second) time and is dropped as expired if it
    // is over when the line is read: 5 s leave room for polling and a slow machine.
    let opts = [("bantime", "5"), ("bantime.increment", "true")];
    let srv = env.start(true, &opts);
    std::thread::sleep(std::time::Duration::from_millis(300));
    env.append(&[
        line_now("192.0.2.20"),
        line_now("192.0.2.20"),
        line_now("192.0.2.20"),
    ]);
    assert!(
        wait_for(60.0, || env
            .out_lines()
            .contains(&"unban 192.0.2.20".to_string())),
        "{:?} {:?}",
        env.out_lines(),
        counters(&srv)
    );
    srv.shutdown();
    let srv = env.start(true, &opts);
    std::thread::sleep(std::time::Duration::from_millis(300));
    env.append(&[
        line_now("192.0.2.20"),
        line_now("192.0.2.20"),
        line_now("192.0.2.20"),
    ]);
    assert!(wait_for(60.0, || env
        .out_lines()
        .iter()
        .filter(|l| l.starts_with("ban "))
        .count()
        == 2));
    let bans: Vec<String> = env
        .out_lines()
        .into_iter()
        .filter(|l| l.starts_with("ban "))
        .collect();
    // Second ban: bancount 2 (the action still sees the base time, as in fail2ban).
    assert_eq!(
        bans,
        vec!["ban 192.0.2.20 3 5 1 0", "ban 192.0.2.20 3 5 2 0"]
    );
    let with_time = srv
        .execute(&cmd(&["get", "test", "banip", "--with-time"]))
        .unwrap()
        .to_string();
    assert!(with_time.contains(" + 10 = "), "{with_time}");
    srv.shutdown();
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    let rows: Vec<(String, i64, i64)> = conn
        .prepare("SELECT ip, bantime, bancount FROM bans ORDER BY rowid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![
            ("192.0.2.20".to_string(), 5, 1),
            ("192.0.2.20".to_string(), 10, 2)
        ]
    );
}

#[test]
fn positions_resume_without_loss_or_double_count() {
    let env = Env::new();
    let srv = env.start(true, &[]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    env.append(&[line_now("192.0.2.30"), line_now("192.0.2.31")]);
    assert!(wait_for(60.0, || counters(&srv).1 == 2));
    std::thread::sleep(std::time::Duration::from_millis(200));
    srv.shutdown();
    // Lines written while the server is down are read on the next start, old ones not.
    env.append(&[line_now("192.0.2.32")]);
    let srv = env.start(true, &[]);
    assert!(wait_for(60.0, || counters(&srv).1 >= 1));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(counters(&srv), (1, 1, 0, 0));
    env.append(&[line_now("192.0.2.33")]);
    assert!(wait_for(60.0, || counters(&srv).1 == 2));
    srv.shutdown();
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    let pos: i64 = conn
        .query_row("SELECT lastfilepos FROM logs WHERE jail='test'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(pos as u64, std::fs::metadata(&env.log).unwrap().len());
}

#[test]
fn reload_keeps_bans() {
    let env = Env::new();
    let srv = env.start(true, &[]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    srv.execute(&cmd(&["set", "test", "banip", "192.0.2.40"]))
        .unwrap();
    let stream = match env.jail_stream(true, &[]).into_iter().nth(1) {
        Some(gaol::stream::Value::List(v)) => v,
        _ => unreachable!(),
    };
    let r = srv
        .execute(&[
            s("reload"),
            s("test"),
            gaol::stream::Value::List(vec![]),
            gaol::stream::Value::List(stream),
        ])
        .unwrap();
    assert_eq!(r.to_string(), "'OK'");
    let banned = srv.execute(&cmd(&["get", "test", "banned"])).unwrap();
    assert_eq!(banned.to_string(), "['192.0.2.40']");
    srv.shutdown();
}

/// The actions thread of a jail with nothing banned sleeps without a deadline: a manual
/// `banip` from the control thread must wake it, or the ban would never be lifted.
#[test]
fn manual_ban_on_a_quiet_jail_is_lifted_at_its_bantime() {
    let env = Env::new();
    let srv = env.start(false, &[("bantime", "1")]);
    // Let the actions thread reach its idle wait first.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let n = srv
        .execute(&cmd(&["set", "test", "banip", "192.0.2.77"]))
        .unwrap();
    assert_eq!(n.to_string(), "1");
    let unbanned = || env.out_lines().iter().any(|l| l == "unban 192.0.2.77");
    assert!(wait_for(10.0, unbanned), "{:?}", env.out_lines());
    let banned = srv.execute(&cmd(&["get", "test", "banned"])).unwrap();
    assert_eq!(banned.to_string(), "[]");
    srv.shutdown();
}
