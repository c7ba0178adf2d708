//! Unit tests of the detector: names, descriptions, errors, byte spans.

use super::*;

fn utc(dp: Option<&str>) -> DateDetector {
    DateDetector::with_options(dp, 2026, Arc::new(FixedZone(0))).expect("valid datepattern")
}

/// 2026-11-21 15:00:00 UTC.
const NOW: f64 = 1_795_273_200.0;

#[test]
fn default_names_follow_the_spec_table() {
    let names = utc(None).template_names();
    assert_eq!(names.len(), 31);
    let at = |i: usize| names[i - 1].to_string();
    assert_eq!(
        at(1),
        r"{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\s*Zone offset)?"
    );
    assert_eq!(at(8), "{^LN-BEG}Epoch");
    assert_eq!(at(9), "{^LN-BEG}ExYear2ExMonthExDay  ?24hour:Minute:Second");
    assert_eq!(at(14), "{^LN-BEG}TAI64N");
    assert_eq!(at(22), "Epoch");
    assert_eq!(at(23), "{^LN-BEG}24hour:Minute:Second");
    assert_eq!(at(24), "^<Month/Day/ExYear2@24hour:Minute:Second>");
    assert_eq!(at(27), "^MON-Day-ExYear2 %k:Minute:Second");
    assert_eq!(at(31), "TAI64N");
}

#[test]
fn describe_like_get_datepattern() {
    assert_eq!(utc(None).describe(), (None, "Default Detectors".into()));
    assert_eq!(
        utc(Some("%Y-%m-%d")).describe(),
        (Some("%Y-%m-%d".into()), "Year-Month-Day".into())
    );
    assert_eq!(utc(Some("EPOCH")).describe(), (None, "Epoch".into()));
    assert_eq!(
        utc(Some("{^LN-BEG}epoch")).describe(),
        (None, "{^LN-BEG}Epoch".into())
    );
    assert_eq!(utc(Some("LEPOCH")).describe(), (None, "LongEpoch".into()));
}

#[test]
fn bad_patterns_are_errors() {
    assert!(matches!(
        DateDetector::with_options(Some("%Y-%e"), 2026, Arc::new(FixedZone(0))),
        Err(Error::Pattern { .. })
    ));
    // fail2ban's testWrongTemplate: an unbalanced paren fails to compile.
    assert!(matches!(
        DateDetector::with_options(Some("(%ExY%Exm%Exd"), 2026, Arc::new(FixedZone(0))),
        Err(Error::Compile { .. })
    ));
    let mut dd = utc(None);
    assert!(matches!(
        dd.set_logtimezone(Some("Europe/Paris")),
        Err(Error::TimeZone(_))
    ));
}

#[test]
fn spans_are_byte_ranges() {
    let mut dd = utc(None);
    for line in [
        "ü Jan 23 21:59:59 x",
        "日本 2026-11-21 14:00:00 x",
        "ßß [2026-11-21 14:00:00] x",
    ] {
        let m = dd.match_time(line, NOW).expect("a date");
        let text = &line[m.span.0..m.span.1];
        assert!(
            text.ends_with(":59") || text.ends_with(":00"),
            "{line}: {text:?}"
        );
        assert!(m.time.is_ok(), "{line}");
    }
}

#[test]
fn date_placeholder_wraps_every_default() {
    let dd = utc(Some(r"^<\d+>\d+\s+{DATE}"));
    let names = dd.template_names();
    assert_eq!(names.len(), 17);
    // fail2ban rebuilds keyword templates from their wrapped *name*, so EPOCH becomes a
    // literal-text pattern here, and TAI64N a plain %-less pattern too.
    assert!(names.iter().any(|n| &**n == r"^<\d+>\d+\s+Epoch"));
    let mut dd = utc(Some(r"^<\d+>\d+\s+{DATE}"));
    let line = "<13>1 2026-11-21T14:00:00Z host app - x";
    let m = dd.match_time(line, NOW).expect("a date");
    // The whole template text is the date span: all of it is cut from the line.
    assert_eq!(&line[m.span.0..m.span.1], "<13>1 2026-11-21T14:00:00Z");
    assert_eq!(m.whole, m.span);
    assert_eq!(m.time, Ok(1_795_269_600.0));
}

