//! Compiled filter regexes and what a match yields.
//!
//! A stream value (`addfailregex`, `addignoreregex`, `prefregex`) becomes a
//! [`FailRegex`], [`IgnoreRegex`] or [`PrefRegex`]: tags expanded by
//! [`crate::filter::template`], compiled by [`crate::filter::pyre`], its named groups
//! classified once. On a match, [`CompiledRegex::fields`] gives the group dict in
//! fail2ban's shape ([`Fields`]: names in definition order, `alt_*` fallbacks and
//! `tuple_*` combinations applied); [`merge_fields`] layers failregex groups over
//! prefregex groups; [`failure_id`] turns the merged fields into the ticket id
//! ([`FailId`]). Multi-line (mlfid) state and DNS lookups belong to the caller.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::filter::addr::{CIDR_RAW, CIDR_UNSPEC, FAM_IPV4, FAM_IPV6, IpAddr, UseDns, search_ip};
use crate::filter::pyre::{self, Flags, Match};
use crate::filter::template::{self, TemplateError, field_group_name};
use crate::stream::Value;

/// Groups that can identify a failure, in the order fail2ban tries them.
const FAILURE_ID_GROUPS: [&str; 4] = ["fid", "ip4", "ip6", "dns"];

/// Why a regex was rejected; `Display` gives fail2ban's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegexError {
    Empty,
    Compile(pyre::Error),
    /// Expanded pattern without an id group (and no prefregex supplying one).
    NoFailureId(String),
}

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegexError::Empty => f.write_str("Cannot add empty regex"),
            RegexError::Compile(e) => e.fmt(f),
            RegexError::NoFailureId(p) => write!(f, "No failure-id group in '{p}'"),
        }
    }
}

impl std::error::Error for RegexError {}

impl From<TemplateError> for RegexError {
    fn from(e: TemplateError) -> Self {
        match e {
            TemplateError::Empty => RegexError::Empty,
        }
    }
}

/// The named groups of one match, as fail2ban's group dict: every named group in
/// definition order (`Value::None` when it did not take part), then merged names.
/// Values are `Value::Str`, `Value::None`, or `Value::Tuple` for `tuple_*` merges.
/// Keys are interned ([`Key`]), so a match copies no key text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub Vec<(Key, Value)>);

/// A field name, interned for the life of the process: a match copies a pointer per
/// group, where a counted name cost two atomic operations per group per line. Names
/// come from the filters' group names and a few fixed ones, a bounded set.
pub type Key = &'static str;

/// The interned [`Key`] for `name`.
pub fn key(name: &str) -> Key {
    static KEYS: OnceLock<Mutex<HashSet<Key>>> = OnceLock::new();
    let mut keys = KEYS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(k) = keys.get(name) {
        return k;
    }
    let k: Key = Box::leak(Box::from(name));
    keys.insert(k);
    k
}

impl Fields {
    /// The value of `name`, `None` when absent or Python `None`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .filter(|v| **v != Value::None)
    }

    /// The text of `name` (Python `str()` of the value), `None` when absent or `None`.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(Value::to_py_str)
    }

    /// Sets `name`, keeping its position if present (dict assignment).
    pub fn set(&mut self, name: &str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key(name), value)),
        }
    }

    /// [`Fields::set`] with a shared name, which a new entry takes without copying text.
    pub fn set_key(&mut self, name: Key, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// Whether `name` is present and not Python `None`, without its value.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes and returns `name` (dict `pop`).
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.0.iter().position(|(k, _)| *k == name)?;
        Some(self.0.remove(i).1)
    }
}

/// Python truthiness of a group value.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::None) => false,
        Some(Value::Str(s)) => !s.is_empty(),
        Some(Value::Tuple(t)) => !t.is_empty(),
        Some(_) => true,
    }
}

