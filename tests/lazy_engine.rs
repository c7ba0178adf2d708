//! The full-Unicode engine of a linear pattern is built on the first non-ASCII text:
//! on such texts `gaol::filter::pyre` must answer as fancy-regex does on the same
//! translated pattern. Texts: the regex corpus's recorded inputs (../shared/spec), each
//! also with non-ASCII characters put inside it.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::PathBuf;

use gaol::filter::pyre::{Flags, compile, translate};

fn cases() -> Option<Vec<serde_json::Value>> {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/spec/regex-corpus/sample-cases.jsonl.gz"
    ));
    if !p.is_file() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("regex corpus missing at {}", p.display());
        }
        eprintln!("SKIPPED: regex corpus not found at {}", p.display());
        return None;
    }
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&p).expect("open corpus"))
        .read_to_string(&mut text)
        .expect("read corpus");
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect(),
    )
}

type Spans = Vec<Option<(usize, usize)>>;

#[test]
fn non_ascii_texts_answer_as_fancy_regex() {
    let Some(cases) = cases() else { return };
    let mut seen = HashSet::new();
    let mut built = HashMap::new();
    let (mut compared, mut matched, mut natural) = (0, 0, 0);
    for c in &cases {
        let pattern = c["pattern"].as_str().expect("pattern");
        let multiline = c["multiline"].as_bool().unwrap_or(false);
        let input = c["input"].as_str().expect("input");
        let flags = Flags {
            multiline,
            ignore_case: false,
        };
        let engines = built
            .entry((pattern.to_string(), multiline))
            .or_insert_with(|| {
                let re = compile(pattern, flags).ok().filter(|r| r.is_linear())?;
                let t = translate(pattern, multiline, false).expect("translates");
                let fancy = fancy_regex::Regex::new(&t.fancy).expect("fancy compiles");
                Some((re, fancy))
            });
        let Some((re, fancy)) = engines else {
            continue;
        };
        let mid = (0..=input.len() / 2)
            .rev()
            .find(|&i| input.is_char_boundary(i))
            .unwrap_or(0);
        let texts = [
            input.to_string(),
            format!("{}é{}", &input[..mid], &input[mid..]),
            format!("Ω{input}"),
        ];
        for text in texts {
            // An interior `\n` takes the exact-`$` engine, not the one tested here.
            let interior_nl = text.trim_end_matches('\n').contains('\n');
            if text.is_ascii()
                || interior_nl
                || !seen.insert((pattern.to_string(), multiline, text.clone()))
            {
                continue;
            }
            natural += usize::from(text == input);
            let Ok(want) = fancy.captures(&text) else {
                continue;
            };
            let want: Option<Spans> =
                want.map(|c| c.iter().map(|m| m.map(|m| (m.start(), m.end()))).collect());
            let got: Option<Spans> = re.search(&text, 0).map(|m| m.spans().to_vec());
            assert_eq!(got, want, "{pattern:?} (multiline {multiline}) on {text:?}");
            compared += 1;
            matched += usize::from(want.is_some());
        }
    }
    eprintln!("{compared} non-ASCII texts compared ({natural} from the corpus), {matched} match");
    assert!(compared > 5_000 && matched > 500 && natural >= 5);
}
