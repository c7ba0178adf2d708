//! A small, safe evaluator for `bantime.formula` (and `bantime.factor`): the subset of
//! Python expressions ban-time formulas are written in. [`Formula::parse`] turns the
//! text into a tree (syntax errors are reported at `set` time, as Python's `compile`
//! does); [`Formula::eval`] computes it for an [`Env`] (`ban.Time`, `ban.Count`,
//! `banFactor`) with Python's number semantics ([`Num`], in `formula/num.rs`).
//!
//! Supported: int/float literals, `+ - * / // % **`, `<< >> & | ^ ~`, parentheses,
//! chained comparisons, `x if c else y`, `and`/`or`/`not`, `True`/`False`, the
//! builtins `float int abs max min round pow`, and `math.exp log log2 log10 sqrt pow
//! floor ceil fabs trunc e pi inf`. Nesting is bounded ([`MAX_DEPTH`]) and numbers
//! cannot overflow (ints past i128 become floats), so hostile text gives an error.

mod builtins;
pub mod num;

use builtins::{attribute, call};

pub use num::Num;

/// Deepest expression tree accepted (Python's own parser stops near 200 parentheses).
pub const MAX_DEPTH: u32 = 100;
/// Longest formula text accepted.
pub const MAX_LEN: usize = 10_000;

/// The names a formula sees.
#[derive(Debug, Clone, Copy)]
pub struct Env {
    /// `ban.Time`: the jail's ban time.
    pub ban_time: Num,
    /// `ban.Count`: bans of this id found in the database.
    pub ban_count: Num,
    /// `banFactor`: the evaluated `bantime.factor` (None where it is not defined).
    pub ban_factor: Option<Num>,
}

impl Env {
    /// No names at all (what `bantime.factor` itself is evaluated with).
    pub fn empty() -> Env {
        Env {
            ban_time: Num::Int(0),
            ban_count: Num::Int(0),
            ban_factor: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    Shl,
    Shr,
    And,
    Or,
    Xor,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Un {
    Neg,
    Pos,
    Inv,
    Not,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Lit(Num),
    Name(String),
    Attr(Box<Expr>, String),
    Call(Box<Expr>, Vec<Expr>),
    Unary(Un, Box<Expr>),
    Bin(Bin, Box<Expr>, Box<Expr>),
    Cmp(Box<Expr>, Vec<(Cmp, Expr)>),
    AndOr(bool, Box<Expr>, Box<Expr>),
    IfElse(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
struct Expr {
    depth: u32,
    kind: Kind,
}

/// A parsed formula.
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    text: String,
    root: Expr,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Num),
    Name(String),
    Op(&'static str),
    End,
}

const OPS: &[&str] = &[
    "**", "//", "<<", ">>", "<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "(", ")", ",", ".",
    "<", ">", "~", "&", "|", "^",
];

fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>, String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' || c == b'\x0c' {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let (n, len) = number(&src[i..]).map_err(|e| format!("{e} at column {}", i + 1))?;
            out.push((Tok::Num(n), start));
            i += len;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Name(src[start..i].to_string()), start));
            continue;
        }
        match OPS.iter().find(|op| src[i..].starts_with(**op)) {
            Some(op) => {
                out.push((Tok::Op(op), start));
                i += op.len();
            }
            None => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(format!(
                    "invalid syntax: unexpected {ch:?} at column {}",
                    i + 1
                ));
            }
        }
    }
    out.push((Tok::End, src.len()));
    Ok(out)
}

