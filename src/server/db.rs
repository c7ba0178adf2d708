//! Persistent ban/log database, file-compatible with fail2ban 1.0.2 (schema version 4).
//!
//! Principal types: [`Database`] (one SQLite connection behind a `Mutex`), [`BanRecord`]
//! (one row of `bans`/`bips`), [`BanInfo`] (what `bantime.increment` asks for) and
//! [`DbError`]. Data flow: the server calls `add_jail`/`add_log`/`update_log` from jail
//! and log-reader threads, `add_ban` from the observer after a ban, `get_current_bans`
//! when a jail starts (restore), `get_ban` for increments, `del_ban` on unban and
//! `purge` hourly.
//!
//! Threading design: a single `rusqlite::Connection` wrapped in a `Mutex`, so every call
//! is serialised in-process (no "database is locked" between our own threads); a
//! `busy_timeout` covers a foreign process (e.g. `sqlite3` or fail2ban) holding the file.
//! Every write runs inside one transaction that is rolled back on error.
//!
//! The `data` column holds the ticket data as JSON text stored as a BLOB of UTF-8
//! bytes, serialised exactly like Python's `json.dumps(…, ensure_ascii=False)` (see
//! [`python_json`]), so rows written by either side are byte-identical.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value as Json;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Schema version written to `fail2banDb`.
pub const SCHEMA_VERSION: i64 = 4;

// The CREATE statements must stay textually identical to fail2ban's: sqlite stores them
// in `sqlite_master`, and a dump comparison between both implementations depends on it.
const CREATE_FAIL2BANDB: &str = "CREATE TABLE IF NOT EXISTS fail2banDb(version INTEGER);";
const CREATE_JAILS: &str = "CREATE TABLE IF NOT EXISTS jails(name TEXT NOT NULL UNIQUE, enabled INTEGER NOT NULL DEFAULT 1);CREATE INDEX IF NOT EXISTS jails_name ON jails(name);";
const CREATE_LOGS: &str = "CREATE TABLE IF NOT EXISTS logs(jail TEXT NOT NULL, path TEXT, firstlinemd5 TEXT, lastfilepos INTEGER DEFAULT 0, FOREIGN KEY(jail) REFERENCES jails(name) ON DELETE CASCADE, UNIQUE(jail, path),UNIQUE(jail, path, firstlinemd5));CREATE INDEX IF NOT EXISTS logs_path ON logs(path);CREATE INDEX IF NOT EXISTS logs_jail_path ON logs(jail, path);";
const CREATE_BANS: &str = "CREATE TABLE IF NOT EXISTS bans(jail TEXT NOT NULL, ip TEXT, timeofban INTEGER NOT NULL, bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON, FOREIGN KEY(jail) REFERENCES jails(name) );CREATE INDEX IF NOT EXISTS bans_jail_timeofban_ip ON bans(jail, timeofban);CREATE INDEX IF NOT EXISTS bans_jail_ip ON bans(jail, ip);CREATE INDEX IF NOT EXISTS bans_ip ON bans(ip);";
const CREATE_BIPS: &str = "CREATE TABLE IF NOT EXISTS bips(ip TEXT NOT NULL, jail TEXT NOT NULL, timeofban INTEGER NOT NULL, bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON, PRIMARY KEY(ip, jail), FOREIGN KEY(jail) REFERENCES jails(name) );CREATE INDEX IF NOT EXISTS bips_timeofban ON bips(timeofban);CREATE INDEX IF NOT EXISTS bips_ip ON bips(ip);";

/// Ban time stored by upgraded v1/v2 databases: "unknown", replaced by the jail ban time.
pub const BANTIME_UNKNOWN: i64 = -2;

/// A database error; the message always names the database file.
#[derive(Debug, thiserror::Error)]
#[error("fail2ban database '{file}': {msg}")]
pub struct DbError {
    pub file: String,
    pub msg: String,
}

pub type DbResult<T> = Result<T, DbError>;

