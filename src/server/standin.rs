//! A minimal private stand-in for the ignore list (`ignoreip`, `ignoreself`,
//! `ignorecommand`) until the banlogic branch delivers `server::ignore`.

pub mod ignore {
    use crate::filter::addr::IpAddr;
    use crate::server::action::replace_dynamic_tags;
    use crate::server::ticket::Ticket;

    /// ignoreip / ignoreself / ignorecommand (addresses and networks; DNS names unresolved).
    pub struct Ignore {
        pub entries: Vec<String>,
        nets: Vec<IpAddr>,
        pub ignoreself: bool,
        pub command: String,
    }

    impl Ignore {
        #[allow(clippy::new_without_default)]
        pub fn new() -> Self {
            Ignore {
                entries: Vec::new(),
                nets: Vec::new(),
                ignoreself: true,
                command: String::new(),
            }
        }

        pub fn add(&mut self, entry: &str) {
            if self.entries.iter().any(|e| e == entry) {
                return;
            }
            self.entries.push(entry.to_string());
            if let Ok(ip) = IpAddr::parse(entry) {
                self.nets.push(ip);
            }
        }

        pub fn del(&mut self, entry: &str) -> bool {
            let Some(i) = self.entries.iter().position(|e| e == entry) else {
                return false;
            };
            self.entries.remove(i);
            self.nets = self
                .entries
                .iter()
                .filter_map(|e| IpAddr::parse(e).ok())
                .collect();
            true
        }

        /// The reason `ip` is ignored (`ip`, `ignoreself rule`, `command`), if it is.
        pub fn is_ignored(&self, jail: &str, ip: &IpAddr, t: Option<&Ticket>) -> Option<String> {
            if self.ignoreself
                && ["127.0.0.1", "::1"]
                    .iter()
                    .filter_map(|s| IpAddr::parse(s).ok())
                    .any(|s| s == *ip)
            {
                return Some("ignoreself rule".into());
            }
            if self
                .nets
                .iter()
                .any(|n| n.is_valid() && (n == ip || n.contains(ip)))
            {
                return Some("ip".into());
            }
            if !self.command.trim().is_empty() {
                let fallback = Ticket::new(ip.ntoa(), Some(ip.clone()), 0.0);
                let t = t.unwrap_or(&fallback);
                let tags = crate::server::jail::TicketTags { t, bantime: 0 };
                let p = replace_dynamic_tags(&self.command, &tags);
                crate::flog!(DEBUG, "filter", "ignore command: {}", p.script);
                let st = std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&p.script)
                    .args(&p.args)
                    .status();
                match st.map(|s| s.code()) {
                    Ok(Some(0)) => return Some("command".into()),
                    Ok(Some(1)) => {}
                    other => {
                        crate::flog!(ERROR, "filter", "[{jail}] ignorecommand failed: {other:?}")
                    }
                }
            }
            None
        }
    }
}