/// A numeric literal at the start of `s`: (value, byte length).
fn number(s: &str) -> Result<(Num, usize), String> {
    let b = s.as_bytes();
    let radix = match (b.first(), b.get(1)) {
        (Some(b'0'), Some(b'x' | b'X')) => 16,
        (Some(b'0'), Some(b'o' | b'O')) => 8,
        (Some(b'0'), Some(b'b' | b'B')) => 2,
        _ => 10,
    };
    if radix != 10 {
        let len = 2 + s[2..]
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .count();
        let digits: String = s[2..len].chars().filter(|c| *c != '_').collect();
        return i128::from_str_radix(&digits, radix)
            .map(|v| (Num::Int(v), len))
            .map_err(|_| format!("invalid number literal {:?}", &s[..len]));
    }
    let mut i = 0;
    let mut float = false;
    let digits = |i: &mut usize| {
        while *i < b.len() && (b[*i].is_ascii_digit() || b[*i] == b'_') {
            *i += 1;
        }
    };
    digits(&mut i);
    if i < b.len() && b[i] == b'.' {
        float = true;
        i += 1;
        digits(&mut i);
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            float = true;
            i = j;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
        return Err(format!("invalid number literal {:?}", &s[..=i]));
    }
    let text = &s[..i];
    if text.contains("__") || text.ends_with('_') || text.contains("_.") || text.contains("._") {
        return Err(format!("invalid number literal {text:?}"));
    }
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    if float {
        let v: f64 = clean
            .parse()
            .map_err(|_| format!("invalid number literal {text:?}"))?;
        return Ok((Num::Float(v), i));
    }
    if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|c| c != b'0') {
        return Err(format!("leading zeros in decimal literal {text:?}"));
    }
    match clean.parse::<i128>() {
        Ok(v) => Ok((Num::Int(v), i)),
        // Beyond i128: carried as a float, like any overflowing int here.
        Err(_) => clean
            .parse::<f64>()
            .map(|v| (Num::Float(v), i))
            .map_err(|_| format!("invalid number literal {text:?}")),
    }
}

struct Parser<'a> {
    toks: &'a [(Tok, usize)],
    pos: usize,
}

