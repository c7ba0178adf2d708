//! Minimal private stand-ins for the server parts other branches deliver (ticket, failure
//! and ban managers, command actions, the polling log reader), written against the agreed
//! API shapes of `SERVER_API.md` so the spine runs end to end before they are merged.
//! Each sub-module is replaced by `use` of the real module once its branch is merged.

#![allow(clippy::new_without_default)]

pub mod ticket {
    use crate::filter::addr::IpAddr;
    use crate::stream::Value;

    /// A failure / ban ticket (agreed shape).
    #[derive(Debug, Clone, Default)]
    pub struct Ticket {
        pub fid: String,
        pub ip: Option<IpAddr>,
        pub time: f64,
        pub failures: u32,
        pub matches: Vec<String>,
        pub data: Vec<(String, Value)>,
        pub bantime: Option<i64>,
        pub bancount: u32,
        pub restored: bool,
        pub ban_epoch: u64,
    }

    impl Ticket {
        pub fn new(fid: &str, ip: Option<IpAddr>, time: f64) -> Ticket {
            Ticket {
                fid: fid.to_string(),
                ip,
                time,
                ..Default::default()
            }
        }
    }
}

pub mod failmanager {
    use super::ticket::Ticket;
    use std::collections::HashMap;

    struct Entry {
        ticket: Ticket,
        first: f64,
        last: f64,
        count: u32,
    }

    /// Failure counting with fail2ban's rescaled window (compat-spec 4.4).
    pub struct FailManager {
        pub maxretry: u32,
        pub findtime: i64,
        pub maxmatches: usize,
        list: HashMap<String, Entry>,
        total: u64,
    }

    impl FailManager {
        pub fn new() -> Self {
            FailManager {
                maxretry: 3,
                findtime: 600,
                maxmatches: 5,
                list: HashMap::new(),
                total: 0,
            }
        }

        /// Counts `count` failures of `t`; the ticket is returned once maxretry is reached.
        pub fn add_failure(&mut self, t: Ticket, count: u32, _now: f64) -> Option<Ticket> {
            self.total += u64::from(count);
            let findtime = self.findtime as f64;
            let e = match self.list.get_mut(&t.fid) {
                Some(e) => {
                    if t.time - e.first > findtime && t.time > e.first {
                        let scaled =
                            (f64::from(e.count) * findtime / (t.time - e.first)).round() as u32;
                        e.count = scaled;
                        e.first = t.time - findtime;
                    }
                    e.count += count;
                    if t.time > e.last {
                        e.last = t.time;
                        e.ticket.time = t.time;
                    }
                    e.ticket.matches.extend(t.matches);
                    for (k, v) in t.data {
                        match e.ticket.data.iter_mut().find(|(kk, _)| *kk == k) {
                            Some(slot) => slot.1 = v,
                            None => e.ticket.data.push((k, v)),
                        }
                    }
                    e
                }
                None => self.list.entry(t.fid.clone()).or_insert(Entry {
                    first: t.time,
                    last: t.time,
                    count,
                    ticket: t,
                }),
            };
            let excess = e.ticket.matches.len().saturating_sub(self.maxmatches);
            e.ticket.matches.drain(..excess);
            e.ticket.failures = e.count;
            if e.count >= self.maxretry {
                let fid = e.ticket.fid.clone();
                return self.list.remove(&fid).map(|e| e.ticket);
            }
            None
        }

        pub fn cleanup(&mut self, now: f64) {
            let limit = now - self.findtime as f64;
            self.list.retain(|_, e| e.last >= limit);
        }

        pub fn size(&self) -> usize {
            self.list.len()
        }

        pub fn total_failed(&self) -> u64 {
            self.total
        }
    }
}

pub mod banmanager {
    use super::ticket::Ticket;

    pub enum AddBan {
        Added,
        AlreadyBanned { prolonged: bool },
    }

    /// The current bans of one jail with their end times.
    pub struct BanManager {
        pub bantime: i64,
        list: Vec<Ticket>,
        total: u64,
    }

    impl BanManager {
        pub fn new() -> Self {
            BanManager {
                bantime: 600,
                list: Vec::new(),
                total: 0,
            }
        }

        pub fn bantime_of(&self, t: &Ticket) -> i64 {
            t.bantime.unwrap_or(self.bantime)
        }

