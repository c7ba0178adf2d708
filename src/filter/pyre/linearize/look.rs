//! Negative look-aheads on a literal, in the shapes fail2ban's filters use, rewritten as
//! plain regular expressions.
//!
//! Each rewrite needs to know what follows the construct ([`Follow`]: a literal the rest
//! surely starts with, or an end of line), and applies only where the construct can end
//! in exactly one place for a given start. Then paths through the rewritten part differ
//! only inside it, where there are no groups, so spans and preference order outside are
//! untouched.
//! - `(?:(?!LIT).)*?` (or `*`) followed by `LIT`: it ends at the first `LIT` at or after
//!   its start, with no `\n` before. As a language: `w` without `\n` such that
//!   `w + LIT[..len-1]` holds no `LIT` ([`avoid`]).
//! - `(?:(?!LIT).)*` (or `*?`) followed by an end of line: it runs to the line end, and
//!   the run holds no `LIT`.
//! - `(?!LIT)C+` (or `C*`, greedy or lazy), `C` one char class holding every char of
//!   `LIT`, followed by a char outside `C` or outside `LIT` ([`guarded_run`]): the run's
//!   paths in the same order, minus those starting with `LIT` (apache's
//!   `(?!evasive)\S+:\S+`).
//! - `(?!c)X`, one char `c`, `X` runs `C*`/`C*?` (maybe alternatives, in a group): the
//!   test moves into the first char of each run ([`first_not`]).

use super::ast::{Node, Quant, literal, literal_str};

/// What the text after a node surely looks like.
#[derive(Debug, Clone, Default)]
struct Follow {
    /// A prefix the following text always has ("" when unknown).
    lit: String,
    /// The following position is a line end (`\n` or end of text) and nothing is known
    /// beyond it.
    eol: bool,
}

/// `n` with the look-aheads it can prove away rewritten; `plain`: no case-insensitive or
/// dot-all scope anywhere (else nothing is rewritten).
pub fn rewrite(n: Node, plain: bool) -> Option<Node> {
    Some(if plain {
        walk(n, &Follow::default())
    } else {
        n
    })
}

fn walk(n: Node, follow: &Follow) -> Node {
    let unknown = Follow::default();
    match n {
        Node::Cat(items) => Node::Cat(walk_cat(items, follow)),
        Node::Alt(v) => Node::Alt(v.into_iter().map(|c| walk(c, follow)).collect()),
        Node::Cap(g, b) => Node::Cap(g, Box::new(walk(*b, follow))),
        Node::Group(o, b) => Node::Group(o, Box::new(walk(*b, follow))),
        Node::Rep(b, q) => Node::Rep(Box::new(walk(*b, &unknown)), q),
        Node::Look(o, b) => Node::Look(o, Box::new(walk(*b, &unknown))),
        Node::Cond(g, y, no) => {
            Node::Cond(g, Box::new(walk(*y, follow)), Box::new(walk(*no, follow)))
        }
        Node::Atom(_) => n,
    }
}

fn walk_cat(items: Vec<Node>, follow: &Follow) -> Vec<Node> {
    // fs[i]: what follows item i.
    let mut fs = vec![follow.clone(); items.len()];
    for i in (1..items.len()).rev() {
        fs[i - 1] = prepend(&items[i], &fs[i]);
    }
    let mut out = Vec::with_capacity(items.len());
    let mut it = items.into_iter().zip(fs).peekable();
    while let Some((item, f)) = it.next() {
        if let Some(r) = dot_loop(&item, &f) {
            out.push(r);
            continue;
        }
        if let Some((next, nf)) = it.peek()
            && let Some(r) = guarded_run(&item, next, nf).or_else(|| guarded_first(&item, next, nf))
        {
            out.push(r);
            it.next();
            continue;
        }
        out.push(walk(item, &f));
    }
    out
}

/// What follows `n` given what follows after it.
fn prepend(n: &Node, after: &Follow) -> Follow {
    if let Some(c) = literal(n) {
        return Follow {
            lit: format!("{c}{}", after.lit),
            eol: false,
        };
    }
    let eol = Follow {
        lit: String::new(),
        eol: true,
    };
    match n {
        Node::Atom(t) if t == "$" || t == r"\z" => eol,
        Node::Group(o, b) if is_flag_group(o) => match &**b {
            Node::Cat(v) if v.len() == 1 && v[0] == Node::Atom("$".into()) => eol,
            b => prepend(b, after),
        },
        Node::Cap(_, b) => prepend(b, after),
        Node::Cat(v) => v.iter().rev().fold(after.clone(), |f, c| prepend(c, &f)),
        _ => Follow::default(),
    }
}

/// `(?:` or `(?flags:` (scoped flags only).
fn is_flag_group(o: &str) -> bool {
    o.starts_with("(?")
        && o.ends_with(':')
        && o[2..o.len() - 1].chars().all(|c| "imsuxUR-".contains(c))
}

