//! Python `re` pattern text → Rust pattern text (one pure function, [`translate`]).
//!
//! The pattern is tokenized once, tracking class and flag state, and rewritten into a
//! string both Rust engines read the way Python reads the original. The result says
//! whether the linear `regex` crate can run it ([`Translated::linear`]) or whether it
//! needs `fancy-regex` (back-references, conditionals, look-around, atomic groups).
//! Three fixed fail2ban fragments that use look-around are rewritten exactly (R1–R3).

use std::fmt;

/// One rewrite the translator applied (for diagnostics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// R1: IPv6 `(?<=:):` look-behind dropped (always true there).
    Ipv6Lookbehind,
    /// R2: date end boundary `(?=\b|\W|$)` → `(?:\b|\b{end-half})`.
    DateEndBoundary,
    /// R3: date start boundary `(?=^|\b|\W)` → `(?:^|\b|\b{end-half})`.
    DateBeginBoundary,
    /// Non-multiline `$` → `(?m:$)` (Python's `$` also matches before a final `\n`).
    Dollar,
    /// `\Z` → `\z`.
    EndOfText,
    /// `\<`, `\>` → literal `<`, `>`.
    AngleLiteral,
    /// `[` (or `&`, `~`, `-`) inside a class escaped.
    ClassEscape,
    /// `{,n}` → `{0,n}`.
    OpenMinRepeat,
    /// `{`/`}` that is not a quantifier → literal.
    LiteralBrace,
    /// Octal, `\xhh`, `\uhhhh`, `\a`, `\f`, `\v`, `[\b]` → `\x{..}`.
    CharEscape,
    /// `(?P=name)` / `\N` → fancy back-reference.
    Backref,
    /// `(?(name)…)` → fancy `(?(<name>)…)`.
    Conditional,
    /// `\s`/`\S` widened to Python's set (adds U+001C–U+001F).
    PythonSpace,
    /// Inline global flags hoisted to the front (`(?iu)` etc.).
    GlobalFlags,
    /// `(?#…)` comment dropped.
    Comment,
    /// `re.MULTILINE` given from outside → `(?m)` prefix.
    MultilinePrefix,
    /// Conditionals or one-char back-references distributed / literal look-aheads
    /// rewritten (see [`super::linearize`]): the pattern runs on the linear engine after
    /// all.
    Linearized,
}

/// Why a pattern cannot run on the linear engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FancyReason {
    Backref,
    LookAround,
    Conditional,
    Atomic,
}

/// Result of [`translate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// Pattern for the `regex` crate, if no fancy construct is left.
    pub linear: Option<String>,
    /// Pattern for `fancy-regex` (always present).
    pub fancy: String,
    /// Variant of `fancy` where each non-multiline `$` is Python's exact
    /// `(?:\z|(?=\n\z))`; needed only on haystacks with an interior `\n`.
    pub exact_dollar: Option<String>,
    /// For a fancy pattern: a linear superset (look-around dropped, back-references as
    /// `(?s:.*)`, conditionals as plain alternations, atomic/possessive as ordinary
    /// groups). Whatever `fancy` matches, this matches too, so a miss here is a miss
    /// there: a cheap prefilter.
    pub relaxed: Option<String>,
    pub rules_applied: Vec<Rule>,
    /// Why the pattern as written needs fancy-regex (kept when [`Rule::Linearized`]
    /// found a linear form anyway).
    pub fancy_reasons: Vec<FancyReason>,
    /// When `linear` comes from [`super::linearize`]: its groups are unnamed copies,
    /// mapped back to the original groups by `map`.
    pub regrouped: Option<super::linearize::Linear>,
}

/// A pattern Python would reject or that uses an unsupported feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateError {
    /// Character offset in the pattern.
    pub pos: usize,
    pub message: String,
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.message, self.pos)
    }
}

const R1_FROM: &str = "(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)";
const R1_TO: &str = "(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)";
const R2_FROM: &str = r"(?=\b|\W|$)";
const R2_TO: &str = r"(?:\b|\b{end-half})";
const R3_FROM: &str = r"(?=^|\b|\W)";
const R3_TO: &str = r"(?:^|\b|\b{end-half})";
const SPACE: &str = r"\s\x1C-\x1F";