        /// End of ban; `None` for a permanent ban.
        pub fn end_of(&self, t: &Ticket) -> Option<f64> {
            let bt = self.bantime_of(t);
            (bt >= 0).then_some(t.time + bt as f64)
        }

        pub fn add_ban(&mut self, t: Ticket, _now: f64) -> AddBan {
            let new_end = self.end_of(&t);
            let bt = t.bantime;
            if let Some(old) = self.list.iter_mut().find(|o| o.fid == t.fid) {
                let old_end = {
                    let b = old.bantime.unwrap_or(self.bantime);
                    (b >= 0).then_some(old.time + b as f64)
                };
                let later = match (old_end, new_end) {
                    (Some(o), Some(n)) => n > o,
                    (Some(_), None) => true,
                    _ => false,
                };
                if later {
                    old.time = t.time;
                    old.bantime = bt;
                }
                return AddBan::AlreadyBanned { prolonged: later };
            }
            self.list.push(t);
            self.total += 1;
            AddBan::Added
        }

        pub fn get_mut(&mut self, fid: &str) -> Option<&mut Ticket> {
            self.list.iter_mut().find(|t| t.fid == fid)
        }

        pub fn unban_expired(&mut self, now: f64) -> Vec<Ticket> {
            let bantime = self.bantime;
            let (gone, keep): (Vec<Ticket>, Vec<Ticket>) =
                std::mem::take(&mut self.list).into_iter().partition(|t| {
                    let b = t.bantime.unwrap_or(bantime);
                    b >= 0 && t.time + b as f64 <= now
                });
            self.list = keep;
            gone
        }

        pub fn remove(&mut self, fid: &str) -> Option<Ticket> {
            let i = self.list.iter().position(|t| t.fid == fid)?;
            Some(self.list.remove(i))
        }

        pub fn flush(&mut self) -> Vec<Ticket> {
            std::mem::take(&mut self.list)
        }

        /// Banned ids ordered by end of ban.
        pub fn ban_list(&self) -> Vec<&Ticket> {
            let mut v: Vec<&Ticket> = self.list.iter().collect();
            v.sort_by(|a, b| {
                let ea = self.end_of(a).unwrap_or(f64::MAX);
                let eb = self.end_of(b).unwrap_or(f64::MAX);
                ea.total_cmp(&eb)
            });
            v
        }

        pub fn next_expiry(&self) -> Option<f64> {
            self.list
                .iter()
                .filter_map(|t| self.end_of(t))
                .min_by(|a, b| a.total_cmp(b))
        }

        pub fn size(&self) -> usize {
            self.list.len()
        }

        pub fn total(&self) -> u64 {
            self.total
        }
    }
}

pub mod action {
    use crate::server::action::{PreparedCommand, TagSource, replace_dynamic_tags};
    use std::process::Command;
    use std::time::Duration;

    pub enum Family {
        Inet4,
        Inet6,
        None,
    }

    /// A command action: a bag of string properties (agreed shape).
    pub struct CommandAction {
        jail: String,
        name: String,
        props: Vec<(String, String)>,
        started: bool,
        banned: bool,
    }

    impl CommandAction {
        pub fn new(jail: &str, name: &str) -> Self {
            CommandAction {
                jail: jail.to_string(),
                name: name.to_string(),
                props: Vec::new(),
                started: false,
                banned: false,
            }
        }

        pub fn name(&self) -> &str {
            &self.name
        }

        pub fn set_property(&mut self, key: &str, value: &str) {
            match self.props.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value.to_string(),
                None => self.props.push((key.to_string(), value.to_string())),
            }
        }

        pub fn property(&self, key: &str) -> Option<&str> {
            self.props
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        }

        pub fn properties(&self) -> Vec<String> {
            self.props.iter().map(|(k, _)| k.clone()).collect()
        }

        /// Static `<prop>` tags from the action's own properties (a few rounds for nesting).
        fn static_subst(&self, cmd: &str) -> String {
            let mut out = cmd.to_string();
            for _ in 0..10 {
                let mut changed = false;
                for (k, v) in &self.props {
                    let tag = format!("<{k}>");
                    if out.contains(&tag) && !v.contains(&tag) {
                        out = out.replace(&tag, v);
                        changed = true;
                    }
                }
                if !changed {
                    break;
                }
            }
            out
        }

