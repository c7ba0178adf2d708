//! `gaol demo`: the server's main job on the embedded default configuration, made
//! visible on a machine with no real attack traffic.
//!
//! It copies the embedded configuration into a fresh directory, points the default sshd
//! jail at a demo auth.log there and its action at the log-only `dummy-log` action, sends
//! fail2ban.log to stdout, and starts the server in the foreground (the same code path as
//! `fail2ban-server -xf start`). A feeder thread then appends sshd failure lines to the
//! log, so the newcomer sees the jail find the failures, ban the attacker and, after the
//! short demo ban time, unban it. Ctrl-C (or `--for SECONDS`) stops the server cleanly.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The attacker that fails often enough to be banned, and one that stays below maxretry.
const ATTACKER: &str = "203.0.113.7";
const BYSTANDER: &str = "198.51.100.23";
const DEMO_BANTIME: u32 = 15;

/// Runs the demo; `args` are the arguments after `demo`. Returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let mut run_for: Option<u64> = None;
    let mut dir: Option<PathBuf> = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--for" => match it.next().and_then(|v| v.parse::<u64>().ok()) {
                Some(s) => run_for = Some(s),
                None => return usage("--for needs a number of seconds"),
            },
            "--dir" => match it.next() {
                Some(d) => dir = Some(PathBuf::from(d)),
                None => return usage("--dir needs a directory"),
            },
            "-h" | "--help" => {
                print!("{USAGE}");
                return 0;
            }
            other => return usage(&format!("unknown argument '{other}'")),
        }
    }
    let dir = dir
        .unwrap_or_else(|| std::env::temp_dir().join(format!("gaol-demo-{}", std::process::id())));
    let conf = match write_config(&dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gaol demo: cannot prepare {}: {e}", dir.display());
            return 1;
        }
    };
    eprintln!(
        "gaol demo: configuration in {conf}\n\
         gaol demo: sshd jail reads {log}; bans go to {bans} (log-only action, no firewall)\n\
         gaol demo: appending sshd failures from {ATTACKER} (banned after 3) and {BYSTANDER} \
         (below maxretry); unban after {DEMO_BANTIME} s. Ctrl-C stops.",
        conf = conf.display(),
        log = dir.join("auth.log").display(),
        bans = dir.join("bans.log").display(),
    );
    let log = dir.join("auth.log");
    std::thread::spawn(move || feed(&log, run_for));
    let conf = conf.to_string_lossy().into_owned();
    crate::cli::server::main(
        "gaol demo",
        vec!["-xf".into(), "-c".into(), conf, "start".into()],
    )
}

fn usage(msg: &str) -> i32 {
    eprintln!("gaol demo: {msg}\n{USAGE}");
    2
}

const USAGE: &str = "\
Usage: gaol demo [--for SECONDS] [--dir DIR]

Runs the server in the foreground on gaol's embedded default configuration, with the
sshd jail reading a demo log that gaol itself fills with failed logins, and the
log-only action recording bans in DIR/bans.log. Stops on Ctrl-C, or after SECONDS.
";

/// Writes the embedded configuration to `dir/conf` plus the demo's `.local` overrides.
fn write_config(dir: &Path) -> std::io::Result<PathBuf> {
    let conf = dir.join("conf");
    for (rel, text) in crate::config::embedded::FILES {
        let path = conf.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
    }
    let d = dir.display();
    std::fs::write(dir.join("auth.log"), "")?;
    std::fs::write(
        conf.join("fail2ban.local"),
        format!(
            "[Definition]\nlogtarget = STDOUT\nsocket = {d}/gaol.sock\npidfile = {d}/gaol.pid\n\
             dbfile = {d}/gaol.sqlite3\n"
        ),
    )?;
    std::fs::write(
        conf.join("jail.local"),
        format!(
            "[sshd]\nlogpath = {d}/auth.log\nmaxretry = 3\nbantime = {DEMO_BANTIME}\n\
             action = dummy-log[target=\"{d}/bans.log\"]\n"
        ),
    )?;
    Ok(conf)
}

/// Appends demo sshd lines (stamped now) after the server had time to start; with
/// `run_for`, asks the server to stop (SIGTERM to ourselves) when the time is up.
fn feed(log: &Path, run_for: Option<u64>) {
    std::thread::sleep(Duration::from_millis(1500));
    let plan: [(&str, &str); 6] = [
        (ATTACKER, "root"),
        (BYSTANDER, "admin"),
        (ATTACKER, "admin"),
        (ATTACKER, "oracle"),
        (ATTACKER, "test"),
        (BYSTANDER, "guest"),
    ];
    for (n, (ip, user)) in plan.iter().enumerate() {
        let now = chrono::Local::now().format("%b %e %H:%M:%S");
        let line = format!(
            "{now} demo sshd[{pid}]: Failed password for invalid user {user} from {ip} port {port} ssh2\n",
            pid = 4100 + n,
            port = 50000 + n * 7,
        );
        let written = std::fs::OpenOptions::new()
            .append(true)
            .open(log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            eprintln!("gaol demo: cannot append to {}: {e}", log.display());
            return;
        }
        std::thread::sleep(Duration::from_millis(400));
    }
    if let Some(secs) = run_for {
        std::thread::sleep(Duration::from_secs(secs.saturating_sub(4)));
        // SAFETY: sending a signal to our own process; the server's handler stops it cleanly.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGTERM);
        }
    }
}
