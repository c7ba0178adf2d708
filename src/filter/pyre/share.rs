//! Process-wide sharing of compiled automata: [`shared`] hands out one `Arc<V>` per key
//! while any holder keeps it alive (the table keeps only `Weak`s, so a jail that goes
//! away frees its regexes). Jails built from the same filter, and every jail's default
//! date detector, then hold one compilation instead of one each.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};

/// A table of live values by key.
pub(super) type Table<K, V> = Mutex<HashMap<K, Weak<V>>>;

/// The live value for `key`, or a new one from `build` (None: nothing is shared, and the
/// failure is not remembered). Dead entries are dropped when the table doubles.
pub(super) fn shared<K: Hash + Eq, V>(
    table: &Table<K, V>,
    key: K,
    build: impl FnOnce() -> Option<V>,
) -> Option<Arc<V>> {
    if let Ok(t) = table.lock()
        && let Some(v) = t.get(&key).and_then(Weak::upgrade)
    {
        return Some(v);
    }
    // Built outside the lock: compiling can take milliseconds, and two jails racing on
    // the same key merely build it twice.
    let v = Arc::new(build()?);
    if let Ok(mut t) = table.lock() {
        if t.len() >= 64 && t.len().is_power_of_two() {
            t.retain(|_, w| w.strong_count() > 0);
        }
        t.insert(key, Arc::downgrade(&v));
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_while_alive_and_frees_after() {
        let table: Table<String, u32> = Mutex::new(HashMap::new());
        let a = shared(&table, "k".to_string(), || Some(1)).expect("built");
        let b = shared(&table, "k".to_string(), || Some(2)).expect("shared");
        assert!(Arc::ptr_eq(&a, &b));
        drop((a, b));
        let c = shared(&table, "k".to_string(), || Some(3)).expect("rebuilt");
        assert_eq!(*c, 3);
        assert!(shared(&table, "x".to_string(), || None).is_none());
    }
}
