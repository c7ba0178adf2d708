//! Command actions run for real (`/bin/sh`): execution (output capture, exit codes,
//! timeouts that kill a whole process tree, one command at a time), the operation order
//! of `JailActions` (start on demand per family, unban only after a ban, check / repair /
//! retry, flush vs. individual unbans, reverse stop, norestored, reload), fail2ban's log
//! lines for all of it, and hostile ticket values that must reach the shell only as data.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gaol::server::action::{
    CommandAction, Family, JailActions, MapInfo, PreparedCommand, execute, execute_codes,
};
use gaol::server::log::{self, LogLevel, Target};

fn cmd(s: &str) -> PreparedCommand {
    PreparedCommand::plain(s)
}

fn action(jail: &str, name: &str, props: &[(&str, &str)]) -> CommandAction {
    let mut a = CommandAction::new(jail, name);
    for (k, v) in props {
        a.set_property(k, v);
    }
    a
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn ticket(ip: &str) -> MapInfo {
    let mut m = MapInfo::for_id(ip, 1795276366.0);
    m.set("failures", "3")
        .set("bantime", "600")
        .set("restored", "0");
    m
}

type Rec = Arc<Mutex<Vec<String>>>;

/// JailActions whose commands are recorded (and succeed) instead of running.
fn recording(jail: &str) -> (JailActions, Rec) {
    let rec: Rec = Arc::default();
    let r2 = rec.clone();
    let mut ja = JailActions::new(jail);
    ja.set_runner(Arc::new(move |c: &PreparedCommand, _| {
        r2.lock().unwrap().push(c.script.clone());
        true
    }));
    (ja, rec)
}

fn take(rec: &Rec) -> Vec<String> {
    std::mem::take(&mut *rec.lock().unwrap())
}

fn pid_alive(pid: i32) -> bool {
    // A zombie counts as dead: it no longer runs.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Everything that asserts on log lines (the logger is process-wide: one test fn).
#[test]
fn execution_and_logs() {
    log::set_level(LogLevel(5));
    log::set_target(Target::Memory(Vec::new()));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();

    // Success: stdout captured, logged at DEBUG.
    let r = execute(&cmd("echo 'starting test'"), Duration::from_secs(5));
    assert!(r.success && r.code == Some(0));
    assert_eq!(r.stdout, "starting test\n");

    // Failure: exit code, stderr, ERROR lines.
    let r = execute(
        &cmd("echo out; echo err >&2; exit 3"),
        Duration::from_secs(5),
    );
    assert!(!r.success);
    assert_eq!(r.code, Some(3));
    assert_eq!(r.stderr, "err\n");

    // ignorecommand-style: exit 1 is an answer, not an error.
    let r = execute_codes(&cmd("exit 1"), Duration::from_secs(5), &[0, 1]);
    assert!(r.success && r.code == Some(1));

    // 127 adds the hint.
    let r = execute(&cmd("gaol-no-such-command-xyz"), Duration::from_secs(5));
    assert_eq!(r.code, Some(127));

    // Timeout: the shell, its child and a grandchild that ignores SIGTERM all die.
    let pidfile = format!("{d}/pids");
    let script = format!(
        "(trap '' TERM; sleep 30; touch {d}/late1) & echo $! >> {pidfile}; \
         sh -c 'trap \"\" TERM; sleep 30; touch {d}/late2' & echo $! >> {pidfile}; sleep 30"
    );
    let t0 = Instant::now();
    let r = execute(&cmd(&script), Duration::from_millis(500));
    let spent = t0.elapsed();
    assert!(r.timed_out && !r.success, "{r:?}");
    // 0.5 s + the kill grace; generous for a slow machine, far below the 30 s sleep.
    assert!(spent < Duration::from_secs(10), "took {spent:?}");
    assert_eq!(r.code, Some(-15), "the shell dies of SIGTERM");
    std::thread::sleep(Duration::from_millis(100));
    let pids: Vec<i32> = read(Path::new(&pidfile))
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(pids.len(), 2);
    for p in pids {
        assert!(!pid_alive(p), "child {p} survived the timeout");
    }

    // A failing action: logged, no panic, other actions still run.
    let mut ja = JailActions::new("test");
    ja.add(action(
        "test",
        "failing",
        &[("actionban", "exit 1"), ("actionunban", "exit 1")],
    ))
    .unwrap();
    ja.add(action(
        "test",
        "badunban",
        &[("actionban", "true"), ("actionunban", "exit 1")],
    ))
    .unwrap();
    ja.add(action(
        "test",
        "good",
        &[("actionban", &format!("echo <ip> >> {d}/good"))],
    ))
    .unwrap();
    ja.start();
    assert!(!ja.ban(&ticket("192.0.2.123"), Family::Inet4, false));
    assert_eq!(read(&Path::new(&d).join("good")), "192.0.2.123\n");
    ja.unban(&ticket("192.0.2.123"), Family::Inet4);

    // Check / repair / retry: the ban fails until `ok` exists; repair creates it.
    let mut ja = JailActions::new("test");
    ja.add(action(
        "test",
        "fragile",
        &[
            (
                "actionban",
                &format!("test -f {d}/ok && echo ban <ip> >> {d}/ops"),
            ),
            ("actioncheck", &format!("test -f {d}/ok")),
            (
                "actionrepair",
                &format!("touch {d}/ok; echo repair >> {d}/ops"),
            ),
        ],
    ))
    .unwrap();
    ja.start();
    assert!(ja.ban(&ticket("192.0.2.7"), Family::Inet4, false));
    assert_eq!(read(&Path::new(&d).join("ops")), "repair\nban 192.0.2.7\n");
    assert_eq!(ja.ban_epoch(), 1);

    // Without a repair command: stop + start, then the retried ban.
    let mut ja = JailActions::new("test");
    ja.add(action(
        "test",
        "restart",
        &[
            (
                "actionstart",
                &format!("touch {d}/up; echo start >> {d}/ops2"),
            ),
            (
                "actionstop",
                &format!("rm -f {d}/up; echo stop >> {d}/ops2"),
            ),
            (
                "actionban",
                &format!("test -f {d}/up && echo ban <ip> >> {d}/ops2"),
            ),
            ("actioncheck", &format!("test -f {d}/up")),
        ],
    ))
    .unwrap();
    ja.start();
    std::fs::remove_file(Path::new(&d).join("up")).unwrap();
    // As in fail2ban 1.0.2, the repair of an address family the action was not started
    // for (it started for the family-less case) finds the start already done: the
    // environment stays broken and the ban fails.
    assert!(!ja.ban(&ticket("192.0.2.8"), Family::Inet4, false));
    // A non-address id repairs every started family: stop, start, then the retried ban.
    assert!(ja.ban(&MapInfo::for_id("user1", 1.0), Family::None, false));
    assert_eq!(
        read(&Path::new(&d).join("ops2")),
        "start\nstop\nstart\nban user1\n"
    );

    // A start failure is logged and does not stop the jail.
    let mut ja = JailActions::new("test");
    ja.add(action("test", "nostart", &[("actionstart", "exit 2")]))
        .unwrap();
    ja.start();

    // Flush log lines.
    let (mut ja, rec) = recording("test");
    ja.add(action(
        "test",
        "flusher",
        &[("actionban", "ban <ip>"), ("actionflush", "flush")],
    ))
    .unwrap();
    ja.start();
    ja.ban(&ticket("192.0.2.50"), Family::Inet4, false);
    ja.flush(&[&ticket("192.0.2.50")]);
    assert_eq!(take(&rec), vec!["ban 192.0.2.50", "flush"]);

    // A Python action is refused with the jail and the file named.
    let e = ja
        .add_python("smtp", "/etc/fail2ban/action.d/smtp.py", "{}")
        .unwrap_err();
    assert!(
        e.contains("/etc/fail2ban/action.d/smtp.py") && e.contains("test"),
        "{e}"
    );

    let Target::Memory(lines) = log::set_target(Target::Discard) else {
        panic!("memory target");
    };
    log::set_level(LogLevel::INFO);
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    let expect = [
        "fail2ban.utils          [",
        "-- stdout: 'starting test'",
        "-- returned successfully 0",
        "ERROR   ",
        "-- stdout: 'out'",
        "-- stderr: 'err'",
        "-- returned 3",
        "-- exec: echo out; echo err >&2; exit 3",
        "-- returned 127",
        "-- returned successfully 1",
        "HINT on 127: \"Command not found\".  Make sure that all commands in 'gaol-no-such-command-xyz' are in the PATH",
        "-- timed out after 0.5 seconds.",
        "-- killed with SIGTERM (return code: -15)",
        "Failed to execute ban jail 'test' action 'failing' info 'ActionInfo({'ip': '192.0.2.123'",
        "': Error banning 192.0.2.123",
        "Failed to execute unban jail 'test' action 'badunban' info '",
        "': Error unbanning 192.0.2.123",
        "fail2ban.CommandAction  [",
        "ERROR   Invariant check failed. Trying to restore a sane environment",
        "CRITICAL Unable to restore environment",
        "Failed to start jail 'test' action 'nostart': Error starting action Jail('test')/nostart: 'Script error'",
        "fail2ban.actions        [",
        "NOTICE  [test] Flush ticket(s) with flusher",
    ];
    for e in expect {
        assert!(
            has(e),
            "missing log line with {e:?}; got:\n{}",
            lines.join("\n")
        );
    }
    // Flush-capable actions do not unban individually and log no per-ticket unban error.
    assert!(has("NOTICE  [test] Unban 192.0.2.50"));
}

#[test]
fn commands_run_one_at_a_time() {
    let t0 = Instant::now();
    let hs: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(|| execute(&cmd("sleep 0.25"), Duration::from_secs(5)).success))
        .collect();
    for h in hs {
        assert!(h.join().unwrap());
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(740),
        "commands overlapped: {:?}",
        t0.elapsed()
    );
}

#[test]
fn start_on_demand_per_family_and_stop_order() {
    let (mut ja, rec) = recording("j");
    ja.add(action(
        "j",
        "cond",
        &[
            ("actionstart", "start <family> <ipt>"),
            ("actionstop", "stop <ipt>"),
            ("actionban", "ban <ipt> <ip>"),
            ("actionunban", "unban <ipt> <ip>"),
            ("ipt", "iptables"),
            ("ipt?family=inet6", "ip6tables"),
        ],
    ))
    .unwrap();
    ja.add(action(
        "j",
        "plain",
        &[
            ("actionstart", "start2 <family>"),
            ("actionstop", "stop2"),
            ("actionban", "ban2 <ip> <family>"),
            ("actionunban", "unban2 <ip>"),
        ],
    ))
    .unwrap();
    ja.start();
    assert_eq!(take(&rec), vec!["start2 "], "only the plain action starts");
    // Unban before any ban: nothing.
    ja.unban(&ticket("192.0.2.1"), Family::Inet4);
    assert!(take(&rec).is_empty());
    ja.ban(&ticket("192.0.2.1"), Family::Inet4, false);
    assert_eq!(
        take(&rec),
        vec![
            "start inet4 iptables",
            "ban iptables 192.0.2.1",
            "ban2 192.0.2.1 inet4"
        ]
    );
    ja.ban(&ticket("2001:db8::1"), Family::Inet6, false);
    assert_eq!(
        take(&rec),
        vec![
            "start inet6 ip6tables",
            "ban ip6tables 2001:db8::1",
            "ban2 2001:db8::1 inet6"
        ]
    );
    ja.ban(&ticket("192.0.2.2"), Family::Inet4, false);
    assert_eq!(
        take(&rec),
        vec!["ban iptables 192.0.2.2", "ban2 192.0.2.2 inet4"]
    );
    // Restored tickets skip norestored actions; `<restored>` follows the ban.
    ja.get_mut("plain").unwrap().set_property("norestored", "1");
    ja.get_mut("cond")
        .unwrap()
        .set_property("actionban", "ban <ipt> <ip> <restored>");
    ja.ban(&ticket("192.0.2.3"), Family::Inet4, true);
    assert_eq!(take(&rec), vec!["ban iptables 192.0.2.3 1"]);
    ja.get_mut("cond")
        .unwrap()
        .set_property("actionban", "ban <ipt> <ip>");
    // No actionflush: every remaining ticket is unbanned by each action.
    ja.flush(&[&ticket("192.0.2.1"), &ticket("2001:db8::1")]);
    assert_eq!(
        take(&rec),
        vec![
            "unban iptables 192.0.2.1",
            "unban2 192.0.2.1",
            "unban ip6tables 2001:db8::1",
            "unban2 2001:db8::1"
        ]
    );
    // Stop: reverse action order, each started family once.
    ja.stop();
    assert_eq!(take(&rec), vec!["stop2", "stop iptables", "stop ip6tables"]);
    assert!(ja.is_empty());
}

#[test]
fn flush_once_per_family_and_reload() {
    let (mut ja, rec) = recording("j");
    ja.add(action(
        "j",
        "a",
        &[
            ("actionban", "ban <ip>"),
            ("actionunban", "unban <ip>"),
            ("actionflush", "flush <fam>"),
            ("actionreload", "reload"),
            ("fam", "v4"),
            ("fam?family=inet6", "v6"),
        ],
    ))
    .unwrap();
    ja.add(action(
        "j",
        "b",
        &[("actionban", "b-ban <ip>"), ("actionstop", "b-stop")],
    ))
    .unwrap();
    ja.start();
    ja.ban(&ticket("192.0.2.1"), Family::Inet4, false);
    ja.ban(&ticket("192.0.2.2"), Family::Inet4, false);
    ja.ban(&ticket("2001:db8::2"), Family::Inet6, false);
    take(&rec);
    // Reload: `a` stays, `b` is gone → reload a; b unbans quietly and stops.
    ja.begin_reload();
    ja.add(CommandAction::new("j", "a")).unwrap();
    let a = ja.get_mut("a").unwrap();
    assert_eq!(
        a.property("actionban"),
        Some(""),
        "operations reset on reload"
    );
    for (k, v) in [
        ("actionban", "ban <ip>"),
        ("actionflush", "flush <fam>"),
        ("actionreload", "reload"),
    ] {
        a.set_property(k, v);
    }
    ja.end_reload(&[&ticket("192.0.2.1")]);
    // Identical commands run once for both families.
    assert_eq!(take(&rec), vec!["reload", "b-stop"]);
    assert_eq!(ja.names(), vec!["a"]);
    ja.flush(&[
        &ticket("192.0.2.1"),
        &ticket("192.0.2.2"),
        &ticket("2001:db8::2"),
    ]);
    assert_eq!(take(&rec), vec!["flush v4", "flush v6"]);
    // After a flush nothing of that action is banned: unban runs nothing.
    ja.unban(&ticket("192.0.2.1"), Family::Inet4);
    assert!(take(&rec).is_empty());
    assert!(ja.add(CommandAction::new("j", "a")).is_err(), "duplicate");
}

#[test]
fn reban_after_repair() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let mut ja = JailActions::new("j");
    ja.set_clock(Box::new(|| 1e9));
    ja.add(action(
        "j",
        "a",
        &[
            ("actionban", &format!("echo ban <ip> >> {d}/ops")),
            ("actioncheck", &format!("test -f {d}/sane")),
            (
                "actionrepair",
                &format!("touch {d}/sane; echo repair >> {d}/ops"),
            ),
        ],
    ))
    .unwrap();
    std::fs::write(dir.path().join("sane"), "").unwrap();
    let t = ticket("192.0.2.9");
    assert!(ja.ban(&t, Family::Inet4, false));
    let mut epoch = ja.ban_epoch();
    // Someone flushed the firewall: the check fails, repair runs, the ip is re-banned.
    std::fs::remove_file(dir.path().join("sane")).unwrap();
    assert!(ja.already_banned(&t, Family::Inet4, &mut epoch, 10.0));
    assert_eq!(epoch, 1);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ops")).unwrap(),
        "ban 192.0.2.9\nrepair\nban 192.0.2.9\n"
    );
    // Sane now: nothing more happens.
    assert!(!ja.already_banned(&t, Family::Inet4, &mut epoch, 10.0));
}

