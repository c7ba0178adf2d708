//! Upstream's sample-log check, run against gaol's matcher: every filter in
//! /etc/fail2ban/filter.d with a sample log under fail2ban's tests/files/logs, every
//! option set named by `# filterOptions:`, every `# failJSON:` annotation compared with
//! what the matcher finds on the next line (match, host, time, other fields), in the
//! order and with the state (multi-line buffers, mlfid caches) upstream's test keeps.

use std::collections::BTreeMap;
use std::sync::Arc;

use gaol::config;
use gaol::filter::addr::{IpAddr, UseDns};
use gaol::filter::date::{LocalZone, SystemZone};
use gaol::filter::matcher::{Failure, Matcher, MatcherSpec, NoResolver};
use serde_json::{Map, Value as Json};

const LOGS: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";
const CONF: &str = "/etc/fail2ban";
/// Upstream's fixed clock: Sun Aug 14 12:00:00 CEST 2005.
const TEST_NOW: f64 = 1_124_013_600.0;
const TEST_NOW_STR: &str = "2005-08-14T10:00:00";
/// Upstream's test zone (utils.py).
const TEST_TZ: &str = "CET-01CEST-02,M3.5.0,M10.5.0";

fn skip_or_fail(msg: &str) -> bool {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    true
}

/// The two forms of Python condition the sample logs use: `name == 'x'` and
/// `opts.get('k') ==/!= 'v'`.
fn eval_condition(expr: &str, name: &str, opts: &Map<String, Json>) -> Result<bool, String> {
    let e: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs, eq) = if let Some((l, r)) = e.split_once("==") {
        (l, r, true)
    } else if let Some((l, r)) = e.split_once("!=") {
        (l, r, false)
    } else {
        return Err(format!("unsupported condition {expr:?}"));
    };
    let lit = |s: &str| -> Option<String> {
        s.strip_prefix('\'')
            .and_then(|s| s.strip_suffix('\''))
            .map(str::to_string)
    };
    let value = if lhs == "name" {
        Some(name.to_string())
    } else if let Some(k) = lhs
        .strip_prefix("opts.get(")
        .and_then(|s| s.strip_suffix(')'))
        .and_then(lit)
    {
        opts.get(&k).and_then(|v| v.as_str()).map(str::to_string)
    } else {
        return Err(format!("unsupported condition {expr:?}"));
    };
    let r = lit(rhs).ok_or_else(|| format!("unsupported condition {expr:?}"))?;
    Ok((value.as_deref() == Some(r.as_str())) == eq)
}

/// `name[k="v", …]` from the non-`test.` options.
fn filter_spec(name: &str, opts: &Map<String, Json>) -> String {
    let parts: Vec<String> = opts
        .iter()
        .filter(|(k, _)| !k.starts_with("test."))
        .map(|(k, v)| {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            format!("{k}=\"{v}\"")
        })
        .collect();
    if parts.is_empty() {
        name.to_string()
    } else {
        format!("{name}[{}]", parts.join(", "))
    }
}

fn build_matcher(spec: &str) -> Result<Matcher, String> {
    let (src, _) = config::default_source();
    let def = config::read_filter(src.as_ref(), CONF, spec, "auto").map_err(|e| e.to_string())?;
    // Upstream's test takes no `usedns` from the filter: it stays `warn`, ids raw.
    let ms = MatcherSpec {
        usedns: UseDns::Warn,
        ..MatcherSpec::from_def(&def)
    };
    let year = chrono::Datelike::year(&chrono::Local::now());
    let mut m = Matcher::with_zone(&ms, year, Arc::new(SystemZone)).map_err(|e| e.to_string())?;
    m.raw_host = true;
    m.check_all = true;
    Ok(m)
}

