//! [`Server`]: the jails (in creation order), the database, the global settings, and the
//! quit signal the front end waits on. Commands reach it through
//! [`Server::execute`](crate::server::transmitter) (socket or `-xf start` stream).
//!
//! Locking: one mutex over the server state, held for the duration of a command (as
//! fail2ban serialises commands); jail threads never take it, so a command can always
//! stop them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::control::pickle::ExcReply;
use crate::server::db::Database;
use crate::server::jail::{Jail, lock};
use crate::server::logtarget;

/// Server-wide settings and the jails.
pub struct State {
    pub jails: Vec<Jail>,
    /// Jails inside a `reload`: true until the stream re-adds them, false once re-added
    /// and until started; those still listed at the end are removed.
    pub reloading: std::collections::HashMap<String, bool>,
    pub db: Option<Arc<Database>>,
    /// Dropping it ends the database's hourly purge thread (see [`purge_timer`]).
    pub purge_stop: Option<crossbeam_channel::Sender<()>>,
    pub dbfile: Option<String>,
    pub dbpurgeage: i64,
    pub dbmaxmatches: i64,
    pub loglevel: String,
    pub logtarget: String,
    pub syslogsocket: String,
    pub allowipv6: String,
}

/// The fail2ban server.
pub struct Server {
    pub(crate) state: Mutex<State>,
    quit: (Mutex<bool>, Condvar),
    shut: AtomicBool,
    /// Inside `server-stream`/`reload`: `set` replies are suppressed.
    pub(crate) quiet: AtomicBool,
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

/// `fail2ban.exceptions.UnknownJailException(name)`.
pub fn unknown_jail(name: &str) -> ExcReply {
    ExcReply::new("fail2ban.exceptions", "UnknownJailException", name)
}

/// A plain `Exception(msg)`.
pub fn exc(msg: impl Into<String>) -> ExcReply {
    ExcReply::new("builtins", "Exception", msg)
}

impl Server {
    pub fn new() -> Server {
        Server {
            state: Mutex::new(State {
                jails: Vec::new(),
                reloading: std::collections::HashMap::new(),
                db: None,
                purge_stop: None,
                dbfile: None,
                dbpurgeage: 86400,
                dbmaxmatches: 10,
                loglevel: "INFO".into(),
                logtarget: "STDERR".into(),
                syslogsocket: "auto".into(),
                allowipv6: "auto".into(),
            }),
            quit: (Mutex::new(false), Condvar::new()),
            shut: AtomicBool::new(false),
            quiet: AtomicBool::new(false),
        }
    }

    /// Asks the front end to shut the server down (after the reply was sent).
    pub fn request_quit(&self) {
        let (m, c) = &self.quit;
        *lock(m) = true;
        c.notify_all();
    }

    /// Blocks until `stop` (or a signal handler) asked for shutdown, or `timeout` passed.
    /// Returns true when a quit was requested.
    pub fn wait_quit(&self, timeout: std::time::Duration) -> bool {
        let (m, c) = &self.quit;
        let g = lock(m);
        if *g {
            return true;
        }
        match c.wait_timeout(g, timeout) {
            Ok((g, _)) => *g,
            Err(p) => *p.into_inner().0,
        }
    }

    /// Stops every jail (all signalled first, then joined), closes the database.
    pub fn shutdown(&self) {
        if self.shut.swap(true, Ordering::SeqCst) {
            return;
        }
        crate::flog!(INFO, "server", "Shutdown in progress...");
        // The observer's work (increments, DB rows) runs inline in the actions threads,
        // so its queue is always empty here.
        crate::flog!(
            INFO,
            "observer",
            "Observer stop ... try to end queue 5 seconds"
        );
        crate::flog!(INFO, "observer", "Observer stopped, 0 events remaining.");
        let mut st = lock(&self.state);
        crate::flog!(INFO, "server", "Stopping all jails");
        for j in &st.jails {
            j.signal_stop();
        }
        for j in st.jails.iter_mut() {
            j.join();
        }
        st.jails.clear();
        st.purge_stop = None;
        if st.db.take().is_some() {
            crate::flog!(INFO, "database", "Connection to database closed.");
        }
    }

