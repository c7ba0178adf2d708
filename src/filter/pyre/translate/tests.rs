//! One small case per translation rule; expected results are Python 3.11 `re` behaviour.

use super::*;
use crate::filter::pyre::{Flags, compile};

fn lin(p: &str) -> String {
    translate(p, false, false).unwrap().linear.unwrap()
}

fn found(p: &str, text: &str) -> Option<(usize, usize)> {
    let re = compile(p, Flags::default()).unwrap();
    re.search(text, 0).map(|m| (m.start(), m.end()))
}

#[test]
fn r1_ipv6_lookbehind_dropped() {
    let t = translate(&format!("^{R1_FROM}$"), false, false).unwrap();
    assert!(t.linear.is_some());
    assert!(t.rules_applied.contains(&Rule::Ipv6Lookbehind));
    assert_eq!(
        found(&format!("^(?P<ip6>{R1_FROM})$"), "fe80::"),
        Some((0, 6))
    );
}

#[test]
fn r2_r3_date_boundaries() {
    let p = r"(?=^|\b|\W)\d{2}(?=\b|\W|$)";
    let t = translate(p, false, false).unwrap();
    assert!(t.linear.is_some());
    assert_eq!(found(p, "x12"), None); // no boundary between x and 1
    assert_eq!(found(p, "-12-"), Some((1, 3)));
    assert_eq!(found(p, "12"), Some((0, 2)));
    assert_eq!(found(p, "123"), None);
}

#[test]
fn dollar_before_final_newline_only() {
    assert_eq!(found("a$", "a\n"), Some((0, 1)));
    assert_eq!(found(r"a\s*$", "a \n"), Some((0, 3)));
    // Interior newline: Python's `$` does not match mid-buffer.
    assert_eq!(found("a$", "a\nb\n"), None);
    assert_eq!(found("b$", "a\nb\n"), Some((2, 3)));
    let re = compile(
        "a$",
        Flags {
            multiline: true,
            ignore_case: false,
        },
    )
    .unwrap();
    assert_eq!(re.search("a\nb\n", 0).map(|m| m.end()), Some(1));
}

#[test]
fn end_of_text_z() {
    assert_eq!(lin(r"a\Z"), r"a\z");
    assert_eq!(found(r"a\Z", "a\n"), None);
    assert_eq!(found(r"a\Z", "a"), Some((0, 1)));
}

#[test]
fn angle_escapes_are_literals() {
    assert_eq!(found(r"\<W\>", "x <W> y"), Some((2, 5)));
}

#[test]
fn class_bracket_and_set_ops() {
    assert_eq!(found(r"^[^[]*\[x\]", "ab[x]"), Some((0, 5)));
    assert_eq!(found(r"[a&&b]+", "&&"), Some((0, 2)));
    assert_eq!(found(r"[%--]", "-"), Some((0, 1)));
    assert_eq!(found(r"[]a]+", "]a"), Some((0, 2)));
    assert_eq!(found(r"[a-]+", "-a"), Some((0, 2)));
    assert_eq!(found(r"[\b]", "\x08"), Some((0, 1)));
}

#[test]
fn braces() {
    assert_eq!(lin(r"\d{,3}"), r"\d{0,3}");
    assert_eq!(found(r"a{,2}b", "aab"), Some((0, 3)));
    assert_eq!(found(r"{{x}", "{{x}"), Some((0, 4)));
    assert_eq!(found(r"{[^}]+}", "{ab}"), Some((0, 4)));
    assert_eq!(found(r"a{}", "a{}"), Some((0, 3)));
    assert!(translate("a{3,2}", false, false).is_err());
}

#[test]
fn char_escapes() {
    assert_eq!(found(r"\0", "\0"), Some((0, 1)));
    assert_eq!(found(r"\101", "A"), Some((0, 1)));
    assert_eq!(found(r"\x41\u0042", "AB"), Some((0, 2)));
    assert!(translate(r"\q", false, false).is_err());
}

