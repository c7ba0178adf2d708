//! Ignoring failures: [`IgnoreList`] holds a jail's `ignoreip` entries (single addresses
//! in a set, networks and names in a list), `ignoreself`, `ignorecommand` and
//! `ignorecache`, and decides [`IgnoreList::is_ignored`] in fail2ban's order: cache →
//! own addresses → single addresses → networks/names (names resolved through the shared
//! [`dns::DnsCache`]) → command. The command runs through the caller's callback (the
//! jail substitutes tags and executes it the way actions are run); the cache key's tags
//! are substituted by the caller too. Time is passed in.

pub mod cache;
pub mod dns;

use std::collections::HashSet;
use std::sync::Arc;

use crate::config::options::extract_options;
use crate::config::time::parse_time_typed;
use crate::filter::addr::IpAddr;
use crate::server::ignore::cache::TtlCache;
use crate::server::ignore::dns::DnsCache;
use crate::server::ticket::Ticket;
use crate::stream::{Value, py_str_repr};

/// Why a failure is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreCause {
    /// A cached earlier decision (fail2ban logs nothing for it).
    Cache,
    SelfRule,
    Ip,
    Dns,
    Command,
}

impl IgnoreCause {
    /// The `by …` word of fail2ban's log line (`None` for a cache hit, which is silent).
    pub fn source(self) -> Option<&'static str> {
        match self {
            IgnoreCause::Cache => None,
            IgnoreCause::SelfRule => Some("ignoreself rule"),
            IgnoreCause::Ip => Some("ip"),
            IgnoreCause::Dns => Some("dns"),
            IgnoreCause::Command => Some("command"),
        }
    }

    /// `[J] Ignore <ip> by <source>` (INFO), `None` for a cache hit.
    pub fn log_text(self, jail: &str, ip: &str) -> Option<String> {
        self.source()
            .map(|s| format!("[{jail}] Ignore {ip} by {s}"))
    }
}

/// Outcome of [`IgnoreList::add`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddIgnore {
    Added,
    /// Already there (fail2ban logs [`duplicate_text`] at MSG level).
    Duplicate,
    /// Empty text: nothing to add.
    Empty,
}

/// `  Ignore duplicate '<ip>' ('<text>'), already in ignore list` (MSG).
pub fn duplicate_text(ip: &IpAddr, text: &str) -> String {
    format!(
        "  Ignore duplicate {} ({}), already in ignore list",
        py_str_repr(&ip.ntoa()),
        py_str_repr(text)
    )
}

/// The caller's side of an ignore check.
pub struct IgnoreHooks<'a> {
    /// Runs the jail's ignorecommand for the ticket: `Ok(true)` = exit 0 (ignore),
    /// `Ok(false)` = exit 1, `Err` = anything else (logged by the runner, not ignored).
    pub command: &'a dyn Fn(&Ticket) -> Result<bool, String>,
    /// Substitutes the ignorecache key template (e.g. `<ip>`) for the ticket.
    pub cache_key: &'a dyn Fn(&str, &Ticket) -> String,
}

/// The ignorecache settings and entries.
#[derive(Debug, Clone)]
struct IgnoreCache {
    key: String,
    /// `max-time` as given back by `get` (int or float seconds).
    max_time: Value,
    cache: TtlCache<bool>,
}

/// A jail's ignore rules.
#[derive(Debug, Clone)]
pub struct IgnoreList {
    /// Single addresses (insertion order for listing, set for lookup).
    singles: Vec<IpAddr>,
    single_set: HashSet<IpAddr>,
    /// Networks and names, insertion order.
    nets: Vec<IpAddr>,
    /// `ignoreself` (default true).
    pub ignore_self: bool,
    command: Option<String>,
    cache: Option<IgnoreCache>,
    dns: Arc<DnsCache>,
}

impl Default for IgnoreList {
    fn default() -> Self {
        IgnoreList::new()
    }
}

impl IgnoreList {
    /// Empty list over the process-wide DNS cache.
    pub fn new() -> IgnoreList {
        IgnoreList::with_dns(DnsCache::system())
    }

    /// Empty list over the given DNS cache (tests plug a fixed resolver).
    pub fn with_dns(dns: Arc<DnsCache>) -> IgnoreList {
        IgnoreList {
            singles: Vec::new(),
            single_set: HashSet::new(),
            nets: Vec::new(),
            ignore_self: true,
            command: None,
            cache: None,
            dns,
        }
    }

    /// `addignoreip <text>`: an address, `addr/plen`, `addr/mask`, IPv6, or a name (any
    /// text that is no address is kept as a name). Error for a bad `/suffix`.
    pub fn add(&mut self, text: &str) -> Result<AddIgnore, String> {
        if text.is_empty() {
            return Ok(AddIgnore::Empty);
        }
        let ip = IpAddr::parse(text).map_err(|e| e.to_string())?;
        if self.single_set.contains(&ip) || self.nets.contains(&ip) {
            return Ok(AddIgnore::Duplicate);
        }
        if ip.is_single() {
            self.single_set.insert(ip.clone());
            self.singles.push(ip);
        } else {
            self.nets.push(ip);
        }
        Ok(AddIgnore::Added)
    }

