//! Multi-line failure ids: the per-connection cache ([`MlfidCache`]) and the merge of
//! a new match into the cached state ([`merge_failure`]), giving fail2ban's
//! `F-NOFAIL` / `F-MLFFORGET` / `F-MLFGAINED` semantics.

use std::collections::VecDeque;
use std::sync::LazyLock;

use crate::filter::failregex::{Fields, Key, key};
use crate::stream::Value;

use super::FailData;

/// At most this many connections are remembered …
const MAX_COUNT: usize = 100;
/// … each for this many seconds after it was last stored.
const MAX_TIME: f64 = 300.0;

/// Insertion-ordered cache with fail2ban's FIFO eviction and expiry. Under attack
/// nearly every line is a new connection, so the cache is full and each insert evicts
/// the oldest entry: a ring, so that costs no shift of the other 99.
#[derive(Debug, Default)]
pub struct MlfidCache {
    entries: VecDeque<Entry>,
    /// Per entry, the hash of its key, apart: a lookup (most miss: each connection
    /// is new once) reads these 800 bytes, not a cache line of every entry.
    hashes: VecDeque<u64>,
    /// How many entries' hashes fall in each bucket (low hash bits): a key whose
    /// bucket is empty is absent, told without reading `hashes` (most lookups miss).
    buckets: Buckets,
}

/// Per-bucket entry counts (see [`MlfidCache::buckets`]); made on the first insert.
#[derive(Debug, Default)]
struct Buckets(Option<Box<[u8; BUCKETS]>>);

/// Ten times the entries at most, so a missing key finds its bucket empty nine times
/// in ten when the cache is full.
const BUCKETS: usize = 1024;

impl Buckets {
    fn at(hash: u64) -> usize {
        (hash as usize) & (BUCKETS - 1)
    }

    fn may_hold(&self, hash: u64) -> bool {
        self.0.as_ref().is_none_or(|b| b[Buckets::at(hash)] > 0)
    }

    fn add(&mut self, hash: u64) {
        let b = self.0.get_or_insert_with(|| Box::new([0; BUCKETS]));
        let c = &mut b[Buckets::at(hash)];
        *c = c.saturating_add(1);
    }

    fn sub(&mut self, hash: u64) {
        if let Some(b) = &mut self.0 {
            let c = &mut b[Buckets::at(hash)];
            *c = c.saturating_sub(1);
        }
    }
}

