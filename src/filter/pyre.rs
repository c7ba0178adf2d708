//! Python `re` → Rust regex: translation of fail2ban's regex dialect and engine choice.
//!
//! [`compile`] takes a pattern exactly as fail2ban hands it to Python's `re.compile` and
//! returns a [`Regex`] that runs on the linear-time `regex` crate when the translated
//! pattern allows it, and on `fancy-regex` (with a backtrack limit) when it needs
//! backreferences or look-around. [`Regex::search`] has Python's `pattern.search(s, pos)`
//! semantics; offsets are byte offsets into the `&str`.
//!
//! NOTE: skeleton API. The translation is not done yet: patterns go to fancy-regex as-is.

use std::fmt;
use std::sync::Arc;

/// Python `re` flags that fail2ban sets from outside the pattern.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `re.MULTILINE` (fail2ban sets it for failregexes when `maxlines > 1`).
    pub multiline: bool,
    /// `re.IGNORECASE`.
    pub ignore_case: bool,
}

/// A pattern that compiles in neither engine, with the part that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub pattern: String,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Unable to compile regular expression '{}':\n{}",
            self.pattern, self.message
        )
    }
}

impl std::error::Error for Error {}

#[derive(Debug)]
enum Engine {
    Linear(regex::Regex),
    Fancy(fancy_regex::Regex),
}

/// A compiled fail2ban regex.
#[derive(Debug, Clone)]
pub struct Regex {
    engine: Arc<Engine>,
    /// Group index → name, for named groups (index 0 is the whole match).
    names: Arc<Vec<Option<String>>>,
}

/// Compiles a Python-dialect pattern.
pub fn compile(pattern: &str, flags: Flags) -> Result<Regex, Error> {
    let mut prefix = String::new();
    if flags.multiline {
        prefix.push_str("(?m)");
    }
    if flags.ignore_case {
        prefix.push_str("(?i)");
    }
    let translated = format!("{prefix}{pattern}");
    let fancy = fancy_regex::RegexBuilder::new(&translated)
        .backtrack_limit(1_000_000)
        .build()
        .map_err(|e| Error {
            pattern: pattern.to_string(),
            message: e.to_string(),
        })?;
    let names = fancy
        .capture_names()
        .map(|n| n.map(str::to_string))
        .collect();
    Ok(Regex {
        engine: Arc::new(Engine::Fancy(fancy)),
        names: Arc::new(names),
    })
}

impl Regex {
    /// Python's `pattern.search(text, pos)`: the first match starting at or after `pos`
    /// (`^` and look-behind still see the text before `pos`).
    pub fn search<'t>(&self, text: &'t str, pos: usize) -> Option<Match<'t>> {
        let spans: Vec<Option<(usize, usize)>> = match &*self.engine {
            Engine::Linear(re) => {
                let caps = re.captures_at(text, pos)?;
                caps.iter()
                    .map(|m| m.map(|m| (m.start(), m.end())))
                    .collect()
            }
            Engine::Fancy(re) => {
                let caps = re.captures_from_pos(text, pos).ok()??;
                caps.iter()
                    .map(|m| m.map(|m| (m.start(), m.end())))
                    .collect()
            }
        };
        Some(Match {
            text,
            spans,
            names: Arc::clone(&self.names),
        })
    }

    /// Whether the pattern runs on the linear-time engine.
    pub fn is_linear(&self) -> bool {
        matches!(&*self.engine, Engine::Linear(_))
    }

    /// Index of the named group `name`.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.as_deref() == Some(name))
    }

    /// `(index, name)` of every named group.
    pub fn group_names(&self) -> impl Iterator<Item = (usize, &str)> {
        self.names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_deref().map(|n| (i, n)))
    }
}

/// One match: the spans of all groups.
#[derive(Debug, Clone)]
pub struct Match<'t> {
    text: &'t str,
    spans: Vec<Option<(usize, usize)>>,
    names: Arc<Vec<Option<String>>>,
}

impl<'t> Match<'t> {
    pub fn start(&self) -> usize {
        self.spans[0].map_or(0, |s| s.0)
    }
    pub fn end(&self) -> usize {
        self.spans[0].map_or(0, |s| s.1)
    }
    pub fn as_str(&self) -> &'t str {
        &self.text[self.start()..self.end()]
    }
    /// Span of group `i`, `None` if it did not take part in the match.
    pub fn span(&self, i: usize) -> Option<(usize, usize)> {
        self.spans.get(i).copied().flatten()
    }
    /// Text of group `i`.
    pub fn group(&self, i: usize) -> Option<&'t str> {
        self.span(i).map(|(s, e)| &self.text[s..e])
    }
    /// Text of the named group `name`.
    pub fn name(&self, name: &str) -> Option<&'t str> {
        let i = self.names.iter().position(|n| n.as_deref() == Some(name))?;
        self.group(i)
    }
    /// Number of groups including group 0.
    pub fn len(&self) -> usize {
        self.spans.len()
    }
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}
