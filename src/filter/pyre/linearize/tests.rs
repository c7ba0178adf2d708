//! Linearized patterns against fancy-regex on the original: the same match and the same
//! group spans on generated and adversarial texts.

use super::look::avoid;
use super::*;
use crate::filter::pyre::translate;

/// Spans of the original (fancy) and of the linear form, mapped back; None if the
/// fancy engine gave up.
type Spans = Vec<Option<(usize, usize)>>;

fn fancy_spans(re: &fancy_regex::Regex, text: &str) -> Option<Option<Spans>> {
    match re.captures(text) {
        Ok(c) => Some(c.map(|c| c.iter().map(|m| m.map(|m| (m.start(), m.end()))).collect())),
        Err(_) => None,
    }
}

fn linear_spans(l: &Linear, re: &regex::Regex, text: &str) -> Option<Spans> {
    let c = re.captures(text)?;
    let raw: Spans = c.iter().map(|m| m.map(|m| (m.start(), m.end()))).collect();
    Some(map_spans(&l.map, l.names.len(), &raw))
}

/// A small deterministic generator (no extra dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// Tokens for texts: the pattern's literal runs, their prefixes and suffixes, and
/// generic pieces (separators, an address, a newline, a non-ASCII char).
/// Chars tried for classes and `.` when sampling texts from a pattern.
const CANDIDATES: &[char] = &[
    ' ', 'a', 'Z', '0', '7', ':', '.', '-', '_', '[', ']', 'f', 'r', 'o', 'm', 'é', '\n', '`', '/',
    'p',
];

/// Appends to `out` a random text the pattern `n` is likely to match (look-around and
/// conditions ignored, so some are near misses).
/// Chars each atom can match, among [`CANDIDATES`].
type Cache = std::collections::HashMap<String, Vec<char>>;

fn sample(n: &Node, rng: &mut Lcg, out: &mut String, cache: &mut Cache) {
    match n {
        Node::Atom(t) => {
            if let Some(c) = ast::literal(n) {
                out.push(c);
                return;
            }
            let ok = cache.entry(t.clone()).or_insert_with(|| {
                let Ok(re) = regex::Regex::new(&format!("^(?:{t})$")) else {
                    return Vec::new();
                };
                CANDIDATES
                    .iter()
                    .copied()
                    .filter(|c| re.is_match(c.encode_utf8(&mut [0; 4])))
                    .collect()
            });
            if !ok.is_empty() {
                out.push(ok[rng.next(ok.len())]);
            }
        }
        Node::Cat(v) => v.iter().for_each(|c| sample(c, rng, out, cache)),
        Node::Alt(v) => sample(&v[rng.next(v.len())], rng, out, cache),
        Node::Cap(_, b) | Node::Group(_, b) => sample(b, rng, out, cache),
        Node::Rep(b, q) => {
            let hi = q.hi.unwrap_or(q.lo + 4).min(q.lo + 4);
            let k = q.lo as usize + rng.next((hi - q.lo) as usize + 1);
            (0..k).for_each(|_| sample(b, rng, out, cache));
        }
        Node::Look(..) => {}
        Node::Cond(_, y, no) => sample(if rng.next(2) == 0 { y } else { no }, rng, out, cache),
    }
}

fn tokens(python: &str) -> Vec<String> {
    let mut out: Vec<String> = [
        " ",
        "a",
        "b",
        ":",
        ": ",
        "\n",
        "1",
        "22",
        "192.0.2.1",
        "::1",
        "x y",
        "é",
        "[",
        "`",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut run = String::new();
    let mut chars = python.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || " :-@.'\"".contains(c) {
            run.push(c);
            continue;
        }
        if c == '\\' {
            chars.next();
        }
        if run.chars().count() > 1 {
            let v: Vec<char> = run.chars().collect();
            for k in 1..v.len() {
                out.push(v[..k].iter().collect());
                out.push(v[k..].iter().collect());
            }
            out.push(run.clone());
        }
        run.clear();
    }
    out.sort();
    out.dedup();
    out
}

