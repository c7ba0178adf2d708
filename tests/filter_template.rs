//! Tag expansion, address parsing and failregex compilation, checked against the real
//! fail2ban 1.0.2 (its Python package is the oracle; nothing of it is copied here).

use std::path::Path;
use std::process::Command;

use gaol::filter::addr::UseDns;
use gaol::filter::addr::{AddrError, CIDR_RAW, FAM_IPV4, FAM_IPV6, IpAddr, search_ip};
use gaol::filter::failregex::{
    CompiledRegex, FailId, FailRegex, Fields, IdError, PrefRegex, RegexError, failure_id,
    merge_fields,
};
use gaol::filter::pyre::Match;
use gaol::filter::template;
use gaol::stream::Value;
use serde_json::Value as Json;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/spec/regex-corpus/expanded.jsonl"
);

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
    assert!(rows.len() > 400, "oracle produced only {} rows", rows.len());
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
    addr_oracle_script(py, "addr_oracle.py", requests)
}

/// Runs one of the stdin/stdout JSON-lines oracles in tests/oracle.
fn addr_oracle_script(py: &str, name: &str, requests: &[Json]) -> Vec<Json> {
    use std::io::Write;
    let script = format!("{}/tests/oracle/{name}", env!("CARGO_MANIFEST_DIR"));
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

/// The filters whose sample logs drive the extraction test (single-line filters).
const SAMPLE_FILTERS: &[&str] = &[
    "sshd",
    "apache-auth",
    "nginx-http-auth",
    "postfix",
    "dovecot",
    "exim",
    "courier-auth",
    "vsftpd",
    "proftpd",
    "pure-ftpd",
    "named-refused",
    "asterisk",
    "apache-badbots",
    "recidive",
    "selinux-ssh",
    "monit",
    "haproxy-http-auth",
    "openhab",
    "nsd",
];

fn json_spans(m: &Match<'_>, re: &CompiledRegex) -> Json {
    let mut groups = serde_json::Map::new();
    for (i, name) in re.regex().group_names() {
        groups.insert(
            name.to_string(),
            m.span(i)
                .map_or(Json::Null, |(s, e)| serde_json::json!([s, e])),
        );
    }
    serde_json::json!([[m.start(), m.end()], groups])
}

fn json_value(v: &Value) -> Json {
    match v {
        Value::None => Json::Null,
        Value::Str(s) => Json::String(s.clone()),
        Value::Tuple(t) => Json::Array(t.iter().map(json_value).collect()),
        other => Json::String(other.to_string()),
    }
}

/// A filter's compiled prefregex and failregexes (None: pyre cannot compile them yet).
type Built = (Option<PrefRegex>, Vec<FailRegex>);

#[test]
fn extraction_matches_fail2ban_on_sample_logs() {
    let Some(py) = python_with_fail2ban("sample-log extraction oracle") else {
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/sample_oracle.py");
    let out = Command::new(py)
        .arg(script)
        .args(SAMPLE_FILTERS)
        .output()
        .expect("run oracle");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Json> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(rows.len() > 300, "only {} annotated lines", rows.len());

    let (mut compared, mut dialect, mut unbuilt, mut hosts, mut users) = (0, 0, 0, 0, 0);
    let mut pending = 0;
    let mut wrong = Vec::new();
    let mut cache: std::collections::HashMap<String, Option<Built>> = Default::default();
    for row in &rows {
        let filter = row["filter"].as_str().expect("filter").to_string();
        let built = cache.entry(filter.clone()).or_insert_with(|| {
            let pref = match row["prefregex"].as_str() {
                Some(p) => Some(PrefRegex::new(p, UseDns::Warn).ok()?),
                None => None,
            };
            let fails = row["failregex"]
                .as_array()
                .expect("failregex")
                .iter()
                .map(|f| {
                    FailRegex::new(f.as_str().expect("str"), pref.as_ref(), false, UseDns::Warn)
                })
                .collect::<Result<Vec<_>, _>>()
                .ok()?;
            Some((pref, fails))
        });
        let Some((pref, fails)) = built else {
            unbuilt += 1;
            continue;
        };
        let buffer = row["buffer"].as_str().expect("buffer");
        // prefregex: same match or a dialect difference (pyre's business).
        let (pref_fields, content_buffer) = match pref {
            Some(p) => {
                let m = p.0.search(buffer);
                let ours = m
                    .as_ref()
                    .map(|m| json_spans(m, &p.0))
                    .unwrap_or(Json::Null);
                if ours != row["pref"] {
                    dialect += 1;
                    continue;
                }
                let Some(m) = m else {
                    compared += 1;
                    continue;
                };
                let (f, content) = p.split_content(&m, 0);
                let cb = content.map_or_else(|| buffer.to_string(), |c| c + "\n");
                (f, cb)
            }
            None => (Fields::default(), buffer.to_string()),
        };
        if row["content_buffer"].as_str() != Some(&content_buffer) {
            wrong.push(format!(
                "{filter}: content {content_buffer:?} vs {}",
                row["content_buffer"]
            ));
            continue;
        }
        let hit = fails
            .iter()
            .enumerate()
            .find_map(|(i, f)| f.0.search(&content_buffer).map(|m| (i, m)));
        let index = hit.as_ref().map(|(i, _)| *i);
        if row["index"].as_u64().map(|i| i as usize) != index {
            dialect += 1;
            continue;
        }
        let Some((i, m)) = hit else {
            compared += 1;
            continue;
        };
        if json_spans(&m, &fails[i].0) != row["fail"] {
            dialect += 1;
            continue;
        }
        compared += 1;
        let fields = fails[i].0.fields(&m);
        let ours: Vec<Json> = fields
            .0
            .iter()
            .map(|(k, v)| serde_json::json!([&**k, json_value(v)]))
            .collect();
        if Json::Array(ours.clone()) != row["groups"] {
            wrong.push(format!("{filter}: groups {ours:?} vs {}", row["groups"]));
            continue;
        }
        let merged = merge_fields(&pref_fields, fields);
        let expect = &row["expect"];
        if expect["match"] != true {
            continue;
        }
        if let Some(host) = expect["host"].as_str() {
            let id = match failure_id(&merged, UseDns::Warn, false) {
                // The host of a pending multi-line failure comes from an earlier line of
                // the same connection (the mlfid cache): the per-line pipeline's job.
                Ok(FailId::Pending) => {
                    pending += 1;
                    continue;
                }
                Ok(FailId::Id { id, ip }) => ip.unwrap_or(id).to_string(),
                Ok(FailId::Resolve(name)) => name,
                other => format!("{other:?}"),
            };
            hosts += 1;
            if id != host {
                wrong.push(format!(
                    "{filter}: host {id} vs failJSON {host} in {buffer:?}"
                ));
            }
        }
        if let Some(user) = expect["user"].as_str() {
            users += 1;
            if merged.text("user").as_deref() != Some(user) {
                wrong.push(format!(
                    "{filter}: user {:?} vs failJSON {user}",
                    merged.text("user")
                ));
            }
        }
    }
    eprintln!(
        "sample lines: {} total, {compared} compared with identical spans ({hosts} hosts, {users} users checked against failJSON, {pending} pending on multi-line state), {dialect} pyre dialect differences, {unbuilt} in filters pyre cannot compile yet, {} wrong",
        rows.len(),
        wrong.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(compared >= 50, "too few lines compared: {compared}");
    // With the translator in place every line must run as in Python.
    assert_eq!(
        (dialect, unbuilt),
        (0, 0),
        "lines that did not run as in Python"
    );
}

/// (failregex, prefregex, line); each is tried under usedns no/raw/warn and with `--raw`.
const ID_CASES: &[(&str, &str, &str)] = &[
    (
        "user <F-ID>\\S+</F-ID> from <ADDR>",
        "",
        "user joe from 192.0.2.7",
    ),
    (
        "user <F-ID>\\S+</F-ID> from <ADDR>",
        "",
        "user 192.0.2.7 from 192.0.2.7",
    ),
    ("from <ADDR> <CIDR>", "", "from 192.0.2.7 24"),
    ("from <ADDR>/<CIDR>", "", "from 2001:DB8:FF:FF::1/60"),
    ("from <SUBNET> end", "", "from [2001:db8::1] end"),
    ("from <SUBNET> ", "", "from 10.1.2.3/8 "),
    ("from <HOST> port", "", "from 999.1.1.1 port 1"),
    ("from <HOST> port", "", "from 192.030.0.6 port 1"),
    ("from <HOST> port", "", "from ::ffff:1.2.3.4 port 1"),
    ("from <HOST> port", "", "from ::FFFF:1.2.3.4 port 1"),
    ("from <HOST> port", "", "from fe80::0:1 port 1"),
    ("from <HOST> port", "", "from somehost.example port 1"),
    ("from <DNS> port", "", "from 1.2.3.4 port 1"),
    ("from <DNS> port", "", "from example port 1"),
    ("from <IP6> port", "", "from ::ffff:1.2.3.4 port 1"),
    ("x <F-ID/>", "", "x a/b"),
    ("x <F-ID/>", "", "x 10.0.0.9/255.255.0.0"),
    ("x <F-ID/>", "", "x [::1]"),
    ("x <F-ID/> <F-USER>\\S+</F-USER>", "", "x tok bob"),
    ("^<F-MLFID>\\S+</F-MLFID> x", "", "c1 x"),
    ("^x <F-ALT_ID>\\S+</F-ALT_ID>", "", "x alt1"),
    (
        "from <HOST>",
        "^<F-MLFID>\\S+</F-MLFID> <F-CONTENT>.+</F-CONTENT>",
        "c2 from 1.2.3.4",
    ),
    (
        "fail",
        "^<F-ID>\\S+</F-ID> <F-CONTENT>.+</F-CONTENT>",
        "tok9 fail",
    ),
    ("(?P<fid>a)?b <IP4>?", "", "b "),
];

#[test]
fn failure_ids_match_fail2ban() {
    let Some(py) = python_with_fail2ban("failure-id oracle") else {
        return;
    };
    let mut reqs = Vec::new();
    let mut ours = Vec::new();
    for (fail, pref, line) in ID_CASES {
        for (usedns, raw) in [
            ("no", false),
            ("raw", false),
            ("warn", false),
            ("warn", true),
        ] {
            reqs.push(
                serde_json::json!({"failregex": fail, "prefregex": pref, "line": line,
                "usedns": usedns, "raw": raw}),
            );
            ours.push(our_failures(
                fail,
                pref,
                line,
                UseDns::parse(usedns).expect("usedns"),
                raw,
            ));
        }
    }
    let theirs = addr_oracle_script(py, "failid_oracle.py", &reqs);
    let mut differ = Vec::new();
    let mut unresolved = 0;
    for ((req, o), t) in reqs.iter().zip(&ours).zip(&theirs) {
        match o {
            // A name to resolve under usedns warn: fail2ban would do a DNS lookup.
            None => unresolved += 1,
            Some(o) => {
                let same = o == t || (o.get("error").is_some() && t.get("error").is_some());
                if !same {
                    differ.push(format!("{req}: ours {o} fail2ban {t}"));
                }
            }
        }
    }
    eprintln!(
        "failure ids: {} identical, {} differ, {unresolved} need DNS (not compared)",
        reqs.len() - differ.len() - unresolved,
        differ.len()
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

/// Our single-line result in the oracle's shape; None when it needs a DNS lookup.
fn our_failures(fail: &str, pref: &str, line: &str, use_dns: UseDns, raw: bool) -> Option<Json> {
    let err = |e: String| Some(serde_json::json!({"error": e}));
    let pref = if pref.is_empty() {
        None
    } else {
        match PrefRegex::new(pref, use_dns) {
            Ok(p) => Some(p),
            Err(e) => return err(e.to_string()),
        }
    };
    let fr = match FailRegex::new(fail, pref.as_ref(), false, use_dns) {
        Ok(f) => f,
        Err(e) => return err(e.to_string()),
    };
    let none = Some(serde_json::json!({"failures": []}));
    let mut buffer = format!("{line}\n");
    let mut pref_fields = Fields::default();
    if let Some(p) = &pref {
        let Some(m) = p.0.search(&buffer) else {
            return none;
        };
        let (f, content) = p.split_content(&m, 0);
        pref_fields = f;
        if let Some(c) = content {
            buffer = c + "\n";
        }
    }
    let Some(m) = fr.0.search(&buffer) else {
        return none;
    };
    let fields = merge_fields(&pref_fields, fr.0.fields(&m));
    if fields.get("nofail").is_some() {
        return none;
    }
    match failure_id(&fields, use_dns, raw) {
        Ok(FailId::Id { id, ip }) => Some(serde_json::json!({"failures": [[
            id.to_string(), ip.map(|i| i.to_string())
        ]]})),
        Ok(FailId::Resolve(_)) => None,
        Ok(FailId::Unresolved | FailId::Pending) | Err(IdError::NoIdGroup) => none,
        Err(e @ IdError::BadAddress(_)) => err(e.to_string()),
    }
}

#[test]
fn failregex_id_requirement_matches_fail2ban() {
    let Some(py) = python_with_fail2ban("failregex construction oracle") else {
        return;
    };
    let rows = oracle_rows(py);
    let mut pref: Option<PrefRegex> = None;
    let mut current = None;
    let (mut same, mut pyre_rejects, mut pyre_accepts) = (0, 0, 0);
    let mut differ = Vec::new();
    for row in &rows {
        let raw = row["raw"].as_str().expect("raw");
        let use_dns = UseDns::parse(row["usedns"].as_str().expect("usedns")).expect("usedns");
        // The oracle lists a filter's prefregex (if any) before its failregexes, per
        // usedns value; a new filter or usedns pass starts without one.
        let key = (
            row["filter"].clone(),
            row["mode"].clone(),
            row["variant"].clone(),
            row["usedns"].clone(),
        );
        if current.as_ref() != Some(&key) {
            current = Some(key);
            pref = None;
        }
        if row["kind"] == "prefregex" {
            pref = PrefRegex::new(raw, use_dns).ok();
        }
        if row["kind"] != "addfailregex" {
            continue;
        }
        let multiline = row["multiline"] == true;
        let ours = FailRegex::new(raw, pref.as_ref(), multiline, use_dns);
        let theirs_err = row["err"].as_str();
        match (&ours, theirs_err) {
            (Err(e @ RegexError::NoFailureId(_)), Some(t)) if e.to_string() == t => same += 1,
            (Err(RegexError::Empty), Some("Cannot add empty regex")) => same += 1,
            (Ok(_), None) => same += 1,
            // Dialect gaps either way are pyre's business, not the expansion's.
            (Err(RegexError::Compile(_)), None) => pyre_rejects += 1,
            (Ok(_), Some(t)) if t.starts_with("Unable to compile") => pyre_accepts += 1,
            (Err(RegexError::Compile(_)), Some(t)) if t.starts_with("Unable to compile") => {
                same += 1
            }
            _ => differ.push(format!("{row}\n  ours: {:?}", ours.as_ref().err())),
        }
    }
    eprintln!(
        "failregex construction: {same} identical, {} differ, {pyre_rejects} rejected by pyre only, {pyre_accepts} accepted by pyre only",
        differ.len()
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
