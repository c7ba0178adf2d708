//! Broken configurations: gaol must give a clear error naming the file (and line,
//! section, option where they exist), never panic, and exit like fail2ban 1.0.2 does.
//! Each tree is built in a temp dir with a healthy jail `ok` beside the broken part, so
//! per-jail errors can be told apart from whole-config failures. Where fail2ban is
//! installed its stdout/exit code are the oracle; gaol's own checks run regardless.

mod common;

use common::*;
use std::path::Path;

const FAIL2BAN_CONF: &str = "[Definition]\nloglevel = INFO\nlogtarget = STDERR\n";
const FILTER: &str = "[Definition]\nfailregex = ^x <HOST>$\n";
const ACTION: &str = "[Definition]\nactionban = true <ip>\nactionunban = true <ip>\n";

/// Lines 1-5 of every jail.local: a healthy jail (the broken part follows from line 6).
fn ok_jail(log: &Path) -> String {
    format!(
        "[ok]\nenabled = true\nfilter = f\naction = a\nlogpath = {}\n",
        log.display()
    )
}

struct Case {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
}

/// Builds a config dir; `jail_local` gets `ok_jail` prepended unless `raw` is set.
fn build(jail_local: &[u8], extra: &[(&str, &[u8])], raw: bool) -> Case {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("conf");
    let log = tmp.path().join("x.log");
    std::fs::write(&log, "").unwrap();
    std::fs::create_dir_all(dir.join("filter.d")).unwrap();
    std::fs::create_dir_all(dir.join("action.d")).unwrap();
    std::fs::write(dir.join("fail2ban.conf"), FAIL2BAN_CONF).unwrap();
    std::fs::write(dir.join("filter.d/f.conf"), FILTER).unwrap();
    std::fs::write(dir.join("action.d/a.conf"), ACTION).unwrap();
    let mut body = if raw {
        Vec::new()
    } else {
        ok_jail(&log).into_bytes()
    };
    body.extend_from_slice(&jail_local.to_vec().replace_log(&log));
    std::fs::write(dir.join("jail.local"), body).unwrap();
    for (p, c) in extra {
        std::fs::write(dir.join(p), c).unwrap();
    }
    Case { _tmp: tmp, dir }
}

trait ReplaceLog {
    fn replace_log(self, log: &Path) -> Vec<u8>;
}
impl ReplaceLog for Vec<u8> {
    /// `@LOG@` → the temp log file (byte-wise so invalid UTF-8 survives).
    fn replace_log(self, log: &Path) -> Vec<u8> {
        let pat = b"@LOG@";
        let rep = log.to_str().unwrap().as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.len() {
            if self[i..].starts_with(pat) {
                out.extend_from_slice(rep);
                i += pat.len();
            } else {
                out.push(self[i]);
                i += 1;
            }
        }
        out
    }
}

fn no_panic(r: &Run) {
    assert!(
        !r.stderr.contains("panicked at"),
        "gaol panicked:\n{}",
        r.stderr
    );
}

/// Whole-config failure: fail2ban exits non-zero (checked when installed); gaol must too,
/// and name the file (and `line N` when given) and each of `words` on stderr.
fn whole_config_failure(c: &Case, line: Option<usize>, words: &[&str]) {
    let oracle = have_oracle();
    if oracle {
        let real = real_client(&c.dir, &["-d"]);
        assert_ne!(
            real.code, 0,
            "oracle changed: fail2ban accepted this config"
        );
    }
    let g = gaol_client(&c.dir, &["-d"]);
    no_panic(&g);
    assert_ne!(
        g.code, 0,
        "gaol accepted a config fail2ban rejects:\n{}",
        g.stdout
    );
    assert!(
        g.stderr.contains("jail.local"),
        "stderr does not name the file:\n{}",
        g.stderr
    );
    if let Some(n) = line {
        assert!(
            g.stderr.contains(&format!("line {n}")),
            "stderr lacks `line {n}`:\n{}",
            g.stderr
        );
    }
    for w in words {
        assert!(g.stderr.contains(w), "stderr lacks {w:?}:\n{}", g.stderr);
    }
    assert!(
        !g.stdout.contains("['start',"),
        "gaol started jails despite the error"
    );
}

/// Same stdout and exit code as fail2ban (when installed); no panic.
fn same_as_oracle(c: &Case) -> Run {
    let g = gaol_client(&c.dir, &["-d"]);
    no_panic(&g);
    if have_oracle() {
        let real = real_client(&c.dir, &["-d"]);
        assert_eq!(
            real.code, g.code,
            "exit code differs; gaol stderr:\n{}",
            g.stderr
        );
        let d = first_diff(&real.stdout, &g.stdout);
        assert!(d.is_empty(), "stdout differs from fail2ban:\n{d}");
    }
    g
}

#[test]
fn missing_filter_is_per_jail_error() {
    // fail2ban: the jail gets a `config-error` line on stdout, `ok` still starts, exit 0.
    let c = build(
        b"[bad]\nenabled = true\nfilter = nosuchfilter\nlogpath = @LOG@\n",
        &[],
        false,
    );
    let g = same_as_oracle(&c);
    assert!(
        g.stdout.contains("['config-error', \"Jail 'bad' skipped"),
        "{}",
        g.stdout
    );
    assert!(g.stdout.contains("['start', 'ok']"));
    assert!(
        g.stderr.contains("'bad'") && g.stderr.contains("nosuchfilter"),
        "{}",
        g.stderr
    );
}

