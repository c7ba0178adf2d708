//! From matched date fields to a Unix timestamp, the way fail2ban 1.0.2 does it.
//!
//! Principal items: [`fields_to_time`] (named groups such as `Y`, `b`, `d`, `H`, `z` → f64
//! seconds, with year/day inference against a passed-in "now"), [`parse_zone`] (fixed-offset
//! zone text such as `UTC+0200`, `CET`, `-03:00` → minutes east), and [`LocalZone`], the
//! machine's local time (fail2ban uses `time.mktime` for zone-less dates).

use std::fmt;
use std::sync::atomic::{AtomicI32, Ordering};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone};

/// Why a matched date yields no time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateError {
    /// Fields that make no valid date (Feb 30, hour 25, zone text that is not a zone …);
    /// fail2ban logs "findFailure failed to parse timeText" and treats the line as dateless.
    Invalid,
    /// An upper-case zone abbreviation fail2ban does not know: fail2ban 1.0.2 dies with a
    /// `KeyError` here (fail2ban-regex aborts, the server skips the line).
    UnknownZone(String),
    /// The template matched an empty text (`{NONE}`, optional dates): no time in the line.
    Empty,
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateError::Invalid => write!(f, "invalid date"),
            DateError::UnknownZone(z) => write!(f, "unknown time zone abbreviation {z:?}"),
            DateError::Empty => write!(f, "empty date match"),
        }
    }
}

/// The time zone used for dates that carry none (and for "now" as a wall-clock time).
pub trait LocalZone: Send + Sync + fmt::Debug {
    /// Seconds east of UTC at the instant `ts`.
    fn offset_at(&self, ts: i64) -> i32;
    /// Seconds east of UTC for the wall-clock time `local` (mktime with isdst = -1).
    fn offset_of_local(&self, local: NaiveDateTime) -> i32;
}

/// The machine's zone through chrono's `Local` (TZ variable, /etc/localtime).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemZone;

impl LocalZone for SystemZone {
    fn offset_at(&self, ts: i64) -> i32 {
        chrono::Local
            .timestamp_opt(ts, 0)
            .single()
            .map_or(0, |t| t.offset().fix().local_minus_utc())
    }
    fn offset_of_local(&self, local: NaiveDateTime) -> i32 {
        mktime_offset(self, local)
    }
}

/// The offset of the previous `mktime` result: glibc starts its search from it, which is
/// what decides a repeated (DST fall-back) hour. Process-wide, as in glibc.
static LAST_MKTIME_OFFSET: AtomicI32 = AtomicI32::new(0);

/// mktime (isdst = -1) on top of `offset_at`, the glibc way: from the previous result's
/// offset, move to the offset of the instant `local - o` until it is stable; in a skipped
/// hour (no stable offset) the offset in force before the jump.
fn mktime_offset(zone: &dyn LocalZone, local: NaiveDateTime) -> i32 {
    let wall = local.and_utc().timestamp();
    let mut o = LAST_MKTIME_OFFSET.load(Ordering::Relaxed);
    for _ in 0..6 {
        let next = zone.offset_at(wall - o as i64);
        if next == o {
            LAST_MKTIME_OFFSET.store(o, Ordering::Relaxed);
            return o;
        }
        o = next;
    }
    zone.offset_at(wall - 86_400)
}

/// A fixed offset (seconds east), e.g. UTC for reproducible tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedZone(pub i32);

impl LocalZone for FixedZone {
    fn offset_at(&self, _ts: i64) -> i32 {
        self.0
    }
    fn offset_of_local(&self, _local: NaiveDateTime) -> i32 {
        self.0
    }
}