/// One ban as stored in `bans` (history) and `bips` (latest per ip and jail).
///
/// `data` is the ticket data as a JSON object: `matches` (strings or 3-element lists),
/// `failures` (int) and the non-null capture groups (`user`, `ip4`, `fid`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct BanRecord {
    pub jail: String,
    pub ip: String,
    /// Epoch seconds of the ban start (= last failure), already rounded.
    pub time_of_ban: i64,
    /// Seconds; -1 = permanent; -2 = unknown (upgraded database).
    pub bantime: i64,
    pub ban_count: i64,
    pub data: Json,
}

/// Result of [`Database::get_ban`]: previous ban count, time of the last ban and its ban time
/// (sums over jails with `overalljails`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanInfo {
    pub ban_count: i64,
    pub time_of_ban: i64,
    pub bantime: i64,
}

/// Selection for [`Database::get_current_bans`].
#[derive(Debug, Clone, Default)]
pub struct CurrentBansQuery<'a> {
    /// Restrict to this jail; `None` = all jails (latest ban per ip).
    pub jail: Option<&'a str>,
    pub ip: Option<&'a str>,
    /// Only bans younger than this many seconds (None or -1 = no limit).
    pub forbantime: Option<i64>,
    /// Reference time ("now").
    pub fromtime: i64,
    /// Cap on restored ban times (the jail's max ban time); None or -1 = no cap.
    pub correct_bantime: Option<i64>,
    /// Ban time substituted for `BANTIME_UNKNOWN` rows (the jail's current ban time).
    pub jail_bantime: Option<i64>,
    /// Keep at most this many matches; None = the database's `dbmaxmatches`; 0 = drop them.
    pub maxmatches: Option<usize>,
}

/// The fail2ban database (see module doc for the threading design).
pub struct Database {
    file: String,
    conn: Mutex<Connection>,
    purge_age: AtomicI64,
    max_matches: AtomicI64,
}

/// SHA-1 hex of the first line of a log file, as fail2ban stores it in `firstlinemd5`:
/// the raw bytes of the first line *including* its line terminator; `None` when the
/// content has no complete first line (no `\n`).
pub fn first_line_hash(content: &[u8]) -> Option<String> {
    let end = memchr::memchr(b'\n', content)?;
    Some(sha1_hex(&content[..=end]))
}

impl Database {
    /// Opens (or creates) the database at `path`; `":memory:"` gives a private in-memory one.
    /// Older schema versions (1–3) are upgraded like fail2ban does, after a timestamped backup.
    pub fn open(path: &str) -> DbResult<Database> {
        let err = |msg: String| DbError {
            file: path.to_string(),
            msg,
        };
        if path != ":memory:" && Path::new(path).is_dir() {
            return Err(err("is a directory".into()));
        }
        let conn = Connection::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
        let db = Database {
            file: path.to_string(),
            conn: Mutex::new(conn),
            purge_age: AtomicI64::new(86400),
            max_matches: AtomicI64::new(10),
        };
        db.init()?;
        Ok(db)
    }

    /// Frees the connection's cached pages and spare memory (SQLite's `shrink_memory`);
    /// later statements read what they need again.
    pub fn release_memory(&self) {
        if let Ok(conn) = self.lock() {
            let _ = conn.execute_batch("PRAGMA shrink_memory;");
        }
    }

    fn err(&self, msg: impl std::fmt::Display) -> DbError {
        DbError {
            file: self.file.clone(),
            msg: msg.to_string(),
        }
    }

