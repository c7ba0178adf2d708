//! `gaol server -b` as fail2ban-server does it: the starting process returns only once
//! the daemon answers and has applied the configuration (exit 0), or exits 255 when the
//! daemon cannot start it. Also a jail with `usedns = yes` whose log names a host:
//! the name is resolved (here `localhost`, resolved without network) and its address
//! banned.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn tree(dir: &Path, failregex: &str, jail_extra: &str) {
    std::fs::create_dir_all(dir.join("conf/filter.d")).unwrap();
    std::fs::create_dir_all(dir.join("conf/action.d")).unwrap();
    let d = |n: &str| dir.join(n).display().to_string();
    std::fs::write(
        dir.join("conf/fail2ban.conf"),
        format!(
            "[Definition]\nloglevel = INFO\nlogtarget = {}\nsocket = {}\npidfile = {}\ndbfile = :memory:\n",
            d("f2b.log"),
            d("run/f2b.sock"),
            d("run/f2b.pid"),
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("conf/jail.conf"),
        format!(
            "[DEFAULT]\nbackend = polling\n\n[test]\nenabled = true\nfilter = test\nlogpath = {}\naction = rec\n{jail_extra}\n",
            d("test.log")
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("conf/filter.d/test.conf"),
        format!("[Definition]\nfailregex = {failregex}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("conf/action.d/rec.conf"),
        format!(
            "[Definition]\nactionstart = echo start >> {0}\nactionban = echo ban <ip> >> {0}\n",
            d("out.txt")
        ),
    )
    .unwrap();
    std::fs::write(dir.join("test.log"), "").unwrap();
}

fn start_background(dir: &Path) -> (Option<i32>, Duration) {
    let t = Instant::now();
    let st = Command::new(env!("CARGO_BIN_EXE_gaol"))
        .args(["server", "-b", "-x", "-c"])
        .arg(dir.join("conf"))
        .arg("start")
        .status()
        .unwrap();
    (st.code(), t.elapsed())
}

fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// SIGTERM to the daemon named in the pid file; waits for its socket to go.
fn stop(dir: &Path) {
    let pid: i32 = std::fs::read_to_string(dir.join("run/f2b.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert!(wait_for(60, || !dir.join("run/f2b.sock").exists()));
}

#[test]
fn background_start_returns_when_ready_and_resolves_host_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    tree(
        dir,
        r"Failed password for \S+ from <HOST>",
        "usedns = yes\nignoreself = false\nmaxretry = 1\n",
    );
    let (code, took) = start_background(dir);
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(30), "{took:?}");
    // Ready means the socket exists and the jail has started (its actionstart ran).
    assert!(dir.join("run/f2b.sock").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("out.txt")).unwrap_or_default(),
        "start\n"
    );
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
    let line = format!("{now} host sshd[1]: Failed password for root from localhost port 22\n");
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("test.log"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()))
        .unwrap();
    let banned = wait_for(60, || {
        std::fs::read_to_string(dir.join("out.txt"))
            .unwrap_or_default()
            .contains("ban 127.0.0.1")
    });
    assert!(banned, "no ban of localhost's address");
    // Two entries two hours old while in operation: treated as happening now (both
    // banned), the timing warning logged once (fail2ban: once a day), with the line.
    // The warning names whole seconds of (line time - now): written early in a second, a
    // poll interval of delay cannot carry it over into "2h 1s".
    while chrono::Local::now().timestamp_subsec_millis() > 300 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let old = (chrono::Local::now() - chrono::Duration::hours(2)).format("%Y-%m-%d %H:%M:%S");
    let l1 = format!("{old} host sshd[2]: Failed password for root from 192.0.2.1 port 22");
    let l2 = format!("{old} host sshd[3]: Failed password for root from 192.0.2.2 port 22");
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("test.log"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{l1}\n{l2}\n").as_bytes()))
        .unwrap();
    let both = wait_for(60, || {
        let out = std::fs::read_to_string(dir.join("out.txt")).unwrap_or_default();
        out.contains("ban 192.0.2.1") && out.contains("ban 192.0.2.2")
    });
    let log = std::fs::read_to_string(dir.join("f2b.log")).unwrap_or_default();
    stop(dir);
    assert!(both, "old entries not banned; log:\n{log}");
    let warned: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once("WARNING ").map(|x| x.1.trim()))
        .filter(|m| m.contains("timing issue") || m.contains("Detected a log entry"))
        .collect();
    assert_eq!(
        warned,
        [
            "[test] Detected a log entry 2h before the current time in operation mode. This looks like a timezone problem. Treating such entries as if they just happened.".to_string(),
            format!("[test] Please check a jail for a timing issue. Line with odd timestamp: {l1}"),
        ],
        "{log}"
    );
}

#[test]
fn background_start_fails_with_255_when_the_stream_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The server rejects the regex (unbalanced group): the stream fails, the daemon quits.
    tree(dir, r"Failed password for ( from <HOST>", "");
    let (code, _) = start_background(dir);
    assert_eq!(code, Some(255));
    assert!(wait_for(60, || !dir.join("run/f2b.sock").exists()));
}
