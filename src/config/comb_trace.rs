//! Reusing a filter's first tag resolution for its second ([`CombTrace`]).
//!
//! A jail resolves its filter's tags twice: once over every `[Definition]` option (for
//! the jail's `known/…` values), then over the options its stream carries. The second
//! resolution walks the same expansion tree as the first whenever every name it can
//! reach stands for the same text, and then its results are the first one's. The trace
//! keeps what that check needs: the first call's entries and ignored names, which
//! entries some tag referred to, and the on-demand lookups with their answers.

use std::borrow::Cow;

/// One combined option set: name and value (`None`: looked up on demand).
type Entry<'a> = (&'a str, Option<Cow<'a, str>>);

/// What a successful fast resolution saw and produced (see the module doc).
pub struct CombTrace {
    ign: Vec<String>,
    entries: Vec<(String, Option<String>)>,
    /// Per entry: the substituted text when it changed.
    out: Vec<Option<String>>,
    /// Per entry: some tag referred to it.
    used: Vec<bool>,
    /// Names that went to the on-demand lookup, with the answers.
    lookups: Vec<(String, Option<String>)>,
}

impl CombTrace {
    pub fn new(
        entries: &[Entry<'_>],
        ign: &[&str],
        out: &[Option<String>],
        used: Vec<bool>,
        lookups: Vec<(String, Option<String>)>,
    ) -> Self {
        CombTrace {
            ign: ign.iter().map(|s| s.to_string()).collect(),
            entries: entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_ref().map(|v| v.to_string())))
                .collect(),
            out: out.to_vec(),
            used,
            lookups,
        }
    }

    /// Per entry of a later resolution, the changed text (as [`super::tags_fast::resolve_all`]
    /// gives it), when it provably equals this one's; `None`: resolve anew. `addrepl`
    /// is the later call's on-demand lookup.
    pub fn reuse(
        &self,
        entries: &[Entry<'_>],
        ign: &[&str],
        addrepl: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
    ) -> Option<Vec<Option<String>>> {
        // the same ignored names (a set: only membership is tested)
        let mut a: Vec<&str> = ign.to_vec();
        let mut b: Vec<&str> = self.ign.iter().map(String::as_str).collect();
        for v in [&mut a, &mut b] {
            v.sort_unstable();
            v.dedup();
        }
        if a != b {
            return None;
        }
        // every entry was one before, with the same value: it resolves the same way if
        // the names below it do
        let mut is_entry = vec![false; self.entries.len()];
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let i = self.entries.iter().position(|(tk, _)| tk == k)?;
            if self.entries[i].1.as_deref() != v.as_deref() {
                return None;
            }
            is_entry[i] = true;
            out.push(self.out.get(i)?.clone());
        }
        // an entry a tag referred to that is gone now is looked up on demand: it must
        // give the same text
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if self.used.get(i) == Some(&true) && !is_entry[i] {
                let v = v.as_deref()?;
                match addrepl(k) {
                    Ok(Some(t)) if t == v => {}
                    _ => return None,
                }
            }
        }
        // and the on-demand answers are unchanged
        for (name, r) in &self.lookups {
            match addrepl(name) {
                Ok(got) if got == *r => {}
                _ => return None,
            }
        }
        Some(out)
    }
}