    fn init(&self) -> DbResult<()> {
        let mut conn = self.lock()?;
        // SQLite's lookaside (a pool of small blocks per connection, ~48 KiB written at
        // open) speeds statements this daemon runs now and then; it would stay resident.
        // SAFETY: the handle is this open connection's, used under its lock, before any
        // statement; the verb takes a buffer pointer (null: none) and two ints (0: off).
        unsafe {
            rusqlite::ffi::sqlite3_db_config(
                conn.handle(),
                rusqlite::ffi::SQLITE_DBCONFIG_LOOKASIDE,
                std::ptr::null_mut::<std::ffi::c_void>(),
                0 as std::ffi::c_int,
                0 as std::ffi::c_int,
            );
        }
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| self.err(e))?;
        // Room for every statement this module runs (about 20 distinct texts).
        conn.set_prepared_statement_cache_capacity(48);
        // A small page cache (256 KiB rather than SQLite's 2 MB): the database is small and
        // read mostly at start-up, while the cache would stay resident for the daemon's life.
        conn.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY; \
             PRAGMA cache_size = -256;",
        )
        .map_err(|e| self.err(format!("not a usable sqlite database: {e}")))?;
        // journal_mode returns a row; query it rather than execute it.
        let _: String = conn
            .query_row("PRAGMA journal_mode = MEMORY", [], |r| r.get(0))
            .map_err(|e| self.err(format!("not a usable sqlite database: {e}")))?;
        let version: Option<i64> =
            match conn.query_row("SELECT version FROM fail2banDb LIMIT 1", [], |r| r.get(0)) {
                Ok(v) => Some(v),
                Err(rusqlite::Error::QueryReturnedNoRows) => None,
                Err(rusqlite::Error::SqliteFailure(_, Some(m))) if m.contains("no such table") => {
                    None
                }
                Err(e) => return Err(self.err(format!("not a usable sqlite database: {e}"))),
            };
        match version {
            None => {
                let tx = conn.transaction().map_err(|e| self.err(e))?;
                create_all(&tx).map_err(|e| self.err(format!("cannot create schema: {e}")))?;
                tx.commit().map_err(|e| self.err(e))?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(v) if v > SCHEMA_VERSION => {
                return Err(self.err(format!(
                    "schema version {v} is newer than supported version {SCHEMA_VERSION}"
                )));
            }
            Some(v) => {
                self.backup_before_upgrade()?;
                upgrade(&mut conn, v).map_err(|e| {
                    self.err(format!("cannot upgrade from schema version {v}: {e}"))
                })?;
            }
        }
        Ok(())
    }

    fn backup_before_upgrade(&self) -> DbResult<()> {
        if self.file == ":memory:" {
            return Ok(());
        }
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let backup = format!("{}.{stamp}", self.file);
        if !Path::new(&backup).exists() {
            std::fs::copy(&self.file, &backup)
                .map_err(|e| self.err(format!("cannot create backup '{backup}': {e}")))?;
        }
        Ok(())
    }

    fn lock(&self) -> DbResult<std::sync::MutexGuard<'_, Connection>> {
        // A poisoned lock only means another thread panicked mid-call; the transaction was
        // rolled back by sqlite, so the connection itself is still consistent.
        Ok(self.conn.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs `f` inside one transaction; commits on success, rolls back on error.
    /// BEGIN/COMMIT go through the statement cache too: a ban or a log position is one
    /// small transaction, and re-parsing its SQL used to cost more than running it.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> DbResult<T> {
        let conn = self.lock()?;
        exec(&conn, "BEGIN", []).map_err(|e| self.err(e))?;
        let done = f(&conn).and_then(|v| exec(&conn, "COMMIT", []).map(|_| v));
        match done {
            Ok(v) => Ok(v),
            Err(e) => {
                // Nothing to add if the rollback fails too: the first error is the news
                // (and sqlite has already rolled back when COMMIT itself failed).
                if !conn.is_autocommit() {
                    let _ = exec(&conn, "ROLLBACK", []);
                }
                Err(self.err(e))
            }
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> DbResult<T> {
        let conn = self.lock()?;
        f(&conn).map_err(|e| self.err(e))
    }

    /// The path given to [`Database::open`].
    pub fn filename(&self) -> &str {
        &self.file
    }
    /// `dbpurgeage` in seconds (default 86400).
    pub fn purge_age(&self) -> i64 {
        self.purge_age.load(Ordering::Relaxed)
    }
    pub fn set_purge_age(&self, secs: i64) {
        self.purge_age.store(secs, Ordering::Relaxed)
    }
    /// `dbmaxmatches` (default 10).
    pub fn max_matches(&self) -> usize {
        usize::try_from(self.max_matches.load(Ordering::Relaxed)).unwrap_or(0)
    }
    pub fn set_max_matches(&self, n: usize) {
        self.max_matches
            .store(i64::try_from(n).unwrap_or(i64::MAX), Ordering::Relaxed)
    }

    /// Registers a jail (or re-enables it).
    pub fn add_jail(&self, jail: &str) -> DbResult<()> {
        self.write(|tx| {
            let n = exec(
                tx,
                "INSERT OR IGNORE INTO jails(name, enabled) VALUES(?, 1)",
                [jail],
            )?;
            if n == 0 {
                exec(
                    tx,
                    "UPDATE jails SET enabled = 1 WHERE name = ? AND enabled != 1",
                    [jail],
                )?;
            }
            Ok(())
        })
    }

    /// Marks a jail disabled (on jail stop; its bans are kept).
    pub fn del_jail(&self, jail: &str) -> DbResult<()> {
        self.write(|tx| exec(tx, "UPDATE jails SET enabled=0 WHERE name=?", [jail]))
            .map(|_| ())
    }

    /// Marks every jail disabled (done at server start before jails are added).
    pub fn del_all_jails(&self) -> DbResult<()> {
        self.write(|tx| exec(tx, "UPDATE jails SET enabled=0", []))
            .map(|_| ())
    }

    /// Jail names, optionally only enabled (`Some(true)`) or disabled ones.
    pub fn get_jail_names(&self, enabled: Option<bool>) -> DbResult<Vec<String>> {
        self.read(|c| {
            let (q, args): (&str, Vec<i64>) = match enabled {
                None => ("SELECT name FROM jails", vec![]),
                Some(e) => ("SELECT name FROM jails WHERE enabled=?", vec![i64::from(e)]),
            };
            let mut st = c.prepare(q)?;
            let rows = st.query_map(rusqlite::params_from_iter(args), |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Registers a log of a jail. Returns the stored position when the log was known and
    /// its stored first-line hash equals `hash` (or `hash` is None); otherwise `None`.
    /// Inserts a row only for a new log with a position or hash to remember.
    pub fn add_log(
        &self,
        jail: &str,
        path: &str,
        pos: i64,
        hash: Option<&str>,
    ) -> DbResult<Option<i64>> {
        self.write(|tx| {
            let row: Option<(Option<String>, Option<i64>)> = tx
                .query_row(
                    "SELECT firstlinemd5, lastfilepos FROM logs WHERE jail=? AND path=?",
                    [jail, path],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (stored_hash, mut last_pos) = match row {
                Some((h, p)) => (h, p),
                None => (None, None),
            };
            if stored_hash.is_none() && (pos != 0 || hash.is_some()) {
                exec(
                tx,
                    "INSERT OR REPLACE INTO logs(jail, path, firstlinemd5, lastfilepos) VALUES(?, ?, ?, ?)",
                    params![jail, path, hash, pos],
                )?;
            }
            if let Some(h) = hash
                && stored_hash.as_deref() != Some(h)
            {
                last_pos = None;
            }
            Ok(last_pos)
        })
    }

    /// Stores the current position and first-line hash of a log.
    pub fn update_log(&self, jail: &str, path: &str, pos: i64, hash: &str) -> DbResult<()> {
        self.write(|tx| {
            let n = exec(
                tx,
                "UPDATE logs SET firstlinemd5=?, lastfilepos=? WHERE jail=? AND path=?",
                params![hash, pos, jail, path],
            )?;
            if n == 0 {
                exec(
                tx,
                    "INSERT OR REPLACE INTO logs(jail, path, firstlinemd5, lastfilepos) VALUES(?, ?, ?, ?)",
                    params![jail, path, hash, pos],
                )?;
            }
            Ok(())
        })
    }

    /// The journal position of a jail (`logs.lastfilepos` of path `name`, epoch seconds
    /// as fail2ban stores it: a REAL).
    pub fn journal_pos(&self, jail: &str, name: &str) -> DbResult<Option<f64>> {
        self.read(|c| {
            c.query_row(
                "SELECT lastfilepos FROM logs WHERE jail=? AND path=?",
                [jail, name],
                |r| r.get::<_, Option<f64>>(0),
            )
            .optional()
            .map(Option::flatten)
        })
    }

    /// Stores a journal position: `firstlinemd5` = ISO time, `lastfilepos` = epoch seconds.
    pub fn update_journal(&self, jail: &str, name: &str, time: f64, iso: &str) -> DbResult<()> {
        self.write(|tx| {
            exec(
                tx,
                "INSERT OR REPLACE INTO logs(jail, path, firstlinemd5, lastfilepos) VALUES(?, ?, ?, ?)",
                params![jail, name, iso, time],
            )
            .map(|_| ())
        })
    }

    /// Paths of logs known for `jail` (or all jails).
    pub fn get_log_paths(&self, jail: Option<&str>) -> DbResult<Vec<String>> {
        self.read(|c| {
            let mut v: Vec<String> = match jail {
                Some(j) => {
                    let mut st = c.prepare("SELECT path FROM logs WHERE jail=?")?;
                    st.query_map([j], |r| r.get(0))?.collect::<Result<_, _>>()?
                }
                None => {
                    let mut st = c.prepare("SELECT path FROM logs")?;
                    st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
                }
            };
            v.sort();
            v.dedup();
            Ok(v)
        })
    }

    /// Appends a ban to `bans` and replaces the (ip, jail) row of `bips`. Matches are
    /// trimmed to the newest `dbmaxmatches` (removed entirely when it is 0).
    pub fn add_ban(&self, ban: &BanRecord) -> DbResult<()> {
        let data = trim_matches(&ban.data, self.max_matches());
        let blob = python_json(&data).into_bytes();
        self.write(|tx| insert_ban_rows(tx, ban, &blob))
    }

    /// As [`Database::add_ban`], with the `data` column given as JSON text the caller
    /// already trimmed and ordered (fail2ban keeps the ticket's key insertion order, which
    /// a sorted serde_json map loses); `ban.data` is ignored.
    pub fn add_ban_text(&self, ban: &BanRecord, data: &str) -> DbResult<()> {
        self.add_bans_text(&[(ban, data)])
    }

    /// The rows of several bans (in order, as [`Database::add_ban_text`]) in one
    /// transaction: a burst of bans costs one commit rather than one each. All or none
    /// of them are written.
    pub fn add_bans_text(&self, bans: &[(&BanRecord, &str)]) -> DbResult<()> {
        if bans.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            for (ban, data) in bans {
                insert_ban_rows(tx, ban, data.as_bytes())?;
            }
            Ok(())
        })
    }

    /// Deletes the history of `ips` in `jail` from `bans` and `bips`; all of the jail's
    /// rows when `ips` is empty (unbanip / unban --all).
    pub fn del_ban(&self, jail: &str, ips: &[&str]) -> DbResult<()> {
        self.write(|tx| {
            if ips.is_empty() {
                exec(tx, "DELETE FROM bips WHERE jail = ?", [jail])?;
                exec(tx, "DELETE FROM bans WHERE jail = ?", [jail])?;
            }
            for ip in ips {
                exec(tx, "DELETE FROM bips WHERE jail = ? AND ip = ?", [jail, ip])?;
                exec(tx, "DELETE FROM bans WHERE jail = ? AND ip = ?", [jail, ip])?;
            }
            Ok(())
        })
    }

    /// History rows from `bans` (ordered by ip, newest first), optionally restricted to a
    /// jail, an ip and bans younger than `bantime` seconds before `now`.
    pub fn get_bans(
        &self,
        jail: Option<&str>,
        ip: Option<&str>,
        bantime: Option<i64>,
        now: i64,
    ) -> DbResult<Vec<BanRecord>> {
        let mut q =
            String::from("SELECT jail, ip, timeofban, bantime, bancount, data FROM bans WHERE 1");
        let mut args: Vec<rusqlite::types::Value> = vec![];
        if let Some(j) = jail {
            q.push_str(" AND jail=?");
            args.push(j.to_string().into());
        }
        if let Some(b) = bantime.filter(|b| *b >= 0) {
            q.push_str(" AND timeofban > ?");
            args.push((now - b).into());
        }
        if let Some(i) = ip {
            q.push_str(" AND ip=?");
            args.push(i.to_string().into());
        }
        q.push_str(" ORDER BY ip, timeofban desc");
        self.read(|c| {
            let mut st = c.prepare(&q)?;
            let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
                Ok(BanRecord {
                    jail: r.get(0)?,
                    ip: r.get(1)?,
                    time_of_ban: int_col(r, 2)?,
                    bantime: r.get(3)?,
                    ban_count: r.get(4)?,
                    data: json_column(r.get_ref(5)?),
                })
            })?;
            rows.collect()
        })
    }

    /// Last ban of `ip` for `bantime.increment`: in `jail` (or, with `overalljails` or no
    /// jail, summed over all jails), only bans after `now - forbantime` / after `fromtime`.
    pub fn get_ban(
        &self,
        ip: &str,
        jail: Option<&str>,
        forbantime: Option<i64>,
        overalljails: bool,
        fromtime: Option<i64>,
        now: i64,
    ) -> DbResult<Option<BanInfo>> {
        let mut q = String::from(if overalljails {
            "SELECT sum(bancount), max(timeofban), sum(bantime) FROM bips"
        } else {
            "SELECT bancount, timeofban, bantime FROM bips"
        });
        q.push_str(" WHERE ip = ?");
        let mut args: Vec<rusqlite::types::Value> = vec![ip.to_string().into()];
        if let (false, Some(j)) = (overalljails, jail) {
            q.push_str(" AND jail=?");
            args.push(j.to_string().into());
        }
        if let Some(f) = forbantime {
            q.push_str(" AND timeofban > ?");
            args.push((now - f).into());
        }
        if let Some(f) = fromtime {
            q.push_str(" AND timeofban > ?");
            args.push(f.into());
        }
        if overalljails || jail.is_none() {
            q.push_str(" GROUP BY ip ORDER BY timeofban DESC LIMIT 1");
        }
        self.read(|c| {
            // A handful of query shapes, asked once per failure with bantime.increment.
            c.prepare_cached(&q)?
                .query_row(rusqlite::params_from_iter(args), |r| {
                    Ok(BanInfo {
                        ban_count: r.get(0)?,
                        time_of_ban: int_col(r, 1)?,
                        bantime: r.get(2)?,
                    })
                })
                .optional()
        })
    }

    /// Bans still active at `q.fromtime` (what a starting jail restores), with ban times
    /// corrected as fail2ban does: unknown → jail ban time, permanent or longer than the
    /// cap → cap; rows ending at or before `fromtime` after correction are dropped.
    pub fn get_current_bans(&self, q: &CurrentBansQuery<'_>) -> DbResult<Vec<BanRecord>> {
        let mut sql = String::new();
        let mut args: Vec<rusqlite::types::Value> = vec![];
        match q.jail {
            Some(j) => {
                sql.push_str(
                    "SELECT ip, timeofban, bantime, bancount, data, jail FROM bips WHERE jail=?",
                );
                args.push(j.to_string().into());
            }
            None => sql.push_str(
                "SELECT ip, max(timeofban), bantime, bancount, data, jail FROM bips WHERE 1",
            ),
        }
        if let Some(ip) = q.ip {
            sql.push_str(" AND ip=?");
            args.push(ip.to_string().into());
        }
        sql.push_str(" AND (timeofban + bantime > ? OR bantime <= -1)");
        args.push(q.fromtime.into());
        if let Some(f) = q.forbantime.filter(|f| *f != -1) {
            sql.push_str(" AND timeofban > ?");
            args.push((q.fromtime - f).into());
        }
        if q.ip.is_none() {
            sql.push_str(" GROUP BY ip ORDER BY ip, timeofban DESC");
        } else {
            sql.push_str(" ORDER BY timeofban DESC LIMIT 1");
        }
        let rows: Vec<BanRecord> = self.read(|c| {
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
                Ok(BanRecord {
                    ip: r.get(0)?,
                    time_of_ban: int_col(r, 1)?,
                    bantime: r.get(2)?,
                    ban_count: r.get(3)?,
                    data: json_column(r.get_ref(4)?),
                    jail: r.get(5)?,
                })
            })?;
            rows.collect()
        })?;
        let cap = q.correct_bantime.filter(|c| *c >= 0);
        let maxm = q.maxmatches.unwrap_or_else(|| self.max_matches());
        let mut out = Vec::with_capacity(rows.len());
        for mut b in rows {
            if b.ip.is_empty() {
                continue;
            }
            if b.bantime == BANTIME_UNKNOWN {
                b.bantime = q.jail_bantime.or(cap).unwrap_or(600);
            } else if let Some(c) = cap
                && (b.bantime == -1 || b.bantime > c)
            {
                b.bantime = c;
            }
            if b.bantime != -1 && b.time_of_ban + b.bantime <= q.fromtime {
                continue;
            }
            b.data = trim_matches(&b.data, maxm);
            out.push(b);
        }
        Ok(out)
    }

    /// Deletes bans older than `dbpurgeage`, outdated `bips` rows (older than the purge
    /// age and ended more than 3 ban times ago; never permanent ones) and disabled jails
    /// without bans (their logs go by cascade).
    pub fn purge(&self, now: i64) -> DbResult<()> {
        let age = self.purge_age();
        self.write(|tx| {
            exec(tx, "DELETE FROM bans WHERE timeofban < ?", [now - age])?;
            exec(
                tx,
                "DELETE FROM bips WHERE timeofban < ? and bantime != -1 and (timeofban + (bantime * ?)) < ?",
                params![now - age, 3, now - age],
            )?;
            exec(
                tx,
                "DELETE FROM jails WHERE enabled = 0 AND NOT EXISTS(SELECT * FROM bans WHERE jail = jails.name) AND NOT EXISTS(SELECT * FROM bips WHERE jail = jails.name)",
                [],
            )?;
            Ok(())
        })
    }
}

