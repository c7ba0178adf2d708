//! gaol's fail2ban-client against the real Python client: the same commands sent to two
//! real fail2ban-servers in the same state (one per client) print the same stdout and
//! stderr (time stamps and pids aside) and exit with the same code. Also the error paths
//! without a server, and both clients against gaol's own socket.

mod control_support;

use control_support::*;
use gaol::control::pickle::ExcReply;
use gaol::control::socket::{Handler, SocketServer};
use gaol::server::Server;
use gaol::stream::Value;
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

/// Commands for a fresh server (no jails); `cf` is the config dir, `log` a log file.
fn script<'a>(cfs: &'a str, logs: &'a str) -> Vec<Vec<&'a str>> {
    vec![
        vec!["ping"],
        vec!["version"],
        vec!["echo", "a", "b"],
        vec!["status"],
        // reload before any other jail exists (the config's dbfile may then be set)
        vec!["-c", cfs, "reload", "--all"],
        vec!["status"],
        vec!["-c", cfs, "reload", "test"],
        vec!["-c", cfs, "reload", "--restart", "--unban", "test"],
        vec!["-c", cfs, "restart", "test"],
        vec!["-c", cfs, "reload", "--foo", "x"],
        vec!["-c", cfs, "reload", "nosuch"],
        vec!["status", "test"],
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
        vec!["get", "sshd", "datepattern"],
        vec!["set", "sshd", "datepattern", "{^LN-BEG}"],
        vec!["get", "sshd", "datepattern"],
        vec!["set", "sshd", "datepattern", "Epoch"],
        vec!["set", "sshd", "datepattern", "TAI64N"],
        vec!["set", "sshd", "datepattern", "{^LN-BEG}%Y-%m-%d %H:%M:%S"],
        vec!["get", "sshd", "datepattern"],
        // (the server keeps ignoreip in a set: one entry keeps the order fixed)
        vec!["set", "sshd", "addignoreip", "10.0.0.1"],
        vec!["get", "sshd", "ignoreip"],
        vec!["set", "sshd", "delignoreip", "10.0.0.1"],
        vec!["get", "sshd", "ignoreip"],
        vec!["set", "sshd", "addfailregex", "^x <HOST>$"],
        vec!["get", "sshd", "failregex"],
        vec!["set", "sshd", "addignoreregex", "^y <HOST>$"],
        vec!["get", "sshd", "ignoreregex"],
        vec!["set", "sshd", "addfailregex", "^Failed )"],
        vec!["set", "sshd", "addfailregex", "^Failed ("],
        vec!["set", "sshd", "addfailregex", "^no host$"],
        vec!["get", "sshd", "failregex"],
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
        vec!["stop", "sshd"],
        vec!["unban", "--all"],
        vec!["status"],
        vec!["stop"],
        vec!["ping"],
    ]
}

