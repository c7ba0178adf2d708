//! Deterministic pieces: a capture-free piece whose every choice (a run length, an
//! optional part, an alternation's branch) is settled by the next byte alone is
//! matched by reading the text once, with no automaton. Most pieces of the shipped
//! filters are of this kind (`\[?`, `(?:\d{1,3}\.){3}\d{1,3}`, ` (?:by|from)`, `$`),
//! short, and searched millions of times: for them the lazy DFA's set-up and its
//! cold transition tables cost more than the walk itself.
//!
//! A choice is settled when the options that can still lead to a completing path are
//! told apart by the next symbol (an ASCII byte, or the text end): a greedy run of a
//! class stops where the class ends, because nothing after it may start with a member;
//! of an alternation's branches only the one whose first symbols hold the next one can
//! go on. Where the rest of the piece always completes (at its end), the first option
//! that completes is the first path, whatever comes next. A piece where some choice is
//! not settled this way is not a [`Seq`]; the lazy DFA takes it.

use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// The symbols with which a part of a piece, followed by the rest, may still complete:
/// ASCII bytes (a bitmap), the text end, or `always` (it completes on the empty string
/// whatever comes next).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Next {
    bytes: u128,
    end: bool,
    always: bool,
}

impl Next {
    const NONE: Next = Next {
        bytes: 0,
        end: false,
        always: false,
    };
    const ALWAYS: Next = Next {
        bytes: 0,
        end: false,
        always: true,
    };

    fn union(self, o: Next) -> Next {
        Next {
            bytes: self.bytes | o.bytes,
            end: self.end || o.end,
            always: self.always || o.always,
        }
    }

    fn overlaps(self, o: Next) -> bool {
        self.always || o.always || self.bytes & o.bytes != 0 || (self.end && o.end)
    }

    /// Whether `sym` (a byte, None at the text end) is one of these symbols.
    fn holds(self, sym: Option<u8>) -> bool {
        self.always
            || match sym {
                Some(b) => b < 128 && self.bytes >> b & 1 == 1,
                None => self.end,
            }
    }
}

/// Every ASCII byte.
const ASCII: u128 = u128::MAX;

/// One element of a sequence.
#[derive(Debug)]
enum Elem {
    /// `min..=max` members of an ASCII class, as many as there are (`max`: u32::MAX is
    /// unbounded). A literal byte is a run of one.
    Run { bits: u128, min: u32, max: u32 },
    /// Two or more literal ASCII bytes in a row (runs of one byte, fused by [`lits`]):
    /// compared at once, not read one run at a time.
    Lit(Box<[u8]>),
    /// `\A`, `\z`, `(?m:^)`, `(?m:$)` and the ASCII word boundaries.
    Look(Look),
    /// `a?b` where `a` is part of `b` (`[0-5]?[0-9]`): two bytes when the first is in
    /// `a` and the second in `b`, else one in `b`.
    Pair { a: u128, b: u128 },
    /// Branches in priority order, each with the symbols it may complete with.
    /// `ordered`: the rest always completes, so the first branch that completes wins;
    /// else the branches' symbols are disjoint and the next symbol picks one.
    Alt {
        branches: Vec<(Next, Vec<Elem>)>,
        ordered: bool,
    },
}

/// The most branches of an alternation tried in turn (see [`settle`]).
const MAX_TRIED: usize = 3;

/// Bound on a sequence's elements (unrolled counted repetitions grow it).
const MAX_ELEMS: usize = 256;

/// A deterministic piece.
#[derive(Debug)]
pub(super) struct Seq {
    elems: Vec<Elem>,
}

impl Seq {
    /// The piece of `h` when each of its choices is settled by the next symbol.
    pub fn new(h: &Hir) -> Option<Seq> {
        let mut elems = Vec::new();
        let mut count = 0;
        build(h, &mut elems, &mut count)?;
        fuse(&mut elems);
        lits(&mut elems);
        settle(&mut elems, Next::ALWAYS)?;
        Some(Seq { elems })
    }

