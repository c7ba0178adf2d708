//! The restore's batch shell against one `sh -c` per command: real commands (output on
//! both streams, failures with exit codes, `not found`, syntax errors, a timeout, what a
//! command can see of its process), banned once ticket by ticket and once as a restore
//! batch (one and four slots). The files written and every log line (command ids aside)
//! must be the same.

use std::path::Path;

use gaol::server::action::{
    CommandAction, Family, JailActions, MapInfo, TagSource, batch_shells_started,
};
use gaol::server::log::{self, LogLevel, Target};

mod batch_support;
use batch_support::{dash, logs, sorted_lines, ticket};

fn action(name: &str, props: &[(&str, String)]) -> CommandAction {
    let mut a = CommandAction::new("j", name);
    for (k, v) in props {
        a.set_property(k, v);
    }
    a
}

fn jail(d: &Path, with_timeout: bool) -> JailActions {
    let d = d.display();
    let mut ja = JailActions::new("j");
    let acts = [
        action(
            "a",
            &[(
                "actionban",
                format!(
                    "case <ip> in\n192.0.2.13) echo \"bad <ip>\" >&2; echo partial; exit 3;;\n\
                     192.0.2.14) nosuchcmd_gaol_test <ip> || exit;;\nesac\necho \"a <ip>\" >> {d}/a"
                ),
            )],
        ),
        action(
            "b",
            &[(
                "actionban",
                format!("printf 'b %s\\n' <ip> >> {d}/b; echo \"two\nlines\"; printf 'no eol' >&2"),
            )],
        ),
        action(
            "c",
            &[("actionban", "[ <ip> != 192.0.2.20 ] && exit 0\nif".into())],
        ),
        // What the command sees of its shell and process.
        action(
            "e",
            &[(
                "actionban",
                format!(
                    "echo \"<ip> $0|$#|$*|$-|$?|$PPID|$(pwd)|$(umask)|$(ls /proc/self/fd | wc -l)\
                     |$(env | sort | cksum)|$(cat | wc -c)\" >> {d}/e"
                ),
            )],
        ),
    ];
    for a in acts {
        ja.add(a).unwrap();
    }
    if with_timeout {
        ja.add(action(
            "t",
            &[
                (
                    "actionban",
                    format!("[ <ip> = 192.0.2.30 ] && sleep 5; echo \"t <ip>\" >> {d}/t"),
                ),
                ("timeout", "0.3".into()),
            ],
        ))
        .unwrap();
    }
    ja.start();
    ja
}

/// Each file's lines, sorted.
type Files = Vec<(String, Vec<String>)>;

fn files(d: &Path) -> Files {
    ["a", "b", "e", "t"]
        .iter()
        .map(|name| sorted_lines(d, name))
        .collect()
}

#[test]
fn batch_shell_is_indistinguishable_from_sh_c() {
    log::set_level(LogLevel(5));
    log::set_target(Target::Memory(Vec::new()));
    for with_timeout in [false, true] {
        let n = if with_timeout { 31 } else { 40 };
        let tickets: Vec<MapInfo> = (1..=n).map(|i| ticket(&format!("192.0.2.{i}"))).collect();
        let infos: Vec<(&dyn TagSource, Family)> = tickets
            .iter()
            .map(|t| (t as &dyn TagSource, Family::Inet4))
            .collect();
        let mut seen: Vec<(Vec<String>, Files)> = Vec::new();
        for mode in [0, 1, 4] {
            let dir = tempfile::tempdir().unwrap();
            let mut ja = jail(dir.path(), with_timeout);
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
            if mode == 0 || !dash() {
                assert_eq!(started, 0, "mode {mode}");
            } else {
                assert!(started >= 1, "no batch shell in mode {mode}");
            }
            let l = logs(dir.path());
            let f = files(dir.path());
            // Make sure the scenario has what it is about.
            let all = l.join("\n");
            for want in [
                "ERROR ID -- stderr: 'bad 192.0.2.13'",
                "ERROR ID -- stdout: 'partial'",
                "ERROR ID -- returned 3",
                "ERROR ID -- stderr: '/bin/sh: 3: nosuchcmd_gaol_test: not found'",
                "HINT on 127",
                "ERROR ID -- returned 127",
                "ERROR ID -- stderr: '/bin/sh: 2: Syntax error: end of file unexpected \
                 (expecting \"then\")'",
                "DEBUG ID -- stdout: 'lines'",
                "DEBUG ID -- stderr: 'no eol'",
            ] {
                assert!(all.contains(want), "mode {mode}: {want} missing in\n{all}");
            }
            if with_timeout {
                assert!(
                    all.contains("ERROR ID -- timed out after 0.3 seconds."),
                    "{all}"
                );
                assert!(
                    all.contains("killed with SIGTERM (return code: -15)"),
                    "{all}"
                );
            }
            assert_eq!(f[0].1.len(), n - 2, "{:?}", f[0]);
            assert_eq!(f[2].1.len(), n, "{:?}", f[2]);
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
}
