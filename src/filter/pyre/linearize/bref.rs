//! Back-references to a group of one char from a small set, removed by distribution.
//!
//! fail2ban's date templates write `(?P<_sep>[-/.])%m(?P=_sep)`: the group reads one
//! char out of a few, so `(G)RT` (`R` the rest up to the last reference, `T` after it)
//! is `(?:(c1)R[c1]|(c2)R[c2]|…)T` over the chars `ci` of the group, each copy of `R`
//! with its references replaced by the literal. At any position at most one `ci` matches, so each
//! path of the original is one path of exactly one branch, in the same order, and group
//! spans are unchanged (the copies of groups are mapped back by [`super::Linear::map`]).
//!
//! Applies only where the group and all references to it are in one concatenation, the
//! group before them and outside any repetition (then the group is always set when a
//! reference is reached, with its value from this match), and without a case-insensitive
//! scope (Python compares the texts without case there). Back-references left over keep
//! the pattern on fancy-regex.

use std::collections::BTreeMap;

use regex_syntax::hir::{Class, HirKind};

use super::ast::Node;

/// Most chars a group may read for its references to be distributed.
const MAX_CHARS: usize = 8;

/// `n` without back-references, or None when some cannot be removed.
pub fn expand(n: Node, names: &[Option<String>]) -> Option<Node> {
    let mut totals = BTreeMap::new();
    count(&n, names, &mut totals)?;
    if totals.is_empty() {
        return Some(n);
    }
    let n = walk(n, names, &totals);
    let mut left = BTreeMap::new();
    count(&n, names, &mut left)?;
    left.is_empty().then_some(n)
}

/// The group a back-reference atom (`\k<name>` / `\k<N>`) refers to; None for other
/// nodes, Some(None) for a reference that names no group.
fn target(n: &Node, names: &[Option<String>]) -> Option<Option<usize>> {
    let Node::Atom(t) = n else { return None };
    let r = t.strip_prefix("\\k<")?.strip_suffix('>')?;
    Some(match r.parse::<usize>() {
        Ok(g) => (g > 0 && g < names.len()).then_some(g),
        Err(_) => names.iter().position(|x| x.as_deref() == Some(r)),
    })
}

/// Adds the references in `n` to `counts` (by group); None on a reference to no group.
fn count(n: &Node, names: &[Option<String>], counts: &mut BTreeMap<usize, usize>) -> Option<()> {
    if let Some(g) = target(n, names) {
        *counts.entry(g?).or_default() += 1;
        return Some(());
    }
    match n {
        Node::Atom(_) => {}
        Node::Cat(v) | Node::Alt(v) => {
            for c in v {
                count(c, names, counts)?;
            }
        }
        Node::Cap(_, b) | Node::Group(_, b) | Node::Rep(b, _) | Node::Look(_, b) => {
            count(b, names, counts)?;
        }
        Node::Cond(_, y, no) => {
            count(y, names, counts)?;
            count(no, names, counts)?;
        }
    }
    Some(())
}

/// Distributes where it can; never into a repetition (a group there is set anew each
/// round).
fn walk(n: Node, names: &[Option<String>], totals: &BTreeMap<usize, usize>) -> Node {
    match n {
        Node::Cat(items) => Node::Cat(walk_cat(items, names, totals)),
        Node::Alt(v) => Node::Alt(v.into_iter().map(|c| walk(c, names, totals)).collect()),
        Node::Cap(g, b) => Node::Cap(g, Box::new(walk(*b, names, totals))),
        Node::Group(o, b) => Node::Group(o, Box::new(walk(*b, names, totals))),
        n => n,
    }
}

fn walk_cat(
    mut items: Vec<Node>,
    names: &[Option<String>],
    totals: &BTreeMap<usize, usize>,
) -> Vec<Node> {
    let found = items.iter().enumerate().find_map(|(i, item)| {
        let Node::Cap(g, body) = item else {
            return None;
        };
        let want = *totals.get(g)?;
        let mut here = BTreeMap::new();
        for later in &items[i + 1..] {
            count(later, names, &mut here)?;
        }
        let chars = one_char_of(body)?;
        (here.get(g) == Some(&want)).then_some((i, *g, chars))
    });
    let Some((i, g, chars)) = found else {
        return items.into_iter().map(|c| walk(c, names, totals)).collect();
    };
    let mut rest = items.split_off(i + 1);
    items.pop();
    // Only the part of the rest up to the last reference is copied (`(G)HT` is
    // `(?:(c1)H1|(c2)H2|…)T`): short branches, a small pattern.
    let tail = rest.split_off(head_len(&rest, g, names));
    let mut out: Vec<Node> = items.into_iter().map(|c| walk(c, names, totals)).collect();
    let branches = chars
        .iter()
        .map(|&c| {
            let lit = Node::Atom(literal_of(c));
            let mut seq = vec![Node::Cap(g, Box::new(lit.clone()))];
            seq.extend(rest.iter().cloned().map(|r| subst(r, g, &lit, names)));
            // The copies may hold references to later groups: distributed in turn.
            Node::Cat(walk_cat(seq, names, totals))
        })
        .collect();
    out.push(Node::Group("(?:".into(), Box::new(Node::Alt(branches))));
    out.extend(walk_cat(tail, names, totals));
    out
}

