//! Addresses as fail2ban understands them: [`IpAddr`] is an IPv4/IPv6 address or
//! network, or — when the text is not an address — the raw text itself (a host name, an
//! out-of-range quad such as `192.030.0.6`, a free-form failure id). Parsing follows
//! fail2ban's `IPAddr` constructor: optional `[…]` brackets, `/plen` or `/mask` suffix,
//! IPv4-mapped IPv6 folded to IPv4, host bits masked off. The text form ([`IpAddr::ntoa`],
//! also `Display`) is what fail2ban prints: glibc `inet_ntop` spelling plus `/plen` for
//! networks. [`UseDns`] is the filter's `usedns` setting. No DNS resolution here.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// `cidr` argument meaning "store the text as is, do not parse".
pub const CIDR_RAW: i64 = -2;
/// `cidr` argument meaning "no prefix given; accept `addr/plen` text".
pub const CIDR_UNSPEC: i64 = -1;
/// `cidr` argument meaning "IPv4 only, no prefix" (what an `ip4` group yields).
pub const FAM_IPV4: i64 = CIDR_RAW - 2;
/// `cidr` argument meaning "IPv6 only, no prefix" (what an `ip6` group yields).
pub const FAM_IPV6: i64 = CIDR_RAW - 10;

/// The filter's `usedns` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UseDns {
    Yes,
    #[default]
    Warn,
    No,
    Raw,
}

impl UseDns {
    /// Parses a setting case-insensitively; `None` for an unknown value (fail2ban then
    /// logs `Incorrect value … specified for usedns. Using safe 'no'` and uses `No`).
    pub fn parse(value: &str) -> Option<UseDns> {
        match value.to_lowercase().as_str() {
            "yes" => Some(UseDns::Yes),
            "warn" => Some(UseDns::Warn),
            "no" => Some(UseDns::No),
            "raw" => Some(UseDns::Raw),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UseDns::Yes => "yes",
            UseDns::Warn => "warn",
            UseDns::No => "no",
            UseDns::Raw => "raw",
        }
    }

    /// Whether `<HOST>` may match a host name (everything but `no`).
    pub fn host_with_dns(self) -> bool {
        self != UseDns::No
    }
}

/// Address family, as fail2ban names it in `familyStr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Inet4,
    Inet6,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Inet4 => "inet4",
            Family::Inet6 => "inet6",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// Parsing was attempted and failed: not an address.
    Unspec,
    /// Stored without parsing ([`CIDR_RAW`]).
    Raw,
    V4(u32),
    V6(u128),
}

/// An address, a network, or non-address text (see the module doc).
#[derive(Debug, Clone)]
pub struct IpAddr {
    kind: Kind,
    /// Prefix length; can exceed the family width when a too-large cidr was given.
    plen: i64,
    /// The text it was built from (brackets and `/suffix` removed).
    raw: String,
}

/// Text with a `/suffix` that is neither a number nor a mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrError(pub String);

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddrError {}

