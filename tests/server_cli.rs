//! `gaol server -xf -c DIR start` as a process: pid file, socket, startup and shutdown
//! log order, SIGUSR1 log reopen, SIGTERM graceful stop (socket and pid file removed,
//! exit 0), and a stream error (a regex the server cannot compile) that makes the
//! foreground server exit 255.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tree(dir: &Path, logpath: &str, failregex: &str) {
    std::fs::create_dir_all(dir.join("conf/filter.d")).unwrap();
    std::fs::create_dir_all(dir.join("conf/action.d")).unwrap();
    let d = |n: &str| dir.join(n).display().to_string();
    std::fs::write(
        dir.join("conf/fail2ban.conf"),
        format!(
            "[Definition]\nloglevel = INFO\nlogtarget = {}\nsocket = {}\npidfile = {}\ndbfile = {}\n",
            d("f2b.log"),
            d("run/f2b.sock"),
            d("run/f2b.pid"),
            d("f2b.sqlite3")
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("conf/jail.conf"),
        format!(
            "[DEFAULT]\nbackend = polling\n\n[test]\nenabled = true\nfilter = test\nlogpath = {logpath}\naction = rec\n"
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
            "[Definition]\nactionstart = echo start >> {0}\nactionstop = echo stop >> {0}\nactionban = echo ban <ip> >> {0}\nactionunban = echo unban <ip> >> {0}\n",
            d("out.txt")
        ),
    )
    .unwrap();
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

fn spawn(dir: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_gaol"))
        .args(["server", "-xf", "-c"])
        .arg(dir.join("conf"))
        .arg("start")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A server on a fresh tree watching an empty `test.log`, once its socket is up and
/// its action started; returns the process and the socket path.
fn started(dir: &Path, failregex: &str) -> (std::process::Child, PathBuf) {
    let log = dir.join("test.log");
    std::fs::write(&log, "").unwrap();
    tree(dir, &log.display().to_string(), failregex);
    let child = spawn(dir);
    let sock = dir.join("run/f2b.sock");
    assert!(wait_for(60, || sock.exists()
        && std::fs::read_to_string(dir.join("out.txt")).is_ok()));
    (child, sock)
}

fn log_messages(path: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_once("]: ").map_or("", |x| x.1).to_string())
        .collect()
}

#[test]
fn foreground_start_signals_and_shutdown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (mut child, sock) = started(dir, r"Failed password for \S+ from <HOST>");
    let pid = dir.join("run/f2b.pid");
    assert_eq!(
        std::fs::read_to_string(&pid).unwrap(),
        format!("{}\n", child.id())
    );
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(&sock).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    // SIGUSR1 reopens the log file after rotation.
    std::fs::rename(dir.join("f2b.log"), dir.join("f2b.log.1")).unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    assert!(wait_for(60, || dir.join("f2b.log").exists()));
    // SIGTERM: graceful stop.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    assert!(!sock.exists() && !pid.exists());
    let first = log_messages(&dir.join("f2b.log.1"));
    let pos = |m: &str| first.iter().position(|l| l.trim_end() == m);
    let order = [
        "INFO    --------------------------------------------------",
        "INFO    Starting Fail2ban v1.0.2",
        "INFO    Observer start...",
        "INFO    Creating new jail 'test'",
        "INFO    Jail 'test' started",
    ];
    let idx: Vec<Option<usize>> = order.iter().map(|m| pos(m)).collect();
    assert!(idx.iter().all(Option::is_some), "{first:#?}");
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "{first:#?}");
    let second = log_messages(&dir.join("f2b.log"));
    let tail = [
        "INFO    Shutdown in progress...",
        "INFO    Stopping all jails",
        "INFO    Jail 'test' stopped",
        "INFO    Connection to database closed.",
        "INFO    Exiting Fail2ban",
    ];
    let idx: Vec<Option<usize>> = tail
        .iter()
        .map(|m| second.iter().position(|l| l.trim_end() == *m))
        .collect();
    assert!(idx.iter().all(Option::is_some), "{second:#?}");
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "{second:#?}");
    let out = std::fs::read_to_string(dir.join("out.txt")).unwrap();
    assert_eq!(out, "start\nstop\n");
}

#[test]
fn stream_error_stops_foreground_server_with_255() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log = dir.join("test.log");
    std::fs::write(&log, "").unwrap();
    // The configuration reads fine; the server rejects the regex (unbalanced group), so
    // `addfailregex` fails and aborts the rest of the stream.
    tree(
        dir,
        &log.display().to_string(),
        r"Failed password for ( from <HOST>",
    );
    let mut child = spawn(dir);
    let end = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "server did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(255));
    assert!(!dir.join("run/f2b.sock").exists());
    assert!(!dir.join("run/f2b.pid").exists());
}

