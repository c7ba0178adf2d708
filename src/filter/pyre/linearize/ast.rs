//! A structural view of a translated (Rust-syntax) pattern: [`Node`] trees from
//! [`parse`], back to text with [`emit`].
//!
//! Only what the rewrites in [`super`] reason about gets structure: groups, alternation,
//! repetition, look-around and conditionals. Everything else (a char, an escape, a class,
//! an assertion) stays an opaque [`Node::Atom`] whose text is emitted verbatim, so what
//! the rewrites leave alone reads exactly as the translator wrote it.

/// One node of a parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Opaque text that matches one char or is zero-width (never a quantifier or group).
    Atom(String),
    Cat(Vec<Node>),
    Alt(Vec<Node>),
    /// A capture group (its index in the original pattern, 1-based) or a non-capturing
    /// group with its opener text (`(?:`, `(?m:`, `(?i-s:` …).
    Cap(usize, Box<Node>),
    Group(String, Box<Node>),
    Rep(Box<Node>, Quant),
    /// Look-around: the opener (`(?=`, `(?!`, `(?<=`, `(?<!`) and body.
    Look(String, Box<Node>),
    /// Conditional on a capture group (original index): yes and no branches.
    Cond(usize, Box<Node>, Box<Node>),
}

/// A quantifier: `{lo,hi}` (`hi` None: unbounded), lazy or greedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quant {
    pub lo: u32,
    pub hi: Option<u32>,
    pub lazy: bool,
}

/// A parsed pattern: the tree and the names of its capture groups (index 0: whole match).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub root: Node,
    pub names: Vec<Option<String>>,
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
    names: Vec<Option<String>>,
    /// Conditionals by name, resolved once all groups are known.
    pending: Vec<String>,
}

/// Parses translator output; None for anything outside the shapes the translator emits
/// (atomic groups, possessive quantifiers), which stay on fancy-regex. Back-references
/// parse as opaque atoms `\k<…>`.
pub fn parse(pattern: &str) -> Option<Parsed> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut p = Parser {
        s: &chars,
        i: 0,
        names: vec![None],
        pending: Vec::new(),
    };
    let root = p.alt()?;
    if p.i != chars.len() {
        return None;
    }
    let names = p.names;
    let pending = p.pending;
    let root = resolve(root, &names, &pending)?;
    Some(Parsed { root, names })
}

/// Conditionals parsed before their group was seen carry `usize::MAX - k` (the k-th
/// name in `pending`); map them to group indices now.
fn resolve(n: Node, names: &[Option<String>], pending: &[String]) -> Option<Node> {
    let r = |b: Box<Node>| resolve(*b, names, pending).map(Box::new);
    Some(match n {
        Node::Atom(_) => n,
        Node::Cat(v) => Node::Cat(
            v.into_iter()
                .map(|c| resolve(c, names, pending))
                .collect::<Option<_>>()?,
        ),
        Node::Alt(v) => Node::Alt(
            v.into_iter()
                .map(|c| resolve(c, names, pending))
                .collect::<Option<_>>()?,
        ),
        Node::Cap(i, b) => Node::Cap(i, r(b)?),
        Node::Group(o, b) => Node::Group(o, r(b)?),
        Node::Rep(b, q) => Node::Rep(r(b)?, q),
        Node::Look(o, b) => Node::Look(o, r(b)?),
        Node::Cond(g, y, no) => {
            let g = if g >= usize::MAX - pending.len() {
                let name = &pending[usize::MAX - g];
                names.iter().position(|n| n.as_deref() == Some(name))?
            } else {
                g
            };
            if g == 0 || g >= names.len() {
                return None;
            }
            Node::Cond(g, r(y)?, r(no)?)
        }
    })
}