/// Zone abbreviations fail2ban knows, as (offset in hours, names). Fixed offsets: no DST.
const ZONES: &[(f64, &str)] = &[
    (-12.0, "Y"),
    (-11.0, "X NUT SST"),
    (-10.0, "W CKT HAST HST TAHT TKT"),
    (-9.0, "V AKST GAMT GIT HADT HNY"),
    (-8.0, "U AKDT CIST HAY HNP PST PT"),
    (-7.0, "T HAP HNR MST PDT"),
    (-6.0, "S CST EAST GALT HAR HNC MDT"),
    (-5.0, "R CDT COT EASST ECT EST ET HAC HNE PET"),
    (-4.0, "Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT"),
    (
        -3.0,
        "P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT",
    ),
    (-2.0, "O BRST FNT PMDT UYST WGST"),
    (-1.0, "N AZOT CVT EGT"),
    (0.0, "Z EGST GMT UTC WET WT"),
    (1.0, "A CET DFT WAT WEDT WEST"),
    (2.0, "B CAT CEDT CEST EET SAST WAST"),
    (3.0, "C EAT EEDT EEST IDT MSK"),
    (4.0, "D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT"),
    (
        5.0,
        "E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT",
    ),
    (6.0, "F ALMT BIOT BTT IOT KGT NOVT OMST YEKST"),
    (7.0, "G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB"),
    (
        8.0,
        "H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST",
    ),
    (9.0, "I AWDT IRKST JST KST PWT TLT WDT WIT YAKT"),
    (10.0, "K AEST ChST PGT VLAT YAKST YAPT"),
    (11.0, "L AEDT LHDT MAGT NCT PONT SBT VLAST VUT"),
    (
        12.0,
        "M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT",
    ),
    (13.0, "FJST NZDT"),
    (11.5, "NFT"),
    (10.5, "ACDT LHST"),
    (9.5, "ACST"),
    (6.5, "CCT MMT"),
    (5.75, "NPT"),
    (5.5, "SLT"),
    (4.5, "AFT IRDT"),
    (3.5, "IRST"),
    (-2.5, "HAT NDT"),
    (-3.5, "HNT NST NT"),
    (-4.5, "HLV VET"),
    (-9.5, "MART MIT"),
];

/// Offset in minutes of a known abbreviation.
pub fn zone_abbr_minutes(abbr: &str) -> Option<i32> {
    ZONES
        .iter()
        .find(|(_, names)| names.split(' ').any(|n| n == abbr))
        .map(|(h, _)| (h * 60.0) as i32)
}

