//! The actions side of a jail: [`ActionsCore`] (ban list + command actions + the
//! `bantime.increment` options) and [`actions_loop`], the thread that bans tickets from
//! the filter and unbans them when their time is up.
//!
//! Flow of a ticket: expired-on-arrival check → previous bans from the DB (`bips`) give the
//! ban count → ban list → `actionban` of every action → (observer step) increased ban time
//! applied, `actionprolong` → row appended to the DB. Restored tickets skip the DB write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::Value as Json;

use crate::filter::addr::IpAddr;
use crate::server::action::{Family, JailActions, TagSource, restore_slots};
use crate::server::banmanager::{AddBan, BanManager, already_banned_level};
use crate::server::db::{BanRecord, CurrentBansQuery, Database, python_json};
use crate::server::formula::Num;
use crate::server::increment::{BanTimeIncrement, bad_ip_text, increase_ban_text, new_bantime};
use crate::server::jail::{TicketTags, lock, now};
use crate::server::ticket::Ticket;
use crate::stream::Value;

/// Blocks until a ticket (`Some`) or a wake-up (`None`); a closed channel reads as
/// disconnected.
fn wait_ticket(
    rx: &Receiver<Ticket>,
    woken: &Receiver<()>,
) -> Option<Result<Ticket, RecvTimeoutError>> {
    crossbeam_channel::select! {
        recv(rx) -> t => Some(t.map_err(|_| RecvTimeoutError::Disconnected)),
        recv(woken) -> w => match w {
            Ok(()) => None,
            Err(_) => Some(Err(RecvTimeoutError::Disconnected)),
        },
    }
}

/// A number in [0, 1) for `bantime.rndtime` (from the clock's sub-second noise; the
/// random part needs no cryptographic quality).
fn random_unit() -> f64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(n.wrapping_mul(2_654_435_761) % 1_000_000) / 1_000_000.0
}

/// Ban list and actions of one jail.
pub struct ActionsCore {
    pub jail: String,
    pub bm: BanManager,
    pub actions: JailActions,
    pub incr: BanTimeIncrement,
    pub idle: bool,
    /// During [`ActionsCore::ban_burst`]: the DB rows of the burst's bans, written
    /// together when it ends (None: each ban writes its row at once).
    deferred_rows: Option<Vec<(BanRecord, String)>>,
    /// Wakes [`actions_loop`], which sleeps without a deadline while nothing is banned:
    /// a ban added from another thread (`banip`) gives it an unban to time.
    wake: Option<Box<dyn Fn() + Send>>,
}

/// Compact durations as fail2ban's `sec2str`: `40s`, `59m 50s`, `1h`, `2d 7h 15m`.
pub fn sec2str(secs: f64) -> String {
    let mut s = secs.max(0.0) as i64;
    let mut out = Vec::new();
    for (unit, n) in [
        ("y", 31_557_600),
        ("w", 604_800),
        ("d", 86_400),
        ("h", 3600),
        ("m", 60),
    ] {
        if s >= n {
            out.push(format!("{}{unit}", s / n));
            s %= n;
        }
    }
    if s > 0 || out.is_empty() {
        out.push(format!("{s}s"));
    }
    out.join(" ")
}

fn family_of(t: &Ticket) -> Family {
    Family::from(t.ip.as_ref().and_then(|i| i.family()))
}

/// Ticket data key (private to the server) holding the first match split as fail2ban's
/// tuple line `[before-date, date, after-date]`: fail2ban stores the first failure's
/// match in that form and later ones joined, and the DB rows keep both.
pub const TUPLE_KEY: &str = "\u{1}tuple";