        fn run(&self, key: &str, info: Option<&dyn TagSource>) -> bool {
            let Some(cmd) = self.property(key) else {
                return true;
            };
            if cmd.trim().is_empty() {
                return true;
            }
            let cmd = self.static_subst(cmd);
            let prepared = match info {
                Some(i) => replace_dynamic_tags(&cmd, i),
                None => PreparedCommand {
                    script: cmd,
                    args: vec![],
                },
            };
            let timeout = self
                .property("timeout")
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(60);
            let ok = execute(&prepared, Duration::from_secs(timeout));
            if !ok {
                crate::flog!(
                    ERROR,
                    "actions",
                    "Failed to execute {key} jail '{}' action '{}'",
                    self.jail,
                    self.name
                );
            }
            ok
        }
    }

    /// Runs `/bin/sh -c script args…` and waits; true on exit status 0.
    pub fn execute(cmd: &PreparedCommand, _timeout: Duration) -> bool {
        crate::flog!(DEBUG, "utils", "{}", cmd.script);
        match Command::new("/bin/sh")
            .arg("-c")
            .arg(&cmd.script)
            .args(&cmd.args)
            .status()
        {
            Ok(s) => s.success(),
            Err(e) => {
                crate::flog!(ERROR, "utils", "{} -- failed with {e}", cmd.script);
                false
            }
        }
    }

    /// The actions of one jail, in order.
    #[derive(Default)]
    pub struct JailActions {
        list: Vec<CommandAction>,
    }

    impl JailActions {
        pub fn add(&mut self, action: CommandAction) -> Result<(), String> {
            if self.list.iter().any(|a| a.name == action.name) {
                return Err(format!("Action {} already exists", action.name));
            }
            self.list.push(action);
            Ok(())
        }

        pub fn remove(&mut self, name: &str) -> Option<CommandAction> {
            let i = self.list.iter().position(|a| a.name == name)?;
            Some(self.list.remove(i))
        }

        pub fn get_mut(&mut self, name: &str) -> Option<&mut CommandAction> {
            self.list.iter_mut().find(|a| a.name == name)
        }

        pub fn get(&self, name: &str) -> Option<&CommandAction> {
            self.list.iter().find(|a| a.name == name)
        }

        pub fn names(&self) -> Vec<String> {
            self.list.iter().map(|a| a.name.clone()).collect()
        }

        pub fn start(&mut self) {
            for a in &mut self.list {
                a.run("actionstart", None);
                a.started = true;
            }
        }

        pub fn ban(&mut self, info: &dyn TagSource, _family: Family, restored: bool) -> bool {
            let mut ok = true;
            for a in &mut self.list {
                if restored && a.property("norestored").is_some_and(truthy) {
                    continue;
                }
                if a.run("actionban", Some(info)) {
                    a.banned = true;
                } else {
                    ok = false;
                }
            }
            ok
        }

        pub fn unban(&mut self, info: &dyn TagSource, _family: Family) {
            for a in &mut self.list {
                if a.banned {
                    a.run("actionunban", Some(info));
                }
            }
        }

        pub fn prolong(&mut self, info: &dyn TagSource, _family: Family) {
            for a in &mut self.list {
                a.run("actionprolong", Some(info));
            }
        }

        /// Flush with `actionflush` where defined, else unban each remaining ticket.
        pub fn flush(&mut self, remaining: &[&dyn TagSource]) -> Vec<String> {
            let mut flushed = Vec::new();
            for a in &mut self.list {
                let has_flush = a
                    .property("actionflush")
                    .is_some_and(|c| !c.trim().is_empty());
                if has_flush {
                    if a.banned {
                        flushed.push(a.name.clone());
                        a.run("actionflush", None);
                    }
                } else if a.banned {
                    for info in remaining {
                        a.run("actionunban", Some(*info));
                    }
                }
                a.banned = false;
            }
            flushed
        }

        pub fn stop(&mut self) {
            for a in self.list.iter_mut().rev() {
                if a.started {
                    a.run("actionstop", None);
                    a.started = false;
                }
            }
        }
    }

    fn truthy(s: &str) -> bool {
        matches!(
            s.to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on" | "y"
        )
    }
}