/// Splits `alt_user_2` → (`alt`, `user`), `tuple_id` → (`tuple`, `fid`): prefix, then the
/// shortest stem such that the rest is empty or `_<digits>`, mapped like a tag name.
fn complex_name(group: &str) -> Option<(bool, String)> {
    if group.chars().count() <= 4 {
        return None;
    }
    let (is_alt, rest) = if let Some(r) = group.strip_prefix("alt_") {
        (true, r)
    } else {
        (false, group.strip_prefix("tuple_")?)
    };
    let stem_len = rest
        .char_indices()
        .map(|(i, _)| i)
        .chain([rest.len()])
        .find(|&i| {
            let tail = &rest[i..];
            tail.is_empty()
                || tail
                    .strip_prefix('_')
                    .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_numeric()))
        })
        .unwrap_or(rest.len());
    Some((is_alt, field_group_name(&rest[..stem_len])))
}

/// A compiled regex with its expanded pattern and group bookkeeping.
#[derive(Debug, Clone)]
pub struct CompiledRegex {
    expanded: String,
    regex: pyre::Regex,
    /// `(index, name)` of the named groups in definition order; a match's [`Fields`]
    /// share these names.
    names: Vec<(usize, Key)>,
    /// `(group, target)` for `alt_*` groups, sorted by group name.
    alt: Vec<(Key, Key)>,
    /// `(group, target)` for `tuple_*` groups, sorted by group name.
    tuple: Vec<(Key, Key)>,
}

impl CompiledRegex {
    /// Expands and compiles a stream value.
    pub fn new(raw: &str, use_dns: UseDns, multiline: bool) -> Result<Self, RegexError> {
        let expanded = template::expand(raw, use_dns.host_with_dns())?;
        let flags = Flags {
            multiline,
            ignore_case: false,
        };
        let regex = pyre::compile(&expanded, flags).map_err(RegexError::Compile)?;
        let names: Vec<(usize, Key)> = regex.group_names().map(|(i, n)| (i, key(n))).collect();
        let (mut alt, mut tuple) = (Vec::new(), Vec::new());
        for (_, name) in &names {
            if let Some((is_alt, target)) = complex_name(name) {
                let entry = (*name, key(&target));
                if is_alt {
                    alt.push(entry);
                } else {
                    tuple.push(entry);
                }
            }
        }
        alt.sort();
        tuple.sort();
        Ok(CompiledRegex {
            expanded,
            regex,
            names,
            alt,
            tuple,
        })
    }

    /// The pattern as fail2ban reports it (`get <jail> failregex`).
    pub fn pattern(&self) -> &str {
        &self.expanded
    }

    pub fn regex(&self) -> &pyre::Regex {
        &self.regex
    }

    /// Whether the pattern defines the named group.
    pub fn has_group(&self, name: &str) -> bool {
        self.regex.group_index(name).is_some()
    }