/// The literal of a negative look-ahead `(?!LIT)`.
fn neg_lit(n: &Node) -> Option<Vec<char>> {
    match n {
        Node::Look(o, b) if o == "(?!" => {
            let lit: Vec<char> = literal_str(b)?.chars().collect();
            (!lit.is_empty() && !lit.contains(&'\n')).then_some(lit)
        }
        _ => None,
    }
}

/// `(?:(?!LIT).)*?` / `(?:(?!LIT).)*` before `LIT` or a line end.
fn dot_loop(n: &Node, f: &Follow) -> Option<Node> {
    let Node::Rep(
        b,
        Quant {
            lo: 0, hi: None, ..
        },
    ) = n
    else {
        return None;
    };
    let Node::Group(o, body) = &**b else {
        return None;
    };
    let Node::Cat(v) = &**body else { return None };
    if o != "(?:" || v.len() != 2 || v[1] != Node::Atom(".".into()) {
        return None;
    }
    let lit = neg_lit(&v[0])?;
    let tail: Vec<char> = if f.eol {
        Vec::new()
    } else if f.lit.chars().take(lit.len()).eq(lit.iter().copied()) {
        lit[..lit.len() - 1].to_vec()
    } else {
        return None;
    };
    let text = avoid(&lit, &tail)?;
    Some(Node::Group(
        "(?:".into(),
        Box::new(Node::Cat(vec![Node::Atom(text)])),
    ))
}

/// `(?!LIT)` then a run `C+`/`C*` of one class that holds `LIT`, where the text after
/// the run starts with a char outside the class or outside `LIT` (or is a line end).
///
/// The look-ahead tests only the run's start, so it keeps all of the run's paths or
/// none. The replacement reads `LIT` char by char in nested greedy (or lazy) options:
/// the lengths come in the original order, and only lengths that stop inside a copy of
/// `LIT` at the start are added. Those are followed by the next char of `LIT`, which the
/// text after the run cannot start with (outside `C`, the run cannot stop there; outside
/// `LIT`, the next char is not it), so they never complete.
fn guarded_run(look: &Node, run: &Node, f: &Follow) -> Option<Node> {
    let lit = neg_lit(look)?;
    let Node::Rep(b, Quant { lo, hi: None, lazy }) = run else {
        return None;
    };
    let Node::Atom(class) = &**b else { return None };
    if *lo > 1 || !(class.starts_with('[') || class.starts_with('\\')) || literal(b).is_some() {
        return None;
    }
    let re = regex::Regex::new(&format!("^{class}$")).ok()?;
    let is_in = |c: char| re.is_match(c.encode_utf8(&mut [0; 4]));
    // (A char outside `C` is outside `LIT` too.) `LIT` holds no `\n`, so a line end
    // cannot follow a stop inside it either.
    let ends = match f.lit.chars().next() {
        Some(c) => !lit.contains(&c),
        None => f.eol,
    };
    if !ends || !lit.iter().all(|&c| is_in(c)) {
        return None;
    }
    let (star, opt) = if *lazy { ("*?", "??") } else { ("*", "?") };
    // Built from the last char back: level j has read LIT[..j]; it either leaves LIT
    // with a class char other than LIT[j] (then any run), or reads LIT[j] and goes on,
    // optionally (the stop at j). Level m-1 cannot read LIT[m-1]: that would complete LIT.
    let mut inner = String::new();
    for (j, &c) in lit.iter().enumerate().rev() {
        let leave = format!("[{class}&&[^{}]]{class}{star}", class_char(c));
        inner = if j + 1 == lit.len() {
            leave
        } else {
            format!("{leave}|{}(?:{inner}){opt}", regex::escape(&c.to_string()))
        };
    }
    let text = if *lo == 0 {
        format!("(?:{inner}){opt}")
    } else {
        format!("(?:{inner})")
    };
    Some(Node::Group(
        "(?:".into(),
        Box::new(Node::Cat(vec![Node::Atom(text)])),
    ))
}

/// `(?!c)` (one char) before `X`: the test moves into `X`'s first char. Only when `X`
/// is a capture or group over runs `C*`/`C*?` (or alternatives of them), and the text
/// after `X` never starts with `c` (so an empty `X` passes the test as before).
fn guarded_first(look: &Node, next: &Node, f: &Follow) -> Option<Node> {
    let lit = neg_lit(look)?;
    let [c] = lit[..] else { return None };
    let empty_ok = match f.lit.chars().next() {
        Some(d) => d != c,
        None => f.eol && c != '\n',
    };
    if !empty_ok {
        return None;
    }
    first_not(next, c)
}