    /// `delignoreip <text>`: a single address is found by its exact text form, a network
    /// or name by value; error `list.remove(x): x not in list` when absent (fail2ban's).
    pub fn remove(&mut self, text: &str) -> Result<(), String> {
        if let Some(i) = self.singles.iter().position(|ip| ip.ntoa() == text) {
            let ip = self.singles.remove(i);
            self.single_set.remove(&ip);
            return Ok(());
        }
        let want = IpAddr::parse(text).map_err(|e| e.to_string())?;
        match self.nets.iter().position(|n| *n == want) {
            Some(i) => {
                self.nets.remove(i);
                Ok(())
            }
            None => Err("list.remove(x): x not in list".to_string()),
        }
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.singles.clear();
        self.single_set.clear();
        self.nets.clear();
    }

    /// `get J ignoreip`: networks/names in insertion order, then single addresses
    /// (fail2ban's set order is arbitrary; here it is insertion order).
    pub fn entries(&self) -> Vec<String> {
        self.nets
            .iter()
            .chain(self.singles.iter())
            .map(IpAddr::ntoa)
            .collect()
    }

    /// `set J ignorecommand`; `""` disables it (and is what `get` returns then).
    pub fn set_command(&mut self, command: &str) {
        self.command = Some(command.to_string());
    }

    /// The ignorecommand, if one is active.
    pub fn command(&self) -> Option<&str> {
        self.command.as_deref().filter(|c| !c.is_empty())
    }

    /// `get J ignorecommand`: the text set, `False` when never set.
    pub fn command_value(&self) -> Value {
        self.command
            .as_ref()
            .map_or(Value::Bool(false), |c| Value::str(c.clone()))
    }

