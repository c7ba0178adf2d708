//! Conditionals `(?(g)Y|N)` removed by distributing the choice that decides `g`.
//!
//! In a sequence `… D R`, where item `D` is the choice that decides whether `g` takes
//! part (an optional `(g…)?`, or a group over an alternation one of whose branches
//! always sets `g` and the others never do), `D R` becomes `(?:D₁ R₁|D₂ R₂|…)` in `D`'s
//! own preference order, each `Rᵢ` a copy of `R` with `g`'s conditionals replaced by the
//! branch that copy takes. A backtracking engine tries `D₁ R` fully before `D₂ R`, and so
//! does a leftmost-first engine on the alternation: same matches, same spans. Inside a
//! repetition a group keeps its value from earlier rounds, so nothing under a loop is
//! expanded (such patterns keep their conditional and stay fancy).

use std::collections::BTreeSet;

use super::ast::{Node, Quant};

/// The truth of some groups (does the group take part?).
type Assign = Vec<(usize, bool)>;

/// `n` with every conditional it can decide removed (others are left in place).
pub fn expand(n: Node) -> Option<Node> {
    Some(inner(n, false))
}

/// Recurses into `n`, expanding each sequence not under a loop.
fn inner(n: Node, in_loop: bool) -> Node {
    match n {
        Node::Cat(items) if !in_loop => Node::Cat(expand_cat(items)),
        Node::Cat(items) => Node::Cat(items.into_iter().map(|c| inner(c, true)).collect()),
        Node::Alt(v) => Node::Alt(v.into_iter().map(|c| inner(c, in_loop)).collect()),
        Node::Cap(g, b) => Node::Cap(g, Box::new(inner(*b, in_loop))),
        Node::Group(o, b) => Node::Group(o, Box::new(inner(*b, in_loop))),
        Node::Rep(b, q) => {
            let looped = in_loop || q.hi != Some(1);
            Node::Rep(Box::new(inner(*b, looped)), q)
        }
        Node::Look(o, b) => Node::Look(o, Box::new(inner(*b, in_loop))),
        Node::Cond(g, y, no) => Node::Cond(
            g,
            Box::new(inner(*y, in_loop)),
            Box::new(inner(*no, in_loop)),
        ),
        Node::Atom(_) => n,
    }
}

fn expand_cat(mut items: Vec<Node>) -> Vec<Node> {
    let mut i = 0;
    while i < items.len() {
        let mut refs = BTreeSet::new();
        for n in &items[i + 1..] {
            cond_refs(n, &mut refs);
        }
        let mut all = BTreeSet::new();
        caps_all(&items[i], &mut all);
        let refs: BTreeSet<usize> = refs.intersection(&all).copied().collect();
        if refs.is_empty() {
            i += 1;
            continue;
        }
        let always = caps_always(&items[i]);
        if refs.is_subset(&always) {
            let assign: Vec<(usize, bool)> = refs.iter().map(|&g| (g, true)).collect();
            for n in &mut items[i + 1..] {
                subst(n, &assign);
            }
            i += 1;
            continue;
        }
        let Some(choices) = choices(&items[i], &refs) else {
            // Undecidable here: leave the conditionals (the pattern stays fancy).
            i += 1;
            continue;
        };
        let rest = items.split_off(i + 1);
        items.pop();
        let alts = choices
            .into_iter()
            .map(|(head, assign)| {
                let mut r = rest.clone();
                for n in &mut r {
                    subst(n, &assign);
                }
                let mut seq = vec![inner(head, false)];
                seq.extend(expand_cat(r));
                Node::Cat(seq)
            })
            .collect();
        let mut out: Vec<Node> = items.into_iter().map(|n| inner(n, false)).collect();
        out.push(Node::Alt(alts));
        return out;
    }
    items.into_iter().map(|n| inner(n, false)).collect()
}

