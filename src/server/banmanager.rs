//! [`BanManager`]: the ban list of one jail, keyed by failure id, in ban order.
//!
//! A ban ends at ticket time + ban time (`-1` = permanent, [`MAX_TIME`]); a ticket for an
//! id still banned prolongs the ban when it would end later ([`AddBan::AlreadyBanned`]);
//! [`BanManager::unban_expired`] hands back the tickets whose end has passed (strictly),
//! skipping the scan until the earliest known end ([`BanManager::next_expiry`]). Also the
//! list texts of `status`, `get J banip [--with-time]` and `banned`. No clock, no I/O.

use std::collections::HashMap;

use crate::filter::addr::IpAddr;
use crate::server::ignore::dns::{DnsCache, contains};
use crate::server::log::LogLevel;
use crate::server::ticket::{MAX_TIME, Ticket, time2str};
use crate::stream::Value;

/// Outcome of [`BanManager::add_ban`].
#[derive(Debug, Clone, PartialEq)]
pub enum AddBan {
    /// Newly banned (ban count incremented); run the ban actions.
    Added,
    /// The ban would already be over (`Ignore <ip>, expired bantime`).
    Expired,
    /// The id is banned already; `prolonged` when its end moved later. `time` and
    /// `ban_epoch` are the existing ban's (for the "already banned" level and reban).
    AlreadyBanned {
        prolonged: bool,
        time: f64,
        ban_epoch: u64,
    },
}

/// Insertion-ordered ticket map (fail2ban's dict order decides list and unban order).
#[derive(Debug, Clone, Default)]
struct Ordered {
    index: HashMap<String, usize>,
    slots: Vec<Option<Ticket>>,
}

impl Ordered {
    fn len(&self) -> usize {
        self.index.len()
    }
    fn get(&self, fid: &str) -> Option<&Ticket> {
        self.index.get(fid).and_then(|&i| self.slots[i].as_ref())
    }
    fn get_mut(&mut self, fid: &str) -> Option<&mut Ticket> {
        let i = *self.index.get(fid)?;
        self.slots[i].as_mut()
    }
    fn insert(&mut self, t: Ticket) {
        self.index.insert(t.fid.clone(), self.slots.len());
        self.slots.push(Some(t));
    }
    fn remove(&mut self, fid: &str) -> Option<Ticket> {
        let i = self.index.remove(fid)?;
        let t = self.slots[i].take();
        // Compact once most slots are holes, keeping the order.
        if self.slots.len() > 32 && self.slots.len() > 2 * self.index.len() {
            let old = std::mem::take(&mut self.slots);
            self.index.clear();
            for t in old.into_iter().flatten() {
                self.insert(t);
            }
        }
        t
    }
    fn iter(&self) -> impl Iterator<Item = &Ticket> {
        self.slots.iter().flatten()
    }
    fn drain(&mut self) -> Vec<Ticket> {
        self.index.clear();
        std::mem::take(&mut self.slots)
            .into_iter()
            .flatten()
            .collect()
    }
}

/// The ban list of one jail.
#[derive(Debug, Clone)]
pub struct BanManager {
    bantime: i64,
    list: Ordered,
    total: u64,
    /// No ban ends before this (may be earlier than the true minimum).
    next_unban: f64,
}

impl Default for BanManager {
    fn default() -> Self {
        BanManager::new()
    }
}

impl BanManager {
    /// Empty list, bantime 600.
    pub fn new() -> BanManager {
        BanManager {
            bantime: 600,
            list: Ordered::default(),
            total: 0,
            next_unban: MAX_TIME,
        }
    }

    /// The jail's ban time (seconds, `-1` permanent).
    pub fn bantime(&self) -> i64 {
        self.bantime
    }

    /// Sets the jail's ban time. The earliest end is recomputed (fail2ban keeps its stale
    /// one; recomputing makes a shortened ban time take effect on time).
    pub fn set_bantime(&mut self, bantime: i64) {
        self.bantime = bantime;
        self.next_unban = self
            .list
            .iter()
            .map(|t| t.end_of_ban(bantime))
            .fold(MAX_TIME, f64::min);
    }

