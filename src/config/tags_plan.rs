//! Reusing one jail's tag resolution of a definition file for other jails
//! ([`TagPlan`], kept in a [`PlanStore`] per file).
//!
//! Jails using the same action (`iptables-multiport` for most stock jails) resolve the
//! same option set that differs only in a few jail-supplied values (`name`, `port`, …).
//! When a second jail's set differs from the first one's ([`PlanStore::sample`]) only in
//! *inert* values — no `<`, `>` or space — those entries are resolved once more with
//! each value replaced by a marker (`U+E000 <index> U+E001`, inert too), and the result
//! becomes a plan: later calls put their own values where the markers are.
//!
//! Why that is exact: an inert value holds no tag, cannot open or close one, and leaves
//! the resolver's "does the text end inside a tag?" test of every concatenation as it
//! was (the test looks only at the last `<`, `>` or space). So a run with markers finds
//! the same tags, in the same rounds, with the same replacement counts, as a run with
//! any other inert values, and its texts differ only where the values are — unless a
//! tag *name* is built from a value (`<ipt_<type>/…>`): a marker in a looked-up name
//! (or anywhere but the marked values) rejects the plan. The on-demand lookups a plan
//! saw are asked again on every use and must give the same answers.

use std::borrow::Cow;
use std::rc::Rc;

/// One combined option set: name and value (`None`: looked up on demand).
type Entry<'a> = (&'a str, Option<Cow<'a, str>>);

/// Plans kept per definition file (distinct option sets of its users).
pub const MAX_PLANS: usize = 4;

const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// No tag can be found in, built from, or ended by this text (see the module doc).
fn inert(s: &str) -> bool {
    memchr::memchr3(b' ', b'<', b'>', s.as_bytes()).is_none()
}

fn has_mark(s: &str) -> bool {
    // the marker's UTF-8 lead byte is rare: test for it first (a plain byte search,
    // much cheaper than a char search on the short texts here)
    const LEAD: u8 = 0xEE;
    const _: () = assert!(MARK_OPEN.len_utf8() == 3 && (MARK_OPEN as u32) >> 12 == 0xE);
    memchr::memchr(LEAD, s.as_bytes()).is_some() && s.contains(MARK_OPEN)
}

fn marker(i: usize) -> String {
    format!("{MARK_OPEN}{i}{MARK_CLOSE}")
}

/// `ign` as a sorted set (only membership is ever tested).
pub fn ign_set<'a>(ign: &[&'a str]) -> Vec<&'a str> {
    let mut v = ign.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// An option set as a plan or sample compares it.
#[derive(Debug, Clone)]
struct Key {
    ign: Vec<String>,
    keys: Vec<String>,
    vals: Vec<Option<String>>,
}

