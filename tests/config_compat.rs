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

/// fail2ban reads every jail, then converts every jail: a later jail's read-phase errors
/// are logged before an earlier jail's convert-phase warnings. gaol converts each jail
/// as soon as it is read (to reuse its memory) and must still log in that order, on one
/// thread and on two.
#[test]
fn log_lines_keep_the_read_then_convert_order() {
    if !have_oracle() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("conf");
    let logs = tmp.path().join("logs");
    copy_tree(std::path::Path::new(STOCK), &conf);
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("auth.log"), "").unwrap();
    let l = logs.display();
    let jails = format!(
        "[sshd]\nenabled = true\nbackend = auto\nlogpath = {l}/missing.log\n\
         [bad-filter]\nenabled = true\nfilter = no-such-filter\nlogpath = {l}/auth.log\n\
         [nologs]\nenabled = true\nfilter = sshd\nbackend = auto\nlogpath = {l}/nope*.log\n\
         [bad-action]\nenabled = true\nfilter = sshd\naction = no-such-action[name=x]\n\
         logpath = {l}/auth.log\n"
    );
    std::fs::write(conf.join("jail.local"), jails).unwrap();
    let real = real_client(&conf, &["-d"]);
    let want = log_lines(&real.stderr);
    // the case is only meaningful if both phases logged, in fail2ban's order
    let pos = |needle: &str| want.iter().position(|l| l.contains(needle));
    let (Some(read_err), Some(conv_warn)) = (
        pos("Errors in jail 'bad-action'"),
        pos("Have not found any log file for sshd jail"),
    ) else {
        panic!("fail2ban did not log both phases:\n{}", real.stderr);
    };
    assert!(read_err < conv_warn, "{}", real.stderr);
    for threads in ["1", "2"] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_gaol"))
            .args(["client", "-c"])
            .arg(&conf)
            .arg("-d")
            .env("GAOL_CONFIG_THREADS", threads)
            .output()
            .unwrap();
        let got = log_lines(&String::from_utf8_lossy(&o.stderr));
        assert_eq!(got, want, "threads={threads}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            real.stdout,
            "threads={threads}"
        );
    }
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