    /// Searches the buffer (Python `search` from position 0).
    pub fn search<'t>(&self, buffer: &'t str) -> Option<Match<'t>> {
        self.regex.search(buffer, 0)
    }

    /// Whether [`CompiledRegex::search`] would find a match (no group extraction).
    pub fn is_match(&self, buffer: &str) -> bool {
        self.regex.is_match(buffer, 0)
    }

    /// The group dict of a match of this regex, with `alt_*` and `tuple_*` merged.
    pub fn fields(&self, m: &Match<'_>) -> Fields {
        self.fields_with_room(m, 0)
    }

    /// The most entries [`CompiledRegex::fields`] gives.
    pub fn field_count(&self) -> usize {
        self.names.len() + self.alt.len() + self.tuple.len()
    }

    /// [`CompiledRegex::fields`] with room for `extra` more entries.
    fn fields_with_room(&self, m: &Match<'_>, extra: usize) -> Fields {
        // Sized once: alt/tuple targets may add a few keys beyond the groups.
        let mut v = Vec::with_capacity(self.field_count() + extra);
        v.extend(self.names.iter().map(|(i, n)| {
            let v = m.group(*i).map_or(Value::None, Value::str);
            (*n, v)
        }));
        let mut f = Fields(v);
        for (group, target) in &self.alt {
            if let Some(v) = f.get(group).cloned()
                && truthy(Some(&v))
                && !truthy(f.get(target))
            {
                f.set_key(target, v);
            }
        }
        for (group, target) in &self.tuple {
            let v = f.get(group).cloned().unwrap_or(Value::None);
            let combined = match f.get(target).cloned() {
                Some(Value::Tuple(mut t)) => {
                    t.push(v);
                    t
                }
                t => vec![t.unwrap_or(Value::None), v],
            };
            f.set_key(target, Value::Tuple(combined));
        }
        f
    }

    /// Lines captured by `<SKIPLINES>` (`skiplines0`, `skiplines1`, … until one is
    /// missing), split into lines; the caller keeps them out of the ticket's matches.
    pub fn skipped_lines(&self, m: &Match<'_>) -> Vec<String> {
        let mut text = String::new();
        for n in 0.. {
            let Some(i) = self.regex.group_index(&format!("skiplines{n}")) else {
                break;
            };
            text.push_str(m.group(i).unwrap_or(""));
        }
        py_splitlines(&text)
    }
}