    /// The end of the piece's first completing path at `pos` (None: none), and the
    /// number of bytes looked at. `Err` on a non-ASCII byte: the classes here are the
    /// ASCII parts of the pattern's, so there the answer is not known.
    pub fn end(&self, text: &[u8], pos: usize) -> Result<(Option<usize>, usize), ()> {
        let mut w = Walk { text, far: pos };
        let got = w.run(&self.elems, pos)?;
        Ok((got, w.far.saturating_sub(pos)))
    }
}

/// Appends the elements of `h`; None when `h` has a part a sequence does not hold.
fn build(h: &Hir, out: &mut Vec<Elem>, count: &mut usize) -> Option<()> {
    *count += 1;
    if *count > MAX_ELEMS {
        return None;
    }
    match h.kind() {
        HirKind::Empty => {}
        HirKind::Literal(l) => {
            for &b in l.0.iter() {
                if b >= 128 {
                    return None;
                }
                *count += 1;
                out.push(Elem::Run {
                    bits: 1 << b,
                    min: 1,
                    max: 1,
                });
            }
        }
        HirKind::Class(c) => out.push(Elem::Run {
            bits: ascii_bits(c)?,
            min: 1,
            max: 1,
        }),
        HirKind::Look(l) => match l {
            Look::Start
            | Look::End
            | Look::StartLF
            | Look::EndLF
            | Look::WordAscii
            | Look::WordAsciiNegate
            | Look::WordStartHalfAscii
            | Look::WordEndHalfAscii => out.push(Elem::Look(*l)),
            _ => return None,
        },
        HirKind::Capture(c) => build(&c.sub, out, count)?,
        HirKind::Concat(v) => {
            for x in v {
                build(x, out, count)?;
            }
        }
        HirKind::Alternation(v) => {
            let mut branches = Vec::with_capacity(v.len());
            for b in v {
                let mut body = Vec::new();
                build(b, &mut body, count)?;
                branches.push((Next::NONE, body));
            }
            out.push(Elem::Alt {
                branches,
                ordered: false,
            });
        }
        HirKind::Repetition(r) => {
            let max = r.max.map_or(u32::MAX, |m| m);
            let mut sub = Vec::new();
            build(&r.sub, &mut sub, count)?;
            if let [
                Elem::Run {
                    bits,
                    min: 1,
                    max: 1,
                },
            ] = sub[..]
            {
                // A lazy run differs from a greedy one only where the rest could also
                // start with a member, which a settled run excludes; but at the end of
                // the piece it takes the least: not held here.
                if !r.greedy && r.max != Some(r.min) {
                    return None;
                }
                out.push(Elem::Run {
                    bits,
                    min: r.min,
                    max,
                });
                return Some(());
            }
            if !r.greedy || r.max.is_none() {
                return None;
            }
            for _ in 0..r.min {
                build(&r.sub, out, count)?;
            }
            // `X{0,k}` as `(?:X(?:X…)?)?`.
            let mut opt: Vec<Elem> = Vec::new();
            for _ in r.min..max {
                let mut body = Vec::new();
                build(&r.sub, &mut body, count)?;
                body.extend(opt);
                opt = vec![Elem::Alt {
                    branches: vec![(Next::NONE, body), (Next::NONE, Vec::new())],
                    ordered: false,
                }];
            }
            out.extend(opt);
        }
    }
    Some(())
}