/// fail2ban's fixed-offset zone syntax: optional `[A-Z]` abbreviation of 1 or 3–5 letters,
/// then optional `[+-]HH`, `[+-]HHMM` or `[+-]HH:MM` (hour's first digit 0/1), whole text.
/// Ok(minutes east); Err(Invalid) for bad syntax, Err(UnknownZone) for an unknown name.
pub fn parse_zone(text: &str) -> Result<i32, DateError> {
    let b = text.as_bytes();
    let abbr_len = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    // The abbreviation is 1 or 3..=5 letters; regex backtracking gives the longest valid.
    let abbr_len = match abbr_len {
        0 => 0,
        1 | 2 => 1,
        n => n.min(5),
    };
    let (abbr, rest) = text.split_at(abbr_len);
    let rb = rest.as_bytes();
    let offset = if rb.is_empty() {
        None
    } else {
        let ok = matches!(rb[0], b'+' | b'-')
            && rb.len() >= 3
            && matches!(rb[1], b'0' | b'1')
            && rb[2].is_ascii_digit()
            && match rb.len() {
                3 => true,
                5 => rb[3].is_ascii_digit() && rb[4].is_ascii_digit(),
                6 => rb[3] == b':' && rb[4].is_ascii_digit() && rb[5].is_ascii_digit(),
                _ => false,
            };
        if !ok {
            return Err(DateError::Invalid);
        }
        Some(rest)
    };
    let base = if abbr.is_empty() {
        0
    } else {
        zone_abbr_minutes(abbr).ok_or_else(|| DateError::UnknownZone(abbr.to_string()))?
    };
    let Some(o) = offset else { return Ok(base) };
    let digits = |s: &str| s.parse::<i32>().unwrap_or(0);
    let sign = if o.starts_with('-') { -1 } else { 1 };
    Ok(match o.len() {
        3 => base + sign * digits(&o[1..3]) * 60,
        5 => base + sign * (digits(&o[1..3]) * 60 + digits(&o[3..5])),
        _ => base + sign * (digits(&o[1..3]) * 60 + digits(&o[4..6])),
    })
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn num(v: &str) -> Result<i64, DateError> {
    // (the usual field: a few ASCII digits, read without the general parse)
    let b = v.as_bytes();
    if !b.is_empty() && b.len() <= 9 && b.iter().all(u8::is_ascii_digit) {
        return Ok(b.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')));
    }
    v.trim().parse::<i64>().map_err(|_| DateError::Invalid)
}

/// Wall-clock "now" in the local zone, as fail2ban's `MyTime.now()`.
pub fn local_now(now: f64, local: &dyn LocalZone) -> NaiveDateTime {
    let secs = now.floor() as i64;
    let nanos = ((now - now.floor()) * 1e9).round().min(999_999_999.0) as u32;
    let off = local.offset_at(secs);
    chrono::DateTime::from_timestamp(secs + off as i64, nanos)
        .map(|d| d.naive_utc())
        .unwrap_or_default()
}

/// Named-group values (in group order) → Unix time. `default_tz` (minutes east) applies
/// when the text has no zone; otherwise zone-less times are local (`local`).
pub fn fields_to_time(
    fields: &[(&str, &str)],
    now: f64,
    default_tz: Option<i32>,
    local: &dyn LocalZone,
) -> Result<f64, DateError> {
    fields_to_time_at(fields, local_now(now, local), default_tz, local)
}

/// [`fields_to_time`] with "now" given as [`local_now`]'s wall-clock time (a caller
/// converting many dates against one "now" computes it once).
pub fn fields_to_time_at(
    fields: &[(&str, &str)],
    now_local: NaiveDateTime,
    default_tz: Option<i32>,
    local: &dyn LocalZone,
) -> Result<f64, DateError> {
    let mut year: Option<i64> = None;
    let mut month: Option<i64> = None;
    let mut day: Option<i64> = None;
    let (mut hour, mut minute, mut second) = (0i64, 0i64, 0i64);
    let mut tzoffset: Option<i32> = None;
    let mut weekday: Option<i64> = None;
    let mut julian: Option<i64> = None;
    let mut week: Option<(i64, bool)> = None; // (week of year, weeks start on Monday)
    let ampm = fields
        .iter()
        .find(|(k, _)| *k == "p")
        .map(|(_, v)| v.to_lowercase())
        .unwrap_or_default();
    // (the names are lower-case ASCII: an ASCII value is compared without a lowered
    // copy, any other is lowered as Python lowers it)
    let idx = |list: &[&'static str], v: &str, short: bool| -> Result<i64, DateError> {
        let name = |n: &'static str| if short { &n[..3] } else { n };
        let found = if v.is_ascii() {
            list.iter().position(|n| name(n).eq_ignore_ascii_case(v))
        } else {
            let v = v.to_lowercase();
            list.iter().position(|n| name(n) == v)
        };
        found.map(|i| i as i64).ok_or(DateError::Invalid)
    };
    for &(key, val) in fields {
        match key {
            "y" => {
                let y = num(val)?;
                year = Some(if y <= 2000 { y + 2000 } else { y });
            }
            "Y" => year = Some(num(val)?),
            "m" => month = Some(num(val)?),
            "B" => month = Some(idx(&MONTHS, val, false)? + 1),
            "b" => month = Some(idx(&MONTHS, val, true)? + 1),
            "d" => day = Some(num(val)?),
            "H" => hour = num(val)?,
            "I" => {
                hour = num(val)?;
                if ampm.is_empty() || ampm == "am" {
                    if hour == 12 {
                        hour = 0;
                    }
                } else if ampm == "pm" && hour != 12 {
                    hour += 12;
                }
            }
            "M" => minute = num(val)?,
            "S" => second = num(val)?,
            "A" => weekday = Some(idx(&WEEKDAYS, val, false)?),
            "a" => weekday = Some(idx(&WEEKDAYS, val, true)?),
            "w" => {
                let w = num(val)? - 1;
                weekday = Some(if w < 0 { 6 } else { w });
            }
            "j" => julian = Some(num(val)?),
            "U" => week = Some((num(val)?, false)),
            "W" => week = Some((num(val)?, true)),
            "z" | "Z" => {
                tzoffset = Some(if matches!(val, "Z" | "UTC" | "GMT") {
                    0
                } else {
                    parse_zone(val)?
                });
            }
            _ => {}
        }
    }
    let assume_year = year.is_none();
    let mut year = year.unwrap_or(now_local.year() as i64);
    if month.is_none() || day.is_none() {
        if julian.is_none()
            && let (Some((w, monday)), Some(wd)) = (week, weekday)
        {
            julian = Some(julian_from_week(year, w, wd, monday)?);
        }
        if let Some(j) = julian {
            let jan1 = NaiveDate::from_ymd_opt(year as i32, 1, 1).ok_or(DateError::Invalid)?;
            let d = jan1
                .checked_add_signed(Duration::days(j - 1))
                .ok_or(DateError::Invalid)?;
            year = d.year() as i64;
            month = Some(d.month() as i64);
            day = Some(d.day() as i64);
        }
    }
    let assume_today = month.is_none() && day.is_none();
    let (month, day) = match (month, day) {
        (None, None) => (now_local.month() as i64, now_local.day() as i64),
        (Some(m), Some(d)) => (m, d),
        // fail2ban raises a TypeError here; no usable date either way.
        _ => return Err(DateError::Invalid),
    };
    let make = |y: i64| -> Option<NaiveDateTime> {
        NaiveDate::from_ymd_opt(
            i32::try_from(y).ok()?,
            u32::try_from(month).ok()?,
            u32::try_from(day).ok()?,
        )?
        .and_hms_opt(
            u32::try_from(hour).ok()?,
            u32::try_from(minute).ok()?,
            u32::try_from(second).ok()?,
        )
    };
    if !(1..=9999).contains(&year) {
        return Err(DateError::Invalid);
    }
    let mut dt = make(year).ok_or(DateError::Invalid)?;
    if tzoffset.is_none() {
        tzoffset = default_tz;
    }
    if let Some(off) = tzoffset {
        dt -= Duration::minutes(off as i64);
    }
    if assume_today && dt > now_local {
        dt -= Duration::days(1);
    }
    if assume_year && dt > now_local + Duration::days(1) {
        // Back one year, keeping the matched month/day with the (zone-shifted) clock time.
        let d = NaiveDate::from_ymd_opt((year - 1) as i32, month as u32, day as u32)
            .ok_or(DateError::Invalid)?;
        dt = d.and_time(dt.time());
    }
    let ts = match tzoffset {
        Some(_) => dt.and_utc().timestamp(),
        None => dt.and_utc().timestamp() - local.offset_of_local(dt) as i64,
    };
    Ok(ts as f64)
}

/// Day of year from week number and weekday (Monday = 0), as Python's `_strptime` does.
fn julian_from_week(
    year: i64,
    week: i64,
    weekday: i64,
    monday_first: bool,
) -> Result<i64, DateError> {
    let jan1 = NaiveDate::from_ymd_opt(year as i32, 1, 1).ok_or(DateError::Invalid)?;
    let mut first = jan1.weekday().num_days_from_monday() as i64;
    let mut wd = weekday;
    if !monday_first {
        first = (first + 1) % 7;
        wd = (wd + 1) % 7;
    }
    let week0 = (7 - first) % 7;
    Ok(if week == 0 {
        1 + wd - first
    } else {
        1 + week0 + 7 * (week - 1) + wd
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Berlin in 2026: CEST from 2026-03-29 01:00 UTC to 2026-10-25 01:00 UTC.
    #[derive(Debug)]
    struct Berlin2026;

    impl LocalZone for Berlin2026 {
        fn offset_at(&self, ts: i64) -> i32 {
            if (1_774_746_000..1_792_890_000).contains(&ts) {
                7200
            } else {
                3600
            }
        }
        fn offset_of_local(&self, local: NaiveDateTime) -> i32 {
            mktime_offset(self, local)
        }
    }

    #[test]
    fn mktime_like_glibc() {
        let at = |d: u32, mo: u32, h: u32, mi: u32| {
            let l = NaiveDate::from_ymd_opt(2026, mo, d)
                .and_then(|d| d.and_hms_opt(h, mi, 0))
                .expect("valid");
            l.and_utc().timestamp() - Berlin2026.offset_of_local(l) as i64
        };
        // Values from Python's time.mktime under TZ=Europe/Berlin.
        assert_eq!(at(1, 7, 12, 0), 1_782_900_000);
        // Repeated hour after a summer date: the summer (earlier) instant.
        assert_eq!(at(25, 10, 2, 30), 1_792_888_200);
        // The same wall time after a winter date: the winter instant.
        assert_eq!(at(1, 1, 12, 0), 1_767_265_200);
        assert_eq!(at(25, 10, 2, 30), 1_792_891_800);
        // Skipped hour: the offset before the jump.
        assert_eq!(at(29, 3, 2, 30), 1_774_747_800);
    }

    #[test]
    fn zones() {
        assert_eq!(parse_zone("UTC"), Ok(0));
        assert_eq!(parse_zone("UTC+0300"), Ok(180));
        assert_eq!(parse_zone("UTC-0430"), Ok(-270));
        assert_eq!(parse_zone("GMT+12"), Ok(720));
        assert_eq!(parse_zone("CEST-01"), Ok(60));
        assert_eq!(parse_zone("CET+0130"), Ok(150));
        assert_eq!(parse_zone("-10:45"), Ok(-645));
        assert_eq!(parse_zone("+0945"), Ok(585));
        assert_eq!(parse_zone("WRONG-TZ"), Err(DateError::Invalid));
        assert_eq!(
            parse_zone("HELLO"),
            Err(DateError::UnknownZone("HELLO".into()))
        );
        assert_eq!(parse_zone("error"), Err(DateError::Invalid));
    }
}
