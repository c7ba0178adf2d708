//! The capture-free pieces of a [`super::Chain`]: [`Piece`] answers "where does the first
//! completing path of this piece, started at `pos`, end?". A piece whose choices the
//! next byte settles is read once by hand ([`Seq`]); the others are lazy DFAs walked
//! by hand ([`Lazy`]: building one costs an NFA compile, states are computed as the
//! text needs them); a `.*`-like run is a `memchr`. [`Deferred`] holds a piece's HIR
//! and builds the piece on first use, since many pieces (branches that are never tried,
//! the rest of a run that never shortens) are never searched at all.

use std::sync::OnceLock;

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::meta;
use regex_automata::nfa::thompson;
use regex_automata::{Anchored, Input, MatchKind};
use regex_syntax::hir::{Hir, HirKind};

use super::seq::Seq;

/// A lazy DFA; its caches live with the chain's searches ([`Caches`]).
pub(super) struct Lazy {
    dfa: DFA,
    /// The literal every match starts with: most searches fail on it (a Back step's
    /// rest is tried at many ends), and a comparison settles them before any DFA work.
    lead: Box<[u8]>,
}

impl std::fmt::Debug for Lazy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lazy")
    }
}

/// One thread's caches for the lazy DFAs of one chain, by piece number: taken once per
/// chain walk (a pool fetch per piece search costs more than a short search).
#[derive(Debug, Default)]
pub(super) struct Caches(Vec<Option<Cache>>);

impl Caches {
    fn get(&mut self, id: usize, dfa: &DFA) -> &mut Cache {
        if self.0.len() <= id {
            self.0.resize_with(id + 1, || None);
        }
        self.0[id].get_or_insert_with(|| dfa.create_cache())
    }
}

impl Lazy {
    fn new(h: &Hir) -> Option<Lazy> {
        let nfa = thompson::Compiler::new()
            .configure(thompson::Config::new().which_captures(thompson::WhichCaptures::None))
            .build_from_hir(h)
            .ok()?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::LeftmostFirst)
                    // Never give up: a thrashing cache costs time, bounded by the text
                    // length times the NFA size, but the answer stays exact.
                    .minimum_cache_clear_count(None),
            )
            .build_from_nfa(nfa)
            .ok()?;
        Some(Lazy {
            dfa,
            lead: lead_literal(h).into(),
        })
    }

    /// The end of the first completing path at `pos` reading at most `budget` bytes
    /// (`Err` once spent, or when the DFA cannot answer).
    pub fn end(
        &self,
        cache: &mut Cache,
        text: &str,
        pos: usize,
        budget: &mut usize,
    ) -> Result<Option<usize>, ()> {
        let bytes = text.as_bytes().get(pos..).unwrap_or_default();
        if !crate::filter::pyre::has_prefix(bytes, &self.lead) {
            // (the bytes a DFA walk would have read up to the mismatch, at most)
            *budget = budget.checked_sub(self.lead.len()).ok_or(())?;
            return Ok(None);
        }
        let dfa = &self.dfa;
        let input = Input::new(text).range(pos..).anchored(Anchored::Yes);
        let mut sid = dfa.start_state_forward(cache, &input).map_err(|_| ())?;
        let mut last = None;
        // At most `budget` bytes are read; the count is settled once, not per byte.
        let limit = bytes.len().min(*budget);
        let run = &bytes[..limit];
        let mut i = 0;
        while let Some(&b) = run.get(i) {
            // From an untagged state a known untagged successor is one table load; the
            // rest (match, dead, quit, not computed yet) takes the checked transition.
            if !sid.is_tagged() {
                let next = dfa.next_state_untagged(cache, sid, b);
                if !next.is_tagged() {
                    sid = next;
                    i += 1;
                    continue;
                }
            }
            sid = dfa.next_state(cache, sid, b).map_err(|_| ())?;
            if sid.is_tagged() {
                // A DFA enters its match state one byte after the match ends.
                if sid.is_match() {
                    last = Some(pos + i);
                } else if sid.is_dead() {
                    *budget -= i + 1;
                    return Ok(last);
                } else if sid.is_quit() {
                    // Not on ASCII pieces and text; the caller asks the engine.
                    return Err(());
                }
            }
            i += 1;
        }
        if limit < bytes.len() {
            *budget = 0;
            return Err(());
        }
        *budget -= limit;
        sid = dfa.next_eoi_state(cache, sid).map_err(|_| ())?;
        if sid.is_match() {
            last = Some(text.len());
        }
        Ok(last)
    }
}

/// The literal bytes every match of `h` starts with (maybe none).
pub(super) fn lead_literal(h: &Hir) -> &[u8] {
    match h.kind() {
        HirKind::Literal(l) => &l.0,
        HirKind::Concat(v) => v.first().map_or(&[], lead_literal),
        HirKind::Capture(c) => lead_literal(&c.sub),
        _ => &[],
    }
}

