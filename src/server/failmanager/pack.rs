//! Compact form of a pending failure entry (memory per failing id matters: a flood of
//! unique addresses keeps one entry each for `findtime`).
//!
//! Principal types: [`Key`] (the failure id: an IPv4/IPv6 address in binary when its
//! text is the canonical spelling, else the text) and [`Pending`] (counters inline; the
//! key, the matched lines and the data fields of the first failure in one byte buffer;
//! rarely used ticket fields boxed aside). Data flow: [`Pending::from_ticket`] packs a
//! [`Ticket`], [`Pending::to_ticket`] gives it back unchanged; [`Pending::update_matches`]
//! re-packs after the failure manager changed the lines.
//!
//! Buffer layout: the key (a tag byte, then 4 or 16 address bytes or the text with its
//! length), a flags byte, the lines, then the data pairs, all counts and lengths as
//! LEB128 varints; after the line count, the index + 1 of the shared reference line the
//! first line is encoded against (0: none). A line is literal bytes where byte 0
//! escapes: `0 0` is a NUL byte, `0 1` the id text, `0 2 off len` a copy of `len` bytes
//! of the base at `off`: for the first line the shared reference line (failures of a
//! filter look alike), for later lines the first line (later lines of one id mostly
//! repeat it). A data value is a tag and its
//! payload; a string equal to the id or to a part of the first line is stored as a
//! reference. Data keys are interned process-wide (they are regex group names).

use std::net::Ipv4Addr;
use std::sync::Mutex;

use crate::filter::addr::{IpAddr, inet_ntop6};
use crate::server::ticket::Ticket;
use crate::stream::Value;

mod append;
mod encode;

use encode::{base_line, encode_first, encode_line};

/// A failure id, hashed and compared like its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    V4(u32),
    V6([u8; 16]),
    Text(Box<str>),
}

impl Key {
    /// The key of id text `fid`: binary only when formatting it back gives `fid` again,
    /// so two keys are equal exactly when their texts are.
    pub fn of(fid: &str) -> Key {
        // std's parser takes only the canonical dotted quad (no leading zeros, no other
        // forms; the key test checks it), so no formatting back is needed here.
        if let Ok(a) = fid.parse::<Ipv4Addr>() {
            return Key::V4(u32::from(a));
        }
        if fid.contains(':')
            && let Ok(a) = fid.parse::<std::net::Ipv6Addr>()
            && inet_ntop6(u128::from(a)) == fid
        {
            return Key::V6(a.octets());
        }
        Key::Text(fid.into())
    }

    /// The encoded key of id text `fid` (what [`Pending::key`] gives for its entry).
    pub fn bytes(fid: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(18);
        Key::of(fid).encode(&mut out);
        out
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Key::V4(a) => {
                out.push(K_V4);
                out.extend_from_slice(&a.to_be_bytes());
            }
            Key::V6(a) => {
                out.push(K_V6);
                out.extend_from_slice(a);
            }
            Key::Text(t) => {
                out.push(K_TEXT);
                put_bytes(out, t.as_bytes());
            }
        }
    }

    /// The key at the start of `buf` and its encoded length.
    fn decode(buf: &[u8]) -> Option<(Key, usize)> {
        let mut r = Reader::new(buf);
        let key = match r.byte()? {
            K_V4 => Key::V4(u32::from_be_bytes(r.take(4)?.try_into().ok()?)),
            K_V6 => Key::V6(r.take(16)?.try_into().ok()?),
            _ => Key::Text(r.string()?.into_boxed_str()),
        };
        Some((key, r.pos))
    }

    /// The id text.
    pub fn text(&self) -> String {
        match self {
            Key::V4(a) => Ipv4Addr::from(*a).to_string(),
            Key::V6(a) => inet_ntop6(u128::from_be_bytes(*a)),
            Key::Text(t) => t.to_string(),
        }
    }
}

/// Ticket fields that are almost always at their defaults for a pending failure.
#[derive(Debug, Clone, PartialEq)]
struct Rare {
    /// The ticket's `ip` when it is not simply the id text parsed.
    ip: Option<Option<IpAddr>>,
    bantime: Option<i64>,
    ban_epoch: u64,
}

