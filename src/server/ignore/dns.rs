//! Name resolution for ignore checks, as fail2ban's `DNSUtils` does it: [`DnsCache`]
//! caches name → addresses (1000 names, 5 minutes, failures too) and the host's own
//! addresses (`localhost`, the short host name and the FQDN, for ignoreself). The lookup
//! itself is behind [`Resolve`]; [`SystemResolver`] uses the C library's `getaddrinfo`
//! (IPv4 then IPv6, like fail2ban) and `gethostname`. Time is passed in.

use std::ffi::{CStr, CString};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, OnceLock};

use crate::filter::addr::{FAM_IPV4, FAM_IPV6, IpAddr, search_ip};
use crate::server::ignore::cache::TtlCache;
use crate::server::log::{LogLevel, emit};

/// Where addresses of names come from.
pub trait Resolve: Send + Sync {
    /// Addresses of `name`, IPv4 first, or the resolver's error text.
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String>;
    /// The short host name (`gethostname`).
    fn hostname(&self) -> String;
    /// The fully-qualified host name.
    fn fqdn(&self) -> String;
}

/// The C library's resolver.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

/// One `getaddrinfo` call: the addresses and canonical names it returned.
fn getaddrinfo(
    name: &str,
    family: libc::c_int,
    socktype: libc::c_int,
    protocol: libc::c_int,
    flags: libc::c_int,
) -> Result<(Vec<IpAddr>, Vec<String>), String> {
    let cname = CString::new(name).map_err(|_| "name contains a NUL byte".to_string())?;
    // SAFETY: hints is a plain C struct, zero is a valid "unset" value for every field.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_protocol = protocol;
    hints.ai_flags = flags;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // A lookup may wait seconds for a name server: a filter worker hands on its turn.
    let rc = crate::server::jail::blocking(|| {
        // SAFETY: valid NUL-terminated name, null service, valid hints and out pointer.
        unsafe { libc::getaddrinfo(cname.as_ptr(), std::ptr::null(), &hints, &mut res) }
    });
    if rc != 0 {
        // SAFETY: gai_strerror returns a static NUL-terminated message.
        let msg = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) }.to_string_lossy();
        return Err(format!("[Errno {rc}] {msg}"));
    }
    let (mut ips, mut names) = (Vec::new(), Vec::new());
    let mut p = res;
    while !p.is_null() {
        // SAFETY: p walks the list getaddrinfo returned; freed below, not before.
        let ai = unsafe { &*p };
        if !ai.ai_canonname.is_null() {
            // SAFETY: a NUL-terminated string owned by the list.
            let n = unsafe { CStr::from_ptr(ai.ai_canonname) }.to_string_lossy();
            if !n.is_empty() {
                names.push(n.into_owned());
            }
        }
        if !ai.ai_addr.is_null() {
            match ai.ai_family {
                libc::AF_INET => {
                    // SAFETY: for AF_INET ai_addr points to a sockaddr_in.
                    let sa = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in) };
                    let a = Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr));
                    ips.push(IpAddr::with_cidr(&a.to_string(), FAM_IPV4));
                }
                libc::AF_INET6 => {
                    // SAFETY: for AF_INET6 ai_addr points to a sockaddr_in6.
                    let sa = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in6) };
                    let a = Ipv6Addr::from(sa.sin6_addr.s6_addr);
                    ips.push(IpAddr::with_cidr(&a.to_string(), FAM_IPV6));
                }
                _ => {}
            }
        }
        p = ai.ai_next;
    }
    // SAFETY: res came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(res) };
    Ok((ips, names))
}

impl Resolve for SystemResolver {
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let mut out: Vec<IpAddr> = Vec::new();
        let mut err = None;
        for fam in [libc::AF_INET, libc::AF_INET6] {
            match getaddrinfo(name, fam, 0, libc::IPPROTO_TCP, 0) {
                Ok((ips, _)) => {
                    for ip in ips {
                        if ip.is_valid() && !out.contains(&ip) {
                            out.push(ip);
                        }
                    }
                }
                Err(e) => err = Some(e),
            }
        }
        match err {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    fn hostname(&self) -> String {
        let mut buf = [0u8; 256];
        // SAFETY: buf is writable for its length; the result is NUL-terminated on success.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return String::new();
        }
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    }

    fn fqdn(&self) -> String {
        let host = self.hostname();
        match getaddrinfo(&host, 0, libc::SOCK_DGRAM, 0, libc::AI_CANONNAME) {
            // Prefer a name that extends the host name (www → www.domain.tld).
            Ok((_, names)) => names
                .iter()
                .find(|n| n.starts_with(&format!("{host}.")))
                .or(names.first())
                .cloned()
                .unwrap_or(host),
            Err(_) => host,
        }
    }
}

/// Cached resolution shared by the jails (fail2ban's caches are process-wide).
pub struct DnsCache {
    resolver: Box<dyn Resolve>,
    names: Mutex<TtlCache<Vec<IpAddr>>>,
    own: Mutex<Option<(Vec<IpAddr>, f64)>>,
}

/// Lifetime of cached answers (5 minutes).
pub const DNS_CACHE_TIME: f64 = 300.0;

impl DnsCache {
    pub fn new(resolver: Box<dyn Resolve>) -> DnsCache {
        DnsCache {
            resolver,
            names: Mutex::new(TtlCache::new(1000, DNS_CACHE_TIME)),
            own: Mutex::new(None),
        }
    }

    /// The process-wide cache over the system resolver.
    pub fn system() -> Arc<DnsCache> {
        static SYS: OnceLock<Arc<DnsCache>> = OnceLock::new();
        SYS.get_or_init(|| Arc::new(DnsCache::new(Box::new(SystemResolver))))
            .clone()
    }

