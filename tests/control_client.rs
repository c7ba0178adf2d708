//! gaol's fail2ban-client against the real Python client: the same commands sent to two
//! real fail2ban-servers in the same state (one per client) print the same stdout and
//! stderr (time stamps and pids aside) and exit with the same code. Also the error paths
//! without a server, and both clients against gaol's own socket.

mod control_support;

use control_support::*;
use gaol::control::socket::SocketServer;
use std::path::Path;
use std::sync::Arc;

fn same(what: &str, want: &Run, got: &Run) -> Option<String> {
    if want.stdout == got.stdout && want.code == got.code && want.stderr_norm() == got.stderr_norm()
    {
        return None;
    }
    Some(format!(
        "{what}\n  fail2ban: rc={} out={:?} err={:?}\n  gaol:     rc={} out={:?} err={:?}",
        want.code,
        want.stdout,
        want.stderr_norm(),
        got.code,
        got.stdout,
        got.stderr_norm()
    ))
}

/// A config dir: the installed filters/actions/fail2ban.conf, plus our own small
/// fail2ban.local and jail.local (one polling jail, no actions, DB in memory).
fn config_dir(dir: &Path) -> std::path::PathBuf {
    let cf = dir.join("conf");
    std::fs::create_dir_all(&cf).unwrap();
    for f in [
        "fail2ban.conf",
        "jail.conf",
        "filter.d",
        "action.d",
        "paths-common.conf",
        "paths-debian.conf",
    ] {
        std::os::unix::fs::symlink(Path::new("/etc/fail2ban").join(f), cf.join(f)).unwrap();
    }
    let log = dir.join("test.log");
    std::fs::write(&log, "").unwrap();
    std::fs::write(
        cf.join("fail2ban.local"),
        format!(
            "[Definition]\nlogtarget = {}\ndbfile = :memory:\n",
            dir.join("f2b.log").display()
        ),
    )
    .unwrap();
    std::fs::write(
        cf.join("jail.local"),
        format!(
            "[test]\nenabled = true\nfilter = sshd\nlogpath = {}\nbackend = polling\naction =\n",
            log.display()
        ),
    )
    .unwrap();
    cf
}