impl Parser<'_> {
    fn peek(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }

    fn alt(&mut self) -> Option<Node> {
        let mut branches = vec![self.cat()?];
        while self.peek(0) == Some('|') {
            self.i += 1;
            branches.push(self.cat()?);
        }
        Some(if branches.len() == 1 {
            branches.pop()?
        } else {
            Node::Alt(branches)
        })
    }

    fn cat(&mut self) -> Option<Node> {
        let mut items = Vec::new();
        while let Some(c) = self.peek(0) {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            let atom = self.quantified(atom)?;
            items.push(atom);
        }
        Some(Node::Cat(items))
    }

    fn quantified(&mut self, mut node: Node) -> Option<Node> {
        loop {
            let (lo, hi) = match self.peek(0) {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => {
                    let (lo, hi, len) = self.counted()?;
                    self.i += len - 1;
                    (lo, hi)
                }
                _ => return Some(node),
            };
            self.i += 1;
            let lazy = self.peek(0) == Some('?');
            if lazy {
                self.i += 1;
            } else if self.peek(0) == Some('+') {
                return None;
            }
            node = Node::Rep(Box::new(node), Quant { lo, hi, lazy });
        }
    }

    /// `{n}`, `{n,}`, `{n,m}` at the cursor: (lo, hi, length in chars).
    fn counted(&self) -> Option<(u32, Option<u32>, usize)> {
        let rest: String = self.s[self.i..].iter().take(24).collect();
        let end = rest.find('}')?;
        let body = &rest[1..end];
        let (lo, hi) = match body.split_once(',') {
            Some((l, "")) => (l.parse().ok()?, None),
            Some((l, h)) => (l.parse().ok()?, Some(h.parse().ok()?)),
            None => {
                let n = body.parse().ok()?;
                (n, Some(n))
            }
        };
        Some((lo, hi, rest[..=end].chars().count()))
    }

    fn atom(&mut self) -> Option<Node> {
        let c = self.peek(0)?;
        match c {
            '\\' => self.escape().map(Node::Atom),
            '[' => self.class().map(Node::Atom),
            '(' => self.group(),
            '*' | '+' | '?' | '{' => None,
            _ => {
                self.i += 1;
                Some(Node::Atom(c.to_string()))
            }
        }
    }

    fn escape(&mut self) -> Option<String> {
        let start = self.i;
        let e = self.peek(1)?;
        self.i += 2;
        match e {
            // A back-reference `\k<name>` stays an opaque atom here; [`super::bref`]
            // removes it or the pattern stays fancy (`emit` refuses it).
            'k' if self.peek(0) == Some('<') => {
                while self.peek(0)? != '>' {
                    self.i += 1;
                }
                self.i += 1;
            }
            'k' => return None,
            'x' | 'p' | 'P' | 'b' if self.peek(0) == Some('{') => {
                while self.peek(0)? != '}' {
                    self.i += 1;
                }
                self.i += 1;
            }
            'p' | 'P' => self.i += 1,
            _ => {}
        }
        Some(self.s[start..self.i].iter().collect())
    }

    fn class(&mut self) -> Option<String> {
        let start = self.i;
        let mut depth = 0usize;
        loop {
            let c = self.peek(0)?;
            match c {
                '\\' => {
                    self.escape()?;
                    continue;
                }
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        break;
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Some(self.s[start..self.i].iter().collect())
    }

    fn close(&mut self) -> Option<()> {
        (self.peek(0) == Some(')')).then(|| self.i += 1)
    }

    fn name(&mut self, end: char) -> Option<String> {
        let mut name = String::new();
        loop {
            let c = self.peek(0)?;
            self.i += 1;
            if c == end {
                return Some(name);
            }
            name.push(c);
        }
    }

    fn group(&mut self) -> Option<Node> {
        if self.peek(1) != Some('?') {
            self.i += 1;
            self.names.push(None);
            let idx = self.names.len() - 1;
            let body = self.alt()?;
            self.close()?;
            return Some(Node::Cap(idx, Box::new(body)));
        }
        let rest: String = self.s[self.i..].iter().take(4).collect();
        for look in ["(?<=", "(?<!", "(?=", "(?!"] {
            if rest.starts_with(look) {
                self.i += look.chars().count();
                let body = self.alt()?;
                self.close()?;
                return Some(Node::Look(look.to_string(), Box::new(body)));
            }
        }
        if rest.starts_with("(?P<") {
            self.i += 4;
            let name = self.name('>')?;
            self.names.push(Some(name));
            let idx = self.names.len() - 1;
            let body = self.alt()?;
            self.close()?;
            return Some(Node::Cap(idx, Box::new(body)));
        }
        if rest.starts_with("(?(") {
            self.i += 3;
            let cond = self.name(')')?;
            let g = match cond.strip_prefix('<').and_then(|c| c.strip_suffix('>')) {
                Some(name) => match self.names.iter().position(|n| n.as_deref() == Some(name)) {
                    Some(g) => g,
                    None => {
                        self.pending.push(name.to_string());
                        usize::MAX - (self.pending.len() - 1)
                    }
                },
                None => cond.parse().ok()?,
            };
            let body = self.alt()?;
            self.close()?;
            let (yes, no) = match body {
                Node::Alt(mut v) if v.len() == 2 => {
                    let no = v.pop()?;
                    (v.pop()?, no)
                }
                Node::Alt(_) => return None,
                b => (b, Node::Cat(Vec::new())),
            };
            return Some(Node::Cond(g, Box::new(yes), Box::new(no)));
        }
        // `(?flags:` or a global `(?flags)`; atomic `(?>` and anything else: not ours.
        let mut j = self.i + 2;
        while let Some(&c) = self.s.get(j) {
            match c {
                'i' | 'm' | 's' | 'u' | 'x' | 'U' | 'R' | '-' => j += 1,
                ':' => {
                    let opener: String = self.s[self.i..=j].iter().collect();
                    self.i = j + 1;
                    let body = self.alt()?;
                    self.close()?;
                    return Some(Node::Group(opener, Box::new(body)));
                }
                ')' => {
                    let text: String = self.s[self.i..=j].iter().collect();
                    self.i = j + 1;
                    return Some(Node::Atom(text));
                }
                _ => return None,
            }
        }
        None
    }
}

/// Pattern text of `n`; capture groups become plain `(`…`)` and `map` receives, for
/// each in emission order, its original index. None if look-around or a conditional
/// is left (the result would not be a linear pattern).
pub fn emit(n: &Node, out: &mut String, map: &mut Vec<usize>) -> Option<()> {
    match n {
        Node::Atom(t) if t.starts_with("\\k<") => return None,
        Node::Atom(t) => out.push_str(t),
        Node::Cat(v) => {
            for c in v {
                if matches!(c, Node::Alt(_)) {
                    out.push_str("(?:");
                    emit(c, out, map)?;
                    out.push(')');
                } else {
                    emit(c, out, map)?;
                }
            }
        }
        Node::Alt(v) => {
            for (k, c) in v.iter().enumerate() {
                if k > 0 {
                    out.push('|');
                }
                emit(c, out, map)?;
            }
        }
        Node::Cap(g, b) => {
            map.push(*g);
            out.push('(');
            emit(b, out, map)?;
            out.push(')');
        }
        Node::Group(o, b) => {
            out.push_str(o);
            emit(b, out, map)?;
            out.push(')');
        }
        Node::Rep(b, q) => {
            let single = match &**b {
                Node::Atom(t) => !t.starts_with("(?"),
                Node::Cap(..) | Node::Group(..) => true,
                Node::Cat(v) => {
                    v.len() == 1 && matches!(&v[0], Node::Atom(t) if !t.starts_with("(?"))
                }
                _ => false,
            };
            if single {
                emit(b, out, map)?;
            } else {
                out.push_str("(?:");
                emit(b, out, map)?;
                out.push(')');
            }
            match (q.lo, q.hi) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (lo, None) => out.push_str(&format!("{{{lo},}}")),
                (lo, Some(hi)) if lo == hi => out.push_str(&format!("{{{lo}}}")),
                (lo, Some(hi)) => out.push_str(&format!("{{{lo},{hi}}}")),
            }
            if q.lazy {
                out.push('?');
            }
        }
        Node::Look(..) | Node::Cond(..) => return None,
    }
    Some(())
}

/// The literal char an atom stands for, if it is one (plain char or escaped punctuation).
pub fn literal(n: &Node) -> Option<char> {
    let Node::Atom(t) = n else { return None };
    let mut it = t.chars();
    let c = it.next()?;
    match (c, it.next(), it.next()) {
        ('\\', Some(e), None) if e.is_ascii_punctuation() || e == ' ' => Some(e),
        (c, None, _) if !".^$|()[]{}*+?\\".contains(c) => Some(c),
        _ => None,
    }
}

/// The literal string a node matches, if it is a plain literal (a char sequence).
pub fn literal_str(n: &Node) -> Option<String> {
    match n {
        Node::Cat(v) => v.iter().map(literal).collect(),
        Node::Group(o, b) if o == "(?:" => literal_str(b),
        n => literal(n).map(String::from),
    }
}
