//! The match span of a line-start anchored date template by one anchored lazy-DFA pass.
//!
//! Principal type: [`AnchoredEnd`]. The detector tries its last winning template on
//! every line, mostly the syslog `{^LN-BEG}` one; all it needs first is the span of the
//! match, to check the template's memo (same date text → same captures and time). A
//! template whose every match starts at the text start has its span decided by the
//! end a forward DFA search anchored at 0 reports (leftmost-first, as the `regex` crate
//! matches), which skips the general search's start-finding reverse pass and its
//! per-search set-up. Built on first use: most templates never run; the automaton is
//! then kept for the process ([`BUILT`]), as every detector (a jail's, a restarted
//! jail's, fail2ban-regex's prefregex probe) tends to run the same few templates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::Look;

use crate::filter::pyre;

/// An anchored forward DFA for one template regex, with its own search cache.
#[derive(Debug, Clone)]
pub(super) struct AnchoredEnd {
    dfa: Arc<DFA>,
    cache: Cache,
}

/// The automata built so far by linear pattern (None: the pattern does not qualify).
/// Bounded by the distinct date templates of the configuration.
static BUILT: OnceLock<Mutex<HashMap<String, Option<Arc<DFA>>>>> = OnceLock::new();

impl AnchoredEnd {
    /// None when the template is not on the linear engine, may need Python's exact `$`,
    /// or has a match not starting at the text start.
    pub(super) fn new(re: &pyre::Regex) -> Option<AnchoredEnd> {
        if !re.is_linear() {
            return None;
        }
        let t = re.translated();
        if t.exact_dollar.is_some() {
            return None;
        }
        let linear = t.linear.as_deref()?;
        let table = BUILT.get_or_init(Default::default);
        let known = table.lock().ok().and_then(|t| t.get(linear).cloned());
        let dfa = match known {
            Some(d) => d?,
            None => {
                let d = AnchoredEnd::build(linear).map(Arc::new);
                if let Ok(mut t) = table.lock() {
                    t.insert(linear.to_string(), d.clone());
                }
                d?
            }
        };
        let cache = dfa.create_cache();
        Some(AnchoredEnd { dfa, cache })
    }

    /// The anchored DFA of a linear pattern; None when its matches need not start at the
    /// text start or it does not build.
    fn build(linear: &str) -> Option<DFA> {
        // The same parser settings the `regex` crate's `Regex::new` uses.
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(linear)
            .ok()?;
        if !hir.properties().look_set_prefix().contains(Look::Start) {
            return None;
        }
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .which_captures(thompson::WhichCaptures::None)
                    .nfa_size_limit(Some(1 << 20)),
            )
            .build_from_hir(&hir)
            .ok()?;
        DFA::builder()
            .configure(
                DFA::config()
                    // A Unicode `\b` makes the DFA give up on non-ASCII bytes (then the
                    // caller runs the general search) instead of failing to build.
                    .unicode_word_boundary(true)
                    .cache_capacity(1 << 20)
                    .minimum_cache_clear_count(Some(3)),
            )
            .build_from_nfa(nfa)
            .ok()
    }

    /// The byte span of the match in `line` (`Some(None)`: no match) and how much of the
    /// line decided it; None when the DFA gave up and the general search must decide.
    /// The same leftmost-first answer the `regex` crate's forward search gives, stepped
    /// here by hand to learn where the automaton died: another line with the same bytes
    /// up to there gets the same answer.
    pub(super) fn span(&mut self, line: &str) -> Option<(Option<(usize, usize)>, Decided)> {
        let input = Input::new(line).anchored(Anchored::Yes);
        let (dfa, cache) = (&*self.dfa, &mut self.cache);
        let mut sid = dfa.start_state_forward(cache, &input).ok()?;
        let mut end = None;
        cache.search_start(0);
        for (at, &b) in line.as_bytes().iter().enumerate() {
            sid = dfa.next_state(cache, sid, b).ok()?;
            if sid.is_tagged() {
                // Matches are reported one byte late: a match state here ends at `at`.
                if sid.is_match() {
                    end = Some(at);
                } else if sid.is_dead() {
                    cache.search_finish(at);
                    let decided = Decided {
                        len: at + 1,
                        whole: false,
                    };
                    return Some((end.map(|e| (0, e)), decided));
                } else if sid.is_quit() {
                    cache.search_finish(at);
                    return None;
                }
            }
        }
        sid = dfa.next_eoi_state(cache, sid).ok()?;
        cache.search_finish(line.len());
        if sid.is_match() {
            end = Some(line.len());
        }
        let decided = Decided {
            len: line.len(),
            whole: true,
        };
        Some((end.map(|e| (0, e)), decided))
    }
}

/// How much of a line decided an anchored search: its first `len` bytes (the automaton
/// died on the last of them), or with `whole` the entire line and its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decided {
    pub len: usize,
    pub whole: bool,
}
