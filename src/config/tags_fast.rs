//! Fast path of config-time `<tag>` substitution ([`resolve_all`]): every value and every
//! on-demand lookup is resolved once, depth first, and memoised, instead of fail2ban's
//! repeated passes over all values ([`super::tags::substitute_recursive_tags`]).
//!
//! When the pass algorithm ends without error, each value ends up with every resolvable
//! tag replaced, whatever the order of replacements (tags never overlap, and a tag built
//! across a replacement boundary is picked up by a later round). So the results agree
//! whenever the pass algorithm cannot fail; the fast path gives up (`None`, the caller
//! then runs the pass algorithm, which reports the exact error) on anything that could
//! make it fail: a self or cyclic reference, a tag replaced more than 25 times in one
//! value (counted on the expansion tree, an upper bound of fail2ban's count), a lookup
//! error, or runaway nesting.

use std::borrow::Cow;
use std::collections::HashMap;

use super::ini::FxBuild;
use super::tags::find_tag;

/// fail2ban's `MAX_TAG_REPLACE_COUNT`.
const MAX_COUNT: u32 = 25;
/// Deeper chains of references go to the pass algorithm (keeps the recursion bounded).
const MAX_DEPTH: usize = 64;
/// Rounds of re-scanning for tags built across replacement boundaries.
const MAX_ROUNDS: usize = 25;

/// The fast path cannot vouch for the result.
struct Bail;

#[derive(Clone, Copy, PartialEq)]
enum State {
    Todo,
    Busy,
    Done,
}

struct Node<'a> {
    /// The value before substitution.
    raw: Cow<'a, str>,
    /// The map key this value belongs to (a value may not refer to itself).
    own: Option<&'a str>,
    state: State,
    /// The substituted value, when it differs from `raw`.
    out: Option<String>,
    /// Replacements made in this value, per node, over its whole expansion.
    counts: Vec<(u32, u32)>,
}

impl Node<'_> {
    fn text(&self) -> &str {
        self.out.as_deref().unwrap_or(&self.raw)
    }
}

type AddRepl<'f> = dyn FnMut(&str) -> Result<Option<String>, String> + 'f;

struct Resolver<'a, 'f> {
    nodes: Vec<Node<'a>>,
    index: HashMap<&'a str, usize, FxBuild>,
    /// On-demand lookups by name: node id, or `None` when the name is unknown.
    extra: HashMap<String, Option<usize>, FxBuild>,
    ignore: &'f dyn Fn(&str) -> bool,
    addrepl: &'f mut AddRepl<'f>,
    /// Per entry: some tag referred to it.
    used: Vec<bool>,
}

/// Substitutes tags in `entries` (the combined options in order, names unique); values
/// `None` are not substituted and do not replace tags (the lookup goes to `addrepl`, as
/// for unknown names). Returns, per entry, the new text when it changed, or `None` when
/// the pass algorithm must decide.
pub fn resolve_all<'a, 'f>(
    entries: &'a [(&'a str, Option<Cow<'a, str>>)],
    ignore: &'f dyn Fn(&str) -> bool,
    addrepl: &'f mut AddRepl<'f>,
) -> Option<Vec<Option<String>>> {
    resolve_all_used(entries, ignore, addrepl).map(|(out, _)| out)
}

/// [`resolve_all`], also telling per entry whether some tag referred to it.
pub fn resolve_all_used<'a, 'f>(
    entries: &'a [(&'a str, Option<Cow<'a, str>>)],
    ignore: &'f dyn Fn(&str) -> bool,
    addrepl: &'f mut AddRepl<'f>,
) -> Option<(Vec<Option<String>>, Vec<bool>)> {
    let mut r = Resolver {
        used: vec![false; entries.len()],
        nodes: Vec::with_capacity(entries.len() + 16),
        index: HashMap::with_capacity_and_hasher(entries.len(), FxBuild::default()),
        extra: HashMap::with_capacity_and_hasher(16, FxBuild::default()),
        ignore,
        addrepl,
    };
    for (i, (k, v)) in entries.iter().enumerate() {
        // a value-less name is looked up on demand, like an unknown one
        if v.is_some() {
            r.index.insert(k, i);
        }
        r.nodes.push(Node {
            raw: Cow::Borrowed(v.as_deref().unwrap_or("")),
            own: Some(k),
            state: State::Todo,
            out: None,
            counts: Vec::new(),
        });
    }
    for (i, (k, v)) in entries.iter().enumerate() {
        if v.is_some() && !(r.ignore)(k) {
            r.resolve(i, 0).ok()?;
        }
    }
    let used = std::mem::take(&mut r.used);
    Some((
        r.nodes
            .into_iter()
            .take(entries.len())
            .map(|n| n.out)
            .collect(),
        used,
    ))
}

