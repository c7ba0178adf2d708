//! Pipeline behaviour the sample logs do not exercise: DNS expansion, check-all mode,
//! ignoreregex, multi-line buffers, date cut-out and address normalisation.

use std::sync::Arc;

use super::*;
use crate::filter::date::FixedZone;

const NOW: f64 = 1_124_013_600.0; // 2005-08-14 10:00:00 UTC

struct Table;

impl Resolver for Table {
    fn resolve(&self, host: &str, _use_dns: UseDns) -> Vec<IpAddr> {
        match host {
            "two.example" => vec![
                IpAddr::parse("192.0.2.1").unwrap(),
                IpAddr::parse("192.0.2.2").unwrap(),
            ],
            _ => Vec::new(),
        }
    }
}

fn matcher(fail: &[&str], ignore: &[&str], maxlines: usize, usedns: UseDns) -> Matcher {
    let spec = MatcherSpec {
        failregex: fail.iter().map(|s| s.to_string()).collect(),
        ignoreregex: ignore.iter().map(|s| s.to_string()).collect(),
        maxlines,
        usedns,
        ..Default::default()
    };
    Matcher::with_zone(&spec, 2005, Arc::new(FixedZone(0))).unwrap()
}

fn ids(f: &[Failure]) -> Vec<String> {
    f.iter()
        .filter(|f| f.is_failure())
        .map(|f| f.id.as_ref().unwrap().to_string())
        .collect()
}

#[test]
fn date_is_cut_out_and_time_kept() {
    let mut m = matcher(&[r"^\s*fail from <HOST>$"], &[], 1, UseDns::Warn);
    let f = m.process_line("2005-08-14 09:59:00 fail from 192.0.2.7", NOW, &NoResolver);
    assert_eq!(ids(&f), ["192.0.2.7"]);
    assert_eq!(f[0].time, Some(NOW - 60.0));
    assert_eq!(
        f[0].data.matches,
        ["2005-08-14 09:59:00 fail from 192.0.2.7"]
    );
}

#[test]
fn ipv6_is_normalised() {
    let mut m = matcher(&[r"fail from <HOST>$"], &[], 1, UseDns::Warn);
    let f = m.process_line("fail from 2001:DB8:0:0::0001", NOW, &NoResolver);
    assert_eq!(ids(&f), ["2001:db8::1"]);
}

#[test]
fn usedns_yes_expands_names_no_ignores_them() {
    let mut m = matcher(&[r"fail from <HOST>$"], &[], 1, UseDns::Yes);
    let f = m.process_line("fail from two.example", NOW, &Table);
    assert_eq!(ids(&f), ["192.0.2.1", "192.0.2.2"]);
    let f = m.process_line("fail from nowhere.example", NOW, &Table);
    assert!(ids(&f).is_empty());
    let mut m = matcher(&[r"fail from <HOST>$"], &[], 1, UseDns::No);
    assert!(
        ids(&m.process_line("fail from two.example", NOW, &Table)).is_empty(),
        "usedns=no never resolves"
    );
    let mut m = matcher(&[r"fail from <HOST>$"], &[], 1, UseDns::Raw);
    assert_eq!(
        ids(&m.process_line("fail from two.example", NOW, &Table)),
        ["two.example"]
    );
}

