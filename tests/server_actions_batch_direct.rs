//! The restore's batch shell runs commands that cannot change its state without a
//! subshell (`stateless` in src/server/action/batch.rs). Against one `sh -c` per
//! command, with such commands only: a builtin's output on both streams, a failing
//! external command, a redirection that cannot be created, a program not found, one
//! that fails by its status, pipelines and `&&`/`||` lists. Banned ticket by ticket and
//! as a restore batch (one and four slots): the files written and every log line
//! (command ids aside) must be the same.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use gaol::server::action::{
    CommandAction, Family, JailActions, MapInfo, TagSource, batch_shells_started,
};
use gaol::server::log::{self, LogLevel, Target};

mod batch_support;
use batch_support::{dash, logs, sorted_lines, ticket};

fn action(name: &str, ban: String) -> CommandAction {
    let mut a = CommandAction::new("j", name);
    a.set_property("actionban", &ban);
    a
}

/// The commands, and per ticket number what makes some of them fail: no input file for
/// `c` (every 5th), no directory for `r` (every 7th), no program for `x` (every 6th),
/// a program exiting with 4 (every 9th).
fn setup(d: &Path, n: usize) -> JailActions {
    for i in 1..=n {
        let ip = format!("192.0.2.{i}");
        std::fs::create_dir_all(d.join("in")).unwrap();
        std::fs::create_dir_all(d.join("bin")).unwrap();
        if i % 5 != 0 {
            std::fs::write(d.join("in").join(&ip), format!("input {ip}\n")).unwrap();
        }
        if i % 7 != 0 {
            std::fs::create_dir_all(d.join(format!("r{ip}"))).unwrap();
        }
        if i % 6 != 0 {
            let prog = d.join("bin").join(&ip);
            let code = if i % 9 == 0 { 4 } else { 0 };
            std::fs::write(&prog, format!("#!/bin/sh\necho \"prog $1\"\nexit {code}\n")).unwrap();
            std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let d = d.display();
    let mut ja = JailActions::new("j");
    for a in [
        action("a", format!("echo \"a <ip>\" >> {d}/a")),
        action(
            "c",
            format!("echo out <ip>; echo err <ip> >&2; cat {d}/in/<ip>"),
        ),
        action("r", format!("echo \"r <ip>\" >> {d}/r<ip>/f")),
        action("x", format!("{d}/bin/<ip> <ip> && echo ran")),
        action(
            "p",
            format!("echo \"p <ip>\" | cat >> {d}/p || echo never; printf 'no eol' >&2"),
        ),
    ] {
        ja.add(a).unwrap();
    }
    ja.start();
    ja
}

/// Each output file's lines, sorted.
fn files(d: &Path, n: usize) -> Vec<(String, Vec<String>)> {
    let mut names = vec!["a".to_string(), "p".to_string()];
    names.extend((1..=n).map(|i| format!("r192.0.2.{i}/f")));
    names.iter().map(|name| sorted_lines(d, name)).collect()
}

#[test]
fn direct_commands_in_the_batch_shell_match_sh_c() {
    let on_dash = dash();
    log::set_level(LogLevel(5));
    log::set_target(Target::Memory(Vec::new()));
    let n = 40;
    let tickets: Vec<MapInfo> = (1..=n).map(|i| ticket(&format!("192.0.2.{i}"))).collect();
    let infos: Vec<(&dyn TagSource, Family)> = tickets
        .iter()
        .map(|t| (t as &dyn TagSource, Family::Inet4))
        .collect();
    let mut seen = Vec::new();
    for mode in [0, 1, 4] {
        let dir = tempfile::tempdir().unwrap();
        let mut ja = setup(dir.path(), n);
        logs(dir.path());
        let shells = batch_shells_started();
        if mode == 0 {
            for (t, f) in &infos {
                ja.ban(*t, *f, true);
            }
        } else {
            ja.ban_restored(&infos, mode);
        }
        let started = batch_shells_started() - shells;
        if mode == 0 || !on_dash {
            assert_eq!(started, 0, "mode {mode}");
        } else {
            assert!(started >= 1, "no batch shell in mode {mode}");
        }
        let l = logs(dir.path());
        let f = files(dir.path(), n);
        let all = l.join("\n");
        for want in [
            "ERROR ID -- stderr: 'cat: D/in/192.0.2.5: No such file or directory'",
            "ERROR ID -- stdout: 'out 192.0.2.5'",
            "ERROR ID -- returned 1",
            "DEBUG ID -- stdout: 'input 192.0.2.4'",
            "ERROR ID -- stderr: '/bin/sh: 1: cannot create D/r192.0.2.7/f: Directory \
             nonexistent'",
            "ERROR ID -- returned 2",
            "DEBUG ID -- stdout: 'ran'",
            "ERROR ID -- stderr: '/bin/sh: 1: D/bin/192.0.2.6: not found'",
            "ERROR ID -- returned 127",
            "ERROR ID -- stdout: 'prog 192.0.2.9'",
            "ERROR ID -- returned 4",
            "DEBUG ID -- stderr: 'no eol'",
        ] {
            assert!(all.contains(want), "mode {mode}: {want} missing in\n{all}");
        }
        // Every ticket went through the commands that do not fail.
        assert_eq!(f[0].1.len(), n, "{:?}", f[0]);
        assert_eq!(f[1].1.len(), n, "{:?}", f[1]);
        seen.push((l, f));
    }
    for (i, (l, f)) in seen.iter().enumerate().skip(1) {
        if l != &seen[0].0 {
            let extra: Vec<_> = l.iter().filter(|x| !seen[0].0.contains(x)).collect();
            let missing: Vec<_> = seen[0].0.iter().filter(|x| !l.contains(x)).collect();
            panic!("logs differ (run {i}): extra {extra:#?}\nmissing {missing:#?}");
        }
        assert_eq!(f, &seen[0].1, "files differ (run {i})");
    }
}
