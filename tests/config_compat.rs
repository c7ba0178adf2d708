//! Byte-for-byte oracle test of `gaol client -c DIR -d` against the real
//! `fail2ban-client -c DIR -d`: the stock /etc/fail2ban (copied), the stock tree with
//! every jail of jail.conf enabled, and every tree under compat-fixtures/ (see its
//! README). Both tools run on the same materialised directory, so absolute paths agree.
//! Skips loudly without the fail2ban package unless CI=true.

mod common;

use common::*;

fn check(dir: &std::path::Path, name: &str) {
    if let Some(report) = compare_dump(dir) {
        panic!("tree {name}: `-d` output differs\n{report}");
    }
}

#[test]
fn stock_tree() {
    if !have_oracle() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("conf");
    copy_tree(std::path::Path::new(STOCK), &conf);
    check(&conf, "stock");
}

#[test]
fn stock_all_jails_enabled() {
    if !have_oracle() {
        return;
    }
    let t = build_all_enabled();
    // Guard the generator itself: the real tool must add every jail section of jail.conf.
    let jail_conf = std::fs::read_to_string(t.conf.join("jail.conf")).unwrap();
    let sections = jail_conf
        .lines()
        .filter(|l| {
            l.starts_with('[') && !l.starts_with("[INCLUDES]") && !l.starts_with("[DEFAULT]")
        })
        .count();
    let real = real_client(&t.conf, &["-d"]);
    let added = real
        .stdout
        .lines()
        .filter(|l| l.starts_with("['add', "))
        .count();
    assert_eq!(
        added, sections,
        "real fail2ban did not add every stock jail"
    );
    check(&t.conf, "stock-all-enabled");
}

macro_rules! fixture_tests {
    ($($fn:ident => $dir:literal,)*) => {$(
        #[test]
        fn $fn() {
            if !have_oracle() {
                return;
            }
            let t = build_fixture($dir);
            // The fixture must itself be accepted by the real tool (otherwise it is a typo).
            let real = real_client(&t.conf, &["-d"]);
            assert!(real.stdout.contains("['start', "), "fixture {} starts no jail in fail2ban:\n{}", $dir, real.stderr);
            check(&t.conf, $dir);
        }
    )*};
}

fixture_tests! {
    fx_ini_dialect => "ini-dialect",
    fx_merge_order => "merge-order",
    fx_includes => "includes",
    fx_interpolation => "interpolation",
    fx_init_options => "init-options",
    fx_mode => "mode",
    fx_banactions => "banactions",
    fx_logpath_globs => "logpath-globs",
    fx_systemd => "systemd",
    fx_python_action => "python-action",
    fx_bantime_ignoreip => "bantime-ignoreip",
    fx_broken_jail => "broken-jail",
    fx_apache_fourofour => "apache-fourofour",
    fx_nginx_wordpress_login => "nginx-wordpress-login",
    fx_repeat_offender => "repeat-offender",
    fx_elgg => "elgg",
    fx_jail_options => "jail-options",
    fx_encodings => "encodings",
}

/// Every fixture directory has a test above (a new fixture must not be silently skipped).
#[test]
fn every_fixture_is_listed() {
    let src = include_str!("config_compat.rs");
    for e in std::fs::read_dir(fixtures_dir()).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            let name = e.file_name().into_string().unwrap();
            assert!(
                src.contains(&format!("=> \"{name}\"")),
                "fixture {name} has no test"
            );
        }
    }
}

/// The harness itself: a difference is reported with its line number and both sides.
#[test]
fn diff_helper_reports_first_difference() {
    assert_eq!(first_diff("a\nb\n", "a\nb\n"), "");
    let d = first_diff("a\nb\nc\n", "a\nB\nc\n");
    assert!(
        d.contains("line 2") && d.contains("- b") && d.contains("+ B"),
        "{d}"
    );
    let d = first_diff("a\nb\n", "a\n");
    assert!(d.contains("line 2") && d.contains("- b"), "{d}");
}
