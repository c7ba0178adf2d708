//! The systemd journal backend on real journal files: the fixtures are built at test time
//! by `systemd-journal-remote -o FILE.journal -` from export-format text made here (sshd
//! and postfix failures, a decoy unit posing as sshd, cron noise), then
//! * the same jails (stock sshd/postfix filters and their journalmatch) run in the real
//!   `fail2ban-server -f` and in gaol on the same journal file: same bans, same order,
//!   for entries present at start and for entries appended while running;
//! * gaol restarted on its DB neither re-counts nor skips entries;
//! * a rotated journal (file renamed to `…@….journal`, a new active file) is followed;
//! * `fail2ban-regex systemd-journal[journalfiles=…] sshd` counts as the real one.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BOOT: &str = "0123456789abcdef0123456789abcdef";

fn remote_bin() -> Option<PathBuf> {
    ["/lib/systemd", "/usr/lib/systemd"]
        .iter()
        .map(|d| Path::new(d).join("systemd-journal-remote"))
        .find(|p| p.exists())
}

/// True when the journal tools and libsystemd are here; loud skip otherwise (CI: fail).
fn have_journal_tools() -> bool {
    let ok = remote_bin().is_some() && gaol::journal::ffi::available();
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("systemd-journal-remote or libsystemd missing, but CI=true requires them");
        }
        eprintln!("SKIPPED: systemd-journal-remote / libsystemd.so.0 not installed");
    }
    ok
}