/// The DB `data` of a ticket as JSON text in fail2ban's key order: matches (newest
/// `maxmatches`, key omitted for 0), failures, then the capture groups in regex order.
pub fn ticket_json_text(t: &Ticket, maxmatches: usize) -> String {
    let mut out = String::from("{");
    let mut first = true;
    let mut field = |out: &mut String, k: &str, v: &Json| {
        if !first {
            out.push_str(", ");
        }
        first = false;
        out.push_str(&python_json(&Json::String(k.to_string())));
        out.push_str(": ");
        out.push_str(&python_json(v));
    };
    if maxmatches > 0 {
        let tuple: Option<Vec<Json>> =
            t.data
                .iter()
                .find(|(k, _)| k == TUPLE_KEY)
                .and_then(|(_, v)| match v {
                    Value::List(parts) => {
                        Some(parts.iter().map(|p| Json::String(p.to_py_str())).collect())
                    }
                    _ => None,
                });
        let mut items: Vec<Json> = t
            .matches
            .iter()
            .enumerate()
            .map(|(i, m)| match &tuple {
                Some(parts)
                    if i == 0
                        && parts
                            .iter()
                            .map(|p| p.as_str().unwrap_or_default())
                            .collect::<String>()
                            == *m =>
                {
                    Json::Array(parts.clone())
                }
                _ => Json::String(m.clone()),
            })
            .collect();
        let cut = items.len().saturating_sub(maxmatches);
        items.drain(..cut);
        field(&mut out, "matches", &Json::Array(items));
    }
    field(&mut out, "failures", &Json::from(t.failures));
    for (k, v) in &t.data {
        let j = match v {
            Value::Int(i) => Json::from(*i),
            Value::Bool(b) => Json::Bool(*b),
            Value::Float(f) => Json::from(*f),
            Value::None => continue,
            _ if k.starts_with('\u{1}') => continue,
            other => Json::String(other.to_py_str()),
        };
        field(&mut out, k, &j);
    }
    out.push('}');
    out
}

/// A restored ticket from a `bips` row.
pub fn ticket_from_record(r: &BanRecord, ip: Option<IpAddr>) -> Ticket {
    let mut t = Ticket::new(&r.ip, ip, r.time_of_ban as f64);
    t.bantime = Some(r.bantime);
    t.bancount = u32::try_from(r.ban_count).unwrap_or(1);
    t.restored = true;
    if let Json::Object(m) = &r.data {
        for (k, v) in m {
            match (k.as_str(), v) {
                ("matches", Json::Array(items)) => {
                    t.matches = items
                        .iter()
                        .map(|i| match i {
                            Json::String(s) => s.clone(),
                            Json::Array(parts) => parts
                                .iter()
                                .map(|p| p.as_str().unwrap_or_default())
                                .collect(),
                            other => other.to_string(),
                        })
                        .collect()
                }
                ("failures", v) => t.failures = v.as_u64().unwrap_or(0) as u32,
                (k, Json::String(s)) => t.data.push((k.to_string(), Value::Str(s.clone()))),
                (k, Json::Number(n)) => t
                    .data
                    .push((k.to_string(), Value::Int(n.as_i64().unwrap_or(0)))),
                _ => {}
            }
        }
    }
    t
}

impl ActionsCore {
    pub fn new(jail: &str) -> Self {
        ActionsCore {
            jail: jail.to_string(),
            bm: BanManager::new(),
            actions: JailActions::new(jail),
            incr: BanTimeIncrement::new(),
            idle: false,
            deferred_rows: None,
            wake: None,
        }
    }

    /// Sets what wakes (or starts) the actions thread (see [`actions_loop`]); None
    /// when the jail stops.
    pub fn set_waker(&mut self, wake: Option<Box<dyn Fn() + Send>>) {
        self.wake = wake;
    }

    /// Wakes the actions thread; a wake-up already pending is enough.
    pub fn wake(&self) {
        if let Some(w) = &self.wake {
            w();
        }
    }

