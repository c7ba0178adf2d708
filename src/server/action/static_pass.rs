//! The static tag pass of command actions (fail2ban's `replaceTag` with the action's
//! properties): [`substitute_recursive`] resolves tags inside the property values (the
//! `X?family=F` value preferred for family F), [`interpolate`] then fills a command
//! from them, with `<br>`, `<sp>` and the host names as fallbacks. Unknown tags stay for
//! the dynamic pass; self references are errors.

use std::collections::HashMap;

use super::info::own_hostname;
use super::{escape_tag, tag_re};
use crate::stream::py_str_repr;

const MAX_TAG_REPLACE_COUNT: usize = 25;
/// Properties whose values are foreign input: never expanded recursively, escaped.
const ESCAPED_TAGS: [&str; 3] = ["matches", "ipmatches", "ipjailmatches"];

/// fail2ban's recursive property substitution, with `X?cond` values preferred.
pub(crate) fn substitute_recursive(
    props: Vec<(String, String)>,
    cond: &str,
) -> Result<HashMap<String, String>, String> {
    let keys: Vec<String> = props.iter().map(|(k, _)| k.clone()).collect();
    let mut tags: HashMap<String, String> = props.into_iter().collect();
    let mut done: std::collections::HashSet<String> = Default::default();
    let mut rep_counts: HashMap<String, Vec<(String, usize)>> = HashMap::new();
    let ignored = |t: &str| ESCAPED_TAGS.contains(&t);
    loop {
        let mut rep_flag = false;
        for tag in &keys {
            if ignored(tag) || done.contains(tag) {
                continue;
            }
            let orgval = tags[tag].clone();
            let mut value = orgval.clone();
            let existed = rep_counts.contains_key(tag);
            let mut rplc = rep_counts.get(tag).cloned().unwrap_or_default();
            let mut m = crate::config::tags::find_tag(&value, 0);
            while let Some((s, e)) = m {
                let rtag = value[s + 1..e - 1].to_string();
                if ignored(&rtag) {
                    m = crate::config::tags::find_tag(&value, e);
                    continue;
                }
                let count = rplc.iter().find(|(k, _)| *k == rtag).map(|(_, c)| *c);
                if rtag == *tag || count.unwrap_or(1) > MAX_TAG_REPLACE_COUNT {
                    return Err(format!(
                        "properties contain self referencing definitions and cannot be resolved, fail tag: {tag}, found: {rtag} in {}, value: {value}",
                        py_counts(&rplc)
                    ));
                }
                let repl = (!cond.is_empty())
                    .then(|| tags.get(&format!("{rtag}?{cond}")))
                    .flatten()
                    .or_else(|| tags.get(&rtag))
                    .cloned();
                let Some(repl) = repl else {
                    m = crate::config::tags::find_tag(&value, e);
                    continue;
                };
                value = value.replace(&format!("<{rtag}>"), &repl);
                match rplc.iter_mut().find(|(k, _)| *k == rtag) {
                    Some((_, c)) => *c += 1,
                    None => rplc.push((rtag, 1)),
                }
                m = crate::config::tags::find_tag(&value, s);
            }
            if orgval != value {
                if crate::config::tags::find_tag(&value, 0).is_some() {
                    rep_flag = true;
                    rep_counts.insert(tag.clone(), rplc);
                } else if existed {
                    rep_counts.insert(tag.clone(), rplc);
                }
                tags.insert(tag.clone(), value.clone());
            } else if existed {
                rep_counts.insert(tag.clone(), rplc);
            }
            if !value.contains('<') {
                done.insert(tag.clone());
            }
        }
        if !rep_flag {
            return Ok(tags);
        }
    }
}

fn py_counts(m: &[(String, usize)]) -> String {
    let items: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{}: {v}", py_str_repr(k)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// Replaces tags of `query` with the substituted properties until nothing changes.
pub(crate) fn interpolate(
    query: &str,
    sub: &HashMap<String, String>,
    cond: &str,
) -> Result<String, String> {
    let mut query = query.to_string();
    let mut count = MAX_TAG_REPLACE_COUNT + 1;
    loop {
        let value = tag_re()
            .replace_all(&query, |c: &regex::Captures| {
                let tag = &c[1];
                let found = (!cond.is_empty())
                    .then(|| sub.get(&format!("{tag}?{cond}")))
                    .flatten()
                    .or_else(|| sub.get(tag));
                match found {
                    Some(v) if ESCAPED_TAGS.contains(&tag) => escape_tag(v),
                    Some(v) => v.clone(),
                    None => match tag {
                        "br" => "\n".to_string(),
                        "sp" => " ".to_string(),
                        "fq-hostname" => own_hostname(true),
                        "sh-hostname" => own_hostname(false),
                        _ => c[0].to_string(),
                    },
                }
            })
            .into_owned();
        if value == query || !value.contains('<') {
            return Ok(value);
        }
        query = value;
        count -= 1;
        if count == 0 {
            return Err(format!(
                "unexpected too long replacement interpolation, possible self referencing definitions in query: {query}"
            ));
        }
    }
}