#[test]
fn line_begin_keeps_anchored_defaults() {
    let dd = utc(Some("{^LN-BEG}"));
    let names = dd.template_names();
    assert_eq!(names.len(), 17);
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("{^LN-BEG}") || n.starts_with('^'))
    );
}

/// Every line of the upstream sample logs (their comments left out), in file order;
/// None (after a loud skip note, and only outside CI) when the package is missing.
fn sample_lines() -> Option<Vec<String>> {
    const LOGS: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";
    let rd = match std::fs::read_dir(LOGS) {
        Ok(rd) => rd,
        Err(e) => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "fail2ban sample logs missing: {e}"
            );
            eprintln!("SKIPPED: upstream sample logs ({e}); synthetic lines only");
            return None;
        }
    };
    let mut paths: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    let mut lines = Vec::new();
    for p in paths {
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap_or_default()).into_owned();
        lines.extend(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .map(String::from),
        );
    }
    Some(lines)
}

/// The memos, the set scan and the bounded capture search change no result: a detector
/// fed lines one after another (memos warm) answers as the same detector with its memos
/// dropped before each line. Lines: every upstream sample log, apache-style dates whose
/// microseconds change from line to line, and long lines (past the set-scan bound).
#[test]
fn memo_and_bounds_change_no_result() {
    let mut lines = sample_lines().unwrap_or_default();
    let told = WINDOW_TOLD.with(|n| n.get());
    let spare_told = SPARE_TOLD.with(|n| n.get());
    // Same second, changing microseconds (and a change in the seconds now and then).
    for i in 0..200u32 {
        let us = (i * 49_999 + 7) % 1_000_000;
        let sec = i / 50;
        lines.push(format!(
            "[Sat Mar 14 06:25:{sec:02}.{us:06} 2026] [auth_basic:error] [pid 1:tid 2] [client 192.0.2.{i}:5] AH01617: user x: authentication failure"
        ));
        lines.push(format!(
            "2026-03-14 06:25:{sec:02}.{:0w$} host app: event {i}",
            us % 1000,
            w = 1 + (i as usize % 3)
        ));
        lines.push(format!("x 2026/03/14 06:25:{sec:02}.{us:06} y {i}"));
    }
    // Syslog lines repeating a second with other text after it (the detector's
    // `Repeat`), also a non-ASCII char and the line end right after the date.
    for i in 0..60u32 {
        let sec = i / 7;
        lines.push(format!("Nov 20 10:00:{sec:02} host sshd[{i}]: event {i}"));
        lines.push(format!("Nov 20 10:00:{sec:02} 2026 host x{i}"));
        lines.push(format!("Nov 20 10:00:{sec:02}\u{e9}t\u{e9} {i}"));
        lines.push(format!("Nov 20 10:00:{sec:02}"));
        lines.push(format!("Nov 20 10:00:{sec:02}.{i:03} host"));
    }
    // Access-log dates that move with the client address (the back-reference template's
    // `Window`s), the same date text on several lines, other text right after it (within
    // and past the bytes a window holds), a zone that differs, the date at the line
    // start and at its end.
    for i in 0..120u32 {
        let ip = ["10.0.0.1", "203.0.113.133", "2001:db8::7", "192.0.2.44"][i as usize % 4];
        let sec = i / 9;
        let zone = if i % 11 == 0 { "+0100" } else { "+0000" };
        let after = [
            "] \"GET / HTTP/1.1\" 200 1",
            "] \"POST /x HTTP/1.1\" 200 1",
            "]",
            " x] y",
        ][(i as usize / 2) % 4];
        lines.push(format!(
            "{ip} - - [14/Mar/2026:06:25:{sec:02} {zone}{after}"
        ));
        if i % 13 == 0 {
            lines.push(format!("14/Mar/2026:06:25:{sec:02} {zone}{after}"));
            lines.push(format!("{ip} - - [14/Mar/2026:06:25:{sec:02}"));
            lines.push(format!(
                "{ip} - - [14-Mar-2026:06:25:{sec:02} {zone}{after}"
            ));
            lines.push(format!(
                "{ip} - - [14/Mar-2026:06:25:{sec:02} {zone}{after}"
            ));
        }
    }
    // ... the two requests of a wordpress log taking turns within each second (the
    // spare windows),
    for i in 0..90u32 {
        let ip = ["10.0.0.1", "203.0.113.133", "192.0.2.44"][i as usize % 3];
        let method = ["GET", "POST"][i as usize % 2];
        let sec = i / 10;
        lines.push(format!(
            "{ip} - - [14/Mar/2026:06:26:{sec:02} +0000] \"{method} /wp-login.php HTTP/1.1\" 200 1"
        ));
    }
    // ... and dates that keep their place (addresses of one length), the same text
    // after a non-ASCII address (the backtracker does not answer there)
    for i in 0..60u32 {
        let sec = i / 7;
        let ip = if i % 9 == 4 {
            "10.0.0.\u{e9}".to_string()
        } else {
            format!("10.0.0.{}", i % 10)
        };
        let zone = if i % 13 == 0 { "+0100" } else { "+0000" };
        lines.push(format!(
            "{ip} - - [14/Mar/2026:06:25:{sec:02} {zone}] \"GET / HTTP/1.1\" 200 1"
        ));
    }
    let long = "Failed password for invalid user root from 192.0.2.1 port 22 ssh2 [".repeat(100);
    lines.push(format!("Nov 20 10:00:01 host sshd[1001]: {long}"));
    lines.push(format!("{long} Nov 20 10:00:01 {long}"));
    lines.push(format!("{long} [Sat Mar 14 06:25:00.123456 2026] {long}"));
    lines.push(format!("{long}2026-03-14 06:25:00.5{long}"));
    for dp in [
        None,
        Some("%a %b %d %H:%M:%S(?:\\.%f)? %Y"),
        Some("{^LN-BEG}"),
    ] {
        let mut warm = utc(dp);
        let mut cold = utc(dp);
        for line in &lines {
            for s in &mut cold.slots {
                s.memo = None;
                s.conv = None;
                s.window = None;
                s.window_at = None;
            }
            cold.repeat = None;
            let a = warm.match_time(line, NOW);
            let b = cold.match_time(line, NOW);
            assert_eq!(a, b, "datepattern {dp:?}, line {line:?}");
        }
        // The hit counts (and so the template order) moved alike.
        assert_eq!(warm.template_stats(), cold.template_stats(), "{dp:?}");
    }
    let told = WINDOW_TOLD.with(|n| n.get()) - told;
    assert!(
        told > 30,
        "moved access-log dates told by the window: {told}"
    );
    // The texts after the date alternate within a second: the spares tell some.
    let spare_told = SPARE_TOLD.with(|n| n.get()) - spare_told;
    assert!(spare_told > 10, "told by a spare window: {spare_told}");
}