    /// Bans `t` (fail2ban's `addBanTicket`); `now` decides [`AddBan::Expired`].
    pub fn add_ban(&mut self, mut t: Ticket, now: f64) -> AddBan {
        let eob = t.end_of_ban(self.bantime);
        if eob < now {
            return AddBan::Expired;
        }
        let default = self.bantime;
        if let Some(old) = self.list.get_mut(&t.fid) {
            let prolonged = eob > old.end_of_ban(default);
            if prolonged {
                // New end = new ticket time + its ban time, kept on the old ticket: the
                // ban time grows by the (fractional) distance of the ticket times, a
                // float as in fail2ban, so the end of ban moves exactly.
                let btm = t.ban_time(default);
                let dif = t.time - old.time;
                match t.bantime_float {
                    _ if btm == -1 => old.set_bantime(-1),
                    Some(f) if dif > 0.0 => old.set_bantime_float(f + dif),
                    Some(f) => old.set_bantime_float(f),
                    None if dif > 0.0 => old.set_bantime_float(btm as f64 + dif),
                    None => old.set_bantime(btm),
                }
            }
            return AddBan::AlreadyBanned {
                prolonged,
                time: old.time,
                ban_epoch: old.ban_epoch,
            };
        }
        t.bancount = t.bancount.saturating_add(1);
        self.list.insert(t);
        self.total += 1;
        if self.next_unban > eob {
            self.next_unban = eob;
        }
        AddBan::Added
    }

    /// Removes and returns the tickets whose ban is over at `now`, in ban order.
    pub fn unban_expired(&mut self, now: f64) -> Vec<Ticket> {
        self.unban_expired_max(now, usize::MAX)
    }

    /// As [`BanManager::unban_expired`], at most `max` tickets (the jail limits a pass
    /// while it is busy banning).
    pub fn unban_expired_max(&mut self, now: f64, max: usize) -> Vec<Ticket> {
        if self.next_unban > now || max == 0 {
            return Vec::new();
        }
        let mut due: Vec<String> = Vec::new();
        let mut next = MAX_TIME;
        for t in self.list.iter() {
            let eob = t.end_of_ban(self.bantime);
            if now > eob {
                due.push(t.fid.clone());
                if due.len() >= max {
                    // Stopped early: keep the old earliest end so the rest is seen soon.
                    next = self.next_unban;
                    break;
                }
            } else if next > eob {
                next = eob;
            }
        }
        self.next_unban = next;
        due.iter().filter_map(|f| self.list.remove(f)).collect()
    }

    /// Earliest time a ban may end (the jail sleeps until then); `None` when nothing is
    /// banned or only permanently.
    pub fn next_expiry(&self) -> Option<f64> {
        (self.list.len() > 0 && self.next_unban < MAX_TIME).then_some(self.next_unban)
    }

    /// Removes one ban (manual unban); `None` when `fid` is not banned.
    pub fn remove(&mut self, fid: &str) -> Option<Ticket> {
        self.list.remove(fid)
    }

    /// Empties the list, returning every ticket in ban order.
    pub fn flush(&mut self) -> Vec<Ticket> {
        self.list.drain()
    }

    pub fn contains(&self, fid: &str) -> bool {
        self.list.get(fid).is_some()
    }

    pub fn get(&self, fid: &str) -> Option<&Ticket> {
        self.list.get(fid)
    }

    /// The banned ticket of `fid` for updates (ban epoch after actions ran, …). Use
    /// [`BanManager::set_ticket_bantime`] to change a ban time.
    pub fn get_mut(&mut self, fid: &str) -> Option<&mut Ticket> {
        self.list.get_mut(fid)
    }

    /// Sets the ban time of a banned ticket (bantime.increment); false if not banned.
    pub fn set_ticket_bantime(&mut self, fid: &str, bantime: i64) -> bool {
        let default = self.bantime;
        let Some(t) = self.list.get_mut(fid) else {
            return false;
        };
        t.set_bantime(bantime);
        let eob = t.end_of_ban(default);
        if self.next_unban > eob {
            self.next_unban = eob;
        }
        true
    }

    /// Banned tickets in ban order.
    pub fn tickets(&self) -> impl Iterator<Item = &Ticket> {
        self.list.iter()
    }

    /// Ids of banned tickets satisfying `pred` (unban by network/name), ban order.
    pub fn fids_where(&self, pred: impl Fn(&Ticket) -> bool) -> Vec<String> {
        self.list
            .iter()
            .filter(|t| pred(t))
            .map(|t| t.fid.clone())
            .collect()
    }

    /// Whether `id` (any spelling of the address: `[v6]`, upper case…) is banned
    /// (fail2ban compares it as an address with the banned ids).
    pub fn is_banned(&self, id: &str) -> bool {
        if self.contains(id) {
            return true;
        }
        match IpAddr::parse(id) {
            Ok(ip) if ip.is_valid() => self.contains(&ip.ntoa()),
            _ => false,
        }
    }

