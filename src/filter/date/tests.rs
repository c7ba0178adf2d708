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