/// The set scan, cut short once the reserve is closer than any later match could be
/// (`DateDetector::bound_scan`), picks what searching every template picks: a detector
/// without the scan answers the same on every upstream sample line and on access-log
/// lines whose date moves with the client address, with date-like texts before, inside
/// and after the scan's reach, and it ends with the same hit counts.
#[test]
fn bounded_scan_changes_no_result() {
    let mut lines = Vec::new();
    let extras = [
        "\"GET /wp-login.php HTTP/1.1\" 200 4578 \"-\" \"Mozilla/5.0 (X11; rv:109.0) Firefox/115.0\"",
        "\"GET /?t=2026-03-14T06:25:00Z HTTP/1.1\" 200 1 \"-\" \"-\"",
        "\"POST /xmlrpc.php HTTP/1.1\" 200 1 \"-\" \"sent 14/Mar/2026:06:25:09 +0000\"",
        "\"GET / HTTP/1.1\" 200 1 \"-\" \"1773469500 Mar 14 06:25:00\"",
        "\"GET /x HTTP/1.1\" 404 1 \"-\" \"ref 2026/03/14 06:25:00.123\"",
        // what only the last template (TAI64N) or an end-anchored one matches, far out
        "\"GET /x HTTP/1.1\" 404 1 \"-\" \"agent\" @4000000063a2f0b20e5c7a5c",
        "\"GET /y HTTP/1.1\" 404 1 \"-\" \"agent\" at 2026-03-14 06:25:00",
        // non-ASCII past the scan's cut (only the bytes it reads need be ASCII), with
        // Unicode digits and dates after them
        "\"GET /caf\u{e9} HTTP/1.1\" 200 1 \"-\" \"\u{e9}t\u{e9} 14/Mar/2026:06:25:09 +0000\"",
        "\"GET /\u{663}\u{664} HTTP/1.1\" 200 1 \"-\" \"\u{663}\u{664}/Mar/2026:06:25:09\"",
    ];
    // first 100 lines of the plain access log only, so that the asked templates' own
    // scan is built while the defaults keep their order (TAI64N last, unasked)
    for i in 0..500u32 {
        // client addresses of 7 to 15 chars move the date
        let ip = match i % 4 {
            0 => format!("10.{}.0.{}", i % 9, i % 7),
            1 => format!("192.0.2.{}", 100 + i % 150),
            2 => format!("203.0.113.{}", i % 250),
            _ => format!("2001:db8::{:x}", i * 977),
        };
        let extra = extras[(i.saturating_sub(100) as usize / 3) % extras.len()];
        let sec = i / 20;
        lines.push(format!(
            "{ip} - - [14/Mar/2026:06:25:{sec:02} +0000] {extra}"
        ));
        if i % 5 == 0 {
            // a date-like text ahead of the date, and one far behind it
            lines.push(format!(
                "{ip} 06:25:{sec:02} - [14/Mar/2026:06:25:{sec:02} +0000] x"
            ));
            lines.push(format!(
                "{ip}{} [14/Mar/2026:06:25:{sec:02} +0000] {extra}",
                " -".repeat(40)
            ));
        }
    }
    // the synthetic lines alone (the defaults' own order: TAI64N last), and after the
    // upstream samples have reordered the templates
    let synthetic = lines;
    let mut after_samples = sample_lines().unwrap_or_default();
    after_samples.extend(synthetic.iter().cloned());
    // an end-anchored template ahead of the access log's, and a last one that misses
    let end_anchored = "%Y-%m-%d %H:%M:%S$\n%d/%b/%Y:%H:%M:%S\n%Y%m%dT%H%M%S";
    let told = crate::filter::pyre::ASKED_ANSWERS.with(|a| a.get());
    for (dp, lines) in [None, Some("{^LN-BEG}"), Some(end_anchored)]
        .into_iter()
        .flat_map(|dp| [(dp, &synthetic), (dp, &after_samples)])
    {
        let mut scanned = utc(dp);
        let mut plain = utc(dp);
        plain.which = None;
        assert!(scanned.which.is_some(), "the defaults have a set scan");
        for line in lines {
            let a = scanned.match_time(line, NOW);
            let b = plain.match_time(line, NOW);
            assert_eq!(a, b, "datepattern {dp:?}, line {line:?}");
        }
        assert_eq!(scanned.template_stats(), plain.template_stats(), "{dp:?}");
        assert!(
            scanned.scan_plan.is_some() || dp == Some("{^LN-BEG}"),
            "{dp:?}: the cut scan was used"
        );
    }
    let told = crate::filter::pyre::ASKED_ANSWERS.with(|a| a.get()) - told;
    assert!(
        told > 100,
        "the asked templates' own scan answered {told} times"
    );
}

