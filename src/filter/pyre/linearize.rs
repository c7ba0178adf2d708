//! Look-around and conditionals rewritten away, so the pattern runs on the linear engine.
//!
//! [`linearize`] takes the translator's fancy pattern, parses it ([`ast::parse`]), and
//! applies three rewrites that keep every match and every group span, in the same
//! preference order:
//! - a back-reference to a group of one char out of a few (the date templates'
//!   `(?P<_sep>[-/.])…(?P=_sep)`) is removed by distributing over the chars ([`bref`]);
//! - a conditional `(?(g)Y|N)` whose group `g` is decided by an earlier choice (an
//!   optional group `(g)?`, or the branch of an alternation that holds `g`) is removed
//!   by distribution: `(?:A|B)R` is `(?:AR|BR)` for leftmost-first engines, and in each
//!   copy of the rest `R` the conditional is known ([`cond`]);
//! - negative look-aheads on a literal in the shapes fail2ban uses (`(?:(?!LIT).)*?`
//!   before `LIT`, `(?:(?!LIT).)*` before `$`, `(?!LIT)` before a run like `\S+`) become
//!   plain regular expressions ([`look`]);
//! - a capture over an alternation with a branch ending in an open run (apache's
//!   `(:?error|\S+:\S+)\]`) is spread over what follows it, so that the chain that
//!   finds group spans can shorten that run ([`spread`]).
//!
//! Distribution copies capture groups, which the `regex` crate cannot name twice: the
//! result has plain numbered groups and a map from each to the original group
//! ([`Linear::map`]); only one copy of a group can take part in a match.

mod ast;
mod bref;
mod cond;
mod look;
mod spread;

pub use ast::{Node, parse};

/// A linear form of a fancy pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linear {
    /// Pattern for the `regex` crate; its groups are all unnamed.
    pub pattern: String,
    /// Group index in `pattern` (1-based, position k-1) → group index in the original
    /// (`usize::MAX` for a helper group, which has none).
    pub map: Vec<usize>,
    /// Names of the original groups (index 0: whole match).
    pub names: Vec<Option<String>>,
}

/// Largest linear pattern produced (distribution multiplies the rest of a pattern).
const MAX_LEN: usize = 16 * 1024;

/// The linear form of `fancy` (translator output), or None when some construct is not
/// one the rewrites can prove equal.
pub fn linearize(fancy: &str) -> Option<Linear> {
    let parsed = parse(fancy)?;
    // Python compares back-referenced texts without case in a case-insensitive scope.
    let root = if fancy.contains("\\k<") && has_flag(&parsed.root, &['i']) {
        return None;
    } else {
        bref::expand(parsed.root, &parsed.names)?
    };
    let root = cond::expand(root)?;
    // Case-insensitive or dot-all scopes change what a literal or `.` reads; the
    // look-ahead rewrites assume neither.
    let plain = !has_flag(&root, &['i', 's']);
    let root = look::rewrite(root, plain)?;
    // Spreading only helps the chain; when it makes the pattern too big, it is skipped.
    let spread = emit_within(&spread::spread(root.clone()));
    let (pattern, map) = spread.or_else(|| emit_within(&root))?;
    Some(Linear {
        pattern,
        map,
        names: parsed.names,
    })
}

/// Pattern text and group map of `root`, if within [`MAX_LEN`].
fn emit_within(root: &Node) -> Option<(String, Vec<usize>)> {
    let mut pattern = String::new();
    let mut map = Vec::new();
    ast::emit(root, &mut pattern, &mut map)?;
    (pattern.len() <= MAX_LEN).then_some((pattern, map))
}

/// Whether a flag group or global flag setting turns on one of `flags`.
fn has_flag(n: &Node, flags: &[char]) -> bool {
    let on = |opener: &str| {
        let body = opener.trim_start_matches("(?");
        let on = body.split(['-', ':', ')']).next().unwrap_or("");
        on.chars().any(|c| flags.contains(&c))
    };
    match n {
        Node::Atom(t) => t.starts_with("(?") && on(t),
        Node::Group(o, b) => on(o) || has_flag(b, flags),
        Node::Cat(v) | Node::Alt(v) => v.iter().any(|c| has_flag(c, flags)),
        Node::Cap(_, b) | Node::Rep(b, _) | Node::Look(_, b) => has_flag(b, flags),
        Node::Cond(_, y, no) => has_flag(y, flags) || has_flag(no, flags),
    }
}

/// Spans of the original groups from the spans of the linear pattern's groups.
pub fn map_spans(
    map: &[usize],
    groups: usize,
    spans: &[Option<(usize, usize)>],
) -> Vec<Option<(usize, usize)>> {
    let mut out = vec![None; groups];
    if let (Some(o), Some(s)) = (out.first_mut(), spans.first()) {
        *o = *s;
    }
    for (k, &g) in map.iter().enumerate() {
        if let (Some(Some(s)), Some(o)) = (spans.get(k + 1), out.get_mut(g))
            && o.is_none()
        {
            *o = Some(*s);
        }
    }
    out
}

#[cfg(test)]
mod tests;
