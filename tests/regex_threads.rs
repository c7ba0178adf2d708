//! fail2ban-regex's threaded pipeline (a reader, two searchers taking the batches in
//! turn, the matcher) gives the one-thread output byte for byte: on generated corpora (../shared/bench's
//! gen_logs.py: sshd in two modes, apache-auth, nginx-http-auth) with the stock filters,
//! in several output forms, with batch edges at odd places (`GAOL_REGEX_BATCH`).
//! The outputs themselves are proven against the real fail2ban-regex in regex_cli.rs.

use std::path::{Path, PathBuf};
use std::process::Command;

const FILTERS: &str = "/etc/fail2ban/filter.d";

fn gen_logs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen_logs.py")
}

fn available() -> bool {
    if Path::new(FILTERS).is_dir() && gen_logs().is_file() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{FILTERS} or ../shared/bench/gen_logs.py missing (CI=true)");
    }
    eprintln!("SKIPPED: needs the fail2ban package ({FILTERS}) and ../shared/bench/gen_logs.py");
    false
}

/// A deterministic corpus of `lines` lines of `kind`.
fn corpus(dir: &Path, kind: &str, lines: usize) -> PathBuf {
    let out = dir.join(format!("{kind}.log"));
    let st = Command::new("python3")
        .arg(gen_logs())
        .args([
            "--kind",
            kind,
            "--lines",
            &lines.to_string(),
            "--seed",
            "threads",
        ])
        .arg("-o")
        .arg(&out)
        .status()
        .expect("python3");
    assert!(st.success(), "gen_logs.py --kind {kind} failed");
    out
}

/// gaol's fail2ban-regex on `log` with `filter`; `batch` as `GAOL_REGEX_BATCH` (`0`:
/// one thread).
fn gaol_regex(batch: &str, args: &[&str], log: &Path, filter: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gaol"));
    cmd.env("GAOL_REGEX_BATCH", batch)
        .env("TZ", "UTC")
        .arg("regex")
        .args(args)
        .arg(log)
        .arg(filter);
    cmd
}

/// The stdout of [`gaol_regex`].
fn run(batch: &str, args: &[&str], log: &Path, filter: &str) -> String {
    let out = gaol_regex(batch, args, log, filter)
        .output()
        .expect("run gaol");
    assert!(out.status.success(), "gaol regex {args:?} {filter} failed");
    // The summary's timing line is the one part that may differ between runs.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("[processed in "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn threaded_output_is_the_one_thread_output() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = corpus(dir.path(), "sshd", 20_000);
    let apache = corpus(dir.path(), "apache-error", 20_000);
    let nginx = corpus(dir.path(), "nginx-error", 20_000);
    let cases: [(&Path, &str); 4] = [
        (&sshd, "sshd"),
        (&sshd, "sshd[mode=aggressive]"),
        (&apache, "apache-auth"),
        (&nginx, "nginx-http-auth"),
    ];
    let forms: [&[&str]; 4] = [
        &["-o", "ip"],
        &["-o", "row"],
        &["-o", "<ip> <time> <F-USER>"],
        &["--print-all-matched"],
    ];
    let mut compared = 0;
    for (log, filter) in cases {
        for args in forms {
            let one = run("0", args, log, filter);
            assert!(
                one.lines().count() > 20,
                "{filter} {args:?}: too little output to compare"
            );
            for batch in ["2048", "37"] {
                let threaded = run(batch, args, log, filter);
                assert!(
                    one == threaded,
                    "{filter} {args:?} batch {batch}: threaded output differs"
                );
                compared += 1;
            }
        }
    }
    eprintln!("regex threads: {compared} threaded runs identical to one thread");
}

/// A reader of the output that goes away (`| head -1`) ends the run quietly, threads
/// and all: exit 0, nothing on stderr, well before the log's end would be reached.
#[test]
fn closed_stdout_ends_threaded_run_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = corpus(dir.path(), "sshd", 20_000);
    for batch in ["0", "37"] {
        let mut child = gaol_regex(batch, &["-o", "ip"], &sshd, "sshd")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run gaol");
        let mut out = child.stdout.take().expect("stdout");
        let mut first = [0u8; 16];
        let n = out.read(&mut first).expect("read");
        assert!(n > 0, "batch {batch}: no output");
        drop(out);
        let res = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(0), "batch {batch}: {err}");
        assert!(!err.contains("panicked"), "batch {batch}: {err}");
    }
}