/// Runs one statement through the connection's prepared-statement cache.
fn exec(c: &Connection, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(p)
}

/// One ban's rows: appended to `bans`, and the (ip, jail) row of `bips` replaced.
fn insert_ban_rows(c: &Connection, ban: &BanRecord, blob: &[u8]) -> rusqlite::Result<()> {
    exec(
        c,
        "INSERT INTO bans(jail, ip, timeofban, bantime, bancount, data) VALUES(?, ?, ?, ?, ?, ?)",
        params![
            ban.jail,
            ban.ip,
            ban.time_of_ban,
            ban.bantime,
            ban.ban_count,
            blob
        ],
    )?;
    exec(
        c,
        "INSERT OR REPLACE INTO bips(ip, jail, timeofban, bantime, bancount, data) VALUES(?, ?, ?, ?, ?, ?)",
        params![
            ban.ip,
            ban.jail,
            ban.time_of_ban,
            ban.bantime,
            ban.ban_count,
            blob
        ],
    )?;
    Ok(())
}

fn create_all(c: &Connection) -> rusqlite::Result<()> {
    for s in [
        CREATE_FAIL2BANDB,
        CREATE_JAILS,
        CREATE_LOGS,
        CREATE_BANS,
        CREATE_BIPS,
    ] {
        c.execute_batch(s)?;
    }
    c.execute(
        "INSERT INTO fail2banDb(version) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM fail2banDb LIMIT 1)",
        [SCHEMA_VERSION],
    )?;
    Ok(())
}