/// Compares the two engines on `n` generated texts; returns how many matched.
fn check(python: &str, n: usize, seed: u64) -> usize {
    let t = translate(python, false, false).expect("translates");
    let l = t
        .regrouped
        .clone()
        .unwrap_or_else(|| panic!("not linearized: {python}"));
    let lin = regex::Regex::new(&l.pattern).expect("linear compiles");
    let fancy = fancy_regex::RegexBuilder::new(&t.fancy)
        .backtrack_limit(10_000_000)
        .build()
        .expect("fancy compiles");
    let toks = tokens(python);
    // Texts come from the original, look-around ignored; a back-reference cannot be
    // sampled there, so such patterns are sampled from their linear form.
    let source = if t.fancy.contains("\\k<") {
        &l.pattern
    } else {
        &t.fancy
    };
    let tree = parse(source).expect("parses").root;
    let mut cache = Cache::new();
    let mut rng = Lcg(seed);
    let mut matched = 0;
    for _ in 0..n {
        let mut text = String::new();
        if rng.next(5) > 0 {
            sample(&tree, &mut rng, &mut text, &mut cache);
        }
        // Mutations: tokens inserted at random char boundaries.
        for _ in 0..rng.next(4) {
            let at: Vec<usize> = (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .collect();
            let at = at[rng.next(at.len())];
            text.insert_str(at, &toks[rng.next(toks.len())]);
        }
        let Some(want) = fancy_spans(&fancy, &text) else {
            continue;
        };
        let got = linear_spans(&l, &lin, &text);
        assert_eq!(
            got, want,
            "pattern {python}\ntext {text:?}\nlinear {}",
            l.pattern
        );
        matched += usize::from(want.is_some());
    }
    println!("{matched}/{n} matched: {python}");
    matched
}

#[test]
fn conditional_on_optional_and_alternation() {
    let p = r"^a (?P<x>b )?(?P<u>(?P<c>\S+)|(?(x)(?:(?! at ).)*?|[^:]+)) at (?P<h>\w+)(?: p\d+)?(?(c): |(?:(?:(?! at ).)*)$)";
    assert!(check(p, 20_000, 1) > 100);
    // Lazy optional: the skip branch is preferred.
    let p = r"(?P<x>ab)??(?(x)c|[a-z]c)";
    assert!(check(p, 5_000, 2) > 100);
    // Numbered group, conditional without a no-branch.
    let p = r"(\d)?x(?(1)y)z";
    assert!(check(p, 5_000, 3) > 10);
}

#[test]
fn guarded_run_not_starting_with_literal() {
    let p = r"^F \b(?!pub)\S+ for (?P<u>\S*)$";
    assert!(check(p, 20_000, 4) > 50);
    let p = r"x(?!ab)\w* y";
    assert!(check(p, 20_000, 5) > 50);
}

/// The run may stop at several places (the text after it starts with a class char, not
/// one of the literal's): apache's `(?!evasive)\S+:\S+`, lazy and optional runs, a
/// literal with repeated chars, a line end after the run.
#[test]
fn guarded_run_with_several_stops() {
    let apache = r"^\[(:?error|(?!evasive)\S+:\S+)\]( \[pid \d+(:\S+ \d+)?\])? \[client (?P<h>\S+)\] (?P<c>.+)$";
    assert!(check(apache, 20_000, 40) > 100);
    for (i, p) in [
        r"^\[(?!aba)\S+:\S+\]",
        r"^\[(?!aba)\S*:(\S*)\]",
        r"^(?!ab)\S+?:(?P<r>\S+)",
        r"^(?!ab)[a-z:]*?:(\S*) ",
        r"(?!ab)\S+:\S*$",
        r"(?!ab)\S*?:\S*$",
        r"^(?!abab)[ab:\]]+(?P<x>\])",
        r"^(?!ab)\S+$",
    ]
    .iter()
    .enumerate()
    {
        assert!(check(p, 20_000, 41 + i as u64) > 50, "{p}");
    }
    // The text after the run may start with a char of the literal: kept fancy.
    assert!(linearize(r"^(?!evasive)\S+e\S+\]").is_none());
    assert!(linearize(r"^(?!ab:)\S+?:\S+").is_none());
}

#[test]
fn one_char_guard_moves_into_runs() {
    let p = r"^user (?!`)(?P<user>(?:\S*|.*?)) (?:denied|not found)\b";
    assert!(check(p, 20_000, 6) > 100);
    let p = r"^u (?!a)(\w*?) b";
    assert!(check(p, 20_000, 7) > 100);
}

#[test]
fn loops_before_literal_or_line_end() {
    for (i, lit) in [" from ", "aa", "aba", "abab", " f", "x"]
        .iter()
        .enumerate()
    {
        let p = format!("^(?P<u>(?:(?!{lit}).)*?){lit}(?P<r>(?:(?!{lit}).)*)$");
        assert!(check(&p, 10_000, 10 + i as u64) > 0, "{p}");
    }
}

#[test]
fn avoid_language_is_exact() {
    // Every string over a small alphabet: in the language iff `w + tail` holds no lit.
    for lit in ["aa", "aba", "abab", "aab", "abc", "a"] {
        let l: Vec<char> = lit.chars().collect();
        for tail in [&l[..0], &l[..l.len() - 1]] {
            let re = regex::Regex::new(&format!("^{}$", avoid(&l, tail).unwrap())).unwrap();
            let tail_s: String = tail.iter().collect();
            let mut words = vec![String::new()];
            for _ in 0..7 {
                let mut next = Vec::new();
                for w in &words {
                    for c in ['a', 'b', 'c', '\n'] {
                        next.push(format!("{w}{c}"));
                    }
                }
                for w in &next {
                    let want = !w.contains('\n') && !format!("{w}{tail_s}").contains(lit);
                    assert_eq!(re.is_match(w), want, "lit {lit:?} tail {tail_s:?} w {w:?}");
                }
                words = next;
            }
        }
    }
}

#[test]
fn kept_fancy_when_not_provable() {
    // Conditional under a loop: a group keeps its value from an earlier round.
    assert!(linearize(r"(?:(a)?b(?(1)c|d))+").is_none());
    // Look-ahead not followed by its literal.
    assert!(linearize(r"(?:(?!ab).)*?c").is_none());
    // Case-insensitive scope.
    assert!(linearize(r"(?i)(?:(?!ab).)*ab").is_none());
    // Look-ahead left after a back-reference is distributed.
    assert!(linearize(r"(a)\k<1>(?!b)").is_none());
    // Back-references to a group of more than a few chars, in a loop, before their
    // group, outside the group's concatenation, or in a case-insensitive scope.
    assert!(linearize(r"(\w)\k<1>").is_none());
    assert!(linearize(r"(?:([ab])\k<1>)+").is_none());
    assert!(linearize(r"(?:(-)|/)\d+\k<1>").is_none());
    assert!(linearize(r"(?i)([ab])x\k<1>").is_none());
    assert!(linearize(r"(?:([ab])x)\k<1>").is_none());
}

/// One-char back-references distributed over the group's chars: the date templates'
/// separators, two groups in turn, a reference in an optional part or a loop of the rest,
/// a literal group, a look-ahead after the reference.
#[test]
fn backrefs_to_one_char_groups() {
    for (i, p) in [
        r"(?P<y>\d{4})(?P<_sep>[-/.])(?P<m>\d\d)(?P=_sep)(?P<d>\d\d)",
        r"^(?:\W{0,2})?(?P<d>\d\d?)(?P<_sep>[-/])(?P<m>\d\d?)(?P=_sep)(?P<y>\d\d)(?: (?P<H>\d\d):(?P<M>\d\d))?",
        r"(?P<q>['\x22])(?P<v>[^'\x22]*)(?P=q) (?P<r>['`])\w*(?P=r)",
        r"^(?P<a>[ab])x(?:(?P=a)y)?(?P=a)*$",
        r"(:)(\d+)(?:\1\d+)? z",
        r"(?P<s>[-/])\d+(?P=s)(?!-)(\S*) ",
    ]
    .iter()
    .enumerate()
    {
        assert!(check(p, 20_000, 60 + i as u64) > 50, "{p}");
    }
}

/// Every corpus pattern that linearizes, against fancy-regex on generated texts.
#[test]
fn corpus_patterns_agree_with_fancy() {
    let path = "/work/shared/spec/regex-corpus/expanded.jsonl";
    let Ok(text) = std::fs::read_to_string(path) else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{path} missing");
        eprintln!("SKIPPED: {path} not found");
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut linearized = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let p = v["python_pattern"].as_str().unwrap_or_default().to_string();
        if v["multiline"].as_bool() == Some(true) || !seen.insert(p.clone()) {
            continue;
        }
        let Ok(t) = translate(&p, false, false) else {
            continue;
        };
        if t.regrouped.is_some() {
            linearized += 1;
            assert!(
                check(&p, 3_000, seen.len() as u64) > 0,
                "never matched: {p}"
            );
        }
    }
    println!("{linearized} corpus patterns linearized");
    assert!(
        linearized >= 4,
        "only {linearized} corpus patterns linearized"
    );
}

