//! A jail's per-line filter work: a line through the [`Matcher`], the time sanity
//! rules, the ignore checks and the failure count ([`process_line`]), with the observer's
//! rule for known bad ids and the once-a-day timing warnings. A filter worker
//! (`handle_event` in the parent) feeds it the lines of each read event, with the time
//! from a [`LineClock`].

use crate::filter::matcher::Matcher;
use crate::server::bans;
use crate::server::db::Database;
use crate::server::ticket::Ticket;
use crate::stream::Value;

use super::{FilterCtx, FilterState, check_ignore, now, time2str};

/// The clock of a read event's lines: read once per [`LineClock::EVERY`] lines of an event
/// (a line takes microseconds; reading the clock for each was a visible share of them).
pub(super) struct LineClock {
    t: f64,
    left: u32,
}

impl LineClock {
    const EVERY: u32 = 32;

    pub(super) fn new() -> LineClock {
        LineClock { t: 0.0, left: 0 }
    }

    pub(super) fn now(&mut self) -> f64 {
        if self.left == 0 {
            self.t = now();
            self.left = Self::EVERY;
        }
        self.left -= 1;
        self.t
    }
}

/// A timing issue is logged (one WARNING per text line, each `[jail] `-prefixed) at most
/// once a day per kind, as fail2ban does; `next` holds when it may be logged again.
/// The lines are built only when they are logged (an odd time can hit every line).
fn warn_once<const N: usize>(
    next: &mut f64,
    now: f64,
    jail: &str,
    lines: impl FnOnce() -> [String; N],
) {
    if now < *next {
        return;
    }
    *next = now + 86400.0;
    for l in lines() {
        crate::flog!(WARNING, "filter", "[{jail}] {l}");
    }
}

/// One line through the matcher and the time sanity rules (compat-spec 2.10). `at` is a
/// journal line's own (date text, time): no date detection then.
pub(super) fn process_line(
    ctx: &FilterCtx,
    f: &mut FilterState,
    line: &str,
    at: Option<(&str, f64)>,
    in_operation: bool,
    t_now: f64,
) {
    if f.compile().is_err() {
        return;
    }
    let Some(m) = f.matcher.as_mut() else { return };
    // `<HOST>` names resolve through the jail's (process-wide) DNS cache.
    let resolver = crate::server::ignore::dns::HostResolver {
        dns: f.ignore.dns(),
        now: t_now,
    };
    let failures = match at {
        Some((text, t)) => m.process_line_at(line, text, t, t_now, &resolver),
        None => m.process_line(line, t_now, &resolver),
    };
    let no_date = m.report.no_date;
    let findtime = f.fm.findtime;
    for mut fail in failures {
        if !fail.is_failure() {
            continue;
        }
        let Some(id) = fail.id.clone() else { continue };
        if no_date {
            // fail2ban names the line's (empty) date text and the matched lines.
            let lines = || {
                [
                    "Found a match but no valid date/time found for ''.".to_string(),
                    format!(
                        "Match without a timestamp: {}",
                        fail.data.matches.join("\n")
                    ),
                    "Please try setting a custom date pattern (see man page jail.conf(5)).".into(),
                ]
            };
            warn_once(&mut f.warned_nodate, t_now, &ctx.name, lines);
        }
        let mut t = match fail.time {
            Some(t) => t,
            None if in_operation => t_now,
            None => continue,
        };
        if !in_operation && t < t_now - findtime {
            let lines = || {
                [
                    format!(
                        "Ignoring all log entries older than {findtime}s; these are probably messages generated while fail2ban was not running."
                    ),
                    format!(
                        "Please check a jail for a timing issue. Line with odd timestamp: {line}"
                    ),
                ]
            };
            warn_once(&mut f.warned_old, t_now, &ctx.name, lines);
            continue;
        }
        // Whole seconds, as fail2ban's `int(date - now)`.
        let delta = (t - t_now).trunc();
        if in_operation && delta.abs() > 60.0 {
            let kind = if (-3300.0..0.0).contains(&delta) {
                "latency"
            } else {
                "timezone"
            };
            let lines = || {
                [
                    format!(
                        "Detected a log entry {} {} the current time in operation mode. This looks like a {kind} problem. Treating such entries as if they just happened.",
                        bans::sec2str(delta.abs()),
                        if delta < 0.0 { "before" } else { "after" },
                    ),
                    format!(
                        "Please check a jail for a timing issue. Line with odd timestamp: {line}"
                    ),
                ]
            };
            warn_once(&mut f.warned_tz, t_now, &ctx.name, lines);
            t = t_now;
        }
        if t > t_now {
            t = t_now;
        }
        let fid = id.to_string();
        let mut tk = Ticket::new(fid.clone(), fail.data.ip.take().or(Some(id)), t);
        // The failure is ours: its lines and fields move into the ticket.
        tk.matches = std::mem::take(&mut fail.data.matches);
        tk.data.extend(
            std::mem::take(&mut fail.data.fields.0)
                .into_iter()
                .filter(|(k, v)| *v != Value::None && !k.starts_with('_'))
                .map(|(k, v)| (String::from(k), v)),
        );
        if !f.fm.contains(&fid)
            && let [only] = tk.matches.as_slice()
            && let Some(m) = f.matcher.as_mut()
            && let Some((s, e)) = date_span_of(m, only, line, t_now)
            && only.is_char_boundary(s)
            && only.is_char_boundary(e)
        {
            let parts = [&only[..s], &only[s..e], &only[e..]];
            tk.data.push((
                bans::TUPLE_KEY.to_string(),
                Value::List(parts.iter().map(|p| Value::str(*p)).collect()),
            ));
        }
        if let Some(cause) = check_ignore(f, &tk) {
            if let Some(text) = cause.log_text(&ctx.name, &fid) {
                crate::flog!(INFO, "filter", "{text}");
            }
            continue;
        }
        if crate::server::log::enabled(crate::server::log::LogLevel::INFO) {
            // time2str depends on the whole second only.
            if f.found_stamp.0 != t as i64 {
                f.found_stamp = (t as i64, time2str(t));
            }
            let when = &f.found_stamp.1;
            // Held back until the event's lines are done (one write for a run of them).
            let msg = format!("[{}] Found {} - {}", ctx.name, fid, when);
            crate::server::log::emit_deferred(
                crate::server::log::LogLevel::INFO,
                "fail2ban.filter",
                &msg,
            );
        }
        let observed = (f.incr.increment() && ctx.db.is_some()).then(|| tk.clone());
        let added = f.fm.add_failure_ex(tk, 1, t_now);
        if let Some(ban) = added.ban {
            ctx.tickets.send(ban);
        }
        if let (Some(tk), Some(db)) = (observed, &ctx.db) {
            observe_bad(ctx, f, db, &tk, added.created, t_now);
        }
    }
}