#[test]
fn backrefs_need_fancy() {
    // A group of one char out of a few is distributed: linear after all.
    let t = translate(r"(?P<s>[-/])\d(?P=s)", false, false).unwrap();
    assert!(t.regrouped.is_some() && t.fancy_reasons == [FancyReason::Backref]);
    assert_eq!(found(r"(?P<s>[-/])\d(?P=s)", "1-2/3/"), Some((3, 6)));
    let t = translate(r"(?P<s>\w)\d(?P=s)", false, false).unwrap();
    assert_eq!(t.linear, None);
    assert_eq!(found(r"(?P<s>\w)\d(?P=s)", "1-2a3a"), Some((3, 6)));
    assert_eq!(found(r"(a)\1", "aa"), Some((0, 2)));
}

#[test]
fn conditionals_test_group_participation() {
    let p = r"(?P<q>')?x(?(q)'|!)";
    assert_eq!(found(p, "'x'"), Some((0, 3)));
    assert_eq!(found(p, "x!"), Some((0, 2)));
    assert_eq!(found(p, "x'"), None);
}

#[test]
fn python_space_class() {
    assert_eq!(found(r"a\sb", "a\x1cb"), Some((0, 3)));
    assert_eq!(found(r"a\Sb", "a\x1cb"), None);
    assert_eq!(found(r"a[^\S]b", "a\x1fb"), Some((0, 3)));
}

#[test]
fn global_flags_hoisted() {
    let t = translate(r"(?iu)abc", false, false).unwrap();
    assert_eq!(t.linear.as_deref(), Some("(?i)abc"));
    assert_eq!(found(r"(?i)(?#c)(?m)abc", "XABC"), Some((1, 4)));
    assert_eq!(found(r"(?i:a)b", "AB"), None);
}

#[test]
fn comments_and_group_numbering() {
    let re = compile(r"(a)(?#c)(?P<n>b)(c)", Flags::default()).unwrap();
    assert_eq!(re.group_index("n"), Some(2));
    let m = re.search("abc", 0).unwrap();
    assert_eq!(m.group(3), Some("c"));
}

#[test]
fn lookaround_is_fancy() {
    let t = translate(r"a(?!b)", false, false).unwrap();
    assert_eq!(t.fancy_reasons, vec![FancyReason::LookAround]);
    assert_eq!(found(r"a(?!b)", "abac"), Some((2, 3)));
}

#[test]
fn search_pos_and_endpos() {
    let re = compile(r"^\d+$", Flags::default()).unwrap();
    assert!(re.search("12", 1).is_none()); // `^` does not match at pos
    let re = compile(r"\d+$", Flags::default()).unwrap();
    assert_eq!(re.search_bounded("12ab", 0, 2).map(|m| m.end()), Some(2));
    assert!(re.search("12", 9).is_none());
}

#[test]
fn empty_alternation_branches() {
    assert_eq!(found(r"a(|b)c", "ac"), Some((0, 2)));
}

#[test]
fn backtrack_limit_gives_no_match_not_hang() {
    // The trailing look-behind never holds; the superset prefilter (look-around left
    // out) still matches at 0, so the VM runs there and explodes.
    let re = compile(r"((?=a)a|a)*b(?<=c)", Flags::default()).unwrap();
    assert!(!re.is_linear());
    // Without a `b` the prefilter rejects the text before the VM runs.
    assert!(re.try_search(&"a".repeat(40), 0).unwrap().is_none());
    let text = format!("{}b", "a".repeat(40));
    assert!(re.try_search(&text, 0).is_err());
    assert!(re.search(&text, 0).is_none());
}

#[test]
fn errors_name_the_offending_part() {
    let e = compile(r"ab\qc", Flags::default()).unwrap_err();
    assert!(
        e.to_string().contains(r"bad escape \q at position 2"),
        "{e}"
    );
    let e = compile(r"(?P<1x>a)", Flags::default()).unwrap_err();
    assert!(e.to_string().contains("group name '1x'"), "{e}");
    assert!(compile("(a", Flags::default()).is_err());
    assert!(compile("a)", Flags::default()).is_err());
    assert!(compile("[a", Flags::default()).is_err());
}

