//! Multi-line failure ids: the per-connection cache ([`MlfidCache`]) and the merge of
//! a new match into the cached state ([`merge_failure`]), giving fail2ban's
//! `F-NOFAIL` / `F-MLFFORGET` / `F-MLFGAINED` semantics.

use crate::filter::failregex::Fields;
use crate::stream::Value;

use super::FailData;

/// At most this many connections are remembered …
const MAX_COUNT: usize = 100;
/// … each for this many seconds after it was last stored.
const MAX_TIME: f64 = 300.0;

/// Insertion-ordered cache with fail2ban's FIFO eviction and expiry.
#[derive(Debug, Default)]
pub struct MlfidCache {
    entries: Vec<Entry>,
}

/// One remembered connection; `hash` of `key` spares a string compare per entry on
/// lookups (keys of one log tend to share their length, e.g. `host sshd[pid]: `).
#[derive(Debug)]
struct Entry {
    hash: u64,
    key: String,
    data: FailData,
    expires: f64,
}

/// FNV-1a: keys are short, and the cache lives in one process (no hostile collisions
/// to fear: a collision only costs a string compare).
fn key_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl MlfidCache {
    /// Keys are unique, so the search may start at the newest entry, where the
    /// connections still talking mostly are.
    fn find(&self, key: &str, hash: u64) -> Option<usize> {
        self.entries
            .iter()
            .rposition(|e| e.hash == hash && e.key == key)
    }

    fn take(&mut self, key: &str, hash: u64, now: f64) -> Option<(usize, FailData)> {
        let i = self.find(key, hash)?;
        if self.entries[i].expires > now {
            let d = std::mem::take(&mut self.entries[i].data);
            Some((i, d))
        } else {
            self.entries.remove(i);
            None
        }
    }

    fn put_back(&mut self, i: usize, data: FailData) {
        if let Some(e) = self.entries.get_mut(i) {
            e.data = data;
        }
    }

    fn unset_at(&mut self, i: usize) {
        self.entries.remove(i);
    }

    /// Adds a key known to be absent (the caller's lookup just missed it), evicting
    /// the oldest entries when full.
    fn insert_new(&mut self, key: &str, hash: u64, data: FailData, now: f64) {
        if self.entries.len() >= MAX_COUNT {
            while !self.entries.is_empty() {
                let e = self.entries.remove(0);
                if e.expires > now && self.entries.len() < MAX_COUNT {
                    break;
                }
            }
        }
        self.entries.push(Entry {
            hash,
            key: key.to_string(),
            data,
            expires: now + MAX_TIME,
        });
    }

    /// Marks the cached connection as having a failure without id yet; `matches` are
    /// the failure's lines, which the connection keeps until it gets an id.
    pub fn mark_pending(&mut self, key: &str, matches: &[String]) {
        if let Some(i) = self.find(key, key_hash(key)) {
            let d = &mut self.entries[i].data;
            d.pending = true;
            if d.matches.is_empty() {
                d.matches = matches.to_vec();
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn truthy(v: Option<&Value>) -> bool {
    super::truthy(v)
}

/// Adds `user` to the connection's users; the users when the match named one or some
/// were known.
fn update_users(data: &mut FailData, user: Option<String>) -> Option<usize> {
    match user.filter(|u| !u.is_empty()) {
        Some(u) => {
            if data.users.is_empty() {
                data.users_at = data.fields.0.len();
            }
            if !data.users.contains(&u) {
                data.users.push(u);
            }
            Some(data.users.len())
        }
        None if data.users.is_empty() => None,
        None => Some(data.users.len()),
    }
}

/// Removes a field (dict `pop`), keeping `users` in its dict place.
fn pop_field(data: &mut FailData, name: &str) -> Option<Value> {
    let i = data.fields.0.iter().position(|(k, _)| **k == *name)?;
    if i < data.users_at {
        data.users_at -= 1;
    }
    Some(data.fields.0.remove(i).1)
}

const NOFAIL: u8 = 1;
const FORGET: u8 = 2;
const WAS_NOFAIL: u8 = 4;
const GAINED: u8 = 8;

/// What the cache keeps of a merged failure: its `matches` only while the next merge
/// reads them (a no-failure state; a pending failure gets them through
/// [`MlfidCache::mark_pending`]), as any other state clears them first. This spares a
/// copy of every matched line per failure.
fn cached_copy(fail: &FailData) -> FailData {
    let keep = truthy(fail.fields.get("nofail")) || truthy(fail.fields.get("mlfgained"));
    FailData {
        fields: fail.fields.clone(),
        matches: if keep {
            fail.matches.clone()
        } else {
            Vec::new()
        },
        nofail_matches: fail.nofail_matches.clone(),
        users: fail.users.clone(),
        users_at: fail.users_at,
        pending: fail.pending,
        ip: fail.ip.clone(),
    }
}

/// Merges one match (`fields`, covering `matched` lines) of connection `mlfid` with
/// what is cached for it, updating the cache; the merged failure data.
pub fn merge_failure(
    cache: &mut MlfidCache,
    mlfid: &str,
    mut fields: Fields,
    mut matched: Vec<String>,
    now: f64,
) -> FailData {
    let mut flags = 0u8;
    if truthy(fields.get("mlfgained")) {
        flags |= GAINED | NOFAIL;
        if !truthy(fields.get("nofail"))
            && let Some(g) = fields.get("mlfgained").cloned()
        {
            fields.set("nofail", g);
        }
    } else if truthy(fields.get("nofail")) {
        flags |= NOFAIL;
    }
    if truthy(fields.remove("mlfforget").as_ref()) {
        flags |= FORGET;
    }
    let user = fields.text("user");
    let users;
    let mut slot = None;
    let hash = key_hash(mlfid);
    let mut fail = match cache.take(mlfid, hash, now) {
        Some((i, mut cached)) => {
            users = update_users(&mut cached, user);
            if truthy(pop_field(&mut cached, "nofail").as_ref()) {
                flags |= WAS_NOFAIL;
            }
            if truthy(pop_field(&mut cached, "mlfgained").as_ref()) {
                flags |= WAS_NOFAIL;
            }
            if flags & GAINED != 0 {
                cached.pending = false;
            }
            if flags & WAS_NOFAIL == 0 && !cached.pending {
                cached.matches.clear();
            }
            for (k, v) in fields.0 {
                if v != Value::None {
                    cached.fields.set_key(k, v);
                }
            }
            if flags & FORGET != 0 {
                cache.unset_at(i);
            } else {
                slot = Some(i);
            }
            cached
        }
        None => {
            let mut f = FailData {
                fields,
                ..Default::default()
            };
            users = if flags & FORGET == 0 {
                update_users(&mut f, user)
            } else {
                None
            };
            f
        }
    };
    let pending = std::mem::take(&mut fail.pending);
    if pending || users.is_some_and(|n| n > 1) {
        pop_field(&mut fail, "nofail");
        pop_field(&mut fail, "mlfgained");
        flags &= !(GAINED | NOFAIL);
    }
    if flags & NOFAIL == 0 {
        let mut m = std::mem::take(&mut fail.nofail_matches);
        m.append(&mut fail.matches);
        if flags & GAINED == 0 {
            m.append(&mut matched);
        }
        fail.matches = m;
    } else if flags & (NOFAIL | FORGET) == NOFAIL {
        fail.nofail_matches.append(&mut matched);
    }
    match slot {
        Some(i) => cache.put_back(i, cached_copy(&fail)),
        // `take` missed (a hit leaves `slot` set unless forgotten), and nothing added
        // the key since.
        None if flags & FORGET == 0 => cache.insert_new(mlfid, hash, cached_copy(&fail), now),
        None => {}
    }
    fail
}