/// Whether `b` is an ASCII word byte (`\w` in ASCII).
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Rewrites each `a?` followed by one byte of `b ⊇ a` as a [`Elem::Pair`].
fn fuse(elems: &mut Vec<Elem>) {
    let mut out = Vec::with_capacity(elems.len());
    let mut it = std::mem::take(elems).into_iter().peekable();
    while let Some(e) = it.next() {
        match (e, it.peek()) {
            (
                Elem::Run {
                    bits: a,
                    min: 0,
                    max: 1,
                },
                Some(&Elem::Run {
                    bits: b,
                    min: 1,
                    max: 1,
                }),
            ) if a & !b == 0 => {
                it.next();
                out.push(Elem::Pair { a, b });
            }
            (
                Elem::Alt {
                    mut branches,
                    ordered,
                },
                _,
            ) => {
                for (_, body) in branches.iter_mut() {
                    fuse(body);
                }
                out.push(Elem::Alt { branches, ordered });
            }
            (e, _) => out.push(e),
        }
    }
    *elems = out;
}

/// The byte a run of exactly one member of a one-byte class reads.
fn one_byte(e: &Elem) -> Option<u8> {
    match e {
        Elem::Run {
            bits,
            min: 1,
            max: 1,
        } if bits.count_ones() == 1 => u8::try_from(bits.trailing_zeros()).ok(),
        _ => None,
    }
}

/// Rewrites two or more one-byte runs in a row as one [`Elem::Lit`] (the same bytes in
/// the same order: the same language, and the same choices, there being none).
fn lits(elems: &mut Vec<Elem>) {
    let mut out = Vec::with_capacity(elems.len());
    let mut pending: Vec<u8> = Vec::new();
    // (leaves `pending` empty)
    let flush = |pending: &mut Vec<u8>, out: &mut Vec<Elem>| match std::mem::take(pending)[..] {
        [] => {}
        [b] => out.push(Elem::Run {
            bits: 1 << b,
            min: 1,
            max: 1,
        }),
        ref bytes => out.push(Elem::Lit(bytes.into())),
    };
    for mut e in std::mem::take(elems) {
        if let Some(b) = one_byte(&e) {
            pending.push(b);
            continue;
        }
        flush(&mut pending, &mut out);
        if let Elem::Alt { branches, .. } = &mut e {
            for (_, body) in branches.iter_mut() {
                lits(body);
            }
        }
        out.push(e);
    }
    flush(&mut pending, &mut out);
    *elems = out;
}

/// The ASCII members of a class; None when it has none.
fn ascii_bits(c: &Class) -> Option<u128> {
    let bits = crate::filter::pyre::fast::ascii_members(c);
    (bits != 0).then_some(bits)
}

/// Checks, from the last element back, that every choice in `elems` is settled when
/// `follow` comes after them, and records each branch's symbols. The symbols with
/// which `elems` then `follow` may complete; None when a choice is not settled.
fn settle(elems: &mut [Elem], follow: Next) -> Option<Next> {
    let mut next = follow;
    for e in elems.iter_mut().rev() {
        next = match e {
            Elem::Run { bits, min, max } => {
                if min < max && !next.always && *bits & next.bytes != 0 {
                    return None;
                }
                match *min {
                    0 => Next {
                        bytes: *bits | next.bytes,
                        ..next
                    },
                    _ => Next {
                        bytes: *bits,
                        ..Next::NONE
                    },
                }
            }
            // (its first byte starts it; it has no choice to settle)
            Elem::Lit(lit) => Next {
                bytes: lit.first().map_or(0, |&b| 1 << b),
                ..Next::NONE
            },
            Elem::Look(l) => {
                let at_end = next.always || next.end;
                match l {
                    Look::End => Next {
                        end: at_end,
                        ..Next::NONE
                    },
                    Look::EndLF => Next {
                        bytes: match next.always {
                            true => 1 << b'\n',
                            false => next.bytes & (1 << b'\n'),
                        },
                        end: at_end,
                        always: false,
                    },
                    // (they look back, or at the next symbol and the one before:
                    // any next symbol, but they may fail)
                    _ => Next {
                        bytes: if next.always { ASCII } else { next.bytes },
                        end: at_end,
                        always: false,
                    },
                }
            }
            Elem::Pair { b, .. } => {
                // (one byte instead of two must not let the rest start)
                if !next.always && *b & next.bytes != 0 {
                    return None;
                }
                Next {
                    bytes: *b,
                    ..Next::NONE
                }
            }
            Elem::Alt { branches, ordered } => {
                let mut all = Next::NONE;
                for (n, body) in branches.iter_mut() {
                    *n = settle(body, next)?;
                }
                let disjoint = branches
                    .iter()
                    .enumerate()
                    .all(|(i, (a, _))| branches[i + 1..].iter().all(|(b, _)| !a.overlaps(*b)));
                // Symbols that pick a branch are the cheapest test; else, when the rest
                // always completes or no text matches two branches, the first branch
                // that matches is the one.
                *ordered = !disjoint;
                if !disjoint && !next.always && !exclusive(branches) {
                    return None;
                }
                // Branches tried one after the other cost more than a DFA's one pass
                // once there are more than a few (day and month names).
                if *ordered && branches.len() > MAX_TRIED {
                    return None;
                }
                for (n, _) in branches.iter() {
                    all = all.union(*n);
                }
                all
            }
        };
    }
    Some(next)
}

