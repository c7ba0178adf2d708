//! One jail: its filter side (log readers → [`Matcher`] → time sanity → ignore checks →
//! failure counting) and its actions side (ban list, command actions, unban timers, DB).
//!
//! Principal types: [`Jail`] (configuration + running threads), [`FilterState`] (what the
//! filter workers and the transmitter share) and [`ActionsCore`] (ban list and actions,
//! shared by the actions thread and manual `banip`/`unbanip`). Data flow: the reader hub
//! (one thread for the `FileReader`s of all jails) sends `ReadEvent`s to the jail's
//! channel, and its hook hands the jail to a filter worker (`pool`: threads shared by
//! all jails); the worker sends tickets that reached `maxretry` over a channel to the
//! actions thread (started with the first ticket or ban: `actions_thread`), so a slow
//! action never blocks reading. Positions go to the DB after the lines of an event were
//! processed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::filter::addr::IpAddr;
use crate::filter::matcher::{Matcher, MatcherSpec, SpecError};
use crate::server::action::TagSource;
use crate::server::bans::{self, ActionsCore};
use crate::server::db::Database;
use crate::server::failmanager::FailManager;
use crate::server::ignore::{IgnoreHooks, IgnoreList};
use crate::server::increment::BanTimeIncrement;
use crate::server::reader::{Backend, EventTx, FileReader, ReadEvent, ReaderConfig, StartAt};
use crate::server::ticket::Ticket;

/// Stack of a jail's actions thread. It does not recurse deeply, and with 50 jails the
/// default 2 MiB each adds up in address space.
const JAIL_THREAD_STACK: usize = 1 << 20;

/// Locks a mutex, recovering the data of a poisoned one (a panicked thread must not take
/// the whole server down with it).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Wall clock as epoch seconds.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `%Y-%m-%d %H:%M:%S` in local time (fail2ban's `MyTime.time2str`).
pub fn time2str(t: f64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_opt(t as i64, 0).single() {
        Some(d) => crate::server::ticket::ymd_hms(&d),
        None => "9999-12-31 23:59:59".to_string(),
    }
}

/// A log path of the jail.
#[derive(Clone)]
pub struct LogPath {
    pub path: PathBuf,
    pub tail: bool,
    pub saved: Option<(String, u64)>,
}

/// Filter-side state: options, the compiled matcher, failure counts.
pub struct FilterState {
    pub spec: MatcherSpec,
    pub logencoding: String,
    pub logpaths: Vec<LogPath>,
    pub ignore: IgnoreList,
    /// The jail's `bantime.*` options (a copy of the actions side's, for the bad-id rule).
    pub incr: BanTimeIncrement,
    pub fm: FailManager,
    pub idle: bool,
    /// During a reload: log paths not re-added yet (removed when it ends).
    pub reload_logs: Option<Vec<PathBuf>>,
    /// `journalmatch` groups of a systemd jail (ANDed inside, ORed between).
    pub journalmatch: Vec<Vec<String>>,
    matcher: Option<Matcher>,
    /// When each timing warning may be logged again (fail2ban: once a day per kind).
    warned_old: f64,
    warned_tz: f64,
    warned_nodate: f64,
    last_cleanup: f64,
    /// The last `Found` line's time text and its second (failures come in runs).
    found_stamp: (i64, String),
}

impl FilterState {
    fn new() -> Self {
        FilterState {
            spec: MatcherSpec {
                maxlines: 1,
                usedns: crate::filter::addr::UseDns::Warn,
                ..Default::default()
            },
            logencoding: "UTF-8".into(),
            logpaths: Vec::new(),
            ignore: IgnoreList::new(),
            incr: BanTimeIncrement::new(),
            fm: FailManager::new(),
            idle: false,
            matcher: None,
            reload_logs: None,
            journalmatch: Vec::new(),
            warned_old: 0.0,
            warned_tz: 0.0,
            warned_nodate: 0.0,
            last_cleanup: 0.0,
            found_stamp: (i64::MIN, String::new()),
        }
    }