/// Whether `s` ends inside a possible tag: `<` followed by name characters only.
fn open_tail(s: &str) -> bool {
    memchr::memrchr3(b' ', b'<', b'>', s.as_bytes()).is_some_and(|i| s.as_bytes()[i] == b'<')
}

fn bump(counts: &mut Vec<(u32, u32)>, id: u32, by: u32) -> Result<(), Bail> {
    let c = match counts.iter_mut().find(|(k, _)| *k == id) {
        Some((_, c)) => c,
        None => {
            counts.push((id, 0));
            match counts.last_mut() {
                Some((_, c)) => c,
                None => return Err(Bail),
            }
        }
    };
    *c += by;
    if *c > MAX_COUNT { Err(Bail) } else { Ok(()) }
}

impl<'a> Resolver<'a, '_> {
    /// The node replacing `<name>`, if any.
    fn lookup(&mut self, name: &str) -> Result<Option<usize>, Bail> {
        if let Some(&i) = self.index.get(name) {
            if let Some(u) = self.used.get_mut(i) {
                *u = true;
            }
            return Ok(Some(i));
        }
        if let Some(e) = self.extra.get(name) {
            return Ok(*e);
        }
        let found = (self.addrepl)(name).map_err(|_| Bail)?;
        let id = found.map(|text| {
            self.nodes.push(Node {
                raw: Cow::Owned(text),
                own: None,
                state: State::Todo,
                out: None,
                counts: Vec::new(),
            });
            self.nodes.len() - 1
        });
        self.extra.insert(name.to_string(), id);
        Ok(id)
    }

    fn resolve(&mut self, id: usize, depth: usize) -> Result<(), Bail> {
        match self.nodes[id].state {
            State::Done => return Ok(()),
            State::Busy => return Err(Bail),
            State::Todo => {}
        }
        if depth > MAX_DEPTH {
            return Err(Bail);
        }
        self.nodes[id].state = State::Busy;
        let raw = std::mem::take(&mut self.nodes[id].raw);
        let own = self.nodes[id].own;
        let mut counts: Vec<(u32, u32)> = Vec::new();
        let mut cur: Option<String> = None;
        for _round in 0..MAX_ROUNDS {
            let text: &str = cur.as_deref().unwrap_or(&raw);
            let mut out = String::new();
            let mut last = 0;
            let mut pos = 0;
            let mut replaced = false;
            let mut built = false;
            while let Some((s, e)) = find_tag(text, pos) {
                pos = e;
                let name = &text[s + 1..e - 1];
                if (self.ignore)(name) {
                    continue;
                }
                if own == Some(name) {
                    return Err(Bail);
                }
                let Some(child) = self.lookup(name)? else {
                    continue;
                };
                self.resolve(child, depth + 1)?;
                bump(&mut counts, child as u32, 1)?;
                for &(k, c) in &self.nodes[child].counts {
                    bump(&mut counts, k, c)?;
                }
                if !replaced {
                    out.reserve(text.len() + 64);
                    replaced = true;
                }
                out.push_str(&text[last..s]);
                built |= open_tail(&out);
                out.push_str(self.nodes[child].text());
                built |= open_tail(&out);
                last = e;
            }
            if !replaced {
                self.finish(id, raw, cur, counts);
                return Ok(());
            }
            out.push_str(&text[last..]);
            cur = Some(out);
            if !built {
                self.finish(id, raw, cur, counts);
                return Ok(());
            }
        }
        Err(Bail)
    }

    fn finish(
        &mut self,
        id: usize,
        raw: Cow<'a, str>,
        out: Option<String>,
        counts: Vec<(u32, u32)>,
    ) {
        let n = &mut self.nodes[id];
        n.out = out.filter(|o| *o != *raw);
        n.raw = raw;
        n.counts = counts;
        n.state = State::Done;
    }
}