/// The class of each byte a branch reads, when it reads a fixed number of single bytes.
fn fixed(body: &[Elem]) -> Option<Vec<u128>> {
    let mut out = Vec::new();
    for e in body {
        match e {
            Elem::Run { bits, min, max } if min == max && out.len() + (*min as usize) <= 64 => {
                out.extend(std::iter::repeat_n(*bits, *min as usize));
            }
            Elem::Lit(lit) if out.len() + lit.len() <= 64 => {
                out.extend(lit.iter().map(|&b| 1u128 << b));
            }
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Whether no text matches two of the branches at one position (month names: `Jan`,
/// `Jun` and `Jul` share their first byte, not their words): fixed branches that differ
/// in some byte they both read.
fn exclusive(branches: &[(Next, Vec<Elem>)]) -> bool {
    let Some(fs) = branches
        .iter()
        .map(|(_, b)| fixed(b))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    fs.iter().enumerate().all(|(i, a)| {
        fs[i + 1..]
            .iter()
            .all(|b| a.iter().zip(b).any(|(x, y)| x & y == 0))
    })
}

/// One match attempt: the text and the furthest position looked at.
struct Walk<'t> {
    text: &'t [u8],
    far: usize,
}

impl Walk<'_> {
    /// The symbol at `pos` (None: the text end); `Err` when it is not ASCII.
    #[inline]
    fn sym(&mut self, pos: usize) -> Result<Option<u8>, ()> {
        self.far = self.far.max(pos + 1);
        match self.text.get(pos) {
            Some(&b) if b >= 128 => Err(()),
            s => Ok(s.copied()),
        }
    }

    fn run(&mut self, elems: &[Elem], mut pos: usize) -> Result<Option<usize>, ()> {
        for e in elems {
            match e {
                Elem::Run { bits, min, max } => {
                    let mut n = 0u32;
                    while n < *max {
                        match self.sym(pos)? {
                            Some(b) if bits >> b & 1 == 1 => {
                                pos += 1;
                                n += 1;
                            }
                            _ => break,
                        }
                    }
                    if n < *min {
                        return Ok(None);
                    }
                }
                Elem::Lit(lit) => {
                    let have = self.text.get(pos..).unwrap_or_default();
                    // Where the bytes first differ, as the runs would have read them:
                    // a non-ASCII byte read there is not known (see `sym`).
                    match lit.iter().zip(have).position(|(a, b)| a != b) {
                        Some(i) => {
                            self.sym(pos + i)?;
                            return Ok(None);
                        }
                        None if have.len() < lit.len() => {
                            self.sym(pos + have.len())?;
                            return Ok(None);
                        }
                        None => {
                            self.far = self.far.max(pos + lit.len());
                            pos += lit.len();
                        }
                    }
                }
                Elem::Look(l) => {
                    let ok = match l {
                        Look::Start => pos == 0,
                        Look::End => pos == self.text.len(),
                        Look::StartLF => pos == 0 || self.text.get(pos - 1) == Some(&b'\n'),
                        Look::EndLF => matches!(self.sym(pos)?, None | Some(b'\n')),
                        l => {
                            let before = match pos.checked_sub(1).and_then(|p| self.text.get(p)) {
                                Some(&b) if b >= 128 => return Err(()),
                                b => b.is_some_and(|&b| is_word(b)),
                            };
                            let after = self.sym(pos)?.is_some_and(is_word);
                            match l {
                                Look::WordAscii => before != after,
                                Look::WordAsciiNegate => before == after,
                                Look::WordStartHalfAscii => !before,
                                _ => !after,
                            }
                        }
                    };
                    if !ok {
                        return Ok(None);
                    }
                }
                Elem::Pair { a, b } => {
                    let first = self.sym(pos)?;
                    let held = |s: Option<u8>, bits: u128| s.is_some_and(|c| bits >> c & 1 == 1);
                    if held(first, *a) && held(self.sym(pos + 1)?, *b) {
                        pos += 2;
                    } else if held(first, *b) {
                        pos += 1;
                    } else {
                        return Ok(None);
                    }
                }
                Elem::Alt {
                    branches,
                    ordered: true,
                } => {
                    let mut got = None;
                    for (_, body) in branches {
                        if let Some(p) = self.run(body, pos)? {
                            got = Some(p);
                            break;
                        }
                    }
                    match got {
                        Some(p) => pos = p,
                        None => return Ok(None),
                    }
                }
                Elem::Alt { branches, .. } => {
                    let sym = self.sym(pos)?;
                    let Some((_, body)) = branches.iter().find(|(n, _)| n.holds(sym)) else {
                        return Ok(None);
                    };
                    match self.run(body, pos)? {
                        Some(p) => pos = p,
                        None => return Ok(None),
                    }
                }
            }
        }
        Ok(Some(pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(p: &str) -> Option<Seq> {
        Seq::new(&regex_syntax::parse(p).ok()?)
    }

    #[test]
    fn settled_pieces_build_and_unsettled_ones_do_not() {
        for p in [
            r"\[?",
            r"(?:(?:::)f{4,6}:)?",
            r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}",
            r" (?:by|from)",
            r"(?:Connection (?:closed|reset))|Disconnected",
            r"(?:[ ]|(?m:$))",
            r"(?:error|fatal): (?:PAM: )?",
            r"\A",
            r"(?m:$)",
            r"(?: (?:port [0-9]+|on x)){0,2}:[ \t]*11:",
            r"(?:[Jj][Aa][Nn]|[Jj][Uu][Nn]|[Mm][Aa][Rr]) [0-9]",
            // literal branches (each a run of bytes read at once) told apart by a byte
            r"(?:Jan|Jun|Jul) [0-9]",
            r"(?:invalid|illegal) user ",
            r"[0-5]?[0-9]",
            r"(?:[0-5]?[0-9]|6[01])",
            r"(?-u:\b)|(?-u:\b{end-half})",
        ] {
            assert!(seq(p).is_some(), "{p}");
        }
        for p in [
            r"\S+:",      // the run may take the `:`
            r"a*?",       // lazy, at the end
            r"(?:a|ab)b", // after `a`, the empty branch and `b` both go on with `b`
            r"x+x",
            r"(?:x|)x",
            r"\bfoo",
            r"(?:ab)+",
            r"(?:a|ab)c?d",      // `a` is a prefix of `ab`: both may go on
            r"[0-5]?[0-9][0-9]", // one digit short may still be followed by one
        ] {
            assert!(seq(p).is_none(), "{p}");
        }
    }
}