/// Translates a Python pattern; `multiline`/`ignore_case` are flags given from outside.
pub fn translate(
    pattern: &str,
    multiline: bool,
    ignore_case: bool,
) -> Result<Translated, TranslateError> {
    let first = Translator::run(pattern, multiline, ignore_case)?;
    // A global `(?m)` found later in the pattern changes how earlier `$` read.
    if first.global_m && !multiline {
        return Translator::run(pattern, true, ignore_case).map(|t| t.result);
    }
    Ok(first.result)
}

/// Look-around, conditionals and some back-references can be rewritten away (not
/// atomic groups).
fn linearizable(reasons: &[FancyReason]) -> bool {
    !reasons.is_empty()
        && reasons.iter().all(|r| {
            matches!(
                r,
                FancyReason::LookAround | FancyReason::Conditional | FancyReason::Backref
            )
        })
}

struct Outcome {
    result: Translated,
    global_m: bool,
}

#[derive(Clone, Copy)]
struct Scope {
    multiline: bool,
}

struct Translator {
    chars: Vec<char>,
    i: usize,
    out: String,
    exact: String,
    has_exact: bool,
    /// The superset pattern (see [`Translated::relaxed`]) and its group-close texts.
    relaxed: String,
    suppress: usize,
    rclose: Vec<RClose>,
    /// Per open group (as `rclose`): a named group's name and where its body starts in
    /// `relaxed`.
    named: Vec<Option<(String, usize)>>,
    /// A closed named group's superset body, when it can stand for a back-reference to
    /// it (see [`stand_in_body`]).
    bodies: std::collections::HashMap<String, String>,
    rules: Vec<Rule>,
    reasons: Vec<FancyReason>,
    scope: Scope,
    stack: Vec<Scope>,
    /// Where each open group began (Python names it in "missing )").
    opens: Vec<usize>,
    /// Start of the group being parsed (recorded by `open_as`).
    group_at: usize,
    /// What a quantifier here would repeat (Python's checks).
    last: Last,
    /// A top-level `|` was seen (global flags only lead the first branch).
    top_bar: bool,
    global: String,
    global_m: bool,
}

/// A named group's superset body that may stand for a back-reference to the group in
/// the superset pattern: the group matched a text its pattern matches, so the body
/// matches what the reference does, wherever it is read, when nothing in it depends
/// on the flags in force there or on where it is read (no letter but in the escapes
/// `\d \s \w`, their negations, control chars and `\xHH` of a non-letter; no `.`,
/// `^`, `$`, no other escaped letter such as `\b`) and it holds no group (whose name
/// the copy would repeat). Else None: the reference stays any text.
fn stand_in_body(body: &str) -> Option<&str> {
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d' | 'D' | 's' | 'S' | 'w' | 'W' | 't' | 'n' | 'r' | 'f' | 'v') => {}
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    if u8::from_str_radix(&hex, 16).map_or(true, |b| b.is_ascii_alphabetic()) {
                        return None;
                    }
                }
                Some(e) if e.is_ascii_punctuation() || e == ' ' => {}
                _ => return None,
            },
            '(' | '.' | '^' | '$' => return None,
            c if c.is_ascii_alphabetic() || !c.is_ascii() => return None,
            _ => {}
        }
    }
    (!body.is_empty()).then_some(body)
}

fn err<T>(pos: usize, message: impl Into<String>) -> Result<T, TranslateError> {
    Err(TranslateError {
        pos,
        message: message.into(),
    })
}

impl Translator {
    fn run(pattern: &str, multiline: bool, ignore_case: bool) -> Result<Outcome, TranslateError> {
        let mut t = Translator {
            chars: pattern.chars().collect(),
            i: 0,
            out: String::new(),
            exact: String::new(),
            has_exact: false,
            relaxed: String::new(),
            suppress: 0,
            rclose: Vec::new(),
            named: Vec::new(),
            bodies: std::collections::HashMap::new(),
            rules: Vec::new(),
            reasons: Vec::new(),
            scope: Scope { multiline },
            stack: Vec::new(),
            opens: Vec::new(),
            group_at: 0,
            last: Last::Empty,
            top_bar: false,
            global: String::new(),
            global_m: false,
        };
        if multiline {
            t.global.push('m');
            t.rule(Rule::MultilinePrefix);
        }
        if ignore_case {
            t.global.push('i');
        }
        t.body()?;
        let prefix = if t.global.is_empty() {
            String::new()
        } else {
            format!("(?{})", t.global)
        };
        let fancy = format!("{prefix}{}", t.out);
        let mut linear = t.reasons.is_empty().then(|| fancy.clone());
        let regrouped = linearizable(&t.reasons)
            .then(|| super::linearize::linearize(&fancy))
            .flatten();
        if let Some(l) = &regrouped {
            linear = Some(l.pattern.clone());
            t.rule(Rule::Linearized);
        }
        let exact_dollar = t.has_exact.then(|| format!("{prefix}{}", t.exact));
        let relaxed = (!t.reasons.is_empty()).then(|| format!("{prefix}{}", t.relaxed));
        Ok(Outcome {
            result: Translated {
                linear,
                fancy,
                exact_dollar,
                relaxed,
                rules_applied: t.rules,
                fancy_reasons: t.reasons,
                regrouped,
            },
            global_m: t.global_m,
        })
    }

