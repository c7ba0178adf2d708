//! Generated input for the synthetic differential tests: lines around tricky spots and
//! the datepatterns to run them with.

/// One detector configuration and the lines it is fed, in order.
pub struct Group {
    pub dp: Option<&'static str>,
    pub tz: Option<&'static str>,
    pub lines: Vec<String>,
}

pub fn synthetic_groups() -> Vec<Group> {
    const MONS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut syslog = Vec::new();
    for (mi, mon) in MONS.iter().enumerate() {
        for day in [1, 9, 15, 20, 21, 22, 23, 28, 29, 30, 31] {
            for time in ["00:00:00", "14:59:59", "15:00:01", "23:59:59"] {
                syslog.push(format!("{mon} {day:>2} {time} host sshd[1]: x"));
            }
        }
        syslog.push(format!(
            "{} {mon} 21 14:00:00 2026 host",
            ["Mon", "Sat"][mi % 2]
        ));
        syslog.push(format!("{mon}-21-26 14:00:00 assp"));
        syslog.push(format!("21/{mon}/2026:14:00:00 +0100 apache"));
        syslog.push(format!("[21/{}/2025:14:00:00] x", mon.to_uppercase()));
    }
    let mut misc: Vec<String> = [
        "2026-11-21 14:00:00 x",
        "2026-11-21T14:00:00Z x",
        "2026-11-21T14:00:00.123+0200 x",
        "2026-11-21 14:00:00,5 -03:30 x",
        "2026-11-21 14:00:00 UTC x",
        "2026-11-21 14:00:00 GMT x",
        "2026-11-21 14:00:00 +01 x",
        "2026/11/21 14:00:00 x",
        "2026.11.21 14:00:00 x",
        "2031-01-01 00:00:00 x",
        "1999-01-01 00:00:00 x",
        "2024-02-29 12:00:00 x",
        "2025-02-29 12:00:00 x",
        "Feb 29 12:00:00 x",
        "Jan 23 24:59:59 x",
        "Jan 23 21:59:60 x",
        "Jan 23 29:00:00 x",
        "PST Nov 21 14:00:00 x",
        "CEST Nov 21 14:00:00 x",
        "HELLO Nov 21 14:00:00 x",
        "error Nov 21 14:00:00 x",
        "+0100 Nov 21 14:00:00 x",
        "-05:00 Sun Nov 22 14:00:00.5 2026 x",
        "15:30:00 only time",
        "14:30:00 only time",
        "00:00:00 midnight",
        "23:59:59 late",
        "x 2026-11-21 14:00:00 y",
        "xx2026-11-21 14:00:00 y",
        "ü Jan 23 21:59:59 x",
        "ßß [2026-11-21 14:00:00] x",
        "日本 2026-11-21 14:00:00 x",
        "[Nov 21 14:00:00] x",
        "<11/21/26@14:00:00> x",
        "261121 14:00:00 mysql",
        "261121  4:00:00 mysql",
        "20261121T140000 x",
        "20261121 140000.25+01:00 x",
        "Nov 21, 2026 2:00:00 PM x",
        "Nov 21, 2026 12:00:00 AM x",
        "21/11/2026 14:00:00 x",
        "21-11-26 14:00:00 x",
        "11/21/2026:14:00:00 x",
        "11-21-2026 14:00:00.5 x",
        "1795273200 epoch",
        "[1795273200.5] epoch",
        "msg=audit(1795273200.123:5): x",
        "@4000000069203a9a00000000 tai",
        "no date here",
        "server mysqld[1]: 261121 14:00:00 [Warning] x 2026-11-20 10:00:00",
        "server mysqld[1]: Nov 21 14:00:00 srv: 261121 14:00:00 x",
        "some text 2026-11-21 14:00:00 and 2026-11-20 10:00:00",
        "Nov 21 14:00:00 host x",
        "  Nov 21 14:00:00 host x",
        "#[Nov 21 14:00:00] x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Alternate formats so the reordering logic gets exercised.
    let rotation: Vec<String> = misc
        .iter()
        .cycle()
        .take(misc.len() * 3)
        .step_by(7)
        .cloned()
        .collect();
    misc.extend(rotation);
    let mut times = Vec::new();
    for (i, t) in ["00:01:02", "0:1:2", "00:1:2", "23:59:59", "15:00:01"]
        .iter()
        .enumerate()
    {
        for fmt in ["{} test", "test {}", "a [{}] b", "{}x", "x{}"] {
            times.push(fmt.replace("{}", t));
            if i % 2 == 0 {
                times.push(format!("{} {}", fmt.replace("{}", t), t));
            }
        }
    }
    let mut custom = Vec::new();
    for l in &misc {
        custom.push(l.clone());
    }
    let g = |dp, tz, lines: &Vec<String>| Group {
        dp,
        tz,
        lines: lines.clone(),
    };
    let week: Vec<String> = [
        "01 11 Wednesday 21:59:59",
        "26 46 Saturday 10:00:00",
        "26 0 Monday 10:00:00",
        "26 47 sunday 10:00:00",
        "26 0 0 10:00:00",
        "26 52 6 10:00:00",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // A long pseudo-random mix: exercises hit counting and template reordering.
    let pool: Vec<&String> = misc.iter().chain(&syslog).chain(&times).collect();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let shuffled: Vec<String> = (0..1500)
        .map(|_| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            pool[(seed >> 33) as usize % pool.len()].clone()
        })
        .collect();
    vec![
        g(None, None, &shuffled),
        g(Some("{^LN-BEG}"), Some("UTC+0100"), &shuffled),
        g(None, None, &syslog),
        g(None, None, &misc),
        g(None, Some("UTC+0200"), &misc),
        g(None, Some("CET"), &syslog),
        g(None, Some("-03:00"), &misc),
        g(Some("{^LN-BEG}"), None, &misc),
        g(Some("%Y-%m-%d %H:%M:%S"), Some("UTC-0430"), &custom),
        g(Some("^%b %d %H:%M:%S"), None, &syslog),
        g(
            Some("{^LN-BEG}%ExY-%Exm-%Exd %ExH:%ExM:%ExS(?: %Z)?"),
            None,
            &misc,
        ),
        g(Some("%d/%b/%Y:%H:%M:%S %z"), None, &syslog),
        g(Some("EPOCH"), None, &misc),
        g(Some("LEPOCH"), None, &misc),
        g(Some("{^LN-BEG}TAI64N"), None, &misc),
        g(Some("^%y %U %A %ExH:%ExM:%ExS**"), None, &week),
        g(Some("^%y %W %w %ExH:%ExM:%ExS**"), None, &week),
        g(Some("%m/%d/%y %I:%M:%S %p"), None, &misc),
        g(Some("{NONE}"), None, &misc),
        g(Some(r"^<\d+>\d+\s+{DATE}"), None, &misc),
        g(Some("^[^\\[]*\\[({DATE})\n{^LN-BEG}"), None, &misc),
        g(Some("^{DATE}"), None, &misc),
        g(Some("%H:%M:%S"), None, &times),
        g(Some("{UNB}%H:%M:%S"), None, &times),
        g(Some("%ExY%Exm%Exd %ExH%ExM%ExS\n%H:%M:%S"), None, &misc),
    ]
}

/// Rarer directives and pattern syntax: each pattern against lines meant for it and for
/// its neighbours; patterns fail2ban rejects must be rejected too.
pub fn directive_groups() -> Vec<Group> {
    let lines: Vec<String> = [
        "Sat Nov 21 14:00:00 2026 x",
        "sat nov 21 14:00:00 2026 x",
        "11/21/26 14:00:00 x",
        "2026 325 14:00 x",
        "325 14:00:00 x",
        "November 21 2:00 PM x",
        "november 21 12:30 am x",
        "14:00 CET x",
        "9:00 PST+0100 x",
        " 7:00 Z x",
        "21.11.2026 %14 x",
        "2026-W47-6 14:00:00 x",
        "2026-11-21 14:00:00 x",
        "2026-11-21 14:00:00 XYZ x",
        "2026-11-21 14:00:00 EST x",
        "2026-11-21 14:00:00 Q x",
        "2026-11-21 14:00:00 B+01 x",
        "x 14:00:00",
        "Tuesday, 21 Nov 2026",
        "Wednesday 47 2026 14:00:00",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let dps: &[&'static str] = &[
        "^%c",
        "%x %X",
        "^%Y %j %H:%M",
        "^%j %H:%M:%S",
        "^%B %d %l:%M %p",
        "^%Exk:%M %ExZ",
        "^%Exl:%M %Exz",
        "^%d.%m.%Y %%%H",
        "^%G-W%V-%u %H:%M:%S",
        "(?i)^%Y-%m-%d",
        "%Y-%m-%d %H:%M:%S %Z",
        "%Y-%m-%d %H:%M:%S %ExZ",
        "%Y-%m-%d %H:%M:%S %Exz",
        "{UNB}{^LN-BEG}%H:%M:%S",
        "{^LN-BEG}{UNB}%H:%M:%S",
        "%H:%M:%S$",
        "%A, %d %b %Y",
        "%A %W %Y %H:%M:%S",
        "%A %U %Y %H:%M:%S",
        "{^LN-BEG}%H:%M**",
        "**%H:%M**",
        "^%Y-%e",
        "^%Y-%s",
        "(%Y",
        "%H:%M:%S\n%Y",
    ];
    dps.iter()
        .map(|dp| Group {
            dp: Some(dp),
            tz: None,
            lines: lines.clone(),
        })
        .collect()
}

/// Long lines with non-ASCII letters (over 4 KiB, where the templates' literals and
/// assertion-free automata rule a line out before any search): the date at the start,
/// after the filler, or absent with the templates' words around.
pub fn long_non_ascii_groups() -> Vec<Group> {
    let filler = "\u{e9} \u{fc}\u{df} ".repeat(700);
    let lines: Vec<String> = [
        format!("Nov 21 14:00:00 host sshd[1]: x {filler}"),
        format!("{filler} Nov 21 14:00:01 host"),
        filler.clone(),
        format!("web -- \u{fc} -- - 2026-11-21 14:00:02,123 {filler}"),
        format!("web {filler} -- x -- - 2026-11-21 14:00:03"),
        format!("{filler} -- -- - x"),
        format!("[21/Nov/2026:14:00:04 +0000] {filler}"),
        format!("x [{filler}] [21/Nov/2026:14:00:05 +0000]"),
        format!("<co ts=\"2026-11-21T14:00:06\" {filler}"),
        format!("<12>1 2026-11-21T14:00:07Z {filler}"),
        format!("Nov 21 14:00:08 h\u{f4}te {filler}"),
        format!("2026-11-21 14:00:09 {filler}"),
    ]
    .into();
    let dps: [Option<&'static str>; 7] = [
        None,
        Some("^[^-]+ -- [^-]+ -- - ({DATE})"),
        Some("^[^\\[]*(\\[{DATE}\\s*\\])"),
        Some("^<co ts=\"{DATE}\"\\s+"),
        Some(r"^<\d+>\d+\s+{DATE}"),
        Some("{^LN-BEG}"),
        Some("^%Y-%m-%d %H:%M:%S"),
    ];
    dps.iter()
        .map(|&dp| Group {
            dp,
            tz: None,
            lines: lines.clone(),
        })
        .collect()
}