    pub(crate) fn find<'a>(st: &'a State, name: &str) -> Result<&'a Jail, ExcReply> {
        st.jails
            .iter()
            .find(|j| j.name == name)
            .ok_or_else(|| unknown_jail(name))
    }

    pub(crate) fn find_mut<'a>(st: &'a mut State, name: &str) -> Result<&'a mut Jail, ExcReply> {
        st.jails
            .iter_mut()
            .find(|j| j.name == name)
            .ok_or_else(|| unknown_jail(name))
    }

    pub(crate) fn add_jail(st: &mut State, name: &str, backend: &str) -> Result<(), ExcReply> {
        let b = backend.split('[').next().unwrap_or("auto").trim();
        if st.reloading.get(name) == Some(&true)
            && let Some(i) = st.jails.iter().position(|j| j.name == name)
        {
            // Reloading: the same backend keeps the jail (and its bans, logs, actions);
            // another backend replaces it.
            if st.jails[i].backend == b {
                crate::flog!(INFO, "server", "Reload jail '{name}'");
                st.reloading.insert(name.to_string(), false);
                return Ok(());
            }
            crate::flog!(
                INFO,
                "server",
                "Restart jail '{name}' (reason: '{}' != '{b}')",
                st.jails[i].backend
            );
            let mut j = st.jails.remove(i);
            j.join();
            st.reloading.remove(name);
        }
        if st.jails.iter().any(|j| j.name == name) {
            return Err(ExcReply::new(
                "builtins",
                "NameError",
                "name 'noduplicates' is not defined",
            ));
        }
        if name.chars().count() >= 26 {
            crate::flog!(
                WARNING,
                "jail",
                "Jail name {} might be too long and some commands might not function correctly. Please shorten",
                crate::stream::py_str_repr(name)
            );
        }
        crate::flog!(INFO, "jail", "Creating new jail '{name}'");
        let mut journal = None;
        match b {
            "polling" => {
                crate::flog!(INFO, "jail", "Jail '{name}' uses poller {{}}");
                crate::flog!(INFO, "jail", "Initiated 'polling' backend");
            }
            // gaol always has inotify, as fail2ban has when pyinotify is installed.
            "auto" | "pyinotify" | "gamin" => {
                crate::flog!(INFO, "jail", "Jail '{name}' uses pyinotify {{}}");
                crate::flog!(INFO, "jail", "Initiated 'pyinotify' backend");
            }
            "systemd" => {
                journal = Some(journal_backend(name, backend)?);
            }
            other => {
                return Err(exc(format!("Unknown backend {other}")));
            }
        }
        if let Some(db) = &st.db
            && let Err(e) = db.add_jail(name)
        {
            crate::flog!(ERROR, "database", "{e}");
        }
        let mut j = Jail::new(name, b, st.db.clone());
        j.journal = journal;
        st.jails.push(j);
        Ok(())
    }

    /// `set dbfile F|None`.
    pub(crate) fn set_dbfile(st: &mut State, file: &str) -> Result<(), ExcReply> {
        if st.dbfile.as_deref() == Some(file) {
            return Ok(());
        }
        if !st.jails.is_empty() {
            return Err(exc("Cannot change database when there are jails present"));
        }
        st.db = None;
        st.purge_stop = None;
        if file.eq_ignore_ascii_case("none") || file.is_empty() {
            st.dbfile = None;
            return Ok(());
        }
        let existed = std::path::Path::new(file).exists();
        if let Some(parent) = std::path::Path::new(file).parent()
            && !parent.as_os_str().is_empty()
        {
            let _ = std::fs::create_dir_all(parent);
        }
        let db = Database::open(file).map_err(|e| exc(e.to_string()))?;
        crate::flog!(
            INFO,
            "database",
            "Connected to fail2ban persistent database '{file}'"
        );
        if !existed {
            crate::flog!(WARNING, "database", "New database created. Version '4'");
        }
        db.set_purge_age(st.dbpurgeage);
        db.set_max_matches(usize::try_from(st.dbmaxmatches).unwrap_or(0));
        if let Err(e) = db.del_all_jails() {
            crate::flog!(ERROR, "database", "{e}");
        }
        let db = Arc::new(db);
        st.purge_stop = purge_timer(&db, PURGE_EVERY);
        st.db = Some(db);
        st.dbfile = Some(file.to_string());
        Ok(())
    }

    /// `set logtarget T`.
    pub(crate) fn set_logtarget(st: &mut State, target: &str) -> Result<(), ExcReply> {
        logtarget::apply(target, &st.syslogsocket).map_err(exc)?;
        st.logtarget = target.to_string();
        Ok(())
    }
}