    /// Drops the compiled matcher after an option change (rebuilt on the next line).
    /// Starts an in-place reload: the lists the stream sets again are emptied and the
    /// current logs remembered (re-adding keeps a log and its position).
    pub fn begin_reload(&mut self) {
        self.spec.failregex.clear();
        self.spec.ignoreregex.clear();
        self.ignore.clear();
        self.journalmatch.clear();
        self.invalidate();
        self.reload_logs = Some(self.logpaths.iter().map(|l| l.path.clone()).collect());
    }

    pub fn invalidate(&mut self) {
        self.matcher = None;
    }

    /// Compiles the matcher now (to report regex errors to the `set` command).
    pub fn compile(&mut self) -> Result<(), String> {
        self.try_compile().map_err(|e| e.to_string())
    }

    /// As `compile`, keeping which part failed.
    pub fn try_compile(&mut self) -> Result<(), SpecError> {
        if self.matcher.is_none() {
            let mut m = Matcher::new(&self.spec)?;
            // Built after the first read event's lines (see `filter_loop`), not on a line.
            m.defer_scans();
            self.matcher = Some(m);
        }
        Ok(())
    }
}

/// The running parts of a started jail.
struct Running {
    stop: Arc<AtomicBool>,
    /// The jail's filter side for the workers.
    task: Arc<Task>,
    actions: Arc<ActionsThread>,
}

/// A jail's read events: the channel its readers send to, and the task a send hands to
/// a filter worker (none while the jail is stopped: the events wait).
struct Inbox {
    tx: Sender<ReadEvent>,
    rx: Receiver<ReadEvent>,
    task: Arc<Mutex<Option<Arc<Task>>>>,
}

impl Inbox {
    fn new() -> Inbox {
        let (tx, rx) = unbounded();
        Inbox {
            tx,
            rx,
            task: Arc::new(Mutex::new(None)),
        }
    }

    /// The sending side for a reader.
    fn sender(&self) -> EventTx {
        let slot = self.task.clone();
        EventTx::new(
            self.tx.clone(),
            Arc::new(move || {
                let task = lock(&slot).clone();
                if let Some(t) = task {
                    t.schedule();
                }
            }),
        )
    }
}

/// A jail: configuration plus, once started, its threads.
pub struct Jail {
    pub name: String,
    pub backend: String,
    pub filter: Arc<Mutex<FilterState>>,
    pub acts: Arc<Mutex<ActionsCore>>,
    db: Option<Arc<Database>>,
    tickets: (Sender<Ticket>, Receiver<Ticket>),
    events: Inbox,
    /// One reader per log path, started when the path is added (as fail2ban opens its
    /// container then); its events wait in the (unbounded) channel until the jail starts.
    readers: Mutex<Vec<FileReader>>,
    /// `systemd[…]` options of a journal jail (None for file backends).
    pub journal: Option<crate::journal::options::JournalOptions>,
    follower: Mutex<Option<crate::journal::follow::Follower>>,
    running: Option<Running>,
}