/// Runs `gaol server -f -s SOCK -c DIR start` (the socket bound before the configuration
/// is read) until it exits or `secs` pass.
fn run_with_socket(dir: &Path, sock: &Path, secs: u64, on_ready: impl FnOnce()) -> i32 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gaol"))
        .args(["server", "-f", "-s"])
        .arg(sock)
        .arg("-c")
        .arg(dir.join("conf"))
        .arg("start")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut on_ready = Some(on_ready);
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        let started = log_messages(&dir.join("f2b.log"))
            .iter()
            .any(|m| m.ends_with("Jail 'test' started"));
        if started && let Some(f) = on_ready.take() {
            assert!(sock.exists(), "socket bound at the -s path");
            f();
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        }
        if Instant::now() >= end {
            let _ = child.kill();
            panic!("server did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn socket_on_the_command_line_is_bound_early_and_cleaned_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log = dir.join("test.log");
    std::fs::write(&log, "").unwrap();
    let sock = dir.join("early.sock");
    // A good configuration: the jail starts, the stream ran, TERM stops it cleanly.
    tree(dir, &log.display().to_string(), r"Failed for <HOST>");
    let mut ready = false;
    let code = run_with_socket(dir, &sock, 60, || ready = true);
    assert!(ready, "jail never started");
    assert_eq!(code, 0);
    assert!(!sock.exists());
    let out = std::fs::read_to_string(dir.join("out.txt")).unwrap();
    assert_eq!(out, "start\nstop\n");

    // A configuration with no usable jail: exit 255 before anything runs, and the
    // early socket is gone again.
    std::fs::write(
        dir.join("conf/jail.conf"),
        format!(
            "[test]\nenabled = true\nfilter = nosuchfilter\nlogpath = {}\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::remove_file(dir.join("out.txt")).unwrap();
    std::fs::remove_file(dir.join("f2b.log")).unwrap();
    let code = run_with_socket(dir, &sock, 60, || panic!("no jail may start"));
    assert_eq!(code, 255);
    assert!(!sock.exists(), "early socket left behind");
    assert!(!dir.join("out.txt").exists());
}

/// Resident KiB of the server's own program text (its executable `r-xp` mapping).
fn text_rss_kib(pid: u32) -> u64 {
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_gaol")).unwrap();
    let exe = exe.display().to_string();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut in_text = false;
    let mut total = 0;
    for line in smaps.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 5 && f[0].contains('-') && f[3].contains(':') {
            in_text = f.len() > 5 && f[5] == exe && f[1] == "r-xp";
        } else if in_text && f.first() == Some(&"Rss:") {
            total += f[1].parse::<u64>().unwrap();
        }
    }
    total
}

/// Serving commands faults in the code that runs them (and, with each fault, the pages
/// around it); a few seconds after the last client the server gives those pages back,
/// so an exporter polling `status` does not leave the daemon's resident set grown.
#[test]
fn a_quiet_socket_gives_back_the_code_its_commands_ran() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, sock) = started(tmp.path(), r"Failed for <HOST>");
    // Past the trims that follow start-up (the second one once it has been quiet 3 s).
    std::thread::sleep(Duration::from_secs(4));
    for args in [
        &["ping"][..],
        &["status"],
        &["status", "test"],
        &["get", "test", "failregex"],
    ] {
        let st = Command::new(env!("CARGO_BIN_EXE_gaol"))
            .arg("client")
            .arg("-s")
            .arg(&sock)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "{args:?}");
    }
    let busy = text_rss_kib(child.id());
    let given_back = wait_for(30, || text_rss_kib(child.id()) * 10 < busy * 6);
    let after = text_rss_kib(child.id());
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    assert!(
        given_back,
        "program text resident: {busy} KiB after the commands, {after} KiB later"
    );
}

/// Matching a jail's first lines compiles its regexes and runs code start-up never ran;
/// a few seconds after the jails' last work the server gives those pages back, so a
/// daemon that banned once does not stay at its grown resident set. No client talks to
/// the socket here, so the jail's work alone must lead to the trim.
#[test]
fn a_quiet_jail_gives_back_the_code_its_lines_ran() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (mut child, _sock) = started(dir, r"Failed for <HOST>");
    // Past the trims that follow start-up (the second one once it has been quiet 3 s).
    std::thread::sleep(Duration::from_secs(4));
    let idle = text_rss_kib(child.id());
    let lines: String = (1..=6)
        .map(|i| format!("2026-11-21 10:00:0{i} Failed for 192.0.2.{i}\n"))
        .collect();
    std::fs::write(dir.join("test.log"), lines).unwrap();
    let found = wait_for(60, || {
        log_messages(&dir.join("f2b.log"))
            .iter()
            .filter(|m| m.contains("Found 192.0.2."))
            .count()
            == 6
    });
    let busy = text_rss_kib(child.id());
    let given_back = wait_for(30, || text_rss_kib(child.id()) * 10 < busy * 6);
    let after = text_rss_kib(child.id());
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    assert!(found, "the lines were not matched");
    assert!(
        busy > idle * 2,
        "matching did not grow the resident text: {idle} -> {busy} KiB"
    );
    assert!(
        given_back,
        "program text resident: {idle} KiB idle, {busy} KiB after the lines, {after} KiB later"
    );
}
