//! Ticket-side inputs of the actions: the address [`Family`] of a ban, [`MapInfo`] (a
//! plain [`TagSource`] the jail fills with a ticket's values), the tag values of an
//! "empty" ticket used for start/stop/flush commands, and host facts fail2ban offers as
//! tags (`<fq-hostname>`, `<sh-hostname>`, `<ip-rev>`, IPv6 availability).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use super::TagSource;
use crate::filter::addr::{self, IpAddr};

/// The family of a ban: `inet4`, `inet6`, or none for ids that are not addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Inet4,
    Inet6,
    None,
}

impl Family {
    /// The family of an id text (`192.0.2.1` → Inet4, `user@x` → None).
    pub fn of_id(id: &str) -> Family {
        match IpAddr::parse(id).ok().and_then(|a| a.family()) {
            Some(addr::Family::Inet4) => Family::Inet4,
            Some(addr::Family::Inet6) => Family::Inet6,
            None => Family::None,
        }
    }

    /// `<family>` of a ticket: Python prints the missing family as `None`.
    pub fn tag_value(self) -> &'static str {
        match self {
            Family::Inet4 => "inet4",
            Family::Inet6 => "inet6",
            Family::None => "None",
        }
    }
}

impl From<Option<addr::Family>> for Family {
    fn from(f: Option<addr::Family>) -> Family {
        match f {
            Some(addr::Family::Inet4) => Family::Inet4,
            Some(addr::Family::Inet6) => Family::Inet6,
            None => Family::None,
        }
    }
}

/// A ticket's tag values as a small ordered map (what the jail hands to the actions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapInfo {
    /// Dynamic tags: `ip`, `fid`, `family`, `ip-rev`, `failures`, `time`, `matches`, …
    pub tags: Vec<(String, String)>,
    /// Ticket data (`F-*` groups) by mapped name: `user`, `fid`, `fport`, …
    pub data: Vec<(String, String)>,
}

impl MapInfo {
    pub fn new() -> MapInfo {
        MapInfo::default()
    }

    /// The address-derived tags of `id` (`ip`, `fid`, `family`, `ip-rev`) plus
    /// `time`; the jail adds the others (`failures`, `bantime`, `matches`, …).
    pub fn for_id(id: &str, time: f64) -> MapInfo {
        let mut m = MapInfo::new();
        m.set("ip", id)
            .set("fid", id)
            .set("family", Family::of_id(id).tag_value())
            .set("ip-rev", &ip_rev(id))
            .set("time", &crate::stream::py_float_repr(time));
        m
    }

    /// Sets (or replaces) a dynamic tag.
    pub fn set(&mut self, tag: &str, value: &str) -> &mut MapInfo {
        set_in(&mut self.tags, tag, value);
        self
    }

    /// Sets (or replaces) a ticket data field.
    pub fn set_data(&mut self, key: &str, value: &str) -> &mut MapInfo {
        set_in(&mut self.data, key, value);
        self
    }
}

fn set_in(v: &mut Vec<(String, String)>, k: &str, val: &str) {
    match v.iter_mut().find(|(kk, _)| kk == k) {
        Some(slot) => slot.1 = val.to_string(),
        None => v.push((k.to_string(), val.to_string())),
    }
}

impl TagSource for MapInfo {
    fn get(&self, tag: &str) -> Option<String> {
        self.tags
            .iter()
            .find(|(k, _)| k == tag)
            .map(|(_, v)| v.clone())
    }
    fn data(&self, key: &str) -> Option<String> {
        self.data
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }
    fn hostname(&self, fqdn: bool) -> String {
        own_hostname(fqdn)
    }
}

/// `<ip-rev>`: the reversed address with a trailing dot (`1.2.0.192.`, nibbles for
/// IPv6); empty for ids that are not addresses.
pub fn ip_rev(id: &str) -> String {
    let Ok(a) = IpAddr::parse(id) else {
        return String::new();
    };
    match a.family() {
        Some(addr::Family::Inet4) => {
            let v = a.addr() as u32;
            format!(
                "{}.{}.{}.{}.",
                v & 255,
                (v >> 8) & 255,
                (v >> 16) & 255,
                v >> 24
            )
        }
        Some(addr::Family::Inet6) => {
            let v = a.addr();
            let mut s = String::with_capacity(64);
            for i in 0..32 {
                let nib = ((v >> (4 * i)) & 15) as u32;
                s.push(char::from_digit(nib, 16).unwrap_or('0'));
                s.push('.');
            }
            s
        }
        None => String::new(),
    }
}

/// Jail counter values by tag name (`jail.banned`, …).
pub type Counters = dyn Fn(&str) -> Option<String> + Send;

/// The tag values of fail2ban's "empty" ticket, used for operations without a ticket
/// (start, stop, flush, reload, repair): time = now, family = the started family.
pub(crate) struct EmptyInfo<'a> {
    pub time: f64,
    pub family: &'a str,
    pub bantime: i64,
    pub counters: Option<&'a Counters>,
}