/// Back-references: only the rest up to the last reference is copied, and references
/// or conditionals on groups of that part keep it in the copies.
#[test]
fn backref_copies_stop_at_last_reference() {
    let p = r"(?P<y>\d{4})(?P<_sep>[-/.])(?P<m>\d\d)(?P=_sep)(?P<d>\d\d) (?P<H>\d\d):(?P<M>\d\d)";
    let l = linearize(&translate(p, false, false).unwrap().fancy).expect("linear");
    // The copies end at the reference: the hour part is written once.
    assert_eq!(l.pattern.matches("):(").count(), 1, "{}", l.pattern);
    assert!(check(p, 20_000, 70) > 50);
    for (i, p) in [
        r"(?P<a>[ab])(?P<b>[cd])x(?P=a)y(?P=b)z",
        r"(?P<a>[ab])(?P<o>q)?x(?P=a)(?(o)1|2)w",
        r"^(?P<a>[-/])\d+(?P=a)\d+(?P<t> \w+)?(?(t)!|\.)$",
    ]
    .iter()
    .enumerate()
    {
        assert!(check(p, 20_000, 71 + i as u64) > 50, "{p}");
    }
}

/// A capture over an alternation with a branch ending in a run is spread over the rest,
/// the run in a helper group; the same spans as fancy-regex, and the chain of the
/// compiled pattern (which now tells the groups) agrees too.
#[test]
fn capture_alternation_spread_over_rest() {
    let apache = r"^\[\]\s\[(:?error|(?!evasive)\S+:\S+)\]( \[pid \d+(:\S+ \d+)?\])? \[client (?P<h>[\d.]+)(:\d{1,5})?\] (?:AH\d+: )?(?P<c>.+)$";
    let l = linearize(&translate(apache, false, false).unwrap().fancy).expect("linear");
    assert!(l.map.contains(&spread::HELPER), "{}", l.pattern);
    assert!(check(apache, 20_000, 80) > 100);
    // (A back-reference in front makes each pattern one the linearizer rewrites.)
    for (i, p) in [
        r"^(?P<s>[-/])(?P=s)(a|\w+:\w+)\](x|y\d*)? (?P<r>.+)$",
        r"(?P<s>[-/])(?P=s)(?P<u>b|x\w*?)\d",
        r"^(?P<s>[-/])(?P=s)(?P<u>ab|[a-z]:[a-z]*|\w+:\S+)\] ?(?P<t>\S*)$",
        r"^(?P<s>[-/])(?P=s)(?:(?P<u>\d|a\S*) (?P<v>x|y\s*))+z",
    ]
    .iter()
    .enumerate()
    {
        assert!(check(p, 20_000, 81 + i as u64) > 50, "{p}");
    }
    let re = crate::filter::pyre::compile(apache, crate::filter::pyre::Flags::default())
        .expect("compiles");
    let fancy = fancy_regex::Regex::new(&translate(apache, false, false).unwrap().fancy)
        .expect("fancy compiles");
    let lines = [
        "[] [auth_basic:error] [pid 4:tid 13] [client 1.2.3.4:50] AH01617: user a: x",
        "[] [a:b:c] [client 1.2.3.4] y",
        "[] [x]:y] [client 1.2.3.4] z",
        "[] [error] [client 1.2.3.4:1] w",
        "[] [:error] [pid 1] [client 1.2.3.4] w",
        "[] [evasive:x] [client 1.2.3.4] v",
        "[] [eva:x]] [client 1.2.3.4] v",
        "[] [a:b] [client 1.2.3.4]",
    ];
    // Past the chain's probation, so its verdicts are used.
    for _ in 0..100 {
        for t in lines {
            let want = fancy_spans(&fancy, t).expect("no give-up");
            let got = re
                .search(t, 0)
                .map(|m| (0..m.len()).map(|i| m.span(i)).collect::<Vec<_>>());
            assert_eq!(got, want, "{t}");
        }
    }
}