const HOSTILE: &[&str] = &[
    "$(touch CANARY)",
    "`touch CANARY`",
    "a; touch CANARY",
    "x' ; touch CANARY; '",
    "x\" ; touch CANARY; \"",
    "l1\ntouch CANARY",
    "x && touch CANARY || touch CANARY",
    "$(touch CANARY)\n`touch CANARY`;'\"",
];

/// Every dynamic tag, quoted and unquoted, with hostile values: the shell only ever
/// sees them as data.
#[test]
fn hostile_values_stay_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let tags = [
        "ip",
        "fid",
        "ip-rev",
        "ip-host",
        "failures",
        "time",
        "bantime",
        "bancount",
        "matches",
        "ipmatches",
        "ipjailmatches",
        "ipfailures",
        "ipjailfailures",
        "raw-ticket",
        "jail.banned",
        "F-USER",
        "F-ID",
        "F-PORT",
    ];
    let mut body = String::new();
    for t in tags {
        body.push_str(&format!(
            "printf '%s|' <{t}> \"<{t}>\" >> {d}/out\nprintf '%s\\n' \"<{t}>\" >> {d}/quoted\n"
        ));
    }
    let mut ja = JailActions::new("j");
    ja.add(action(
        "j",
        "canary",
        &[("actionban", &body), ("actionunban", &body)],
    ))
    .unwrap();
    ja.start();
    for (n, h) in HOSTILE.iter().enumerate() {
        let v = h.replace("CANARY", &format!("{d}/canary{n}"));
        let mut info = MapInfo::new();
        for t in tags.iter().filter(|t| !t.starts_with("F-")) {
            info.set(t, &v);
        }
        for k in ["user", "fid", "fport"] {
            info.set_data(k, &v);
        }
        assert!(ja.ban(&info, Family::Inet4, false), "ban with {v:?}");
        ja.unban(&info, Family::Inet4);
        // Quoted uses print the value verbatim.
        let quoted = read(&dir.path().join("quoted"));
        let want: String = std::iter::repeat_n(format!("{v}\n"), tags.len() * 2).collect();
        assert_eq!(quoted, want, "quoted values for {v:?}");
        std::fs::remove_file(dir.path().join("quoted")).unwrap();
    }
    let made: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("canary"))
        .collect();
    assert!(made.is_empty(), "hostile values were executed: {made:?}");
    assert!(!read(&dir.path().join("out")).is_empty());
}

