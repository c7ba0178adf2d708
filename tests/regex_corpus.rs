//! Python `re` golden results (fail2ban regex survey) against `gaol::filter::pyre`.
//!
//! Reads ../shared/spec/regex-corpus (beside the checkout) at test time: expanded.jsonl (every pattern must
//! compile), classification.jsonl (engine the survey needed), sample-cases.jsonl.gz
//! (8,898 recorded Python `search` results: span in chars and every named group).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gaol::filter::pyre::{Flags, Regex, compile};
use serde_json::Value;

fn corpus_dir() -> Option<PathBuf> {
    let d = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/spec/regex-corpus"
    ));
    if d.is_dir() {
        return Some(d);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("regex corpus missing at {}", d.display());
    }
    eprintln!("SKIPPED: regex corpus not found at {}", d.display());
    None
}

fn jsonl(path: &Path) -> Vec<Value> {
    let mut text = String::new();
    let mut f = std::fs::File::open(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(f)
            .read_to_string(&mut text)
            .unwrap();
    } else {
        f.read_to_string(&mut text).unwrap();
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn unique_patterns(dir: &Path) -> BTreeMap<(String, bool), Vec<String>> {
    let mut m: BTreeMap<(String, bool), Vec<String>> = BTreeMap::new();
    for row in jsonl(&dir.join("expanded.jsonl")) {
        let p = row["python_pattern"].as_str().unwrap().to_string();
        let ml = row["multiline"].as_bool().unwrap();
        let who = format!(
            "{}/{}/{}/{}",
            row["filter"], row["mode"], row["variant"], row["kind"]
        );
        m.entry((p, ml)).or_default().push(who);
    }
    m
}

fn flags(multiline: bool) -> Flags {
    Flags {
        multiline,
        ignore_case: false,
    }
}

#[test]
fn every_pattern_compiles_and_engine_matches_survey() {
    let Some(dir) = corpus_dir() else { return };
    let pats = unique_patterns(&dir);
    assert_eq!(pats.len(), 529, "unique (pattern, multiline) pairs");
    let mut failed = Vec::new();
    let mut linear = 0;
    let mut compiled = BTreeMap::new();
    for ((p, ml), who) in &pats {
        match compile(p, flags(*ml)) {
            Ok(re) => {
                linear += usize::from(re.is_linear());
                compiled.insert((p.clone(), *ml), re.is_linear());
            }
            Err(e) => failed.push(format!("{}: {e}", who[0])),
        }
    }
    let mut diffs = Vec::new();
    for row in jsonl(&dir.join("classification.jsonl")) {
        let key = (
            row["python_pattern"].as_str().unwrap().to_string(),
            row["multiline"].as_bool().unwrap(),
        );
        let survey_linear = row["engine"].as_str() == Some("regex");
        if let Some(&ours) = compiled.get(&key)
            && ours != survey_linear
        {
            diffs.push(format!(
                "ours linear={ours} survey={survey_linear}: {}",
                key.0
            ));
        }
    }
    println!(
        "corpus: {} patterns, {} compiled, {linear} linear, {} fancy; {} engine differences vs survey",
        pats.len(),
        compiled.len(),
        compiled.len() - linear,
        diffs.len()
    );
    for d in &diffs {
        println!("  engine diff: {d}");
    }
    assert!(
        failed.is_empty(),
        "failed to compile:\n{}",
        failed.join("\n")
    );
    assert!(linear >= 468, "only {linear} patterns on the linear engine");
}

/// Char offset → byte offset in `s` (Python records char offsets).
fn byte_at(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(b, _)| b)
}

#[test]
fn golden_sample_cases_agree_with_python() {
    let Some(dir) = corpus_dir() else { return };
    let cases = jsonl(&dir.join("sample-cases.jsonl.gz"));
    assert_eq!(cases.len(), 8898);
    let mut cache: BTreeMap<(String, bool), Regex> = BTreeMap::new();
    let mut bad = Vec::new();
    let mut matches = 0;
    for c in &cases {
        let p = c["pattern"].as_str().unwrap();
        let ml = c["multiline"].as_bool().unwrap();
        let re = cache
            .entry((p.to_string(), ml))
            .or_insert_with(|| compile(p, flags(ml)).unwrap());
        let input = c["input"].as_str().unwrap();
        let pos = byte_at(input, c["pos"].as_u64().unwrap() as usize);
        let got = match c["endpos"].as_u64() {
            Some(e) => re.search_bounded(input, pos, byte_at(input, e as usize)),
            None => re.search(input, pos),
        };
        let expected = &c["m"];
        let ok = match (&got, expected.is_null()) {
            (None, true) => true,
            (Some(_), true) | (None, false) => false,
            (Some(m), false) => {
                matches += 1;
                let span = &expected["span"];
                let s = byte_at(input, span[0].as_u64().unwrap() as usize);
                let e = byte_at(input, span[1].as_u64().unwrap() as usize);
                let groups = expected["groups"].as_object().unwrap();
                (m.start(), m.end()) == (s, e)
                    && groups
                        .iter()
                        .all(|(k, v)| re.group_text(m, k) == v.as_str())
            }
        };
        if !ok {
            bad.push(format!(
                "{} {}: {p:?} on {input:?}: got {:?}, python {}",
                c["filter"],
                c["kind"],
                got.map(|m| (m.start(), m.end(), m.as_str().to_string())),
                expected
            ));
        }
    }
    println!(
        "golden: {} cases, {matches} matches agree, {} disagreements",
        cases.len(),
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad[..bad.len().min(20)].join("\n")
    );
}

/// Hostile inputs: no panic, no hang (fancy backtrack limit); prints the worst times.
#[test]
fn hostile_inputs_do_not_hang() {
    let Some(dir) = corpus_dir() else { return };
    let pats = unique_patterns(&dir);
    let mut big = String::with_capacity(1 << 20);
    let unit = "Nov 21 12:00:00 host sshd[1]: Failed password for invalid user a from 1.2.3.4 port 22 ssh2 ::ffff: [x] <y> \"z\" ";
    while big.len() < (1 << 20) {
        big.push_str(unit);
    }
    big.push('\n');
    let a100k = format!("{}\n", "a".repeat(100_000));
    // A multi-line buffer (maxlines > 1): takes the exact-`$` fancy path.
    let multi = format!("{}\n{}\n", &big[..big.len() / 8], &unit.repeat(100));
    let mut times: Vec<(Duration, bool, String)> = Vec::new();
    let mut gave_up = 0;
    for (p, ml) in pats.keys() {
        let re = compile(p, flags(*ml)).unwrap();
        let t0 = Instant::now();
        for text in [&big, &a100k, &multi] {
            if re.try_search(text, 0).is_err() {
                gave_up += 1;
                let p: String = p.chars().take(80).collect();
                println!("  backtrack limit on {}-byte input: {p}", text.len());
            }
        }
        times.push((t0.elapsed(), re.is_linear(), p.clone()));
    }
    times.sort_by_key(|t| std::cmp::Reverse(t.0));
    let total: Duration = times.iter().map(|t| t.0).sum();
    println!(
        "hostile: {} patterns, total {total:?}, {gave_up} searches hit the backtrack limit",
        times.len()
    );
    for (d, lin, p) in times.iter().take(10) {
        let p: String = p.chars().take(100).collect();
        println!("  {d:?} linear={lin} {p}");
    }
}

/// Throughput of sshd (mode normal) prefregex + failregexes on the upstream sshd sample
/// log mixed with benign lines; run with `--ignored --nocapture`. No timing assert.
#[test]
#[ignore]
fn sshd_throughput() {
    let Some(dir) = corpus_dir() else { return };
    let log = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs/sshd";
    let Ok(text) = std::fs::read_to_string(log) else {
        eprintln!("SKIPPED: {log} missing");
        return;
    };
    let (mut pref, mut fails) = (None, Vec::new());
    for row in jsonl(&dir.join("expanded.jsonl")) {
        if row["filter"] == "sshd" && row["mode"] == "normal" && row["variant"] == "" {
            let p = row["python_pattern"].as_str().unwrap();
            match row["kind"].as_str() {
                Some("prefregex") => pref = Some(compile(p, flags(false)).unwrap()),
                Some("failregex") => fails.push(compile(p, flags(false)).unwrap()),
                _ => {}
            }
        }
    }
    let pref = pref.unwrap();
    // Cut the 16-char syslog date like the date detector would; add benign lines.
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.len() > 16)
        .map(|l| format!("{}\n", &l[16..]))
        .collect();
    let samples = lines.len();
    for i in 0..samples * 3 {
        lines.push(format!("host CRON[{i}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n"));
        lines.push(format!("host sshd[{i}]: Accepted publickey for git from 10.0.{}.{} port 4{i} ssh2: ED25519 SHA256:abc\n", i % 250, i % 200));
    }
    let rounds = 50;
    let t0 = Instant::now();
    let (mut pm, mut fm) = (0usize, 0usize);
    for _ in 0..rounds {
        for l in &lines {
            let Some(m) = pref.search(l, 0) else { continue };
            pm += 1;
            let content = format!("{}\n", pref.group_text(&m, "content").unwrap_or(""));
            if fails.iter().any(|f| f.search(&content, 0).is_some()) {
                fm += 1;
            }
        }
    }
    let n = rounds * lines.len();
    let dt = t0.elapsed();
    let t1 = Instant::now();
    for _ in 0..rounds {
        for l in &lines {
            pref.search(l, 0);
        }
    }
    println!("  prefregex alone: {:?}", t1.elapsed());
    let contents: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            pref.search(l, 0)
                .map(|m| format!("{}\n", pref.group_text(&m, "content").unwrap_or("")))
        })
        .collect();
    for (i, f) in fails.iter().enumerate() {
        let t = Instant::now();
        for _ in 0..rounds {
            for c in &contents {
                f.search(c, 0);
            }
        }
        println!(
            "  failregex {i} linear={} all lines: {:?}",
            f.is_linear(),
            t.elapsed()
        );
    }
    println!(
        "sshd normal: {n} lines ({samples} sample lines x3 benign), prefregex {pm}, failregex {fm}, {:?}, {:.0} lines/s, {} of {} failregexes fancy",
        dt,
        n as f64 / dt.as_secs_f64(),
        fails.iter().filter(|f| !f.is_linear()).count(),
        fails.len()
    );
}
