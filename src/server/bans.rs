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
use crate::server::db::{BanRecord, CurrentBansQuery, Database};
use crate::server::jail::{TicketTags, lock, now, time2str};
use crate::server::standin::action::{Family, JailActions};
use crate::server::standin::banmanager::{AddBan, BanManager};
use crate::server::standin::ticket::Ticket;
use crate::stream::Value;

/// `bantime.*` options of a jail.
#[derive(Debug, Clone, Default)]
pub struct Increment {
    pub enabled: bool,
    pub factor: Option<String>,
    pub formula: Option<String>,
    pub multipliers: Option<String>,
    pub maxtime: Option<i64>,
    pub rndtime: Option<i64>,
    pub overalljails: bool,
}

impl Increment {
    /// The new ban time for a ticket whose id was banned `count` times before.
    pub fn new_bantime(&self, base: i64, count: u32) -> i64 {
        let factor: f64 = self
            .factor
            .as_deref()
            .and_then(|f| f.trim().parse().ok())
            .unwrap_or(1.0);
        let mut t = match self.multipliers.as_deref().map(str::split_whitespace) {
            Some(ms) => {
                let ms: Vec<f64> = ms.filter_map(|m| m.parse().ok()).collect();
                let m = ms
                    .get((count as usize).min(ms.len().saturating_sub(1)))
                    .copied()
                    .unwrap_or(1.0);
                base as f64 * factor * m
            }
            None => base as f64 * f64::from(1u32 << count.min(20)) * factor,
        };
        if t < base as f64 {
            t = base as f64;
        }
        if let Some(mx) = self.maxtime
            && t > mx as f64
        {
            t = mx as f64;
        }
        t as i64
    }
}

/// Ban list and actions of one jail.
pub struct ActionsCore {
    pub jail: String,
    pub bm: BanManager,
    pub actions: JailActions,
    pub incr: Increment,
    pub idle: bool,
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
    match t.ip.as_ref().and_then(|i| i.family()) {
        Some(crate::filter::addr::Family::Inet4) => Family::Inet4,
        Some(crate::filter::addr::Family::Inet6) => Family::Inet6,
        None => Family::None,
    }
}