/// compat-spec §4.9.3 capture: shutdown with `record` (no flush, conditional) then
/// `record2` (flush) → FLUSH2, UNBAN, STOP2, STOP.
#[test]
fn shutdown_order_capture() {
    let (mut ja, rec) = recording("test");
    ja.add(action(
        "test",
        "record",
        &[
            ("actionstart", "START name=<name> fam=<family>"),
            ("actionstop", "STOP name=<name> fam=<family>"),
            ("actionban", "BAN ip=<ip> fam=<family>"),
            (
                "actionunban",
                "UNBAN ip=<ip> fam=<family> bantime=<bantime>",
            ),
            ("name", "test"),
            ("tag?family=inet6", "v6"),
        ],
    ))
    .unwrap();
    ja.add(action(
        "test",
        "record2",
        &[
            ("actionstart", "START2 name=<name>"),
            ("actionstop", "STOP2 name=<name>"),
            ("actionflush", "FLUSH2 name=<name>"),
            ("actionban", "BAN2 ip=<ip>"),
            ("name", "test"),
        ],
    ))
    .unwrap();
    ja.start();
    assert_eq!(take(&rec), vec!["START2 name=test"]);
    let mut t = ticket("192.0.2.50");
    t.set("bantime", "40");
    ja.ban(&t, Family::Inet4, false);
    assert_eq!(
        take(&rec),
        vec![
            "START name=test fam=inet4",
            "BAN ip=192.0.2.50 fam=inet4",
            "BAN2 ip=192.0.2.50"
        ]
    );
    ja.flush(&[&t]);
    ja.stop();
    assert_eq!(
        take(&rec),
        vec![
            "FLUSH2 name=test",
            "UNBAN ip=192.0.2.50 fam=inet4 bantime=40",
            "STOP2 name=test",
            "STOP name=test fam=inet4"
        ]
    );
}

