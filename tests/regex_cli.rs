//! Differential tests of `gaol regex` against the real `fail2ban-regex` (Debian package):
//! every upstream sample log with its shipped filter, `-o` outputs and the summary report.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

const LOGS: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";
const REAL: &str = "/usr/bin/fail2ban-regex";

fn available() -> bool {
    if Path::new(REAL).exists() && Path::new(LOGS).is_dir() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("fail2ban-regex or its sample logs are missing (CI=true)");
    }
    eprintln!("SKIPPED: fail2ban package not installed ({REAL}, {LOGS})");
    false
}

fn run(real: bool, args: &[&str]) -> (String, i32) {
    let mut c = if real {
        Command::new(REAL)
    } else {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gaol"));
        c.arg("regex");
        c
    };
    let out = c.args(args).env("TZ", "UTC").output().expect("run tool");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Python prints sets in hash order (random per run): sort each `{'a', 'b'}` users set.
fn normalise_sets(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(p) = rest.find("'users': {") {
        let start = p + "'users': {".len();
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e);
        let mut items: Vec<&str> = rest[start..end].split(", ").collect();
        items.sort();
        out.push_str(&items.join(", "));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Replaces times within a day of now (dateless lines are stamped with the clock).
fn normalise_now(s: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut out = String::new();
    let mut tok = String::new();
    let flush = |tok: &mut String, out: &mut String| {
        match tok.parse::<f64>() {
            Ok(t) if (t - now).abs() < 86400.0 && tok.contains('.') => out.push_str("NOW"),
            _ => out.push_str(tok),
        }
        tok.clear();
    };
    for c in s.chars() {
        if c.is_ascii_digit() || c == '.' {
            tok.push(c);
        } else {
            flush(&mut tok, &mut out);
            out.push(c);
        }
    }
    flush(&mut tok, &mut out);
    out
}

/// Drops the elapsed time, the only run-dependent part of the report.
fn normalise_report(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("[processed in "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn sample_pairs() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(LOGS)
        .expect("logs dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("zzz-"))
        .filter(|n| Path::new(&format!("/etc/fail2ban/filter.d/{n}.conf")).is_file())
        .collect();
    names.sort();
    names
}

/// Runs `check` over `items` on a few threads; returns the failures.
fn parallel<T: Sync>(items: &[T], check: impl Fn(&T) -> Option<String> + Sync) -> Vec<String> {
    let next = Mutex::new(0usize);
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    let Some(item) = items.get(i) else { break };
                    if let Some(f) = check(item) {
                        failed.lock().unwrap().push(f);
                    }
                }
            });
        }
    });
    let mut f = failed.into_inner().unwrap();
    f.sort();
    f
}

/// Runs whose `-o` output still differs from fail2ban's (known gap): the row run of sshd
/// (position of `users` in the dict after an mlfid merge).
const KNOWN_OUT_FAILURES: usize = 1;

#[test]
fn out_formats_match_real_tool_on_all_sample_logs() {
    if !available() {
        return;
    }
    let names = sample_pairs();
    assert!(names.len() > 50, "expected the upstream sample logs");
    let mut jobs = Vec::new();
    for n in &names {
        for fmt in ["<ip> <time> <F-USER>", "row"] {
            jobs.push((n.clone(), fmt));
        }
    }
    let failed = parallel(&jobs, |(name, fmt)| {
        let log = format!("{LOGS}/{name}");
        let args = ["-o", fmt, log.as_str(), name.as_str()];
        let (want, wc) = run(true, &args);
        let (got, gc) = run(false, &args);
        let (want, got) = (
            normalise_now(&normalise_sets(&want)),
            normalise_now(&normalise_sets(&got)),
        );
        if want == got && wc == gc {
            return None;
        }
        let first = want
            .lines()
            .zip(got.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("\n  want: {a}\n  got:  {b}"))
            .unwrap_or_else(|| {
                format!(
                    " ({} vs {} lines, exit {wc} vs {gc})",
                    want.lines().count(),
                    got.lines().count()
                )
            });
        Some(format!("{name} -o {fmt:?}{first}"))
    });
    eprintln!(
        "regex -o: {} passed, {} failed",
        jobs.len() - failed.len(),
        failed.len()
    );
    for f in &failed {
        eprintln!("DIFF {f}");
    }
    assert!(
        failed.len() <= KNOWN_OUT_FAILURES,
        "{} -o runs differ",
        failed.len()
    );
}

#[test]
fn usage_errors_and_version_match_real_tool() {
    if !available() {
        return;
    }
    for args in [&["-V"][..], &["--version"][..]] {
        assert_eq!(run(true, args), run(false, args), "{args:?}");
    }
    // Wrong argument count: help on stdout (wording differs), exit 255.
    assert_eq!(run(true, &["onlyone"]).1, 255);
    assert_eq!(run(false, &["onlyone"]).1, 255);
}

#[test]
fn literal_regex_and_string_log_match_real_tool() {
    if !available() {
        return;
    }
    let line =
        "Nov 20 10:00:01 host sshd[1001]: Failed password for root from 192.0.2.11 port 1 ssh2";
    for fmt in [
        "id",
        "ip",
        "msg",
        "row",
        "<ip>|<F-USER>|<time>|<family>|<ip-rev>|<nope>",
    ] {
        let args = [
            "-o",
            fmt,
            line,
            r"Failed \S+ for <F-USER>\S+</F-USER> from <HOST>",
        ];
        assert_eq!(run(true, &args), run(false, &args), "-o {fmt}");
    }
}

#[test]
fn summary_report_matches_real_tool() {
    if !available() {
        return;
    }
    let names = ["sshd", "apache-auth", "nginx-http-auth", "recidive"];
    let failed = parallel(&names, |name| {
        let log = format!("{LOGS}/{name}");
        let args = [log.as_str(), name];
        let (want, wc) = run(true, &args);
        let (got, gc) = run(false, &args);
        let (want, got) = (normalise_report(&want), normalise_report(&got));
        assert!(want.contains("\nLines: "), "real report of {name}");
        (want != got || wc != gc).then(|| name.to_string())
    });
    eprintln!(
        "regex report: {} passed, {} failed {failed:?}",
        names.len() - failed.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "reports differ: {failed:?}");
}