#[test]
fn same_output_as_the_python_client_against_real_servers() {
    if !have_fail2ban() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&da).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    let a = RealServer::start(&da);
    let b = RealServer::start(&db);
    let cf = config_dir(dir.path());
    let cfs = cf.to_str().unwrap();
    let log = dir.path().join("test.log");
    let logs = log.to_str().unwrap();
    let script: Vec<Vec<&str>> = vec![
        vec!["ping"],
        vec!["version"],
        vec!["echo", "a", "b"],
        vec!["status"],
        vec!["add", "sshd", "polling"],
        vec!["add", "sshd", "polling"],
        vec!["set", "sshd", "addlogpath", logs],
        vec!["get", "sshd", "logpath"],
        vec!["set", "sshd", "banip", "192.0.2.1", "192.0.2.2"],
        vec!["get", "sshd", "banip"],
        vec!["get", "sshd", "banip", ","],
        vec!["get", "sshd", "banned"],
        vec!["get", "sshd", "banned", "192.0.2.1"],
        vec!["get", "sshd", "datepattern"],
        vec!["set", "sshd", "datepattern", "%Y-%m-%d"],
        // (the server keeps ignoreip in a set: one entry keeps the order fixed)
        vec!["set", "sshd", "addignoreip", "10.0.0.1"],
        vec!["get", "sshd", "ignoreip"],
        vec!["set", "sshd", "delignoreip", "10.0.0.1"],
        vec!["get", "sshd", "ignoreip"],
        vec!["set", "sshd", "addfailregex", "^x <HOST>$"],
        vec!["get", "sshd", "failregex"],
        vec!["get", "sshd", "ignoreregex"],
        vec!["get", "sshd", "actions"],
        vec!["set", "sshd", "addaction", "act"],
        vec!["get", "sshd", "actions"],
        vec!["get", "sshd", "actionproperties", "act"],
        vec!["get", "sshd", "actionmethods", "act"],
        vec!["set", "sshd", "action", "act", "actionban", "echo <ip>"],
        vec!["get", "sshd", "action", "act", "actionban"],
        vec!["get", "sshd", "action", "nosuch", "actionban"],
        vec!["start", "sshd"],
        vec!["status", "sshd"],
        vec!["status", "sshd", "short"],
        vec!["status", "sshd", "basic"],
        vec!["banned"],
        vec!["banned", "192.0.2.1", "198.51.100.1"],
        vec!["get", "loglevel"],
        vec!["set", "loglevel", "DEBUG"],
        vec!["get", "logtarget"],
        vec!["get", "dbfile"],
        vec!["get", "dbpurgeage"],
        vec!["get", "syslogsocket"],
        vec!["set", "sshd", "unbanip"],
        vec!["set", "sshd", "unbanip", "--report-absent", "9.9.9.9"],
        vec!["set", "sshd", "unbanip", "192.0.2.2"],
        vec!["get", "sshd", "maxretry"],
        vec!["set", "sshd", "maxretry", "abc"],
        vec!["set", "sshd", "bantime", "1h"],
        vec!["get", "sshd", "bantime"],
        vec!["set", "sshd", "addfailregex", "(("],
        vec!["get", "nosuch", "maxretry"],
        vec!["set", "sshd", "nosuchoption", "1"],
        vec!["bogus"],
        vec!["flushlogs"],
        vec!["get", "sshd", "journalmatch"],
        vec!["get", "sshd", "logencoding"],
        vec!["get", "sshd", "usedns"],
        vec!["-q", "bogus"],
        vec!["ping", "0.5"],
        vec!["ping", "x"],
        vec!["-c", cfs, "reload", "--all"],
        vec!["status"],
        vec!["-c", cfs, "reload", "test"],
        vec!["-c", cfs, "reload", "--restart", "--unban", "test"],
        vec!["-c", cfs, "restart", "test"],
        vec!["-c", cfs, "reload", "--foo", "x"],
        vec!["-c", cfs, "reload", "nosuch"],
        vec!["status", "test"],
        vec!["stop", "sshd"],
        vec!["unban", "--all"],
        vec!["status"],
        vec!["stop"],
        vec!["ping"],
    ];
    let mut diffs = Vec::new();
    for c in &script {
        let mut want = py_client(&a.sock, c);
        let got = gaol_client(&b.sock, c);
        // The servers differ only in their directory.
        let (pa, pb) = (da.to_str().unwrap(), db.to_str().unwrap());
        want.stdout = want.stdout.replace(pa, pb);
        want.stderr = want.stderr.replace(pa, pb);
        if let Some(d) = same(&format!("{c:?}"), &want, &got) {
            diffs.push(d);
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {} differ:\n{}",
        diffs.len(),
        script.len(),
        diffs.join("\n")
    );
}

#[test]
fn same_errors_without_a_server() {
    if !have_fail2ban() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nonexist.sock");
    // A socket file nobody listens on: connection refused.
    let dead = dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let mut diffs = Vec::new();
    for sock in [&missing, &dead] {
        for c in [
            &["ping"][..],
            &["status"],
            &["-q", "status"],
            &["-v", "ping"],
            &["reload"],
            &["reload", "--unban", "x", "y"],
            &["restart", "x"],
            &["ping", "0.2"],
            &["--timeout", "1", "ping"],
        ] {
            let want = py_client(sock, c);
            let got = gaol_client(sock, c);
            // -v adds the config reader's INFO lines, which gaol does not repeat.
            let info_free = |r: &Run| Run {
                stdout: r.stdout.clone(),
                stderr: r
                    .stderr
                    .lines()
                    .filter(|l| !l.contains(" INFO "))
                    .map(|l| format!("{l}\n"))
                    .collect(),
                code: r.code,
            };
            if let Some(d) = same(
                &format!("{} {c:?}", sock.display()),
                &info_free(&want),
                &info_free(&got),
            ) {
                diffs.push(d);
            }
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn both_clients_against_gaols_socket() {
    if !have_fail2ban() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = Arc::new(TestHandler::default());
    let s = SocketServer::start(&dir.path().join("f2b.sock"), false, h.clone()).unwrap();
    let mut diffs = Vec::new();
    for c in [
        &["ping"][..],
        &["echo", "a", "b c"],
        &["version"],
        &["bogus"],
        &["status", "nosuch"],
        &["ping", "1"],
    ] {
        let want = py_client(s.path(), c);
        let got = gaol_client(s.path(), c);
        if let Some(d) = same(&format!("{c:?}"), &want, &got) {
            diffs.push(d);
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // Both sent the same requests, in order (a ping with a timeout keeps it as text).
    let seen = h.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 12);
    for pair in seen.chunks(2) {
        assert_eq!(pair[0], pair[1]);
    }
}