impl Jail {
    pub fn new(name: &str, backend: &str, db: Option<Arc<Database>>) -> Jail {
        Jail {
            name: name.to_string(),
            backend: backend.to_string(),
            filter: Arc::new(Mutex::new(FilterState::new())),
            acts: Arc::new(Mutex::new(ActionsCore::new(name))),
            db,
            tickets: unbounded(),
            events: Inbox::new(),
            readers: Mutex::new(Vec::new()),
            journal: None,
            follower: Mutex::new(None),
            running: None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    pub fn db(&self) -> Option<&Arc<Database>> {
        self.db.as_ref()
    }

    /// `addlogpath FILE [head|tail]`: the file must exist; its DB position is looked up
    /// and its reader started (the reader logs `Added logfile: …`).
    pub fn add_log_path(&self, path: &str, tail: bool) -> Result<(), String> {
        let pb = PathBuf::from(path);
        {
            let mut f = lock(&self.filter);
            if f.logpaths.iter().any(|l| l.path == pb) {
                if let Some(keep) = f.reload_logs.as_mut() {
                    keep.retain(|p| *p != pb);
                }
                return Ok(());
            }
        }
        let hash = first_line_of(&pb).map_err(|e| crate::server::reader::py_os_error(&e, &pb))?;
        let mut saved = None;
        if let Some(db) = &self.db {
            match db.add_log(&self.name, path, 0, Some(&hash)) {
                Ok(Some(p)) => saved = Some((hash.clone(), u64::try_from(p).unwrap_or(0))),
                Ok(None) => {}
                Err(e) => crate::flog!(ERROR, "database", "{e}"),
            }
        }
        let lp = LogPath {
            path: pb,
            tail,
            saved,
        };
        let reader = self.spawn_reader(&lp)?;
        lock(&self.readers).push(reader);
        lock(&self.filter).logpaths.push(lp);
        Ok(())
    }

    /// Ends an in-place reload: logs the stream did not re-add are removed; bans and
    /// counters stay; actions get `actionreload` (or stop when gone).
    pub fn end_reload(&self) {
        let gone = lock(&self.filter).reload_logs.take().unwrap_or_default();
        for p in gone {
            self.del_log_path(&p.to_string_lossy());
        }
        lock(&self.acts).end_reload();
        self.rematch_journal();
    }

    /// After a reload of a running journal jail whose matches changed: a new reader with
    /// the new matches continues where the old one stopped.
    fn rematch_journal(&self) {
        let Some(opts) = self.journal.as_ref().filter(|_| self.running.is_some()) else {
            return;
        };
        let cur = lock(&self.filter).journalmatch.clone();
        let old = {
            let mut slot = lock(&self.follower);
            match slot.as_ref() {
                Some(fo) if fo.matches != cur => slot.take(),
                _ => return,
            }
        };
        let after = old.and_then(|fo| fo.stop());
        if let Err(e) = self.start_journal(opts, after) {
            crate::flog!(ERROR, "jail", "[{}] {e}", self.name);
        }
    }

    pub fn del_log_path(&self, path: &str) {
        let mut f = lock(&self.filter);
        f.logpaths.retain(|l| l.path.as_os_str() != path);
        drop(f);
        let mut readers = lock(&self.readers);
        if let Some(i) = readers.iter().position(|x| x.path().as_os_str() == path) {
            readers.remove(i).stop();
            crate::flog!(
                INFO,
                "filter",
                "Removed logfile: {}",
                crate::stream::py_str_repr(path)
            );
        }
    }

    fn spawn_reader(&self, lp: &LogPath) -> Result<FileReader, String> {
        let f = lock(&self.filter);
        let enc = f.logencoding.clone();
        let findtime = f.fm.findtime;
        let datepattern = f.spec.datepattern.clone();
        drop(f);
        let mut detector = crate::filter::date::DateDetector::with_options(
            datepattern.as_deref(),
            chrono::Datelike::year(&chrono::Local::now()),
            Arc::new(crate::filter::date::SystemZone),
        )
        .ok();
        let time_of: crate::server::reader::TimeOf = Box::new(move |line: &str| {
            let d = detector.as_mut()?;
            d.match_time(line, now())?.time.ok()
        });
        let cfg = ReaderConfig {
            jail: self.name.clone(),
            path: lp.path.clone(),
            start: if lp.tail {
                StartAt::Tail
            } else {
                StartAt::Head
            },
            saved: lp.saved.clone(),
            encoding: enc,
            backend: Backend::from_name(&self.backend).unwrap_or(Backend::Polling),
            seek_since: Some(now() - findtime),
            time_of: Some(time_of),
        };
        FileReader::spawn(cfg, self.events.sender())
            .map_err(|e| crate::server::reader::py_os_error(&e, &lp.path))
    }

    /// Starts the filter and actions threads, runs `actionstart`, restores DB bans.
    pub fn start(&mut self) -> Result<(), String> {
        if self.running.is_some() {
            return Ok(());
        }
        lock(&self.filter).compile()?;
        if let Some(opts) = &self.journal
            && let Err(e) = self.start_journal(opts, None)
        {
            // Only this jail stays down; the rest of the stream (other jails) runs.
            crate::flog!(ERROR, "jail", "Jail '{}' not started: {e}", self.name);
            return Ok(());
        }
        let stop = Arc::new(AtomicBool::new(false));
        // actionstart runs before any ticket arrives; the actions thread starts with
        // the first ticket or ban (see `actions_thread`).
        lock(&self.acts).actions.start();
        let (act_wake, act_woken) = crossbeam_channel::bounded(1);
        let starter = {
            let acts = self.acts.clone();
            let rx = self.tickets.1.clone();
            let st = stop.clone();
            let db = self.db.clone();
            let name = format!("f2b/a.{}", self.name);
            Box::new(move || {
                std::thread::Builder::new()
                    .name(name)
                    .stack_size(JAIL_THREAD_STACK)
                    .spawn(move || bans::actions_loop(acts, rx, act_woken, st, db))
            })
        };
        let actions = ActionsThread::new(&self.name, starter, act_wake);
        let waker = actions.clone();
        lock(&self.acts).set_waker(Some(Box::new(move || waker.ensure_and_wake())));
        // Tickets queued while the jail was down (`attempt`).
        if !self.tickets.1.is_empty() {
            actions.ensure();
        }
        let ctx = FilterCtx {
            name: self.name.clone(),
            filter: self.filter.clone(),
            tickets: TicketSink {
                tx: self.tickets.0.clone(),
                thread: actions.clone(),
            },
            events: self.events.rx.clone(),
            stop: stop.clone(),
            db: self.db.clone(),
        };
        let task = Task::new(ctx);
        *lock(&self.events.task) = Some(task.clone());
        // Events read before the start waited for it.
        task.schedule_if_waiting();
        self.running = Some(Running {
            stop,
            task,
            actions,
        });
        crate::flog!(INFO, "jail", "Jail '{}' started", self.name);
        self.restore_bans();
        Ok(())
    }

    /// Starts the journal reader at max(DB position, now − findtime).
    /// `after`: the position a replaced reader reached (it may be ahead of the DB).
    fn start_journal(
        &self,
        opts: &crate::journal::options::JournalOptions,
        after: Option<u64>,
    ) -> Result<(), String> {
        use crate::journal::follow::{DB_PATH, FollowConfig, Follower};
        let saved = match &self.db {
            Some(db) => db.journal_pos(&self.name, DB_PATH).unwrap_or_else(|e| {
                crate::flog!(ERROR, "database", "{e}");
                None
            }),
            None => None,
        };
        let f = lock(&self.filter);
        let cfg = FollowConfig {
            jail: self.name.clone(),
            options: opts.clone(),
            matches: f.journalmatch.clone(),
            findtime: f.fm.findtime,
            saved_usec: saved.map(|s| (s * 1e6).round() as u64).max(after),
            encoding: f.logencoding.clone(),
        };
        drop(f);
        let fo = Follower::spawn(cfg, self.events.sender())?;
        *lock(&self.follower) = Some(fo);
        Ok(())
    }

    fn restore_bans(&self) {
        let Some(db) = &self.db else { return };
        let core = lock(&self.acts);
        let rows = core.restore_query(db, now());
        let mut f = lock(&self.filter);
        let mut tickets = Vec::new();
        for row in rows {
            let ip = IpAddr::parse(&row.ip).ok();
            let t = bans::ticket_from_record(&row, ip);
            if let Some(cause) = check_ignore(&mut f, &t) {
                if let Some(text) = cause.log_text(&self.name, &t.fid) {
                    crate::flog!(INFO, "filter", "{text}");
                }
                continue;
            }
            tickets.push(t);
        }
        drop(f);
        drop(core);
        // As fail2ban queues them: the actions thread bans them, so a large restore
        // neither holds the server lock nor delays the next jail's start.
        for t in tickets {
            self.send_ticket(t);
        }
    }

    /// Queues a ticket for the actions thread (started first when the jail runs).
    fn send_ticket(&self, t: Ticket) {
        if let Some(r) = &self.running {
            r.actions.ensure();
        }
        let _ = self.tickets.0.send(t);
    }

    /// Signals the threads to end (first half of a stop; see [`Jail::join`]).
    pub fn signal_stop(&self) {
        if let Some(r) = &self.running {
            r.stop.store(true, Ordering::Relaxed);
            r.actions.wake_if_started();
        }
    }

    /// Joins the threads, flushes the bans through the actions, runs `actionstop`.
    pub fn join(&mut self) {
        let readers = std::mem::take(&mut *lock(&self.readers));
        for rd in readers {
            let p = rd.path().to_string_lossy().into_owned();
            rd.stop();
            crate::flog!(
                INFO,
                "filter",
                "Removed logfile: {}",
                crate::stream::py_str_repr(&p)
            );
        }
        if let Some(fo) = lock(&self.follower).take() {
            let _ = fo.stop();
        }
        let Some(r) = self.running.take() else { return };
        r.stop.store(true, Ordering::Relaxed);
        r.actions.wake_if_started();
        *lock(&self.events.task) = None;
        r.task.finish();
        r.actions.join();
        let mut core = lock(&self.acts);
        core.set_waker(None);
        core.flush_all(true);
        core.actions.stop();
        drop(core);
        if let Some(db) = &self.db
            && let Err(e) = db.del_jail(&self.name)
        {
            crate::flog!(ERROR, "database", "{e}");
        }
        crate::flog!(INFO, "jail", "Jail '{}' stopped", self.name);
    }

    /// `set J attempt IP [lines…]`: counts failures now.
    pub fn attempt(&self, ip: &str, lines: Vec<String>) -> Result<i64, String> {
        let t = now();
        let addr = IpAddr::parse(ip).map_err(|e| e.to_string())?;
        let count = u32::try_from(lines.len().max(1)).unwrap_or(1);
        let mut tk = Ticket::new(addr.ntoa(), Some(addr), t);
        tk.matches = lines;
        crate::flog!(
            INFO,
            "filter",
            "[{}] Attempt {} - {}",
            self.name,
            ip,
            time2str(t)
        );
        let mut f = lock(&self.filter);
        if let Some(ban) = f.fm.add_failure(tk, count, t) {
            self.send_ticket(ban);
        }
        drop(f);
        // Failures may be pending now: they need the idle cleanup.
        if let Some(r) = &self.running {
            r.task.arm_cleanup();
        }
        Ok(1)
    }
}

/// SHA-1 of the file's first line ("" when it has no complete first line).
fn first_line_of(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::BufRead;
    let f = std::fs::File::open(path)?;
    let mut line = Vec::new();
    std::io::BufReader::new(f).read_until(b'\n', &mut line)?;
    Ok(crate::server::db::first_line_hash(&line).unwrap_or_default())
}

/// What a filter worker needs of a running jail.
struct FilterCtx {
    name: String,
    filter: Arc<Mutex<FilterState>>,
    tickets: TicketSink,
    events: Receiver<ReadEvent>,
    stop: Arc<AtomicBool>,
    db: Option<Arc<Database>>,
}

mod actions_thread;
mod lines;
mod pool;
use actions_thread::{ActionsThread, TicketSink};
use lines::{LineClock, process_line};
pub use pool::blocking;
use pool::{PendingPos, Task};

/// One read event of a jail, on a filter worker: its lines through the matcher (unless
/// the jail is idle), then the log and the positions.
fn handle_event(ctx: &FilterCtx, positions: &mut PendingPos, ev: ReadEvent) {
    // Each event starts with a fresh reading (it may have waited).
    let mut clock = LineClock::new();
    // Lines were matched (an open error matches none: nothing to build or give back).
    let worked = !matches!(ev, ReadEvent::Error { .. });
    match ev {
        ReadEvent::Lines {
            path,
            lines,
            pos,
            hash,
            in_operation,
        } => {
            {
                let mut f = lock(&ctx.filter);
                if !f.idle {
                    for line in &lines {
                        let t_now = clock.now();
                        process_line(ctx, &mut f, line, None, in_operation, t_now);
                    }
                }
            }
            if ctx.db.is_some() {
                positions.note(path, pos, hash);
            }
        }
        ReadEvent::Journal {
            lines,
            in_operation,
        } => {
            {
                let mut f = lock(&ctx.filter);
                if !f.idle {
                    for l in &lines {
                        let at = Some((l.time_text.as_str(), l.time));
                        let t_now = clock.now();
                        process_line(ctx, &mut f, &l.line, at, in_operation, t_now);
                    }
                }
            }
            if let (Some(db), Some(last)) = (&ctx.db, lines.last())
                && let Err(e) = db.update_journal(
                    &ctx.name,
                    crate::journal::follow::DB_PATH,
                    last.pos_usec as f64 / 1e6,
                    last.time_text.trim_end(),
                )
            {
                crate::flog!(ERROR, "database", "{e}");
            }
        }
        ReadEvent::Error { path, message } => {
            crate::flog!(
                ERROR,
                "filter",
                "Unable to open {}: {message}",
                path.display()
            );
        }
    }
    crate::server::log::flush();
    positions.flush(ctx, false);
    if worked {
        // After the event's lines, whose tickets are on their way: the first lines
        // of a jail do not wait for the scans, and a burst gets them after its
        // first batch.
        if let Some(m) = lock(&ctx.filter).matcher.as_mut() {
            m.prepare_scans();
        }
        crate::server::memtrim::after_activity();
    }
}

/// The ignore decision for a ticket: ignoreself, ignoreip, ignorecommand (run through the
/// shell with the ticket's tags; exit 0 = ignore, 1 = not), ignorecache.
fn check_ignore(f: &mut FilterState, t: &Ticket) -> Option<crate::server::ignore::IgnoreCause> {
    let command = f.ignore.command().map(str::to_string);
    let run = |t: &Ticket| -> Result<bool, String> {
        let Some(cmd) = &command else {
            return Ok(false);
        };
        let tags = TicketTags { t, bantime: 0 };
        let p = crate::server::action::replace_dynamic_tags(cmd, &tags);
        crate::flog!(DEBUG, "filter", "ignore command: {}", p.script);
        let r =
            blocking(|| crate::server::action::execute_codes(&p, Duration::from_secs(60), &[0, 1]));
        match r.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            other => Err(format!("ignorecommand failed with {other:?}")),
        }
    };
    let key = |tmpl: &str, t: &Ticket| -> String {
        let tags = TicketTags { t, bantime: 0 };
        let p = crate::server::action::replace_dynamic_tags(tmpl, &tags);
        if p.args.is_empty() {
            p.script
        } else {
            format!("{}{}", p.script, p.args.join("\u{0}"))
        }
    };
    let hooks = IgnoreHooks {
        command: &run,
        cache_key: &key,
    };
    f.ignore.is_ignored(t, now(), &hooks)
}

/// Dynamic tags of a ticket for actions and ignorecommand.
pub struct TicketTags<'a> {
    pub t: &'a Ticket,
    pub bantime: i64,
}

impl TagSource for TicketTags<'_> {
    fn get(&self, tag: &str) -> Option<String> {
        let t = self.t;
        Some(match tag {
            "ip" => {
                t.ip.as_ref()
                    .map(|i| i.ntoa())
                    .unwrap_or_else(|| t.fid.clone())
            }
            "fid" => t.fid.clone(),
            "family" => crate::server::action::Family::from(t.ip.as_ref().and_then(|i| i.family()))
                .tag_value()
                .to_string(),
            "failures" => t.failures.to_string(),
            "time" => crate::stream::py_float_repr(t.time),
            "bantime" => t.bantime_text(self.bantime),
            "bancount" => t.bancount.to_string(),
            "restored" => u8::from(t.restored).to_string(),
            "matches" | "ipmatches" | "ipjailmatches" => t.matches.join("\n"),
            "ipfailures" | "ipjailfailures" => t.failures.to_string(),
            _ => return None,
        })
    }

    fn data(&self, key: &str) -> Option<String> {
        self.t
            .data
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.to_py_str())
    }
}