/// A capture-free piece searched anchored.
#[derive(Debug)]
pub(super) enum Piece {
    /// Every choice settled by the next byte: one read, no automaton.
    Seq(Seq),
    Lazy(Box<Lazy>),
    /// When no lazy DFA builds (not expected on the ASCII twin's pieces).
    Meta(meta::Regex),
    /// A greedy unbounded run of "any ASCII byte but `\n`" (`.*`, `.+`, with `dotall`
    /// any byte at all) needing `min` bytes: on ASCII text its first completing path
    /// ends at the next `\n` (or the text end), which `memchr` finds far faster than a
    /// DFA walk over a long line.
    Line {
        min: usize,
        dotall: bool,
    },
    /// A literal (`:`, `] [client `): its only path reads exactly these bytes; a
    /// comparison instead of a DFA search (whose setup costs more than a short walk).
    Lit(Box<[u8]>),
}

/// The [`Piece::Line`] shape of `h`, if it has it: `(min, dotall)`.
fn line_run(h: &Hir) -> Option<(usize, bool)> {
    let (bits, min) = class_run(h)?;
    if bits == u128::MAX {
        Some((min, true))
    } else if bits == !(1u128 << b'\n') {
        Some((min, false))
    } else {
        None
    }
}

/// A greedy unbounded repetition of one class, needing at most one char: the ASCII
/// members of the class (a bitmap of 128 bits) and the minimum count.
pub(super) fn class_run(h: &Hir) -> Option<(u128, usize)> {
    any_class_run(h).and_then(|(bits, min, greedy)| greedy.then_some((bits, min)))
}

/// [`class_run`] greedy or lazy: `(members, min, greedy)`.
pub(super) fn any_class_run(h: &Hir) -> Option<(u128, usize, bool)> {
    let HirKind::Repetition(r) = h.kind() else {
        return None;
    };
    if r.max.is_some() || r.min > 1 {
        return None;
    }
    let HirKind::Class(c) = r.sub.kind() else {
        return None;
    };
    let bits = crate::filter::pyre::fast::ascii_members(c);
    Some((bits, r.min as usize, r.greedy))
}

/// A class run's members: the ASCII bytes of the class (a bitmap of 128 bits) and the
/// ASCII bytes outside it, listed when there are at most three (then `memchr` finds
/// where a run stops).
#[derive(Debug)]
pub(super) struct Members {
    bits: u128,
    stops: Option<Vec<u8>>,
}

impl Members {
    pub fn new(bits: u128) -> Members {
        let outside: Vec<u8> = (0u8..128).filter(|&b| bits & (1 << b) == 0).collect();
        Members {
            bits,
            stops: (outside.len() <= 3).then_some(outside),
        }
    }

    /// The length of the longest run at the start of `bytes` of ASCII members.
    pub fn run_len(&self, bytes: &[u8]) -> usize {
        let stop = match self.stops.as_deref() {
            Some([]) => Some(bytes.len()),
            Some(&[a]) => Some(memchr::memchr(a, bytes).unwrap_or(bytes.len())),
            Some(&[a, b]) => Some(memchr::memchr2(a, b, bytes).unwrap_or(bytes.len())),
            Some(&[a, b, c]) => Some(memchr::memchr3(a, b, c, bytes).unwrap_or(bytes.len())),
            _ => None,
        };
        // The run found by its stops must still be ASCII (a fast scan).
        if let Some(n) = stop
            && bytes.get(..n).is_some_and(|r| r.is_ascii())
        {
            return n;
        }
        let bits = self.bits;
        bytes
            .iter()
            .take_while(|&&b| b < 128 && bits & (1 << b) != 0)
            .count()
    }
}

impl Piece {
    pub fn new(h: &Hir) -> Option<Piece> {
        if let Some((min, dotall)) = line_run(h) {
            return Some(Piece::Line { min, dotall });
        }
        if let HirKind::Literal(l) = h.kind() {
            return Some(Piece::Lit(l.0.clone()));
        }
        if let Some(s) = Seq::new(h) {
            return Some(Piece::Seq(s));
        }
        match Lazy::new(h) {
            Some(l) => Some(Piece::Lazy(Box::new(l))),
            None => super::super::fast::build(h).map(Piece::Meta),
        }
    }

    /// The end of the first completing path at `pos` reading at most `budget` bytes
    /// (`Ok(None)`: no match; `Err`: the budget is spent or the DFA gave up); `cache`
    /// gives a lazy DFA its cache.
    fn end_within<'c>(
        &self,
        cache: impl FnOnce(&DFA) -> &'c mut Cache,
        text: &str,
        pos: usize,
        budget: &mut usize,
    ) -> Result<Option<usize>, ()> {
        match self {
            Piece::Seq(s) => {
                let (end, read) = s.end(text.as_bytes(), pos)?;
                *budget = budget.checked_sub(read).ok_or(())?;
                Ok(end)
            }
            Piece::Lazy(l) => l.end(cache(&l.dfa), text, pos, budget),
            Piece::Meta(re) => {
                *budget = budget.checked_sub(text.len() - pos).ok_or(())?;
                let input = Input::new(text).range(pos..).anchored(Anchored::Yes);
                Ok(re.search(&input).map(|m| m.end()))
            }
            Piece::Line { min, dotall } => {
                let rest = text.as_bytes().get(pos..).unwrap_or_default();
                let len = match dotall {
                    true => rest.len(),
                    false => memchr::memchr(b'\n', rest).unwrap_or(rest.len()),
                };
                *budget = budget.checked_sub(len).ok_or(())?;
                Ok((len >= *min).then_some(pos + len))
            }
            Piece::Lit(lit) => {
                *budget = budget.checked_sub(lit.len()).ok_or(())?;
                let rest = text.as_bytes().get(pos..).unwrap_or_default();
                Ok(crate::filter::pyre::has_prefix(rest, lit).then_some(pos + lit.len()))
            }
        }
    }
}