/// In-process gaol servers share the process-wide logger, so the tests that read back
/// a server's log file must not run at the same time.
static SERVER_LOG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exclusive_log() -> std::sync::MutexGuard<'static, ()> {
    SERVER_LOG.lock().unwrap_or_else(|e| e.into_inner())
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
    let script = script(cfs, logs);
    let mut diffs = Vec::new();
    for c in &script {
        let (got, mut want) = std::thread::scope(|sc_| {
            let w = sc_.spawn(|| py_client(&a.sock, c));
            (gaol_client(&b.sock, c), w.join().unwrap())
        });
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
            if let Some(d) = same(&format!("{} {c:?}", sock.display()), &want, &got) {
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

/// Commands (substrings of the joined words) where gaol's server does not reply like
/// fail2ban's yet; their differences are printed, not failed. Remove as the server grows.
const KNOWN_SERVER_GAPS: &[&str] = &[
    // Python's re reports an unclosed group at its '(' (gaol's translator, src/filter/pyre,
    // at the end of the pattern).
    "addfailregex ^Failed (",
    "addfailregex ((",
];

/// gaol's server behind gaol's socket.
struct GaolServer(Arc<Server>);

impl Handler for GaolServer {
    fn handle(&self, command: Vec<Value>) -> Result<Value, ExcReply> {
        self.0.execute(&command)
    }
}

/// The Python client talks to the real fail2ban-server and to gaol's server (both fresh,
/// same script); then gaol's client talks to gaol's server. Everything must print alike.
#[test]
fn python_client_against_gaols_server_and_gaol_end_to_end() {
    let _log = exclusive_log();
    if !have_fail2ban() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (da, db, dc) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    for d in [&da, &db, &dc] {
        std::fs::create_dir_all(d).unwrap();
    }
    let real = RealServer::start(&da);
    let gaol_server = |d: &Path| {
        let srv = Arc::new(Server::new());
        // Same log target as the real one gets from its command line.
        let _ = srv.execute(&[
            Value::str("set"),
            Value::str("logtarget"),
            Value::str(d.join("real.log").to_str().unwrap()),
        ]);
        let sock = SocketServer::start(
            &d.join("real.sock"),
            false,
            Arc::new(GaolServer(srv.clone())),
        )
        .unwrap();
        (srv, sock)
    };
    let (srv_b, sock_b) = gaol_server(&db);
    let (srv_c, sock_c) = gaol_server(&dc);
    let (sb, sc) = (sock_b.path().to_path_buf(), sock_c.path().to_path_buf());
    let (mut sock_b, mut sock_c) = (Some(sock_b), Some(sock_c));
    let cf = config_dir(dir.path());
    let log = dir.path().join("test.log");
    // The P0 commands of the script (reload needs the server's `reload`; the rest of
    // the matrix is covered client-side by the test above).
    let p0 = [
        "ping",
        "version",
        "echo",
        "status",
        "add",
        "addlogpath",
        "banip",
        "banned",
        "ignoreip",
        "actions",
        "start",
        "loglevel",
        "logtarget",
        "dbfile",
        "unbanip",
        "datepattern",
        "failregex",
        "addfailregex",
        "addignoreregex",
        "ignoreregex",
        "actionproperties",
        "actionmethods",
        "maxretry",
        "bantime",
        "nosuch",
        "bogus",
        "flushlogs",
        "stop",
    ];
    let script: Vec<Vec<&str>> = script(cf.to_str().unwrap(), log.to_str().unwrap())
        .into_iter()
        .filter(|c| !c.contains(&"reload") && !c.contains(&"restart"))
        .filter(|c| c.iter().any(|w| p0.contains(w)))
        .collect();
    let (mut diffs, mut gaps) = (Vec::new(), Vec::new());
    let (pa, pb, pc) = (
        da.to_str().unwrap(),
        db.to_str().unwrap(),
        dc.to_str().unwrap(),
    );
    for c in &script {
        // The three servers are independent: run the clients side by side.
        let (mut want, got, mut got_c) = std::thread::scope(|sc_| {
            let w = sc_.spawn(|| py_client(&real.sock, c));
            let g = sc_.spawn(|| py_client(&sb, c));
            let gc = gaol_client(&sc, c);
            (w.join().unwrap(), g.join().unwrap(), gc)
        });
        want.stdout = want.stdout.replace(pa, pb);
        want.stderr = want.stderr.replace(pa, pb);
        got_c.stdout = got_c.stdout.replace(pc, pb);
        got_c.stderr = got_c.stderr.replace(pc, pb);
        // The client's part: both clients print the same for the same server.
        if let Some(d) = same(
            &format!("python vs gaol client on gaol's server, {c:?}"),
            &got,
            &got_c,
        ) {
            diffs.push(d);
        }
        // The server's part: compared with the real server.
        if let Some(d) = same(&format!("gaol's server vs fail2ban's, {c:?}"), &want, &got) {
            if KNOWN_SERVER_GAPS.iter().any(|k| c.join(" ").contains(k)) {
                gaps.push(d);
            } else {
                diffs.push(d);
            }
        }
        // What the server's front end does after `stop`.
        if srv_b.wait_quit(std::time::Duration::ZERO)
            && let Some(s) = sock_b.take()
        {
            s.stop();
        }
        if srv_c.wait_quit(std::time::Duration::ZERO)
            && let Some(s) = sock_c.take()
        {
            s.stop();
        }
    }
    drop((sock_b, sock_c));
    srv_b.shutdown();
    srv_c.shutdown();
    if !gaps.is_empty() {
        eprintln!("KNOWN SERVER GAPS ({}):\n{}", gaps.len(), gaps.join("\n"));
    }
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// `start`, `restart` and `stop` as the installed tool: gaol linked as fail2ban-client
/// launches the fail2ban-server it finds (here the real one on PATH), sends the
/// configuration, and prints what the Python client prints.
#[test]
fn start_restart_stop_like_the_python_client() {
    if !have_fail2ban() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cf = config_dir(dir.path());
    let run = dir.path().join("run");
    std::fs::write(
        cf.join("fail2ban.local"),
        format!(
            "[Definition]\nlogtarget = {}\ndbfile = :memory:\nsocket = {}\npidfile = {}\n",
            dir.path().join("f2b.log").display(),
            run.join("f2b.sock").display(),
            run.join("f2b.pid").display()
        ),
    )
    .unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let client = bin.join("fail2ban-client");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_gaol"), &client).unwrap();
    let cfs = cf.to_str().unwrap();
    let script: &[&[&str]] = &[
        &["start"],
        &["start"],
        &["status"],
        &["restart"],
        &["status", "test"],
        &["stop"],
        &["stop"],
    ];
    let run_with = |exe: &Path, c: &[&str]| {
        let o = std::process::Command::new(exe)
            .args(["-c", cfs, "--timeout", "60"])
            .args(c)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        Run {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.status.code().unwrap_or(-1),
        }
    };
    let mut diffs = Vec::new();
    let py: Vec<Run> = script
        .iter()
        .map(|c| run_with(Path::new("fail2ban-client"), c))
        .collect();
    let ours: Vec<Run> = script.iter().map(|c| run_with(&client, c)).collect();
    for ((c, want), got) in script.iter().zip(&py).zip(&ours) {
        if let Some(d) = same(&format!("{c:?}"), want, got) {
            diffs.push(d);
        }
    }
    assert_eq!(
        py[0].stdout, "Server ready\n",
        "the real client started a server"
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert!(!run.join("f2b.sock").exists());
}

/// Not a test: serves gaol's Server on `$GAOL_BENCH_SOCK` until a `stop` command, so
/// bench/control_bench.py can measure it before `gaol server` exists:
/// `GAOL_BENCH_SOCK=/tmp/g.sock cargo test --release --test control_client serve_for_bench -- --ignored`
#[test]
#[ignore]
fn serve_for_bench() {
    let Ok(path) = std::env::var("GAOL_BENCH_SOCK") else {
        return;
    };
    let srv = Arc::new(Server::new());
    let sock =
        SocketServer::start(Path::new(&path), true, Arc::new(GaolServer(srv.clone()))).unwrap();
    while !srv.wait_quit(std::time::Duration::from_secs(1)) {}
    sock.stop();
    srv.shutdown();
}

/// `-i`: the prompt, shell-quoted commands, errors, `exit` and end of input, as the
/// Python client shows them.
#[test]
fn interactive_mode_like_the_python_client() {
    if !have_fail2ban() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = Arc::new(TestHandler::default());
    let s = SocketServer::start(&dir.path().join("f2b.sock"), false, h).unwrap();
    let with_input = |exe: &str, pre: &[&str], args: &[&str], input: &str| {
        let mut child = std::process::Command::new(exe)
            .args(pre)
            .arg("-s")
            .arg(s.path())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        // A client that ends early (`exit`, an error) may close its input before it is
        // all written: that is its behaviour under test, not a failure of the test.
        match child.stdin.take().unwrap().write_all(input.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            r => r.unwrap(),
        }
        let o = child.wait_with_output().unwrap();
        Run {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.status.code().unwrap_or(-1),
        }
    };
    let mut diffs = Vec::new();
    for (args, input) in [
        (
            &["-i"][..],
            "ping\necho \"a b\" c\nbogus\n\necho \"x\nstatus nosuch\nexit\n",
        ),
        (&["-i"], "ping\n"),
        (&["-i", "ping"], "quit\n"),
        (&["-i", "bogus"], "ping\n"),
    ] {
        let want = with_input("fail2ban-client", &[], args, input);
        let got = with_input(env!("CARGO_BIN_EXE_gaol"), &["client"], args, input);
        if let Some(d) = same(&format!("{args:?} {input:?}"), &want, &got) {
            diffs.push(d);
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// A config dir for the reload test: the installed filters and main files, our own
/// `trace` action (appends its operations to `trace`), and a polling jail `test` with
/// the given logs and action instances (`trace[actname=X, tag=X]`).
fn reload_conf(dir: &Path, logs: &[&Path], acts: &[&str], extra: &str) -> std::path::PathBuf {
    let cf = dir.join("rconf");
    if !cf.exists() {
        std::fs::create_dir_all(cf.join("action.d")).unwrap();
        for f in [
            "fail2ban.conf",
            "jail.conf",
            "filter.d",
            "paths-common.conf",
            "paths-debian.conf",
        ] {
            std::os::unix::fs::symlink(Path::new("/etc/fail2ban").join(f), cf.join(f)).unwrap();
        }
        let trace = dir.join("trace");
        std::fs::write(
            cf.join("action.d/trace.conf"),
            format!(
                "[Definition]\nactionstart = echo start <tag> >> {t}\n\
                 actionstop = echo stop <tag> >> {t}\nactioncheck =\n\
                 actionban = echo ban <tag> <ip> >> {t}\n\
                 actionunban = echo unban <tag> <ip> >> {t}\n\
                 actionreload = echo reload <tag> >> {t}\n[Init]\ntag = x\n",
                t = trace.display()
            ),
        )
        .unwrap();
        std::fs::write(
            cf.join("fail2ban.local"),
            format!(
                "[Definition]\nlogtarget = {}\ndbfile = :memory:\n",
                dir.join("real.log").display()
            ),
        )
        .unwrap();
    }
    let logs: Vec<String> = logs.iter().map(|l| l.display().to_string()).collect();
    let acts: Vec<String> = acts
        .iter()
        .map(|a| format!("trace[actname={a}, tag={a}]"))
        .collect();
    std::fs::write(
        cf.join("jail.local"),
        format!(
            "[test]\nenabled = {}\nfilter = sshd\nbackend = polling\nlogpath = {}\n\
             action = {}\n{extra}",
            extra.is_empty(),
            logs.join("\n          "),
            acts.join("\n         ")
        ),
    )
    .unwrap();
    cf
}

/// The server's own reload lines (`Reload …`, `Jail 'J' reloaded`, `Restart jail …`,
/// removed logs), without time stamps.
fn reload_lines(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| {
            ["Reload", "reloaded", "Restart jail", "Removed logfile"]
                .iter()
                .any(|k| l.contains(k))
        })
        .map(|l| l.split_once("]: ").map_or(l, |(_, r)| r).trim().to_string())
        .collect()
}

/// `reload` in place as fail2ban does it: the same script (config edits between the
/// reloads) against the real server and gaol's; the action traces, the status replies
/// and the server's reload log lines must be the same.
#[test]
fn reload_in_place_like_fail2ban() {
    let _log = exclusive_log();
    if !have_fail2ban() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    for d in [&da, &db] {
        std::fs::create_dir_all(d).unwrap();
        for l in ["one.log", "two.log"] {
            std::fs::write(d.join(l), "").unwrap();
        }
    }
    let real = RealServer::start(&da);
    let srv = Arc::new(Server::new());
    let _ = srv.execute(&[
        Value::str("set"),
        Value::str("logtarget"),
        Value::str(db.join("real.log").to_str().unwrap()),
    ]);
    let sock = SocketServer::start(
        &db.join("real.sock"),
        false,
        Arc::new(GaolServer(srv.clone())),
    )
    .unwrap();
    // (config: logs, actions, extra jail.local text) then commands after writing it
    type Step<'a> = (&'a [&'a str], &'a [&'a str], &'a str, Vec<Vec<&'a str>>);
    let steps: Vec<Step> = vec![
        (
            &["one.log", "two.log"],
            &["a1", "a2"],
            "",
            vec![
                vec!["reload", "--all"],
                vec!["set", "test", "banip", "192.0.2.1"],
                vec!["reload"],
                vec!["status", "test"],
                vec!["reload", "test"],
                vec!["get", "test", "actions"],
            ],
        ),
        (
            &["one.log"],
            &["a1"],
            "",
            vec![
                vec!["reload", "test"],
                vec!["status", "test"],
                vec!["get", "test", "actions"],
                vec!["reload", "--unban", "test"],
                vec!["status", "test"],
                vec!["set", "test", "banip", "192.0.2.3"],
                vec!["reload", "--restart", "test"],
                vec!["status", "test"],
                vec!["reload", "--if-exists", "nosuch"],
            ],
        ),
        (
            &["one.log"],
            &["a1"],
            "[other]\nenabled = true\nfilter = sshd\n\
             backend = polling\nlogpath = %(test_log)s\naction = trace[actname=o1, tag=o1]\n",
            vec![vec!["reload", "--all"], vec!["status"]],
        ),
    ];
    let mut diffs = Vec::new();
    for (logs, acts, extra, cmds) in &steps {
        let mut cfs = Vec::new();
        for d in [&da, &db] {
            let paths: Vec<std::path::PathBuf> = logs.iter().map(|l| d.join(l)).collect();
            let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
            let extra = extra.replace("%(test_log)s", &d.join("one.log").display().to_string());
            cfs.push(reload_conf(d, &refs, acts, &extra));
        }
        for c in cmds {
            let run = |cf: &Path, sock: &Path| {
                let mut args = vec!["-c", cf.to_str().unwrap()];
                args.extend(c.iter());
                py_client(sock, &args)
            };
            let both = || {
                let mut want = run(&cfs[0], &real.sock);
                let got = run(&cfs[1], sock.path());
                want.stdout = want
                    .stdout
                    .replace(da.to_str().unwrap(), db.to_str().unwrap());
                (want, got)
            };
            let (mut want, mut got) = both();
            // A jail a reload (re)starts restores its bans from the database through its
            // actions thread, in fail2ban as in gaol: a `status` right after may see them
            // on one server and not yet on the other. Compare what both settle to.
            for _ in 0..40 {
                if c[0] != "status" || same("", &want, &got).is_none() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
                (want, got) = both();
            }
            if let Some(d) = same(&format!("{c:?}"), &want, &got) {
                diffs.push(d);
            }
        }
    }
    let trace = |d: &Path| std::fs::read_to_string(d.join("trace")).unwrap_or_default();
    let (ta, tb) = (trace(&da), trace(&db));
    if ta != tb {
        diffs.push(format!(
            "action trace:\n fail2ban: {ta:?}\n gaol:     {tb:?}"
        ));
    }
    let (la, lb) = (
        reload_lines(&da.join("real.log")),
        reload_lines(&db.join("real.log")),
    );
    let lb: Vec<String> = lb
        .iter()
        .map(|l| l.replace(db.to_str().unwrap(), da.to_str().unwrap()))
        .collect();
    assert!(la.iter().any(|l| l.contains("Reload finished.")), "{la:?}");
    if la != lb {
        diffs.push(format!(
            "reload log lines:\n fail2ban: {la:#?}\n gaol:     {lb:#?}"
        ));
    }
    drop(sock);
    srv.shutdown();
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
