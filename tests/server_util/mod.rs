//! Shared helpers of the server tests: a temporary jail setup (log file, file-writing
//! action, SQLite file) driven through `Server::execute`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gaol::server::Server;
use gaol::stream::Value;

pub fn s(x: &str) -> Value {
    Value::Str(x.to_string())
}

pub fn cmd(parts: &[&str]) -> Vec<Value> {
    parts.iter().map(|p| s(p)).collect()
}

/// A temporary directory with a log file, an action output file and a DB path.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    pub out: PathBuf,
    pub db: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("test.log");
        std::fs::write(&log, "").unwrap();
        let out = dir.path().join("actions.out");
        let db = dir.path().join("f2b.sqlite3");
        Env { dir, log, out, db }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The action's output lines.
    pub fn out_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The commands of one jail `test` watching the log with a file-writing action.
    /// `opts` are extra `set test key value` pairs applied before `addlogpath`.
    pub fn jail_stream(&self, with_db: bool, opts: &[(&str, &str)]) -> Vec<Value> {
        let out = self.out.display().to_string();
        let mut v: Vec<Vec<Value>> = Vec::new();
        if with_db {
            v.push(cmd(&["set", "dbfile", &self.db.display().to_string()]));
        }
        v.push(cmd(&["add", "test", "polling"]));
        v.push(cmd(&["set", "test", "maxretry", "3"]));
        v.push(cmd(&["set", "test", "findtime", "600"]));
        v.push(cmd(&["set", "test", "bantime", "600"]));
        v.push(cmd(&[
            "set",
            "test",
            "addfailregex",
            r"Failed password for \S+ from <HOST>",
        ]));
        for (k, val) in opts {
            v.push(cmd(&["set", "test", k, val]));
        }
        v.push(cmd(&[
            "set",
            "test",
            "addlogpath",
            &self.log.display().to_string(),
            "head",
        ]));
        v.push(cmd(&["set", "test", "addaction", "rec"]));
        let props = [
            ("actionstart", format!("echo start <name> >> {out}")),
            ("actionstop", format!("echo stop <name> >> {out}")),
            (
                "actionban",
                format!("echo ban <ip> <failures> <bantime> <bancount> <restored> >> {out}"),
            ),
            ("actionunban", format!("echo unban <ip> >> {out}")),
            ("name", "test".to_string()),
        ];
        let pairs = props
            .iter()
            .map(|(k, val)| Value::List(vec![s(k), s(val)]))
            .collect();
        v.push(vec![
            s("multi-set"),
            s("test"),
            s("action"),
            s("rec"),
            Value::List(pairs),
        ]);
        v.push(cmd(&["start", "test"]));
        vec![
            s("server-stream"),
            Value::List(v.into_iter().map(Value::List).collect()),
        ]
    }

    pub fn start(&self, with_db: bool, opts: &[(&str, &str)]) -> Server {
        let srv = Server::new();
        srv.execute(&self.jail_stream(with_db, opts)).unwrap();
        srv
    }

    pub fn append(&self, lines: &[String]) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    }
}

/// A log line at epoch `t` (local time) for `ip`.
pub fn line_at(t: f64, ip: &str) -> String {
    use chrono::TimeZone;
    let d = chrono::Local.timestamp_opt(t as i64, 0).unwrap();
    format!(
        "{} host sshd[42]: Failed password for root from {ip} port 22 ssh2",
        d.format("%Y-%m-%d %H:%M:%S")
    )
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

pub fn line_now(ip: &str) -> String {
    line_at(now(), ip)
}

/// Polls `cond` every 50 ms until true or `secs` passed.
pub fn wait_for(secs: f64, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// `status test` → (currently failed, total failed, currently banned, total banned).
pub fn counters(srv: &Server) -> (i64, i64, i64, i64) {
    let st = srv.execute(&cmd(&["status", "test"])).unwrap();
    let text = st.to_string();
    let grab = |key: &str| -> i64 {
        let i = text.find(key).unwrap() + key.len() + 3;
        text[i..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        grab("Currently failed"),
        grab("Total failed"),
        grab("Currently banned"),
        grab("Total banned"),
    )
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// The commands of a jail `name` (polling `log` from its head, maxretry 3, a
/// file-writing action appending `ban <name> <ip>` to `out`); `opts` are extra
/// `set <name> key value` pairs applied before `addlogpath`. Ends with `start <name>`.
pub fn named_jail(name: &str, log: &Path, out: &Path, opts: &[(&str, &str)]) -> Vec<Vec<Value>> {
    let out = out.display().to_string();
    let mut v = vec![
        cmd(&["add", name, "polling"]),
        cmd(&["set", name, "maxretry", "3"]),
        cmd(&["set", name, "findtime", "600"]),
        cmd(&["set", name, "bantime", "600"]),
        cmd(&[
            "set",
            name,
            "addfailregex",
            r"Failed password for \S+ from <HOST>",
        ]),
    ];
    for (k, val) in opts {
        v.push(cmd(&["set", name, k, val]));
    }
    v.push(cmd(&[
        "set",
        name,
        "addlogpath",
        &log.display().to_string(),
        "head",
    ]));
    v.push(cmd(&["set", name, "addaction", "rec"]));
    let pairs = [
        ("actionban", format!("echo ban {name} <ip> >> {out}")),
        ("name", name.to_string()),
    ]
    .iter()
    .map(|(k, val)| Value::List(vec![s(k), s(val)]))
    .collect();
    v.push(vec![
        s("multi-set"),
        s(name),
        s("action"),
        s("rec"),
        Value::List(pairs),
    ]);
    v.push(cmd(&["start", name]));
    v
}

/// A `server-stream` command of these commands.
pub fn stream(cmds: Vec<Vec<Value>>) -> Vec<Value> {
    vec![
        s("server-stream"),
        Value::List(cmds.into_iter().map(Value::List).collect()),
    ]
}

/// Appends `lines` to the file at `path` (created when missing).
pub fn append_to(path: &Path, lines: &[String]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// Waits (up to a minute) for the action output to hold `want.len()` lines, then checks
/// they are `want` in any order (jails ban concurrently).
pub fn assert_bans_in_any_order(env: &Env, want: &[String]) {
    assert!(
        wait_for(60.0, || env.out_lines().len() == want.len()),
        "{:?}",
        env.out_lines()
    );
    let mut bans = env.out_lines();
    bans.sort();
    let mut want = want.to_vec();
    want.sort();
    assert_eq!(bans, want);
}

/// The names of this process's threads.
pub fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim_end().to_string())
        .collect()
}

/// How many filter workers (`f2b/filter*` threads) this process has.
pub fn filter_workers() -> usize {
    thread_names()
        .iter()
        .filter(|n| n.starts_with("f2b/filter"))
        .count()
}
