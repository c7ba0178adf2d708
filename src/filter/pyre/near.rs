//! Small compilations of a linear pattern for non-ASCII haystacks.
//!
//! A regex run on a text only ever asks whether the text's own chars belong to its
//! classes. So a compilation whose classes are cut to ASCII plus the 128-char blocks
//! holding the text's non-ASCII chars answers exactly as the full-Unicode one on that
//! text (literals, byte classes and look-arounds are kept as written; word boundaries
//! read the haystack itself). Such a cut compiles in a fraction of the time and memory
//! of the full one, whose Unicode classes (`\w` alone has ~770 ranges) make up most of
//! a compile. [`Near`] keeps a few of them per pattern, keyed by block set
//! ([`blocks`]); a text with many blocks, or a pattern that has seen many sets, goes to
//! the full engine instead.

use std::sync::{Arc, Mutex};

use regex_automata::meta;
use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind};

use super::fast;

/// Blocks of 128 code points (2^7) form a key.
const BLOCK_BITS: u32 = 7;
/// A text with more distinct blocks than this takes the full engine.
const MAX_BLOCKS: usize = 6;
/// Cut compilations kept per pattern; past that, the full engine is built.
const MAX_BUILDS: usize = 4;

/// Sorted block numbers of the non-ASCII chars of `text`; None when there are more
/// than [`MAX_BLOCKS`] (or none: an ASCII text needs no cut compilation).
pub(super) fn blocks(text: &str) -> Option<Vec<u32>> {
    let b = text.as_bytes();
    let mut out: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        // Skip ASCII eight bytes at a time: hostile lines can be megabytes long.
        if let Some(w) = b.get(i..i + 8)
            && let Ok(w) = <[u8; 8]>::try_from(w)
            && u64::from_ne_bytes(w) & 0x8080_8080_8080_8080 == 0
        {
            i += 8;
            continue;
        }
        if b[i] < 0x80 {
            i += 1;
            continue;
        }
        // `i` is a char boundary: ASCII bytes and whole chars are skipped.
        let c = text.get(i..).and_then(|s| s.chars().next())?;
        i += c.len_utf8();
        let k = u32::from(c) >> BLOCK_BITS;
        if let Err(at) = out.binary_search(&k) {
            if out.len() == MAX_BLOCKS {
                return None;
            }
            out.insert(at, k);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// `h` with every Unicode class cut to ASCII plus `blocks` (sorted block numbers).
fn cut(h: &Hir, blocks: &[u32]) -> Hir {
    match h.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            let mut spans = vec![(0u32, 0x7f)];
            spans.extend(
                blocks
                    .iter()
                    .map(|b| (b << BLOCK_BITS, ((b + 1) << BLOCK_BITS) - 1)),
            );
            let rs = c.ranges();
            let mut ranges = Vec::new();
            for &(lo, hi) in &spans {
                // Ranges are sorted and disjoint: start at the first one reaching `lo`.
                let first = rs.partition_point(|r| u32::from(r.end()) < lo);
                for r in rs[first..]
                    .iter()
                    .take_while(|r| u32::from(r.start()) <= hi)
                {
                    let a = u32::from(r.start()).max(lo);
                    let z = u32::from(r.end()).min(hi);
                    // Block bounds of a real char's block are never surrogates.
                    if let (Some(a), Some(z)) = (char::from_u32(a), char::from_u32(z)) {
                        ranges.push(ClassUnicodeRange::new(a, z));
                    }
                }
            }
            Hir::class(Class::Unicode(ClassUnicode::new(ranges)))
        }
        HirKind::Repetition(r) => super::fast::repeat_of(r, cut(&r.sub, blocks)),
        HirKind::Capture(c) => super::fast::capture_of(c, cut(&c.sub, blocks)),
        HirKind::Concat(v) => Hir::concat(v.iter().map(|x| cut(x, blocks)).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(|x| cut(x, blocks)).collect()),
        _ => h.clone(),
    }
}