/// `n` restricted to texts not starting with `c`, in the same preference order:
/// `C*` → `(?:[C&&[^c]]C*)?`, `C*?` → `(?:[C&&[^c]]C*?)??`.
fn first_not(n: &Node, c: char) -> Option<Node> {
    match n {
        Node::Cap(g, b) => Some(Node::Cap(*g, Box::new(first_not(b, c)?))),
        Node::Group(o, b) if o == "(?:" => Some(Node::Group(o.clone(), Box::new(first_not(b, c)?))),
        Node::Cat(v) if v.len() == 1 => Some(Node::Cat(vec![first_not(&v[0], c)?])),
        Node::Alt(v) => Some(Node::Alt(
            v.iter().map(|b| first_not(b, c)).collect::<Option<_>>()?,
        )),
        Node::Rep(
            b,
            Quant {
                lo: 0,
                hi: None,
                lazy,
            },
        ) => {
            let Node::Atom(t) = &**b else { return None };
            let class = if t == "." {
                "[^\\n]".to_string()
            } else if (t.starts_with('[') || t.starts_with('\\')) && literal(b).is_none() {
                t.clone()
            } else {
                return None;
            };
            let (q, opt) = if *lazy { ("*?", "??") } else { ("*", "?") };
            Some(Node::Group(
                "(?:".into(),
                Box::new(Node::Cat(vec![Node::Atom(format!(
                    "(?:[{class}&&[^{}]]{t}{q}){opt}",
                    class_char(c)
                ))])),
            ))
        }
        _ => None,
    }
}

/// `c` written inside a class.
fn class_char(c: char) -> String {
    match c {
        '\\' | ']' | '[' | '^' | '-' | '&' | '~' => format!("\\{c}"),
        c if c.is_control() => format!("\\x{{{:X}}}", c as u32),
        c => c.to_string(),
    }
}

/// The class of the symbols in `set` (indices into `chars`, `chars.len()`: any other
/// char but `\n`).
fn class_of(chars: &[char], set: &[usize]) -> String {
    let other = chars.len();
    if set.contains(&other) {
        let out: String = (0..other)
            .filter(|s| !set.contains(s))
            .map(|s| class_char(chars[s]))
            .collect();
        format!("[^\\n{out}]")
    } else if set.len() == 1 {
        regex::escape(&chars[set[0]].to_string())
    } else {
        let inner: String = set.iter().map(|&s| class_char(chars[s])).collect();
        format!("[{inner}]")
    }
}

/// A regular expression for the strings `w` without `\n` such that `w + tail` holds no
/// `lit`: the automaton of "longest suffix that is a prefix of `lit`", turned into a
/// pattern by state elimination. None if it grows too big.
pub fn avoid(lit: &[char], tail: &[char]) -> Option<String> {
    let m = lit.len();
    let mut chars: Vec<char> = Vec::new();
    for &c in lit {
        if !chars.contains(&c) {
            chars.push(c);
        }
    }
    // Next state after `state` (a prefix length < m) reads `c` (None: a char not in lit).
    let step = |state: usize, c: Option<char>| -> usize {
        let Some(c) = c else { return 0 };
        let mut s: Vec<char> = lit[..state].to_vec();
        s.push(c);
        (0..=s.len().min(m))
            .rev()
            .find(|&k| s[s.len() - k..] == lit[..k])
            .unwrap_or(0)
    };
    let accepts = |mut q: usize| {
        for &c in tail {
            q = step(q, Some(c));
            if q == m {
                return false;
            }
        }
        true
    };
    // Nodes 0..m: states; m: start; m + 1: final.
    let n = m + 2;
    let mut r: Vec<Vec<Option<String>>> = vec![vec![None; n]; n];
    r[m][0] = Some(String::new());
    for q in 0..m {
        if accepts(q) {
            r[q][m + 1] = Some(String::new());
        }
        let mut by_dest: Vec<Vec<usize>> = vec![Vec::new(); m + 1];
        for s in 0..=chars.len() {
            by_dest[step(q, chars.get(s).copied())].push(s);
        }
        for (p, set) in by_dest.iter().enumerate().take(m) {
            if !set.is_empty() {
                r[q][p] = Some(class_of(&chars, set));
            }
        }
    }
    for k in (0..m).rev() {
        let star = match r[k][k].take() {
            None => String::new(),
            Some(l) if is_atom(&l) => format!("{l}*"),
            Some(l) => format!("(?:{l})*"),
        };
        for i in (0..n).filter(|&i| i != k) {
            let Some(ik) = r[i][k].take() else { continue };
            for j in (0..n).filter(|&j| j != k) {
                let Some(kj) = r[k][j].as_ref() else { continue };
                let path = format!("{ik}{star}{kj}");
                r[i][j] = Some(match r[i][j].take() {
                    None => path,
                    Some(old) => format!("(?:{old}|{path})"),
                });
            }
        }
        r[k].iter_mut().for_each(|x| *x = None);
        if r.iter().flatten().flatten().map(String::len).sum::<usize>() > 8192 {
            return None;
        }
    }
    let re = r[m][m + 1].take()?;
    Some(format!("(?:{re})"))
}

/// One char or one class (a `*` applies to all of it).
fn is_atom(s: &str) -> bool {
    let bracket = s.starts_with('[') && s.ends_with(']') && s[1..s.len() - 1].find('[').is_none();
    bracket || s.chars().count() == 1 || (s.len() == 2 && s.starts_with('\\'))
}