/// The anchored DFA gives the span the template's own search gives, and a line that
/// keeps the bytes that decided it (other text after them) gets the same span.
#[test]
fn anchored_span_and_its_deciding_bytes() {
    let lines = [
        "Nov 20 10:00:01 host sshd[1]: Failed password",
        "Nov 20 10:00:01",
        "Nov 20 10:00:01 2026 host",
        "2026-03-14 06:25:00.123 host app: x",
        "2026-03-14T06:25:00Z x",
        "1700000000.5 host",
        "@4000000065a8f1c2 x",
        "Sat Mar 14 06:25:00 2026 x",
        "no date here",
        "",
        "Nov 20 10:00:01\u{e9}x",
    ];
    let dd = utc(None);
    let mut checked = 0;
    for slot in &dd.slots {
        let re = &slot.tpl.re;
        let Some(mut a) = anchored::AnchoredEnd::new(re) else {
            continue;
        };
        for line in lines {
            let Some((span, decided)) = a.span(line) else {
                continue;
            };
            let truth = re.search(line, 0).map(|m| (m.start(), m.end()));
            assert_eq!(span, truth, "{} on {line:?}", slot.tpl.name);
            checked += 1;
            if decided.whole || !line.is_char_boundary(decided.len) {
                continue;
            }
            for tail in ["", "x", " 2026", ".5", "\u{e9}", "\n"] {
                let other = format!("{}{tail}", &line[..decided.len]);
                let again = a.span(&other).map(|x| x.0);
                assert_eq!(again, Some(span), "{} on {other:?}", slot.tpl.name);
            }
        }
    }
    assert!(checked > 50, "only {checked} anchored spans checked");
}

