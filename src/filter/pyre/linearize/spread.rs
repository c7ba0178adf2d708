//! A capture over an alternation, followed by more pattern, spread over its branches so
//! that a branch ending in an open run sees what follows it.
//!
//! apache's `\[(:?error|\S+:\S+)\]( \[pid …` is the shape: where the second branch ends
//! depends on the `\]` after the group (its last `\S+` gives back the `]` it read), so
//! the group-by-group walk of [`crate::filter::pyre`]'s chain, which takes a branch's
//! own first path, cannot tell the group's span and the capture search runs instead.
//! `(A|B)R` is `(?:(A)R|(B)R)` for a leftmost-first engine (the paths in the same
//! order, the same spans; copies of the group are mapped back by
//! [`super::Linear::map`]). In each copy the branch's trailing run gets a helper group
//! ([`HELPER`], no original group): the chain then sees the run as a step of its own,
//! followed by the rest, and shortens it as a backtracker would.
//!
//! Only sequences outside loops are spread (a group there is set anew each round), and
//! only where some branch ends in such a run.

use super::ast::{Node, Quant};

/// The original index of a helper group in [`super::Linear::map`]: none (its span is
/// dropped by [`super::map_spans`]).
pub const HELPER: usize = usize::MAX;

/// `n` with each qualifying capture spread over the rest of its sequence.
pub fn spread(n: Node) -> Node {
    inner(n, false)
}

fn inner(n: Node, in_loop: bool) -> Node {
    match n {
        Node::Cat(items) if !in_loop => Node::Cat(spread_cat(items)),
        Node::Cat(items) => Node::Cat(items.into_iter().map(|c| inner(c, true)).collect()),
        Node::Alt(v) => Node::Alt(v.into_iter().map(|c| inner(c, in_loop)).collect()),
        Node::Cap(g, b) => Node::Cap(g, Box::new(inner(*b, in_loop))),
        Node::Group(o, b) => Node::Group(o, Box::new(inner(*b, in_loop))),
        Node::Rep(b, q) => {
            let looped = in_loop || q.hi != Some(1);
            Node::Rep(Box::new(inner(*b, looped)), q)
        }
        n => n,
    }
}

fn spread_cat(mut items: Vec<Node>) -> Vec<Node> {
    let found = items
        .iter()
        .enumerate()
        .take(items.len().saturating_sub(1))
        .find_map(|(i, item)| match item {
            Node::Cap(g, body) => branches(body)
                .filter(|bs| bs.iter().any(|b| run_at_end(b).is_some()))
                .map(|bs| (i, *g, bs.to_vec())),
            _ => None,
        });
    let Some((i, g, bs)) = found else {
        return items.into_iter().map(|c| inner(c, false)).collect();
    };
    let rest = items.split_off(i + 1);
    items.pop();
    let mut out: Vec<Node> = items.into_iter().map(|c| inner(c, false)).collect();
    let copies = bs
        .into_iter()
        .map(|b| {
            let mut seq = vec![Node::Cap(g, Box::new(inner(mark(b), false)))];
            seq.extend(rest.iter().cloned());
            // The copies of the rest may hold more captures to spread.
            Node::Cat(spread_cat(seq))
        })
        .collect();
    out.push(Node::Group("(?:".into(), Box::new(Node::Alt(copies))));
    out
}

/// The branches of a group body that is an alternation (maybe in a plain group).
fn branches(body: &Node) -> Option<&[Node]> {
    match body {
        Node::Alt(v) if v.len() > 1 => Some(v),
        Node::Cat(v) if v.len() == 1 => branches(&v[0]),
        Node::Group(o, b) if o == "(?:" => branches(b),
        _ => None,
    }
}

/// The position of a branch's trailing unbounded run of one char class (`C+`, `C*`,
/// lazy or not): the last item of the branch's sequence (`usize::MAX`: the branch is
/// the run itself).
fn run_at_end(b: &Node) -> Option<usize> {
    let is_run = |n: &Node| match n {
        Node::Rep(x, Quant { lo, hi: None, .. }) if *lo <= 1 => match &**x {
            Node::Atom(t) => {
                t == "."
                    || (t.starts_with('[') && t.ends_with(']'))
                    || matches!(t.as_str(), r"\S" | r"\s" | r"\w" | r"\W" | r"\d" | r"\D")
            }
            _ => false,
        },
        _ => false,
    };
    match b {
        Node::Cat(v) if v.len() > 1 && v.last().is_some_and(is_run) => Some(v.len() - 1),
        n if is_run(n) => Some(usize::MAX),
        _ => None,
    }
}

/// `b` with its trailing run (if any) in a helper group.
fn mark(b: Node) -> Node {
    match (run_at_end(&b), b) {
        (Some(usize::MAX), run) => Node::Cap(HELPER, Box::new(run)),
        (Some(_), Node::Cat(mut v)) => {
            if let Some(run) = v.pop() {
                v.push(Node::Cap(HELPER, Box::new(run)));
            }
            Node::Cat(v)
        }
        (_, b) => b,
    }
}