impl Key {
    fn of(entries: &[Entry<'_>], ign: &[&str]) -> Self {
        Key {
            ign: ign.iter().map(|s| s.to_string()).collect(),
            keys: entries.iter().map(|(k, _)| k.to_string()).collect(),
            vals: entries
                .iter()
                .map(|(_, v)| v.as_ref().map(|v| v.to_string()))
                .collect(),
        }
    }
    /// Same ignored names, entry names and valued entries.
    fn same_form(&self, entries: &[Entry<'_>], ign: &[&str]) -> bool {
        entries.len() == self.keys.len()
            && ign.len() == self.ign.len()
            && ign.iter().zip(&self.ign).all(|(a, b)| *a == b.as_str())
            && entries
                .iter()
                .zip(self.keys.iter().zip(&self.vals))
                .all(|((k, v), (sk, sv))| *k == sk.as_str() && v.is_some() == sv.is_some())
    }
}

/// A resolution with markers for the varying entries (see the module doc).
#[derive(Debug)]
pub struct TagPlan {
    form: Key,
    varying: Vec<bool>,
    lookups: Vec<(String, Option<String>)>,
    /// Per entry: the changed text, its markers already cut out.
    outs: Vec<Option<Out>>,
    used: Vec<bool>,
}

/// The plans of one definition file, and the option set of its first user.
#[derive(Debug, Clone, Default)]
pub struct PlanStore {
    sample: Option<Key>,
    pub plans: Vec<Rc<TagPlan>>,
}

/// What a marker run gave: per entry the changed text, whether a tag referred to it,
/// and the on-demand lookups with their answers.
pub type Run = (
    Vec<Option<String>>,
    Vec<bool>,
    Vec<(String, Option<String>)>,
);

impl PlanStore {
    /// After a full resolution of `entries`: when they differ from the sample only in
    /// inert values, resolves them again with markers there (`run`) and keeps the plan;
    /// otherwise they become the sample.
    pub fn learn(
        &mut self,
        entries: &[Entry<'_>],
        ign: &[&str],
        run: &mut dyn FnMut(&[Entry<'_>]) -> Option<Run>,
    ) {
        if self.plans.len() >= MAX_PLANS {
            return;
        }
        let varying = match &self.sample {
            Some(s) if s.same_form(entries, ign) => {
                let mut varying = vec![false; entries.len()];
                for (i, ((_, v), sv)) in entries.iter().zip(&s.vals).enumerate() {
                    if let (Some(a), Some(b)) = (v.as_deref(), sv.as_deref())
                        && a != b
                    {
                        if !(inert(a) && inert(b)) {
                            varying.clear();
                            break;
                        }
                        varying[i] = true;
                    }
                }
                varying
            }
            _ => Vec::new(),
        };
        if varying.is_empty() {
            self.sample = Some(Key::of(entries, ign));
            return;
        }
        let marked: Vec<Entry<'_>> = entries
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                let v = if varying[i] {
                    Some(Cow::Owned(marker(i)))
                } else {
                    v.clone()
                };
                (*k, v)
            })
            .collect();
        let clean =
            entries.iter().enumerate().all(|(i, (k, v))| {
                !has_mark(k) && (varying[i] || !v.as_deref().is_some_and(has_mark))
            }) && !ign.iter().any(|s| has_mark(s));
        if !clean {
            return;
        }
        let Some((outs, used, lookups)) = run(&marked) else {
            return;
        };
        let tainted = lookups
            .iter()
            .any(|(n, a)| has_mark(n) || a.as_deref().is_some_and(has_mark));
        if tainted {
            return;
        }
        // a text with a malformed marker could never be replayed: no plan then
        let Some(outs) = outs
            .into_iter()
            .map(|o| o.map(Out::of).map_or(Some(None), |c| c.map(Some)))
            .collect::<Option<Vec<_>>>()
        else {
            return;
        };
        self.plans.push(Rc::new(TagPlan {
            form: Key::of(entries, ign),
            varying,
            lookups,
            outs,
            used,
        }));
    }
}

impl TagPlan {
    /// The on-demand lookups of the plan (those of a replay, too).
    pub fn lookups(&self) -> &[(String, Option<String>)] {
        &self.lookups
    }

    /// The resolution of `entries` (per entry the changed text, and whether a tag
    /// referred to it), when this plan provably gives it; `ign` as [`ign_set`] gives it,
    /// `addrepl` the caller's on-demand lookup.
    pub fn apply(
        &self,
        entries: &[Entry<'_>],
        ign: &[&str],
        addrepl: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
    ) -> Option<(Vec<Option<String>>, Vec<bool>)> {
        if !self.form.same_form(entries, ign) {
            return None;
        }
        for (i, ((_, v), sv)) in entries.iter().zip(&self.form.vals).enumerate() {
            let ok = if self.varying[i] {
                v.as_deref().is_some_and(inert)
            } else {
                v.as_deref() == sv.as_deref()
            };
            if !ok {
                return None;
            }
        }
        for (name, want) in &self.lookups {
            match addrepl(name) {
                Ok(got) if got == *want => {}
                _ => return None,
            }
        }
        let mut outs = Vec::with_capacity(entries.len());
        for (o, (_, raw)) in self.outs.iter().zip(entries) {
            let text = match o {
                None => {
                    outs.push(None);
                    continue;
                }
                Some(Out::Plain(t)) => {
                    if raw.as_deref() == Some(t.as_str()) {
                        outs.push(None);
                        continue;
                    }
                    t.clone()
                }
                Some(Out::Marked(pieces)) => fill(pieces, entries)?,
            };
            outs.push((raw.as_deref() != Some(text.as_str())).then_some(text));
        }
        Some((outs, self.used.clone()))
    }
}

/// A plan's text for one entry: as it is, or cut at its markers (cut once, when the
/// plan is made, instead of searched on every replay).
#[derive(Debug)]
enum Out {
    Plain(String),
    Marked(Vec<Piece>),
}

/// A run of literal text, or the entry whose value goes there.
#[derive(Debug)]
enum Piece {
    Lit(String),
    Val(usize),
}

impl Out {
    /// `t` cut at its markers; `None` for a malformed marker.
    fn of(t: String) -> Option<Out> {
        if !has_mark(&t) {
            return Some(Out::Plain(t));
        }
        let mut pieces = Vec::new();
        let mut rest = t.as_str();
        while let Some(i) = rest.find(MARK_OPEN) {
            if i > 0 {
                pieces.push(Piece::Lit(rest[..i].to_string()));
            }
            let after = &rest[i + MARK_OPEN.len_utf8()..];
            let end = after.find(MARK_CLOSE)?;
            pieces.push(Piece::Val(after[..end].parse().ok()?));
            rest = &after[end + MARK_CLOSE.len_utf8()..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Lit(rest.to_string()));
        }
        Some(Out::Marked(pieces))
    }
}

/// The text of `pieces` with each marked entry's value put in (`None` when an entry is
/// missing or has no value).
fn fill(pieces: &[Piece], entries: &[Entry<'_>]) -> Option<String> {
    let mut len = 0;
    for p in pieces {
        len += match p {
            Piece::Lit(s) => s.len(),
            Piece::Val(i) => entries.get(*i)?.1.as_deref()?.len(),
        };
    }
    let mut out = String::with_capacity(len);
    for p in pieces {
        match p {
            Piece::Lit(s) => out.push_str(s),
            Piece::Val(i) => out.push_str(entries.get(*i)?.1.as_deref()?),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::tags_fast::resolve_all_used;
    use super::*;

    /// The iptables construction: a tag name built from `type`, values from `name` and
    /// `port` in deeper rounds. The plan learnt from two jails gives a third jail's
    /// values exactly as a full resolution does.
    #[test]
    fn replays_like_a_full_resolution() {
        let lookup = |t: &str| -> Result<Option<String>, String> {
            Ok(match t {
                "ipt_multiport/r" => Some("--dports <port> -j f2b-<name>".to_string()),
                "ipt_oneport/r" => Some("--dport <port>".to_string()),
                _ => None,
            })
        };
        let set = |name: &'static str, port: &'static str, ty: &'static str| {
            vec![
                (
                    "start",
                    Some(Cow::Borrowed("<pre><ipt_<type>/r> <ip> <chain>")),
                ),
                ("pre", Some(Cow::Borrowed(""))),
                ("type", Some(Cow::Borrowed(ty))),
                ("chain", Some(Cow::Borrowed("INPUT"))),
                ("name", Some(Cow::Borrowed(name))),
                ("port", Some(Cow::Borrowed(port))),
                ("ip", None),
            ]
        };
        let full = |e: &[Entry<'_>]| {
            let mut l = lookup;
            resolve_all_used(e, &|_| false, &mut l).unwrap()
        };
        let mut store = PlanStore::default();
        let mut run = |e: &[Entry<'_>]| -> Option<Run> {
            let mut lookups = Vec::new();
            let mut l = |t: &str| {
                let r = lookup(t);
                if let Ok(v) = &r {
                    lookups.push((t.to_string(), v.clone()));
                }
                r
            };
            let (o, u) = resolve_all_used(e, &|_| false, &mut l)?;
            Some((o, u, lookups))
        };
        store.learn(&set("sshd", "ssh", "multiport"), &[], &mut run);
        assert!(store.plans.is_empty());
        store.learn(&set("apache", "http,https", "multiport"), &[], &mut run);
        assert_eq!(store.plans.len(), 1);
        let plan = store.plans[0].clone();
        let third = set("postfix", "smtp,465", "multiport");
        let mut l = lookup;
        let got = plan.apply(&third, &[], &mut l).unwrap();
        assert_eq!(got, full(&third));
        assert_eq!(
            got.0[0].as_deref(),
            Some("--dports smtp,465 -j f2b-postfix <ip> INPUT")
        );
        // a value with a space, or another type, is not the plan's business
        assert!(
            plan.apply(&set("a", "1 2", "multiport"), &[], &mut l)
                .is_none()
        );
        assert!(plan.apply(&set("a", "1", "oneport"), &[], &mut l).is_none());
        // a varying `type` would build tag names from a marker: no plan
        let mut store = PlanStore::default();
        store.learn(&set("a", "1", "multiport"), &[], &mut run);
        store.learn(&set("b", "2", "oneport"), &[], &mut run);
        assert!(store.plans.is_empty());
    }
}