/// A piece built on first use from its HIR (None: it does not build; the chain then
/// cannot tell).
#[derive(Debug)]
pub(super) struct Deferred {
    /// The piece's number in its chain (its slot in [`Caches`]).
    pub id: usize,
    hir: Hir,
    /// Whether the piece is `hir` with its groups dissolved.
    strip: bool,
    piece: OnceLock<Option<Piece>>,
}

impl Deferred {
    pub fn new(hir: Hir, strip: bool) -> Deferred {
        Deferred {
            id: 0,
            hir,
            strip,
            piece: OnceLock::new(),
        }
    }

    /// The end of the first completing path at `pos` (None: no match; Err: the piece
    /// does not build or the DFA gave up).
    pub fn end(&self, caches: &mut Caches, text: &str, pos: usize) -> Result<Option<usize>, ()> {
        let mut unlimited = usize::MAX;
        self.end_within(caches, text, pos, &mut unlimited)
    }

    /// [`Deferred::end`] reading at most `budget` bytes (`Err` once spent).
    pub fn end_within(
        &self,
        caches: &mut Caches,
        text: &str,
        pos: usize,
        budget: &mut usize,
    ) -> Result<Option<usize>, ()> {
        let id = self.id;
        self.get()
            .ok_or(())?
            .end_within(|d| caches.get(id, d), text, pos, budget)
    }

    fn get(&self) -> Option<&Piece> {
        self.piece
            .get_or_init(|| match self.strip {
                true => Piece::new(&super::strip(&self.hir)),
                false => Piece::new(&self.hir),
            })
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::{Node, chain_of, strip};
    use super::*;
    use crate::filter::pyre::fast::{ascii_hir, parse_checked};
    use crate::filter::pyre::translate::translate;

    fn hir_of(d: &Deferred) -> Hir {
        match d.strip {
            true => strip(&d.hir),
            false => d.hir.clone(),
        }
    }

    fn pieces(nodes: &[Node], out: &mut Vec<Hir>) {
        for n in nodes {
            match n {
                Node::Run(d) | Node::Back { rest: Some(d), .. } => out.push(hir_of(d)),
                Node::Alt(branches) => {
                    for b in branches {
                        out.push(hir_of(&b.piece));
                        pieces(&b.body, out);
                    }
                }
                _ => {}
            }
        }
    }

    /// A settled piece ends where its lazy DFA ends, on every piece of every survey
    /// pattern's chain, at every word start of the pattern's recorded inputs cut at
    /// every word end (and with fail2ban's final `\n`).
    #[test]
    fn settled_pieces_end_where_the_dfa_ends() {
        let Some(inputs) = crate::filter::pyre::survey::sample_inputs() else {
            return;
        };
        let mut seen = BTreeSet::new();
        let (mut compared, mut settled) = (0usize, 0usize);
        for ((p, ml), texts) in &inputs {
            let Some(linear) = translate(p, *ml, false).ok().and_then(|t| t.linear) else {
                continue;
            };
            let Ok(h) = parse_checked(&linear) else {
                continue;
            };
            let Some(nodes) = chain_of(&ascii_hir(&h)) else {
                continue;
            };
            let mut hirs = Vec::new();
            pieces(&nodes, &mut hirs);
            let mut cases = Vec::new();
            for t in texts.iter().filter(|t| t.is_ascii()) {
                let ends = t.match_indices(' ').map(|(i, _)| i);
                for e in ends.chain([t.len()]) {
                    cases.push(t[..e].to_string());
                }
                cases.push(format!("{t}\n"));
            }
            for hir in hirs {
                if !seen.insert((hir.to_string(), cases.first().cloned())) {
                    continue;
                }
                let (Some(seq), Some(lazy)) = (Seq::new(&hir), Lazy::new(&hir)) else {
                    continue;
                };
                settled += 1;
                let mut cache = lazy.dfa.create_cache();
                for text in &cases {
                    let starts = text.match_indices(' ').map(|(i, _)| i + 1);
                    for pos in [0].into_iter().chain(starts) {
                        let mut budget = usize::MAX;
                        let Ok(want) = lazy.end(&mut cache, text, pos, &mut budget) else {
                            continue;
                        };
                        let got = seq.end(text.as_bytes(), pos).map(|(e, _)| e);
                        assert_eq!(got, Ok(want), "piece {hir} on {text:?} at {pos}");
                        compared += 1;
                    }
                }
            }
        }
        eprintln!("{settled} settled pieces, {compared} comparisons");
        assert!(
            settled >= 100 && compared >= 100_000,
            "{settled} / {compared}"
        );
    }
}