    /// Rows of `bips` to restore when the jail starts (compat-spec 4.8).
    pub fn restore_query(&self, db: &Database, t: f64) -> Vec<BanRecord> {
        let bantime = self.bm.bantime();
        let q = CurrentBansQuery {
            jail: Some(&self.jail),
            ip: None,
            forbantime: if self.incr.increment() {
                None
            } else {
                Some(bantime)
            },
            fromtime: t as i64,
            correct_bantime: if self.incr.increment() {
                self.incr.maxtime().map(|m| m.to_i64_saturating())
            } else {
                Some(bantime)
            },
            jail_bantime: Some(bantime),
            maxmatches: None,
        };
        match db.get_current_bans(&q) {
            Ok(rows) => rows,
            Err(e) => {
                crate::flog!(ERROR, "actions", "{e}");
                Vec::new()
            }
        }
    }

    /// Bans one ticket (filter, manual or restored). True when newly banned.
    pub fn ban_ticket(&mut self, mut t: Ticket, now: f64, db: Option<&Arc<Database>>) -> bool {
        let ip =
            t.ip.as_ref()
                .map(|i| i.ntoa())
                .unwrap_or_else(|| t.fid.clone());
        // Previous bans of this id (the observer's lookup for bantime.increment); the ban
        // manager raises the count by one when it adds the ban.
        let mut prev: Option<(u32, i64)> = None;
        if !t.restored
            && self.incr.increment()
            && let Some(db) = db
        {
            let jail = (!self.incr.overalljails()).then_some(self.jail.as_str());
            if let Ok(Some(info)) =
                db.get_ban(&ip, jail, None, self.incr.overalljails(), None, now as i64)
                && info.ban_count > 0
            {
                let n = u32::try_from(info.ban_count).unwrap_or(0);
                t.bancount = n;
                prev = Some((n, info.time_of_ban));
            }
        }
        let restored = t.restored;
        let fid = t.fid.clone();
        let fail_time = t.time;
        match self.bm.add_ban(t, now) {
            AddBan::Expired => {
                crate::flog!(
                    INFO,
                    "actions",
                    "[{}] Ignore {}, expired bantime",
                    self.jail,
                    ip
                );
                false
            }
            AddBan::Added => {
                self.wake();
                if restored {
                    crate::flog!(NOTICE, "actions", "[{}] Restore Ban {}", self.jail, ip);
                } else {
                    crate::flog!(NOTICE, "actions", "[{}] Ban {}", self.jail, ip);
                }
                let Some(mut t) = self.bm.get(&fid).cloned() else {
                    return false;
                };
                let bantime = t.ban_time(self.bm.bantime());
                let tags = TicketTags { t: &t, bantime };
                self.actions.ban(&tags, family_of(&t), restored);
                let epoch = self.actions.ban_epoch();
                if let Some(b) = self.bm.get_mut(&fid) {
                    b.ban_epoch = epoch;
                }
                if !restored {
                    self.observe_ban(&mut t, bantime, prev, db);
                }
                true
            }
            AddBan::AlreadyBanned {
                time, ban_epoch, ..
            } => {
                let level = already_banned_level(fail_time, time);
                crate::server::log::emit(
                    level,
                    "fail2ban.actions",
                    &format!("[{}] {} already banned", self.jail, ip),
                );
                if let Some(t) = self.bm.get(&fid).cloned() {
                    let bantime = t.ban_time(self.bm.bantime());
                    let tags = TicketTags { t: &t, bantime };
                    let mut epoch = ban_epoch;
                    self.actions
                        .already_banned(&tags, family_of(&t), &mut epoch, fail_time - time);
                    if let Some(b) = self.bm.get_mut(&fid) {
                        b.ban_epoch = epoch;
                    }
                }
                false
            }
        }
    }

