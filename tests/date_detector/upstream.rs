//! The upstream date detector test cases (fail2ban/tests/datedetectortestcase.py) as Rust
//! assertions: same inputs, same expected outputs, in fail2ban's test setting (CET/CEST,
//! now = 2005-08-14 12:00 CEST).

use std::sync::Arc;

use gaol::filter::date::{DateDetector, LocalZone};

pub const TEST_NOW: f64 = 1_124_013_600.0;

/// Central European time with EU summer time (last Sunday of March/October, 01:00 UTC).
#[derive(Debug)]
pub struct Cet;

impl Cet {
    fn summer(ts: i64) -> bool {
        use chrono::{Datelike, NaiveDate, Weekday};
        let Some(t) = chrono::DateTime::from_timestamp(ts, 0) else {
            return false;
        };
        let last_sunday = |month: u32| {
            let mut d = NaiveDate::from_ymd_opt(t.year(), month, 31).unwrap();
            while d.weekday() != Weekday::Sun {
                d = d.pred_opt().unwrap();
            }
            d.and_hms_opt(1, 0, 0).unwrap().and_utc().timestamp()
        };
        ts >= last_sunday(3) && ts < last_sunday(10)
    }
}

impl LocalZone for Cet {
    fn offset_at(&self, ts: i64) -> i32 {
        if Self::summer(ts) { 7200 } else { 3600 }
    }
    fn offset_of_local(&self, local: chrono::NaiveDateTime) -> i32 {
        let as_summer = local.and_utc().timestamp() - 7200;
        if Self::summer(as_summer) { 7200 } else { 3600 }
    }
}

pub fn cet_detector(dp: Option<&str>) -> DateDetector {
    DateDetector::with_options(dp, 2026, Arc::new(Cet)).expect("valid datepattern")
}

/// fail2ban's `getTime`: the time and the date text, None when no date or no valid time.
pub fn get_time(dd: &mut DateDetector, line: &str, now: f64) -> Option<(f64, String)> {
    let m = dd.match_time(line, now)?;
    let t = m.time.ok()?;
    Some((t, line[m.span.0..m.span.1].to_string()))
}

pub fn utc_ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> f64 {
    chrono::NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, s)
        .unwrap()
        .and_utc()
        .timestamp() as f64
}

#[test]
fn epoch_time() {
    let mut dd = cet_detector(Some("EPOCH"));
    for unix in [1_138_049_999u64, 32_535_244_799] {
        for fmt in ["{}", "[{}]", "[{}.555]", "audit({}.555:101)"] {
            let date = fmt.replace("{}", &unix.to_string());
            let line = format!("{date} [sshd] error: PAM: Authentication failure");
            let (t, text) = get_time(&mut dd, &line, TEST_NOW).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(t as u64, unix, "{line}");
            assert!(
                text == unix.to_string() || text == format!("{unix}.555"),
                "{line}: {text}"
            );
        }
    }
    for bad in [
        "123456789",
        "9999999999999999",
        "1138049999A",
        "A1138049999",
    ] {
        for fmt in ["{}", "[{}]", "[{}.555]", "audit({}.555:101)"] {
            let line = format!(
                "{} [sshd] error: PAM: Authentication failure",
                fmt.replace("{}", bad)
            );
            assert_eq!(get_time(&mut dd, &line, TEST_NOW), None, "{line}");
        }
    }
}

#[test]
fn epoch_ms_time() {
    let mut dd = cet_detector(Some("LEPOCH"));
    for fact in [1u64, 1000, 1_000_000] {
        for unix in [1_138_049_999u64, 32_535_244_799] {
            for fmt in ["{}", "[{}]", "audit({}:101)"] {
                let long = (unix * fact).to_string();
                let line = format!(
                    "{} [sshd] error: PAM: Authentication failure",
                    fmt.replace("{}", &long)
                );
                let (t, text) =
                    get_time(&mut dd, &line, TEST_NOW).unwrap_or_else(|| panic!("{line}"));
                assert_eq!(t as u64, unix, "{line}");
                assert_eq!(text, long);
            }
        }
    }
    for bad in [
        "123456789",
        "999999999999999999",
        "1138049999A",
        "A1138049999",
    ] {
        for fmt in ["{}", "[{}]", "[{}.555]", "audit({}.555:101)"] {
            let line = format!(
                "{} [sshd] error: PAM: Authentication failure",
                fmt.replace("{}", bad)
            );
            assert_eq!(get_time(&mut dd, &line, TEST_NOW), None, "{line}");
        }
    }
}