/// The alternatives of a deciding item, in preference order, each with the truth of
/// every group in `refs`; None if the item is no such choice or a branch leaves a
/// group undecided.
fn choices(item: &Node, refs: &BTreeSet<usize>) -> Option<Vec<(Node, Assign)>> {
    let heads: Vec<Node> = match item {
        Node::Rep(
            b,
            Quant {
                lo: 0,
                hi: Some(1),
                lazy,
            },
        ) => {
            let take = (**b).clone();
            let skip = Node::Cat(Vec::new());
            if *lazy {
                vec![skip, take]
            } else {
                vec![take, skip]
            }
        }
        Node::Cap(g, b) => match &**b {
            Node::Alt(v) => v
                .iter()
                .map(|c| Node::Cap(*g, Box::new(c.clone())))
                .collect(),
            _ => return None,
        },
        Node::Group(o, b) => match &**b {
            Node::Alt(v) => v
                .iter()
                .map(|c| Node::Group(o.clone(), Box::new(c.clone())))
                .collect(),
            _ => return None,
        },
        _ => return None,
    };
    heads
        .into_iter()
        .map(|h| {
            let always = caps_always(&h);
            let mut all = BTreeSet::new();
            caps_all(&h, &mut all);
            let assign = refs
                .iter()
                .map(|&g| match (always.contains(&g), all.contains(&g)) {
                    (true, _) => Some((g, true)),
                    (false, false) => Some((g, false)),
                    (false, true) => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some((h, assign))
        })
        .collect()
}

fn children(n: &Node) -> Vec<&Node> {
    match n {
        Node::Atom(_) => Vec::new(),
        Node::Cat(v) | Node::Alt(v) => v.iter().collect(),
        Node::Cap(_, b) | Node::Group(_, b) | Node::Rep(b, _) | Node::Look(_, b) => vec![b],
        Node::Cond(_, y, no) => vec![y, no],
    }
}

/// Groups tested by conditionals in `n`.
fn cond_refs(n: &Node, out: &mut BTreeSet<usize>) {
    if let Node::Cond(g, ..) = n {
        out.insert(*g);
    }
    for c in children(n) {
        cond_refs(c, out);
    }
}

/// Every capture group in `n`.
fn caps_all(n: &Node, out: &mut BTreeSet<usize>) {
    if let Node::Cap(g, _) = n {
        out.insert(*g);
    }
    for c in children(n) {
        caps_all(c, out);
    }
}

/// The capture groups that take part whenever `n` matches.
fn caps_always(n: &Node) -> BTreeSet<usize> {
    let meet = |v: &mut dyn Iterator<Item = &Node>| {
        let mut acc: Option<BTreeSet<usize>> = None;
        for c in v {
            let s = caps_always(c);
            acc = Some(match acc {
                None => s,
                Some(a) => a.intersection(&s).copied().collect(),
            });
        }
        acc.unwrap_or_default()
    };
    match n {
        Node::Atom(_) | Node::Look(..) => BTreeSet::new(),
        Node::Cat(v) => v.iter().flat_map(caps_always).collect(),
        Node::Alt(v) => meet(&mut v.iter()),
        Node::Cap(g, b) => {
            let mut s = caps_always(b);
            s.insert(*g);
            s
        }
        Node::Group(_, b) => caps_always(b),
        Node::Rep(b, q) if q.lo >= 1 => caps_always(b),
        Node::Rep(..) => BTreeSet::new(),
        Node::Cond(_, y, no) => meet(&mut [&**y, &**no].into_iter()),
    }
}

/// Replaces conditionals on the groups in `assign` by the branch their truth selects.
fn subst(n: &mut Node, assign: &[(usize, bool)]) {
    if let Node::Cond(g, y, no) = n
        && let Some(&(_, t)) = assign.iter().find(|(a, _)| a == g)
    {
        let b = if t { &**y } else { &**no };
        *n = Node::Group("(?:".to_string(), Box::new(b.clone()));
    }
    match n {
        Node::Atom(_) => {}
        Node::Cat(v) | Node::Alt(v) => v.iter_mut().for_each(|c| subst(c, assign)),
        Node::Cap(_, b) | Node::Group(_, b) | Node::Rep(b, _) | Node::Look(_, b) => {
            subst(b, assign)
        }
        Node::Cond(_, y, no) => {
            subst(y, assign);
            subst(no, assign);
        }
    }
}