    /// `banned` / `get J banned [ids]`: all ids (ban order) without arguments, `1`/`0` for
    /// one id, a list of `1`/`0` for several.
    pub fn banned_value(&self, ids: &[&str]) -> Value {
        match ids {
            [] => Value::List(self.ban_list().into_iter().map(Value::Str).collect()),
            [one] => Value::Int(i64::from(self.is_banned(one))),
            many => Value::List(
                many.iter()
                    .map(|i| Value::Int(i64::from(self.is_banned(i))))
                    .collect(),
            ),
        }
    }

    /// Banned ids inside the network or host name `net` (`unbanip 10.0.0.0/8`,
    /// `unbanip host.example`), ban order; names resolve through `dns`.
    pub fn fids_in(&self, net: &IpAddr, dns: &DnsCache, now: f64) -> Vec<String> {
        self.fids_where(|t| contains(dns, net, &t.id_addr(), now))
    }

    /// `Currently banned`, `<jail.banned>`.
    pub fn size(&self) -> usize {
        self.list.len()
    }

    /// `Total banned`, `<jail.banned_total>`.
    pub fn total_banned(&self) -> u64 {
        self.total
    }

    pub fn set_total_banned(&mut self, total: u64) {
        self.total = total;
    }

    /// Ids in ban order (`status` "Banned IP list", `banned`).
    pub fn ban_list(&self) -> Vec<String> {
        self.list.iter().map(|t| t.fid.clone()).collect()
    }

    /// Tickets sorted by end of ban (stable): the order of `get J banip`.
    fn by_end(&self) -> Vec<(&Ticket, f64)> {
        let mut v: Vec<(&Ticket, f64)> = self
            .list
            .iter()
            .map(|t| (t, t.end_of_ban(self.bantime)))
            .collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1));
        v
    }

    /// `get J banip`: ids by end of ban.
    pub fn ban_list_ordered(&self) -> Vec<String> {
        self.by_end()
            .into_iter()
            .map(|(t, _)| t.fid.clone())
            .collect()
    }

    /// `get J banip --with-time`: `<id> \t<start> + <bantime> = <end>` by end of ban.
    pub fn ban_list_with_time(&self) -> Vec<String> {
        self.by_end()
            .into_iter()
            .map(|(t, eob)| with_time_line(t, self.bantime, eob))
            .collect()
    }
}

/// One `--with-time` line (local times; permanent ends print as year 9999).
pub fn with_time_line(t: &Ticket, default_bantime: i64, eob: f64) -> String {
    format!(
        "{} \t{} + {} = {}",
        t.fid,
        time2str(t.time),
        t.ban_time(default_bantime),
        time2str(eob)
    )
}

/// `[J] Ignore <ip>, expired bantime` (INFO) for [`AddBan::Expired`].
pub fn expired_text(jail: &str, ip: &str) -> String {
    format!("[{jail}] Ignore {ip}, expired bantime")
}

/// `[J] <ip> already banned`, logged at [`already_banned_level`].
pub fn already_banned_text(jail: &str, ip: &str) -> String {
    format!("[{jail}] {ip} already banned")
}