#[test]
fn epoch_in_pattern() {
    let mut dd = cet_detector(Some(r"(?<=\|\s){LEPOCH}(?=\s\|)"));
    let mut long = String::new();
    for fact in [1u64, 1000, 1_000_000] {
        for unix in [1_138_049_999u64, 32_535_244_799] {
            long = (unix * fact).to_string();
            let line = format!("auth-error | {long} | invalid password");
            let (t, text) = get_time(&mut dd, &line, TEST_NOW).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(t as u64, unix);
            assert_eq!(text, long);
        }
    }
    for fmt in ["test{}123", "test-right | {}test", "test{} | test-left"] {
        let line = fmt.replace("{}", &long);
        assert_eq!(get_time(&mut dd, &line, TEST_NOW), None, "{line}");
    }
}

#[test]
fn default_get_time() {
    let mut dd = cet_detector(None);
    let line = "Jan 23 21:59:59 [sshd] error: PAM: Authentication failure";
    assert_eq!(
        get_time(&mut dd, line, TEST_NOW),
        Some((1_106_513_999.0, "Jan 23 21:59:59".to_string()))
    );
}

#[test]
fn default_time_zone() {
    let mut dd = cet_detector(Some(r"^%ExY-%Exm-%Exd %H:%M:%S(?: ?%Exz)?"));
    let logdt = "2017-01-23 15:00:00";
    let utc = |h, m| utc_ts(2017, 1, 23, h, m, 0);
    let cases: &[(Option<&str>, String, f64)] = &[
        (Some("UTC+0300"), logdt.into(), utc(12, 0)),
        (Some("UTC"), logdt.into(), utc(15, 0)),
        (Some("UTC-0430"), logdt.into(), utc(19, 30)),
        (Some("GMT+12"), logdt.into(), utc(3, 0)),
        (None, logdt.into(), utc(14, 0)),
        (Some("CET"), logdt.into(), utc(14, 0)),
        (Some("+0100"), logdt.into(), utc(14, 0)),
        (Some("CEST-01"), logdt.into(), utc(14, 0)),
        (Some("CEST"), logdt.into(), utc(13, 0)),
        (Some("+0200"), logdt.into(), utc(13, 0)),
        (Some("CET+01"), logdt.into(), utc(13, 0)),
        (Some("CET+0100"), logdt.into(), utc(13, 0)),
        (Some("CET+0130"), logdt.into(), utc(12, 30)),
        (Some("UTC+0300"), format!("{logdt} GMT"), utc(15, 0)),
        (Some("UTC"), format!("{logdt} GMT"), utc(15, 0)),
        (Some("UTC-0430"), format!("{logdt} GMT"), utc(15, 0)),
        (None, format!("{logdt} GMT"), utc(15, 0)),
        (
            Some("UTC"),
            format!("{logdt} -1045"),
            utc_ts(2017, 1, 24, 1, 45, 0),
        ),
        (
            None,
            format!("{logdt} -10:45"),
            utc_ts(2017, 1, 24, 1, 45, 0),
        ),
        (Some("UTC"), format!("{logdt} +0945"), utc(5, 15)),
        (None, format!("{logdt} +09:45"), utc(5, 15)),
        (Some("UTC+0300"), format!("{logdt} Z"), utc(15, 0)),
        (Some("GMT+12"), format!("{logdt} CET"), utc(14, 0)),
        (Some("GMT+12"), format!("{logdt} CEST"), utc(13, 0)),
        (Some("GMT+12"), format!("{logdt} CET+0130"), utc(12, 30)),
    ];
    for (tz, line, want) in cases {
        dd.set_logtimezone(*tz).unwrap();
        let got = get_time(&mut dd, line, TEST_NOW).map(|g| g.0);
        assert_eq!(got, Some(*want), "{line:?} with logtimezone {tz:?}");
    }
    assert!(dd.set_logtimezone(Some("WRONG-TZ")).is_err());
}