impl IpAddr {
    /// Parses text that may carry brackets and a `/plen` or `/mask` suffix
    /// (fail2ban's `IPAddr(text)`, used for ignoreip entries and stored ids).
    pub fn parse(text: &str) -> Result<IpAddr, AddrError> {
        let text = match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            Some(inner) if text.len() > 2 => inner,
            _ => text,
        };
        let Some((ip, suffix)) = text.split_once('/') else {
            return Ok(IpAddr::with_cidr(text, CIDR_UNSPEC));
        };
        let cidr = if suffix.contains(['.', ':']) {
            IpAddr::parse(suffix)?.mask_plen()?
        } else {
            parse_py_int(suffix)?
        };
        Ok(IpAddr::with_cidr(ip, cidr))
    }

    /// Builds from plain address text with an explicit `cidr`: a prefix length (≥ 0),
    /// or one of [`CIDR_RAW`], [`CIDR_UNSPEC`], [`FAM_IPV4`], [`FAM_IPV6`].
    pub fn with_cidr(text: &str, cidr: i64) -> IpAddr {
        let mut ip = IpAddr {
            kind: Kind::Unspec,
            plen: 0,
            raw: text.to_string(),
        };
        if cidr == CIDR_RAW {
            ip.kind = Kind::Raw;
            return ip;
        }
        let (try4, try6) = match cidr {
            FAM_IPV4 => (true, false),
            FAM_IPV6 => (false, true),
            // Any other negative family code names a family that never parses.
            c if c < CIDR_RAW => (false, false),
            _ => (true, true),
        };
        if let Some(a) = try4.then(|| text.parse::<Ipv4Addr>().ok()).flatten() {
            let mut addr = u32::from(a);
            ip.plen = 32;
            if cidr >= 0 {
                addr &= !shr32(u32::MAX, cidr);
                ip.plen = cidr;
            }
            ip.kind = Kind::V4(addr);
        } else if let Some(a) = try6.then(|| text.parse::<Ipv6Addr>().ok()).flatten() {
            let mut addr = u128::from(a);
            ip.plen = 128;
            if cidr >= 0 {
                addr &= !shr128(u128::MAX, cidr);
                ip.plen = cidr;
            } else if addr >> 32 == 0xffff {
                // IPv4-mapped (::ffff:a.b.c.d) becomes the IPv4 address itself.
                ip.kind = Kind::V4(addr as u32);
                ip.plen = 32;
                return ip;
            }
            ip.kind = Kind::V6(addr);
        }
        ip
    }

    /// Stores text unparsed (`usedns = raw` ids, fids).
    pub fn raw(text: &str) -> IpAddr {
        IpAddr::with_cidr(text, CIDR_RAW)
    }

    pub fn family(&self) -> Option<Family> {
        match self.kind {
            Kind::V4(_) => Some(Family::Inet4),
            Kind::V6(_) => Some(Family::Inet6),
            _ => None,
        }
    }

    /// fail2ban's `isValid`: true for addresses and networks, and also for text stored
    /// raw on purpose; false only for text that failed to parse.
    pub fn is_valid(&self) -> bool {
        self.kind != Kind::Unspec
    }

    /// Whether this is an IPv4 or IPv6 address or network.
    pub fn is_ip(&self) -> bool {
        self.family().is_some()
    }

    /// Whether this was stored raw ([`CIDR_RAW`]).
    pub fn is_raw(&self) -> bool {
        self.kind == Kind::Raw
    }

    /// A single address (full-length prefix), not a network or a name.
    pub fn is_single(&self) -> bool {
        match self.kind {
            Kind::V4(_) => self.plen == 32,
            Kind::V6(_) => self.plen == 128,
            _ => false,
        }
    }

    pub fn plen(&self) -> i64 {
        self.plen
    }

    /// The address as an integer (0 for non-addresses).
    pub fn addr(&self) -> u128 {
        match self.kind {
            Kind::V4(a) => u128::from(a),
            Kind::V6(a) => a,
            _ => 0,
        }
    }

    /// The text this was built from.
    pub fn raw_text(&self) -> &str {
        &self.raw
    }

    /// Prefix length of this address read as a netmask (`255.255.255.0` → 24).
    pub fn mask_plen(&self) -> Result<i64, AddrError> {
        let a = self.addr();
        let ones = a.leading_ones();
        let plen = if a == 0 {
            Some(0)
        } else if a == u128::from(u32::MAX) {
            Some(32)
        } else if a <= u128::from(u32::MAX)
            && (a as u32).leading_ones() + (a as u32).trailing_zeros() == 32
        {
            Some(i64::from((a as u32).leading_ones()))
        } else if ones + a.trailing_zeros() == 128 {
            Some(i64::from(ones))
        } else {
            None
        };
        plen.ok_or_else(|| AddrError(format!("invalid mask '{self}', no plen representation")))
    }

    /// Whether this address lies in the network `net` (same family, prefix match).
    /// fail2ban resolves a `net` that is a host name; that is the caller's business
    /// (this returns false for it).
    pub fn is_in_net(&self, net: &IpAddr) -> bool {
        match (self.kind, net.kind) {
            (Kind::V4(a), Kind::V4(n)) => a & !shr32(u32::MAX, net.plen) == n,
            (Kind::V6(a), Kind::V6(n)) => a & !shr128(u128::MAX, net.plen) == n,
            _ => false,
        }
    }

    /// Whether this network contains `ip` (or equals it).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        ip == self || ip.is_in_net(self)
    }

    /// The text form fail2ban prints.
    pub fn ntoa(&self) -> String {
        match self.kind {
            Kind::V4(a) => {
                let mut s = String::with_capacity(18);
                push_dotted_quad(&mut s, a);
                if self.plen > 0 && self.plen < 32 {
                    s.push('/');
                    push_decimal(&mut s, u32::try_from(self.plen).unwrap_or_default());
                }
                s
            }
            Kind::V6(a) => {
                let mut s = inet_ntop6(a);
                if self.plen > 0 && self.plen < 128 {
                    s.push_str(&format!("/{}", self.plen));
                }
                s
            }
            Kind::Unspec | Kind::Raw => self.raw.clone(),
        }
    }
}