/// Level of `[J] <ip> already banned`: DEBUG within 3 s of the ban, NOTICE within 60 s,
/// WARNING after (something is not blocking).
pub fn already_banned_level(failure_time: f64, banned_time: f64) -> LogLevel {
    let dif = failure_time - banned_time;
    if dif < 3.0 {
        LogLevel::DEBUG
    } else if dif < 60.0 {
        LogLevel::NOTICE
    } else {
        LogLevel::WARNING
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tk(fid: &str, t: f64) -> Ticket {
        Ticket::new(fid, None, t)
    }

    #[test]
    fn add_prolong_unban() {
        let mut bm = BanManager::new();
        bm.set_bantime(20);
        assert_eq!(bm.add_ban(tk("a", 100.0), 100.0), AddBan::Added);
        assert_eq!(bm.get("a").unwrap().bancount, 1);
        assert_eq!(bm.add_ban(tk("b", 101.0), 101.0), AddBan::Added);
        assert_eq!(bm.add_ban(tk("c", 50.0), 100.0), AddBan::Expired);
        // Later failure: end moves to 110 + 20, bantime becomes 30.
        let r = bm.add_ban(tk("a", 110.0), 110.0);
        assert_eq!(
            r,
            AddBan::AlreadyBanned {
                prolonged: true,
                time: 100.0,
                ban_epoch: 0
            }
        );
        assert_eq!(bm.get("a").unwrap().bantime, Some(30));
        assert_eq!(bm.get("a").unwrap().bantime_float, Some(30.0));
        assert_eq!(bm.next_expiry(), Some(120.0));
        assert!(bm.unban_expired(120.0).is_empty());
        let u = bm.unban_expired(121.5);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].fid, "b");
        assert_eq!(bm.next_expiry(), Some(130.0));
        assert_eq!(bm.unban_expired(130.5)[0].fid, "a");
        assert_eq!(bm.size(), 0);
        assert_eq!(bm.total_banned(), 2);
    }

    #[test]
    fn fractional_prolong_moves_end_exactly() {
        // fail2ban's float ban time: re-banning 0.6 s after b was banned puts a after b.
        let mut bm = BanManager::new();
        bm.set_bantime(600);
        bm.add_ban(tk("a", 100.2), 100.2);
        bm.add_ban(tk("b", 100.9), 100.9);
        let r = bm.add_ban(tk("a", 101.5), 101.5);
        assert!(matches!(
            r,
            AddBan::AlreadyBanned {
                prolonged: true,
                ..
            }
        ));
        assert_eq!(bm.ban_list_ordered(), vec!["b", "a"]);
        let a = bm.get("a").unwrap();
        assert_eq!(a.bantime, Some(601));
        assert_eq!(
            a.bantime_text(601),
            crate::stream::py_float_repr(600.0 + (101.5 - 100.2))
        );
        assert!(bm.ban_list_with_time()[1].contains(" + 601 = "));
        assert!(bm.unban_expired(701.4).iter().all(|t| t.fid == "b"));
        assert_eq!(bm.unban_expired(701.6)[0].fid, "a");
    }

    #[test]
    fn permanent_and_order() {
        let mut bm = BanManager::new();
        bm.set_bantime(-1);
        bm.add_ban(tk("p", 0.0), 0.0);
        let mut t = tk("q", 5.0);
        t.bantime = Some(10);
        bm.add_ban(t, 5.0);
        assert_eq!(bm.ban_list(), vec!["p", "q"]);
        assert_eq!(bm.ban_list_ordered(), vec!["q", "p"]);
        assert_eq!(bm.unban_expired(1e12).len(), 1);
        assert_eq!(bm.next_expiry(), None);
        let line = &bm.ban_list_with_time()[0];
        assert!(line.starts_with("p \t"), "{line}");
        assert!(line.ends_with(" + -1 = 9999-12-31 23:59:59"), "{line}");
        assert_eq!(bm.flush().len(), 1);
    }

    #[test]
    fn order_survives_compaction() {
        let mut bm = BanManager::new();
        for i in 0..100 {
            bm.add_ban(tk(&format!("i{i}"), 0.0), 0.0);
        }
        for i in (0..100).filter(|i| i % 3 != 0) {
            bm.remove(&format!("i{i}"));
        }
        let want: Vec<String> = (0..100)
            .filter(|i| i % 3 == 0)
            .map(|i| format!("i{i}"))
            .collect();
        assert_eq!(bm.ban_list(), want);
        assert!(bm.contains("i99") && !bm.contains("i98"));
    }

    #[test]
    fn levels() {
        assert_eq!(already_banned_level(2.0, 0.0), LogLevel::DEBUG);
        assert_eq!(already_banned_level(3.0, 0.0), LogLevel::NOTICE);
        assert_eq!(already_banned_level(60.0, 0.0), LogLevel::WARNING);
    }
}

#[cfg(test)]
mod lookup_tests {
    use super::*;
    use crate::server::ignore::dns::SystemResolver;

    #[test]
    fn banned_queries_and_networks() {
        let mut bm = BanManager::new();
        for ip in ["192.0.2.1", "2001:db8::7", "10.1.2.3"] {
            let a = IpAddr::parse(ip).unwrap();
            bm.add_ban(Ticket::for_ip(a, 0.0), 0.0);
        }
        assert_eq!(bm.banned_value(&["[2001:DB8::7]"]), Value::Int(1));
        assert_eq!(
            bm.banned_value(&["192.0.2.1", "192.0.2.9"]),
            Value::List(vec![Value::Int(1), Value::Int(0)])
        );
        let dns = DnsCache::new(Box::new(SystemResolver));
        let net = IpAddr::parse("192.0.2.0/24").unwrap();
        assert_eq!(bm.fids_in(&net, &dns, 0.0), vec!["192.0.2.1"]);
        let v6 = IpAddr::parse("2001:db8::/32").unwrap();
        assert_eq!(bm.fids_in(&v6, &dns, 0.0), vec!["2001:db8::7"]);
    }
}