fn table_exists(c: &Connection, t: &str) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?",
        [t],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Schema migration 1..3 → 4, step by step as fail2ban performs it.
fn upgrade(conn: &mut Connection, version: i64) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    if version < 2 && table_exists(&tx, "logs")? {
        tx.execute_batch(&format!(
            "CREATE TEMPORARY TABLE logs_temp AS SELECT * FROM logs; DROP TABLE logs; {CREATE_LOGS} INSERT INTO logs SELECT * from logs_temp; DROP TABLE logs_temp; UPDATE fail2banDb SET version = 2;"
        ))?;
    }
    if version < 3 && table_exists(&tx, "bans")? {
        tx.execute_batch(&format!(
            "CREATE TEMPORARY TABLE bans_temp AS SELECT jail, ip, timeofban, -2 as bantime, 1 as bancount, data FROM bans; DROP TABLE bans; {CREATE_BANS} INSERT INTO bans SELECT * from bans_temp; DROP TABLE bans_temp;"
        ))?;
    }
    if version < 4 && !table_exists(&tx, "bips")? {
        tx.execute_batch(CREATE_BIPS)?;
        if table_exists(&tx, "bans")? {
            tx.execute(
                "INSERT OR REPLACE INTO bips(ip, jail, timeofban, bantime, bancount, data) SELECT ip, jail, timeofban, bantime, bancount, data FROM bans order by timeofban",
                [],
            )?;
        }
    }
    // Create anything missing (old DBs may lack tables) and stamp the version.
    create_all(&tx)?;
    tx.execute("UPDATE fail2banDb SET version = ?", [SCHEMA_VERSION])?;
    tx.commit()
}