#[test]
fn jail_actions_can_move_between_threads() {
    fn send<T: Send>() {}
    send::<JailActions>();
    send::<CommandAction>();
}

/// A restore batch (`ban_restored`, commands a few at once) runs the same commands as
/// banning the restored tickets one by one — per ticket in the same order, including a
/// start on demand, norestored actions, a failed ban's check and retry — and leaves the
/// actions in the same state (the flush that follows unbans the same).
#[test]
fn restore_batch_runs_what_single_bans_run() {
    fn setup() -> (JailActions, Rec) {
        let rec: Rec = Arc::default();
        let r2 = rec.clone();
        let failed: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut ja = JailActions::new("j");
        // Each ban of 192.0.2.13 fails once; everything else succeeds.
        ja.set_runner(Arc::new(move |c: &PreparedCommand, _| {
            r2.lock().unwrap().push(c.script.clone());
            std::thread::sleep(Duration::from_millis(1));
            if c.script.contains("192.0.2.13") {
                let mut f = failed.lock().unwrap();
                if !f.contains(&c.script) {
                    f.push(c.script.clone());
                    return false;
                }
            }
            true
        }));
        ja.add(action(
            "j",
            "cond",
            &[
                ("actionstart", "start <ipt>"),
                ("actionban", "ban <ipt> <ip> <restored>"),
                ("actionunban", "unban <ipt> <ip>"),
                ("actioncheck", "check <ipt>"),
                ("ipt", "iptables"),
                ("ipt?family=inet6", "ip6tables"),
            ],
        ))
        .unwrap();
        ja.add(action(
            "j",
            "plain",
            &[
                ("actionban", "ban2 <ip> <bantime>"),
                ("actionunban", "unban2 <ip>"),
            ],
        ))
        .unwrap();
        ja.add(action(
            "j",
            "skip",
            &[("actionban", "ban3 <ip>"), ("norestored", "1")],
        ))
        .unwrap();
        ja.start();
        take(&rec);
        (ja, rec)
    }
    let ips: Vec<String> = (1..=40)
        .map(|i| {
            if i % 7 == 0 {
                format!("2001:db8::{i}")
            } else {
                format!("192.0.2.{i}")
            }
        })
        .collect();
    let tickets: Vec<MapInfo> = ips.iter().map(|ip| ticket(ip)).collect();
    let fam = |ip: &str| {
        if ip.contains(':') {
            Family::Inet6
        } else {
            Family::Inet4
        }
    };

    let (mut one, rec_one) = setup();
    for (t, ip) in tickets.iter().zip(&ips) {
        one.ban(t, fam(ip), true);
    }
    let (mut batch, rec_batch) = setup();
    let infos: Vec<(&dyn gaol::server::action::TagSource, Family)> = tickets
        .iter()
        .zip(&ips)
        .map(|(t, ip)| (t as &dyn gaol::server::action::TagSource, fam(ip)))
        .collect();
    batch.ban_restored(&infos, 4);
    let (a, b) = (take(&rec_one), take(&rec_batch));
    assert!(a.contains(&"check iptables".to_string()), "{a:?}");
    assert!(a.contains(&"start ip6tables".to_string()), "{a:?}");
    assert!(!a.iter().any(|c| c.starts_with("ban3")), "{a:?}");
    let mut sa = a.clone();
    let mut sb = b.clone();
    sa.sort();
    sb.sort();
    assert_eq!(sa, sb, "same commands");
    // Per ticket (and for the family starts/checks) the same order.
    let words = |v: &[String], ip: &str| -> Vec<String> {
        v.iter()
            .filter(|c| c.split(' ').any(|w| w == ip))
            .cloned()
            .collect()
    };
    for ip in &ips {
        assert_eq!(words(&a, ip), words(&b, ip), "{ip}");
    }
    let fixed = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|c| c.starts_with("start") || c.starts_with("check"))
            .cloned()
            .collect()
    };
    assert_eq!(fixed(&a), fixed(&b));
    assert_eq!(one.ban_epoch(), batch.ban_epoch());
    // The same state afterwards: both unban every ticket with every action.
    let refs: Vec<&dyn gaol::server::action::TagSource> = tickets
        .iter()
        .map(|t| t as &dyn gaol::server::action::TagSource)
        .collect();
    one.flush(&refs);
    batch.flush(&refs);
    assert_eq!(take(&rec_one), take(&rec_batch));
}
