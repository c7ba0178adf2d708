//! Failregex results remembered by the shape of the text.
//!
//! Most failregexes cannot tell one ASCII digit from another (no literal digit, every
//! class holding all ten or none: [`Regex::ascii_classes`]), so on two texts equal but
//! for their digits they take the same paths: same match, same group spans. Attack logs
//! repeat a few line shapes with other addresses, ports and process ids; a search costs
//! hundreds of nanoseconds where a lookup of the text with its digits zeroed costs tens.
//! The text's [`Shape`] is made once per line for all its failregexes; each regex keeps
//! its results in a [`SpanMemo`] of its own, one per thread. A regex with a literal
//! digit (`:11:`) is searched as usual: keeping the digits it tells apart in the shape
//! was measured, and its hits did not pay for the extra shapes.
//!
//! The table is direct-mapped and bounded; a regex whose texts rarely repeat (a key
//! fingerprint in every line) stops looking them up for a while.
//!
//! [`Regex::ascii_classes`]: crate::filter::pyre::Regex::ascii_classes

use crate::filter::failregex::CompiledRegex;
use crate::filter::pyre::{GroupSpan, Match};

/// Slots per memo (a power of two).
const SLOTS: usize = 2048;
/// Longer texts are not remembered (a slot holds the text's shape; spans fit in u16).
const MAX_TEXT: usize = 512;
/// Lookups per verdict on whether the memo pays.
const WINDOW: u32 = 1024;
/// Below this many hits in a window, the memo is skipped...
const MIN_HITS: u32 = WINDOW / 8;
/// ... for this many searches before it is tried again.
const PAUSE: u32 = 16 * WINDOW;
/// A group that took no part in the match.
const NONE: u16 = u16::MAX;

/// One text with its digits zeroed, and where its results go in a memo.
#[derive(Debug, Default, Clone)]
pub struct Shape {
    key: Vec<u8>,
    slot: usize,
    /// None: not made for the current text yet; Some(false): the text has none
    /// (empty, as a free slot's key is; not ASCII; too long; or a `\n` before its end,
    /// where Python's `$` is not the linear engine's).
    made: Option<bool>,
}

impl Shape {
    /// Forgets the text: the next lookup makes the shape of the text it is given.
    pub fn clear(&mut self) {
        self.made = None;
    }

    /// The shape of `text` (made on the first call after [`Shape::clear`]).
    fn of(&mut self, text: &str) -> Option<(&[u8], usize)> {
        if self.made.is_none() {
            let bytes = text.as_bytes();
            let inner = bytes.len().saturating_sub(1);
            let ok = !bytes.is_empty()
                && bytes.len() <= MAX_TEXT
                && bytes.is_ascii()
                && memchr::memchr(b'\n', &bytes[..inner]).is_none();
            if ok {
                self.key.resize(bytes.len(), 0);
                // (a loop the compiler turns into vector code)
                for (k, &b) in self.key.iter_mut().zip(bytes) {
                    *k = if b.wrapping_sub(b'0') < 10 { b'0' } else { b };
                }
                self.slot = slot_of(&self.key);
            }
            self.made = Some(ok);
        }
        self.made
            .is_some_and(|ok| ok)
            .then_some((&self.key[..], self.slot))
    }
}

#[derive(Debug, Default, Clone)]
struct Slot {
    /// The text's shape (empty: a free slot).
    key: Vec<u8>,
    /// The match's group spans, `NONE` for a missing group (empty: no match).
    spans: Vec<(u16, u16)>,
}

/// One regex's remembered results on one thread.
#[derive(Debug, Default, Clone)]
pub struct SpanMemo {
    /// Allocated on the first text remembered.
    slots: Vec<Slot>,
    lookups: u32,
    hits: u32,
    /// Searches left to run without the memo.
    paused: u32,
    /// Whether the regex cannot tell one ASCII digit from another (None: not asked yet).
    digits_alike: Option<bool>,
}

impl SpanMemo {
    /// `re.search(text)`, from the memo when a text of the same shape was searched;
    /// `shape` is `text`'s (cleared when the text changes).
    pub fn search<'t>(
        &mut self,
        re: &CompiledRegex,
        text: &'t str,
        shape: &mut Shape,
    ) -> Option<Match<'t>> {
        let alike = *self
            .digits_alike
            .get_or_insert_with(|| re.regex().ascii_classes().is_some_and(|c| digits_alike(&c)));
        if !alike {
            return re.search(text);
        }
        if self.paused > 0 {
            self.paused -= 1;
            return re.search(text);
        }
        let Some((key, at)) = shape.of(text) else {
            return re.search(text);
        };
        // Some: the shape is remembered (with the match's spans, if it matched).
        let known = self
            .slots
            .get(at)
            .filter(|s| s.key == key)
            .map(|s| (!s.spans.is_empty()).then(|| s.spans.iter().map(|&s| span(s)).collect()));
        self.count(known.is_some());
        if let Some(spans) = known {
            return spans.map(|spans| re.regex().match_from_spans(text, spans));
        }
        let m = re.search(text);
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); SLOTS];
        }
        // (`at` < SLOTS: masked)
        if let Some(slot) = self.slots.get_mut(at) {
            slot.key.clear();
            slot.key.extend_from_slice(key);
            slot.spans.clear();
            if let Some(m) = &m {
                // (texts are at most MAX_TEXT bytes: offsets fit)
                slot.spans.extend(m.spans().iter().map(|s| match s {
                    Some((a, b)) => (*a as u16, *b as u16),
                    None => (NONE, NONE),
                }));
            }
        }
        m
    }

    /// Counts a lookup; at the end of a window, pauses the memo when too few hit.
    fn count(&mut self, hit: bool) {
        self.lookups += 1;
        self.hits += u32::from(hit);
        if self.lookups < WINDOW {
            return;
        }
        if self.hits < MIN_HITS {
            self.paused = PAUSE;
        }
        self.lookups = 0;
        self.hits = 0;
    }
}