/// How many items of `rest` the copies must hold: up to the last reference to `g`, and
/// on to the last reference to any group captured in those items (a reference stays in
/// the same sequence as its group, where it can be distributed in turn).
fn head_len(rest: &[Node], g: usize, names: &[Option<String>]) -> usize {
    // A conditional on such a group counts too: it must stay where its group is.
    let refs_any = |n: &Node, groups: &BTreeMap<usize, ()>| {
        let mut here = BTreeMap::new();
        let unknown = count(n, names, &mut here).is_none();
        conds(n, &mut here);
        unknown || here.keys().any(|k| groups.contains_key(k))
    };
    let mut groups = BTreeMap::from([(g, ())]);
    let mut len = 0;
    loop {
        let Some(last) = rest.iter().rposition(|n| refs_any(n, &groups)) else {
            return len;
        };
        if last < len {
            return len;
        }
        len = last + 1;
        for n in &rest[..len] {
            caps(n, &mut groups);
        }
    }
}

/// Adds the groups that conditionals in `n` test to `out`.
fn conds(n: &Node, out: &mut BTreeMap<usize, usize>) {
    match n {
        Node::Atom(_) => {}
        Node::Cat(v) | Node::Alt(v) => v.iter().for_each(|c| conds(c, out)),
        Node::Cap(_, b) | Node::Group(_, b) | Node::Rep(b, _) | Node::Look(_, b) => conds(b, out),
        Node::Cond(g, y, no) => {
            *out.entry(*g).or_default() += 1;
            conds(y, out);
            conds(no, out);
        }
    }
}

/// Adds the capture groups in `n` to `out`.
fn caps(n: &Node, out: &mut BTreeMap<usize, ()>) {
    match n {
        Node::Atom(_) => {}
        Node::Cat(v) | Node::Alt(v) => v.iter().for_each(|c| caps(c, out)),
        Node::Cap(g, b) => {
            out.insert(*g, ());
            caps(b, out);
        }
        Node::Group(_, b) | Node::Rep(b, _) | Node::Look(_, b) => caps(b, out),
        Node::Cond(_, y, no) => {
            caps(y, out);
            caps(no, out);
        }
    }
}

/// `c` as pattern text that reads the same under any flags (no raw space, which a
/// verbose scope would skip).
fn literal_of(c: char) -> String {
    if c.is_ascii_alphanumeric() {
        c.to_string()
    } else if c.is_ascii_punctuation() {
        format!("\\{c}")
    } else {
        format!("\\x{{{:X}}}", c as u32)
    }
}

/// `n` with references to group `g` replaced by `lit`.
fn subst(n: Node, g: usize, lit: &Node, names: &[Option<String>]) -> Node {
    if target(&n, names) == Some(Some(g)) {
        return lit.clone();
    }
    let s = |b: Box<Node>| Box::new(subst(*b, g, lit, names));
    match n {
        Node::Atom(_) => n,
        Node::Cat(v) => Node::Cat(v.into_iter().map(|c| subst(c, g, lit, names)).collect()),
        Node::Alt(v) => Node::Alt(v.into_iter().map(|c| subst(c, g, lit, names)).collect()),
        Node::Cap(i, b) => Node::Cap(i, s(b)),
        Node::Group(o, b) => Node::Group(o, s(b)),
        Node::Rep(b, q) => Node::Rep(s(b), q),
        Node::Look(o, b) => Node::Look(o, s(b)),
        Node::Cond(i, y, no) => Node::Cond(i, s(y), s(no)),
    }
}

/// The chars a group body reads when it is one char (a literal or a class) out of at
/// most [`MAX_CHARS`], in ascending order.
fn one_char_of(body: &Node) -> Option<Vec<char>> {
    let atom = match body {
        Node::Atom(t) => t,
        Node::Cat(v) => match &v[..] {
            [Node::Atom(t)] => t,
            _ => return None,
        },
        _ => return None,
    };
    // `.` depends on the dot-all flag; anything zero-width or longer is not one char.
    if atom == "." || atom.starts_with("(?") || atom.starts_with("\\k<") {
        return None;
    }
    let hir = regex_syntax::parse(atom).ok()?;
    match hir.kind() {
        HirKind::Literal(l) => {
            let s = std::str::from_utf8(&l.0).ok()?;
            let mut it = s.chars();
            let c = it.next()?;
            it.next().is_none().then(|| vec![c])
        }
        HirKind::Class(Class::Unicode(c)) => {
            let mut out = Vec::new();
            for r in c.ranges() {
                for ch in r.start()..=r.end() {
                    if out.len() == MAX_CHARS {
                        return None;
                    }
                    out.push(ch);
                }
            }
            Some(out)
        }
        _ => None,
    }
}