/// One pending failure id (see the module doc).
#[derive(Debug, Clone)]
pub struct Pending {
    pub time: f64,
    pub first_time: f64,
    pub retry: f64,
    pub failures: u32,
    pub bancount: u32,
    packed: Box<[u8]>,
    rare: Option<Box<Rare>>,
}

const K_V4: u8 = 0;
const K_V6: u8 = 1;
const K_TEXT: u8 = 2;

const FLAG_IP_IS_FID: u8 = 1;
const FLAG_RESTORED: u8 = 2;

const ESC: u8 = 0;
const ESC_NUL: u8 = 0;
const ESC_FID: u8 = 1;
const ESC_COPY: u8 = 2;
/// A copy op costs about 4 bytes; shorter repeats stay literal.
const MIN_COPY: usize = 6;

const T_NONE: u8 = 0;
const T_FALSE: u8 = 1;
const T_TRUE: u8 = 2;
const T_INT: u8 = 3;
const T_FLOAT: u8 = 4;
const T_STR: u8 = 5;
const T_STR_FID: u8 = 6;
const T_STR_LINE: u8 = 7;
const T_LIST: u8 = 8;
const T_TUPLE: u8 = 9;
const T_DICT: u8 = 10;

impl Pending {
    /// Packs ticket `t`.
    pub fn from_ticket(t: Ticket) -> Pending {
        let ip_is_fid = match &t.ip {
            Some(ip) => match IpAddr::parse(&t.fid) {
                Ok(p) => p == *ip && p.raw_text() == ip.raw_text(),
                Err(_) => false,
            },
            None => false,
        };
        let rare = Rare {
            ip: if ip_is_fid { None } else { Some(t.ip.clone()) },
            bantime: t.bantime,
            ban_epoch: t.ban_epoch,
        };
        let default = Rare {
            ip: None,
            bantime: None,
            ban_epoch: 0,
        };
        let mut flags = 0;
        if ip_is_fid {
            flags |= FLAG_IP_IS_FID;
        }
        if t.restored {
            flags |= FLAG_RESTORED;
        }
        let lines: Vec<&str> = t.matches.iter().map(String::as_str).collect();
        Pending {
            packed: pack(&Key::bytes(&t.fid), flags, &t.fid, &lines, &t.data),
            time: t.time,
            first_time: t.first_time,
            retry: t.retry,
            failures: t.failures,
            bancount: t.bancount,
            rare: (rare != default).then(|| Box::new(rare)),
        }
    }

    /// The encoded key (hashed and compared by the failure manager's id set).
    pub fn key(&self) -> &[u8] {
        // Length only, no decoding: this runs for every hash and compare in the id set.
        let mut r = Reader::new(&self.packed);
        let n = match r.byte() {
            Some(K_V4) => 5,
            Some(K_V6) => 17,
            Some(_) => r.varint().map_or(0, |n| r.pos.saturating_add(n as usize)),
            None => 0,
        };
        &self.packed[..n.min(self.packed.len())]
    }

    /// The id text and the buffer after the key.
    fn split(&self) -> (String, &[u8]) {
        match Key::decode(&self.packed) {
            Some((key, n)) => (key.text(), &self.packed[n..]),
            None => (String::new(), &[]),
        }
    }

    /// The ticket this entry stands for.
    pub fn to_ticket(&self) -> Ticket {
        let (fid, body) = self.split();
        let flags = body.first().copied().unwrap_or(0);
        let (matches, data) = unpack(body, &fid).unwrap_or_default();
        let ip = match self.rare.as_ref().and_then(|r| r.ip.clone()) {
            Some(ip) => ip,
            None if flags & FLAG_IP_IS_FID != 0 => IpAddr::parse(&fid).ok(),
            None => None,
        };
        let mut t = Ticket::new(fid, ip, self.time);
        t.matches = matches;
        t.data = data;
        t.failures = self.failures;
        t.bancount = self.bancount;
        t.first_time = self.first_time;
        t.retry = self.retry;
        t.restored = flags & FLAG_RESTORED != 0;
        if let Some(r) = &self.rare {
            t.bantime = r.bantime;
            t.ban_epoch = r.ban_epoch;
        }
        t
    }