    fn rule(&mut self, r: Rule) {
        if !self.rules.contains(&r) {
            self.rules.push(r);
        }
    }

    fn fancy(&mut self, r: FancyReason) {
        if !self.reasons.contains(&r) {
            self.reasons.push(r);
        }
    }

    fn emit(&mut self, s: &str) {
        self.out.push_str(s);
        self.exact.push_str(s);
        self.emit_relaxed(s);
    }

    /// Text for the two exact streams, and something else for the superset.
    fn emit_split(&mut self, s: &str, relaxed: &str) {
        self.out.push_str(s);
        self.exact.push_str(s);
        self.emit_relaxed(relaxed);
    }

    fn emit_relaxed(&mut self, s: &str) {
        if self.suppress == 0 {
            self.relaxed.push_str(s);
        }
    }

    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        let n = s.chars().count();
        self.chars
            .get(self.i..self.i + n)
            .is_some_and(|w| w.iter().copied().eq(s.chars()))
    }

    fn body(&mut self) -> Result<(), TranslateError> {
        while let Some(c) = self.peek(0) {
            match c {
                '\\' => {
                    let pos = self.i;
                    self.escape()?;
                    let at = matches!(self.chars.get(pos + 1), Some('A' | 'Z' | 'b' | 'B'));
                    self.last = if at { Last::At } else { Last::Atom };
                }
                '[' => {
                    self.class()?;
                    self.last = Last::Atom;
                }
                '(' => self.group_item()?,
                ')' => {
                    match self.stack.pop() {
                        Some(s) => self.scope = s,
                        None => return err(self.i, "unbalanced parenthesis"),
                    }
                    self.opens.pop();
                    self.last = Last::Atom;
                    if let Some(Some((name, from))) = self.named.pop()
                        && self.suppress == 0
                        && let Some(body) = self.relaxed.get(from..).and_then(stand_in_body)
                    {
                        self.bodies.insert(name, body.to_string());
                    }
                    match self.rclose.pop().unwrap_or(RClose::Normal) {
                        RClose::Normal => self.emit(")"),
                        RClose::Cond => self.emit_split(")", "|)"),
                        RClose::Suppress => {
                            self.emit(")");
                            self.suppress -= 1;
                        }
                    }
                    self.i += 1;
                }
                '$' => {
                    if self.scope.multiline {
                        self.emit("$");
                    } else {
                        self.rule(Rule::Dollar);
                        self.out.push_str("(?m:$)");
                        self.emit_relaxed("(?m:$)");
                        self.exact.push_str(r"(?:\z|(?=\n\z))");
                        self.has_exact = true;
                    }
                    self.i += 1;
                    self.last = Last::At;
                }
                '{' => self.brace()?,
                '}' => {
                    self.rule(Rule::LiteralBrace);
                    self.emit(r"\}");
                    self.i += 1;
                    self.last = Last::Atom;
                }
                '*' | '+' | '?' => {
                    self.repeatable(self.i)?;
                    self.emit(&c.to_string());
                    self.i += 1;
                    self.quant_suffix();
                }
                _ => {
                    self.emit(&c.to_string());
                    self.i += 1;
                    self.last = match c {
                        '^' => Last::At,
                        '|' => {
                            self.top_bar |= self.stack.is_empty();
                            Last::Empty
                        }
                        _ => Last::Atom,
                    };
                }
            }
        }
        if let Some(&open) = self.opens.last() {
            return err(open, "missing ), unterminated subpattern");
        }
        Ok(())
    }

    /// A quantifier at `pos` needs something repeatable before it, as Python checks.
    fn repeatable(&mut self, pos: usize) -> Result<(), TranslateError> {
        match self.last {
            Last::Empty | Last::At => err(pos, "nothing to repeat"),
            Last::Repeat => err(pos, "multiple repeat"),
            Last::Atom => {
                self.last = Last::Repeat;
                Ok(())
            }
        }
    }

    /// A `(`: a group opens (nothing to repeat yet), or a whole item was read (a
    /// back-reference, a rewritten fragment), or nothing was (a comment, global flags).
    fn group_item(&mut self) -> Result<(), TranslateError> {
        let pos = self.i;
        let depth = self.stack.len();
        self.group_at = pos;
        self.group()?;
        if self.stack.len() > depth {
            self.last = Last::Empty;
            return Ok(());
        }
        let kind = (self.chars.get(pos + 1), self.chars.get(pos + 2));
        match kind {
            (Some('?'), Some('#')) => {}
            (Some('?'), Some(c)) if !"P(=!<>:".contains(*c) => {
                // Python 3.11 accepts global flags only at the very start of the pattern.
                let first = depth == 0 && !self.top_bar && self.last == Last::Empty;
                if !first {
                    return err(pos, "global flags not at the start of the expression");
                }
            }
            _ => self.last = Last::Atom,
        }
        Ok(())
    }

    /// Lazy `?` passes through; possessive `+` needs fancy.
    fn quant_suffix(&mut self) {
        match self.peek(0) {
            Some('?') => {
                self.emit("?");
                self.i += 1;
            }
            Some('+') => {
                self.fancy(FancyReason::Atomic);
                self.emit_split("+", "");
                self.i += 1;
            }
            _ => {}
        }
    }

    fn digits(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek(0).filter(char::is_ascii_digit) {
            s.push(c);
            self.i += 1;
        }
        s
    }

    fn brace(&mut self) -> Result<(), TranslateError> {
        let start = self.i;
        self.i += 1;
        let lo = self.digits();
        let (comma, hi) = if self.peek(0) == Some(',') {
            self.i += 1;
            (true, self.digits())
        } else {
            (false, lo.clone())
        };
        let closed = self.peek(0) == Some('}');
        if !closed || (!comma && lo.is_empty()) {
            // Python reads it as a literal `{` and goes on after it.
            self.i = start + 1;
            self.rule(Rule::LiteralBrace);
            self.emit(r"\{");
            self.last = Last::Atom;
            return Ok(());
        }
        self.i += 1;
        if let (Ok(l), Ok(h)) = (lo.parse::<u32>(), hi.parse::<u32>())
            && h < l
        {
            // Python names the character after the `{`.
            return err(start + 1, "min repeat greater than max repeat");
        }
        self.repeatable(start)?;
        if lo.is_empty() {
            self.rule(Rule::OpenMinRepeat);
        }
        let lo = if lo.is_empty() { "0".to_string() } else { lo };
        let q = if !comma {
            format!("{{{lo}}}")
        } else {
            format!("{{{lo},{hi}}}")
        };
        self.emit(&q);
        self.quant_suffix();
        Ok(())
    }

    fn hex(&mut self, n: usize, pos: usize) -> Result<u32, TranslateError> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.peek(0).and_then(|c| c.to_digit(16)) {
                Some(d) => v = v * 16 + d,
                None => return err(pos, "incomplete hex escape"),
            }
            self.i += 1;
        }
        Ok(v)
    }

    fn octal(&mut self, max: usize) -> u32 {
        let mut v = 0u32;
        for _ in 0..max {
            match self.peek(0).and_then(|c| c.to_digit(8)) {
                Some(d) => v = v * 8 + d,
                None => break,
            }
            self.i += 1;
        }
        v
    }

    fn char_code(&mut self, v: u32, pos: usize) -> Result<char, TranslateError> {
        self.rule(Rule::CharEscape);
        match char::from_u32(v) {
            Some(c) => Ok(c),
            None => err(pos, format!("bad character code {v:#x}")),
        }
    }

    /// Escapes shared by classes and top level that denote one character.
    fn char_escape(&mut self, e: char, pos: usize) -> Result<Option<char>, TranslateError> {
        let c = match e {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'f' => self.char_code(0x0C, pos)?,
            'v' => self.char_code(0x0B, pos)?,
            'a' => self.char_code(0x07, pos)?,
            'x' => {
                let v = self.hex(2, pos)?;
                self.char_code(v, pos)?
            }
            'u' => {
                let v = self.hex(4, pos)?;
                self.char_code(v, pos)?
            }
            'U' => {
                let v = self.hex(8, pos)?;
                self.char_code(v, pos)?
            }
            'N' => return err(pos, r"\N{...} escapes are not supported"),
            c if c.is_ascii_alphanumeric() => return Ok(None),
            c => c,
        };
        Ok(Some(c))
    }

    fn escape(&mut self) -> Result<(), TranslateError> {
        let pos = self.i;
        self.i += 1;
        let Some(e) = self.peek(0) else {
            return err(pos, "bad escape (end of pattern)");
        };
        self.i += 1;
        match e {
            'd' | 'D' | 'w' | 'W' | 'b' | 'B' | 'A' => self.emit(&format!("\\{e}")),
            's' => {
                self.rule(Rule::PythonSpace);
                self.emit(&format!("[{SPACE}]"));
            }
            'S' => {
                self.rule(Rule::PythonSpace);
                self.emit(&format!("[^{SPACE}]"));
            }
            'Z' => {
                self.rule(Rule::EndOfText);
                self.emit(r"\z");
            }
            '<' | '>' => {
                self.rule(Rule::AngleLiteral);
                self.emit(&e.to_string());
            }
            '0' => {
                let v = self.octal(2);
                let c = self.char_code(v, pos)?;
                self.emit_literal(c);
            }
            '1'..='9' => {
                // Three octal digits make an octal escape, otherwise a group number.
                let d1 = self.peek(0);
                let d2 = self.peek(1);
                let is_oct = |c: Option<char>| c.is_some_and(|c| ('0'..='7').contains(&c));
                if e <= '7' && is_oct(d1) && is_oct(d2) {
                    self.i -= 1;
                    let v = self.octal(3);
                    if v > 0o377 {
                        return err(pos, "octal escape value outside of range 0-0o377");
                    }
                    let c = self.char_code(v, pos)?;
                    self.emit_literal(c);
                } else {
                    let mut n = e.to_string();
                    if let Some(d) = d1.filter(char::is_ascii_digit) {
                        n.push(d);
                        self.i += 1;
                    }
                    self.rule(Rule::Backref);
                    self.fancy(FancyReason::Backref);
                    self.emit_split(&format!("\\k<{n}>"), "(?s:.*)");
                }
            }
            _ => match self.char_escape(e, pos)? {
                Some(c) => self.emit_literal(c),
                None => return err(pos, format!("bad escape \\{e}")),
            },
        }
        Ok(())
    }

    fn emit_literal(&mut self, c: char) {
        if c.is_control() {
            self.emit(&format!("\\x{{{:X}}}", c as u32));
        } else {
            self.emit(&regex::escape(&c.to_string()));
        }
    }

    fn class(&mut self) -> Result<(), TranslateError> {
        let start = self.i;
        self.i += 1;
        let mut s = String::from("[");
        if self.peek(0) == Some('^') {
            s.push('^');
            self.i += 1;
        }
        let first = self.i;
        loop {
            let Some(c) = self.peek(0) else {
                return err(start, "unterminated character set");
            };
            if c == ']' && self.i != first {
                self.i += 1;
                break;
            }
            let lo = self.class_item()?;
            if self.peek(0) == Some('-') {
                self.i += 1;
                match self.peek(0) {
                    None => return err(start, "unterminated character set"),
                    Some(']') => {
                        self.push_item(&mut s, &lo);
                        s.push_str(r"\-");
                        self.i += 1;
                        break;
                    }
                    Some(_) => {
                        let at = self.i;
                        let hi = self.class_item()?;
                        match (lo, hi) {
                            (Item::Char(a), Item::Char(b)) if a <= b => {
                                self.push_char(&mut s, a);
                                s.push('-');
                                self.push_char(&mut s, b);
                            }
                            _ => return err(at, "bad character range"),
                        }
                    }
                }
            } else {
                self.push_item(&mut s, &lo);
            }
        }
        s.push(']');
        self.emit(&s);
        Ok(())
    }

    fn push_char(&mut self, s: &mut String, c: char) {
        match c {
            '[' | ']' | '\\' | '^' | '-' | '&' | '~' => {
                if matches!(c, '[' | '&' | '~') {
                    self.rule(Rule::ClassEscape);
                }
                s.push('\\');
                s.push(c);
            }
            c if c.is_control() => s.push_str(&format!("\\x{{{:X}}}", c as u32)),
            c => s.push(c),
        }
    }

    fn push_item(&mut self, s: &mut String, item: &Item) {
        match item {
            Item::Char(c) => self.push_char(s, *c),
            Item::Set(set) => s.push_str(set),
        }
    }

    fn class_item(&mut self) -> Result<Item, TranslateError> {
        let pos = self.i;
        let Some(c) = self.peek(0) else {
            return err(pos, "unterminated character set");
        };
        self.i += 1;
        if c != '\\' {
            return Ok(Item::Char(c));
        }
        let Some(e) = self.peek(0) else {
            return err(pos, "bad escape (end of pattern)");
        };
        self.i += 1;
        let item = match e {
            'd' | 'D' | 'w' | 'W' => Item::Set(format!("\\{e}")),
            's' => {
                self.rule(Rule::PythonSpace);
                Item::Set(SPACE.to_string())
            }
            'S' => {
                self.rule(Rule::PythonSpace);
                Item::Set(format!("[^{SPACE}]"))
            }
            'b' => Item::Char(self.char_code(8, pos)?),
            '0'..='7' => {
                self.i -= 1;
                let v = self.octal(3);
                Item::Char(self.char_code(v, pos)?)
            }
            _ => match self.char_escape(e, pos)? {
                Some(c) => Item::Char(c),
                None => return err(pos, format!("bad escape \\{e}")),
            },
        };
        Ok(item)
    }

    fn group_name(&mut self, end: char) -> Result<String, TranslateError> {
        let pos = self.i;
        let mut name = String::new();
        loop {
            match self.peek(0) {
                None => return err(pos, "missing group name terminator"),
                Some(c) if c == end => {
                    self.i += 1;
                    break;
                }
                Some(c) => {
                    name.push(c);
                    self.i += 1;
                }
            }
        }
        let ok = name
            .chars()
            .next()
            .is_some_and(|c| c == '_' || c.is_alphabetic())
            && name.chars().all(|c| c == '_' || c.is_alphanumeric());
        if !ok {
            return err(pos, format!("bad character in group name '{name}'"));
        }
        Ok(name)
    }

    fn open(&mut self, text: &str, scope: Scope) {
        self.open_as(text, scope, RClose::Normal);
    }

    /// Opens a group whose superset form differs (see [`RClose`]).
    fn open_as(&mut self, text: &str, scope: Scope, close: RClose) {
        self.stack.push(self.scope);
        self.opens.push(self.group_at);
        self.scope = scope;
        match close {
            RClose::Normal => self.emit(text),
            RClose::Cond => self.emit_split(text, "(?:"),
            RClose::Suppress => {
                self.suppress += 1;
                self.emit(text);
            }
        }
        self.rclose.push(close);
        self.named.push(None);
    }

    fn group(&mut self) -> Result<(), TranslateError> {
        let pos = self.i;
        let cur = self.scope;
        if self.starts_with(R1_FROM) {
            self.rule(Rule::Ipv6Lookbehind);
            self.emit(R1_TO);
            self.i += R1_FROM.chars().count();
            return Ok(());
        }
        for (from, to, r) in [
            (R2_FROM, R2_TO, Rule::DateEndBoundary),
            (R3_FROM, R3_TO, Rule::DateBeginBoundary),
        ] {
            if self.starts_with(from) {
                self.rule(r);
                self.emit(to);
                self.i += from.chars().count();
                return Ok(());
            }
        }
        if self.peek(1) != Some('?') {
            self.i += 1;
            self.open("(", cur);
            return Ok(());
        }
        self.i += 2;
        let Some(k) = self.peek(0) else {
            return err(pos, "unexpected end of pattern");
        };
        match k {
            'P' => {
                self.i += 1;
                match self.peek(0) {
                    Some('<') => {
                        self.i += 1;
                        let name = self.group_name('>')?;
                        self.open(&format!("(?P<{name}>"), cur);
                        if self.suppress == 0
                            && let Some(top) = self.named.last_mut()
                        {
                            *top = Some((name, self.relaxed.len()));
                        }
                    }
                    Some('=') => {
                        self.i += 1;
                        let name = self.group_name(')')?;
                        self.rule(Rule::Backref);
                        self.fancy(FancyReason::Backref);
                        // the text the group matched is one its own pattern matches
                        let stand_in = match self.bodies.get(&name) {
                            Some(body) => format!("(?:{body})"),
                            None => "(?s:.*)".to_string(),
                        };
                        self.emit_split(&format!("\\k<{name}>"), &stand_in);
                    }
                    _ => return err(pos, "unknown extension ?P"),
                }
            }
            ':' => {
                self.i += 1;
                self.open("(?:", cur);
            }
            '=' | '!' => {
                self.i += 1;
                self.fancy(FancyReason::LookAround);
                self.open_as(&format!("(?{k}"), cur, RClose::Suppress);
            }
            '<' if matches!(self.peek(1), Some('=' | '!')) => {
                let k2 = self.peek(1).unwrap_or('=');
                self.i += 2;
                self.fancy(FancyReason::LookAround);
                self.open_as(&format!("(?<{k2}"), cur, RClose::Suppress);
            }
            '>' => {
                self.i += 1;
                self.fancy(FancyReason::Atomic);
                self.open_as("(?>", cur, RClose::Cond);
            }
            '#' => {
                while let Some(c) = self.peek(0) {
                    self.i += 1;
                    if c == ')' {
                        self.rule(Rule::Comment);
                        return Ok(());
                    }
                }
                return err(pos, "missing ), unterminated comment");
            }
            '(' => {
                self.i += 1;
                // Python also takes a group number here.
                let digits = self.chars[self.i..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                let name = if digits > 0 && self.peek(digits) == Some(')') {
                    let n: String = self.chars[self.i..self.i + digits].iter().collect();
                    self.i += digits + 1;
                    n
                } else {
                    self.group_name(')')?
                };
                self.rule(Rule::Conditional);
                self.fancy(FancyReason::Conditional);
                let cond = if name.chars().all(|c| c.is_ascii_digit()) {
                    format!("(?({name})")
                } else {
                    format!("(?(<{name}>)")
                };
                self.open_as(&cond, cur, RClose::Cond);
            }
            _ => self.flags(pos)?,
        }
        Ok(())
    }

    fn flags(&mut self, pos: usize) -> Result<(), TranslateError> {
        let mut on = String::new();
        let mut off = String::new();
        let mut minus = false;
        loop {
            let Some(c) = self.peek(0) else {
                return err(pos, "missing -, : or )");
            };
            self.i += 1;
            match c {
                'i' | 'm' | 's' => {
                    if minus { &mut off } else { &mut on }.push(c);
                }
                'u' => {}
                'x' | 'a' | 'L' => {
                    return err(self.i - 1, format!("inline flag '{c}' is not supported"));
                }
                '-' if !minus => minus = true,
                ')' if !minus => {
                    self.rule(Rule::GlobalFlags);
                    for f in on.chars() {
                        if !self.global.contains(f) {
                            self.global.push(f);
                        }
                        if f == 'm' {
                            self.global_m = true;
                        }
                    }
                    return Ok(());
                }
                ':' => {
                    let mut scope = self.scope;
                    if on.contains('m') {
                        scope.multiline = true;
                    }
                    if off.contains('m') {
                        scope.multiline = false;
                    }
                    let mut g = format!("(?{on}");
                    if !off.is_empty() {
                        g.push('-');
                        g.push_str(&off);
                    }
                    g.push(':');
                    self.open(&g, scope);
                    return Ok(());
                }
                c => return err(self.i - 1, format!("unknown extension or flag '{c}'")),
            }
        }
    }
}

/// How a group closes in the superset pattern: as written; a look-around left out
/// entirely; a conditional (or atomic group) turned into `(?:…|)`.
#[derive(Clone, Copy)]
enum RClose {
    Normal,
    Suppress,
    Cond,
}

/// What precedes a quantifier: nothing (pattern, branch or group start), an anchor,
/// a quantifier, or an atom that can repeat.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    Empty,
    At,
    Repeat,
    Atom,
}

enum Item {
    Char(char),
    Set(String),
}

#[cfg(test)]
mod tests;
