//! The INI dialect of fail2ban (Python `configparser` in strict mode with `;` inline
//! comments): one file's text → [`IniFile`] (ordered `[DEFAULT]` keys and sections, each
//! value remembering the line it came from). Merging and interpolation live elsewhere.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// A small, fast non-cryptographic hasher (FxHash) for option-name keys: config keys are
/// not attacker-controlled and SipHash dominated the profile.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some((w, tail)) = rest.split_first_chunk::<8>() {
            self.add(u64::from_le_bytes(*w));
            rest = tail;
        }
        // the last 1..=7 bytes as one word from at most two fixed-size loads (a copy of
        // a variable-length tail was a library call on every short key)
        let n = rest.len();
        let w = if n >= 4 {
            let lo = rest
                .first_chunk::<4>()
                .map_or(0, |c| u32::from_le_bytes(*c));
            let hi = rest.last_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c));
            u64::from(lo) | (u64::from(hi) << 32)
        } else if n > 0 {
            u64::from(rest[0]) | (u64::from(rest[n / 2]) << 8) | (u64::from(rest[n - 1]) << 16)
        } else {
            return;
        };
        // the tail's length too: tails of different lengths give different words
        self.add(w ^ ((n as u64) << 56));
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;

/// Whether `b` holds an ASCII upper-case letter or a non-ASCII byte; eight bytes at a
/// time (this runs for every option name looked up), the last word overlapping the one
/// before (a byte tested twice changes nothing), short names from two 4-byte loads.
pub fn upper_or_non_ascii(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    // zero bytes (the padding) are neither upper-case nor non-ASCII
    let test = |w: u64| {
        if w & HIGH != 0 {
            return true;
        }
        // every byte is below 0x80, so these sums carry into no neighbour: a byte's
        // high bit is set in `ge_a` when it is >= b'A', in `gt_z` when it is > b'Z'
        let ge_a = w + ONES * (0x80 - u64::from(b'A'));
        let gt_z = w + ONES * (0x80 - u64::from(b'Z') - 1);
        ge_a & !gt_z & HIGH != 0
    };
    let n = b.len();
    if n >= 8 {
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            if c.first_chunk::<8>()
                .is_some_and(|w| test(u64::from_le_bytes(*w)))
            {
                return true;
            }
        }
        !chunks.remainder().is_empty()
            && b.last_chunk::<8>()
                .is_some_and(|w| test(u64::from_le_bytes(*w)))
    } else if n >= 4 {
        let lo = b.first_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c));
        let hi = b.last_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c));
        test(u64::from(lo) | (u64::from(hi) << 32))
    } else {
        b.iter().any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    }
}

/// A raw (uninterpolated) value with the place it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct RawVal {
    /// Shared: a file's values are copied into every config that merges the file
    /// (common.conf into each filter), and a copy is then a count, not a new string.
    pub text: Arc<String>,
    /// Index into the file table of the [`super::files::FileSet`] (or `u32::MAX` when synthetic).
    pub file: u32,
    pub line: u32,
}

impl RawVal {
    pub fn synthetic(text: impl Into<String>) -> RawVal {
        RawVal {
            text: Arc::new(text.into()),
            file: u32::MAX,
            line: 0,
        }
    }
}

/// An insertion-ordered map of option name → value (Python dict semantics: overwriting
/// keeps the original position). Small maps are searched linearly; a hash index is
/// built once a map grows past [`INDEX_FROM`] entries.
#[derive(Debug, Clone)]
pub struct OrdMap<V> {
    entries: Vec<(String, V)>,
    index: Option<KeyIndex>,
    /// The union of the keys' [`key_bit`]s: a key whose bit is not in it is absent,
    /// found so without a scan (lookups through layered maps mostly miss).
    bits: u64,
}

/// One of 64 bits picked by a key's length and end bytes (keys are never removed, so
/// a map's union of them only grows).
fn key_bit(k: &str) -> u64 {
    let b = k.as_bytes();
    let (first, last) = match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => (u32::from(f), u32::from(l)),
        _ => (0, 0),
    };
    let h = (b.len() as u32).wrapping_mul(0x9e37_79b9) ^ first.wrapping_mul(0x85eb_ca6b) ^ last;
    1u64 << (h >> 26)
}