#[test]
fn various_times() {
    let unix = 1_106_513_999.0;
    // (anchored, word-boundary testable, date text, expected match text if different)
    let cases: &[(bool, bool, &str, Option<&str>)] = &[
        (false, true, "Jan 23 21:59:59", None),
        (false, false, "Sun Jan 23 21:59:59 2005", None),
        (false, false, "Sun Jan 23 21:59:59", None),
        (false, false, "Sun Jan 23 2005 21:59:59", None),
        (false, true, "2005/01/23 21:59:59", None),
        (false, true, "2005.01.23 21:59:59", None),
        (false, true, "23/01/2005 21:59:59", None),
        (false, true, "23/01/05 21:59:59", None),
        (false, true, "23/Jan/2005:21:59:59", None),
        (false, true, "23/Jan/2005:21:59:59 +0100", None),
        (false, true, "01/23/2005:21:59:59", None),
        (false, true, "2005-01-23 21:59:59", None),
        (false, true, "2005-01-23 21:59:59,000", None),
        (false, true, "23-Jan-2005 21:59:59", None),
        (false, true, "23-Jan-2005 21:59:59.02", None),
        (false, true, "23-Jan-2005 21:59:59 +0100", None),
        (false, true, "23-01-2005 21:59:59", None),
        (true, true, "1106513999", None),
        (false, true, "01-23-2005 21:59:59.252", None),
        (false, false, "@4000000041f4104f00000000", None),
        (false, true, "2005-01-23T20:59:59.252Z", None),
        (false, true, "2005-01-23T15:59:59-05:00", None),
        (false, true, "2005-01-23 21:59:59", None),
        (false, true, "20050123T215959", None),
        (false, true, "20050123 215959", None),
        (true, true, "<01/23/05@21:59:59>", None),
        (false, true, "050123 21:59:59", None),
        (true, true, "Jan-23-05 21:59:59", None),
        (false, true, "Jan 23, 2005 9:59:59 PM", None),
        (true, true, "1106513999", None),
        (true, true, "1106513999.000", None),
        (true, true, "[1106513999.000]", Some("1106513999.000")),
        (
            false,
            true,
            "audit(1106513999.000:987)",
            Some("1106513999.000"),
        ),
        (true, true, "no date line", None),
    ];
    let mut dd = cet_detector(None);
    for &(anchored, bound, sdate, rdate) in cases {
        let rdate = match rdate {
            Some(r) => Some(r),
            None if sdate != "no date line" => Some(sdate),
            None => None,
        };
        for (should, prefix) in [
            (rdate.is_some(), ""),
            (!anchored, "bogus-prefix "),
            (false, "word-boundary"),
        ] {
            if !bound && prefix == "word-boundary" {
                continue;
            }
            let line = format!("{prefix}{sdate}[sshd] error: PAM: Authentication failure");
            // fail2ban's test searches each line twice (getTime, then matchTime + getTime).
            for _ in 0..2 {
                let got = get_time(&mut dd, &line, TEST_NOW);
                if should {
                    let rdate = rdate.unwrap_or_default().to_string();
                    assert_eq!(got, Some((unix, rdate)), "{line:?}");
                } else {
                    assert_eq!(got, None, "{line:?}");
                }
            }
        }
    }
}

#[test]
fn unique_template_names() {
    assert!(matches!(
        DateDetector::with_options(Some("%Y-%m-%d\n%Y-%m-%d"), 2026, Arc::new(Cet)),
        Err(gaol::filter::date::Error::Duplicate(_))
    ));
}

#[test]
fn full_year_match_gh130() {
    let mut dd = cet_detector(None);
    // 2012-10-11 02:37:17 CEST
    let mu = utc_ts(2012, 10, 11, 0, 37, 17);
    let a = "2012/10/11 02:37:17 [error] 18434#0";
    let b = "11/10/2012 02:37:17 [error] 18434#0";
    assert_eq!(
        get_time(&mut dd, a, TEST_NOW),
        Some((mu, "2012/10/11 02:37:17".into()))
    );
    for _ in 0..10 {
        assert_eq!(
            get_time(&mut dd, b, TEST_NOW),
            Some((mu, "11/10/2012 02:37:17".into()))
        );
    }
    assert_eq!(
        get_time(&mut dd, a, TEST_NOW),
        Some((mu, "2012/10/11 02:37:17".into()))
    );
}