/// The cut compilations of one linear pattern, by block set.
#[derive(Debug, Default)]
pub(super) struct Near {
    built: Mutex<Vec<(Vec<u32>, Arc<meta::Regex>)>>,
}

impl Near {
    /// The compilation of the linear `pattern` for a text whose non-ASCII chars lie in
    /// `key`; None when the full engine should run (too many sets seen, or the cut does
    /// not build).
    pub fn get(&self, pattern: &str, key: Vec<u32>) -> Option<Arc<meta::Regex>> {
        let mut built = self.built.lock().ok()?;
        if let Some((_, re)) = built.iter().find(|(k, _)| *k == key) {
            return Some(Arc::clone(re));
        }
        if built.len() >= MAX_BUILDS {
            return None;
        }
        // Parsed again rather than kept: the Unicode HIR is large and rarely needed.
        let hir = fast::parse_checked(pattern).ok()?;
        let re = Arc::new(fast::build(&cut(&hir, &key))?);
        built.push((key, Arc::clone(&re)));
        Some(re)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_texts() {
        assert_eq!(blocks("plain ascii text, long enough to skip"), None);
        assert_eq!(blocks("é"), Some(vec![0xe9 >> 7]));
        assert_eq!(
            blocks("Failed for \u{fffd}\u{fffd} from x"),
            Some(vec![0xfffd >> 7])
        );
        assert_eq!(
            blocks("a名b\u{1F600}cé名"),
            Some(vec![0xe9 >> 7, 0x540d >> 7, 0x1f600 >> 7])
        );
        let many: String = (0..10u32)
            .filter_map(|i| char::from_u32(0x400 + i * 128))
            .collect();
        assert_eq!(blocks(&many), None);
    }

    /// The cut compilation answers as the full engine on texts within its blocks.
    #[test]
    fn cut_agrees_with_full_engine() {
        let pats = [
            r"^Failed \w+ for (?:invalid user )?(?P<user>\S+) from (?P<host>[\d.]+)(?: port \d+)?\s*$",
            r"(?i)user\s+(?P<u>\w+)\b.*?(?P<rest>[^\s]+)$",
            r"\bé\w+|\W(?P<x>.)\d",
            r"(?P<a>[^a-z]{2,5})\s(?P<b>\w*)",
        ];
        let texts = [
            "Failed password for jöhn from 1.2.3.4 port 22",
            "Failed pässwörd for bob from 1.2.3.4",
            "Failed password for bob from 1.2.3.4 port 22 \u{2003}",
            "Failed password for invalid user 名前 from 10.0.0.1",
            "Failed password for \u{fffd}\u{fffd}\u{fffd} from 192.0.2.7 port 1 ssh2",
            "USER \u{212a}elvin été ü\u{fffd}",
            "café été ÉTÉ 名名 x٣4",
            "ÄÖÜ\u{2003}\u{1F600}x",
        ];
        for p in pats {
            let full = regex::Regex::new(p).expect("full");
            for text in texts {
                let key = blocks(text).expect("non-ASCII");
                let re = Near::default().get(p, key).expect("cut builds");
                for pos in 0..text.len() {
                    if !text.is_char_boundary(pos) {
                        continue;
                    }
                    let want = full.captures_at(text, pos).map(|c| {
                        c.iter()
                            .map(|m| m.map(|m| (m.start(), m.end())))
                            .collect::<Vec<_>>()
                    });
                    let mut caps = re.create_captures();
                    re.search_captures(&regex_automata::Input::new(text).range(pos..), &mut caps);
                    let got = caps.is_match().then(|| {
                        (0..caps.group_len())
                            .map(|i| caps.get_group(i).map(|s| (s.start, s.end)))
                            .collect::<Vec<_>>()
                    });
                    assert_eq!(got, want, "{p} on {text:?} at {pos}");
                }
            }
        }
    }
}
