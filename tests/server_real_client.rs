//! The real Python `fail2ban-client` drives gaol's server: it launches the
//! `fail2ban-server` found beside it (here a symlink to gaol), configures it, reads back
//! a ban made from the log with `status`/`banned`, reloads and stops it.

mod common;

use std::path::Path;
use std::process::Command;

fn real_client(bin: &Path, conf: &Path, args: &[&str]) -> (String, i32) {
    // Debian's client runs on the system Python (the fail2ban module lives there).
    let o = Command::new("/usr/bin/python3")
        .arg(bin.join("fail2ban-client"))
        .arg("-c")
        .arg(conf)
        .args(args)
        .output()
        .expect("run the real fail2ban-client");
    // stdout only: the client's own config warnings go to stderr.
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn real_client_starts_queries_reloads_and_stops_gaol() {
    if !common::have_oracle() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    // The client starts the server that sits in its own directory.
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::fs::copy("/usr/bin/fail2ban-client", bin.join("fail2ban-client")).expect("copy client");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_gaol"), bin.join("fail2ban-server"))
        .expect("symlink");
    let conf = d.join("conf");
    common::copy_tree(Path::new(common::STOCK), &conf);
    for sub in ["jail.d", "fail2ban.d"] {
        let _ = std::fs::remove_dir_all(conf.join(sub));
    }
    let p = d.display();
    std::fs::write(d.join("auth.log"), "").expect("log");
    std::fs::write(
        conf.join("action.d/canary.conf"),
        "[Definition]\nactionban = echo \"ban <ip>\" >> <out>\nactionunban = echo \"unban <ip>\" >> <out>\n[Init]\nout = /dev/null\n",
    )
    .expect("action");
    std::fs::write(
        conf.join("fail2ban.local"),
        format!(
            "[Definition]\nlogtarget = {p}/f2b.log\nsocket = {p}/f2b.sock\npidfile = {p}/f2b.pid\ndbfile = {p}/f2b.sqlite3\n"
        ),
    )
    .expect("fail2ban.local");
    std::fs::write(
        conf.join("jail.local"),
        format!(
            "[sshd]\nenabled = true\nbackend = pyinotify\nlogpath = {p}/auth.log\nmaxretry = 2\nbantime = 1h\naction = canary[out=\"{p}/bans.log\"]\n"
        ),
    )
    .expect("jail.local");

    let (out, code) = real_client(&bin, &conf, &["start"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Server ready"), "{out}");
    let (out, code) = real_client(&bin, &conf, &["status"]);
    assert_eq!(
        (out.as_str(), code),
        ("Status\n|- Number of jail:\t1\n`- Jail list:\tsshd\n", 0)
    );

    let stamp = chrono::Local::now().format("%b %e %H:%M:%S").to_string();
    let lines: String = (0..2)
        .map(|i| {
            format!(
                "{stamp} web sshd[{i}]: Failed password for root from 192.0.2.77 port 22 ssh2\n"
            )
        })
        .collect();
    std::fs::write(d.join("auth.log"), lines).expect("append");
    let mut banned = String::new();
    for _ in 0..600 {
        banned = real_client(&bin, &conf, &["banned"]).0;
        if banned.contains("192.0.2.77") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(banned, "[{'sshd': ['192.0.2.77']}]\n");
    let (out, code) = real_client(&bin, &conf, &["status", "sshd"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Banned IP list:\t192.0.2.77"), "{out}");

    let (out, code) = real_client(&bin, &conf, &["reload"]);
    assert_eq!((out.as_str(), code), ("OK\n", 0));
    let (out, _) = real_client(&bin, &conf, &["banned"]);
    assert_eq!(out, "[{'sshd': ['192.0.2.77']}]\n", "a reload keeps bans");

    let (out, code) = real_client(&bin, &conf, &["stop"]);
    assert_eq!((out.as_str(), code), ("Shutdown successful\n", 0));
    for _ in 0..600 {
        if !d.join("f2b.pid").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!d.join("f2b.sock").exists(), "socket removed");
    assert!(!d.join("f2b.pid").exists(), "pid file removed");
    let log = std::fs::read_to_string(d.join("f2b.log")).expect("log");
    assert!(log.contains("NOTICE  [sshd] Ban 192.0.2.77"), "{log}");
    assert!(log.contains("Exiting Fail2ban"), "{log}");
    let bans = std::fs::read_to_string(d.join("bans.log")).expect("bans");
    assert!(bans.starts_with("ban 192.0.2.77\n"), "{bans}");
}