fn now_usec() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// One journal entry: its time (µs) and fields.
struct Entry {
    usec: u64,
    fields: Vec<(&'static str, String)>,
}

fn sshd(usec: u64, unit: &str, ip: &str) -> Entry {
    Entry {
        usec,
        fields: vec![
            ("_HOSTNAME", "web1".into()),
            ("_SYSTEMD_UNIT", unit.into()),
            ("_COMM", "sshd".into()),
            ("SYSLOG_IDENTIFIER", "sshd".into()),
            ("_PID", "4242".into()),
            (
                "MESSAGE",
                format!("Failed password for root from {ip} port 50022 ssh2"),
            ),
        ],
    }
}

/// Claims to be sshd in the text, but is another unit: journalmatch must keep it out.
fn decoy(usec: u64, ip: &str) -> Entry {
    Entry {
        usec,
        fields: vec![
            ("_HOSTNAME", "web1".into()),
            ("_SYSTEMD_UNIT", "decoy.service".into()),
            ("_COMM", "decoy".into()),
            ("SYSLOG_IDENTIFIER", "sshd".into()),
            ("_PID", "99".into()),
            (
                "MESSAGE",
                format!("Failed password for root from {ip} port 50022 ssh2"),
            ),
        ],
    }
}

fn postfix(usec: u64, ip: &str) -> Entry {
    Entry {
        usec,
        fields: vec![
            ("_HOSTNAME", "web1".into()),
            ("_SYSTEMD_UNIT", "postfix.service".into()),
            ("_COMM", "smtpd".into()),
            ("SYSLOG_IDENTIFIER", "postfix/smtpd".into()),
            ("_PID", "777".into()),
            (
                "MESSAGE",
                format!(
                    "NOQUEUE: reject: RCPT from unknown[{ip}]: 554 5.7.1 <spam@example.com>: Relay access denied; from=<a@example.org> to=<spam@example.com> proto=ESMTP helo=<x>"
                ),
            ),
        ],
    }
}

fn cron(usec: u64) -> Entry {
    Entry {
        usec,
        fields: vec![
            ("_HOSTNAME", "web1".into()),
            ("_SYSTEMD_UNIT", "cron.service".into()),
            ("_COMM", "cron".into()),
            ("SYSLOG_IDENTIFIER", "CRON".into()),
            ("_PID", "1".into()),
            ("MESSAGE", "(root) CMD (run-parts /etc/cron.hourly)".into()),
        ],
    }
}

/// The journal export format (`KEY=value` lines, a blank line after each entry).
fn export(entries: &[Entry]) -> String {
    let mut s = String::new();
    for e in entries {
        s.push_str(&format!(
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID={BOOT}\n",
            e.usec,
            e.usec % 1_000_000_000_000
        ));
        for (k, v) in &e.fields {
            s.push_str(&format!("{k}={v}\n"));
        }
        s.push('\n');
    }
    s
}

/// Writes (or appends) entries to a journal file with systemd-journal-remote.
fn write_journal(path: &Path, entries: &[Entry]) {
    let mut c = Command::new(remote_bin().unwrap())
        .arg("-o")
        .arg(path)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(export(entries).as_bytes())
        .unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

struct Tree {
    dir: PathBuf,
}

impl Tree {
    fn p(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A config tree with the stock filters and jails `sshd` and `postfix` reading the
    /// journal through `backend`; the `record` action appends `BAN <jail> <ip>` to out.txt.
    fn new(dir: &Path, backend: &str, db: &str) -> Tree {
        let t = Tree {
            dir: dir.to_path_buf(),
        };
        common::copy_tree(
            &Path::new(common::STOCK).join("filter.d"),
            &t.p("conf/filter.d"),
        );
        std::fs::create_dir_all(t.p("conf/action.d")).unwrap();
        let d = |p: PathBuf| p.display().to_string();
        let db = if db == "None" {
            db.to_string()
        } else {
            d(t.p(db))
        };
        std::fs::write(
            t.p("conf/fail2ban.conf"),
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {}\nsyslogsocket = auto\nsocket = {}\npidfile = {}\ndbfile = {db}\ndbpurgeage = 1d\ndbmaxmatches = 10\n",
                d(t.p("f2b.log")),
                d(t.p("f2b.sock")),
                d(t.p("f2b.pid")),
            ),
        )
        .unwrap();
        std::fs::write(
            t.p("conf/jail.conf"),
            format!(
                "[DEFAULT]\nbackend = {backend}\nbantime = 600\nfindtime = 600\nmaxretry = 3\naction = record[jname=%(__name__)s]\n\n[sshd]\nenabled = true\nfilter = sshd\n\n[postfix]\nenabled = true\nfilter = postfix\n"
            ),
        )
        .unwrap();
        let out = d(t.p("out.txt"));
        std::fs::write(
            t.p("conf/action.d/record.conf"),
            format!(
                "[Definition]\nactionban = echo \"BAN <jname> <ip>\" >> {out}\n[Init]\njname = x\n"
            ),
        )
        .unwrap();
        t
    }

    fn bans(&self) -> Vec<String> {
        std::fs::read_to_string(self.p("out.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.p("f2b.log")).unwrap_or_default()
    }

    fn client(&self, args: &[&str]) -> String {
        let o = Command::new(env!("CARGO_BIN_EXE_gaol"))
            .arg("client")
            .arg("-s")
            .arg(self.p("f2b.sock"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    fn start(&self, bin: &str, pre: &[&str]) -> Child {
        let c = Command::new(bin)
            .args(pre)
            .arg("-xf")
            .arg("-c")
            .arg(self.p("conf"))
            .arg("start")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(
            wait_for(60, || self.p("f2b.sock").exists()
                && self.client(&["ping"]).contains("pong")),
            "server in {} did not come up: {}",
            self.dir.display(),
            self.log()
        );
        c
    }

    fn stop(&self, mut child: Child) {
        self.client(&["stop"]);
        if !wait_for(60, || matches!(child.try_wait(), Ok(Some(_)))) {
            let _ = child.kill();
            panic!("server did not stop");
        }
    }

    fn in_operation(&self, jail: &str) -> bool {
        self.log().contains(&format!(
            "[{jail}] Jail is in operation now (process new journal entries)"
        ))
    }
}

fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}

/// Failures before the servers start: A (192.0.2.1, via the unit) and B (192.0.2.2, via
/// `_COMM=sshd` only, the other OR group) reach maxretry with B first; C twice only; the
/// decoy five times; postfix bans 198.51.100.7.
fn initial_entries() -> Vec<Entry> {
    let t0 = now_usec() - 120_000_000;
    let s = |i: u64| t0 + i * 1_000_000;
    vec![
        cron(s(0)),
        sshd(s(1), "sshd.service", "192.0.2.1"),
        sshd(s(2), "session-1.scope", "192.0.2.2"),
        decoy(s(3), "203.0.113.66"),
        sshd(s(4), "sshd.service", "192.0.2.1"),
        decoy(s(5), "203.0.113.66"),
        sshd(s(6), "session-1.scope", "192.0.2.2"),
        postfix(s(7), "198.51.100.7"),
        decoy(s(8), "203.0.113.66"),
        sshd(s(9), "sshd.service", "192.0.2.3"),
        sshd(s(10), "session-1.scope", "192.0.2.2"),
        postfix(s(11), "198.51.100.7"),
        decoy(s(12), "203.0.113.66"),
        sshd(s(13), "sshd.service", "192.0.2.1"),
        cron(s(14)),
        postfix(s(15), "198.51.100.7"),
        sshd(s(16), "sshd.service", "192.0.2.3"),
        decoy(s(17), "203.0.113.66"),
    ]
}

#[test]
fn same_bans_as_fail2ban_on_the_same_journal() {
    if !have_journal_tools() || !common::have_oracle() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let jf = tmp.path().join("host.journal");
    write_journal(&jf, &initial_entries());
    let backend = format!("systemd[journalfiles={}]", jf.display());
    let real = Tree::new(&tmp.path().join("real"), &backend, "f2b.sqlite3");
    let ours = Tree::new(&tmp.path().join("gaol"), &backend, "f2b.sqlite3");
    let rc = real.start("fail2ban-server", &[]);
    let gc = ours.start(env!("CARGO_BIN_EXE_gaol"), &["server"]);
    let ready = |t: &Tree| t.in_operation("sshd") && t.in_operation("postfix");
    assert!(
        wait_for(60, || ready(&real) && ready(&ours)),
        "{}",
        ours.log()
    );
    assert!(wait_for(60, || real.bans().len() >= 3 && ours.bans().len() >= 3));
    // Appended while running: D three times; C once more (its third).
    let t = now_usec();
    write_journal(
        &jf,
        &[
            sshd(t, "sshd.service", "192.0.2.4"),
            cron(t + 1),
            sshd(t + 2, "sshd.service", "192.0.2.4"),
            decoy(t + 3, "203.0.113.66"),
            sshd(t + 4, "sshd.service", "192.0.2.3"),
            sshd(t + 5, "sshd.service", "192.0.2.4"),
        ],
    );
    assert!(
        wait_for(60, || real.bans().len() >= 5 && ours.bans().len() >= 5),
        "real {:?} gaol {:?}",
        real.bans(),
        ours.bans()
    );
    // Both settle at their own pace (the Python one is slow on a loaded machine): wait
    // until the statuses agree, then compare them once more for the message.
    let status = |t: &Tree| t.client(&["status", "sshd"]);
    wait_for(60, || status(&ours) == status(&real));
    assert_eq!(status(&ours), status(&real));
    assert_eq!(
        ours.client(&["get", "sshd", "journalmatch"]),
        real.client(&["get", "sshd", "journalmatch"])
    );
    real.stop(rc);
    ours.stop(gc);
    let (rb, gb) = (real.bans(), ours.bans());
    // Per jail the order is the journal's; across jails the jails' threads interleave
    // (in fail2ban too), so each jail's sequence is compared.
    let of = |v: &[String], jail: &str| -> Vec<String> {
        let p = format!("BAN {jail} ");
        v.iter().filter(|l| l.starts_with(&p)).cloned().collect()
    };
    assert_eq!(
        of(&gb, "sshd"),
        of(&rb, "sshd"),
        "sshd bans and their order"
    );
    assert_eq!(of(&gb, "postfix"), of(&rb, "postfix"), "postfix bans");
    assert_eq!(gb.len(), rb.len(), "{gb:?} vs {rb:?}");
    let sshd = of(&gb, "sshd");
    assert_eq!(
        sshd,
        [
            "BAN sshd 192.0.2.2",
            "BAN sshd 192.0.2.1",
            "BAN sshd 192.0.2.3",
            "BAN sshd 192.0.2.4"
        ]
    );
    assert!(gb.contains(&"BAN postfix 198.51.100.7".to_string()));
    assert!(!ours.log().contains("203.0.113.66"), "decoy unit was read");
    assert!(
        ours.log()
            .contains("Jail 'sshd' uses systemd {'journalfiles': ")
    );
}

#[test]
fn restart_resumes_after_the_last_entry() {
    if !have_journal_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let jf = tmp.path().join("host.journal");
    let t0 = now_usec() - 60_000_000;
    write_journal(
        &jf,
        &[
            sshd(t0, "sshd.service", "192.0.2.1"),
            sshd(t0 + 1_000_000, "sshd.service", "192.0.2.2"),
            sshd(t0 + 2_000_000, "sshd.service", "192.0.2.1"),
        ],
    );
    let t = Tree::new(
        &tmp.path().join("gaol"),
        &format!("systemd[journalfiles={}]", jf.display()),
        "f2b.sqlite3",
    );
    let gaol = env!("CARGO_BIN_EXE_gaol");
    let found = |t: &Tree, ip: &str| t.log().matches(&format!("[sshd] Found {ip} ")).count();
    let c = t.start(gaol, &["server"]);
    assert!(wait_for(60, || found(&t, "192.0.2.1") == 2 && t.in_operation("sshd")));
    t.stop(c);
    // While stopped: one more failure for each. On restart only these are new, so
    // 192.0.2.1 has 3 Found lines in all (no re-count of the first two) and no ban
    // (the failure counts start over), and nothing written meanwhile is skipped.
    let t1 = now_usec();
    write_journal(
        &jf,
        &[
            sshd(t1, "sshd.service", "192.0.2.1"),
            sshd(t1 + 1, "sshd.service", "192.0.2.2"),
        ],
    );
    let c = t.start(gaol, &["server"]);
    assert!(wait_for(60, || found(&t, "192.0.2.2") == 2 && t.in_operation("sshd")));
    std::thread::sleep(Duration::from_millis(500));
    t.stop(c);
    assert_eq!(found(&t, "192.0.2.1"), 3, "{}", t.log());
    assert_eq!(found(&t, "192.0.2.2"), 2, "{}", t.log());
    assert!(t.bans().is_empty(), "{:?}", t.bans());
    let c = rusqlite::Connection::open(t.p("f2b.sqlite3")).unwrap();
    let (iso, pos): (String, f64) = c
        .query_row(
            "SELECT firstlinemd5, lastfilepos FROM logs WHERE jail='sshd' AND path='systemd-journal'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((pos * 1e6).round() as u64, t1 + 1);
    assert!(iso.starts_with(&chrono::Local::now().format("%Y-%m-%dT").to_string()));
    assert!(
        iso.ends_with(&chrono::Local::now().format("%:z").to_string()),
        "{iso}"
    );
}

#[test]
fn a_rotated_journal_is_followed() {
    if !have_journal_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    std::fs::create_dir_all(&dir).unwrap();
    let active = dir.join("system.journal");
    let t0 = now_usec() - 30_000_000;
    write_journal(
        &active,
        &[
            sshd(t0, "sshd.service", "192.0.2.7"),
            sshd(t0 + 1_000_000, "sshd.service", "192.0.2.7"),
        ],
    );
    let t = Tree::new(
        &tmp.path().join("gaol"),
        &format!("systemd[journalpath={}]", dir.display()),
        "None",
    );
    let c = t.start(env!("CARGO_BIN_EXE_gaol"), &["server"]);
    assert!(wait_for(60, || t.in_operation("sshd")));
    // journald's rotation: the active file is archived under an `@` name, a new one
    // takes its place; the third failure is only in the new file.
    std::fs::rename(
        &active,
        dir.join(
            "system@0000000000000000000000000000000a-0000000000000001-0000000000000001.journal",
        ),
    )
    .unwrap();
    let t1 = now_usec();
    write_journal(
        &active,
        &[cron(t1), sshd(t1 + 1, "sshd.service", "192.0.2.7")],
    );
    let banned = wait_for(60, || t.bans() == ["BAN sshd 192.0.2.7"]);
    t.stop(c);
    assert!(banned, "{:?}\n{}", t.bans(), t.log());
}

/// `fail2ban-regex systemd-journal[journalfiles=…] sshd`: the same counts as fail2ban's.
#[test]
fn fail2ban_regex_reads_the_journal() {
    if !have_journal_tools() || !common::have_oracle() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let jf = tmp.path().join("host.journal");
    write_journal(&jf, &initial_entries());
    let src = format!("systemd-journal[journalfiles={}]", jf.display());
    let summary = |bin: &str, pre: &[&str], extra: &[&str]| -> Vec<String> {
        let o = Command::new(bin)
            .args(pre)
            .args(extra)
            .arg(&src)
            .arg("/etc/fail2ban/filter.d/sshd.conf")
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("Lines:") || l.starts_with("Failregex:"))
            .map(str::to_string)
            .collect()
    };
    let gaol = env!("CARGO_BIN_EXE_gaol");
    let real = summary("fail2ban-regex", &[], &[]);
    assert_eq!(summary(gaol, &["regex"], &[]), real);
    assert!(
        real.iter().any(|l| l.starts_with("Failregex: 8 total")),
        "{real:?}"
    );
    // -m replaces the filter's journalmatch: the decoy unit's lines are read then.
    let m = ["-m", "_SYSTEMD_UNIT=decoy.service"];
    let real = summary("fail2ban-regex", &[], &m);
    assert_eq!(summary(gaol, &["regex"], &m), real);
    assert!(
        real.iter().any(|l| l.starts_with("Failregex: 5 total")),
        "{real:?}"
    );
}

/// A reload that changes the jail's journalmatch: the new matches apply to entries
/// written afterwards, and nothing read before is read again.
#[test]
fn reload_applies_new_journal_matches() {
    if !have_journal_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let jf = tmp.path().join("host.journal");
    let t0 = now_usec() - 10_000_000;
    write_journal(&jf, &[sshd(t0, "sshd.service", "192.0.2.5")]);
    let t = Tree::new(
        &tmp.path().join("gaol"),
        &format!("systemd[journalfiles={}]", jf.display()),
        "f2b.sqlite3",
    );
    let gaol = env!("CARGO_BIN_EXE_gaol");
    let c = t.start(gaol, &["server"]);
    assert!(wait_for(60, || t.in_operation("sshd")));
    let conf = t.p("conf/jail.conf");
    let text = std::fs::read_to_string(&conf).unwrap().replace(
        "filter = sshd\n",
        "filter = sshd\njournalmatch = _SYSTEMD_UNIT=decoy.service\n",
    );
    std::fs::write(&conf, text).unwrap();
    let o = Command::new(gaol)
        .arg("client")
        .arg("-c")
        .arg(t.p("conf"))
        .arg("reload")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        t.client(&["get", "sshd", "journalmatch"]),
        "Current match filter:\n_SYSTEMD_UNIT=decoy.service"
    );
    let t1 = now_usec();
    let mut entries = Vec::new();
    for i in 0..3 {
        entries.push(decoy(t1 + i * 2, "203.0.113.66"));
        entries.push(sshd(t1 + i * 2 + 1, "sshd.service", "192.0.2.5"));
    }
    write_journal(&jf, &entries);
    let banned = wait_for(60, || t.bans() == ["BAN sshd 203.0.113.66"]);
    std::thread::sleep(Duration::from_millis(500));
    t.stop(c);
    assert!(banned, "{:?}\n{}", t.bans(), t.log());
    assert_eq!(t.bans(), ["BAN sshd 203.0.113.66"]);
    // 192.0.2.5's first failure was read once, before the reload; none after it.
    assert_eq!(t.log().matches("[sshd] Found 192.0.2.5 ").count(), 1);
}

#[test]
fn auto_backend_without_log_files_reads_the_journal() {
    if !have_journal_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let jf = tmp.path().join("host.journal");
    let t0 = now_usec() - 30_000_000;
    let mut entries = vec![cron(t0)];
    for i in 0..3 {
        entries.push(sshd(t0 + 1_000_000 * (i + 1), "sshd.service", "192.0.2.77"));
    }
    write_journal(&jf, &entries);
    // fail2ban 1.1's policy: `backend = auto`, no file behind logpath, a journalmatch in
    // the filter → the jail reads the journal (the `auto[…]` options go with it).
    let t = Tree::new(
        &tmp.path().join("gaol"),
        &format!("auto[journalfiles={}]", jf.display()),
        "None",
    );
    let conf = std::fs::read_to_string(t.p("conf/jail.conf")).unwrap();
    let missing = tmp.path().join("no-such.log");
    std::fs::write(
        t.p("conf/jail.conf"),
        conf.replacen(
            "[DEFAULT]\n",
            &format!("[DEFAULT]\nlogpath = {}\n", missing.display()),
            1,
        ),
    )
    .unwrap();
    let c = t.start(env!("CARGO_BIN_EXE_gaol"), &["server"]);
    let banned = wait_for(60, || t.bans().iter().any(|b| b == "BAN sshd 192.0.2.77"));
    let status = t.client(&["status", "sshd"]);
    t.stop(c);
    assert!(banned, "{:?}\n{}", t.bans(), t.log());
    assert!(status.contains("Journal matches"), "{status}");
    // With `systemd_if_nologs = false` the jail fails as in fail2ban 1.0.2.
    let o = Command::new(env!("CARGO_BIN_EXE_gaol"))
        .args(["client", "-c"])
        .arg(t.p("conf"))
        .arg("-t")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let conf = std::fs::read_to_string(t.p("conf/jail.conf")).unwrap();
    std::fs::write(
        t.p("conf/jail.conf"),
        conf.replacen("[DEFAULT]\n", "[DEFAULT]\nsystemd_if_nologs = false\n", 1),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_gaol"))
        .args(["client", "-c"])
        .arg(t.p("conf"))
        .arg("-t")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("Have not found any log file for sshd jail"),
        "{err}"
    );
}
