//! [`FailManager`]: pending failures per failure id, fail2ban's counting exactly.
//!
//! Per id it keeps one ticket (stored packed, see [`pack`]: a flood of unique addresses
//! keeps one entry each) with the first/last failure time and a `retry` count, not a
//! list of timestamps: a failure arriving when the first one is older than
//! `findtime` rescales the count to the rate over the old interval and moves the window
//! start to `t - findtime`. A ticket whose count reaches `maxretry` is removed and handed
//! back (the jail bans it). [`FailManager::cleanup`] drops ids whose *last* failure is
//! older than `now - findtime`; the jail calls [`FailManager::service`] (at most every
//! 5 s) every 100 lines, and it also runs after each ban. No clock: callers pass `now`.

mod pack;

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use crate::server::ticket::{Ticket, time2str};
use pack::{Key, Pending};

/// A pending entry in the id set: hashed and compared by its key, so the id is stored
/// once, inside the (compact, see [`pack`]) entry; the set itself holds one pointer per id.
#[derive(Debug, Clone)]
struct Entry(Box<Pending>);

impl Hash for Entry {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.key().hash(h);
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.0.key() == other.0.key()
    }
}

impl Eq for Entry {}

impl Borrow<[u8]> for Entry {
    fn borrow(&self) -> &[u8] {
        self.0.key()
    }
}

/// What [`FailManager::add_failure_ex`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Added {
    /// The id's count after this failure (compared with maxretry).
    pub attempts: f64,
    /// The ticket given became the id's entry (no failure of it was pending).
    pub created: bool,
    /// The ticket to ban when the count reached maxretry (removed from the list).
    pub ban: Option<Ticket>,
}

/// Pending failures of one jail.
#[derive(Debug, Clone)]
pub struct FailManager {
    pub maxretry: u32,
    /// Seconds (`findtime`; a float since `1mo` is one).
    pub findtime: f64,
    /// Matched lines kept per id (oldest dropped; 0 keeps none).
    pub maxmatches: usize,
    list: HashSet<Entry>,
    total: u64,
    next_service: f64,
}

impl Default for FailManager {
    fn default() -> Self {
        FailManager::new()
    }
}

impl FailManager {
    /// fail2ban's defaults: maxretry 3, findtime 600, maxmatches 5.
    pub fn new() -> FailManager {
        FailManager {
            maxretry: 3,
            findtime: 600.0,
            maxmatches: 5,
            list: HashSet::new(),
            total: 0,
            next_service: f64::NEG_INFINITY,
        }
    }

    /// Counts `count` failures (1 per found line; the number of lines for
    /// `set J attempt`) of ticket `t`. Returns the ticket to ban once the id's count
    /// reaches maxretry (the entry is then gone); the service cleanup then runs too.
    pub fn add_failure(&mut self, t: Ticket, count: u32, now: f64) -> Option<Ticket> {
        self.add_failure_ex(t, count, now).ban
    }

    /// As [`FailManager::add_failure`], also telling the count and whether `t` created
    /// the entry (the observer step [`FailManager::add_observed`] needs that).
    pub fn add_failure_ex(&mut self, t: Ticket, count: u32, now: f64) -> Added {
        let key = Key::bytes(&t.fid);
        let (maxmatches, findtime) = (self.maxmatches, self.findtime);
        let (attempts, created) = match self.list.take(key.as_slice()) {
            Some(Entry(mut entry)) => {
                // A later failure adds its count and matches; its data is not merged.
                let attempt = if t.failures == 0 { 1 } else { t.failures };
                let matches = (maxmatches > 0).then_some(t.matches.as_slice());
                let failure = (t.time, matches, attempt, f64::from(count));
                merge(&mut entry, failure, maxmatches, findtime);
                let retry = entry.retry;
                self.list.insert(Entry(entry));
                (retry, false)
            }
            None => {
                let mut t = t;
                if count > t.failures {
                    t.retry = f64::from(count);
                    if t.failures == 0 {
                        t.failures = 1;
                    }
                } else if t.retry == 0.0 {
                    t.retry = f64::from(t.failures);
                }
                let retry = t.retry;
                self.list.insert(Entry(Box::new(Pending::from_ticket(t))));
                (retry, true)
            }
        };
        self.total += 1;
        let ban = self.ban_if_due(&key, attempts, now);
        Added {
            attempts,
            created,
            ban,
        }
    }

