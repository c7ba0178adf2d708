//! Whether a line's time came out of a zone-aware conversion. fail2ban's strptime returns
//! an `int` when the date carried a zone (or a `logtimezone` applied) and a `float` for
//! local or epoch times (TAI64N labels: an int), and `-o` prints that Python value. [`ZoneProbe`] runs a second
//! date detector whose "local zone" is deliberately off by one hour: a time that does not
//! move was not computed through the local zone.

use std::sync::Arc;

use crate::filter::date::{DateDetector, FixedZone};

pub struct ZoneProbe {
    probe: DateDetector,
    real: DateDetector,
}

impl ZoneProbe {
    pub fn new(datepattern: Option<&str>, tz: Option<&str>) -> Option<Self> {
        let year = chrono::Datelike::year(&chrono::Local::now());
        let mut probe =
            DateDetector::with_options(datepattern, year, Arc::new(FixedZone(3600))).ok()?;
        probe.set_logtimezone(tz).ok()?;
        let mut real =
            DateDetector::with_options(datepattern, year, Arc::new(FixedZone(0))).ok()?;
        real.set_logtimezone(tz).ok()?;
        Some(ZoneProbe { probe, real })
    }

    /// True when `line`'s time would be a Python int.
    pub fn int_time(&mut self, line: &str, now: f64) -> bool {
        let (Some(a), Some(b)) = (
            self.probe.match_time(line, now),
            self.real.match_time(line, now),
        ) else {
            return false;
        };
        // TAI64N labels convert to whole seconds (an int); epoch numbers to a float.
        if a.template.contains("TAI64N") {
            return true;
        }
        if a.template.contains("Epoch") {
            return false;
        }
        matches!((a.time, b.time), (Ok(x), Ok(y)) if x == y)
    }
}
