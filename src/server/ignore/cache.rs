//! [`TtlCache`]: fail2ban's `Utils.Cache` — entries live `max_time` seconds; when
//! `max_count` is reached, the oldest entries are dropped (first in, first out) until an
//! unexpired one has been dropped and there is room. Updating a key keeps its place.
//! Time is passed in (`now`), never read here.

use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone)]
pub struct TtlCache<V> {
    pub max_count: usize,
    pub max_time: f64,
    map: HashMap<String, (V, f64, u64)>,
    /// Insertion order; items whose sequence no longer matches the map are stale.
    order: VecDeque<(String, u64)>,
    seq: u64,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(max_count: usize, max_time: f64) -> TtlCache<V> {
        TtlCache {
            max_count,
            max_time,
            map: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The value of `key` unless expired at `now` (an expired entry is removed).
    pub fn get(&mut self, key: &str, now: f64) -> Option<V> {
        let (v, exp, _) = self.map.get(key)?;
        if *exp > now {
            return Some(v.clone());
        }
        self.map.remove(key);
        None
    }

    pub fn set(&mut self, key: &str, value: V, now: f64) {
        if let Some(slot) = self.map.get_mut(key) {
            slot.0 = value;
            slot.1 = now + self.max_time;
            return;
        }
        if self.map.len() >= self.max_count {
            while let Some((k, s)) = self.order.pop_front() {
                if self.map.get(&k).is_none_or(|e| e.2 != s) {
                    continue;
                }
                let exp = self.map.remove(&k).map_or(0.0, |e| e.1);
                if exp > now && self.map.len() < self.max_count {
                    break;
                }
            }
        }
        self.seq += 1;
        self.map
            .insert(key.to_string(), (value, now + self.max_time, self.seq));
        self.order.push_back((key.to_string(), self.seq));
        if self.order.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|e| e.2 == *s));
        }
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_and_fifo() {
        let mut c: TtlCache<bool> = TtlCache::new(2, 10.0);
        c.set("a", true, 0.0);
        c.set("b", false, 1.0);
        assert_eq!(c.get("a", 9.9), Some(true));
        assert_eq!(c.get("a", 10.0), None);
        c.set("a", true, 2.0);
        c.set("c", true, 3.0);
        // Full: "b" (oldest, alive) dropped to make room.
        assert_eq!(c.get("b", 3.0), None);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("c", 3.0), Some(true));
    }
}