#[test]
fn date_template_bounds() {
    // No word boundaries with `**`.
    let mut dd = cet_detector(Some("(?iu)**time:%ExY%Exm%ExdT%ExH%ExM%ExS**"));
    assert!(!dd.template_regexes()[0].contains("**"));
    let dt = "TIME:20050102T010203";
    for line in [format!("X{dt}X"), dt.to_string()] {
        assert_eq!(
            get_time(&mut dd, &line, TEST_NOW).map(|g| g.1),
            Some(dt.to_string())
        );
    }
    assert!(dd.match_time("TIME:50050102T010203", TEST_NOW).is_none());
    // Line start on the left, word boundary on the right.
    let mut dd = cet_detector(Some("{^LN-BEG}time:%ExY%Exm%ExdT%ExH%ExM%ExS"));
    assert!(dd.template_regexes()[0].contains('^'));
    let dt = "time:20050102T010203";
    assert!(dd.match_time(&format!("X{dt}"), TEST_NOW).is_none());
    assert!(dd.match_time(&format!("{dt}X"), TEST_NOW).is_none());
    for line in [format!("##{dt}..."), dt.to_string()] {
        assert_eq!(
            get_time(&mut dd, &line, TEST_NOW).map(|g| g.1),
            Some(dt.to_string())
        );
    }
    assert!(dd.match_time("TIME:20050102T010203", TEST_NOW).is_none());
    // `%b` switches on ignore-case.
    let mut dd = cet_detector(Some("^%Y %b %d"));
    assert!(dd.template_regexes()[0].contains("(?iu)"));
    for dt in ["2005 jun 03", "2005 Jun 03", "2005 JUN 03"] {
        assert_eq!(
            get_time(&mut dd, dt, TEST_NOW).map(|g| g.1),
            Some(dt.to_string())
        );
    }
}

#[test]
fn not_anchored_collision() {
    for dp in ["%H:%M:%S", "{UNB}%H:%M:%S"] {
        let mut dd = cet_detector(Some(dp));
        for fmt in ["{} test", "{:>8} test", "test {}", "test {:>8}"] {
            for dt in [
                "00:01:02", "00:01:2", "00:1:2", "0:1:2", "00:1:2", "00:01:2", "00:01:02", "0:1:2",
                "00:01:02",
            ] {
                let line = if fmt.contains(":>8") {
                    fmt.replace("{:>8}", &format!("{dt:>8}"))
                } else {
                    fmt.replace("{}", dt)
                };
                let m = dd
                    .match_time(&line, TEST_NOW)
                    .unwrap_or_else(|| panic!("{line:?}"));
                assert_eq!(m.time, Ok(1_123_970_462.0), "{line:?}");
                assert_eq!(&line[m.whole.0..m.whole.1], dt, "{dp} {line:?}");
            }
        }
    }
}

#[test]
fn ambiguous_in_ordered_templates() {
    let mut dd = cet_detector(None);
    let cases: &[(&str, &str, usize)] = &[
        (
            "030324  0:03:59",
            "some free text 030324  0:03:59 -- 2003-03-07 17:05:01 ...",
            1,
        ),
        (
            "2003-03-07 17:05:01",
            "some free text 2003-03-07 17:05:01 test ...",
            15,
        ),
        (
            "030324  0:04:00",
            "server mysqld[1000]: 030324  0:04:00 [Warning] Access denied ... foreign-input just some free text 2003-03-07 17:05:01 test",
            10,
        ),
        (
            "Sep 16 21:30:26",
            "server mysqld[1020]: Sep 16 21:30:26 server mysqld: 030916 21:30:26 [Warning] Access denied",
            15,
        ),
        (
            "2005-10-07 06:09:42",
            "server mysqld[5906]: 2005-10-07 06:09:42 5907 [Warning] Access denied",
            20,
        ),
        (
            "2005-10-08T15:26:18.237955",
            "server mysqld[5906]: 2005-10-08T15:26:18.237955 6 [Note] Access denied",
            20,
        ),
        (
            "051009 10:05:30",
            "server mysqld[1000]: 051009 10:05:30 [Warning] Access denied ...",
            50,
        ),
    ];
    for &(want, line, count) in cases {
        for _ in 0..count {
            let m = dd
                .match_time(line, TEST_NOW)
                .unwrap_or_else(|| panic!("{line}"));
            assert_eq!(&line[m.span.0..m.span.1], want, "{line}");
        }
    }
}