    /// Bans tickets from the filter in order as [`ActionsCore::ban_ticket`] does, their
    /// DB rows written in one transaction after the last one's actions (one commit per
    /// burst; a crash mid-burst loses at most the rows of this burst's bans).
    pub fn ban_burst(&mut self, tickets: Vec<Ticket>, db: Option<&Arc<Database>>) {
        if tickets.len() < 2 || db.is_none() {
            for t in tickets {
                self.ban_ticket(t, now(), db);
            }
            return;
        }
        self.deferred_rows = Some(Vec::with_capacity(tickets.len()));
        for t in tickets {
            self.ban_ticket(t, now(), db);
        }
        let rows = self.deferred_rows.take().unwrap_or_default();
        if let Some(db) = db {
            let refs: Vec<(&BanRecord, &str)> = rows.iter().map(|(r, t)| (r, t.as_str())).collect();
            if let Err(e) = db.add_bans_text(&refs) {
                crate::flog!(ERROR, "observer", "{e}");
            }
        }
    }

    /// Bans restored tickets in order as [`ActionsCore::ban_ticket`] does, their ban
    /// commands running a few at once ([`JailActions::ban_restored`]): `[J] Restore Ban`
    /// lines in ticket order, then the commands. A ticket already banned (a duplicate
    /// row) goes the single-ticket way after the ones before it.
    pub fn ban_restored(&mut self, tickets: Vec<Ticket>, now: f64, db: Option<&Arc<Database>>) {
        let mut added: Vec<String> = Vec::new();
        for t in tickets {
            if !t.restored || self.bm.contains(&t.fid) {
                self.run_restored(&mut added);
                self.ban_ticket(t, now, db);
                continue;
            }
            let ip =
                t.ip.as_ref()
                    .map(|i| i.ntoa())
                    .unwrap_or_else(|| t.fid.clone());
            let fid = t.fid.clone();
            match self.bm.add_ban(t, now) {
                AddBan::Expired => crate::flog!(
                    INFO,
                    "actions",
                    "[{}] Ignore {}, expired bantime",
                    self.jail,
                    ip
                ),
                AddBan::Added => {
                    crate::flog!(NOTICE, "actions", "[{}] Restore Ban {}", self.jail, ip);
                    added.push(fid);
                }
                // Checked above: not banned.
                AddBan::AlreadyBanned { .. } => {}
            }
        }
        self.run_restored(&mut added);
    }

    /// The actions of the restored bans `fids` (emptied), then their ban epoch.
    fn run_restored(&mut self, fids: &mut Vec<String>) {
        if fids.is_empty() {
            return;
        }
        let bt = self.bm.bantime();
        let tickets: Vec<Ticket> = fids
            .iter()
            .filter_map(|f| self.bm.get(f).cloned())
            .collect();
        let tags: Vec<TicketTags<'_>> = tickets
            .iter()
            .map(|t| TicketTags {
                t,
                bantime: t.ban_time(bt),
            })
            .collect();
        let infos: Vec<(&dyn TagSource, Family)> = tags
            .iter()
            .map(|g| (g as &dyn TagSource, family_of(g.t)))
            .collect();
        self.actions.ban_restored(&infos, restore_slots());
        let epoch = self.actions.ban_epoch();
        for f in fids.drain(..) {
            if let Some(b) = self.bm.get_mut(&f) {
                b.ban_epoch = epoch;
            }
        }
    }

