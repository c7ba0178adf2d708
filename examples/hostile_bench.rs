//! Hostile-input benchmark (not a test): for every shipped filter in /etc/fail2ban/filter.d
//! — default options plus each `mode` the upstream sample logs name — the time of single
//! lines built to hurt: a 1 MB line, 100k repeated `a`s, NUL bytes, invalid UTF-8 (decoded
//! as fail2ban does, with U+FFFD). Prints the worst line time per filter and mode.
//!
//! Run: `cargo run --release --example hostile_bench [CONFDIR] [FILTER…]`.
//! Flow: config::read_filter → MatcherSpec → Matcher::process_line, timed per line (best
//! of a few runs, each on a fresh matcher so no state carries over).

use std::time::{Duration, Instant};

use gaol::config::files::FsSource;
use gaol::filter::matcher::{Matcher, MatcherSpec, NoResolver};

const LOGS: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";
const RUNS: usize = 3;

/// The hostile lines: (label, text).
fn inputs() -> Vec<(&'static str, String)> {
    let prefix = "Nov 20 10:00:01 host sshd[1001]: ";
    let mut mb = String::from(prefix);
    while mb.len() < 1 << 20 {
        mb.push_str("Failed password for invalid user root from 192.0.2.1 port 22 ssh2 [");
    }
    let mut mb_plain = String::from(prefix);
    mb_plain.push_str(&"x".repeat(1 << 20));
    let bad_utf8: &[u8] =
        b"Nov 20 10:00:01 host sshd[1]: Failed password for \xff\xfe\xc3 from 192.0.2.7 port 1 ssh2";
    vec![
        ("1MB-words", mb),
        ("1MB-x", mb_plain),
        ("100k-a", "a".repeat(100_000)),
        ("100k-a-dated", format!("{prefix}{}", "a".repeat(100_000))),
        (
            "nul",
            format!("{prefix}Failed password for ro\0ot from 192.0.2.5 port 1 ssh2\0\0"),
        ),
        (
            "invalid-utf8",
            String::from_utf8_lossy(bad_utf8).into_owned(),
        ),
    ]
}

/// `name` plus `name[mode=X]` for each simple mode the sample log's filterOptions name.
fn specs(name: &str) -> Vec<String> {
    let mut out = vec![name.to_string()];
    let text = std::fs::read(format!("{LOGS}/{name}")).unwrap_or_default();
    for line in String::from_utf8_lossy(&text).lines() {
        let Some(rest) = line.strip_prefix("# filterOptions:") else {
            continue;
        };
        let mut r = rest;
        while let Some(p) = r.find("\"mode\"") {
            r = &r[p + 6..];
            let v: String = r
                .trim_start_matches([':', ' ', '"'])
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            let spec = format!("{name}[mode={v}]");
            if !v.is_empty() && !out.contains(&spec) {
                out.push(spec);
            }
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let confdir = args
        .first()
        .cloned()
        .unwrap_or_else(|| "/etc/fail2ban".into());
    let only: Vec<String> = args.iter().skip(1).cloned().collect();
    let mut names: Vec<String> = match std::fs::read_dir(format!("{confdir}/filter.d")) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_string_lossy()
                    .strip_suffix(".conf")
                    .map(str::to_string)
            })
            .filter(|n| only.is_empty() || only.contains(n))
            .collect(),
        Err(e) => {
            eprintln!("cannot read {confdir}/filter.d: {e}");
            std::process::exit(1);
        }
    };
    names.sort();
    let inputs = inputs();
    let now = 1_800_000_000.0;
    let mut overall = (Duration::ZERO, String::new());
    let mut over_10ms = 0;
    println!("{:<40} {:>10}  worst input", "filter", "worst ms");
    for name in &names {
        for spec in specs(name) {
            let def = match gaol::config::read_filter(&FsSource, &confdir, &spec, "auto") {
                Ok(d) => d,
                Err(e) => {
                    println!("{spec:<40} {:>10}  read error: {e}", "-");
                    continue;
                }
            };
            if def.failregex.is_empty() {
                continue;
            }
            let ms = MatcherSpec::from_def(&def);
            let mut worst = (Duration::ZERO, "");
            for (label, line) in &inputs {
                let mut best = Duration::MAX;
                for _ in 0..RUNS {
                    let mut m = match Matcher::new(&ms) {
                        Ok(m) => m,
                        Err(e) => {
                            println!("{spec:<40} {:>10}  compile error: {e}", "-");
                            break;
                        }
                    };
                    m.check_all = true;
                    let t = Instant::now();
                    let found = m.process_line(line, now, &NoResolver);
                    best = best.min(t.elapsed());
                    std::hint::black_box(found);
                }
                if best != Duration::MAX && best > worst.0 {
                    worst = (best, label);
                }
            }
            let wms = worst.0.as_secs_f64() * 1e3;
            if wms > 10.0 {
                over_10ms += 1;
            }
            println!("{spec:<40} {wms:>10.3}  {}", worst.1);
            if worst.0 > overall.0 {
                overall = (worst.0, format!("{spec} ({})", worst.1));
            }
        }
    }
    println!(
        "worst overall: {:.3} ms, {}; filters over 10 ms: {over_10ms}",
        overall.0.as_secs_f64() * 1e3,
        overall.1
    );
}
