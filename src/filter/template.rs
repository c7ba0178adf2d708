//! Server-side tag expansion of failregex / ignoreregex / prefregex strings.
//!
//! Input: a regex as it arrives in the command stream (configuration tags already
//! substituted, regex tags such as `<HOST>` or `<F-USER>…</F-USER>` still present).
//! Output: the exact pattern string fail2ban hands to Python's `re.compile`, which
//! [`crate::filter::pyre::compile`] then translates. Data flow:
//! [`expand`] = tag substitution ([`expand_tags`]) → empty check → global-flag
//! rewrite ([`globals_to_local_flags`]). Everything here is pure string work.

use std::fmt;

/// IPv4 address text as fail2ban's address regex accepts it (any 1–3 digit quads).
pub const IP4_RE: &str = r"(?:\d{1,3}\.){3}\d{1,3}";
/// IPv6 address text (note the one-character look-behind for a trailing `::`).
pub const IP6_RE: &str = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)";

// The building blocks below are spelled out literally (rather than assembled with
// `format!` at run time) so that they can be `const` and compared by eye with the
// expansions listed in compat-spec §2.2.

/// `<IP4>`: the IPv4-mapped prefix stays outside the group so `::ffff:1.2.3.4` → `1.2.3.4`.
const R_IP4: &str = r"(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})";
/// `<IP6>`.
const R_IP6: &str = r"(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):))";
/// `<DNS>`.
const R_DNS: &str = r"(?P<dns>[\w\-.^_]*\w)";
/// `<ADDR>` and `<HOST>` under `usedns = no`.
const R_ADDR: &str = concat!(
    r"\[?(?:",
    r"(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})",
    "|",
    r"(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):))",
    r")\]?"
);
/// `<HOST>` when DNS names are allowed.
const R_HOST: &str = concat!(
    "(?:",
    r"\[?(?:",
    r"(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})",
    "|",
    r"(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):))",
    r")\]?",
    "|",
    r"(?P<dns>[\w\-.^_]*\w)",
    ")"
);
/// `<CIDR>`.
const R_CIDR: &str = r"(?P<cidr>\d+)";
/// `<SUBNET>`: an address with an optional `/cidr`.
const R_SUBNET: &str = concat!(
    r"\[?(?:",
    r"(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})",
    "|",
    r"(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):))",
    r")(?:/(?P<cidr>\d+))?\]?"
);

/// Why a regex cannot be prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The expanded regex is empty or whitespace only.
    Empty,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Empty => f.write_str("Cannot add empty regex"),
        }
    }
}

impl std::error::Error for TemplateError {}

/// Fully prepares a regex: tag expansion, empty check, `((?i)…)` → `(?i:…)` rewrite.
///
/// `host_with_dns` is false only for `usedns = no`, where `<HOST>` means `<ADDR>`.
/// The result is the string fail2ban reports back for `get <jail> failregex` etc.
pub fn expand(regex: &str, host_with_dns: bool) -> Result<String, TemplateError> {
    let expanded = expand_tags(regex, host_with_dns);
    if expanded.chars().all(is_py_space) {
        return Err(TemplateError::Empty);
    }
    Ok(globals_to_local_flags(&expanded))
}

/// Python's `str.isspace()` for one character (wider than Rust's White_Space: it also
/// counts the ASCII information separators U+001C–U+001F).
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `\w` for a str pattern: Unicode alphanumerics and `_`.
pub(crate) fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Length in bytes of a tag `</?[\w-]+/?>` starting at `s[0] == '<'`, if there is one.
fn tag_len(s: &str) -> Option<usize> {
    let mut it = s.char_indices().skip(1).peekable();
    if let Some(&(_, '/')) = it.peek() {
        it.next();
    }
    let mut name = 0;
    while let Some(&(_, c)) = it.peek() {
        if is_word(c) || c == '-' {
            name += 1;
            it.next();
        } else {
            break;
        }
    }
    if name == 0 {
        return None;
    }
    if let Some(&(_, '/')) = it.peek() {
        it.next();
    }
    match it.next() {
        Some((i, '>')) => Some(i + 1),
        _ => None,
    }
}

/// Replacement for a static (context-free) tag name, if it is one.
fn static_tag(name: &str, host_with_dns: bool) -> Option<&'static str> {
    Some(match name {
        "HOST" if host_with_dns => R_HOST,
        "HOST" => R_ADDR,
        "IP4" | "F-IP4/" => R_IP4,
        "IP6" | "F-IP6/" => R_IP6,
        "ADDR" | "F-ADDR/" => R_ADDR,
        "CIDR" | "F-CIDR/" => R_CIDR,
        "SUBNET" | "F-SUBNET/" => R_SUBNET,
        "DNS" | "F-DNS/" => R_DNS,
        "F-ID/" => r"(?P<fid>\S+)",
        "F-PORT/" => r"(?P<fport>\w+)",
        _ => return None,
    })
}