/// How often the database drops old bans (fail2ban's observer timer: one hour).
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Starts the thread that purges `db` every `every` (as fail2ban's observer does once a
/// database is set), whoever runs the server. It holds the database only weakly and
/// ends as soon as the returned sender is dropped (database changed or closed).
fn purge_timer(
    db: &Arc<Database>,
    every: std::time::Duration,
) -> Option<crossbeam_channel::Sender<()>> {
    let (tx, rx) = crossbeam_channel::bounded::<()>(0);
    let weak = Arc::downgrade(db);
    let spawned = std::thread::Builder::new()
        .name("f2b/dbpurge".into())
        .spawn(move || {
            while let Err(crossbeam_channel::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                let Some(db) = weak.upgrade() else { break };
                if let Err(e) = db.purge(crate::server::jail::now() as i64) {
                    crate::flog!(ERROR, "database", "{e}");
                }
            }
        });
    match spawned {
        Ok(_) => Some(tx),
        Err(e) => {
            crate::flog!(ERROR, "database", "Unable to start the purge thread: {e}");
            None
        }
    }
}

/// The `systemd[…]` backend of a jail: its options, libsystemd loadable (else fail2ban's
/// "failed to initialize" errors).
fn journal_backend(
    name: &str,
    backend: &str,
) -> Result<crate::journal::options::JournalOptions, ExcReply> {
    let fail = |why: String| {
        crate::flog!(
            ERROR,
            "jail",
            "Backend 'systemd' failed to initialize due to {why}"
        );
        crate::flog!(
            ERROR,
            "jail",
            "Failed to initialize any backend for Jail '{name}'"
        );
        exc(format!(
            "Failed to initialize any backend for Jail '{name}'"
        ))
    };
    let (_, opts) = crate::journal::options::JournalOptions::parse(backend).map_err(fail)?;
    if let Err(e) = crate::journal::ffi::check_available() {
        return Err(fail(e));
    }
    crate::flog!(INFO, "jail", "Jail '{name}' uses systemd {}", opts.repr());
    crate::flog!(INFO, "jail", "Initiated 'systemd' backend");
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::db::BanRecord;

    #[test]
    fn purge_timer_purges_and_ends_with_its_sender() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f2b.sqlite3");
        let db = Arc::new(Database::open(file.to_str().unwrap()).unwrap());
        db.set_purge_age(60);
        db.add_jail("j").unwrap();
        let now = crate::server::jail::now() as i64;
        for (ip, age) in [("192.0.2.1", 3600), ("192.0.2.2", 10)] {
            db.add_ban(&BanRecord {
                jail: "j".into(),
                ip: ip.into(),
                time_of_ban: now - age,
                bantime: 5,
                ban_count: 1,
                data: serde_json::json!({}),
            })
            .unwrap();
        }
        let ips = |db: &Database| -> Vec<String> {
            db.get_bans(Some("j"), None, None, now)
                .unwrap()
                .into_iter()
                .map(|b| b.ip)
                .collect()
        };
        assert_eq!(ips(&db).len(), 2);
        let stop = purge_timer(&db, std::time::Duration::from_millis(20)).unwrap();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while ips(&db).len() == 2 && std::time::Instant::now() < end {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(ips(&db), vec!["192.0.2.2".to_string()]);
        // Dropping the sender ends the timer: an old ban added then stays.
        drop(stop);
        std::thread::sleep(std::time::Duration::from_millis(50));
        db.add_ban(&BanRecord {
            jail: "j".into(),
            ip: "192.0.2.3".into(),
            time_of_ban: now - 3600,
            bantime: 5,
            ban_count: 1,
            data: serde_json::json!({}),
        })
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(150));
        assert_eq!(ips(&db).len(), 2);
    }
}
