//! Per-slot memories of the date detector that spare repeated work on busy logs:
//! [`Memo`] (a template's captures and time for a repeated date text), [`ConvMemo`]
//! (a conversion keyed by the group texts it reads), [`Repeat`] (the whole result of the
//! last line when the next one starts with the same deciding bytes), and [`search_at`]
//! (the groups of a match whose span is known).

use super::{DateError, DateMatch};

/// Captures of a linear template on one line, and the time they converted to. Valid for
/// another line whose match has the same span and whose text up to 4 bytes past the
/// match is the same: linear group spans depend on nothing else (see
/// `pyre::Regex::find_span`). Busy logs repeat the same date text line after line.
#[derive(Debug, Clone, Default)]
pub(super) struct Memo {
    pub key: Vec<u8>,
    pub spans: Vec<Option<(usize, usize)>>,
    /// `now` (bits) and the conversion made with it.
    pub conv: Option<(u64, Result<f64, DateError>)>,
}

impl Memo {
    /// The key bytes of a match ending at `end`.
    pub fn key_of(line: &str, end: usize) -> &[u8] {
        &line.as_bytes()[..(end + 4).min(line.len())]
    }

    /// Takes the key and spans of a match in `line` (reusing the storage), for the
    /// caller to set its conversion.
    pub fn hold(&mut self, line: &str, spans: &[Option<(usize, usize)>]) {
        let end = spans.first().copied().flatten().map_or(0, |s| s.1);
        self.key.clear();
        self.key.extend_from_slice(Memo::key_of(line, end));
        self.spans.clear();
        self.spans.extend_from_slice(spans);
    }

    pub fn fits(&self, line: &str, spans: &[Option<(usize, usize)>]) -> bool {
        let end = spans.first().copied().flatten().map_or(0, |s| s.1);
        self.spans == spans && self.key == Memo::key_of(line, end)
    }
}

/// The last conversion of a pattern template, keyed by the texts of the named groups it
/// reads: all but the microseconds (`f`), which the conversion drops. Catches lines whose
/// date text repeats but whose [`Memo`] key does not: microseconds changing from line
/// to line (apache's error log), other text right after the date.
#[derive(Debug, Clone)]
pub(super) struct ConvMemo {
    /// Per named group but `f`: 0 when it did not take part, else 1, its text, 0xFF
    /// (a byte UTF-8 never holds).
    pub key: Vec<u8>,
    /// `now` (bits) the conversion was made with.
    pub bits: u64,
    pub time: Result<f64, DateError>,
}

impl ConvMemo {
    pub fn key_of(
        out: &mut Vec<u8>,
        re: &crate::filter::pyre::Regex,
        m: &crate::filter::pyre::Match<'_>,
    ) {
        out.clear();
        for (g, name) in re.group_names() {
            if name == "f" {
                continue;
            }
            match m.group(g) {
                None => out.push(0),
                Some(t) => {
                    out.push(1);
                    out.extend_from_slice(t.as_bytes());
                    out.push(0xFF);
                }
            }
        }
    }

    /// Whether `m` gives the `key` [`ConvMemo::key_of`] would build (no allocation).
    pub fn same_groups(
        key: &[u8],
        re: &crate::filter::pyre::Regex,
        m: &crate::filter::pyre::Match<'_>,
    ) -> bool {
        let mut rest = key;
        for (g, name) in re.group_names() {
            if name == "f" {
                continue;
            }
            let next = match m.group(g) {
                None => rest.strip_prefix(&[0u8][..]),
                Some(t) => rest
                    .strip_prefix(&[1u8][..])
                    .and_then(|r| r.strip_prefix(t.as_bytes()))
                    .and_then(|r| r.strip_prefix(&[0xFFu8][..])),
            };
            match next {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }
}

/// The groups of the match `re` has at `span` in `line` (found by a span-only search):
/// searched from its start in the text up to one char past its end, on which they
/// depend alone (see [`crate::filter::pyre::Regex::find_span`]), so a long line is not
/// scanned again. A different answer there (an end-of-text assertion at the cut) falls
/// back to the whole line.
pub(super) fn search_at<'t>(
    re: &crate::filter::pyre::Regex,
    line: &'t str,
    span: (usize, usize),
) -> Option<crate::filter::pyre::Match<'t>> {
    let cut = cut_after(line, span);
    // The known start lets the small backtracker answer (its memory spares most of it
    // when only digits changed since the last line).
    if let Some(m) = short_in(re, line, cut, span).or_else(|| {
        (cut < line.len())
            .then(|| re.search(&line[..cut], span.0))
            .flatten()
            .filter(|m| (m.start(), m.end()) == span)
            .map(|m| re.match_from_spans(line, m.into_spans()))
    }) {
        return Some(m);
    }
    re.search(line, 0)
}