fn mk(kind: Kind, children: &[&Expr]) -> Result<Expr, String> {
    let depth = children.iter().map(|c| c.depth).max().unwrap_or(0) + 1;
    if depth > MAX_DEPTH {
        return Err(format!(
            "formula nested too deeply (more than {MAX_DEPTH} levels)"
        ));
    }
    Ok(Expr { depth, kind })
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }
    fn col(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].1 + 1
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == kw)
    }
    fn unexpected(&self) -> String {
        match self.peek() {
            Tok::End => "invalid syntax: unexpected end of formula".to_string(),
            Tok::Num(n) => format!("invalid syntax: unexpected {n} at column {}", self.col()),
            Tok::Name(n) => format!("invalid syntax: unexpected {n:?} at column {}", self.col()),
            Tok::Op(o) => format!("invalid syntax: unexpected {o:?} at column {}", self.col()),
        }
    }
    fn expect_op(&mut self, op: &str) -> Result<(), String> {
        if self.is_op(op) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    // test: or_test ['if' or_test 'else' test]
    fn test(&mut self, level: u32) -> Result<Expr, String> {
        if level > MAX_DEPTH {
            return Err(format!(
                "formula nested too deeply (more than {MAX_DEPTH} levels)"
            ));
        }
        let body = self.or_test(level)?;
        if !self.is_kw("if") {
            return Ok(body);
        }
        self.pos += 1;
        let cond = self.or_test(level)?;
        if !self.is_kw("else") {
            return Err(self.unexpected());
        }
        self.pos += 1;
        let other = self.test(level + 1)?;
        let e = mk(Kind::Lit(Num::Int(0)), &[&body, &cond, &other])?;
        Ok(Expr {
            depth: e.depth,
            kind: Kind::IfElse(Box::new(cond), Box::new(body), Box::new(other)),
        })
    }

    fn or_test(&mut self, level: u32) -> Result<Expr, String> {
        let mut lhs = self.and_test(level)?;
        while self.is_kw("or") {
            self.pos += 1;
            let rhs = self.and_test(level)?;
            let d = mk(Kind::Lit(Num::Int(0)), &[&lhs, &rhs])?.depth;
            lhs = Expr {
                depth: d,
                kind: Kind::AndOr(false, Box::new(lhs), Box::new(rhs)),
            };
        }
        Ok(lhs)
    }

    fn and_test(&mut self, level: u32) -> Result<Expr, String> {
        let mut lhs = self.not_test(level)?;
        while self.is_kw("and") {
            self.pos += 1;
            let rhs = self.not_test(level)?;
            let d = mk(Kind::Lit(Num::Int(0)), &[&lhs, &rhs])?.depth;
            lhs = Expr {
                depth: d,
                kind: Kind::AndOr(true, Box::new(lhs), Box::new(rhs)),
            };
        }
        Ok(lhs)
    }

    fn not_test(&mut self, level: u32) -> Result<Expr, String> {
        if self.is_kw("not") {
            self.pos += 1;
            let inner = self.not_test(level + 1)?;
            let d = mk(Kind::Lit(Num::Int(0)), &[&inner])?.depth;
            return Ok(Expr {
                depth: d,
                kind: Kind::Unary(Un::Not, Box::new(inner)),
            });
        }
        self.comparison(level)
    }

    fn comparison(&mut self, level: u32) -> Result<Expr, String> {
        let first = self.binary(0, level)?;
        let mut rest: Vec<(Cmp, Expr)> = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Op("<") => Cmp::Lt,
                Tok::Op("<=") => Cmp::Le,
                Tok::Op(">") => Cmp::Gt,
                Tok::Op(">=") => Cmp::Ge,
                Tok::Op("==") => Cmp::Eq,
                Tok::Op("!=") => Cmp::Ne,
                _ => break,
            };
            self.pos += 1;
            rest.push((op, self.binary(0, level)?));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        let mut kids: Vec<&Expr> = vec![&first];
        kids.extend(rest.iter().map(|(_, e)| e));
        let d = mk(Kind::Lit(Num::Int(0)), &kids)?.depth;
        Ok(Expr {
            depth: d,
            kind: Kind::Cmp(Box::new(first), rest),
        })
    }

    /// Binary operators by precedence tier: | ^ & shifts +- */ //% (then unary, **).
    fn binary(&mut self, tier: usize, level: u32) -> Result<Expr, String> {
        const TIERS: &[&[(&str, Bin)]] = &[
            &[("|", Bin::Or)],
            &[("^", Bin::Xor)],
            &[("&", Bin::And)],
            &[("<<", Bin::Shl), (">>", Bin::Shr)],
            &[("+", Bin::Add), ("-", Bin::Sub)],
            &[
                ("*", Bin::Mul),
                ("/", Bin::Div),
                ("//", Bin::FloorDiv),
                ("%", Bin::Mod),
            ],
        ];
        if tier == TIERS.len() {
            return self.unary(level);
        }
        let mut lhs = self.binary(tier + 1, level)?;
        loop {
            let op = match self.peek() {
                Tok::Op(o) => TIERS[tier].iter().find(|(s, _)| s == o).map(|(_, b)| *b),
                _ => None,
            };
            let Some(op) = op else { break };
            self.pos += 1;
            let rhs = self.binary(tier + 1, level)?;
            let d = mk(Kind::Lit(Num::Int(0)), &[&lhs, &rhs])?.depth;
            lhs = Expr {
                depth: d,
                kind: Kind::Bin(op, Box::new(lhs), Box::new(rhs)),
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self, level: u32) -> Result<Expr, String> {
        let op = match self.peek() {
            Tok::Op("-") => Some(Un::Neg),
            Tok::Op("+") => Some(Un::Pos),
            Tok::Op("~") => Some(Un::Inv),
            _ => None,
        };
        if let Some(op) = op {
            if level > MAX_DEPTH {
                return Err(format!(
                    "formula nested too deeply (more than {MAX_DEPTH} levels)"
                ));
            }
            self.pos += 1;
            let inner = self.unary(level + 1)?;
            let d = mk(Kind::Lit(Num::Int(0)), &[&inner])?.depth;
            return Ok(Expr {
                depth: d,
                kind: Kind::Unary(op, Box::new(inner)),
            });
        }
        self.power(level)
    }

    // power: primary ['**' unary]  (right-associative, binds tighter than a left unary)
    fn power(&mut self, level: u32) -> Result<Expr, String> {
        let base = self.primary(level)?;
        if !self.is_op("**") {
            return Ok(base);
        }
        self.pos += 1;
        let exp = self.unary(level + 1)?;
        let d = mk(Kind::Lit(Num::Int(0)), &[&base, &exp])?.depth;
        Ok(Expr {
            depth: d,
            kind: Kind::Bin(Bin::Pow, Box::new(base), Box::new(exp)),
        })
    }

    fn primary(&mut self, level: u32) -> Result<Expr, String> {
        let mut e = match self.bump() {
            Tok::Num(n) => mk(Kind::Lit(n), &[])?,
            Tok::Name(n) if n == "True" => mk(Kind::Lit(Num::Bool(true)), &[])?,
            Tok::Name(n) if n == "False" => mk(Kind::Lit(Num::Bool(false)), &[])?,
            Tok::Name(n)
                if ["if", "else", "and", "or", "not", "lambda", "import", "None"]
                    .contains(&n.as_str()) =>
            {
                self.pos -= 1;
                return Err(self.unexpected());
            }
            Tok::Name(n) => mk(Kind::Name(n), &[])?,
            Tok::Op("(") => {
                let inner = self.test(level + 1)?;
                self.expect_op(")")?;
                inner
            }
            _ => {
                self.pos -= 1;
                return Err(self.unexpected());
            }
        };
        loop {
            if self.is_op(".") {
                self.pos += 1;
                let Tok::Name(attr) = self.bump() else {
                    self.pos -= 1;
                    return Err(self.unexpected());
                };
                let d = mk(Kind::Lit(Num::Int(0)), &[&e])?.depth;
                e = Expr {
                    depth: d,
                    kind: Kind::Attr(Box::new(e), attr),
                };
            } else if self.is_op("(") {
                self.pos += 1;
                let mut args = Vec::new();
                while !self.is_op(")") {
                    args.push(self.test(level + 1)?);
                    if !self.is_op(",") {
                        break;
                    }
                    self.pos += 1;
                }
                self.expect_op(")")?;
                let mut kids: Vec<&Expr> = vec![&e];
                kids.extend(args.iter());
                let d = mk(Kind::Lit(Num::Int(0)), &kids)?.depth;
                e = Expr {
                    depth: d,
                    kind: Kind::Call(Box::new(e), args),
                };
            } else {
                return Ok(e);
            }
        }
    }
}

impl Formula {
    /// Parses `text`; a syntax error is a clear message with the column.
    pub fn parse(text: &str) -> Result<Formula, String> {
        if text.len() > MAX_LEN {
            return Err(format!("formula too long (more than {MAX_LEN} characters)"));
        }
        let toks = tokenize(text)?;
        let mut p = Parser {
            toks: &toks,
            pos: 0,
        };
        let root = p.test(0)?;
        if *p.peek() != Tok::End {
            return Err(p.unexpected());
        }
        Ok(Formula {
            text: text.to_string(),
            root,
        })
    }

    /// The formula text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Evaluates with Python's semantics; errors read like Python's exceptions
    /// (`NameError: name 'x' is not defined`, `ZeroDivisionError: …`).
    pub fn eval(&self, env: &Env) -> Result<Num, String> {
        eval(&self.root, env)
    }
}

fn eval(e: &Expr, env: &Env) -> Result<Num, String> {
    match &e.kind {
        Kind::Lit(n) => Ok(*n),
        Kind::Name(n) => match n.as_str() {
            "banFactor" => env
                .ban_factor
                .ok_or_else(|| "NameError: name 'banFactor' is not defined".to_string()),
            "ban" | "math" => Err(format!("TypeError: '{n}' is not a number")),
            _ => Err(format!("NameError: name '{n}' is not defined")),
        },
        Kind::Attr(obj, attr) => attribute(obj, attr, env),
        Kind::Call(f, args) => call(f, args, env),
        Kind::Unary(op, inner) => {
            let v = eval(inner, env)?;
            match op {
                Un::Neg => num::neg(v),
                Un::Pos => num::pos(v),
                Un::Inv => num::invert(v),
                Un::Not => Ok(Num::Bool(!v.truthy())),
            }
        }
        Kind::Bin(op, a, b) => {
            let (x, y) = (eval(a, env)?, eval(b, env)?);
            match op {
                Bin::Add => num::add(x, y),
                Bin::Sub => num::sub(x, y),
                Bin::Mul => num::mul(x, y),
                Bin::Div => num::truediv(x, y),
                Bin::FloorDiv => num::floordiv(x, y),
                Bin::Mod => num::modulo(x, y),
                Bin::Pow => num::pow(x, y),
                Bin::Shl => num::shl(x, y),
                Bin::Shr => num::shr(x, y),
                Bin::And => num::bitand(x, y),
                Bin::Or => num::bitor(x, y),
                Bin::Xor => num::bitxor(x, y),
            }
        }
        Kind::Cmp(first, rest) => {
            let mut lhs = eval(first, env)?;
            for (op, e) in rest {
                let rhs = eval(e, env)?;
                let ord = num::compare(lhs, rhs);
                use std::cmp::Ordering::*;
                let ok = match op {
                    Cmp::Lt => ord == Some(Less),
                    Cmp::Le => matches!(ord, Some(Less | Equal)),
                    Cmp::Gt => ord == Some(Greater),
                    Cmp::Ge => matches!(ord, Some(Greater | Equal)),
                    Cmp::Eq => ord == Some(Equal),
                    Cmp::Ne => ord != Some(Equal),
                };
                if !ok {
                    return Ok(Num::Bool(false));
                }
                lhs = rhs;
            }
            Ok(Num::Bool(true))
        }
        Kind::AndOr(is_and, a, b) => {
            let x = eval(a, env)?;
            if x.truthy() == *is_and {
                eval(b, env)
            } else {
                Ok(x)
            }
        }
        Kind::IfElse(c, a, b) => {
            if eval(c, env)?.truthy() {
                eval(a, env)
            } else {
                eval(b, env)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(src: &str, t: i64, c: i64, f: Num) -> Result<Num, String> {
        let env = Env {
            ban_time: Num::Int(i128::from(t)),
            ban_count: Num::Int(i128::from(c)),
            ban_factor: Some(f),
        };
        Formula::parse(src)?.eval(&env)
    }

    #[test]
    fn stock_formula() {
        let f = "ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor";
        assert_eq!(ev(f, 600, 1, Num::Int(1)), Ok(Num::Int(1200)));
        assert_eq!(ev(f, 600, 25, Num::Int(1)), Ok(Num::Int(600 << 20)));
        assert_eq!(ev(f, 600, 2, Num::Float(1.5)), Ok(Num::Float(3600.0)));
    }

    #[test]
    fn python_precedence() {
        let e = |s: &str| ev(s, 0, 0, Num::Int(1));
        assert_eq!(e("-2**2"), Ok(Num::Int(-4)));
        assert_eq!(e("2**-1"), Ok(Num::Float(0.5)));
        assert_eq!(e("2**3**2"), Ok(Num::Int(512)));
        assert_eq!(e("1 < 2 < 3"), Ok(Num::Bool(true)));
        assert_eq!(e("3 > 2 > 2"), Ok(Num::Bool(false)));
        assert_eq!(e("0 or 5"), Ok(Num::Int(5)));
        assert_eq!(e("not 1 + 1"), Ok(Num::Bool(false)));
        assert_eq!(e("1 if 0 else 2 if 1 else 3"), Ok(Num::Int(2)));
        assert_eq!(e("7 // 2 * 2 + 7 % 2"), Ok(Num::Int(7)));
        assert_eq!(e("1 + 2 << 1"), Ok(Num::Int(6)));
        assert_eq!(e("max(1, 2.0, 2)"), Ok(Num::Float(2.0)));
        assert_eq!(e("int(math.exp(1) * 10)"), Ok(Num::Int(27)));
        assert_eq!(e("1_000 + 0x10"), Ok(Num::Int(1016)));
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        let deep = format!("{}1{}", "(".repeat(4000), ")".repeat(4000));
        let err = Formula::parse(&deep).unwrap_err();
        assert!(err.contains("nested"), "{err}");
        let unary = format!("{}1", "-".repeat(5000));
        assert!(Formula::parse(&unary).is_err());
        let chain = vec!["1"; 3000].join("+");
        assert!(Formula::parse(&chain).is_err());
        assert!(Formula::parse("__import__('os')").is_err());
        assert!(Formula::parse("ban.Time +").is_err());
        assert!(Formula::parse("1 2").is_err());
        assert!(ev("1 << 10**9", 0, 0, Num::Int(1)).is_ok());
        assert!(ev("10**10**10", 0, 0, Num::Int(1)).is_ok());
        assert!(ev("math.exp(1e6)", 0, 0, Num::Int(1)).is_err());
        assert!(ev("1/0", 0, 0, Num::Int(1)).is_err());
        assert!(
            ev("open", 0, 0, Num::Int(1))
                .unwrap_err()
                .contains("NameError")
        );
    }
}