/// Upstream's `mktime` of an ISO local time.
fn local_time(iso: &str) -> Option<f64> {
    let ndt = chrono::NaiveDateTime::parse_from_str(iso, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    let off = SystemZone.offset_of_local(ndt);
    let secs = ndt.and_utc().timestamp() - i64::from(off);
    Some(secs as f64 + f64::from(ndt.and_utc().timestamp_subsec_micros()) / 1e6)
}

/// Upstream compares ids as addresses (`IPAddr.__eq__`): raw ids by text, others by
/// family, address and prefix.
fn ip_eq(got: Option<&IpAddr>, want: &Json) -> Result<(), String> {
    let ok = match (got, want.as_str()) {
        (None, _) => want.is_null(),
        (Some(_), None) => false,
        (Some(g), Some(w)) if g.is_raw() => g.raw_text() == w,
        (Some(g), Some(w)) => {
            let w = IpAddr::parse(w).unwrap_or_else(|_| IpAddr::raw(w));
            g.family() == w.family() && g.addr() == w.addr() && g.plen() == w.plen()
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("got {:?} want {want}", got.map(|g| g.to_string())))
    }
}

/// Compares one line's result with its annotation; Err describes the mismatch.
fn check(found: &[Failure], faildata: &Map<String, Json>) -> Result<(), String> {
    let want_match = faildata
        .get("match")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let ret: Vec<&Failure> = found.iter().filter(|f| f.is_failure()).collect();
    if ret.is_empty() {
        return if want_match {
            Err("Line not matched when should have".into())
        } else {
            Ok(())
        };
    }
    if !want_match {
        return Err("Line matched when shouldn't have".into());
    }
    if ret.len() != 1 {
        let idx: Vec<usize> = ret.iter().map(|f| f.regex_index).collect();
        return Err(format!("Multiple regexs matched {idx:?}"));
    }
    let f = ret[0];
    for (k, v) in faildata {
        if matches!(k.as_str(), "time" | "match" | "desc" | "constraint") {
            continue;
        }
        let got: Json = match k.as_str() {
            "users" => {
                let mut u = f.data.users.clone();
                u.sort();
                let mut w: Vec<String> = v
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| x.as_str().unwrap_or("").to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                w.sort();
                if u != w {
                    return Err(format!("users {u:?} != {w:?}"));
                }
                continue;
            }
            "ip" => {
                ip_eq(f.data.ip.as_ref(), v).map_err(|e| format!("ip: {e}"))?;
                continue;
            }
            "matches" => Json::from(f.data.matches.clone()),
            _ => match f.data.fields.text(k) {
                Some(t) => Json::from(t),
                None if k == "host" => {
                    ip_eq(f.id.as_ref(), v).map_err(|e| format!("host: {e}"))?;
                    continue;
                }
                None if k == "attempts" => Json::from(f.data.matches.len()),
                None => Json::Null,
            },
        };
        let same = match (&got, v) {
            (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
            (a, b) => a == b,
        };
        if !same {
            return Err(format!("{k}: got {got} want {v}"));
        }
    }
    if let Some(t) = faildata.get("time").and_then(Json::as_str) {
        let want = local_time(t).ok_or_else(|| format!("bad time {t}"))?;
        if f.time != Some(want) {
            return Err(format!("time: got {:?} want {want} ({t})", f.time));
        }
    }
    Ok(())
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    notes: Vec<String>,
}

struct FilterTest {
    key: String,
    opts: Map<String, Json>,
}

fn read_lines(path: &str) -> Option<Vec<String>> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        bytes
            .split(|&b| b == b'\n')
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect(),
    )
}

fn header(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start_matches('#');
    if rest.len() == line.len() {
        return None;
    }
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    for kind in ["failJSON", "fileOptions", "filterOptions", "addFILE"] {
        if let Some(v) = rest.strip_prefix(kind).and_then(|r| r.strip_prefix(':'))
            && !v.is_empty()
        {
            return Some((kind, v));
        }
    }
    None
}

fn run_filter(name: &str, t: &mut Tally) {
    let mut filters: BTreeMap<String, Option<Matcher>> = BTreeMap::new();
    let mut tests: Option<Vec<FilterTest>> = None;
    let mut files = vec![name.to_string()];
    let mut common: Map<String, Json> = Map::new();
    let fail = |t: &mut Tally, msg: String| {
        t.failed += 1;
        if t.notes.len() < 40 {
            t.notes.push(msg);
        }
    };
    let mut fi = 0;
    while fi < files.len() {
        let fname = files[fi].clone();
        fi += 1;
        let Some(lines) = read_lines(&format!("{LOGS}/{fname}")) else {
            fail(t, format!("{name}: no sample log {fname}"));
            continue;
        };
        let mut ignore_block = false;
        let mut it = lines.iter().enumerate();
        while let Some((no, raw)) = it.next() {
            let raw = raw.trim_end_matches(['\r', '\n']);
            let faildata: Map<String, Json>;
            let line: &str;
            let mut lnnum = no + 1;
            if let Some((kind, js)) = header(raw) {
                let parsed: Json = match serde_json::from_str(js) {
                    Ok(j) => j,
                    Err(e) => {
                        fail(t, format!("{fname}:{lnnum}: bad JSON: {e}"));
                        continue;
                    }
                };
                match kind {
                    "fileOptions" => {
                        common = parsed.as_object().cloned().unwrap_or_default();
                        continue;
                    }
                    "addFILE" => {
                        files.push(parsed.as_str().unwrap_or_default().to_string());
                        continue;
                    }
                    "filterOptions" => {
                        let mut list = Vec::new();
                        ignore_block = false;
                        let sets = match parsed {
                            Json::Array(a) => a,
                            o => vec![o],
                        };
                        for set in sets {
                            let mut opts = common.clone();
                            opts.extend(set.as_object().cloned().unwrap_or_default());
                            if let Some(c) = opts.get("test.condition").and_then(Json::as_str) {
                                match eval_condition(c, name, &opts) {
                                    Ok(b) => ignore_block = !b,
                                    Err(e) => fail(t, format!("{fname}:{lnnum}: {e}")),
                                }
                            }
                            if !ignore_block {
                                let spec = filter_spec(name, &opts);
                                list.push(FilterTest { key: spec, opts });
                            }
                        }
                        tests = Some(list);
                        continue;
                    }
                    _ => {
                        faildata = parsed.as_object().cloned().unwrap_or_default();
                        match it.next() {
                            Some((n, l)) => {
                                lnnum = n + 1;
                                line = l;
                            }
                            None => break,
                        }
                    }
                }
            } else if ignore_block || raw.starts_with('#') || raw.trim().is_empty() {
                continue;
            } else {
                faildata = Map::new();
                line = raw;
            }
            if ignore_block {
                continue;
            }
            let tests = tests.get_or_insert_with(|| {
                vec![FilterTest {
                    key: name.to_string(),
                    opts: Map::new(),
                }]
            });
            let line = line.trim_end_matches(['\r', '\n']);
            for ft in tests.iter() {
                if let Some(c) = faildata.get("constraint").and_then(Json::as_str) {
                    match eval_condition(c, name, &ft.opts) {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(e) => {
                            fail(t, format!("{fname}:{lnnum}: {e}"));
                            continue;
                        }
                    }
                }
                let slot =
                    filters
                        .entry(ft.key.clone())
                        .or_insert_with(|| match build_matcher(&ft.key) {
                            Ok(m) => Some(m),
                            Err(e) => {
                                eprintln!("{}: cannot build: {e}", ft.key);
                                None
                            }
                        });
                let Some(m) = slot.as_mut() else {
                    fail(t, format!("{}: filter not built", ft.key));
                    continue;
                };
                let found = if ft.opts.get("logtype").and_then(Json::as_str) != Some("journal") {
                    m.process_line(line, TEST_NOW, &NoResolver)
                } else {
                    let prefixed;
                    let l = match ft.opts.get("test.prefix-line").and_then(Json::as_str) {
                        Some(p) => {
                            prefixed = format!("{p}{line}");
                            prefixed.as_str()
                        }
                        None => line,
                    };
                    m.process_line_at(l, TEST_NOW_STR, TEST_NOW, TEST_NOW, &NoResolver)
                };
                match check(&found, &faildata) {
                    Ok(()) => t.passed += 1,
                    Err(e) => fail(
                        t,
                        format!("{}: {fname}:{lnnum}: {e}\n    line: {line}", ft.key),
                    ),
                }
            }
        }
    }
}

