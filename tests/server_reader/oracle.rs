//! Oracle comparisons for the log readers: decoding against Python's codecs, the initial
//! seek against fail2ban's own `seekToTime`, and `fail2ban-regex -e` against the real tool.

use super::*;
use gaol::server::reader::Encoding;

/// Python's `bytes.decode(enc, 'replace')` for each sample, one repr per line.
fn python_decode(enc: &str, samples: &[&[u8]]) -> Option<Vec<String>> {
    let hex: Vec<String> = samples
        .iter()
        .map(|s| s.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys\nfor h in sys.argv[2:]:\n    \
             print(ascii(bytes.fromhex(h).decode(sys.argv[1], 'replace')))",
        )
        .arg(enc)
        .args(&hex)
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

fn py_ascii(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('\'');
    out
}

#[test]
fn decoding_matches_python() {
    let samples: &[&[u8]] = &[
        b"plain ascii",
        b"caf\xc3\xa9 ok",
        b"caf\xe9 latin",
        b"\x80\x81\x8d\x8f\x90\x9d\x9f\xa4\xa6\xa8\xb4\xb8\xbc\xbd\xbe\xff",
        b"bad \xe2\x82 cut \xf0\x9f\x98 x \xed\xa0\x80 sur \xc0\xaf over",
        b"\xf4\x90\x80\x80 big \xc3",
    ];
    for enc in ["UTF-8", "latin-1", "ascii", "cp1252", "iso-8859-15"] {
        let Some(want) = python_decode(enc, samples) else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("python3 missing");
            }
            eprintln!("SKIPPED: python3 not available");
            return;
        };
        let e = Encoding::lookup(enc).unwrap();
        let ours: Vec<String> = samples.iter().map(|s| py_ascii(&e.decode(s).0)).collect();
        assert_eq!(ours, want, "encoding {enc}");
    }
}

/// `/usr/bin/python3` with fail2ban importable (else SKIPPED, or a failure under CI).
fn have_fail2ban_python() -> bool {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import fail2ban.server.filter"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("/usr/bin/python3 with the fail2ban module is required under CI=true");
        }
        eprintln!("SKIPPED: /usr/bin/python3 with the fail2ban module not available");
    }
    ok
}

#[test]
fn seek_matches_fail2ban_seek_to_time() {
    if !have_fail2ban_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dated.log");
    // Irregular times: runs of equal seconds, gaps, single undated lines and an undated
    // block of ten lines.
    let base = 1_700_000_000i64;
    let mut t = base;
    let mut text = String::new();
    for i in 0..20_000usize {
        let line = if i % 211 == 7 || (5000..5010).contains(&i) {
            format!("    undated continuation {i}")
        } else {
            t += match i % 17 {
                0 => 30,
                1..=9 => 0,
                _ => 1,
            };
            let d = chrono::DateTime::from_timestamp(t, 0).unwrap();
            format!(
                "{} host prog[{}]: line {i}",
                d.format("%Y-%m-%d %H:%M:%S"),
                i % 1000
            )
        };
        text.push_str(&line);
        text.push('\n');
    }
    fs::write(&p, &text).unwrap();
    let end = t;
    let sinces: Vec<f64> = [
        base - 100,
        base,
        base + 1,
        base + 31,
        base + 1000,
        base + 1000 + 15,
        (base + end) / 2,
        end - 40,
        end - 1,
        end,
        end + 1,
    ]
    .iter()
    .map(|&s| s as f64)
    .chain([base as f64 + 2345.5])
    .collect();
    let out = Command::new("/usr/bin/python3")
        .env("TZ", "UTC")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/oracle/reader_seek_oracle.py"
        ))
        .arg(&p)
        .args(sinces.iter().map(|s| s.to_string()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let positions: Vec<usize> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(positions.len(), sinces.len());
    let mut distinct = positions.clone();
    distinct.dedup();
    assert!(distinct.len() >= 7, "oracle positions {positions:?}");
    for (since, f2b_pos) in sinces.iter().zip(positions) {
        let want: Vec<&str> = text[f2b_pos..].lines().collect();
        let mut c = cfg(&p, Backend::Inotify);
        c.seek_since = Some(*since);
        let calls = Arc::new(AtomicUsize::new(0));
        let calls2 = calls.clone();
        c.time_of = Some(Box::new(move |l: &str| {
            calls2.fetch_add(1, Ordering::Relaxed);
            let d =
                chrono::NaiveDateTime::parse_from_str(l.get(..19)?, "%Y-%m-%d %H:%M:%S").ok()?;
            Some(d.and_utc().timestamp() as f64)
        }));
        let (tx, rx) = unbounded();
        let r = FileReader::spawn(c, tx).unwrap();
        let mut got = Got::default();
        if !want.is_empty() {
            wait_lines(&rx, &mut got, want.len(), FAST);
        }
        quiet(&rx, Duration::from_millis(100));
        r.stop();
        assert_eq!(
            got.texts().first(),
            want.first(),
            "since {since}: fail2ban starts at byte {f2b_pos}"
        );
        assert_eq!(got.lines.len(), want.len(), "since {since}");
        assert!(calls.load(Ordering::Relaxed) < 300, "since {since}");
    }
}

/// fail2ban-regex decodes a log file with `-e` through the same decoder: compare the
/// extracted users with the real tool for each encoding.
#[test]
fn regex_tool_decodes_like_fail2ban_regex() {
    const REAL: &str = "/usr/bin/fail2ban-regex";
    if !Path::new(REAL).exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{REAL} is required under CI=true");
        }
        eprintln!("SKIPPED: {REAL} not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("enc.log");
    fs::write(
        &p,
        b"2026-11-21 10:00:00 user j\xf6rg from 192.0.2.1\n\
          2026-11-21 10:00:01 user caf\xc3\xa9 from 192.0.2.2\r\n\
          2026-11-21 10:00:02 user x\xe2\x82\x80\x9d from 192.0.2.3\n\
          2026-11-21 10:00:03 user partial from 192.0.2.4",
    )
    .unwrap();
    let run = |tool: &[&str], enc: &str| {
        let out = Command::new(tool[0])
            .args(&tool[1..])
            .args(["-e", enc, "-o", "<F-USER> <ip>"])
            .arg(&p)
            .arg(r"user <F-USER>\S+</F-USER> from <HOST>")
            .env("TZ", "UTC")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for enc in ["latin-1", "UTF-8", "ascii", "cp1252", "iso-8859-15"] {
        let want = run(&[REAL], enc);
        let got = run(&[env!("CARGO_BIN_EXE_gaol"), "regex"], enc);
        assert_eq!(got, want, "encoding {enc}");
        assert_eq!(want.lines().count(), 3, "{want}");
    }
}