pub mod reader {
    use crossbeam_channel::Sender;
    use std::io::{Read, Seek, SeekFrom};
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::JoinHandle;
    use std::time::Duration;

    pub enum StartAt {
        Head,
        Tail,
    }

    pub struct ReaderConfig {
        pub jail: String,
        pub path: PathBuf,
        pub start: StartAt,
        pub saved: Option<(String, u64)>,
        pub encoding: String,
    }

    pub enum ReadEvent {
        Lines {
            path: PathBuf,
            lines: Vec<String>,
            pos: u64,
            hash: String,
            in_operation: bool,
        },
        Error {
            path: PathBuf,
            message: String,
        },
    }

    /// A polling reader thread for one file.
    pub struct FileReader {
        path: PathBuf,
        stop: Arc<AtomicBool>,
        handle: Option<JoinHandle<()>>,
    }

    fn first_hash(path: &Path) -> String {
        let mut buf = vec![0u8; 4096];
        let n = std::fs::File::open(path)
            .and_then(|mut f| f.read(&mut buf))
            .unwrap_or(0);
        crate::server::db::first_line_hash(&buf[..n]).unwrap_or_default()
    }

    impl FileReader {
        pub fn spawn(cfg: ReaderConfig, tx: Sender<ReadEvent>) -> std::io::Result<FileReader> {
            let meta = std::fs::metadata(&cfg.path)?;
            let hash = first_hash(&cfg.path);
            let mut pos = match (&cfg.start, &cfg.saved) {
                (StartAt::Tail, _) => meta.len(),
                (StartAt::Head, Some((h, p))) if *h == hash && *p <= meta.len() => *p,
                _ => 0,
            };
            let stop = Arc::new(AtomicBool::new(false));
            let st = stop.clone();
            let path = cfg.path.clone();
            let handle = std::thread::Builder::new()
                .name(format!("f2b/f.{}", cfg.jail))
                .spawn(move || {
                    let mut in_op = false;
                    let mut last_hash = hash;
                    while !st.load(Ordering::Relaxed) {
                        match read_new(&path, &mut pos, &mut last_hash) {
                            Ok(lines) => {
                                let at_end = true;
                                if !lines.is_empty() || !in_op {
                                    let _ = tx.send(ReadEvent::Lines {
                                        path: path.clone(),
                                        lines,
                                        pos,
                                        hash: last_hash.clone(),
                                        in_operation: in_op,
                                    });
                                }
                                in_op = in_op || at_end;
                            }
                            Err(e) => {
                                let _ = tx.send(ReadEvent::Error {
                                    path: path.clone(),
                                    message: e.to_string(),
                                });
                            }
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                })?;
            Ok(FileReader {
                path: cfg.path,
                stop,
                handle: Some(handle),
            })
        }

        pub fn path(&self) -> &Path {
            &self.path
        }

        pub fn stop(mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(h) = self.handle.take() {
                let _ = h.join();
            }
        }
    }

    fn read_new(path: &Path, pos: &mut u64, hash: &mut String) -> std::io::Result<Vec<String>> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        let h = first_hash(path);
        if len < *pos || h != *hash {
            *pos = 0;
            *hash = h;
        }
        if len == *pos {
            return Ok(Vec::new());
        }
        f.seek(SeekFrom::Start(*pos))?;
        let mut buf = Vec::new();
        f.take(len - *pos).read_to_end(&mut buf)?;
        let Some(end) = memchr::memrchr(b'\n', &buf) else {
            return Ok(Vec::new());
        };
        let mut lines = Vec::new();
        for raw in buf[..end].split(|b| *b == b'\n') {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            lines.push(String::from_utf8_lossy(raw).into_owned());
        }
        *pos += (end + 1) as u64;
        Ok(lines)
    }
}

pub mod ignore {
    use super::ticket::Ticket;
    use crate::filter::addr::IpAddr;
    use crate::server::action::replace_dynamic_tags;

    /// ignoreip / ignoreself / ignorecommand (addresses and networks; DNS names unresolved).
    pub struct Ignore {
        pub entries: Vec<String>,
        nets: Vec<IpAddr>,
        pub ignoreself: bool,
        pub command: String,
    }

    impl Ignore {
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
                let fallback = Ticket::new(&ip.ntoa(), Some(ip.clone()), 0.0);
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