#[test]
fn sample_logs() {
    if (!std::path::Path::new(LOGS).is_dir() || !std::path::Path::new(CONF).is_dir())
        && skip_or_fail("fail2ban package (sample logs, /etc/fail2ban) not installed")
    {
        return;
    }
    // SAFETY: set before any thread of this test binary reads the environment.
    unsafe { std::env::set_var("TZ", TEST_TZ) };
    assert_eq!(
        SystemZone.offset_at(TEST_NOW as i64),
        7200,
        "the test zone (CEST) is not in effect"
    );
    let mut names: Vec<String> = std::fs::read_dir(format!("{CONF}/filter.d"))
        .expect("filter.d")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|f| f.ends_with(".conf") && !f.ends_with("common.conf"))
        .map(|f| f.trim_end_matches(".conf").to_string())
        .collect();
    names.sort();
    let (mut passed, mut failed) = (0, 0);
    let mut failing = Vec::new();
    for name in &names {
        let mut t = Tally::default();
        run_filter(name, &mut t);
        println!("{name}: {} passed, {} failed", t.passed, t.failed);
        for n in &t.notes {
            println!("  {n}");
        }
        if t.failed > 0 {
            failing.push(name.clone());
        }
        passed += t.passed;
        failed += t.failed;
    }
    // Upstream also runs zzz-generic-example and zzz-sshd-obsolete-multiline, whose
    // filters live in its source tree's config (not installed): skipped here.
    println!(
        "NOTE: zzz-generic-example, zzz-sshd-obsolete-multiline skipped (filters not installed)"
    );
    println!("failing filters: {failing:?}");
    println!("{passed} passed, {failed} failed");
    assert!(passed > 900, "too few checks ran: {passed}");
    assert!(
        failed == 0,
        "{failed} sample-log checks failed: {failing:?}"
    );
}

/// Lines per second through the sshd filter (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn throughput_sshd() {
    let mut m = build_matcher("sshd").expect("sshd");
    // The server's mode: first matching failregex only.
    m.check_all = false;
    let lines = [
        "Nov 21 10:00:00 host sshd[123]: Accepted publickey for joe from 192.0.2.1 port 22 ssh2",
        "Nov 21 10:00:01 host CRON[99]: pam_unix(cron:session): session opened for user root",
        "Nov 21 10:00:02 host sshd[124]: Failed password for invalid user bob from 192.0.2.9 port 4242 ssh2",
    ];
    let n = 300_000;
    let start = std::time::Instant::now();
    let mut hits = 0;
    for i in 0..n {
        hits += m.process_line(lines[i % 3], TEST_NOW, &NoResolver).len();
    }
    let dt = start.elapsed().as_secs_f64();
    println!(
        "{n} lines in {dt:.2}s: {:.0} lines/s, {hits} failures",
        n as f64 / dt
    );
    assert!(hits > 0);
}
