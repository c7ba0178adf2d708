//! Tag expansion, address parsing and failregex compilation, checked against the real
//! fail2ban 1.0.2 (its Python package is the oracle; nothing of it is copied here).

use std::path::Path;
use std::process::Command;

use gaol::filter::template;
use serde_json::Value as Json;

const CORPUS: &str = "/work/shared/spec/regex-corpus/expanded.jsonl";

/// Runs `/usr/bin/python3` with fail2ban importable, or explains why it cannot.
/// Returns None (after a loud SKIPPED message) only outside CI.
fn python_with_fail2ban(what: &str) -> Option<&'static str> {
    let py = "/usr/bin/python3";
    let ok = Command::new(py)
        .args(["-c", "import fail2ban"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        return Some(py);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what}: python3 with the fail2ban package is required in CI");
    }
    eprintln!("SKIPPED: {what}: python3 with the fail2ban package is not installed");
    None
}

fn oracle_rows(py: &str) -> Vec<Json> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/oracle/template_oracle.py"
    );
    let corpus = if Path::new(CORPUS).exists() {
        CORPUS
    } else {
        // Without the shared corpus only the default mode of each filter is covered.
        "/dev/null"
    };
    let out = Command::new(py)
        .args([script, corpus, "/etc/fail2ban"])
        .output()
        .expect("run oracle");
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json row"))
        .collect()
}

#[test]
fn expansion_matches_fail2ban_for_every_shipped_regex() {
    let Some(py) = python_with_fail2ban("tag expansion oracle") else {
        return;
    };
    let rows = oracle_rows(py);
    assert!(rows.len() > 500, "oracle produced only {} rows", rows.len());
    let (mut same, mut differ) = (0usize, Vec::new());
    for row in &rows {
        let raw = row["raw"].as_str().expect("raw");
        let host_with_dns = row["usedns"] != "no";
        let ours = template::expand(raw, host_with_dns);
        // The pattern fail2ban compiled (or tried to, when Python rejects it).
        let theirs = row
            .get("ok")
            .or_else(|| row.get("compile_error_pattern"))
            .and_then(Json::as_str);
        let agrees = match (&ours, theirs) {
            (Ok(p), Some(t)) => p == t,
            (Err(e), None) => row["err"].as_str() == Some(&e.to_string()),
            // fail2ban's remaining error (no failure-id group) is decided after
            // compilation; the expansion itself must have succeeded.
            (Ok(_), None) => row["err"]
                .as_str()
                .is_some_and(|e| e.starts_with("No failure-id group")),
            (Err(_), Some(_)) => false,
        };
        if agrees {
            same += 1;
        } else {
            differ.push(format!("{row}\n  ours: {ours:?}"));
        }
    }
    eprintln!("tag expansion: {same} identical, {} differ", differ.len());
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn expansion_matches_shared_corpus() {
    // Second oracle: the corpus was generated from the real server's Filter objects,
    // so its default-usedns patterns must be reproducible from the stream values.
    let Some(py) = python_with_fail2ban("corpus comparison") else {
        return;
    };
    if !Path::new(CORPUS).exists() {
        eprintln!("SKIPPED: corpus comparison: {CORPUS} missing");
        return;
    }
    let rows = oracle_rows(py);
    let mut ours = std::collections::HashSet::new();
    for row in rows.iter().filter(|r| r["usedns"] == "warn") {
        if let Ok(p) = template::expand(row["raw"].as_str().expect("raw"), true) {
            ours.insert(p);
        }
    }
    let text = std::fs::read_to_string(CORPUS).expect("corpus");
    let (mut found, mut missing) = (0, Vec::new());
    for line in text.lines() {
        let r: Json = serde_json::from_str(line).expect("corpus row");
        if !matches!(
            r["kind"].as_str(),
            Some("failregex" | "prefregex" | "ignoreregex")
        ) {
            continue;
        }
        let p = r["python_pattern"].as_str().expect("pattern");
        if ours.contains(p) {
            found += 1;
        } else {
            missing.push(format!("{} {} {}", r["filter"], r["mode"], r["kind"]));
        }
    }
    eprintln!("corpus: {found} identical, {} differ", missing.len());
    assert!(missing.is_empty(), "{missing:?}");
}