    /// The observer's part after a ban: increased ban time, prolong, DB row.
    fn observe_ban(
        &mut self,
        t: &mut Ticket,
        base: i64,
        prev: Option<(u32, i64)>,
        db: Option<&Arc<Database>>,
    ) {
        let ip = t.fid.clone();
        let mut bantime = base;
        if let Some((n, last)) = prev
            && t.bantime.is_none()
            && base >= 0
        {
            bantime = new_bantime(&self.incr, base, n, random_unit());
            crate::flog!(
                INFO,
                "observer",
                "{}",
                bad_ip_text(
                    &self.jail,
                    &ip,
                    n,
                    last as f64,
                    Num::Int(i128::from(base)),
                    Num::Int(i128::from(bantime))
                )
            );
            if bantime != base {
                t.set_bantime(bantime);
                self.bm.set_ticket_bantime(&ip, bantime);
                crate::flog!(
                    NOTICE,
                    "observer",
                    "{}",
                    increase_ban_text(
                        &self.jail,
                        &ip,
                        t.bancount,
                        Num::Int(i128::from(bantime)),
                        t.time
                    )
                );
                let tags = TicketTags { t, bantime };
                self.actions.prolong(&tags, family_of(t));
            }
        }
        if let Some(db) = db {
            let rec = BanRecord {
                jail: self.jail.clone(),
                ip: ip.clone(),
                time_of_ban: t.time.round() as i64,
                bantime,
                ban_count: i64::from(t.bancount.max(1)),
                data: Json::Null,
            };
            let text = ticket_json_text(t, db.max_matches());
            match self.deferred_rows.as_mut() {
                Some(rows) => rows.push((rec, text)),
                None => {
                    if let Err(e) = db.add_ban_text(&rec, &text) {
                        crate::flog!(ERROR, "observer", "{e}");
                    }
                }
            }
        }
    }

    fn unban_one(&mut self, t: &Ticket) {
        crate::server::memtrim::after_activity();
        let ip =
            t.ip.as_ref()
                .map(|i| i.ntoa())
                .unwrap_or_else(|| t.fid.clone());
        crate::flog!(NOTICE, "actions", "[{}] Unban {}", self.jail, ip);
        let tags = TicketTags {
            t,
            bantime: t.ban_time(self.bm.bantime()),
        };
        self.actions.unban(&tags, family_of(t));
    }

    pub fn unban_expired(&mut self, now: f64) {
        for t in self.bm.unban_expired(now) {
            self.unban_one(&t);
        }
    }

    /// Manual unban of one id; true if it was banned.
    pub fn unban_ip(&mut self, fid: &str) -> bool {
        match self.bm.remove(fid) {
            Some(t) => {
                self.unban_one(&t);
                true
            }
            None => false,
        }
    }

    /// Flushes every current ban through the actions (`actionflush` or per-ticket
    /// unban; the actions log `Flush ticket(s) with A` / `Unban ip`). `stopping`: jail
    /// stop (else `unban --all`).
    pub fn flush_all(&mut self, stopping: bool) -> usize {
        let tickets = self.bm.flush();
        let bt = self.bm.bantime();
        let tags: Vec<TicketTags<'_>> = tickets
            .iter()
            .map(|t| TicketTags {
                t,
                bantime: t.ban_time(bt),
            })
            .collect();
        let refs: Vec<&dyn TagSource> = tags.iter().map(|t| t as &dyn TagSource).collect();
        if stopping {
            self.actions.flush(&refs);
        } else {
            self.actions.flush_all(&refs);
        }
        tickets.len()
    }

    /// Ends an in-place reload: kept actions get `actionreload`; removed ones unban the
    /// current tickets (which stay banned for the others) and stop.
    pub fn end_reload(&mut self) {
        let bt = self.bm.bantime();
        let tickets: Vec<Ticket> = self.bm.tickets().cloned().collect();
        let tags: Vec<TicketTags<'_>> = tickets
            .iter()
            .map(|t| TicketTags {
                t,
                bantime: t.ban_time(bt),
            })
            .collect();
        let refs: Vec<&dyn TagSource> = tags.iter().map(|t| t as &dyn TagSource).collect();
        self.actions.end_reload(&refs);
    }
}

/// Restored tickets banned together at most (the jail's lock and the command lock are
/// held for one batch; a batch of bans takes well under a second). Each of the few
/// workers runs its share in one batch shell, whose start is then spread over 64 bans.
const RESTORE_BATCH: usize = 256;

/// Tickets from the filter banned in one burst at most (the jail's lock is held for a
/// burst; see [`ActionsCore::ban_burst`]).
const BAN_BURST: usize = 16;