#[cfg(test)]
mod tests {
    use super::super::ini::OrdMap;
    use super::super::tags::substitute_recursive_tags;
    use super::*;
    use std::collections::HashSet;

    /// A small deterministic generator (xorshift) for the differential test.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[(self.next() % xs.len() as u64) as usize]
        }
    }

    const KEYS: &[&str] = &["a", "b", "c", "d", "e", "f", "ab", "x?c=1"];
    const EXTRA: &[(&str, &str)] = &[
        ("s/o", "S<a>"),
        ("q", "<b>q"),
        ("ab", "AB"),
        ("bb", "<c"),
        ("self", "<self>"),
    ];

    fn random_value(r: &mut Rng) -> String {
        let parts = [
            "<a>", "<b>", "<c>", "<d>", "<e>", "<f>", "<ab>", "<s/o>", "<q>", "<bb>", "<zz>",
            "<self>", "<bad>", "<", ">", " ", "z", "<a", "b>", "<<a>b>", "<x", "x",
        ];
        let n = r.next() % 5;
        (0..n).map(|_| r.pick(&parts)).collect()
    }

    fn addrepl(t: &str) -> Result<Option<String>, String> {
        if t == "bad" {
            return Err("lookup failed".into());
        }
        Ok(EXTRA
            .iter()
            .find(|(k, _)| *k == t)
            .map(|(_, v)| v.to_string()))
    }

    #[test]
    fn agrees_with_the_pass_algorithm() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut fast_ok, mut total) = (0, 0);
        for _ in 0..20_000 {
            let mut entries: Vec<(&str, Option<Cow<'_, str>>)> = Vec::new();
            for k in KEYS {
                match r.next() % 6 {
                    0 => {}
                    1 => entries.push((k, None)),
                    _ => entries.push((k, Some(Cow::Owned(random_value(&mut r))))),
                }
            }
            let ign: Vec<&str> = KEYS
                .iter()
                .copied()
                .filter(|_| r.next().is_multiple_of(7))
                .collect();
            let is_ign = |t: &str| ign.contains(&t);
            let mut rep = addrepl;
            let fast = resolve_all(&entries, &is_ign, &mut rep);
            total += 1;
            // Only a fast result needs checking (and the pass algorithm can blow up
            // exponentially on the cyclic inputs the fast path refuses).
            let Some(fast) = fast else { continue };
            fast_ok += 1;
            let map: OrdMap<Option<String>> = entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_ref().map(|v| v.to_string())))
                .collect();
            let set: HashSet<String, FxBuild> = ign.iter().map(|s| s.to_string()).collect();
            let slow = substitute_recursive_tags(map, &set, &mut addrepl)
                .unwrap_or_else(|e| panic!("{entries:?} ign {ign:?}: slow failed {e}"));
            for ((k, v), f) in entries.iter().zip(fast) {
                let want = slow.get(k).cloned().flatten();
                let got = f.or_else(|| v.as_ref().map(|v| v.to_string()));
                assert_eq!(got, want, "{entries:?} ign {ign:?} key {k}");
            }
        }
        // the fast path must handle the ordinary cases, not just give up
        assert!(
            fast_ok * 5 > total,
            "fast path took only {fast_ok} of {total}"
        );
    }

    #[test]
    fn iptables_like_construction() {
        let entries: Vec<(&str, Option<Cow<'_, str>>)> = vec![
            ("type", Some("multiport".into())),
            ("rule", Some("<pre><ipt_<type>/r> -j <ip>".into())),
            ("pre", Some("".into())),
        ];
        let mut rep = |t: &str| -> Result<Option<String>, String> {
            Ok((t == "ipt_multiport/r").then(|| "--dports <port>".to_string()))
        };
        let out = resolve_all(&entries, &|_| false, &mut rep).unwrap();
        assert_eq!(out[1].as_deref(), Some("--dports <port> -j <ip>"));
        assert_eq!(out[0], None);
    }
}