#[test]
fn iso8601() {
    let mut dd = cet_detector(Some(r"%Y-%m-%d[T ]%H:%M:%S(?:\.%f)?%z"));
    let mut t = |s: &str| get_time(&mut dd, s, TEST_NOW).map(|g| g.0);
    assert_eq!(
        t("2007-01-25T12:00:00Z"),
        Some(utc_ts(2007, 1, 25, 12, 0, 0))
    );
    assert_eq!(t(""), None);
    assert_eq!(t("Z"), None);
    assert_eq!(t("2007-01-01T120:00:00Z"), None);
    assert_eq!(t("2007-13-01T12:00:00Z"), None);
    assert_eq!(
        t("2007-01-25T12:00:00+0400"),
        Some(utc_ts(2007, 1, 25, 8, 0, 0))
    );
    assert_eq!(
        t("2007-01-25T12:00:00+04:00"),
        Some(utc_ts(2007, 1, 25, 8, 0, 0))
    );
    assert_eq!(
        t("2007-01-25T12:00:00-0400"),
        Some(utc_ts(2007, 1, 25, 16, 0, 0))
    );
    assert_eq!(
        t("2007-01-25T12:00:00-04"),
        Some(utc_ts(2007, 1, 25, 16, 0, 0))
    );
}

#[derive(Debug)]
enum Want {
    No,
    Text(&'static str),
    Time(f64),
}

#[test]
fn ambiguous_date_pattern() {
    use Want::*;
    let mut def = cet_detector(None);
    let cases: &[(Want, Option<&str>, &str)] = &[
        (
            Text("Jan 23 21:59:59"),
            None,
            "Test failure Jan 23 21:59:59 for 192.0.2.1",
        ),
        (
            No,
            None,
            "Test failure TestJan 23 21:59:59.011 2015 for 192.0.2.1",
        ),
        (
            No,
            None,
            "Test failure Jan 23 21:59:59123456789 for 192.0.2.1",
        ),
        (
            Text("Aug 8 11:25:50"),
            None,
            "Aug 8 11:25:50 20030f2329b8 Authentication failed from 192.0.2.1",
        ),
        (
            Text("Aug 8 11:25:50"),
            None,
            "[Aug 8 11:25:50] 20030f2329b8 Authentication failed from 192.0.2.1",
        ),
        (
            Text("Aug 8 11:25:50 2014"),
            None,
            "Aug 8 11:25:50 2014 20030f2329b8 Authentication failed from 192.0.2.1",
        ),
        (
            Text("20:00:00 01.02.2003"),
            Some(r"%H:%M:%S %d.%m.%Y$"),
            "192.0.2.1 at 20:00:00 01.02.2003",
        ),
        (
            Text("[20:00:00 01.02.2003]"),
            Some(r"\[%H:%M:%S %d.%m.%Y\]"),
            "192.0.2.1[20:00:00 01.02.2003]",
        ),
        (
            Text("[20:00:00 01.02.2003]"),
            Some(r"\[%H:%M:%S %d.%m.%Y\]"),
            "[20:00:00 01.02.2003]192.0.2.1",
        ),
        (
            Text("[20:00:00 01.02.2003]"),
            Some(r"\[%H:%M:%S %d.%m.%Y\]$"),
            "192.0.2.1[20:00:00 01.02.2003]",
        ),
        (
            Text("[20:00:00 01.02.2003]"),
            Some(r"^\[%H:%M:%S %d.%m.%Y\]"),
            "[20:00:00 01.02.2003]192.0.2.1",
        ),
        (
            Text("[17/Jun/2011 17:00:45]"),
            Some(r"^\[%d/%b/%Y %H:%M:%S\]"),
            "[17/Jun/2011 17:00:45] Attempt, IP address 192.0.2.1",
        ),
        (
            Text("[17/Jun/2011 17:00:45]"),
            Some(r"\[%d/%b/%Y %H:%M:%S\]"),
            "Attempt [17/Jun/2011 17:00:45] IP address 192.0.2.1",
        ),
        (
            Text("[17/Jun/2011 17:00:45]"),
            Some(r"\[%d/%b/%Y %H:%M:%S\]"),
            "Attempt IP address 192.0.2.1, date: [17/Jun/2011 17:00:45]",
        ),
        (
            No,
            Some("%H:%M:%S %d.%m.%Y"),
            "192.0.2.1x20:00:00 01.02.2003",
        ),
        (
            No,
            Some("%H:%M:%S %d.%m.%Y"),
            "20:00:00 01.02.2003x192.0.2.1",
        ),
        (
            Text("20:00:00 01.02.2003"),
            Some("**%H:%M:%S %d.%m.%Y**"),
            "192.0.2.1x20:00:00 01.02.2003",
        ),
        (
            Text("20:00:00 01.02.2003"),
            Some("**%H:%M:%S %d.%m.%Y**"),
            "20:00:00 01.02.2003x192.0.2.1",
        ),
        (
            Text("*20:00:00 01.02.2003*"),
            Some(r"\**%H:%M:%S %d.%m.%Y\**"),
            "test*20:00:00 01.02.2003*test",
        ),
        (
            Text("20:00:00 01.02.2003"),
            Some("%H:%M:%S %d.%m.%Y"),
            "192.0.2.1 20:00:00 01.02.2003",
        ),
        (
            Text("20:00:00 01.02.2003"),
            Some("%H:%M:%S %d.%m.%Y"),
            "20:00:00 01.02.2003 192.0.2.1",
        ),
        (
            No,
            Some("%Y-%Exm-%Exd %ExH:%ExM:%ExS"),
            "0000-12-30 00:00:00 - 2003-12-30 00:00:00",
        ),
        (
            Text("2003-12-30 00:00:00"),
            Some("%ExY-%Exm-%Exd %ExH:%ExM:%ExS"),
            "0000-12-30 00:00:00 - 2003-12-30 00:00:00",
        ),
        (
            Text("2003-12-30 00:00:00"),
            None,
            "0000-12-30 00:00:00 - 2003-12-30 00:00:00",
        ),
        (
            Text("200333 010203"),
            Some("%Y%m%d %H%M%S"),
            "text:200333 010203 | date:20031230 010203",
        ),
        (
            Text("20031230 010203"),
            Some("%ExY%Exm%Exd %ExH%ExM%ExS"),
            "text:200333 010203 | date:20031230 010203",
        ),
        (
            Text("20031230 010203"),
            None,
            "text:200333 010203 | date:20031230 010203",
        ),
        (
            Text("20030101 000000"),
            Some("%ExY%Exm%Exd %ExH%ExM%ExS"),
            "00001230 010203 - 20030101 000000",
        ),
        (
            No,
            Some("{^LN-BEG}%ExY%Exm%Exd %ExH%ExM%ExS"),
            "00001230 010203 - 20030101 000000",
        ),
        (
            Text("20031230 010203"),
            Some("{^LN-BEG}%ExY%Exm%Exd %ExH%ExM%ExS"),
            "20031230 010203 - 20030101 000000",
        ),
        (
            Text("20031230010203"),
            Some("{^LN-BEG}%ExY%Exm%Exd%ExH%ExM%ExS**"),
            "2003123001020320030101000000",
        ),
        (
            Text("20031230010203"),
            Some("{^LN-BEG}%ExY%Exm%Exd%ExH%ExM%ExS**"),
            "#2003123001020320030101000000",
        ),
        (
            Text("20031230010203"),
            Some("{^LN-BEG}%ExY%Exm%Exd%ExH%ExM%ExS**"),
            "##2003123001020320030101000000",
        ),
        (
            Text("20031230010203"),
            Some("{^LN-BEG}%ExY%Exm%Exd%ExH%ExM%ExS"),
            "[20031230010203]20030101000000",
        ),
        (
            Time(1_072_746_123.0 - 3600.0),
            Some("{^LN-BEG}%ExY-%Exm-%Exd %ExH:%ExM:%ExS(?: %z)?"),
            "[2003-12-30 01:02:03] server ...",
        ),
        (
            Time(1_072_746_123.0 - 3600.0),
            Some("{^LN-BEG}%ExY-%Exm-%Exd %ExH:%ExM:%ExS(?: %Z)?"),
            "[2003-12-30 01:02:03] server ...",
        ),
        (
            Time(1_072_746_123.0),
            Some("{^LN-BEG}%ExY-%Exm-%Exd %ExH:%ExM:%ExS(?: %z)?"),
            "[2003-12-30 01:02:03 UTC] server ...",
        ),
        (
            Time(1_072_746_123.0),
            Some("{^LN-BEG}%ExY-%Exm-%Exd %ExH:%ExM:%ExS(?: %Z)?"),
            "[2003-12-30 01:02:03 UTC] server ...",
        ),
        (
            Time(1_072_746_123.0),
            Some("{^LN-BEG}%ExY-%Exm-%Exd %ExH:%ExM:%ExS(?: %z)?"),
            "[2003-12-30 01:02:03 Z] server ...",
        ),
        (
            Time(1_072_746_123.0),
            Some("{^LN-BEG}%ExY-%Exm-%Exd %ExH:%ExM:%ExS(?: %z)?"),
            "[2003-12-30 01:02:03 +0000] server ...",
        ),
        (
            Time(1_072_746_123.0),
            Some("{^LN-BEG}%ExY-%Exm-%Exd %ExH:%ExM:%ExS(?: %Z)?"),
            "[2003-12-30 01:02:03 Z] server ...",
        ),
    ];
    for (want, dp, line) in cases {
        let mut own;
        let dd = match dp {
            None => &mut def,
            Some(p) => {
                own = cet_detector(Some(p));
                &mut own
            }
        };
        let got = get_time(dd, line, TEST_NOW);
        match want {
            No => assert_eq!(got, None, "{dp:?} {line:?}"),
            Text(t) => assert_eq!(got.map(|g| g.1).as_deref(), Some(*t), "{dp:?} {line:?}"),
            Time(t) => assert_eq!(got.map(|g| g.0), Some(*t), "{dp:?} {line:?}"),
        }
    }
}

#[test]
fn various_format_specs() {
    let cases: &[(f64, &str, &str)] = &[
        (
            1_106_438_399.0,
            "^%B %Exd %I:%ExM:%ExS**",
            "January 23 12:59:59",
        ),
        (
            985_208_399.0,
            "^%y %U %A %ExH:%ExM:%ExS**",
            "01 11 Wednesday 21:59:59",
        ),
        (
            984_603_599.0,
            "^%y %W %A %ExH:%ExM:%ExS**",
            "01 11 Wednesday 21:59:59",
        ),
        (
            984_949_199.0,
            "^%y %W %w %ExH:%ExM:%ExS**",
            "01 11 0 21:59:59",
        ),
        (
            984_862_799.0,
            "^%y %W %w %ExH:%ExM:%ExS**",
            "01 11 6 21:59:59",
        ),
        (1_123_963_199.0, "^%ExH:%ExM:%ExS**", "21:59:59"),
        (1_123_970_401.0, "^%ExH:%ExM:%ExS**", "00:00:01"),
        (1_094_068_799.0, "^%m/%d %ExH:%ExM:%ExS**", "09/01 21:59:59"),
        (1_093_989_600.0, "^%Y-%m-%d**", "2004-09-01"),
        (1_093_996_800.0, "^%Y-%m-%d%z**", "2004-09-01Z"),
    ];
    for &(want, dp, line) in cases {
        let mut dd = cet_detector(Some(dp));
        assert_eq!(
            get_time(&mut dd, line, TEST_NOW).map(|g| g.0),
            Some(want),
            "{dp} {line}"
        );
    }
}