/// Deferred (a server jail's first read event), the detector builds no anchored span
/// finder and still gives exactly what an eager one gives; once prepared, it builds
/// the finder on the next search and still agrees.
#[test]
fn deferred_span_finders_change_no_answer() {
    let lines = [
        "Nov 21 14:59:58 srv sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2",
        "Nov 21 14:59:58 srv sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2",
        "Nov 21 14:59:59 srv sshd[2]: Invalid user x from 192.0.2.2",
        "2026-11-21 14:59:59,123 fail2ban.actions [7]: NOTICE [sshd] Ban 192.0.2.3",
        "Nov 21 15:00:00 srv sshd[3]: Connection closed by 192.0.2.4",
        "no date on this line",
    ];
    let key = |m: Option<DateMatch>| m.map(|m| (m.span, m.whole, m.time, m.template));
    let built = |d: &DateDetector| d.slots.iter().filter(|s| s.anchored.is_some()).count();
    let mut eager = utc(None);
    let mut lazy = utc(None);
    lazy.defer_scans();
    for l in lines {
        assert_eq!(
            key(lazy.match_time(l, NOW)),
            key(eager.match_time(l, NOW)),
            "{l}"
        );
    }
    assert_eq!(built(&lazy), 0, "a deferred detector built span finders");
    assert!(
        built(&eager) > 0,
        "the eager detector never used a span finder"
    );
    lazy.prepare_scans();
    for l in lines.iter().rev() {
        assert_eq!(
            key(lazy.match_time(l, NOW)),
            key(eager.match_time(l, NOW)),
            "{l}"
        );
    }
    assert!(built(&lazy) > 0, "a prepared detector built no span finder");
    assert_eq!(lazy.template_names(), eager.template_names());
}

#[test]
fn span_and_time_alone_answer_as_the_whole_match() {
    // Repeated seconds (the repeat path), new seconds, a template change, no date and
    // an invalid date, through two detectors fed the same lines.
    let lines = [
        "Nov 21 14:59:58 srv sshd[1]: a",
        "Nov 21 14:59:58 srv sshd[2]: b",
        "Nov 21 14:59:59 srv sshd[3]: c",
        "Nov 21 14:59:59 srv sshd[3]: c",
        "Nov 21 14:59:59 srv sshd[4]: e",
        "2026-11-21 14:59:59,123 fail2ban.filter [7]: d",
        "2026-11-21 14:59:59,123 fail2ban.filter [7]: d",
        "no date here",
        "Nov 31 14:59:59 srv x: bad day",
        "Nov 21 14:59:59 srv sshd[3]: c",
    ];
    let (mut whole, mut alone) = (utc(None), utc(None));
    let (mut dated, mut repeated) = (0, 0);
    for line in lines {
        let want = whole.match_time(line, NOW).map(|d| (d.span, d.time));
        dated += usize::from(matches!(want, Some((_, Ok(_)))));
        repeated += usize::from(alone.repeat.as_ref().is_some_and(|r| r.fits(line, NOW)));
        assert_eq!(alone.match_span_time(line, NOW), want, "{line}");
    }
    assert_eq!(dated, 8);
    assert!(repeated >= 2, "{repeated} lines took the repeat path");
    assert_eq!(alone.template_names(), whole.template_names());
}