/// Positions and messages as Python 3.11 `re.compile` reports them.
#[test]
fn errors_at_python_positions() {
    for (p, want) in [
        (
            "^Failed (",
            "missing ), unterminated subpattern at position 8",
        ),
        ("a(b(c", "missing ), unterminated subpattern at position 3"),
        (
            "(?P<x>a",
            "missing ), unterminated subpattern at position 0",
        ),
        ("a{2,1}", "min repeat greater than max repeat at position 2"),
        ("a*?+", "multiple repeat at position 3"),
        ("a{1}{2}", "multiple repeat at position 4"),
        ("(?:a)**", "multiple repeat at position 6"),
        ("*?+", "nothing to repeat at position 0"),
        ("a|*", "nothing to repeat at position 2"),
        ("(*)", "nothing to repeat at position 1"),
        ("^*", "nothing to repeat at position 1"),
        (r"\b+", "nothing to repeat at position 2"),
        ("(?i)*", "nothing to repeat at position 4"),
        (
            "a(?i)b",
            "global flags not at the start of the expression at position 1",
        ),
        (
            "a|(?i)b",
            "global flags not at the start of the expression at position 2",
        ),
    ] {
        let e = translate(p, false, false).unwrap_err();
        assert_eq!(e.to_string(), want, "{p}");
    }
    for ok in [
        "a(?#c)*", "a|(?:)*", "x{}*", "a{,}", "a*+", "(?=a)b*", "[*]+", r"\**",
    ] {
        assert!(translate(ok, false, false).is_ok(), "{ok}");
    }
}

/// A back-reference to a named group whose body reads the same under any flags and
/// anywhere stands in the superset as that body; others stay any text.
#[test]
fn relaxed_backref_is_the_group_body_where_it_can_be() {
    let relaxed = |p: &str| translate(p, false, false).unwrap().relaxed.unwrap();
    assert!(relaxed(r"\d(?P<s>[-/])\d(?P=s)\d").ends_with(r"\d(?:[\-/])\d"));
    assert!(relaxed(r"(?P<s>\s+:)x(?P=s)").ends_with(r"x(?:[\s\x1C-\x1F]+:)"));
    for p in [
        r"(?P<a>[a-z]+)\s(?P=a)",   // letters: (?i) at the reference would differ
        r"(?P<a>.)x(?P=a)",         // `.`: DOTALL at the reference would differ
        r"(?P<a>-(?P<b>-))x(?P=a)", // a group inside: its name would repeat
        r"(?P<a>\b-)x(?P=a)",       // an assertion: read elsewhere it may fail
        r"(?=(?P<a>-))x(?P=a)",     // inside a look-ahead: no body in the superset
        r"(?P=a)(?P<a>-)",          // referenced before it closes
    ] {
        assert!(relaxed(p).contains("(?s:.*)"), "{p}: {}", relaxed(p));
    }
}

/// Whatever a pattern of the survey matches in a recorded input, its superset form
/// matches too, starting no later (it is a prefilter and a start hint).
#[test]
fn relaxed_is_a_superset_on_the_survey() {
    let Some(inputs) = crate::filter::pyre::survey::sample_inputs() else {
        return;
    };
    let (mut patterns, mut matched) = (0usize, 0usize);
    for ((p, ml), texts) in &inputs {
        let Ok(t) = translate(p, *ml, false) else {
            continue;
        };
        let (Some(r), Ok(fancy)) = (t.relaxed.as_deref(), fancy_regex::Regex::new(&t.fancy)) else {
            continue;
        };
        let Ok(relaxed) = regex::Regex::new(r) else {
            panic!("{p}: superset {r} does not compile");
        };
        patterns += 1;
        for text in texts {
            let Ok(Some(m)) = fancy.find(text) else {
                continue;
            };
            matched += 1;
            let start = relaxed.find(text).map(|s| s.start());
            assert!(
                start.is_some_and(|s| s <= m.start()),
                "{p} / {r} on {text:?}"
            );
        }
    }
    eprintln!("{patterns} supersets, {matched} matches covered");
    assert!(patterns >= 30 && matched >= 100, "{patterns} / {matched}");
}