    /// The observer's extra count for a known bad id (fail2ban's `failureFound` with
    /// `bantime.increment`): adds `count` more to the id's entry (`tick` is the ticket the
    /// filter just added, `created` what [`Added::created`] said for it), and raises the
    /// entry's ban count to `bancount`. Nothing happens when the id is no longer pending
    /// (already banned). Returns the ticket to ban if maxretry is reached now.
    pub fn add_observed(
        &mut self,
        tick: &Ticket,
        created: bool,
        count: f64,
        bancount: u32,
        now: f64,
    ) -> Option<Ticket> {
        let (maxmatches, findtime) = (self.maxmatches, self.findtime);
        let key = Key::bytes(&tick.fid);
        let Entry(mut entry) = self.list.take(key.as_slice())?;
        // When the entry is the filter's ticket itself, fail2ban adds no matches; when
        // it is an older entry, the new failure's matches are added a second time.
        let matches = (!created && maxmatches > 0).then_some(tick.matches.as_slice());
        let attempt = if created || tick.failures == 0 {
            1
        } else {
            tick.failures
        };
        let failure = (tick.time, matches, attempt, count);
        merge(&mut entry, failure, maxmatches, findtime);
        if created {
            entry.raise_bancount(bancount);
        }
        let attempts = entry.retry;
        self.list.insert(Entry(entry));
        self.total += 1;
        self.ban_if_due(&key, attempts, now)
    }

    fn ban_if_due(&mut self, key: &[u8], attempts: f64, now: f64) -> Option<Ticket> {
        if attempts < f64::from(self.maxretry) {
            return None;
        }
        let ban = self.take_due(Some(key));
        self.service(now, false);
        ban
    }

    /// fail2ban's `toBan`: removes and returns the ticket of `fid` (or, when `fid` is
    /// not pending or `None`, of the first id) whose count reached maxretry.
    pub fn to_ban(&mut self, fid: Option<&str>) -> Option<Ticket> {
        let key = fid.map(Key::bytes);
        self.take_due(key.as_deref())
    }

    fn take_due(&mut self, key: Option<&[u8]>) -> Option<Ticket> {
        let max = f64::from(self.maxretry);
        let key = match key.filter(|k| self.list.contains(*k)) {
            Some(k) => (self.list.get(k)?.0.retry >= max).then(|| k.to_vec())?,
            None => self
                .list
                .iter()
                .find(|e| e.0.retry >= max)?
                .0
                .key()
                .to_vec(),
        };
        self.list.take(key.as_slice()).map(|e| e.0.to_ticket())
    }

    /// Drops ids whose last failure is at or before `now - findtime`.
    pub fn cleanup(&mut self, now: f64) {
        let limit = now - self.findtime;
        self.list.retain(|e| e.0.time > limit);
        // Give back the table's memory once a flood of ids has passed.
        if self.list.capacity() > 64 && self.list.len() < self.list.capacity() / 4 {
            self.list.shrink_to(self.list.len() * 2);
        }
    }

    /// The jail's periodic service: cleanup at most every 5 s unless `force`.
    /// Returns whether the cleanup ran.
    pub fn service(&mut self, now: f64, force: bool) -> bool {
        if force || now >= self.next_service {
            self.next_service = now + 5.0;
            self.cleanup(now);
            return true;
        }
        false
    }

    /// Forgets the pending failures of `fid`.
    pub fn del_failure(&mut self, fid: &str) -> Option<Ticket> {
        self.list
            .take(Key::bytes(fid).as_slice())
            .map(|e| e.0.to_ticket())
    }

    /// Whether `fid` has pending failures.
    pub fn contains(&self, fid: &str) -> bool {
        self.list.contains(Key::bytes(fid).as_slice())
    }

    /// The pending entry of `fid` (a copy: entries are stored packed).
    pub fn get(&self, fid: &str) -> Option<Ticket> {
        self.list
            .get(Key::bytes(fid).as_slice())
            .map(|e| e.0.to_ticket())
    }

    /// Ids with pending failures (`Currently failed`, `<jail.found>`).
    pub fn size(&self) -> usize {
        self.list.len()
    }

    /// Failures counted since the jail was created (`Total failed`).
    pub fn total_failed(&self) -> u64 {
        self.total
    }

    pub fn set_total_failed(&mut self, total: u64) {
        self.total = total;
    }

    /// (pending ids, sum of their counts), fail2ban's `getFailCount`.
    pub fn fail_count(&self) -> (usize, f64) {
        (self.list.len(), self.list.iter().map(|e| e.0.retry).sum())
    }

    /// The pending entries (any order; copies, entries are stored packed).
    pub fn tickets(&self) -> impl Iterator<Item = Ticket> + '_ {
        self.list.iter().map(|e| e.0.to_ticket())
    }
}

/// `[J] Found <id> - <local time>` (INFO), logged for every counted failure.
pub fn found_text(jail: &str, id: &str, time: f64) -> String {
    format!("[{jail}] Found {id} - {}", time2str(time))
}

/// `[J] Attempt <id> - <local time>` (INFO), logged for `set J attempt`.
pub fn attempt_text(jail: &str, id: &str, time: f64) -> String {
    format!("[{jail}] Attempt {id} - {}", time2str(time))
}