#[test]
fn first_match_or_check_all() {
    let res = [r"fail from <HOST>", r"from <HOST>$"];
    let mut m = matcher(&res, &[], 1, UseDns::Warn);
    let f = m.process_line("fail from 192.0.2.9", NOW, &NoResolver);
    assert_eq!(f.iter().map(|f| f.regex_index).collect::<Vec<_>>(), [0]);
    m.check_all = true;
    let f = m.process_line("fail from 192.0.2.9", NOW, &NoResolver);
    assert_eq!(f.iter().map(|f| f.regex_index).collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn ignoreregex_drops_the_match() {
    let mut m = matcher(&[r"fail from <HOST>"], &[r"trusted"], 1, UseDns::Warn);
    let f = m.process_line("fail from 192.0.2.9 trusted", NOW, &NoResolver);
    assert!(f.is_empty());
    assert_eq!(m.report.ignored, Some(0));
    let f = m.process_line("fail from 192.0.2.9", NOW, &NoResolver);
    assert_eq!(ids(&f), ["192.0.2.9"]);
    assert_eq!(m.report.ignored, None);
}

#[test]
fn multiline_buffer_and_consumed_lines() {
    let mut m = matcher(
        &[r"^user \S+$\n^bad password from <HOST>$"],
        &[],
        3,
        UseDns::Warn,
    );
    assert!(m.process_line("user joe", NOW, &NoResolver).is_empty());
    let f = m.process_line("bad password from 192.0.2.3", NOW, &NoResolver);
    assert_eq!(ids(&f), ["192.0.2.3"]);
    assert_eq!(
        f[0].data.matches,
        ["user joe", "bad password from 192.0.2.3"]
    );
    // The matched lines left the buffer: the same second line alone matches nothing.
    assert!(
        m.process_line("bad password from 192.0.2.3", NOW, &NoResolver)
            .is_empty()
    );
}

#[test]
fn mlfid_nofail_then_failure() {
    let mut m = matcher(
        &[
            r"^conn (?P<mlfid>\d+) user <F-USER>\S+</F-USER><F-NOFAIL></F-NOFAIL>$",
            r"^conn (?P<mlfid>\d+) failed from <HOST>$",
        ],
        &[],
        1,
        UseDns::Warn,
    );
    assert!(ids(&m.process_line("conn 7 user joe", NOW, &NoResolver)).is_empty());
    let f = m.process_line("conn 7 failed from 192.0.2.4", NOW, &NoResolver);
    assert_eq!(ids(&f), ["192.0.2.4"]);
    assert_eq!(f[0].data.fields.text("user").as_deref(), Some("joe"));
    assert_eq!(
        f[0].data.matches,
        ["conn 7 user joe", "conn 7 failed from 192.0.2.4"]
    );
}

#[test]
fn searches_ahead_read_in_place_or_not_at_all() {
    let spec = MatcherSpec {
        prefregex: Some(r"^\s*(?P<mlfid>\S+ sshd\[\d+\]:) <F-CONTENT>.+</F-CONTENT>$".into()),
        failregex: vec![
            r"^Accepted \S+ for <F-USER>\S+</F-USER><F-NOFAIL></F-NOFAIL> from <HOST>".into(),
            r"^Failed password for <F-USER>\S+</F-USER> from <HOST>".into(),
            r"^Invalid user <F-USER>\S*</F-USER> from <HOST>".into(),
        ],
        ..Default::default()
    };
    let new = || Matcher::with_zone(&spec, 2005, Arc::new(FixedZone(0))).unwrap();
    let lines = [
        "Aug 14 11:59:58 srv sshd[1]: Accepted publickey for joe from 192.0.2.1 port 22",
        "Aug 14 11:59:58 srv sshd[2]: Failed password for root from 192.0.2.2 port 22",
        "Aug 14 11:59:59 srv sshd[1]: Failed password for joe from 192.0.2.1 port 22",
        "Aug 14 11:59:59 srv CRON[3]: Failed password for cron from 192.0.2.3",
        "Aug 14 11:59:59 srv sshd[4]: Invalid user  from 192.0.2.4",
        "Aug 14 12:00:00 srv sshd[5]: Connection closed by 192.0.2.5",
    ];
    let (mut plain, mut ahead, mut lost) = (new(), new(), new());
    let (mut scanner, mut searcher) = (ahead.line_scanner(), ahead.line_searcher());
    let mut arena = SpanArena::new();
    let mut found = 0;
    for line in lines {
        let want = format!("{:?}", plain.process_line(line, NOW, &NoResolver));
        let mut a = scanner.scan(line, NOW);
        searcher.search(line, &mut a, &mut arena);
        found += usize::from(a.scan.as_ref().is_some_and(|s| s.hit.is_some()));
        // Spans read where the searcher put them…
        let got = ahead.process_ahead(line, a.clone(), &arena, NOW, &NoResolver);
        assert_eq!(format!("{got:?}"), want, "{line}");
        // …and ranges that are not in the buffer: the matcher searches itself.
        let got = lost.process_ahead(line, a, &[], NOW, &NoResolver);
        assert_eq!(format!("{got:?}"), want, "{line}");
    }
    assert_eq!(found, 4, "matches found ahead");
    assert!(!arena.is_empty());
}