    /// Number of matched lines kept.
    pub fn match_count(&self) -> usize {
        // The key's length only: no id text is needed to count.
        let body = self.packed.get(self.key().len()..).unwrap_or_default();
        let mut r = Reader::new(body);
        r.byte().and_then(|_| r.varint()).unwrap_or(0) as usize
    }

    /// Changes the matched lines with `f` (the data fields stay); one unpack, one pack.
    pub fn update_matches(&mut self, f: impl FnOnce(&mut Vec<String>)) {
        let (fid, body) = self.split();
        let flags = body.first().copied().unwrap_or(0);
        let (mut lines, data) = unpack(body, &fid).unwrap_or_default();
        f(&mut lines);
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let key = self.key().to_vec();
        self.packed = pack(&key, flags, &fid, &lines, &data);
    }

    pub fn raise_bancount(&mut self, value: u32) {
        self.bancount = self.bancount.max(value);
    }
}

// ---------------------------------------------------------------------------
// Packing
// ---------------------------------------------------------------------------

fn pack(key: &[u8], flags: u8, fid: &str, lines: &[&str], data: &[(String, Value)]) -> Box<[u8]> {
    let cap = 16 + key.len() + lines.iter().map(|l| l.len()).sum::<usize>();
    let mut out = Vec::with_capacity(cap);
    out.extend_from_slice(key);
    out.push(flags);
    put_varint(&mut out, lines.len() as u64);
    let first = lines.first().copied().unwrap_or("");
    let mut enc = Vec::new();
    let shared = match lines.first() {
        Some(line) => encode_first(&mut enc, line, fid),
        None => None,
    };
    put_varint(&mut out, shared.map_or(0, |i| i as u64 + 1));
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            enc.clear();
            encode_line(&mut enc, line, fid, Some(first));
        }
        put_varint(&mut out, enc.len() as u64);
        out.extend_from_slice(&enc);
    }
    put_varint(&mut out, data.len() as u64);
    for (k, v) in data {
        put_key(&mut out, k);
        put_value(&mut out, v, fid, first);
    }
    // A fresh exact-size copy: shrinking `out` in place (`into_boxed_slice`) may keep its
    // whole block (allocators shrink within a size class without moving), and the
    // estimate above is about twice the packed size: the entry lives for `findtime`.
    Box::from(out.as_slice())
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Interned data keys: regex group names, a few dozen per process. Past the cap a key
/// is stored inline, so odd input cannot grow the table without bound.
static KEYS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
const MAX_KEYS: usize = 512;

fn lock_keys() -> std::sync::MutexGuard<'static, Vec<&'static str>> {
    // A panic while holding the lock leaves the table valid (push is the only change).
    KEYS.lock().unwrap_or_else(|p| p.into_inner())
}

fn intern(key: &str) -> Option<usize> {
    let mut keys = lock_keys();
    if let Some(i) = keys.iter().position(|k| *k == key) {
        return Some(i);
    }
    if keys.len() >= MAX_KEYS {
        return None;
    }
    // Leaked on purpose: bounded by MAX_KEYS and needed for the life of the process.
    keys.push(Box::leak(key.to_string().into_boxed_str()));
    Some(keys.len() - 1)
}

fn interned(i: usize) -> Option<&'static str> {
    lock_keys().get(i).copied()
}

/// A key: odd varint = interned index, even = inline length then the bytes.
fn put_key(out: &mut Vec<u8>, key: &str) {
    match intern(key) {
        Some(i) => put_varint(out, (i as u64) << 1 | 1),
        None => {
            put_varint(out, (key.len() as u64) << 1);
            out.extend_from_slice(key.as_bytes());
        }
    }
}

/// The first offset of `needle` (not empty) in `line`. The haystack is one log line
/// and the needle a short field: `memmem::find` would build a searcher per call, which
/// cost more than the whole search (10k instructions a failure, for ~8 fields).
fn find_in_line(line: &[u8], needle: &[u8]) -> Option<usize> {
    let (&head, tail) = needle.split_first()?;
    let last_start = line.len().checked_sub(needle.len())?;
    memchr::memchr_iter(head, &line[..=last_start]).find(|&i| line[i + 1..].starts_with(tail))
}