/// Python's `str.splitlines()` (the separators it knows, `\r\n` as one).
fn py_splitlines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\u{b}' | '\u{c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => out.push(std::mem::take(&mut cur)),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(std::mem::take(&mut cur));
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A `prefregex`: never MULTILINE; may carry `<F-CONTENT>`.
#[derive(Debug, Clone)]
pub struct PrefRegex(pub CompiledRegex);

impl PrefRegex {
    pub fn new(raw: &str, use_dns: UseDns) -> Result<Self, RegexError> {
        CompiledRegex::new(raw, use_dns, false).map(PrefRegex)
    }

    /// Fields of a match without `content`, and the content when it is non-empty
    /// (then the failregexes see only `content + "\n"`). The fields have room for
    /// `room` more (a failregex's, merged in next).
    pub fn split_content(&self, m: &Match<'_>, room: usize) -> (Fields, Option<String>) {
        let mut f = self.0.fields_with_room(m, room);
        let content = f.remove("content").map(|v| match v {
            Value::Str(s) => s,
            v => v.to_py_str(),
        });
        (f, content.filter(|c| !c.is_empty()))
    }

    /// The content [`PrefRegex::split_content`] gives, into `out` (cleared), without
    /// the other fields (a thread that needs only the content would otherwise build
    /// and drop a string per group on every line). False when there is none.
    pub fn content_into(&self, m: &Match<'_>, out: &mut String) -> bool {
        out.clear();
        let re = &self.0;
        let target = re
            .alt
            .iter()
            .chain(&re.tuple)
            .any(|(_, t)| &**t == "content");
        if target {
            // An `alt_`/`tuple_` group merges into it: the whole field dict decides.
            if let (_, Some(c)) = self.split_content(m, 0) {
                out.push_str(&c);
            }
        } else if let Some((i, _)) = re.names.iter().find(|(_, n)| &**n == "content") {
            match m.group(*i) {
                Some(text) => out.push_str(text),
                None => out.push_str(&Value::None.to_py_str()),
            }
        }
        !out.is_empty()
    }
}

/// An `ignoreregex`: never MULTILINE, no id requirement.
#[derive(Debug, Clone)]
pub struct IgnoreRegex(pub CompiledRegex);

impl IgnoreRegex {
    pub fn new(raw: &str, use_dns: UseDns) -> Result<Self, RegexError> {
        CompiledRegex::new(raw, use_dns, false).map(IgnoreRegex)
    }

    /// Whether the buffer is to be ignored.
    pub fn is_match(&self, buffer: &str) -> bool {
        self.0.is_match(buffer)
    }
}

/// A `failregex`: MULTILINE when added while `maxlines > 1`; must have an id group
/// (`fid`, `ip4`, `ip6`, `dns`, `mlfid`) itself or in the prefregex.
#[derive(Debug, Clone)]
pub struct FailRegex(pub CompiledRegex);

impl FailRegex {
    pub fn new(
        raw: &str,
        pref: Option<&PrefRegex>,
        multiline: bool,
        use_dns: UseDns,
    ) -> Result<Self, RegexError> {
        let re = CompiledRegex::new(raw, use_dns, multiline)?;
        let has_id = |r: &CompiledRegex| {
            FAILURE_ID_GROUPS
                .iter()
                .chain(&["mlfid"])
                .any(|g| r.has_group(g))
        };
        if !has_id(&re) && !pref.is_some_and(|p| has_id(&p.0)) {
            return Err(RegexError::NoFailureId(re.expanded));
        }
        Ok(FailRegex(re))
    }
}

impl std::ops::Deref for FailRegex {
    type Target = CompiledRegex;
    fn deref(&self) -> &CompiledRegex {
        &self.0
    }
}

impl std::ops::Deref for PrefRegex {
    type Target = CompiledRegex;
    fn deref(&self) -> &CompiledRegex {
        &self.0
    }
}

impl std::ops::Deref for IgnoreRegex {
    type Target = CompiledRegex;
    fn deref(&self) -> &CompiledRegex {
        &self.0
    }
}

/// Prefregex groups first, then the failregex's groups over them (dict `update`: a
/// failregex `None` does overwrite).
pub fn merge_fields(pref: &Fields, fail: Fields) -> Fields {
    let mut merged = Fields(Vec::with_capacity(pref.0.len() + fail.0.len()));
    merged.0.extend(pref.0.iter().cloned());
    merge_into(merged, fail)
}

/// [`merge_fields`] consuming the prefregex groups (no copy of their values). The names
/// in `fail` must be unique, as in any [`Fields`] built by a match or by `set`.
pub fn merge_into(mut pref: Fields, fail: Fields) -> Fields {
    // A match's names are unique, so a failregex name can only meet a prefregex one.
    let n = pref.0.len();
    pref.0.reserve(fail.0.len());
    for (k, v) in fail.0 {
        match pref.0[..n].iter_mut().find(|(p, _)| *p == k) {
            Some(slot) => slot.1 = v,
            None => pref.0.push((k, v)),
        }
    }
    pref
}

/// What identifies the failure of one match.
#[derive(Debug, Clone, PartialEq)]
pub enum FailId {
    /// One ticket. `ip` is set when an explicit failure id differs from the matched
    /// address: the id is the ticket key and the address goes into the data as `ip`.
    Id { id: IpAddr, ip: Option<IpAddr> },
    /// A host name to resolve (usedns yes/warn): one failure per address found, none if
    /// it does not resolve; `warn` also logs the lookup.
    Resolve(String),
    /// A host name under usedns `no`: no failure.
    Unresolved,
    /// An mlfid match without any id yet: the connection is marked pending.
    Pending,
}

/// A match that gives no usable id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    /// No id group took part in the match (a badly written regex). fail2ban logs the
    /// error and goes on with the next failregex.
    NoIdGroup,
    /// The id text has a `/suffix` that is neither a prefix length nor a mask.
    /// fail2ban aborts processing of the line (`Failed to process line`).
    BadAddress(String),
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::NoIdGroup => f.write_str("No failure-id group took part in the match"),
            IdError::BadAddress(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for IdError {}

/// Turns merged match fields into the failure id, following fail2ban's precedence:
/// `ip4`, then `ip6` (both with the `cidr` group as prefix when present), then `dns`,
/// then `fid`; an explicit `fid` different from the address becomes the ticket id.
/// `raw_host` is fail2ban-regex's `--raw` (ids are never resolved, as with usedns raw).
pub fn failure_id(fields: &Fields, use_dns: UseDns, raw_host: bool) -> Result<FailId, IdError> {
    let defcidr = if use_dns == UseDns::Raw || raw_host {
        CIDR_RAW
    } else {
        CIDR_UNSPEC
    };
    let mut fid = fields.text("fid");
    let cidr_or = |fam: i64| -> Result<i64, IdError> {
        match fields.text("cidr").filter(|c| !c.is_empty()) {
            None => Ok(fam),
            Some(c) => c
                .trim()
                .parse::<i64>()
                .map_err(|_| IdError::BadAddress(format!("invalid cidr '{c}'"))),
        }
    };
    let (ip, cidr, raw) = if let Some(ip) = fields.text("ip4") {
        (ip, cidr_or(FAM_IPV4)?, true)
    } else if let Some(ip) = fields.text("ip6") {
        (ip, cidr_or(FAM_IPV6)?, true)
    } else if let Some(dns) = fields.text("dns") {
        (dns, defcidr, defcidr == CIDR_RAW)
    } else {
        match &fid {
            Some(f) => (f.clone(), defcidr, true),
            None if fields.get("mlfid").is_some() => return Ok(FailId::Pending),
            None => return Err(IdError::NoIdGroup),
        }
    };
    if !raw {
        // A dns match that is a literal IPv4 address is used as such, never resolved.
        if let Some(lit) = search_ip(&ip).and_then(|t| IpAddr::parse(t).ok())
            && lit.is_valid()
        {
            return Ok(FailId::Id { id: lit, ip: None });
        }
        return Ok(match use_dns {
            UseDns::Yes | UseDns::Warn => FailId::Resolve(ip),
            _ => FailId::Unresolved,
        });
    }
    let addr = parse_id(&ip, cidr)?;
    match fid.take() {
        Some(f) if f != ip => Ok(FailId::Id {
            id: parse_id(&f, defcidr)?,
            ip: Some(addr),
        }),
        _ => Ok(FailId::Id { id: addr, ip: None }),
    }
}

/// `IPAddr(text, cidr)`: the `/suffix` parsing applies only with an unspecified cidr.
fn parse_id(text: &str, cidr: i64) -> Result<IpAddr, IdError> {
    if cidr == CIDR_UNSPEC {
        IpAddr::parse(text).map_err(|e| IdError::BadAddress(e.to_string()))
    } else {
        Ok(IpAddr::with_cidr(text, cidr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_interned_once() {
        let a = CompiledRegex::new(
            r"^(?P<user>\w+) (?P<alt_user_1>\w+) <HOST>",
            UseDns::No,
            false,
        )
        .expect("compiles");
        let b = CompiledRegex::new(r"^<F-USER>\S+</F-USER> from <HOST>", UseDns::No, false)
            .expect("compiles");
        let m = a.search("bob eve 192.0.2.1\n").expect("matches");
        let n = b.search("ann from 192.0.2.2\n").expect("matches");
        let (fa, fb) = (a.fields(&m), b.fields(&n));
        let user = |f: &Fields| f.0.iter().find(|(k, _)| *k == "user").map(|(k, _)| *k);
        let (ka, kb) = (user(&fa).expect("user"), user(&fb).expect("user"));
        // One allocation per distinct name, whichever regex or call names it.
        assert!(std::ptr::eq(ka, kb));
        assert!(std::ptr::eq(ka, key("user")));
        assert!(std::ptr::eq(key(&String::from("user")), ka));
        assert!(!std::ptr::eq(key("users"), ka));
        assert_eq!(fa.get("user"), Some(&Value::str("bob")));
        assert_eq!(fb.get("user"), Some(&Value::str("ann")));
    }

    #[test]
    fn content_alone_is_the_content_of_the_field_dict() {
        let prefs = [
            r"^<F-MLFID>\S+ sshd\[\d+\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$",
            // The group may not take part (Python's dict then holds None).
            r"^(?P<pid>\w+)(?: (?P<content>x.*))?\n?$",
            // It may be empty, or be merged into by `alt_`/`tuple_` groups.
            r"^(?P<content>y*) ?(?P<alt_content>\w*)",
            r"^(?P<tuple_content>\w+) (?P<content>\w+)",
            r"^(?P<content_1>\w+)",
            r"^\w+",
        ];
        let lines = [
            "srv sshd[12]: Failed password\n",
            "ab\n",
            "ab xyz\n",
            "yy zz\n",
            " q\n",
        ];
        let mut out = String::from("stale");
        let mut seen = 0;
        for p in prefs {
            let pref = PrefRegex::new(p, UseDns::No).expect(p);
            for line in lines {
                let Some(m) = pref.0.search(line) else {
                    continue;
                };
                seen += 1;
                let want = pref.split_content(&m, 0).1;
                let got = pref.content_into(&m, &mut out);
                assert_eq!(
                    got.then_some(out.as_str()),
                    want.as_deref(),
                    "{p} on {line:?}"
                );
            }
        }
        assert!(seen >= 12, "{seen} matches");
    }

    #[test]
    fn complex_names() {
        assert_eq!(complex_name("alt_user"), Some((true, "user".into())));
        assert_eq!(complex_name("alt_user_12"), Some((true, "user".into())));
        assert_eq!(complex_name("alt_user_1_2"), Some((true, "user_1".into())));
        assert_eq!(complex_name("tuple_id_1"), Some((false, "fid".into())));
        assert_eq!(complex_name("alt_"), None);
        assert_eq!(complex_name("user"), None);
    }

    fn id_of(regex: &str, line: &str, use_dns: UseDns) -> Result<FailId, IdError> {
        let re = FailRegex::new(regex, None, false, use_dns).expect("regex");
        let buffer = format!("{line}\n");
        let m = re.0.search(&buffer).expect("match");
        failure_id(&re.0.fields(&m), use_dns, false)
    }

    #[test]
    fn spec_captured_ids() {
        // Captured from fail2ban-regex in compat-spec §2.8.
        let Ok(FailId::Id { id, ip }) = id_of(
            r"user <F-ID>\S+</F-ID> from <ADDR>",
            "user joe from 192.0.2.7",
            UseDns::Warn,
        ) else {
            panic!("no id");
        };
        assert_eq!(
            (id.to_string(), ip.map(|i| i.to_string())),
            ("joe".into(), Some("192.0.2.7".into()))
        );
        let Ok(FailId::Id { id, .. }) = id_of("<ADDR> <CIDR>", "192.0.2.7 24", UseDns::Warn) else {
            panic!("no id");
        };
        assert_eq!(id.to_string(), "192.0.2.0/24");
        let Ok(FailId::Id { id, .. }) =
            id_of("from <HOST> port", "from 999.1.1.1 port 1", UseDns::Warn)
        else {
            panic!("no id");
        };
        assert_eq!((id.to_string(), id.is_ip()), ("999.1.1.1".into(), false));
        assert_eq!(
            id_of("from <HOST> port", "from localhost port 1", UseDns::Warn),
            Ok(FailId::Resolve("localhost".into()))
        );
        let Ok(FailId::Id { id, .. }) =
            id_of("from <HOST> port", "from localhost port 1", UseDns::Raw)
        else {
            panic!("no id");
        };
        assert_eq!(id.to_string(), "localhost");
    }

    #[test]
    fn no_id_group_rejected() {
        let e = FailRegex::new("^Failed password", None, false, UseDns::Warn).err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("No failure-id group in '^Failed password'")
        );
    }

    #[test]
    fn splitlines() {
        assert_eq!(py_splitlines("a\nb\r\nc\r"), vec!["a", "b", "c"]);
        assert_eq!(py_splitlines(""), Vec::<String>::new());
    }
}