/// A start-anchored template's match told by the small backtracker's memory without
/// the DFA pass (`Slot::settled`) is the match itself: a detector fed lines one after
/// another answers each as a new detector (which builds its span finders on that line
/// and so tells nothing from memory) does, on apache and syslog dates whose digits and
/// following text change, dates at the line end then continued (a year, microseconds),
/// and every upstream sample line.
#[test]
fn settled_matches_are_the_matches() {
    let mut lines = Vec::new();
    for i in 0..60u32 {
        let us = (i * 49_999 + 7) % 1_000_000;
        let sec = i / 7;
        lines.push(format!(
            "[Sat Mar 14 06:25:{sec:02}.{us:06} 2026] [auth_basic:error] [client 192.0.2.{i}:5] x"
        ));
        lines.push(format!("Nov 20 10:00:{sec:02} host sshd[{i}]: event {i}"));
        lines.push(format!("Nov 20 10:00:{sec:02}"));
        lines.push(format!("Nov 20 10:00:{sec:02} 2026 host x{i}"));
        lines.push(format!("Nov 20 10:00:{sec:02}.{i:03} host"));
        lines.push(format!("Nov 20 10:00:{sec:02}\u{e9} {i}"));
        lines.push(format!("2026-11-20 10:00:{sec:02}.{i} app: {i}"));
    }
    let samples = sample_lines().unwrap_or_default();
    lines.extend(samples.iter().step_by(7).cloned());
    let before = SETTLED.load(std::sync::atomic::Ordering::Relaxed);
    for dp in [None, Some("{^LN-BEG}")] {
        let mut warm = utc(dp);
        for line in &lines {
            let got = warm.match_time(line, NOW);
            let want = utc(dp).match_time(line, NOW);
            assert_eq!(
                got.map(|d| (d.span, d.whole, d.time)),
                want.map(|d| (d.span, d.whole, d.time)),
                "datepattern {dp:?}, line {line:?}"
            );
        }
    }
    // (other tests on other threads may add to the count, never take from it)
    let settled = SETTLED.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert!(settled > 100, "{settled} matches told from memory");
}