/// Reads an integer column that old (v1) databases may hold as a float time.
fn int_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<i64> {
    match r.get_ref(i)? {
        ValueRef::Real(f) => Ok(f.round() as i64),
        _ => r.get(i),
    }
}

/// Decodes a `data` column (BLOB or TEXT of JSON); undecodable content becomes `{}` as in
/// fail2ban, which logs and ignores it.
fn json_column(v: ValueRef<'_>) -> Json {
    let bytes = match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => b,
        _ => return Json::Object(Default::default()),
    };
    serde_json::from_str(&String::from_utf8_lossy(bytes))
        .unwrap_or_else(|_| Json::Object(Default::default()))
}

/// Keeps the newest `max` entries of `data["matches"]`; removes the key when `max` is 0.
fn trim_matches(data: &Json, max: usize) -> Json {
    let mut d = data.clone();
    if let Some(obj) = d.as_object_mut() {
        if max == 0 {
            obj.remove("matches");
        } else if let Some(Json::Array(m)) = obj.get_mut("matches")
            && m.len() > max
        {
            let cut = m.len() - max;
            m.drain(..cut);
        }
    }
    d
}

/// Serialises like Python's `json.dumps(v, ensure_ascii=False)`: `", "` and `": "`
/// separators, non-ASCII kept, control characters escaped. Object keys: `matches`,
/// `failures`, then the rest sorted (fail2ban's order for the first two; capture-group
/// keys follow in regex order there, which a sorted serde_json map cannot keep).
pub fn python_json(v: &Json) -> String {
    let mut s = String::new();
    write_json(&mut s, v);
    s
}

fn write_json(out: &mut String, v: &Json) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                out.push_str(&python_float(f));
            } else {
                out.push_str(&n.to_string());
            }
        }
        Json::String(s) => write_str(out, s),
        Json::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(out, x);
            }
            out.push(']');
        }
        Json::Object(o) => {
            out.push('{');
            // fail2ban's tickets insert `matches` then `failures` first; other keys follow
            // (serde_json maps are sorted, so their original insertion order is not known).
            let first = ["matches", "failures"];
            let ordered = first
                .iter()
                .filter_map(|k| o.get_key_value(*k))
                .chain(o.iter().filter(|(k, _)| !first.contains(&k.as_str())));
            for (i, (k, x)) in ordered.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                write_json(out, x);
            }
            out.push('}');
        }
    }
}

fn python_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if f == f.trunc() && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// fail2ban stores ban data with `ensure_ascii=False`.
fn write_str(out: &mut String, s: &str) {
    crate::stream::write_py_json_str(out, s, false);
}

/// Minimal SHA-1 (FIPS 180-1), enough for first-line hashes without a new dependency.
fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bitlen = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bitlen.to_be_bytes());
    for chunk in msg.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, b) in chunk.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}