/// One remembered connection (its key's hash, which spares a string compare per
/// entry on lookups, is in [`MlfidCache::hashes`]). The data is boxed: a connection's
/// last line (`F-MLFFORGET`) removes its entry from the middle, which then moves
/// pointers, not whole failure records.
#[derive(Debug)]
struct Entry {
    key: String,
    data: Box<FailData>,
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
        if !self.buckets.may_hold(hash) {
            return None;
        }
        let mut end = self.hashes.len();
        while let Some(i) = self.hashes.range(..end).rposition(|&h| h == hash) {
            if self.entries[i].key == key {
                return Some(i);
            }
            end = i;
        }
        None
    }

    fn take(&mut self, key: &str, hash: u64, now: f64) -> Option<(usize, FailData)> {
        let i = self.find(key, hash)?;
        if self.entries[i].expires > now {
            let d = std::mem::take(&mut *self.entries[i].data);
            Some((i, d))
        } else {
            self.remove(i);
            None
        }
    }

    fn put_back(&mut self, i: usize, data: FailData) {
        if let Some(e) = self.entries.get_mut(i) {
            *e.data = data;
        }
    }

    fn unset_at(&mut self, i: usize) {
        self.remove(i);
    }

    fn remove(&mut self, i: usize) -> Option<Entry> {
        if let Some(h) = self.hashes.remove(i) {
            self.buckets.sub(h);
        }
        self.entries.remove(i)
    }

    /// Adds a key known to be absent (the caller's lookup just missed it), evicting
    /// the oldest entries when full.
    fn insert_new(&mut self, key: &str, hash: u64, data: FailData, now: f64) {
        if self.entries.len() >= MAX_COUNT {
            while let Some(e) = self.remove(0) {
                if e.expires > now && self.entries.len() < MAX_COUNT {
                    break;
                }
            }
        }
        self.hashes.push_back(hash);
        self.buckets.add(hash);
        self.entries.push_back(Entry {
            key: key.to_string(),
            data: Box::new(data),
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

/// The `nofail` field's name, interned once (a gained connection sets it on every
/// such line: without the interner's lock each time).
static NOFAIL_KEY: LazyLock<Key> = LazyLock::new(|| key("nofail"));

const NOFAIL: u8 = 1;
const FORGET: u8 = 2;
const WAS_NOFAIL: u8 = 4;
const GAINED: u8 = 8;

/// What the cache keeps of a merged failure: its `matches` only while the next merge
/// reads them (a no-failure state; a pending failure gets them through
/// [`MlfidCache::mark_pending`]), as any other state clears them first. This spares a
/// copy of every matched line per failure.
fn cached_copy(fail: &FailData) -> FailData {
    let keep = keeps_matches(fail);
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

fn keeps_matches(fail: &FailData) -> bool {
    truthy(fail.fields.get("nofail")) || truthy(fail.fields.get("mlfgained"))
}

/// [`cached_copy`] of data nobody else needs: moved, not copied.
fn into_cached(mut fail: FailData) -> FailData {
    if !keeps_matches(&fail) {
        fail.matches = Vec::new();
    }
    fail
}

/// Merges one match (`fields`, covering `matched` lines) of connection `mlfid` with
/// what is cached for it, updating the cache; the merged failure data. None when it
/// is a no-failure (`nofail`) state and `keep_nofail` is false: the caller would drop
/// it, so the cache takes it whole instead of a copy.
pub fn merge_failure(
    cache: &mut MlfidCache,
    mlfid: &str,
    mut fields: Fields,
    mut matched: Vec<String>,
    now: f64,
    keep_nofail: bool,
) -> Option<FailData> {
    let mut flags = 0u8;
    if truthy(fields.get("mlfgained")) {
        flags |= GAINED | NOFAIL;
        if !truthy(fields.get("nofail"))
            && let Some(g) = fields.get("mlfgained").cloned()
        {
            fields.set_key(*NOFAIL_KEY, g);
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
    let give = keep_nofail || !fail.nofail();
    // `take` missed (a hit leaves `slot` set unless forgotten), and nothing added the
    // key since: a new entry unless forgotten.
    if slot.is_none() && flags & FORGET != 0 {
        return give.then_some(fail);
    }
    let (cached, out) = match give {
        true => (cached_copy(&fail), Some(fail)),
        false => (into_cached(fail), None),
    };
    match slot {
        Some(i) => cache.put_back(i, cached),
        None => cache.insert_new(mlfid, hash, cached, now),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys whose hashes collide are still told apart, the newest first, and the hash
    /// list follows the entries through removals and FIFO eviction.
    #[test]
    fn colliding_keys_and_eviction_keep_hashes_in_step() {
        let mut c = MlfidCache::default();
        c.insert_new("a", 7, FailData::default(), 0.0);
        c.insert_new("b", 7, FailData::default(), 0.0);
        assert_eq!(c.find("a", 7), Some(0));
        assert_eq!(c.find("b", 7), Some(1));
        assert_eq!(c.find("c", 7), None);
        c.unset_at(0);
        assert_eq!(c.find("b", 7), Some(0));
        for i in 0..MAX_COUNT + 5 {
            let k = format!("k{i}");
            c.insert_new(&k, key_hash(&k), FailData::default(), 1.0);
        }
        assert_eq!(c.len(), MAX_COUNT);
        assert_eq!(c.hashes.len(), c.entries.len());
        assert_eq!(c.find("b", 7), None);
        let last = format!("k{}", MAX_COUNT + 4);
        assert_eq!(c.find(&last, key_hash(&last)), Some(MAX_COUNT - 1));
        // An expired entry is dropped on lookup, hash and all.
        assert!(
            c.take(&last, key_hash(&last), 1.0 + MAX_TIME + 1.0)
                .is_none()
        );
        assert_eq!(c.hashes.len(), MAX_COUNT - 1);
        // A connection's last line removes it from the middle of the ring; the
        // others keep their data and their place.
        let mid = format!("k{}", MAX_COUNT / 2 + 5);
        let next = format!("k{}", MAX_COUNT / 2 + 6);
        let i = c.find(&mid, key_hash(&mid)).expect("cached");
        c.put_back(
            i,
            FailData {
                pending: true,
                ..Default::default()
            },
        );
        c.unset_at(i);
        assert_eq!(c.find(&mid, key_hash(&mid)), None);
        assert_eq!(c.find(&next, key_hash(&next)), Some(i));
        assert_eq!(c.hashes.len(), c.entries.len());
        assert!(!c.entries[i].data.pending);
        // The bucket counts follow the hashes: each bucket holds as many as hash there.
        let counts = c.buckets.0.as_ref().expect("made on insert");
        for (at, &n) in counts.iter().enumerate() {
            let here = c.hashes.iter().filter(|&&h| Buckets::at(h) == at).count();
            assert_eq!(usize::from(n), here, "bucket {at}");
        }
        // A key whose bucket is empty is not looked for in the list.
        let absent = (0..)
            .map(|n| format!("x{n}"))
            .find(|k| counts[Buckets::at(key_hash(k))] == 0);
        let absent = absent.expect("a free bucket");
        assert!(!c.buckets.may_hold(key_hash(&absent)));
        assert_eq!(c.find(&absent, key_hash(&absent)), None);
    }
}