/// The end of the text [`search_at`] searches: one char (4 bytes) past the match.
fn cut_after(line: &str, span: (usize, usize)) -> usize {
    let mut cut = (span.1 + 4).min(line.len());
    while !line.is_char_boundary(cut) {
        cut += 1;
    }
    cut
}

/// The match at `span` by the small backtracker alone, when it tells one with that
/// span. For a back-reference template `span` is its linear stand-in's (see
/// `pyre::Regex::stand_in_span`): the first stand-in path from there ends where the
/// stand-in's match ends, so it is that match, and it passed the check. A search of the
/// cut text by the fancy engine would not do there (one of its paths cut short could
/// give way to a later one of the same span), so none is made.
pub(super) fn short_at<'t>(
    re: &crate::filter::pyre::Regex,
    line: &'t str,
    span: (usize, usize),
) -> Option<crate::filter::pyre::Match<'t>> {
    short_in(re, line, cut_after(line, span), span)
}

/// The last match of a back-reference template (the access log's) told at its linear
/// stand-in's span by [`short_at`], by the text that decided it: the small backtracker
/// reads nothing before the byte ahead of the match start and, run on the line cut at
/// [`cut_after`], nothing past the cut, so a line holding the same bytes there around a
/// match of the same length gets the same match, moved (the client address before an
/// access-log date changes its place on every line), and for the same `now` the same
/// time. Valid for ASCII lines without a newline inside, as the stand-in's span is
/// only found on those (see `pyre::Regex::stand_in_span`).
#[derive(Debug, Clone, Default)]
pub(super) struct Window {
    /// The bytes from one before the match start (from the start for a match at 0) to
    /// the cut.
    pub key: Vec<u8>,
    /// The match start's offset in `key` (0 or 1) and the match length.
    pub lead: usize,
    pub len: usize,
    /// The group spans, as offsets from the match start.
    pub spans: Vec<Option<(usize, usize)>>,
    /// `now` (bits) and the conversion made with it.
    pub conv: Option<(u64, Result<f64, DateError>)>,
}

impl Window {
    /// The key bytes of a search from `start` of `line` cut at `cut`, and its lead.
    fn key_of(line: &str, start: usize, cut: usize) -> (&[u8], usize) {
        let from = start.saturating_sub(1);
        (&line.as_bytes()[from..cut], start - from)
    }

    /// The match from `start` of `line` cut at `cut` (`len`: the length asked of it,
    /// part of the key) when this window tells it (see [`Window`]).
    pub fn told<'t>(
        &self,
        re: &crate::filter::pyre::Regex,
        line: &'t str,
        start: usize,
        cut: usize,
        len: usize,
    ) -> Option<crate::filter::pyre::Match<'t>> {
        let (key, lead) = Window::key_of(line, start, cut);
        if lead != self.lead || len != self.len || key != self.key.as_slice() {
            return None;
        }
        #[cfg(test)]
        super::WINDOW_TOLD.with(|n| n.set(n.get() + 1));
        let spans = self
            .spans
            .iter()
            .map(|g| g.map(|(a, b)| (a + start, b + start)))
            .collect();
        Some(re.match_from_spans(line, spans))
    }

    /// Takes the match `m` found from `start` of `line` cut at `cut` (reusing the
    /// storage).
    pub fn hold(
        &mut self,
        line: &str,
        start: usize,
        cut: usize,
        len: usize,
        m: &crate::filter::pyre::Match<'_>,
    ) {
        let (key, lead) = Window::key_of(line, start, cut);
        self.key.clear();
        self.key.extend_from_slice(key);
        self.lead = lead;
        self.len = len;
        self.spans.clear();
        for g in m.spans() {
            match *g {
                None => self.spans.push(None),
                Some((a, b)) if a >= start => self.spans.push(Some((a - start, b - start))),
                // (a group before the match start, as a look-behind's: not told here)
                Some(_) => {
                    self.len = usize::MAX;
                    break;
                }
            }
        }
        self.conv = None;
    }
}