/// The DB `data` of a ticket: matches, failures, then the capture groups.
pub fn ticket_json(t: &Ticket) -> Json {
    let mut m = serde_json::Map::new();
    m.insert(
        "matches".into(),
        Json::Array(t.matches.iter().map(|s| Json::String(s.clone())).collect()),
    );
    m.insert("failures".into(), Json::from(t.failures));
    for (k, v) in &t.data {
        let j = match v {
            Value::Int(i) => Json::from(*i),
            Value::Bool(b) => Json::Bool(*b),
            Value::None => continue,
            other => Json::String(other.to_py_str()),
        };
        m.insert(k.clone(), j);
    }
    Json::Object(m)
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
            actions: JailActions::default(),
            incr: Increment::default(),
            idle: false,
        }
    }

    /// Rows of `bips` to restore when the jail starts (compat-spec 4.8).
    pub fn restore_query(&self, db: &Database, t: f64) -> Vec<BanRecord> {
        let bantime = self.bm.bantime;
        let q = CurrentBansQuery {
            jail: Some(&self.jail),
            ip: None,
            forbantime: if self.incr.enabled {
                None
            } else {
                Some(bantime)
            },
            fromtime: t as i64,
            correct_bantime: if self.incr.enabled {
                self.incr.maxtime
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
        let bantime = self.bm.bantime_of(&t);
        let ip =
            t.ip.as_ref()
                .map(|i| i.ntoa())
                .unwrap_or_else(|| t.fid.clone());
        if bantime >= 0 && t.time + (bantime as f64) < now {
            crate::flog!(
                INFO,
                "actions",
                "[{}] Ignore {}, expired bantime",
                self.jail,
                ip
            );
            return false;
        }
        // Previous bans of this id (the observer's lookup for bantime.increment).
        let mut prev: Option<(u32, i64)> = None;
        if !t.restored {
            t.bancount = 1;
            if self.incr.enabled
                && let Some(db) = db
            {
                let jail = (!self.incr.overalljails).then_some(self.jail.as_str());
                if let Ok(Some(info)) =
                    db.get_ban(&ip, jail, None, self.incr.overalljails, None, now as i64)
                    && info.ban_count > 0
                {
                    let n = u32::try_from(info.ban_count).unwrap_or(0);
                    t.bancount = n + 1;
                    prev = Some((n, info.time_of_ban));
                }
            }
        }
        let restored = t.restored;
        let fid = t.fid.clone();
        let since_ban = |old: &Ticket| now - old.time;
        let already_since = self.bm.get_mut(&fid).map(|o| since_ban(o));
        match self.bm.add_ban(t.clone(), now) {
            AddBan::Added => {
                if restored {
                    crate::flog!(NOTICE, "actions", "[{}] Restore Ban {}", self.jail, ip);
                } else {
                    crate::flog!(NOTICE, "actions", "[{}] Ban {}", self.jail, ip);
                }
                let tags = TicketTags { t: &t, bantime };
                self.actions.ban(&tags, family_of(&t), restored);
                if !restored {
                    self.observe_ban(&mut t, bantime, prev, db);
                }
                true
            }
            AddBan::AlreadyBanned { .. } => {
                let d = already_since.unwrap_or(0.0);
                if d < 3.0 {
                    crate::flog!(DEBUG, "actions", "[{}] {} already banned", self.jail, ip);
                } else if d < 60.0 {
                    crate::flog!(NOTICE, "actions", "[{}] {} already banned", self.jail, ip);
                } else {
                    crate::flog!(WARNING, "actions", "[{}] {} already banned", self.jail, ip);
                }
                false
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
            bantime = self.incr.new_bantime(base, n);
            crate::flog!(
                INFO,
                "observer",
                "[{}] IP {} is bad: {} # last {} - incr {} to {}",
                self.jail,
                ip,
                n,
                time2str(last as f64),
                sec2str(base as f64),
                sec2str(bantime as f64)
            );
            if bantime != base {
                t.bantime = Some(bantime);
                if let Some(b) = self.bm.get_mut(&ip) {
                    b.bantime = Some(bantime);
                    b.bancount = t.bancount;
                }
                crate::flog!(
                    NOTICE,
                    "observer",
                    "[{}] Increase Ban {} ({} # {} -> {})",
                    self.jail,
                    ip,
                    t.bancount,
                    sec2str(bantime as f64),
                    time2str(t.time + bantime as f64)
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
                data: ticket_json(t),
            };
            if let Err(e) = db.add_ban(&rec) {
                crate::flog!(ERROR, "observer", "{e}");
            }
        }
    }

    fn unban_one(&mut self, t: &Ticket) {
        let ip =
            t.ip.as_ref()
                .map(|i| i.ntoa())
                .unwrap_or_else(|| t.fid.clone());
        crate::flog!(NOTICE, "actions", "[{}] Unban {}", self.jail, ip);
        let tags = TicketTags {
            t,
            bantime: self.bm.bantime_of(t),
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

    /// Flushes every current ban (jail stop): `actionflush` or per-ticket unban.
    pub fn flush_all(&mut self) -> usize {
        let tickets = self.bm.flush();
        let bt = self.bm.bantime;
        let tags: Vec<TicketTags<'_>> = tickets
            .iter()
            .map(|t| TicketTags {
                t,
                bantime: t.bantime.unwrap_or(bt),
            })
            .collect();
        let refs: Vec<&dyn crate::server::action::TagSource> = tags
            .iter()
            .map(|t| t as &dyn crate::server::action::TagSource)
            .collect();
        let flushed = self.actions.flush(&refs);
        for name in flushed {
            crate::flog!(
                NOTICE,
                "actions",
                "[{}] Flush ticket(s) with {}",
                self.jail,
                name
            );
        }
        for t in &tickets {
            crate::flog!(NOTICE, "actions", "[{}] Unban {}", self.jail, t.fid);
        }
        tickets.len()
    }
}

/// The actions thread: bans arriving tickets, unbans expired ones.
pub fn actions_loop(
    core: Arc<Mutex<ActionsCore>>,
    rx: Receiver<Ticket>,
    stop: Arc<AtomicBool>,
    db: Option<Arc<Database>>,
) {
    while !stop.load(Ordering::Relaxed) {
        let wait = {
            let c = lock(&core);
            match c.bm.next_expiry() {
                Some(end) => (end - now()).clamp(0.0, 0.2),
                None => 0.2,
            }
        };
        match rx.recv_timeout(Duration::from_secs_f64(wait.max(0.01))) {
            Ok(t) => {
                let mut c = lock(&core);
                if !c.idle {
                    c.ban_ticket(t, now(), db.as_ref());
                }
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
