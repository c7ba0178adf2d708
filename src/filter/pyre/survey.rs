//! Test inputs from the shared regex survey (read where the tests run; gaol never
//! loads them).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

/// `text` with every ASCII digit moved on by `k` (same length, other bytes kept):
/// a text whose groups a memory of the last search must share or tell apart.
pub fn shift_digits(text: &str, k: u8) -> String {
    text.chars()
        .map(|c| match c {
            '0'..='9' => char::from(b'0' + (c as u8 - b'0' + k) % 10),
            _ => c,
        })
        .collect()
}

/// Recorded inputs by (pattern, multi-line).
pub type Inputs = BTreeMap<(String, bool), BTreeSet<String>>;

/// The recorded inputs of the regex survey, by pattern and flag.
pub fn sample_inputs() -> Option<Inputs> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/spec/regex-corpus/sample-cases.jsonl.gz"
    );
    let Ok(f) = std::fs::File::open(path) else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{path} missing");
        eprintln!("SKIPPED: {path} not found");
        return None;
    };
    let mut text = String::new();
    flate2::read::GzDecoder::new(f)
        .read_to_string(&mut text)
        .expect("reads the corpus");
    let mut out: BTreeMap<(String, bool), BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let (Some(p), Some(ml), Some(input)) = (
            v["pattern"].as_str(),
            v["multiline"].as_bool(),
            v["input"].as_str(),
        ) else {
            continue;
        };
        out.entry((p.to_string(), ml))
            .or_default()
            .insert(input.to_string());
    }
    Some(out)
}

/// A survey pattern with a linear form, as the fast paths read it.
pub struct Linear<'a> {
    pub pattern: &'a str,
    /// The linear form parsed, ASCII-only (see `fast::ascii_hir`).
    pub ascii: regex_syntax::hir::Hir,
    /// The `regex` crate's compilation of the linear form: the answers to match.
    pub exact: regex::Regex,
    pub texts: &'a BTreeSet<String>,
}

/// The patterns of `inputs` that have a linear form which parses and compiles.
pub fn linear_forms(
    inputs: &BTreeMap<(String, bool), BTreeSet<String>>,
) -> impl Iterator<Item = Linear<'_>> {
    inputs.iter().filter_map(|((p, ml), texts)| {
        let linear = super::translate::translate(p, *ml, false).ok()?.linear?;
        let h = super::fast::parse_checked(&linear).ok()?;
        let exact = regex::Regex::new(&linear).ok()?;
        Some(Linear {
            pattern: p,
            ascii: super::fast::ascii_hir(&h),
            exact,
            texts,
        })
    })
}