/// Windows kept besides the one that told the last match: within one second an access
/// log's lines alternate a few texts after the date (`] "GET`, `] "POST`), which the
/// window's bytes past the match tell apart.
const SPARE_WINDOWS: usize = 3;

/// A slot's [`Window`]s at stand-in spans: the one that told or took the last match (its
/// conversion is the one the detector reads next), and up to [`SPARE_WINDOWS`] before it.
#[derive(Debug, Clone, Default)]
pub(super) struct Windows {
    pub current: Window,
    spares: Vec<Window>,
}

/// [`Window::told`] at a stand-in span (see [`short_at`]) by the current window or a
/// spare (which then becomes current), else [`short_at`] there, its match then taken
/// into the current window (the one it held kept as a spare, the oldest spare dropped).
pub(super) fn short_at_held<'t>(
    windows: &mut Option<Box<Windows>>,
    re: &crate::filter::pyre::Regex,
    line: &'t str,
    span: (usize, usize),
) -> Option<crate::filter::pyre::Match<'t>> {
    let cut = cut_after(line, span);
    let len = span.1 - span.0;
    if let Some(ws) = windows.as_deref_mut() {
        if let Some(m) = ws.current.told(re, line, span.0, cut, len) {
            return Some(m);
        }
        for k in 0..ws.spares.len() {
            if let Some(m) = ws.spares[k].told(re, line, span.0, cut, len) {
                #[cfg(test)]
                super::SPARE_TOLD.with(|n| n.set(n.get() + 1));
                std::mem::swap(&mut ws.current, &mut ws.spares[k]);
                return Some(m);
            }
        }
    }
    let m = short_at(re, line, span)?;
    let ws = windows.get_or_insert_with(Default::default);
    // (a window never filled has no key: any span's key holds at least the match start)
    if !ws.current.key.is_empty() {
        let storage = if ws.spares.len() >= SPARE_WINDOWS {
            ws.spares.remove(0)
        } else {
            Window::default()
        };
        ws.spares.push(std::mem::replace(&mut ws.current, storage));
    }
    ws.current.hold(line, span.0, cut, len, &m);
    Some(m)
}

/// [`short_at`] on `line` cut at `cut`.
fn short_in<'t>(
    re: &crate::filter::pyre::Regex,
    line: &'t str,
    cut: usize,
    span: (usize, usize),
) -> Option<crate::filter::pyre::Match<'t>> {
    let m = re.search_short(&line[..cut], span.0)?;
    // The match borrows the shorter slice of the same text: rebuild it on `line`.
    ((m.start(), m.end()) == span).then(|| re.match_from_spans(line, m.into_spans()))
}

/// The last line's whole result, taken from the last winning template's anchored DFA
/// (see [`super::anchored::Decided`]): a line starting with the same deciding bytes
/// (plus the 3 after them, for the chars around the match end that the position memory
/// reads) gets the same match, the same captures and, for the same `now`, the same
/// time; only the hit counts move. Most syslog lines repeat the previous line's second.
#[derive(Debug, Clone)]
pub(super) struct Repeat {
    /// The template's slot (the detector drops this memory whenever slots move).
    pub index: usize,
    pub key: Vec<u8>,
    /// The key is the whole line (the automaton read it to its end).
    pub whole: bool,
    /// `now` (bits) of the result.
    pub bits: u64,
    pub result: DateMatch,
    /// Char offset of the match start (the slot's distance).
    pub start: usize,
}

impl Repeat {
    /// (`old`: a previous one, whose key's storage is reused)
    pub fn new(
        index: usize,
        line: &str,
        decided: super::anchored::Decided,
        now: f64,
        result: &DateMatch,
        start: usize,
        old: Option<Repeat>,
    ) -> Repeat {
        let len = if decided.whole {
            line.len()
        } else {
            (decided.len + 3).min(line.len())
        };
        let mut key = old.map(|o| o.key).unwrap_or_default();
        key.clear();
        key.extend_from_slice(&line.as_bytes()[..len]);
        Repeat {
            index,
            key,
            whole: decided.whole,
            bits: now.to_bits(),
            result: result.clone(),
            start,
        }
    }

    /// Whether `line` at `now` gets the remembered result.
    pub fn fits(&self, line: &str, now: f64) -> bool {
        self.bits == now.to_bits()
            && if self.whole {
                line.as_bytes() == self.key.as_slice()
            } else {
                crate::filter::pyre::has_prefix(line.as_bytes(), &self.key)
            }
    }
}
