//! Config-time `<tag>` substitution over a combined option set (filters and actions):
//! repeated until no known tag remains, unknown tags left for the server, ignored tags
//! (conditional bases, `<matches>`…) untouched, self references and runaway recursion an
//! error. Entry point: [`substitute_recursive_tags`].

use std::collections::HashSet;

use super::ini::{FxBuild, OrdMap};

const MAX_TAG_REPLACE_COUNT: usize = 25;

/// Finds the next `<name>` (name = one or more chars other than space, `<`, `>`) at or
/// after byte `from`; returns (start, end, name range).
pub fn find_tag(s: &str, from: usize) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut i = from;
    while i < b.len() {
        let rel = memchr::memchr(b'<', &b[i..])?;
        let start = i + rel;
        let mut j = start + 1;
        while j < b.len() && !matches!(b[j], b' ' | b'<' | b'>') {
            j += 1;
        }
        if j > start + 1 && j < b.len() && b[j] == b'>' {
            return Some((start, j + 1));
        }
        i = start + 1;
    }
    None
}

/// Substitutes tags inside the values of `tags`. `addrepl` is consulted for names that
/// are not keys of `tags` (fail2ban: on-demand lookup in the definition file).
pub fn substitute_recursive_tags(
    mut tags: OrdMap<Option<String>>,
    ignore: &HashSet<String, FxBuild>,
    addrepl: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
) -> Result<OrdMap<Option<String>>, String> {
    let n = tags.len();
    let mut done = vec![false; n];
    // per value: replaced tag → count, in first-replacement order (a Python dict)
    let mut rep_counts: Vec<Vec<(String, usize)>> = vec![Vec::new(); n];
    loop {
        let mut rep_flag = false;
        for idx in 0..n {
            if done[idx] {
                continue;
            }
            let Some((tag, Some(orgval))) = tags.at(idx) else {
                continue;
            };
            if ignore.contains(tag.as_str()) {
                continue;
            }
            // Only copy the value once a replacement happens.
            let mut value: Option<String> = None;
            let rplc = &mut rep_counts[idx];
            let mut m = find_tag(orgval, 0);
            while let Some((s, e)) = m {
                let cur: &str = value.as_deref().unwrap_or(orgval);
                let rtag = &cur[s + 1..e - 1];
                if ignore.contains(rtag) {
                    m = find_tag(cur, e);
                    continue;
                }
                if rtag == tag.as_str() || count_of(rplc, rtag).unwrap_or(1) > MAX_TAG_REPLACE_COUNT
                {
                    return Err(format!(
                        "properties contain self referencing definitions and cannot be resolved, fail tag: {tag}, found: {rtag} in {}, value: {cur}",
                        py_dict(rplc)
                    ));
                }
                let looked_up;
                let repl: &str = match tags.get(rtag) {
                    Some(Some(v)) => v,
                    _ => {
                        looked_up = addrepl(rtag)?;
                        match &looked_up {
                            Some(v) => v,
                            None => {
                                m = find_tag(cur, e);
                                continue;
                            }
                        }
                    }
                };
                match rplc.iter_mut().find(|(k, _)| k == rtag) {
                    Some((_, c)) => *c += 1,
                    None => rplc.push((rtag.to_string(), 1)),
                }
                let replaced = replace_tag(cur, s, e, repl);
                m = find_tag(&replaced, s);
                value = Some(replaced);
            }
            let has_lt = match &value {
                Some(v) => v.contains('<'),
                None => orgval.contains('<'),
            };
            let replaced = value.is_some();
            if let Some(v) = value
                && v != *orgval
            {
                if find_tag(&v, 0).is_some() {
                    rep_flag = true;
                }
                tags.set_at(idx, Some(v));
            }
            // A value that saw no replacement this pass never will: keys, the ignore set
            // and (memoized) on-demand lookups are fixed, and its counters did not move.
            if !has_lt || !replaced {
                done[idx] = true;
            }
        }
        if !rep_flag {
            break;
        }
    }
    Ok(tags)
}

/// `cur.replace(&cur[s..e], repl)` knowing the first occurrence is at `s` and that the
/// pattern starts with `<` (cheaper than a general substring search).
fn replace_tag(cur: &str, s: usize, e: usize, repl: &str) -> String {
    let pat = &cur[s..e];
    let mut out = String::with_capacity(cur.len() + repl.len());
    out.push_str(&cur[..s]);
    out.push_str(repl);
    let b = cur.as_bytes();
    let mut last = e;
    let mut pos = e;
    while let Some(rel) = memchr::memchr(b'<', &b[pos..]) {
        let at = pos + rel;
        if cur[at..].starts_with(pat) {
            out.push_str(&cur[last..at]);
            out.push_str(repl);
            last = at + pat.len();
            pos = last;
        } else {
            pos = at + 1;
        }
    }
    out.push_str(&cur[last..]);
    out
}

fn count_of(m: &[(String, usize)], k: &str) -> Option<usize> {
    m.iter().find(|(kk, _)| kk == k).map(|(_, c)| *c)
}

fn py_dict(m: &[(String, usize)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!("{}: {v}", crate::stream::py_str_repr(k)));
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &[(&str, &str)]) -> OrdMap<Option<String>> {
        p.iter()
            .map(|(a, b)| (a.to_string(), Some(b.to_string())))
            .collect()
    }
    fn sub(p: &[(&str, &str)], ign: &[&str]) -> Result<OrdMap<Option<String>>, String> {
        let ignore = ign.iter().map(|s| s.to_string()).collect();
        substitute_recursive_tags(m(p), &ignore, &mut |_| Ok(None))
    }

    #[test]
    fn recursive_and_embedded() {
        let r = sub(
            &[
                ("a", "3"),
                ("b", "<a>_3"),
                ("c", "<b> <HOST> <matches>"),
                ("PREF", "IPV4"),
                ("IPV4HOST", "v4"),
                ("d", "<<PREF>HOST>"),
            ],
            &["matches"],
        )
        .unwrap();
        assert_eq!(r.get("b").unwrap().as_deref().unwrap(), "3_3");
        assert_eq!(
            r.get("c").unwrap().as_deref().unwrap(),
            "3_3 <HOST> <matches>"
        );
        assert_eq!(r.get("d").unwrap().as_deref().unwrap(), "v4");
    }

    #[test]
    fn replace_all_occurrences() {
        assert_eq!(replace_tag("a<x>b<x><<x>", 1, 4, "Y"), "aYbY<Y");
        assert_eq!(replace_tag("<x>", 0, 3, ""), "");
    }

    #[test]
    fn self_reference_fails() {
        assert!(
            sub(&[("a", "<a>")], &[])
                .unwrap_err()
                .starts_with("properties contain self referencing definitions")
        );
        assert!(sub(&[("a", "<b>"), ("b", "<a>")], &[]).is_err());
        assert!(sub(&[("chain", "<chain>X")], &[]).is_err());
    }

    #[test]
    fn addrepl_and_ignore() {
        let ignore: HashSet<String, FxBuild> = ["blocktype".to_string()].into_iter().collect();
        let r =
            substitute_recursive_tags(m(&[("x", "<blocktype> <Init/ai>")]), &ignore, &mut |t| {
                Ok((t == "Init/ai").then(|| "AI".to_string()))
            })
            .unwrap();
        assert_eq!(r.get("x").unwrap().as_deref().unwrap(), "<blocktype> AI");
    }
}
