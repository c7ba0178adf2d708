//! Shared helpers for the oracle tests: locating the real fail2ban tools (skip loudly
//! unless CI=true), running gaol as `fail2ban-client`, building config trees from
//! compat-fixtures (stock overlay, `@LOGDIR@` placeholders, `LOGS` files) and diffing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const STOCK: &str = "/etc/fail2ban";

/// True when the real fail2ban-client and /etc/fail2ban exist. Otherwise prints a loud
/// SKIPPED line, or panics when CI=true (CI must run the oracle tests).
pub fn have_oracle() -> bool {
    let ok = Command::new("fail2ban-client")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
        && Path::new(STOCK).join("jail.conf").exists();
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("fail2ban-client or {STOCK} missing, but CI=true requires them");
        }
        eprintln!("SKIPPED: fail2ban-client / {STOCK} not installed");
    }
    ok
}

pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

fn run(mut cmd: Command) -> Run {
    let o = cmd.output().expect("spawn");
    Run {
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(-1),
    }
}

/// The real `fail2ban-client -c DIR ARGS`.
pub fn real_client(dir: &Path, args: &[&str]) -> Run {
    let mut c = Command::new("fail2ban-client");
    c.arg("-c").arg(dir).args(args);
    run(c)
}

/// gaol as fail2ban-client: `gaol client -c DIR ARGS`.
pub fn gaol_client(dir: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gaol"));
    c.arg("client").arg("-c").arg(dir).args(args);
    run(c)
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let ty = e.file_type().unwrap();
        let dest = to.join(e.file_name());
        if ty.is_dir() {
            copy_tree(&e.path(), &dest);
        } else if ty.is_file() {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// Copies a tree, replacing `@LOGDIR@` in every file with `logdir`.
fn copy_subst(from: &Path, to: &Path, logdir: &str) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let ty = e.file_type().unwrap();
        let name = e.file_name();
        if name == "OVERLAY_STOCK" || name == "LOGS" {
            continue;
        }
        let dest = to.join(&name);
        if ty.is_dir() {
            copy_subst(&e.path(), &dest, logdir);
        } else {
            let bytes = std::fs::read(e.path()).unwrap();
            let out = match String::from_utf8(bytes.clone()) {
                Ok(s) => s.replace("@LOGDIR@", logdir).into_bytes(),
                Err(_) => bytes,
            };
            std::fs::write(&dest, out).unwrap();
        }
    }
}

/// Root of the repo's compat fixtures.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("compat-fixtures")
}

/// A materialised config tree: `root/conf` is the `-c` dir, `root/log` the log dir.
pub struct Tree {
    pub tmp: tempfile::TempDir,
    pub conf: PathBuf,
    pub logdir: PathBuf,
}

/// Builds fixture `name`: optional stock overlay, `@LOGDIR@` substitution, and the log
/// files listed (one relative name a line) in the fixture's `LOGS` file.
pub fn build_fixture(name: &str) -> Tree {
    let src = fixtures_dir().join(name);
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("conf");
    let logdir = tmp.path().join("log");
    std::fs::create_dir_all(&logdir).unwrap();
    if src.join("OVERLAY_STOCK").exists() {
        copy_tree(Path::new(STOCK), &conf);
    }
    copy_subst(&src, &conf, logdir.to_str().unwrap());
    if let Ok(list) = std::fs::read_to_string(src.join("LOGS")) {
        for l in list
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let p = logdir.join(l);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
    }
    Tree { tmp, conf, logdir }
}

/// Stock tree with every jail of jail.conf enabled (bench/make_all_enabled_tree.sh).
pub fn build_all_enabled() -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("conf");
    let logdir = tmp.path().join("log");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/make_all_enabled_tree.sh");
    let st = Command::new("bash")
        .arg(script)
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(st.success(), "make_all_enabled_tree.sh failed");
    Tree { tmp, conf, logdir }
}

/// A short unified-ish diff around the first differing line ("" when equal).
/// The log lines of a client's stderr without their time and pid
/// ("YYYY-MM-DD HH:MM:SS,mmm logger [pid]: LEVEL msg" → "logger : LEVEL msg").
pub fn log_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|l| {
            let rest = l.splitn(3, ' ').nth(2).unwrap_or(l);
            match (rest.find('['), rest.find("]:")) {
                (Some(a), Some(b)) if a < b => format!("{}{}", &rest[..a], &rest[b + 2..]),
                _ => rest.to_string(),
            }
        })
        .collect()
}

pub fn first_diff(want: &str, got: &str) -> String {
    if want == got {
        return String::new();
    }
    let a: Vec<&str> = want.split_inclusive('\n').collect();
    let b: Vec<&str> = got.split_inclusive('\n').collect();
    let i = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
    let mut s = format!(
        "first difference at line {} (fail2ban {} lines, gaol {} lines)\n",
        i + 1,
        a.len(),
        b.len()
    );
    for l in &a[i.saturating_sub(2)..i] {
        s += &format!("  {}", ensure_nl(l));
    }
    for l in a.iter().skip(i).take(4) {
        s += &format!("- {}", ensure_nl(l));
    }
    for l in b.iter().skip(i).take(4) {
        s += &format!("+ {}", ensure_nl(l));
    }
    s
}

fn ensure_nl(l: &str) -> String {
    let mut t: String = l.chars().take(400).collect();
    if !t.ends_with('\n') {
        t.push('\n');
    }
    t
}

/// Runs both clients with `-d` on `dir`; returns a failure report or None when identical.
pub fn compare_dump(dir: &Path) -> Option<String> {
    let real = real_client(dir, &["-d"]);
    let gaol = gaol_client(dir, &["-d"]);
    let mut msg = String::new();
    if real.code != gaol.code {
        msg += &format!("exit code: fail2ban {} gaol {}\n", real.code, gaol.code);
    }
    msg += &first_diff(&real.stdout, &gaol.stdout);
    if gaol.stderr.contains("panicked at") {
        msg += &format!("gaol panicked: {}\n", gaol.stderr);
    }
    if msg.is_empty() { None } else { Some(msg) }
}