#[test]
fn missing_action_is_per_jail_error() {
    // fail2ban: as for a missing filter, `Unable to read action '…'`, exit 0.
    let c = build(
        b"[bad]\nenabled = true\nfilter = f\naction = nosuchaction\nlogpath = @LOG@\n",
        &[],
        false,
    );
    let g = same_as_oracle(&c);
    assert!(
        g.stdout.contains("['config-error', \"Jail 'bad' skipped"),
        "{}",
        g.stdout
    );
    assert!(g.stdout.contains("['start', 'ok']"));
    assert!(
        g.stderr.contains("'bad'") && g.stderr.contains("nosuchaction"),
        "{}",
        g.stderr
    );
}

#[test]
fn unterminated_interpolation_fails_whole_config() {
    // fail2ban: "bad interpolation variable reference", exit 255, nothing started.
    let c = build(b"bantime = %(foo\n", &[], false);
    whole_config_failure(&c, Some(6), &["bantime", "ok"]);
}

#[test]
fn self_reference_fails_whole_config() {
    // fail2ban: "Recursion limit exceeded in value substitution", exit 255.
    let c = build(b"bantime = %(bantime)s\n", &[], false);
    whole_config_failure(&c, None, &["bantime", "ok"]);
}

#[test]
fn include_loop_is_tolerated_like_fail2ban() {
    // fail2ban 1.0.2 does not fail on before= cycles (each file is read once): exit 0 and
    // the jail starts. gaol must do the same and must not recurse forever.
    let c = build(
        b"",
        &[
            (
                "filter.d/f.conf",
                b"[INCLUDES]\nbefore = g.conf\n[Definition]\nfailregex = ^x <HOST>$\n",
            ),
            (
                "filter.d/g.conf",
                b"[INCLUDES]\nbefore = f.conf\n[Definition]\n",
            ),
        ],
        false,
    );
    let g = same_as_oracle(&c);
    assert_eq!(g.code, 0);
    assert!(g.stdout.contains("['start', 'ok']"));
}

#[test]
fn bad_section_header_fails_whole_config() {
    // fail2ban: "Source contains parsing errors … [line  6]", exit 255.
    let c = build(b"[broken\nx = 1\n", &[], false);
    whole_config_failure(&c, Some(6), &[]);
}

#[test]
fn option_before_section_fails_whole_config() {
    // fail2ban: "File contains no section headers … line: 1", exit 255.
    let c = build(
        b"x = 1\n[ok]\nenabled = true\nfilter = f\nlogpath = @LOG@\n",
        &[],
        true,
    );
    whole_config_failure(&c, Some(1), &[]);
}

#[test]
fn duplicate_option_fails_whole_config() {
    // fail2ban: "option 'maxretry' in section 'ok' already exists" at line 7, exit 255.
    let c = build(b"maxretry = 1\nmaxretry = 2\n", &[], false);
    whole_config_failure(&c, Some(7), &["maxretry", "ok"]);
}

#[test]
fn non_numeric_maxretry_matches_fail2ban() {
    // fail2ban logs the bad int and sends `['set', 'ok', 'maxretry', None]`, exit 0.
    // gaol must print the same stream and name the file, line and option on stderr.
    let c = build(b"maxretry = lots\n", &[], false);
    let g = same_as_oracle(&c);
    assert!(
        g.stdout.contains("['set', 'ok', 'maxretry', None]"),
        "{}",
        g.stdout
    );
    for w in ["jail.local", "line 6", "maxretry", "lots"] {
        assert!(g.stderr.contains(w), "stderr lacks {w:?}:\n{}", g.stderr);
    }
}

#[test]
fn invalid_utf8_file_is_ignored_with_error() {
    // fail2ban: logs "Error decoding config file '…/jail.local'", ignores that file; with
    // no jail.conf there is no jail config at all — stdout has only the global settings and
    // the exit code is 0. gaol must match and name the file on stderr.
    let c = build(b"# caf\xe9 \xff\xfe\n", &[], false);
    let g = same_as_oracle(&c);
    assert!(!g.stdout.contains("['start',"), "{}", g.stdout);
    assert!(g.stderr.contains("jail.local"), "{}", g.stderr);
}

#[test]
fn bom_in_filter_file_fails_whole_config() {
    // fail2ban 1.0.2 keeps a UTF-8 BOM as U+FEFF, so `\u{feff}[Definition]` is not a section
    // header: "File contains no section headers", line 1, exit 255.
    let c = build(
        b"",
        &[(
            "filter.d/f.conf",
            b"\xef\xbb\xbf[Definition]\nfailregex = ^x <HOST>$\n",
        )],
        false,
    );
    if have_oracle() {
        assert_ne!(real_client(&c.dir, &["-d"]).code, 0, "oracle changed");
    }
    let g = gaol_client(&c.dir, &["-d"]);
    no_panic(&g);
    assert_ne!(g.code, 0);
    assert!(
        g.stderr.contains("f.conf") && g.stderr.contains("line"),
        "{}",
        g.stderr
    );
}