/// Splits a custom-field tag name `F-NAME` / `/F-NAME` (NAME upper case, digits, `_`,
/// `-`) into (is_close, NAME).
fn custom_tag(name: &str) -> Option<(bool, &str)> {
    let (close, rest) = match name.strip_prefix('/') {
        Some(r) => (true, r),
        None => (false, name),
    };
    let field = rest.strip_prefix("F-")?;
    let ok = !field.is_empty()
        && field
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    ok.then_some((close, field))
}

/// Group name for a custom field: lower case, with the two historical short names
/// mapped (`ID` → `fid`, `PORT` → `fport`).
pub fn field_group_name(field: &str) -> String {
    let lower = field.to_lowercase();
    match lower.as_str() {
        "id" => "fid".to_string(),
        "port" => "fport".to_string(),
        _ => lower,
    }
}

/// Substitutes every regex tag; unknown tags and unmatched close tags stay literal.
pub fn expand_tags(regex: &str, host_with_dns: bool) -> String {
    let mut out = String::with_capacity(regex.len() * 2);
    let mut opened: Vec<&str> = Vec::new();
    let mut skiplines = 0usize;
    let mut rest = regex;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let at = &rest[lt..];
        let Some(len) = tag_len(at) else {
            out.push('<');
            rest = &at[1..];
            continue;
        };
        let tag = &at[..len];
        let name = &tag[1..len - 1];
        if name == "SKIPLINES" {
            out.push_str(&format!(r"\n(?P<skiplines{skiplines}>(?:(?:.*\n)*?))"));
            skiplines += 1;
        } else if let Some(rep) = static_tag(name, host_with_dns) {
            out.push_str(rep);
        } else if let Some((close, field)) = custom_tag(name) {
            if close {
                // A close tag only counts after its open tag; otherwise it is literal.
                out.push_str(if opened.contains(&field) { ")" } else { tag });
            } else {
                opened.push(field);
                out.push_str("(?P<");
                out.push_str(&field_group_name(field));
                out.push('>');
            }
        } else {
            out.push_str(tag);
        }
        rest = &at[len..];
    }
    out.push_str(rest);
    out
}

/// Rewrites a global inline flag wrapped in a group, `((?i)x` or `(?:(?i)x`, into the
/// scoped form `(?i:x`, as fail2ban does before compiling (Python ≥ 3.11 rejects
/// global flags that are not at the start).  The opening parenthesis must not be
/// preceded by a backslash (one backslash is checked, exactly like fail2ban).
pub fn globals_to_local_flags(regex: &str) -> String {
    let b = regex.as_bytes();
    let mut out = String::with_capacity(regex.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'(' && (i == 0 || b[i - 1] != b'\\') {
            let mut j = i + 1;
            if b[j..].starts_with(b"?:") {
                j += 2;
            }
            if b[j..].starts_with(b"(?") {
                let flags_start = j + 2;
                let mut k = flags_start;
                while k < b.len() && b[k].is_ascii_lowercase() {
                    k += 1;
                }
                if k > flags_start && k < b.len() && b[k] == b')' {
                    out.push_str(&regex[copied..i]);
                    out.push_str(&regex[j..k]);
                    out.push(':');
                    i = k + 1;
                    copied = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&regex[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_listed_expansions() {
        // Each expected string is the one captured from the real server in compat-spec §2.2.
        assert_eq!(
            expand_tags("<HOST>", true),
            r"(?:\[?(?:(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})|(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)))\]?|(?P<dns>[\w\-.^_]*\w))"
        );
        assert_eq!(expand_tags("<HOST>", false), expand_tags("<ADDR>", true));
        assert_eq!(
            expand_tags("<SUBNET>", true),
            r"\[?(?:(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})|(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)))(?:/(?P<cidr>\d+))?\]?"
        );
        assert_eq!(
            expand_tags("a<SKIPLINES>b<SKIPLINES>", true),
            r"a\n(?P<skiplines0>(?:(?:.*\n)*?))b\n(?P<skiplines1>(?:(?:.*\n)*?))"
        );
    }

    #[test]
    fn custom_fields_and_literals() {
        assert_eq!(
            expand_tags("</F-USER><F-USER>x</F-USER></F-USER>", true),
            "</F-USER>(?P<user>x))"
        );
        assert_eq!(
            expand_tags("<F-ID>\\S+</F-ID> <F-PORT>\\d+</F-PORT>", true),
            r"(?P<fid>\S+) (?P<fport>\d+)"
        );
        assert_eq!(
            expand_tags("<F-user>x</F-user> <[^.]+\\.[^.]+> <> </> a<b", true),
            "<F-user>x</F-user> <[^.]+\\.[^.]+> <> </> a<b"
        );
        assert_eq!(expand_tags("<F-ALT_USER1>", true), "(?P<alt_user1>");
    }

    #[test]
    fn flag_rewrite_and_empty() {
        assert_eq!(
            globals_to_local_flags(r"((?i)LOGIN|PLAIN) (?:(?i)x) \((?i)y) (?i)z"),
            r"(?i:LOGIN|PLAIN) (?i:x) \((?i)y) (?i)z"
        );
        assert_eq!(expand(" \t", true), Err(TemplateError::Empty));
    }
}