/// The actions thread: bans arriving tickets, unbans expired ones.
pub fn actions_loop(
    core: Arc<Mutex<ActionsCore>>,
    rx: Receiver<Ticket>,
    woken: Receiver<()>,
    stop: Arc<AtomicBool>,
    db: Option<Arc<Database>>,
) {
    // A ticket taken while collecting a burst of the other kind (banned next round).
    let mut carried: Option<Ticket> = None;
    while !stop.load(Ordering::Relaxed) {
        let got = match carried.take() {
            Some(t) => Ok(t),
            None => {
                let next = lock(&core).bm.next_expiry();
                match next {
                    Some(end) => {
                        let wait = (end - now()).clamp(0.0, 0.2);
                        rx.recv_timeout(Duration::from_secs_f64(wait.max(0.01)))
                    }
                    // Nothing to unban: sleep until a ticket, a ban from elsewhere or a
                    // stop (an idle jail costs no wake-ups).
                    None => match wait_ticket(&rx, &woken) {
                        Some(got) => got,
                        None => continue,
                    },
                }
            }
        };
        match got {
            Ok(t) if t.restored => {
                // A restore queues its tickets at once: ban them in batches so that
                // their commands can run a few at once.
                let mut batch = vec![t];
                while batch.len() < RESTORE_BATCH {
                    match rx.try_recv() {
                        Ok(t) => batch.push(t),
                        Err(_) => break,
                    }
                }
                let mut c = lock(&core);
                if !c.idle {
                    c.ban_restored(batch, now(), db.as_ref());
                }
                crate::server::memtrim::after_activity();
            }
            Ok(t) => {
                // What the filter queued meanwhile is banned in the same burst.
                let mut burst = vec![t];
                while burst.len() < BAN_BURST {
                    match rx.try_recv() {
                        Ok(t) if t.restored => {
                            carried = Some(t);
                            break;
                        }
                        Ok(t) => burst.push(t),
                        Err(_) => break,
                    }
                }
                let mut c = lock(&core);
                if !c.idle {
                    c.ban_burst(burst, db.as_ref());
                }
                crate::server::memtrim::after_activity();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let mut c = lock(&core);
        if !c.idle {
            c.unban_expired(now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tickets(t0: f64) -> Vec<Ticket> {
        ["192.0.2.7", "198.51.100.3", "192.0.2.7", "2001:db8::5"]
            .iter()
            .enumerate()
            .map(|(i, ip)| {
                let mut t = Ticket::new(*ip, IpAddr::parse(ip).ok(), t0 + i as f64)
                    .with_matches(vec![format!("line {i} from {ip}")]);
                t.failures = 5;
                t.set_data("user", Value::str("root"));
                t
            })
            .collect()
    }

    fn rows(db: &Database) -> Vec<BanRecord> {
        db.get_bans(Some("j"), None, None, 0).unwrap()
    }

    #[test]
    fn burst_writes_the_rows_single_bans_write() {
        let t0 = now();
        let mut dbs = Vec::new();
        for burst in [false, true] {
            let db = Arc::new(Database::open(":memory:").unwrap());
            db.add_jail("j").unwrap();
            let mut core = ActionsCore::new("j");
            if burst {
                core.ban_burst(tickets(t0), Some(&db));
            } else {
                for t in tickets(t0) {
                    core.ban_ticket(t, now(), Some(&db));
                }
            }
            // The repeated id is banned once; no rows stay deferred.
            assert_eq!(core.bm.size(), 3);
            assert!(core.deferred_rows.is_none());
            dbs.push(db);
        }
        let (single, burst) = (rows(&dbs[0]), rows(&dbs[1]));
        assert_eq!(single.len(), 3);
        assert_eq!(single, burst);
        // A manual ban after a burst writes its row at once again.
        let mut core = ActionsCore::new("j");
        core.ban_ticket(
            Ticket::new("203.0.113.9", IpAddr::parse("203.0.113.9").ok(), t0),
            now(),
            Some(&dbs[1]),
        );
        assert_eq!(rows(&dbs[1]).len(), 4);
    }
}