/// `a` as `d.d.d.d`, as `Ipv4Addr`'s `Display` writes it: every failure prints its
/// address, and the formatter's generic machinery cost more than the rest of the
/// output line.
fn push_dotted_quad(s: &mut String, a: u32) {
    for (i, octet) in a.to_be_bytes().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        push_decimal(s, octet.into());
    }
}

/// `w` in lower-case hex without leading zeros (as `{:x}` writes it).
fn push_hex(s: &mut String, w: u16) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in [12u16, 8, 4, 0] {
        let d = usize::from((w >> shift) & 0xf);
        if d != 0 || started || shift == 0 {
            s.push(char::from(DIGITS[d]));
            started = true;
        }
    }
}

/// `n` (< 1000) in decimal.
fn push_decimal(s: &mut String, n: u32) {
    if n >= 100 {
        s.push(char::from(b'0' + (n / 100 % 10) as u8));
    }
    if n >= 10 {
        s.push(char::from(b'0' + (n / 10 % 10) as u8));
    }
    s.push(char::from(b'0' + (n % 10) as u8));
}

impl PartialEq for IpAddr {
    fn eq(&self, other: &IpAddr) -> bool {
        match (self.kind, other.kind) {
            (Kind::V4(_), Kind::V4(_)) | (Kind::V6(_), Kind::V6(_)) => {
                self.addr() == other.addr() && self.plen == other.plen
            }
            (Kind::Unspec, Kind::Unspec) | (Kind::Raw, Kind::Raw) => self.raw == other.raw,
            _ => false,
        }
    }
}

impl Eq for IpAddr {}

impl std::hash::Hash for IpAddr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Hashes exactly what `eq` compares (no text formatting: this runs per failure).
        match self.kind {
            Kind::V4(_) | Kind::V6(_) => {
                matches!(self.kind, Kind::V6(_)).hash(state);
                self.addr().hash(state);
                self.plen.hash(state);
            }
            Kind::Unspec | Kind::Raw => {
                matches!(self.kind, Kind::Raw).hash(state);
                self.raw.hash(state);
            }
        }
    }
}

impl fmt::Display for IpAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ntoa())
    }
}

/// `x >> n` with Python's unbounded semantics (0 once `n` reaches the width).
fn shr32(x: u32, n: i64) -> u32 {
    u32::try_from(n)
        .ok()
        .and_then(|n| x.checked_shr(n))
        .unwrap_or(0)
}

fn shr128(x: u128, n: i64) -> u128 {
    u32::try_from(n)
        .ok()
        .and_then(|n| x.checked_shr(n))
        .unwrap_or(0)
}

/// Python's `int(text)` for base 10: surrounding whitespace, a sign, digits with single
/// underscores between them. Values beyond i64 saturate (they mean "no masking" anyway).
fn parse_py_int(text: &str) -> Result<i64, AddrError> {
    let bad = || AddrError(format!("invalid literal for int() with base 10: '{text}'"));
    let t = text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return Err(bad());
    }
    let mut v: i64 = 0;
    for b in digits.bytes().filter(u8::is_ascii_digit) {
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    Ok(if neg { -v } else { v })
}