/// The small backtracker the detector asks first for a template's groups
/// (`Regex::search_short`, with its memory of the last text) answers as the template's
/// own search, on every default template and the upstream sample lines cut where the
/// detector cuts them, searched with their digits shifted in turn (so its memory is
/// both used and refused).
#[test]
fn short_search_is_the_templates_search() {
    let Some(mut lines) = sample_lines() else {
        return;
    };
    for i in 0..100u32 {
        let us = (i * 49_999 + 7) % 1_000_000;
        lines.push(format!("[Sat Mar 14 06:25:{:02}.{us:06} 2026] [x]", i / 9));
        lines.push(format!(
            "Mar  {} 0{}:25:{:02} host sshd[{i}]:",
            1 + i % 9,
            i % 10,
            i % 61
        ));
        // The access log's back-reference template, after addresses of other lengths.
        lines.push(format!(
            "{}.0.{}.{} - - [14/Mar/2026:06:25:{:02} +0000] \"GET /",
            192 + i % 11,
            i * 7 % 256,
            i * 13 % 300,
            i / 9
        ));
    }
    let shift = crate::filter::pyre::survey::shift_digits;
    let templates = crate::filter::date::templates::default_templates(2026).expect("defaults");
    let (mut told, mut syslog_told, mut backref_told) = (0usize, 0usize, 0usize);
    for t in &templates {
        let re = &*t.re;
        for line in &lines {
            let mut cut = line.len().min(48);
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            for k in [0, 1, 0, 3, 7] {
                let text = shift(&line[..cut], k);
                let want = re.search(&text, 0);
                // A back-reference template's stand-in span, confirmed as the detector
                // does it, is the template's own match.
                match re.stand_in_span(&text, 0) {
                    Some(None) => assert!(want.is_none(), "{} on {text:?}", t.name),
                    Some(Some(span)) => {
                        if let Some(got) = super::memo::short_at(re, &text, span) {
                            let want = want.as_ref().expect("a match");
                            assert_eq!(got.spans(), want.spans(), "{} on {text:?}", t.name);
                            backref_told += 1;
                        }
                    }
                    None => {}
                }
                let starts = [0, want.as_ref().map_or(0, |m| m.start())];
                for start in starts {
                    // None: no match starts there, or it cannot tell (not a linear
                    // template, a non-ASCII text): the detector searches as before.
                    let Some(got) = re.search_short(&text, start) else {
                        continue;
                    };
                    let want = want.as_ref().expect("a match");
                    let spans = |m: &crate::filter::pyre::Match<'_>| {
                        (0..m.len()).map(|i| m.span(i)).collect::<Vec<_>>()
                    };
                    assert_eq!(spans(&got), spans(want), "{} on {text:?}", t.name);
                    told += 1;
                    if t.name.contains("MON Day %k") {
                        syslog_told += 1;
                    }
                }
            }
        }
    }
    eprintln!(
        "{told} matches told, {syslog_told} by the syslog template, {backref_told} confirmed \
         stand-in spans"
    );
    assert!(
        told > 5_000 && syslog_told > 1_000 && backref_told > 300,
        "{told} {syslog_told} {backref_told}"
    );
}

/// The chars around a match are Python's `line[i:i+1]` whatever order they are asked
/// in: ASCII lines by byte, lines with a non-ASCII char before or after the place asked
/// by char, past the end and before the start none.
#[test]
fn chars_at_are_python_slices() {
    for line in [
        "203.0.113.7 - - [14/Mar/2026:06:25:00 +0000] \"GET /\"",
        "héllo [14/Mar/2026:06:25:00 +0000] x",
        "[14/Mar/2026:06:25:00 +0000] naïve",
        "",
    ] {
        let want = |i: isize| usize::try_from(i).ok().and_then(|i| line.chars().nth(i));
        let n = line.chars().count() as isize;
        let orders: [Vec<isize>; 3] = [
            (-2..n + 2).collect(),
            (-2..n + 2).rev().collect(),
            (0..n + 2).map(|i| (i * 7) % (n + 2)).collect(),
        ];
        for order in orders {
            let mut chars = super::CharsAt::new(line);
            for i in order {
                assert_eq!(chars.at(i), want(i), "{line:?}[{i}]");
            }
        }
    }
}

/// Char offsets to byte offsets and back, as Python indexes a str: with non-ASCII text
/// before, at and after the place, and places past the end.
#[test]
fn char_and_byte_offsets_agree_with_char_indices() {
    for line in [
        "",
        "abc",
        "é",
        "aé b",
        "ab é",
        "éé x ü",
        "日本 2026-11-21 ok ö",
    ] {
        let n = line.chars().count();
        for chars in 0..n + 3 {
            let want = line
                .char_indices()
                .nth(chars)
                .map_or(line.len(), |(b, _)| b);
            assert_eq!(byte_pos(line, chars), want, "{line:?} char {chars}");
        }
        for (b, _) in line
            .char_indices()
            .chain(std::iter::once((line.len(), ' ')))
        {
            assert_eq!(
                char_pos(line, b),
                line[..b].chars().count(),
                "{line:?} byte {b}"
            );
        }
    }
}
