//! The lazy engines and their cheap checks against the full answers: the loose check
//! and widened scans of long non-ASCII texts, deferred scans, the full-Unicode engine
//! waiting for a non-ASCII text, the ASCII twin.

use super::fast::{LOOSE_BY_LITERALS, LOOSE_FROM, LOOSE_OFF, LOOSE_RULED_OUT};
use super::*;

fn full_built(re: &Regex) -> bool {
    matches!(&re.inner.engine, Engine::Linear(l) if l.full.get().is_some())
}

fn spans(m: Option<Match<'_>>) -> Option<Spans> {
    m.map(|m| m.spans().to_vec())
}

fn fancy_spans(re: &fancy_regex::Regex, text: &str) -> Option<Spans> {
    spans_fancy(re, text, 0).expect("within the backtrack limit")
}

/// Each survey pattern that compiles, with its first two recorded inputs made long
/// and non-ASCII by `filler` after, before and around them.
fn with_filler<'a>(
    inputs: &'a survey::Inputs,
    filler: &'a str,
) -> impl Iterator<Item = (&'a str, Regex, Vec<String>)> + 'a {
    inputs.iter().filter_map(move |((p, ml), texts)| {
        let flags = Flags {
            multiline: *ml,
            ..Flags::default()
        };
        let re = compile_new(p, flags).ok()?;
        let long = texts.iter().take(2).flat_map(|t| {
            [
                format!("{t}{filler}"),
                format!("{filler}{t}"),
                format!("{filler}{t}{filler}"),
            ]
        });
        Some((p.as_str(), re, long.collect()))
    })
}

/// The loose check of long non-ASCII texts changes no result: every survey pattern
/// (linear or not), on recorded inputs of its made long and non-ASCII (filler after,
/// before, around), finds (search, span, is-match) what it finds with the check off;
/// and the check answers for many of them.
#[test]
fn loose_check_changes_no_result() {
    let Some(inputs) = survey::sample_inputs() else {
        return;
    };
    let filler = "\u{e9} \u{fc}\u{df} ".repeat(LOOSE_FROM / 6 + 1);
    let ruled = LOOSE_RULED_OUT.with(|n| n.get());
    let by_literals = LOOSE_BY_LITERALS.with(|n| n.get());
    let mut n = 0;
    for (p, re, texts) in with_filler(&inputs, &filler) {
        for text in texts {
            let answers = || {
                (
                    re.try_search(&text, 0).map(spans),
                    re.find_span(&text, 0),
                    re.is_match(&text, 0),
                )
            };
            let on = answers();
            LOOSE_OFF.with(|o| o.set(true));
            let off = answers();
            LOOSE_OFF.with(|o| o.set(false));
            let t = text
                .trim_start_matches(&filler[..])
                .trim_end_matches(&filler[..]);
            assert_eq!(on, off, "{p:?} on {t:?}");
            n += 1;
        }
    }
    let ruled = LOOSE_RULED_OUT.with(|n| n.get()) - ruled;
    let by_literals = LOOSE_BY_LITERALS.with(|n| n.get()) - by_literals;
    assert!(
        n > 1000 && ruled > 300 && by_literals > 100 && by_literals < ruled,
        "{n} texts, {ruled} ruled out, {by_literals} by the literals"
    );
}

/// The failregex prefilter's scan for non-ASCII texts (built widened: every class
/// with a non-ASCII member holds all of them) lets through every text a survey
/// pattern matches, made long and non-ASCII as above but long enough for the scan
/// to be built; and it rules many out.
#[test]
fn widened_prefilter_lets_every_match_through() {
    let Some(inputs) = survey::sample_inputs() else {
        return;
    };
    // (16 KiB: the full scan is built for a text this long)
    let filler = "\u{e9} \u{fc}\u{df} ".repeat((16 << 10) / 6 + 1);
    let (mut n, mut matched, mut ruled) = (0usize, 0usize, 0usize);
    for (p, re, texts) in with_filler(&inputs, &filler) {
        let Some(mut any) = Regex::any_of(&[&re], true) else {
            continue;
        };
        // (and non-ASCII letters inside the match too, where `\w`, `\S` or `.`
        // take them)
        let inside = texts
            .iter()
            .step_by(3)
            .flat_map(|t| [t.replace('e', "\u{e9}"), t.replace('1', "\u{661}")]);
        for text in texts.iter().cloned().chain(inside.collect::<Vec<_>>()) {
            let may = any.may_match(&text);
            // (the engine's answer without the loose check, which widens too)
            LOOSE_OFF.with(|o| o.set(true));
            let found = re.is_match(&text, 0);
            LOOSE_OFF.with(|o| o.set(false));
            if found {
                matched += 1;
                let t = text.trim_start_matches(&filler[..]);
                let t = t.trim_end_matches(&filler[..]);
                assert!(may, "{p:?}: ruled out a match on {t:?}");
            } else if !may {
                ruled += 1;
            }
            n += 1;
        }
    }
    assert!(
        n > 1000 && matched > 100 && ruled > 300,
        "{n} texts, {matched} matched, {ruled} ruled out"
    );
}

/// A widened pattern matches wherever the pattern does, on texts with non-ASCII
/// letters where the pattern's classes (`\w`, case-folded letters) take them; and its
/// automaton is a fraction of the pattern's.
#[test]
fn widened_pattern_matches_a_superset() {
    let cases = [
        (
            r"^(?i)user (\w+) from \S+ \bport\b \d+",
            "USER \u{e9}l\u{e8}ve from h\u{f4}te port 22",
        ),
        (r"(?i)kelvin", "\u{212a}elvin"),
        (r"^[^-]+ -- x", "\u{fc}ber -- x"),
        (r"^\d+ \S+$", "\u{661}\u{662} \u{e9}"),
    ];
    let mut sizes = Vec::new();
    for (p, text) in cases {
        let h = super::fast::parse(p).expect("parses");
        let loose = super::scan::loose_hir(&h, true);
        let wide = super::scan::widen(&loose);
        let exact = regex::Regex::new(p).expect("compiles");
        assert!(exact.is_match(text), "{p} on {text}");
        let re = regex_automata::meta::Regex::builder()
            .build_from_hir(&wide)
            .expect("builds");
        assert!(re.is_match(text), "widened {p} on {text}");
        let nfa_len = |h: &Hir| {
            regex_automata::nfa::thompson::NFA::compiler()
                .build_from_hir(h)
                .map(|n| n.states().len())
                .expect("compiles")
        };
        let (w, l) = (nfa_len(&wide), nfa_len(&loose));
        eprintln!("{p}: {w} NFA states widened, {l} not");
        assert!(w <= l, "{p}");
        sizes.push((w, l));
    }
    // (`\w`, `\d` and `\S` shrink; Kelvin's three-letter class is kept)
    assert!(
        sizes[0].0 * 4 < sizes[0].1 && sizes[3].0 * 2 < sizes[3].1,
        "{sizes:?}"
    );
    assert_eq!(sizes[1].0, sizes[1].1);
}

/// A deferred prefilter lets every text through until it is prepared, then
/// rejects what none of its patterns can match; a set scan likewise answers
/// "unknown" until prepared, then names the candidates.
#[test]
fn deferred_scans_build_only_when_prepared() {
    let a = compile_new(r"^Failed password for \S+ from \S+", Flags::default()).unwrap();
    let b = compile_new(r"^Invalid user \S+ from \S+", Flags::default()).unwrap();
    let other = "Accepted publickey for bob from 1.2.3.4\n";
    let failed = "Failed password for bob from 1.2.3.4\n";
    let mut any = Regex::any_of(&[&a, &b], true).expect("linear patterns scan");
    any.defer();
    assert!(any.may_match(other), "unbuilt: every text may match");
    any.prepare();
    assert!(!any.may_match(other));
    assert!(any.may_match(failed));
    let mut which = Regex::which_of(&[&a, &b]).expect("linear patterns scan");
    which.defer();
    assert_eq!(which.candidates(failed, None), None);
    which.prepare();
    assert_eq!(which.candidates(failed, None), Some(vec![true, false]));
    // Not deferred: built on the first text.
    let mut eager = Regex::any_of(&[&a, &b], true).expect("scan");
    assert!(!eager.may_match(other));
}

/// ASCII lines never build the full-Unicode engine; the first non-ASCII one does,
/// and every answer is fancy-regex's on the same pattern.
#[test]
fn full_engine_waits_for_a_non_ascii_text() {
    let p =
        r"^Failed \w+ for (?:invalid user )?(?P<user>\S+) from (?P<host>[\d.]+)(?: port \d+)?\s*$";
    let re = compile_new(p, Flags::default()).expect("compiles");
    assert!(re.is_linear());
    let fancy = build_fancy(&re.translated().fancy).expect("fancy");
    let ascii = [
        "Failed password for bob from 1.2.3.4 port 22",
        "Failed password for invalid user x from 10.0.0.1",
        "Failed password for bob from host.example",
    ];
    // Both searches of the lazy engine agree with fancy-regex on `text`.
    let agree = |text: &str| {
        assert_eq!(
            spans(re.search(text, 0)),
            fancy_spans(&fancy, text),
            "{text}"
        );
        let span = fancy_spans(&fancy, text).and_then(|s| s[0]);
        assert_eq!(re.find_span(text, 0), Some(span), "{text}");
    };
    ascii.into_iter().for_each(agree);
    assert!(!full_built(&re), "ASCII texts built the full engine");
    let other = [
        "Failed password for jöhn from 1.2.3.4 port 22",
        "Failed pässwörd for bob from 1.2.3.4",
        "Failed password for bob from 1.2.3.4 port 22 \u{2003}",
        "Failed password for invalid user 名前 from 10.0.0.1",
        "Failed password for bob from 1.2.3.4 \u{e9}tc",
    ];
    other.into_iter().for_each(agree);
    assert!(
        !full_built(&re),
        "texts within a few blocks built the full engine"
    );
    // Many distinct block sets: past the few cut compilations kept, the full engine.
    for c in [
        '\u{416}', '\u{3a9}', '\u{5d0}', '\u{628}', '\u{915}', '\u{e01}',
    ] {
        agree(&format!("Failed password for x{c} from 1.2.3.4 port 22"));
        agree(&format!("Failed p{c}ssword for bob from 1.2.3.4"));
    }
    assert!(
        full_built(&re),
        "many block sets did not build the full engine"
    );
}

/// A linearized pattern (sshd's `Failed` line: conditionals, look-ahead) keeps its
/// ASCII twin: ASCII lines never reach the full engine, whose capture search is
/// many times slower, and the answers stay fancy-regex's.
#[test]
fn regrouped_pattern_runs_on_its_ascii_twin() {
    let p = r"^Failed (?:(?P<nofail>publickey)|\S+) for (?P<cond_inv>invalid user )?(?P<user>(?P<cond_user>\S+)|(?(cond_inv)(?:(?! from ).)*?|[^:]+)) from (?P<ip4>\d+\.\d+\.\d+\.\d+)(?(cond_user): |(?:(?:(?! from ).)*)$)";
    let re = compile_new(p, Flags::default()).expect("compiles");
    assert!(re.is_linear() && re.translated().regrouped.is_some());
    let fancy = build_fancy(&translate(p, false, false).expect("translates").fancy).expect("fancy");
    for text in [
        "Failed password for invalid user bob from 1.2.3.4 port 22 ssh2",
        "Failed password for invalid user a b from 1.2.3.4 port 22 ssh2",
        "Failed publickey for root from 1.2.3.4: RSA",
        "Failed password for root from 1.2.3.4",
        "Failed none for x",
    ] {
        assert_eq!(
            spans(re.search(text, 0)),
            fancy_spans(&fancy, text),
            "{text}"
        );
    }
    assert!(!full_built(&re), "an ASCII text built the full engine");
}

/// A pattern the linear engine rejects still fails at compile time, with the regex
/// crate's own error text first (the size limit is checked by compiling patterns
/// that might reach it).
#[test]
fn rejected_patterns_still_fail_at_compile() {
    let mut checked = 0;
    for p in [r"\w{1000}", r"(?:\S+\s\w+){300}", r"(?:(?:\w{20}){20}){20}"] {
        let t = translate(p, false, false).expect("translates");
        let linear = t.linear.as_deref().expect("linear");
        let Err(want) = regex::Regex::new(linear) else {
            continue;
        };
        checked += 1;
        let got = compile_new(p, Flags::default()).expect_err("must fail");
        assert!(
            got.message.starts_with(&want.to_string()),
            "{p}: {}",
            got.message
        );
    }
    assert!(checked >= 2, "too few rejected patterns exercised");
    // Big but within the limit: compiles, and lazily.
    let re = compile_new(r"^(?:\S+\s){40}\w+$", Flags::default()).expect("compiles");
    assert!(re.is_linear() && !full_built(&re));
}