fn bits_of<V>(entries: &[(String, V)]) -> u64 {
    entries.iter().fold(0, |a, (k, _)| a | key_bit(k))
}

/// A key's [`FxHasher`] hash → the position of the first key with that hash. Holding
/// no key copies, it costs no allocation per key to build or to clone; a key whose
/// hash names another key (a collision) is found by a linear search.
type KeyIndex = HashMap<u64, u32, BuildHasherDefault<PassHasher>>;

/// Hashes an already hashed `u64` key as itself.
#[derive(Default, Clone, Copy)]
pub struct PassHasher(u64);

impl Hasher for PassHasher {
    fn write(&mut self, bytes: &[u8]) {
        // not used by `u64` keys; kept correct for any other
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn key_hash(k: &str) -> u64 {
    use std::hash::BuildHasher;
    FxBuild::default().hash_one(k)
}

/// The index of `entries`' keys (the first position of each hash).
fn build_index<V>(entries: &[(String, V)], room: usize) -> KeyIndex {
    let mut ix = KeyIndex::with_capacity_and_hasher(room, Default::default());
    for (j, (k, _)) in entries.iter().enumerate() {
        ix.entry(key_hash(k)).or_insert(j as u32);
    }
    ix
}

const INDEX_FROM: usize = 32;

impl<V: PartialEq> PartialEq for OrdMap<V> {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl<V> Default for OrdMap<V> {
    fn default() -> Self {
        OrdMap::new()
    }
}

impl<V> OrdMap<V> {
    pub fn new() -> Self {
        OrdMap {
            entries: Vec::new(),
            index: None,
            bits: 0,
        }
    }
    fn position(&self, k: &str) -> Option<usize> {
        if self.bits & key_bit(k) == 0 {
            return None;
        }
        match &self.index {
            Some(ix) => match ix.get(&key_hash(k)) {
                Some(&i) if self.entries.get(i as usize).is_some_and(|(kk, _)| kk == k) => {
                    Some(i as usize)
                }
                // another key with the same hash
                Some(_) => self.scan(k),
                None => None,
            },
            None => self.scan(k),
        }
    }
    fn scan(&self, k: &str) -> Option<usize> {
        // length and first byte inline: most keys differ there, and the full compare is
        // a library call
        let kb = k.as_bytes();
        let first = kb.first().copied();
        self.entries.iter().position(|(kk, _)| {
            let b = kk.as_bytes();
            b.len() == kb.len() && b.first().copied() == first && b == kb
        })
    }
    /// The insertion position of `k` (the index [`OrdMap::iter`] gives it).
    pub fn index_of(&self, k: &str) -> Option<usize> {
        self.position(k)
    }
    pub fn get(&self, k: &str) -> Option<&V> {
        self.position(k).map(|i| &self.entries[i].1)
    }
    pub fn get_mut(&mut self, k: &str) -> Option<&mut V> {
        match self.position(k) {
            Some(i) => Some(&mut self.entries[i].1),
            None => None,
        }
    }
    pub fn contains_key(&self, k: &str) -> bool {
        self.position(k).is_some()
    }
    pub fn insert(&mut self, k: String, v: V) {
        match self.position(&k) {
            Some(i) => self.entries[i].1 = v,
            None => self.push_absent(k, v),
        }
    }
    /// Appends `k`, known to be absent.
    fn push_absent(&mut self, k: String, v: V) {
        let i = self.entries.len();
        self.bits |= key_bit(&k);
        match &mut self.index {
            Some(ix) => {
                ix.entry(key_hash(&k)).or_insert(i as u32);
            }
            None if i + 1 >= INDEX_FROM => {
                // room for twice the threshold: no regrowth while the map doubles
                let mut ix = build_index(&self.entries, 2 * INDEX_FROM);
                ix.entry(key_hash(&k)).or_insert(i as u32);
                self.index = Some(ix);
            }
            None => {}
        }
        self.entries.push((k, v));
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }
    /// Adds `k` (copied) unless present: its insertion position, or `None` when the key
    /// exists (the map is left as it was).
    pub fn insert_new(&mut self, k: &str, v: V) -> Option<usize> {
        if self.position(k).is_some() {
            return None;
        }
        let i = self.entries.len();
        self.push_absent(k.to_string(), v);
        Some(i)
    }
    /// Key and value at insertion position `i`.
    pub fn at(&self, i: usize) -> Option<(&String, &V)> {
        self.entries.get(i).map(|(k, v)| (k, v))
    }
    /// Mutable value at insertion position `i`.
    pub fn at_mut(&mut self, i: usize) -> Option<&mut V> {
        self.entries.get_mut(i).map(|(_, v)| v)
    }
    /// Replaces the value at insertion position `i`.
    pub fn set_at(&mut self, i: usize, v: V) {
        if let Some(e) = self.entries.get_mut(i) {
            e.1 = v;
        }
    }
    /// A map of entries whose keys are known to be distinct (no duplicate check).
    pub fn from_unique(entries: Vec<(String, V)>) -> Self {
        let index = (entries.len() >= INDEX_FROM).then(|| build_index(&entries, entries.len()));
        let bits = bits_of(&entries);
        OrdMap {
            entries,
            index,
            bits,
        }
    }
    /// [`OrdMap::from_unique`] searched linearly whatever its size (for maps mostly
    /// iterated; an index is built should it grow).
    pub fn from_unique_unindexed(entries: Vec<(String, V)>) -> Self {
        OrdMap {
            bits: bits_of(&entries),
            entries,
            index: None,
        }
    }
    /// The entries in insertion order, consuming the map.
    pub fn into_entries(self) -> Vec<(String, V)> {
        self.entries
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<V> FromIterator<(String, V)> for OrdMap<V> {
    fn from_iter<T: IntoIterator<Item = (String, V)>>(iter: T) -> Self {
        let mut m = OrdMap::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

pub type Section = OrdMap<RawVal>;

/// One parsed file: `[DEFAULT]` keys plus the other sections in file order.
#[derive(Debug, Clone, Default)]
pub struct IniFile {
    pub defaults: Section,
    pub sections: OrdMap<Section>,
}

/// A syntax error that makes the whole configuration unusable (fail2ban's message first,
/// the same wording configparser uses).
#[derive(Debug, Clone, PartialEq)]
pub struct IniError {
    pub message: String,
    pub line: u32,
}

fn is_py_space(c: char) -> bool {
    c.is_whitespace()
}

/// Index of the inline `;` comment: a `;` at column 0 or right after whitespace.
fn inline_comment_start(line: &str) -> Option<usize> {
    // only `;` positions matter: check the char before each one
    memchr::memchr_iter(b';', line.as_bytes())
        .find(|&i| i == 0 || line[..i].chars().next_back().is_some_and(is_py_space))
}

/// `[header]` at the start of a stripped line: text between the first `[` and the last `]`.
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    // `.` does not match a newline, and lines have none; need at least one char.
    let end = rest.rfind(']')?;
    if end == 0 {
        return None;
    }
    Some(&rest[..end])
}

/// Parses one file's text. `file` is the file-table index stored in every value.
pub fn parse(text: &str, file: u32, fname: &str) -> Result<IniFile, IniError> {
    const DEFAULT_IDX: usize = usize::MAX;
    let mut out = IniFile::default();
    // Current target: None = no section yet; Some(DEFAULT_IDX) = DEFAULT; Some(i).
    let mut cur: Option<usize> = None;
    let mut in_option = false;
    let mut indent_level: usize = 0;
    // The option continuation lines extend: (section, entry index). Values go straight
    // into their section (whose lookup also finds a repeated option), and get their
    // trailing blank lines cut once complete.
    let mut last: Option<(usize, usize)> = None;
    let mut parse_errors: Vec<(u32, String)> = Vec::new();

    let bytes = text.as_bytes();
    let mut start = 0;
    let mut lineno: u32 = 0;
    // `split_inclusive('\n')`, with the crate's faster byte search
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
        let raw_line = &text[start..end];
        start = end;
        lineno += 1;
        let line = raw_line.strip_suffix('\n').unwrap_or(raw_line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        // most lines are whole-line comments: skipped at the first non-blank byte (a
        // non-ASCII blank takes the general path)
        if let Some(&b) = line.as_bytes().iter().find(|b| !b.is_ascii_whitespace())
            && (b == b'#' || b == b';')
        {
            continue;
        }
        let mut comment_start = inline_comment_start(line);
        let stripped = trim(line);
        if stripped.starts_with('#') || stripped.starts_with(';') {
            comment_start = Some(0);
        }
        let value = match comment_start {
            Some(i) => trim(&line[..i]),
            None => stripped,
        };
        if value.is_empty() {
            // A truly blank line inside a value is kept as an empty line.
            if comment_start.is_none()
                && cur.is_some()
                && in_option
                && let Some(v) = value_at(&mut out, last)
            {
                Arc::make_mut(&mut v.text).push('\n');
            }
            continue;
        }
        let cur_indent = line.chars().take_while(|c| is_py_space(*c)).count();
        if cur.is_some() && in_option && cur_indent > indent_level {
            if let Some(v) = value_at(&mut out, last) {
                // (not shared yet: the file is still being parsed)
                let text = Arc::make_mut(&mut v.text);
                text.push('\n');
                text.push_str(value);
            }
            continue;
        }
        indent_level = cur_indent;
        if let Some(name) = section_header(value) {
            if name == "DEFAULT" {
                cur = Some(DEFAULT_IDX);
            } else {
                let Some(i) = out.sections.insert_new(name, Section::new()) else {
                    return Err(IniError {
                        message: format!(
                            "While reading from {} [line {lineno:2}]: section {} already exists",
                            crate::stream::py_str_repr(fname),
                            crate::stream::py_str_repr(name)
                        ),
                        line: lineno,
                    });
                };
                cur = Some(i);
            }
            in_option = false;
            continue;
        }
        let Some(sect) = cur else {
            return Err(IniError {
                message: format!(
                    "File contains no section headers.\nfile: {}, line: {lineno}\n{}",
                    crate::stream::py_str_repr(fname),
                    crate::stream::py_str_repr(raw_line)
                ),
                line: lineno,
            });
        };
        // option line: the first `=` or `:` splits.
        match memchr::memchr2(b'=', b':', value.as_bytes()) {
            Some(pos) => {
                let key = trim_end(&value[..pos]);
                if key.is_empty() {
                    parse_errors.push((lineno, raw_line.to_string()));
                }
                // configparser's optionxform: str.lower()
                let key = if upper_or_non_ascii(key.as_bytes()) {
                    Cow::Owned(key.to_lowercase())
                } else {
                    Cow::Borrowed(key)
                };
                trim_value(&mut out, last);
                let target = if sect == DEFAULT_IDX {
                    Some(&mut out.defaults)
                } else {
                    out.sections.at_mut(sect)
                };
                let val = RawVal {
                    text: Arc::new(trim(&value[pos + 1..]).to_string()),
                    file,
                    line: lineno,
                };
                let added = match target {
                    Some(t) => t.insert_new(key.as_ref(), val),
                    // (a section index always exists)
                    None => None,
                };
                let Some(i) = added else {
                    let sname = match out.sections.at(sect) {
                        Some((n, _)) => n.as_str(),
                        None => "DEFAULT",
                    };
                    return Err(IniError {
                        message: format!(
                            "While reading from {} [line {lineno:2}]: option {} in section {} already exists",
                            crate::stream::py_str_repr(fname),
                            crate::stream::py_str_repr(&key),
                            crate::stream::py_str_repr(sname)
                        ),
                        line: lineno,
                    });
                };
                last = Some((sect, i));
                in_option = true;
            }
            None => {
                parse_errors.push((lineno, raw_line.to_string()));
                // configparser keeps going; the error is raised at the end of the file.
                in_option = false;
            }
        }
    }
    if !parse_errors.is_empty() {
        let mut msg = format!(
            "Source contains parsing errors: {}",
            crate::stream::py_str_repr(fname)
        );
        for (l, t) in &parse_errors {
            msg.push_str(&format!(
                "\n\t[line {l:2}]: {}",
                crate::stream::py_str_repr(t)
            ));
        }
        return Err(IniError {
            message: msg,
            line: parse_errors[0].0,
        });
    }
    trim_value(&mut out, last);
    Ok(out)
}

/// The value at `at` (section index, `usize::MAX` for `[DEFAULT]`; entry index).
fn value_at(out: &mut IniFile, at: Option<(usize, usize)>) -> Option<&mut RawVal> {
    let (sect, i) = at?;
    let sec = if sect == usize::MAX {
        &mut out.defaults
    } else {
        out.sections.at_mut(sect)?
    };
    sec.at_mut(i)
}

/// `str::trim` (Unicode whitespace), with ASCII ends handled bytewise: the general
/// path decodes chars, and nearly every line here is ASCII.
fn trim(s: &str) -> &str {
    trim_end(trim_start(s))
}

/// The ASCII bytes `char::is_whitespace` accepts.
fn ascii_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// `str::trim_start`, see [`trim`].
fn trim_start(s: &str) -> &str {
    let i = s.bytes().position(|b| !ascii_ws(b)).unwrap_or(s.len());
    let rest = &s[i..];
    // a non-ASCII char may be whitespace too
    if rest.as_bytes().first().is_some_and(|b| !b.is_ascii()) {
        rest.trim_start()
    } else {
        rest
    }
}

/// `str::trim_end`, see [`trim`].
fn trim_end(s: &str) -> &str {
    let n = s.bytes().rposition(|b| !ascii_ws(b)).map_or(0, |i| i + 1);
    let rest = &s[..n];
    if rest.as_bytes().last().is_some_and(|b| !b.is_ascii()) {
        rest.trim_end()
    } else {
        rest
    }
}

/// Cuts the trailing blank lines a complete value may have gathered.
fn trim_value(out: &mut IniFile, at: Option<(usize, usize)>) {
    if let Some(v) = value_at(out, at) {
        let keep = trim_end(&v.text).len();
        if keep < v.text.len() {
            Arc::make_mut(&mut v.text).truncate(keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_like_str_trim() {
        for t in [
            "",
            " ",
            "a",
            " a ",
            "\t a b \r\n",
            "\u{a0}x\u{a0}",
            " \u{2003} y \u{85}",
            "\x0bz\x0c",
            "\x1cq\x1c",
            "é ",
            " ü",
            "\u{3000}",
            "a\u{a0} \t",
        ] {
            assert_eq!(trim(t), t.trim(), "{t:?}");
            assert_eq!(trim_end(t), t.trim_end(), "{t:?}");
            assert_eq!(trim_start(t), t.trim_start(), "{t:?}");
        }
    }

    /// Maps past the index threshold find what a linear search finds: built by
    /// inserts (overwrites keep the first position), by `from_unique`, and cloned.
    #[test]
    fn indexed_maps_agree_with_a_linear_search() {
        let keys: Vec<String> = (0..300).map(|i| format!("k{}_{}", i % 7, i)).collect();
        let mut m: OrdMap<usize> = OrdMap::new();
        for (i, k) in keys.iter().enumerate() {
            m.insert(k.clone(), i);
        }
        m.insert(keys[5].clone(), 999);
        let u = OrdMap::from_unique(keys.iter().cloned().zip(0..).collect());
        for map in [m.clone(), u] {
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(map.index_of(k), Some(i), "{k}");
                assert_eq!(map.index_of(k), map.scan(k));
            }
            for absent in ["", "k", "k0_1", "k1_300", "zz"] {
                assert_eq!(map.index_of(absent), None, "{absent}");
            }
        }
        assert_eq!(m.get(&keys[5]), Some(&999));
        assert_eq!(m.len(), 300);
    }

    /// A key whose hash is already taken by another key is still found (the linear
    /// fallback), as is the key holding the hash.
    #[test]
    fn index_collisions_fall_back_to_the_scan() {
        let mut m: OrdMap<u8> = (0..40).map(|i| (format!("o{i}"), 0)).collect();
        // point every hash of the index at entry 0: each lookup but o0's collides
        if let Some(ix) = m.index.as_mut() {
            for v in ix.values_mut() {
                *v = 0;
            }
        }
        for i in 0..40 {
            assert_eq!(m.index_of(&format!("o{i}")), Some(i));
        }
        assert_eq!(m.index_of("o40"), None);
        m.insert("o7".into(), 7);
        assert_eq!(m.get("o7"), Some(&7));
        assert_eq!(m.len(), 40);
    }

    /// Small (unindexed) maps answer as a scan does, present or absent, whichever way
    /// they were built, though their key bits reject most absent keys before the scan.
    #[test]
    fn key_bits_never_hide_a_key() {
        let keys: Vec<String> = (0..31)
            .map(|i| format!("{}opt{i}", ["a", "b"][i % 2]))
            .collect();
        let probes: Vec<String> = (0..400)
            .map(|i| format!("{}opt{i}", ["a", "b", "c"][i % 3]))
            .collect();
        let mut m: OrdMap<usize> = OrdMap::new();
        for (i, k) in keys.iter().enumerate() {
            m.insert(k.clone(), i);
        }
        let u = OrdMap::from_unique_unindexed(keys.iter().cloned().zip(0..).collect());
        let mut rejected = 0;
        for map in [m.clone(), u] {
            assert!(map.index.is_none());
            for p in &probes {
                assert_eq!(map.index_of(p), map.scan(p), "{p}");
                rejected += usize::from(map.bits & key_bit(p) == 0);
            }
        }
        assert!(
            rejected > 100,
            "the bits rejected only {rejected} absent keys"
        );
    }

    fn get<'a>(f: &'a IniFile, s: &str, k: &str) -> Option<&'a str> {
        f.sections.get(s)?.get(k).map(|v| v.text.as_str())
    }

    #[test]
    fn comments_and_continuations() {
        let t = "[s]\nkey4 = line1\n    line2\n  # c\n    line3\nc = d ;in line comment\nkey2 = value2;not\nkey3 = v # x\nk = a ;; b\nKey5: colon-delim\n key6 = y\na = l1\n\n    l3\n\n";
        let f = parse(t, 0, "t").unwrap();
        assert_eq!(get(&f, "s", "key4"), Some("line1\nline2\nline3"));
        assert_eq!(get(&f, "s", "c"), Some("d"));
        assert_eq!(get(&f, "s", "key2"), Some("value2;not"));
        assert_eq!(get(&f, "s", "key3"), Some("v # x"));
        assert_eq!(get(&f, "s", "k"), Some("a"));
        assert_eq!(get(&f, "s", "key5"), Some("colon-delim\nkey6 = y"));
        assert_eq!(get(&f, "s", "key6"), None);
        assert_eq!(get(&f, "s", "a"), Some("l1\n\nl3"));
    }

    #[test]
    fn headers_and_errors() {
        let f = parse(
            "[sec with space]\na=1\n[Other] ; c\nb=2\n[DEFAULT]\nx=3\n[default]\ny=4\n",
            0,
            "t",
        )
        .unwrap();
        assert_eq!(get(&f, "sec with space", "a"), Some("1"));
        assert_eq!(get(&f, "Other", "b"), Some("2"));
        assert_eq!(get(&f, "default", "y"), Some("4"));
        assert_eq!(f.defaults.get("x").map(|v| v.text.as_str()), Some("3"));
        let e = parse("[s]\nmaxretry = 1\n\nmaxRetry = 2\n", 0, "/x/jail.local").unwrap_err();
        assert_eq!(
            e.message,
            "While reading from '/x/jail.local' [line  4]: option 'maxretry' in section 's' already exists"
        );
        assert!(
            parse("a = 1\n", 0, "f")
                .unwrap_err()
                .message
                .starts_with("File contains no section headers.")
        );
        assert!(
            parse("[s]\na=1\n[s]\n", 0, "f")
                .unwrap_err()
                .message
                .contains("section 's' already exists")
        );
        assert!(
            parse("[s]\nnovalue\n", 0, "f")
                .unwrap_err()
                .message
                .starts_with("Source contains parsing errors")
        );
    }
}