/// The date span of a failure's only matched line: the matcher's own detection when that
/// line is the one it just processed (no second detection per new id), else a new one.
fn date_span_of(m: &mut Matcher, only: &str, line: &str, t_now: f64) -> Option<(usize, usize)> {
    match m.line_date_span() {
        Some(span) if only == line => span,
        _ => m.date_detector().match_time(only, t_now).map(|d| d.span),
    }
}

/// The observer's rule for known bad ids (`bantime.increment`): a failure of an id with
/// earlier bans in the DB counts more (`[J] Found <ip>, bad - …`).
fn observe_bad(
    ctx: &FilterCtx,
    f: &mut FilterState,
    db: &Database,
    tk: &Ticket,
    created: bool,
    t_now: f64,
) {
    use crate::server::increment::{BadFailure, found_bad_text, observe_failure};
    let all = f.incr.overalljails();
    let jail = (!all).then_some(ctx.name.as_str());
    let last = match db.get_ban(&tk.fid, jail, None, all, None, t_now as i64) {
        Ok(info) => info.map(|i| {
            (
                u32::try_from(i.ban_count).unwrap_or(0),
                i.time_of_ban as f64,
            )
        }),
        Err(e) => {
            crate::flog!(ERROR, "observer", "{e}");
            return;
        }
    };
    let maxretry = f.fm.maxretry;
    if let BadFailure::Boost {
        bancount,
        retry,
        count,
    } = observe_failure(last, tk.bancount, tk.time, maxretry)
    {
        crate::flog!(
            INFO,
            "observer",
            "{}",
            found_bad_text(&ctx.name, &tk.fid, tk.time, bancount, retry, maxretry)
        );
        if let Some(ban) = f.fm.add_observed(tk, created, count, bancount, t_now) {
            ctx.tickets.send(ban);
        }
    }
}
