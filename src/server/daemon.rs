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
        st.db = Some(Arc::new(db));
        st.dbfile = Some(file.to_string());
        Ok(())
    }

    /// `set logtarget T`.
    pub(crate) fn set_logtarget(st: &mut State, target: &str) -> Result<(), ExcReply> {
        logtarget::apply(target, &st.syslogsocket).map_err(exc)?;
        st.logtarget = target.to_string();
        Ok(())
    }

    /// Runs the hourly DB purge (called by the front end's timer).
    pub fn purge_db(&self) {
        let db = lock(&self.state).db.clone();
        if let Some(db) = db
            && let Err(e) = db.purge(crate::server::jail::now() as i64)
        {
            crate::flog!(ERROR, "database", "{e}");
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