/// Whether the ten ASCII digits are one class.
fn digits_alike(classes: &[u8; 128]) -> bool {
    let digits = &classes[usize::from(b'0')..=usize::from(b'9')];
    digits.iter().all(|&c| c == digits[0])
}

fn span((a, b): (u16, u16)) -> GroupSpan {
    (a != NONE).then_some((a as usize, b as usize))
}

/// The slot for a shape (a multiplicative hash, 8 bytes at a time).
fn slot_of(key: &[u8]) -> usize {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let mut w = [0u8; 8];
    w[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    (h >> 40) as usize & (SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::addr::UseDns;

    /// Every digit `d` of `text` as `(d + k) % 10`.
    fn turn_digits(text: &str, k: u8) -> String {
        text.bytes()
            .map(|b| match b {
                b'0'..=b'9' => char::from(b'0' + (b - b'0' + k) % 10),
                _ => char::from(b),
            })
            .collect()
    }

    /// On every survey pattern's recorded inputs, and each again with its digits
    /// turned (same shape, other digits), the memo answers what a search answers, and
    /// it does answer: the turned texts are found in it.
    #[test]
    fn memo_answers_as_the_search() {
        let Some(inputs) = crate::filter::pyre::survey::sample_inputs() else {
            return;
        };
        // Over the patterns the memo serves: texts searched, and answered by the memo.
        let (mut texts, mut hits, mut patterns) = (0usize, 0usize, 0usize);
        for ((p, ml), cases) in &inputs {
            let Ok(re) = CompiledRegex::new(p, UseDns::No, *ml) else {
                continue;
            };
            let mut memo = SpanMemo::default();
            let mut shape = Shape::default();
            let (mut n, mut from_memo) = (0usize, 0usize);
            let cases = cases.iter().filter(|t| t.is_ascii() && t.len() < MAX_TEXT);
            let cases = cases.map(|t| t.trim_end_matches('\n'));
            for text in cases.flat_map(|t| [t.to_string(), format!("{t}\n")]) {
                // The first search fills the slot; the three others are of its shape.
                for k in [0, 3, 0, 7] {
                    let t = turn_digits(&text, k);
                    let spans = |m: Option<Match<'_>>| m.map(|m| m.spans().to_vec());
                    let want = spans(re.search(&t));
                    let before = memo.hits;
                    shape.clear();
                    assert_eq!(
                        spans(memo.search(&re, &t, &mut shape)),
                        want,
                        "{p} on {t:?}"
                    );
                    n += 1;
                    from_memo += usize::from(memo.hits > before);
                }
            }
            if memo.digits_alike == Some(true) {
                patterns += 1;
                texts += n;
                hits += from_memo;
            } else {
                assert_eq!(from_memo, 0, "{p}");
            }
        }
        eprintln!("{patterns} patterns remembered: {texts} texts, {hits} from the memo");
        assert!(
            patterns >= 150 && hits * 4 >= texts * 3,
            "{patterns} / {texts} / {hits}"
        );
    }

    /// A regex with a literal digit is never answered from the memo (`:11:` and `:21:`
    /// have one shape), nor is an empty text (a free slot's key), and a memo whose texts
    /// never repeat pauses.
    #[test]
    fn memo_keeps_out_what_it_cannot_tell() {
        let re = CompiledRegex::new(r"^(?P<host>\S*)\s*$", UseDns::No, false).expect("ok");
        let mut memo = SpanMemo::default();
        let mut shape = Shape::default();
        for text in ["a\n", "", "b\n", ""] {
            shape.clear();
            let m = memo.search(&re, text, &mut shape);
            assert_eq!(
                m.map(|m| m.span(1)),
                Some(Some((0, text.len().min(1)))),
                "{text:?}"
            );
        }

        let re = CompiledRegex::new(r"^port \d+:11: bye$", UseDns::No, false).expect("compiles");
        let mut memo = SpanMemo::default();
        for (text, found) in [("port 22:11: bye", true), ("port 22:21: bye", false)] {
            shape.clear();
            assert_eq!(
                memo.search(&re, text, &mut shape).is_some(),
                found,
                "{text}"
            );
        }
        assert_eq!(memo.digits_alike, Some(false));
        assert!(memo.slots.is_empty());

        let re = CompiledRegex::new(r"^user (?P<user>\w+) from", UseDns::No, false).expect("ok");
        let mut memo = SpanMemo::default();
        for n in 0..WINDOW {
            shape.clear();
            let text = format!("user u{} from 192.0.2.1", char::from(b'a' + (n % 26) as u8))
                + &"x".repeat(n as usize / 26);
            assert!(memo.search(&re, &text, &mut shape).is_some());
        }
        assert_eq!(memo.paused, PAUSE, "{} hits", memo.hits);
        shape.clear();
        let m = memo.search(&re, "user bob from 192.0.2.1", &mut shape);
        assert_eq!(m.and_then(|m| m.span(1)), Some((5, 8)));
        assert_eq!(memo.paused, PAUSE - 1);
    }
}