impl TagSource for EmptyInfo<'_> {
    fn get(&self, tag: &str) -> Option<String> {
        let v = match tag {
            "ip" | "ip-rev" | "fid" | "matches" | "ipmatches" | "ipjailmatches" => "",
            "family" => self.family,
            "ip-host" => "None",
            "failures" | "bancount" | "restored" | "ipfailures" | "ipjailfailures" => "0",
            "time" => return Some(crate::stream::py_float_repr(self.time)),
            "bantime" => return Some(self.bantime.to_string()),
            "raw-ticket" => {
                return Some(format!(
                    "BanTicket: ip= time={} bantime=None bancount=0 #attempts=0 matches=[]",
                    crate::stream::py_float_repr(self.time)
                ));
            }
            "jail.banned" | "jail.banned_total" | "jail.found" | "jail.found_total" => {
                return Some(
                    self.counters
                        .and_then(|f| f(tag))
                        .unwrap_or_else(|| "0".into()),
                );
            }
            _ => return None,
        };
        Some(v.to_string())
    }
    fn data(&self, key: &str) -> Option<String> {
        // An empty ticket's data holds only its (empty) matches and failure count.
        match key {
            "matches" => Some("[]".into()),
            "failures" => Some("0".into()),
            _ => None,
        }
    }
    fn hostname(&self, fqdn: bool) -> String {
        own_hostname(fqdn)
    }
}

/// A ticket's source with the ban's family on top (fail2ban derives `<family>` from the
/// address; the jail passes it explicitly).
pub(crate) struct BanInfo<'a> {
    pub inner: &'a dyn TagSource,
    pub family: Family,
    /// `<restored>` when the caller said so (ban); else the source's own value.
    pub restored: Option<bool>,
}

impl TagSource for BanInfo<'_> {
    fn get(&self, tag: &str) -> Option<String> {
        match tag {
            "family" => Some(self.family.tag_value().to_string()),
            "restored" if self.restored.is_some() => Some(
                if self.restored == Some(true) {
                    "1"
                } else {
                    "0"
                }
                .to_string(),
            ),
            _ => self.inner.get(tag),
        }
    }
    fn data(&self, key: &str) -> Option<String> {
        self.inner.data(key)
    }
    fn hostname(&self, fqdn: bool) -> String {
        own_hostname(fqdn)
    }
}

/// Only `<family>` (fail2ban fills it into an operation before the ticket pass).
pub(crate) struct FamilyOnly<'a>(pub &'a str);

impl TagSource for FamilyOnly<'_> {
    fn get(&self, tag: &str) -> Option<String> {
        (tag == "family").then(|| self.0.to_string())
    }
    fn data(&self, _key: &str) -> Option<String> {
        None
    }
    fn hostname(&self, fqdn: bool) -> String {
        own_hostname(fqdn)
    }
}

/// The host's own name: short (`gethostname`) or fully qualified (the canonical name
/// the resolver gives for it, if that has a dot). Cached like fail2ban does.
pub fn own_hostname(fqdn: bool) -> String {
    static NAMES: OnceLock<(String, String)> = OnceLock::new();
    let (short, full) = NAMES.get_or_init(|| {
        let short = gethostname();
        let full = canonical_name(&short)
            .filter(|n| n.contains('.'))
            .unwrap_or_else(|| short.clone());
        (short, full)
    });
    if fqdn { full.clone() } else { short.clone() }
}

fn gethostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its full length; the result is NUL-terminated or
    // truncated, and we stop at the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn canonical_name(host: &str) -> Option<String> {
    let c = std::ffi::CString::new(host).ok()?;
    // SAFETY: zeroed addrinfo hints are valid; res is freed with freeaddrinfo.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_flags = libc::AI_CANONNAME;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        if libc::getaddrinfo(c.as_ptr(), std::ptr::null(), &hints, &mut res) != 0 || res.is_null() {
            return None;
        }
        let name = if (*res).ai_canonname.is_null() {
            None
        } else {
            Some(
                std::ffi::CStr::from_ptr((*res).ai_canonname)
                    .to_string_lossy()
                    .into_owned(),
            )
        };
        libc::freeaddrinfo(res);
        name
    }
}

/// 0 = auto, 1 = yes, 2 = no (the server's `allowipv6` setting).
static ALLOW_IPV6: AtomicU8 = AtomicU8::new(0);

/// Sets `allowipv6`: `Some(true|false)` forces, `None` is auto (host has an IPv6 address).
pub fn set_allow_ipv6(v: Option<bool>) {
    ALLOW_IPV6.store(
        match v {
            None => 0,
            Some(true) => 1,
            Some(false) => 2,
        },
        Ordering::Relaxed,
    );
}

/// Whether conditional actions start for IPv6 too.
pub fn ipv6_allowed() -> bool {
    match ALLOW_IPV6.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            static AUTO: OnceLock<bool> = OnceLock::new();
            *AUTO.get_or_init(|| {
                std::fs::read_to_string("/proc/net/if_inet6")
                    .map(|s| !s.trim().is_empty())
                    .unwrap_or(false)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(ip_rev("192.0.2.1"), "1.2.0.192.");
        assert_eq!(
            ip_rev("2001:db8::1"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
        );
        assert_eq!(ip_rev("someuser"), "");
        assert_eq!(Family::of_id("2001:db8::1"), Family::Inet6);
        assert_eq!(Family::of_id("x"), Family::None);
    }
}