/// Adds one failure to an existing entry: window adjustment, counts, matches (the
/// newest `maxmatches` kept).
fn merge(
    entry: &mut Pending,
    failure: (f64, Option<&[String]>, u32, f64),
    maxmatches: usize,
    findtime: f64,
) {
    let (time, matches, attempt, count) = failure;
    adjust_time(entry, time, findtime);
    entry.retry += count;
    entry.failures = entry.failures.saturating_add(attempt);
    let added = matches.filter(|m| !m.is_empty());
    let kept = entry.match_count();
    // Re-pack only when the lines change (the common repeat failure adds one).
    if added.is_none() && kept <= maxmatches {
        return;
    }
    if let Some(add) = added
        && kept > 0
        && kept + add.len() <= maxmatches
        && entry.append_matches(add)
    {
        return;
    }
    entry.update_matches(|lines| {
        lines.extend(added.into_iter().flatten().cloned());
        let drop = lines.len().saturating_sub(maxmatches);
        lines.drain(..drop);
    });
}

/// fail2ban's window rule: a later failure moves the last-failure time; when the
/// window's first failure is older than `findtime` before it, the count becomes the
/// rate over the old interval times findtime (rounded half to even) and the window
/// starts at `time - findtime`.
fn adjust_time(entry: &mut Pending, time: f64, findtime: f64) {
    if time > entry.time {
        if entry.first_time < time - findtime {
            entry.retry = (entry.retry / (time - entry.first_time) * findtime).round_ties_even();
            entry.first_time = time - findtime;
        }
        entry.time = time;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(fm: &mut FailManager, fid: &str, t: f64) -> (f64, bool) {
        fm.service(t, true);
        let a = fm.add_failure_ex(Ticket::new(fid, None, t), 1, t);
        (a.attempts, a.ban.is_some())
    }

    #[test]
    fn spec_window_simulation() {
        // compat-spec §4.4: maxretry 3, findtime 600, cleanup before each failure.
        let mut fm = FailManager::new();
        let got: Vec<_> = [0.0, 500.0, 1000.0, 1100.0]
            .iter()
            .map(|&t| fail(&mut fm, "a", t))
            .collect();
        assert_eq!(
            got,
            vec![(1.0, false), (2.0, false), (2.0, false), (3.0, true)]
        );
        let mut fm = FailManager::new();
        let got: Vec<_> = [0.0, 100.0, 700.0, 800.0]
            .iter()
            .map(|&t| fail(&mut fm, "b", t))
            .collect();
        assert_eq!(
            got,
            vec![(1.0, false), (2.0, false), (1.0, false), (2.0, false)]
        );
    }

    #[test]
    fn first_data_kept_matches_limited() {
        let mut fm = FailManager::new();
        fm.maxretry = 10;
        fm.maxmatches = 2;
        for (i, user) in ["alice", "bob", "carol"].iter().enumerate() {
            let mut t = Ticket::new("x", None, i as f64).with_matches(vec![format!("l{i}")]);
            t.set_data("user", (*user).into());
            fm.add_failure(t, 1, i as f64);
        }
        let e = fm.get("x").unwrap();
        assert_eq!(e.get_data("user"), Some(&"alice".into()));
        assert_eq!(e.matches, vec!["l1", "l2"]);
        assert_eq!(e.failures, 3);
        assert_eq!(fm.total_failed(), 3);
        fm.maxmatches = 0;
        fm.add_failure(
            Ticket::new("x", None, 5.0).with_matches(vec!["l5".into()]),
            1,
            5.0,
        );
        assert!(fm.get("x").unwrap().matches.is_empty());
    }

    #[test]
    fn attempt_count_and_cleanup() {
        let mut fm = FailManager::new();
        let t = Ticket::new("y", None, 10.0).with_matches(vec!["a".into(), "b".into()]);
        assert!(fm.add_failure(t, 2, 10.0).is_none());
        assert_eq!(fm.get("y").unwrap().retry, 2.0);
        assert_eq!(fm.get("y").unwrap().failures, 1);
        fm.cleanup(610.0);
        assert_eq!(fm.size(), 0);
        assert_eq!(fm.total_failed(), 1);
    }

    #[test]
    fn observed_counts_faster() {
        let mut fm = FailManager::new();
        fm.maxretry = 3;
        let tick = Ticket::new("z", None, 1.0).with_matches(vec!["m".into()]);
        let a = fm.add_failure_ex(tick.clone(), 1, 1.0);
        assert!(a.created && a.ban.is_none());
        // bancount 1 → retry count 2.0 → one more.
        assert!(fm.add_observed(&tick, true, 1.0, 1, 1.0).is_none());
        assert_eq!(fm.get("z").unwrap().retry, 2.0);
        let tick2 = Ticket::new("z", None, 2.0).with_matches(vec!["n".into()]);
        let a = fm.add_failure_ex(tick2.clone(), 1, 2.0);
        let b = a.ban.expect("banned at 3");
        assert_eq!(b.bancount, 1);
        assert_eq!(b.matches, vec!["m", "n"]);
        // observer for an id that is gone does nothing.
        assert!(fm.add_observed(&tick2, false, 1.0, 1, 2.0).is_none());
    }
}
