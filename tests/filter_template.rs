//! Tag expansion, address parsing and failregex compilation, checked against the real
//! fail2ban 1.0.2 (its Python package is the oracle; nothing of it is copied here).

use std::path::Path;
use std::process::Command;

use gaol::filter::addr::{AddrError, CIDR_RAW, FAM_IPV4, FAM_IPV6, IpAddr, search_ip};
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

/// Asks fail2ban's IPAddr about each request (see tests/oracle/addr_oracle.py).
fn addr_oracle(py: &str, requests: &[Json]) -> Vec<Json> {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/addr_oracle.py");
    let mut child = Command::new(py)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn oracle");
    let mut input = String::new();
    for r in requests {
        input.push_str(&format!("{r}\n"));
    }
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("oracle output");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

fn describe(ip: &IpAddr) -> Json {
    serde_json::json!({
        "ntoa": ip.ntoa(),
        "valid": ip.is_valid(),
        "family": ip.family().map(|f| f.as_str()),
        "plen": ip.plen(),
        "single": ip.is_single(),
    })
}

const TRICKY: &[&str] = &[
    "192.0.2.1",
    "192.030.0.6",
    "1.2.3.400",
    "999.1.1.1",
    "0.0.0.0",
    "255.255.255.255",
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4",
    "1.2.3.4 ",
    " 1.2.3.4",
    "1.2.3.4\n",
    "::ffff:1.2.3.4",
    "::FFFF:1.2.3.4",
    "::ffff:0102:0304",
    "::1.2.3.4",
    "::2:3",
    "::1",
    "::",
    "2001:DB8::1",
    "2001:db8:0:0:1:0:0:1",
    "2001:0db8:0000:0000:0000:0000:0000:0001",
    "1:0:0:2:0:0:0:3",
    "1:0:0:0:2:0:0:3",
    "1::2:3:4:5:6:7",
    "1:2:3:4:5:6:7::",
    "1:2:3:4:5:6:1.2.3.4",
    "fe80::1%eth0",
    "::ffff:1.2.3.04",
    "12345::1",
    "1:::2",
    "[2001:db8::1]",
    "[1.2.3.4]",
    "[]",
    "[x]",
    "[::1]/64",
    "192.0.2.7/24",
    "192.0.2.7/0",
    "192.0.2.7/32",
    "192.0.2.7/33",
    "192.0.2.7/255.255.255.0",
    "192.0.2.7/255.255.0.255",
    "10.0.0.0/ 8 ",
    "10.0.0.0/1_6",
    "10.0.0.0/x",
    "10.0.0.0/",
    "2001:DB8:FF:FF::1/60",
    "2001:db8::1/ffff:ffff::",
    "::ffff:1.2.3.4/128",
    "::ffff:1.2.3.4/120",
    "1.2.3.4/8/9",
    "1.2.3.4/a.b",
    "localhost",
    "host.example.com",
    "",
    "joe",
    "éé",
    "1.2.3.4/-1",
    "1.2.3.4/-4",
];

#[test]
fn addresses_match_fail2ban() {
    let Some(py) = python_with_fail2ban("IPAddr oracle") else {
        return;
    };
    let mut reqs = Vec::new();
    let mut ours = Vec::new();
    let err = |e: AddrError| serde_json::json!({"error": e.to_string()});
    for t in TRICKY {
        reqs.push(serde_json::json!({"op": "parse", "text": t}));
        ours.push(IpAddr::parse(t).map_or_else(err, |ip| describe(&ip)));
        for cidr in [FAM_IPV4, FAM_IPV6, CIDR_RAW, 0, 8, 24, 64, 200] {
            reqs.push(serde_json::json!({"op": "cidr", "text": t, "cidr": cidr}));
            ours.push(describe(&IpAddr::with_cidr(t, cidr)));
        }
        reqs.push(serde_json::json!({"op": "search", "text": t}));
        ours.push(serde_json::json!({"search": search_ip(t)}));
    }
    let nets = [
        "10.0.0.0/8",
        "192.0.2.0/24",
        "2001:db8::/32",
        "::ffff:1.2.3.0/120",
        "1.2.3.4",
        "0.0.0.0/0",
        "::/0",
        "1.2.3.4/33",
    ];
    let ips = [
        "10.1.2.3",
        "11.0.0.1",
        "192.0.2.255",
        "2001:db8:1::5",
        "::ffff:1.2.3.4",
        "1.2.3.4",
        "2001:db9::1",
        "::ffff:10.0.0.1",
    ];
    for n in nets {
        for i in ips {
            reqs.push(serde_json::json!({"op": "contains", "net": n, "ip": i}));
            let (net, ip) = (
                IpAddr::parse(n).expect("net"),
                IpAddr::parse(i).expect("ip"),
            );
            ours.push(serde_json::json!({"contains": net.contains(&ip)}));
        }
    }
    let theirs = addr_oracle(py, &reqs);
    assert_eq!(theirs.len(), reqs.len());
    let mut differ = Vec::new();
    for ((req, o), t) in reqs.iter().zip(&ours).zip(&theirs) {
        // Python's error texts for a bad suffix are its own; only the fact of failing counts.
        let same = o == t || (o.get("error").is_some() && t.get("error").is_some());
        if !same {
            differ.push(format!("{req}: ours {o} fail2ban {t}"));
        }
    }
    eprintln!(
        "addresses: {} identical, {} differ",
        reqs.len() - differ.len(),
        differ.len()
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