    /// Addresses of `name` (fail2ban's `dnsToIp`); a failure is logged once per cache
    /// period (`WARNING Unable to find a corresponding IP address for …`) and cached as
    /// no addresses.
    pub fn dns_to_ip(&self, name: &str, now: f64) -> Vec<IpAddr> {
        if let Some(v) = self.names.lock().ok().and_then(|mut c| c.get(name, now)) {
            return v;
        }
        // Resolve without holding the lock: lookups can be slow.
        let ips = match self.resolver.resolve(name) {
            Ok(ips) => ips,
            Err(e) => {
                emit(
                    LogLevel::WARNING,
                    "fail2ban.ipdns",
                    &format!("Unable to find a corresponding IP address for {name}: {e}"),
                );
                Vec::new()
            }
        };
        if let Ok(mut c) = self.names.lock() {
            c.set(name, ips.clone(), now);
        }
        ips
    }

    /// The host's own addresses (ignoreself): those of `localhost`, the short host name
    /// and the FQDN; names that are IPv4 text count as that address.
    pub fn self_ips(&self, now: f64) -> Vec<IpAddr> {
        if let Ok(g) = self.own.lock()
            && let Some((ips, exp)) = g.as_ref()
            && *exp > now
        {
            return ips.clone();
        }
        let mut names = vec!["localhost".to_string()];
        for n in [self.resolver.hostname(), self.resolver.fqdn()] {
            if !n.is_empty() && !names.contains(&n) {
                names.push(n);
            }
        }
        let mut ips: Vec<IpAddr> = Vec::new();
        for n in &names {
            let found = match search_ip(n).map(IpAddr::parse) {
                Some(Ok(ip)) if ip.is_valid() => vec![ip],
                _ => self.dns_to_ip(n, now),
            };
            for ip in found {
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
        if let Ok(mut g) = self.own.lock() {
            *g = Some((ips.clone(), now + DNS_CACHE_TIME));
        }
        ips
    }
}

/// fail2ban's `IPAddr.contains`: `ip` equals `net` or lies in it; a `net` that is no
/// address is a host name whose addresses are looked up.
pub fn contains(dns: &DnsCache, net: &IpAddr, ip: &IpAddr, now: f64) -> bool {
    if ip == net {
        return true;
    }
    if !net.is_valid() && !net.raw_text().is_empty() {
        return dns.dns_to_ip(net.raw_text(), now).contains(ip);
    }
    ip.is_in_net(net)
}

/// The filter's resolver for a `<HOST>` that matched a name (fail2ban's `textToIp`):
/// with `usedns` yes or warn the name goes through the shared cache; `warn` also logs
/// what the lookup found, each time. Other modes never look anything up.
pub struct HostResolver<'a> {
    pub dns: &'a DnsCache,
    pub now: f64,
}

impl crate::filter::matcher::Resolver for HostResolver<'_> {
    fn resolve(&self, host: &str, use_dns: crate::filter::addr::UseDns) -> Vec<IpAddr> {
        use crate::filter::addr::UseDns;
        if !matches!(use_dns, UseDns::Yes | UseDns::Warn) {
            return Vec::new();
        }
        let ips = self.dns.dns_to_ip(host, self.now);
        if use_dns == UseDns::Warn && !ips.is_empty() {
            emit(
                LogLevel::WARNING,
                "fail2ban.ipdns",
                &format!("Determined IP using DNS Lookup: {host} = {}", py_set(&ips)),
            );
        }
        ips
    }
}

/// Python's repr of a set of addresses: `{'192.0.2.1', '::1'}`.
fn py_set(ips: &[IpAddr]) -> String {
    let items: Vec<String> = ips
        .iter()
        .map(|ip| {
            let mut s = String::new();
            crate::stream::write_py_str_repr(&ip.ntoa(), &mut s);
            s
        })
        .collect();
    format!("{{{}}}", items.join(", "))
}

impl std::fmt::Debug for DnsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DnsCache")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_resolves_localhost_and_self() {
        let r = SystemResolver;
        let ips = r.resolve("localhost").expect("localhost resolves");
        assert!(ips.iter().any(|ip| ip.ntoa() == "127.0.0.1"), "{ips:?}");
        assert!(!r.hostname().is_empty());
        let dns = DnsCache::new(Box::new(SystemResolver));
        assert!(dns.self_ips(0.0).iter().any(|ip| ip.ntoa() == "127.0.0.1"));
        assert!(dns.dns_to_ip("name.invalid", 0.0).is_empty());
    }

    /// A `<HOST>` name resolves through the cache with usedns yes/warn (`warn` logs the
    /// lookup), never with no/raw; an unknown name gives no address.
    #[test]
    fn host_resolver_follows_usedns() {
        use crate::filter::addr::UseDns;
        use crate::filter::matcher::Resolver;
        let dns = DnsCache::new(Box::new(SystemResolver));
        let r = HostResolver {
            dns: &dns,
            now: 0.0,
        };
        for mode in [UseDns::Yes, UseDns::Warn] {
            let ips = r.resolve("localhost", mode);
            assert!(ips.iter().any(|ip| ip.ntoa() == "127.0.0.1"), "{ips:?}");
        }
        assert!(r.resolve("localhost", UseDns::No).is_empty());
        assert!(r.resolve("localhost", UseDns::Raw).is_empty());
        assert!(r.resolve("name.invalid", UseDns::Yes).is_empty());
        assert_eq!(
            py_set(&[IpAddr::parse("127.0.0.1").unwrap()]),
            "{'127.0.0.1'}"
        );
    }
}