/// IPv6 text exactly as glibc's `inet_ntop` writes it: lower-case hex, the first
/// longest run (≥ 2) of zero words compressed, and the last 32 bits dotted for
/// IPv4-compatible (`::a.b.c.d`) and IPv4-mapped (`::ffff:a.b.c.d`) addresses.
pub fn inet_ntop6(addr: u128) -> String {
    let words: [u16; 8] = std::array::from_fn(|i| (addr >> (112 - 16 * i)) as u16);
    let (mut best, mut cur): ((usize, usize), Option<(usize, usize)>) = ((0, 0), None);
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            let c = cur.map_or((i, 1), |(b, l)| (b, l + 1));
            cur = Some(c);
            if c.1 > best.1 {
                best = c;
            }
        } else {
            cur = None;
        }
    }
    let best = (best.1 >= 2).then_some(best);
    let mut out = String::with_capacity(41);
    let mut i = 0;
    while i < 8 {
        if let Some((b, l)) = best
            && i >= b
            && i < b + l
        {
            if i == b {
                out.push(':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6
            && let Some((0, l)) = best
            && (l == 6 || (l == 5 && words[5] == 0xffff))
        {
            push_dotted_quad(&mut out, addr as u32);
            return out;
        }
        push_hex(&mut out, words[i]);
        i += 1;
    }
    if let Some((b, l)) = best
        && b + l == 8
    {
        out.push(':');
    }
    out
}

/// fail2ban's `searchIP`: the text if it is exactly IPv4-shaped (`d.d.d.d`, 1–3 digits
/// each), else `None` — IPv6-shaped text also gives `None` there, a quirk kept on purpose
/// because it decides whether a `dns` match is resolved.
pub fn search_ip(text: &str) -> Option<&str> {
    let t = text.strip_suffix('\n').unwrap_or(text);
    let parts: Vec<&str> = t.split('.').collect();
    let quad = parts.len() == 4
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    quad.then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_spelling() {
        // Spellings from glibc's inet_ntop documentation/behaviour (RFC 4291 examples).
        let p = |s: &str| u128::from(s.parse::<Ipv6Addr>().expect("v6"));
        assert_eq!(inet_ntop6(p("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1");
        assert_eq!(inet_ntop6(p("::")), "::");
        assert_eq!(inet_ntop6(p("::1")), "::1");
        assert_eq!(inet_ntop6(p("::ffff:1.2.3.4")), "::ffff:1.2.3.4");
        assert_eq!(inet_ntop6(p("1:0:2::")), "1:0:2::");
    }

    #[test]
    fn equal_addresses_hash_alike() {
        use std::hash::BuildHasher;
        let h = std::collections::hash_map::RandomState::new();
        let texts = [
            "192.0.2.1",
            "192.0.2.1/32",
            "192.0.2.0/24",
            "192.0.2.7/24",
            "192.0.2.0/255.255.255.0",
            "::ffff:192.0.2.1",
            "2001:db8::1",
            "[2001:db8::1]",
            "2001:DB8:0::1/128",
            "2001:db8::/32",
            "example.com",
            "not an address",
        ];
        let addrs: Vec<IpAddr> = texts.iter().filter_map(|t| IpAddr::parse(t).ok()).collect();
        assert_eq!(addrs.len(), texts.len());
        let mut equal_pairs = 0;
        for a in &addrs {
            for b in &addrs {
                if a == b {
                    equal_pairs += 1;
                    assert_eq!(h.hash_one(a), h.hash_one(b), "{a} / {b}");
                }
            }
        }
        // Beyond each address with itself, some spellings denote the same value.
        assert!(equal_pairs > addrs.len());
    }

    #[test]
    fn v4_text_as_std_writes_it() {
        // edge octets (one, two, three digits) in every position, and every prefix
        let octets = [0u32, 1, 9, 10, 99, 100, 199, 200, 249, 255];
        for (i, &a) in octets.iter().enumerate() {
            let b = octets[(i + 3) % octets.len()];
            let c = octets[(i + 5) % octets.len()];
            let d = octets[(i + 7) % octets.len()];
            let text = format!("{a}.{b}.{c}.{d}");
            let ip = IpAddr::parse(&text).expect("v4");
            assert_eq!(ip.ntoa(), text);
            for plen in 1..32 {
                let net = IpAddr::parse(&format!("{text}/{plen}")).expect("v4 net");
                let Kind::V4(n) = net.kind else {
                    panic!("{text}/{plen} is not v4");
                };
                assert_eq!(net.ntoa(), format!("{}/{plen}", Ipv4Addr::from(n)));
            }
        }
    }

    #[test]
    fn v6_words_as_std_writes_them() {
        for w in [
            0u16, 1, 0xf, 0x10, 0xab, 0x100, 0xfff, 0x1000, 0xbeef, 0xffff,
        ] {
            let mut s = String::new();
            push_hex(&mut s, w);
            assert_eq!(s, format!("{w:x}"));
        }
        // and whole addresses, glibc's spelling being std's here
        for t in [
            "2001:db8:a:b:c:d:e:f",
            "fe80::1:abcd",
            "::ffff:10.0.0.255",
            "1::",
        ] {
            let a = u128::from(t.parse::<Ipv6Addr>().expect("v6"));
            assert_eq!(inet_ntop6(a), t);
        }
    }

    #[test]
    fn int_suffix() {
        assert_eq!(parse_py_int(" 24 "), Ok(24));
        assert_eq!(parse_py_int("1_6"), Ok(16));
        assert!(parse_py_int("2a").is_err());
        assert!(parse_py_int("").is_err());
    }
}