fn put_value(out: &mut Vec<u8>, v: &Value, fid: &str, first: &str) {
    match v {
        Value::None => out.push(T_NONE),
        Value::Bool(false) => out.push(T_FALSE),
        Value::Bool(true) => out.push(T_TRUE),
        Value::Int(i) => {
            out.push(T_INT);
            put_varint(out, ((i << 1) ^ (i >> 63)) as u64);
        }
        Value::Float(f) => {
            out.push(T_FLOAT);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Str(s) if !s.is_empty() && s == fid => out.push(T_STR_FID),
        Value::Str(s) => match (!s.is_empty())
            .then(|| find_in_line(first.as_bytes(), s.as_bytes()))
            .flatten()
        {
            Some(off) => {
                out.push(T_STR_LINE);
                put_varint(out, off as u64);
                put_varint(out, s.len() as u64);
            }
            None => {
                out.push(T_STR);
                put_bytes(out, s.as_bytes());
            }
        },
        Value::List(items) | Value::Tuple(items) => {
            out.push(if matches!(v, Value::List(_)) {
                T_LIST
            } else {
                T_TUPLE
            });
            put_varint(out, items.len() as u64);
            for item in items {
                put_value(out, item, fid, first);
            }
        }
        Value::Dict(pairs) => {
            out.push(T_DICT);
            put_varint(out, pairs.len() as u64);
            for (k, v) in pairs {
                put_value(out, k, fid, first);
                put_value(out, v, fid, first);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Unpacking (of buffers built above; `None` only if one were corrupt)
// ---------------------------------------------------------------------------

type Unpacked = (Vec<String>, Vec<(String, Value)>);

fn unpack(buf: &[u8], fid: &str) -> Option<Unpacked> {
    let mut r = Reader::new(buf);
    r.byte()?;
    let n = r.varint()? as usize;
    let shared = match r.varint()? {
        0 => "",
        i => base_line(usize::try_from(i - 1).ok()?)?,
    };
    let mut lines: Vec<String> = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let len = r.varint()? as usize;
        let enc = r.take(len)?;
        let base = lines.first().map_or(shared.as_bytes(), |s| s.as_bytes());
        let bytes = decode_line(enc, fid, base)?;
        lines.push(String::from_utf8(bytes).ok()?);
    }
    let first = lines.first().map(String::as_str).unwrap_or("");
    let n = r.varint()? as usize;
    let mut data = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let key = r.key()?;
        let value = r.value(fid, first, 0)?;
        data.push((key, value));
    }
    Some((lines, data))
}

fn decode_line(enc: &[u8], fid: &str, base: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(enc.len() + 32);
    let mut r = Reader::new(enc);
    while let Some(b) = r.byte() {
        if b != ESC {
            out.push(b);
            continue;
        }
        match r.byte()? {
            ESC_NUL => out.push(0),
            ESC_FID => out.extend_from_slice(fid.as_bytes()),
            ESC_COPY => {
                let off = r.varint()? as usize;
                let len = r.varint()? as usize;
                out.extend_from_slice(base.get(off..off.checked_add(len)?)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn string(&mut self) -> Option<String> {
        let n = self.varint()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    fn key(&mut self) -> Option<String> {
        let k = self.varint()?;
        if k & 1 == 1 {
            return interned((k >> 1) as usize).map(str::to_string);
        }
        let n = (k >> 1) as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    fn value(&mut self, fid: &str, first: &str, depth: usize) -> Option<Value> {
        if depth > 64 {
            return None;
        }
        Some(match self.byte()? {
            T_NONE => Value::None,
            T_FALSE => Value::Bool(false),
            T_TRUE => Value::Bool(true),
            T_INT => {
                let z = self.varint()?;
                Value::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            T_FLOAT => {
                let b: [u8; 8] = self.take(8)?.try_into().ok()?;
                Value::Float(f64::from_le_bytes(b))
            }
            T_STR => Value::Str(self.string()?),
            T_STR_FID => Value::Str(fid.to_string()),
            T_STR_LINE => {
                let off = self.varint()? as usize;
                let len = self.varint()? as usize;
                Value::Str(first.get(off..off.checked_add(len)?)?.to_string())
            }
            tag @ (T_LIST | T_TUPLE) => {
                let n = self.varint()? as usize;
                let mut items = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    items.push(self.value(fid, first, depth + 1)?);
                }
                if tag == T_LIST {
                    Value::List(items)
                } else {
                    Value::Tuple(items)
                }
            }
            T_DICT => {
                let n = self.varint()? as usize;
                let mut pairs = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    let k = self.value(fid, first, depth + 1)?;
                    let v = self.value(fid, first, depth + 1)?;
                    pairs.push((k, v));
                }
                Value::Dict(pairs)
            }
            _ => return None,
        })
    }
}

/// Upstream's sshd sample log from the fail2ban package, for the tests here; None (after
/// a loud skip) when the package is missing outside CI.
#[cfg(test)]
fn upstream_sshd_log() -> Option<String> {
    let log = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs/sshd";
    let text = std::fs::read_to_string(log).ok();
    if text.is_none() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{log} missing");
        eprintln!("SKIPPED: {log} not found (fail2ban package not installed)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(t: Ticket) -> Pending {
        let p = Pending::from_ticket(t.clone());
        assert_eq!(p.to_ticket(), t);
        assert_eq!(p.key(), Key::bytes(&t.fid).as_slice());
        assert_eq!(
            p.to_ticket().ip.map(|i| i.raw_text().to_string()),
            t.ip.map(|i| i.raw_text().to_string())
        );
        p
    }

    #[test]
    fn line_search_finds_the_first_occurrence() {
        let line = b"Mar 14 06:25:00 srv01 sshd[4586]: Failed password for invalid user \
            docker from 83.251.175.228 port 37560 ssh2 docker";
        // every substring of a few lengths, then needles that are absent or too long
        let mut needles: Vec<&[u8]> = Vec::new();
        for len in [1, 2, 5, 13] {
            needles.extend(line.windows(len));
        }
        needles.extend([&b"ssh3"[..], b"docker!", &line[..], b"x"]);
        let longer = [&line[..], b"!"].concat();
        needles.push(&longer);
        for n in needles {
            assert_eq!(
                find_in_line(line, n),
                memchr::memmem::find(line, n),
                "{}",
                String::from_utf8_lossy(n)
            );
        }
        assert_eq!(find_in_line(b"", b"a"), None);
        assert_eq!(find_in_line(b"abc", b""), None);
    }

    #[test]
    fn keys_are_binary_only_for_canonical_text() {
        for text in ["192.0.2.1", "2001:db8::1", "alice", "", "1.2.3.4/8"] {
            let b = Key::bytes(text);
            let (k, n) = Key::decode(&b).unwrap();
            assert_eq!((k, n), (Key::of(text), b.len()));
        }
        assert_eq!(Key::of("192.0.2.1"), Key::V4(0xc000_0201));
        assert!(matches!(Key::of("2001:db8::1"), Key::V6(_)));
        for text in [
            "192.000.2.1",
            "192.0.2.01",
            "0192.0.2.1",
            "2001:DB8::1",
            "2001:db8:0::1",
            "alice",
            "",
            "::ffff:1.2.3.4x",
        ] {
            assert_eq!(Key::of(text), Key::Text(text.into()), "{text}");
        }
        for text in [
            "192.0.2.1",
            "2001:db8::1",
            "::",
            "::ffff:1.2.3.4",
            "fe80::1:2",
        ] {
            assert_eq!(Key::of(text).text(), text);
        }
    }

    #[test]
    fn tickets_survive_packing() {
        let line0 = "Nov 21 23:14:55 srv01 sshd[5495]: Failed password for invalid user vagrant from 159.177.216.146 port 17922 ssh2";
        let line1 = "Nov 21 23:14:58 srv01 sshd[5499]: Failed password for invalid user vagrant from 159.177.216.146 port 17999 ssh2";
        let ip = IpAddr::parse("159.177.216.146").unwrap();
        let mut t = Ticket::for_ip(ip, 1000.0).with_matches(vec![
            line0.into(),
            line1.into(),
            "a\0b\0\x00159.177.216.146".into(),
        ]);
        t.set_data("mlfid", Value::str(" srv01 sshd[5495]: "));
        t.set_data("user", Value::str("vagrant"));
        t.set_data("ip4", Value::str("159.177.216.146"));
        t.set_data(
            "users",
            Value::List(vec![Value::str("vagrant"), Value::str("bob")]),
        );
        t.set_data("n", Value::Int(-7));
        t.set_data("f", Value::Float(1.5));
        t.set_data("b", Value::Bool(true));
        t.set_data("e", Value::str(""));
        t.set_data(
            "d",
            Value::Dict(vec![(
                Value::str("k"),
                Value::Tuple(vec![Value::None, Value::Bool(false)]),
            )]),
        );
        t.failures = 3;
        t.retry = 2.0;
        t.first_time = 900.0;
        let p = roundtrip(t.clone());
        assert!(p.rare.is_none());
        // A second line of the same id and fields cut from the first line cost far less
        // than their text.
        let mut small = Ticket::for_ip(IpAddr::parse("159.177.216.146").unwrap(), 1.0)
            .with_matches(vec![line0.into(), line1.into()]);
        small.set_data("mlfid", Value::str(" srv01 sshd[5495]: "));
        small.set_data("user", Value::str("vagrant"));
        small.set_data("ip4", Value::str("159.177.216.146"));
        let p = roundtrip(small);
        assert!(
            p.packed.len() < line0.len() + 45,
            "{} bytes",
            p.packed.len()
        );

        // Uncommon ids and fields go through the rare box.
        let mut t = Ticket::new("alice", IpAddr::parse("10.0.0.1").ok(), 5.0);
        t.bantime = Some(-1);
        t.ban_epoch = 9;
        t.restored = true;
        t.bancount = 4;
        roundtrip(t);
        roundtrip(Ticket::new(
            "2001:DB8::1",
            IpAddr::parse("2001:DB8::1").ok(),
            1.0,
        ));
        roundtrip(Ticket::new(
            "2001:db8::1",
            IpAddr::parse("2001:db8::1").ok(),
            1.0,
        ));
        roundtrip(Ticket::new("1.2.3.4", Some(IpAddr::raw("1.2.3.4")), 1.0));
        roundtrip(Ticket::new("1.2.3.4", None, 1.0));
        roundtrip(Ticket::new(
            "10.0.0.0/8",
            IpAddr::parse("10.0.0.0/8").ok(),
            1.0,
        ));
        let mut t = Ticket::new("ü", None, 1.0)
            .with_matches(vec!["ääää üü ä".into(), "ääää üü äx ü".into()]);
        t.set_data("x", Value::str("üü"));
        roundtrip(t);
    }

    #[test]
    fn set_matches_keeps_data() {
        let mut t = Ticket::new("10.1.1.1", IpAddr::parse("10.1.1.1").ok(), 1.0)
            .with_matches(vec!["one 10.1.1.1 user bob".into()]);
        t.set_data("user", Value::str("bob"));
        let mut p = Pending::from_ticket(t);
        let lines = vec![
            "two 10.1.1.1".to_string(),
            "three user bob three".to_string(),
        ];
        p.update_matches(|l| {
            assert_eq!(l, &["one 10.1.1.1 user bob"]);
            *l = lines.clone();
        });
        assert_eq!(p.match_count(), 2);
        let back = p.to_ticket();
        assert_eq!(back.matches, lines);
        assert_eq!(back.get_data("user"), Some(&Value::str("bob")));
    }

    #[test]
    fn first_lines_share_a_reference_line() {
        // Real sshd failures (upstream sample log), each under its own id.
        let Some(text) = super::upstream_sshd_log() else {
            return;
        };
        let ip = regex::Regex::new(r" from (\d+\.\d+\.\d+\.\d+) port ").expect("static");
        let mut packed = 0;
        let mut plain = 0;
        for line in text.lines().filter(|l| l.contains("Failed password for")) {
            let Some(c) = ip.captures(line) else { continue };
            let mut t = Ticket::new(c[1].to_string(), None, 1.0e9);
            t.matches = vec![line.to_string()];
            let p = roundtrip(t);
            packed += p.packed.len();
            plain += line.len();
        }
        assert!(plain > 1000, "too few sample lines: {plain} bytes");
        // Stored as copies of earlier lines of the same format: well under half.
        assert!(packed * 2 < plain, "{packed} of {plain}");
    }

    #[test]
    fn entry_stays_small() {
        assert!(std::mem::size_of::<Pending>() <= 56);
    }
}