    /// `set J ignorecache key="<ip>", max-count=100, max-time=5m`; `""` disables.
    /// A new setting starts with an empty cache.
    pub fn set_cache(&mut self, spec: &str) -> Result<(), String> {
        let (_, opts) = extract_options(&format!("cache[{spec}]"))?;
        if opts.is_empty() {
            self.cache = None;
            return Ok(());
        }
        // Later duplicates win, as in a Python dict.
        let get = |k: &str| {
            opts.iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        let key = get("key").ok_or("'key'")?.to_string();
        let max_count = match get("max-count") {
            Some(v) => v.trim().parse::<usize>().map_err(|_| {
                format!("invalid literal for int() with base 10: {}", py_str_repr(v))
            })?,
            None => 100,
        };
        let (secs, max_time) = match get("max-time") {
            Some(v) => {
                let (x, is_float) = parse_time_typed(v)?;
                let shown = if is_float || x.fract() != 0.0 {
                    Value::Float(x)
                } else {
                    Value::Int(x as i64)
                };
                (x, shown)
            }
            None => (300.0, Value::Int(300)),
        };
        self.cache = Some(IgnoreCache {
            key,
            max_time,
            cache: TtlCache::new(max_count, secs),
        });
        Ok(())
    }

    /// `get J ignorecache`: `['<ip>', 100, 300]` or `None`.
    pub fn cache_value(&self) -> Value {
        match &self.cache {
            Some(c) => Value::List(vec![
                Value::str(c.key.clone()),
                Value::Int(c.cache.max_count as i64),
                c.max_time.clone(),
            ]),
            None => Value::None,
        }
    }

    /// Whether the address `ip` is covered by the network or name `net`.
    fn in_net(&self, ip: &IpAddr, net: &IpAddr, now: f64) -> bool {
        if !net.is_valid() && !net.raw_text().is_empty() {
            return self.dns.dns_to_ip(net.raw_text(), now).contains(ip);
        }
        ip.is_in_net(net)
    }

    /// Decides whether the failure `t` (its id) is ignored, and why. The decision is
    /// cached when an ignorecache is set (except, as in fail2ban, a hit on a single
    /// address, which is cheap anyway).
    pub fn is_ignored(
        &mut self,
        t: &Ticket,
        now: f64,
        hooks: &IgnoreHooks<'_>,
    ) -> Option<IgnoreCause> {
        let key = match &mut self.cache {
            Some(c) => {
                let key = (hooks.cache_key)(&c.key, t);
                if let Some(v) = c.cache.get(&key, now) {
                    return v.then_some(IgnoreCause::Cache);
                }
                Some(key)
            }
            None => None,
        };
        let ip = t.id_addr();
        let decided = self.decide(&ip, t, now, hooks);
        if decided == Some(IgnoreCause::Ip) && self.single_set.contains(&ip) {
            return decided;
        }
        if let (Some(key), Some(c)) = (key, &mut self.cache) {
            c.cache.set(&key, decided.is_some(), now);
        }
        decided
    }

    fn decide(
        &self,
        ip: &IpAddr,
        t: &Ticket,
        now: f64,
        hooks: &IgnoreHooks<'_>,
    ) -> Option<IgnoreCause> {
        if self.ignore_self && self.dns.self_ips(now).contains(ip) {
            return Some(IgnoreCause::SelfRule);
        }
        if self.single_set.contains(ip) {
            return Some(IgnoreCause::Ip);
        }
        if let Some(net) = self.nets.iter().find(|n| self.in_net(ip, n, now)) {
            return Some(if net.is_valid() {
                IgnoreCause::Ip
            } else {
                IgnoreCause::Dns
            });
        }
        if self.command().is_some() && (hooks.command)(t) == Ok(true) {
            return Some(IgnoreCause::Command);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::dns::Resolve;
    use super::*;
    use std::cell::Cell;

    struct Table;
    impl Resolve for Table {
        fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
            match name {
                "friend.example" => Ok(vec![IpAddr::parse("198.51.100.7").unwrap()]),
                "localhost" => Ok(vec![IpAddr::parse("127.0.0.1").unwrap()]),
                _ => Err("[Errno -2] Name or service not known".into()),
            }
        }
        fn hostname(&self) -> String {
            "gaolhost".into()
        }
        fn fqdn(&self) -> String {
            "10.9.9.9".into()
        }
    }

    fn list() -> IgnoreList {
        IgnoreList::with_dns(Arc::new(DnsCache::new(Box::new(Table))))
    }

    fn tk(ip: &str) -> Ticket {
        Ticket::for_ip(IpAddr::parse(ip).unwrap(), 0.0)
    }

    #[test]
    fn entries_order_and_removal() {
        let mut l = list();
        for e in [
            "10.0.0.5",
            "10.0.0.1/24",
            "192.168.0.0/255.255.0.0",
            "friend.example",
            "1.2.3.400",
            "2001:db8::/32",
            "10.0.0.5",
            "",
        ] {
            l.add(e).unwrap();
        }
        assert_eq!(
            l.entries(),
            vec![
                "10.0.0.0/24",
                "192.168.0.0/16",
                "friend.example",
                "1.2.3.400",
                "2001:db8::/32",
                "10.0.0.5"
            ]
        );
        assert_eq!(l.add("10.0.0.0/24"), Ok(AddIgnore::Duplicate));
        assert!(l.add("1.2.3.4/abc").is_err());
        assert_eq!(
            l.remove("9.9.9.9"),
            Err("list.remove(x): x not in list".into())
        );
        l.remove("10.0.0.5").unwrap();
        l.remove("10.0.0.1/24").unwrap();
        assert_eq!(l.entries().len(), 4);
    }

    #[test]
    fn causes_in_order_with_cache() {
        let mut l = list();
        l.add("10.0.0.0/8").unwrap();
        l.add("192.0.2.1").unwrap();
        l.add("friend.example").unwrap();
        l.set_command("check <ip>");
        let calls = Cell::new(0);
        let cmd = |t: &Ticket| {
            calls.set(calls.get() + 1);
            Ok(t.fid == "203.0.113.9")
        };
        let key = |k: &str, t: &Ticket| k.replace("<ip>", &t.fid);
        let hooks = IgnoreHooks {
            command: &cmd,
            cache_key: &key,
        };
        assert_eq!(
            l.is_ignored(&tk("127.0.0.1"), 0.0, &hooks),
            Some(IgnoreCause::SelfRule)
        );
        assert_eq!(
            l.is_ignored(&tk("10.9.9.9"), 0.0, &hooks),
            Some(IgnoreCause::SelfRule)
        );
        l.ignore_self = false;
        assert_eq!(l.is_ignored(&tk("127.0.0.1"), 0.0, &hooks), None);
        assert_eq!(
            l.is_ignored(&tk("10.1.2.3"), 0.0, &hooks),
            Some(IgnoreCause::Ip)
        );
        assert_eq!(
            l.is_ignored(&tk("192.0.2.1"), 0.0, &hooks),
            Some(IgnoreCause::Ip)
        );
        assert_eq!(
            l.is_ignored(&tk("198.51.100.7"), 0.0, &hooks),
            Some(IgnoreCause::Dns)
        );
        assert_eq!(
            l.is_ignored(&tk("203.0.113.9"), 0.0, &hooks),
            Some(IgnoreCause::Command)
        );
        assert_eq!(calls.get(), 2);
        l.set_cache("key=\"<ip>\", max-count=100, max-time=5m")
            .unwrap();
        assert_eq!(
            l.cache_value(),
            Value::List(vec![Value::str("<ip>"), Value::Int(100), Value::Int(300)])
        );
        assert_eq!(
            l.is_ignored(&tk("203.0.113.9"), 0.0, &hooks),
            Some(IgnoreCause::Command)
        );
        assert_eq!(
            l.is_ignored(&tk("203.0.113.9"), 299.0, &hooks),
            Some(IgnoreCause::Cache)
        );
        assert_eq!(calls.get(), 3);
        assert_eq!(
            l.is_ignored(&tk("203.0.113.9"), 300.0, &hooks),
            Some(IgnoreCause::Command)
        );
        assert_eq!(calls.get(), 4);
        l.set_cache("").unwrap();
        assert_eq!(l.cache_value(), Value::None);
        assert_eq!(l.command_value(), Value::str("check <ip>"));
        assert!(l.set_cache("max-count=5").is_err());
    }
}
