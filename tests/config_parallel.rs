//! The two-thread jail reading (src/config/parallel.rs) against the one-thread path:
//! `gaol client -d` / `-t` must give the same stdout, the same stderr lines (timestamps
//! and pids aside) and the same exit code with `GAOL_CONFIG_THREADS=1` (sequential) and
//! `=2` (split forced), on the stock tree with every jail enabled, variants of it whose
//! second half repeats a first-half file problem or fails, and every compat fixture.
//! Skips loudly without /etc/fail2ban unless CI=true.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn have_stock() -> bool {
    let ok = Path::new(STOCK).join("jail.conf").exists();
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{STOCK} missing, but CI=true requires it");
        }
        eprintln!("SKIPPED: {STOCK} not installed");
    }
    ok
}

/// stdout, stderr without the timestamp and pid of each line, exit code.
fn run(dir: &Path, mode: &str, threads: &str) -> (String, String, Option<i32>) {
    let o = Command::new(env!("CARGO_BIN_EXE_gaol"))
        .arg("client")
        .arg("-c")
        .arg(dir)
        .arg(mode)
        .env("GAOL_CONFIG_THREADS", threads)
        .output()
        .unwrap();
    let err = log_lines(&String::from_utf8_lossy(&o.stderr)).join("\n");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        err,
        o.status.code(),
    )
}

/// Both paths agree in `-d` and `-t`; returns the `-d` stdout and stderr.
fn same(dir: &Path, name: &str) -> (String, String) {
    let mut dump = None;
    for mode in ["-d", "-t"] {
        let seq = run(dir, mode, "1");
        let par = run(dir, mode, "2");
        assert_eq!(seq.2, par.2, "{name} {mode}: exit codes differ");
        assert!(
            seq.1 == par.1,
            "{name} {mode}: stderr differs\n{}",
            first_diff(&seq.1, &par.1)
        );
        assert!(
            seq.0 == par.0,
            "{name} {mode}: stdout differs\n{}",
            first_diff(&seq.0, &par.0)
        );
        if mode == "-d" {
            dump = Some((seq.0, seq.1));
        }
    }
    dump.unwrap()
}

/// Adds `jail.d/NAME.local` (read after jail.local, so it may re-open its sections).
fn add_local(conf: &Path, name: &str, text: &str) {
    let d = conf.join("jail.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(format!("{name}.local")), text).unwrap();
}

#[test]
fn all_enabled_tree_same_on_both_paths() {
    if !have_stock() {
        return;
    }
    let t = build_all_enabled();
    let (out, _) = same(&t.conf, "all-enabled");
    let starts = out.lines().filter(|l| l.starts_with("['start', ")).count();
    assert!(starts > 40, "expected many jails started, got {starts}");

    // A missing filter used in both halves: the second thread logs the file problem again,
    // so its work must be redone (the message appears once, where sequential puts it).
    add_local(
        &t.conf,
        "gaol-p1",
        "[sshd]\nfilter = gaol-missing-filter\n\n[zz-late]\nenabled = true\nfilter = gaol-missing-filter\nlogpath = /dev/null\n",
    );
    let (_, err) = same(&t.conf, "all-enabled + missing filter");
    let found = err
        .lines()
        .filter(|l| l.contains("filter.d/gaol-missing-filter"))
        .count();
    assert_eq!(found, 1, "file problem logged {found} times:\n{err}");
    assert_eq!(err.matches("Errors in jail").count(), 2, "{err}");

    // A fatal error late (second half), then also early (first half: that one wins).
    add_local(
        &t.conf,
        "gaol-p2",
        "[zz-fatal]\nenabled = true\nfilter = sshd\nlogpath = %(gaol_undefined_late)s\n",
    );
    let (_, err) = same(&t.conf, "all-enabled + late fatal");
    assert!(err.contains("gaol_undefined_late"), "{err}");
    add_local(
        &t.conf,
        "gaol-p3",
        "[dropbear]\nlogpath = %(gaol_undefined_early)s\n",
    );
    let (_, err) = same(&t.conf, "all-enabled + early fatal");
    assert!(err.contains("gaol_undefined_early"), "{err}");
    assert!(!err.contains("gaol_undefined_late"), "{err}");
}

#[test]
fn fixtures_same_on_both_paths() {
    if !have_stock() {
        return;
    }
    for e in std::fs::read_dir(fixtures_dir()).unwrap() {
        let e = e.unwrap();
        if !e.file_type().unwrap().is_dir() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let t = build_fixture(&name);
        same(&t.conf, &name);
    }
}
