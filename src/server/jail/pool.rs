//! The filter workers: threads shared by the filter side of every jail, in place of a
//! thread per jail. An idle thread still costs its stack and, with mimalloc, heap pages
//! of its own (about 40 KiB resident each: 2 MiB with 50 jails), while log lines come in
//! bursts and seldom for many jails at once.
//!
//! A running jail is a [`Task`]. After each event a reader queues, its hook calls
//! [`Task::schedule`], which puts the task on the ready queue unless it is there or
//! being run already. A worker takes it and handles its waiting events, at most
//! [`BUDGET`] before it goes to the back of the queue (one busy jail cannot starve the
//! others). So a jail's events are handled in order, by one worker at a time.
//!
//! Workers start when work finds none idle, up to `Pool::base` (the CPU count, at most
//! 4): matching is CPU work, more threads would not make it faster. A worker about to
//! wait (an `ignorecommand`, a DNS lookup: [`blocking`]) first starts another when
//! fewer than `base` would be left, so one jail's wait never holds up the others; the
//! extra workers end after [`EXTRA_IDLE`] without work.
//!
//! Timers: a jail with failures pending has the expired ones cleaned up while its log
//! is quiet, every [`IDLE_CLEANUP`] seconds; idle workers wait on the queue until the
//! earliest such time.

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, OnceLock, TryLockError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, unbounded};

use super::{FilterCtx, handle_event, lock, now};

/// Seconds between cleanups of expired failures while the jail reads nothing.
const IDLE_CLEANUP: f64 = 5.0;
/// Events a worker handles for one jail before it takes the next jail in the queue.
pub(super) const BUDGET: usize = 8;
/// How long a worker beyond the base count waits for work before it ends.
const EXTRA_IDLE: Duration = Duration::from_secs(10);
/// Workers at most (all but `base` of them are waiting on a command or a lookup).
const MAX_WORKERS: usize = 64;

thread_local! {
    /// This thread is a filter worker.
    static WORKER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, which may wait long (a command, a DNS lookup). On a filter worker another
/// worker is started first when fewer than the base count would be left to run the
/// other jails' events.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    if !WORKER.with(Cell::get) {
        return f();
    }
    let p = pool();
    p.blocked.fetch_add(1, Ordering::SeqCst);
    if p.free(*lock(&p.workers)) < p.base {
        p.spawn_worker();
    }
    let r = f();
    p.blocked.fetch_sub(1, Ordering::SeqCst);
    r
}

/// Matching recurses little (the regex engines keep their state on the heap).
const WORKER_STACK: usize = 1 << 20;

/// The filter side of a running jail, as the workers see it.
pub(super) struct Task {
    ctx: FilterCtx,
    /// On the ready queue or being run: a reader's hook then queues nothing.
    queued: AtomicBool,
    /// Held while a worker handles the events (and by [`Task::finish`]).
    run: Mutex<RunState>,
}

#[derive(Default)]
struct RunState {
    positions: PendingPos,
    /// The jail stopped: no event is handled any more.
    finished: bool,
}

impl Task {
    pub(super) fn new(ctx: FilterCtx) -> Arc<Task> {
        Arc::new(Task {
            ctx,
            queued: AtomicBool::new(false),
            run: Mutex::new(RunState::default()),
        })
    }

    /// Queues the task for a worker, unless it is queued or running (that run looks
    /// at the channel again before it lets the task go).
    pub(super) fn schedule(self: &Arc<Self>) {
        // Pairs with the fence in `run`: either this sees the task let go, or that
        // run sees the event just sent.
        fence(Ordering::SeqCst);
        if !self.queued.swap(true, Ordering::SeqCst) {
            pool().push(Job::Run(self.clone()));
        }
    }

    /// Queues the task when events wait (ones read before the jail started).
    pub(super) fn schedule_if_waiting(self: &Arc<Self>) {
        if !self.ctx.events.is_empty() {
            self.schedule();
        }
    }

    /// Sets the cleanup timer when failures are pending (after a run; after `attempt`).
    pub(super) fn arm_cleanup(self: &Arc<Self>) {
        let f = lock(&self.ctx.filter);
        if f.fm.size() == 0 {
            return;
        }
        let due = f.last_cleanup + IDLE_CLEANUP;
        drop(f);
        pool().set_timer(self, due);
    }

    /// Ends the task once the jail's stop flag is set: waits for a worker handling it,
    /// stores the positions read; no event is handled after this returns.
    pub(super) fn finish(self: &Arc<Self>) {
        let mut st = lock(&self.run);
        st.finished = true;
        st.positions.flush(&self.ctx, true);
        drop(st);
        pool().drop_timer(self);
    }

    fn stopped(&self) -> bool {
        self.ctx.stop.load(Ordering::Relaxed)
    }

    /// A worker's turn: up to [`BUDGET`] events, then the task is let go (and queued
    /// again when more wait).
    fn run(self: &Arc<Self>) {
        let mut st = lock(&self.run);
        if !st.finished {
            for _ in 0..BUDGET {
                if self.stopped() {
                    break;
                }
                let Ok(ev) = self.ctx.events.try_recv() else {
                    break;
                };
                handle_event(&self.ctx, &mut st.positions, ev);
            }
        }
        let live = !st.finished && !self.stopped();
        drop(st);
        self.queued.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !live {
            return;
        }
        if !self.ctx.events.is_empty() {
            self.schedule();
        } else {
            self.arm_cleanup();
        }
    }

    /// The idle cleanup of expired failures. A task being run is left to its run,
    /// which sets the timer again when it ends.
    fn cleanup(self: &Arc<Self>) {
        let st = match self.run.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if st.finished || self.stopped() {
            return;
        }
        let mut f = lock(&self.ctx.filter);
        let t = now();
        f.fm.cleanup(t);
        f.last_cleanup = t;
        let pending = f.fm.size() > 0;
        drop(f);
        drop(st);
        if pending {
            pool().set_timer(self, t + IDLE_CLEANUP);
        }
    }
}

enum Job {
    Run(Arc<Task>),
    /// An earlier timer was set: a waiting worker works out its timeout again.
    Tick,
}

struct Pool {
    tx: Sender<Job>,
    rx: Receiver<Job>,
    /// When each task with failures pending is due for a cleanup (epoch seconds).
    timers: Mutex<Vec<(f64, Arc<Task>)>>,
    workers: Mutex<usize>,
    idle: AtomicUsize,
    /// Workers inside [`blocking`].
    blocked: AtomicUsize,
    /// Workers that run jails' events at once (and stay when idle).
    base: usize,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let (tx, rx) = unbounded();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Pool {
            tx,
            rx,
            timers: Mutex::new(Vec::new()),
            workers: Mutex::new(0),
            idle: AtomicUsize::new(0),
            blocked: AtomicUsize::new(0),
            base: cpus.clamp(1, 4),
        }
    })
}

impl Pool {
    fn push(&'static self, job: Job) {
        let _ = self.tx.send(job);
        if self.idle.load(Ordering::SeqCst) == 0 && self.free(*lock(&self.workers)) < self.base {
            self.spawn_worker();
        }
    }

    fn spawn_worker(&'static self) {
        let mut n = lock(&self.workers);
        if *n >= MAX_WORKERS {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name(format!("f2b/filter.{}", *n))
            .stack_size(WORKER_STACK)
            .spawn(move || self.work());
        match spawned {
            Ok(_) => *n += 1,
            // The workers running (if any) take the job in time.
            Err(e) => crate::flog!(ERROR, "jail", "Unable to start a filter thread: {e}"),
        }
    }

    fn work(&'static self) {
        WORKER.with(|w| w.set(true));
        let mut last_run = Instant::now();
        loop {
            // Idle before the timers are read: a timer set meanwhile sends a Tick.
            self.idle.fetch_add(1, Ordering::SeqCst);
            let wait = self
                .next_due()
                .map(|d| (d - now()).clamp(0.0, IDLE_CLEANUP));
            let got = match wait {
                // A worker of the base count without timers sleeps until there is work:
                // an idle daemon has no wake-ups.
                None if !self.beyond_base() => {
                    self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
                }
                _ => {
                    let w = wait.map_or(EXTRA_IDLE, Duration::from_secs_f64);
                    self.rx.recv_timeout(w.min(EXTRA_IDLE))
                }
            };
            self.idle.fetch_sub(1, Ordering::SeqCst);
            match got {
                Ok(Job::Run(task)) => {
                    // A bug in one jail's matching must not end the worker of all jails.
                    let run = std::panic::AssertUnwindSafe(|| task.run());
                    if std::panic::catch_unwind(run).is_err() {
                        crate::flog!(
                            ERROR,
                            "jail",
                            "[{}] Filter failed on an event; its lines were skipped",
                            task.ctx.name
                        );
                        task.queued.store(false, Ordering::SeqCst);
                    }
                    last_run = Instant::now();
                }
                Ok(Job::Tick) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            for task in self.take_due(now()) {
                task.cleanup();
            }
            // Timers alone do not keep an extra worker: the base ones run them.
            if last_run.elapsed() >= EXTRA_IDLE && self.retire() {
                return;
            }
        }
    }

    /// Of `workers`, those free to run events (not waiting in [`blocking`]).
    fn free(&self, workers: usize) -> usize {
        workers.saturating_sub(self.blocked.load(Ordering::SeqCst))
    }

    /// More workers than the base count are free to run events.
    fn beyond_base(&self) -> bool {
        self.free(*lock(&self.workers)) > self.base
    }

    /// Ends this worker when more than the base count are left without it.
    fn retire(&self) -> bool {
        let mut n = lock(&self.workers);
        if self.free(*n) <= self.base {
            return false;
        }
        *n -= 1;
        true
    }

    fn set_timer(&self, task: &Arc<Task>, due: f64) {
        let mut timers = lock(&self.timers);
        let earliest = timers.iter().map(|e| e.0).fold(f64::INFINITY, f64::min);
        match timers.iter_mut().find(|e| Arc::ptr_eq(&e.1, task)) {
            Some(e) => e.0 = e.0.min(due),
            None => timers.push((due, task.clone())),
        }
        drop(timers);
        // Only an idle worker needs it: a busy one looks at the timers when it is done.
        if due < earliest && self.idle.load(Ordering::SeqCst) > 0 {
            let _ = self.tx.send(Job::Tick);
        }
    }

    fn drop_timer(&self, task: &Arc<Task>) {
        lock(&self.timers).retain(|e| !Arc::ptr_eq(&e.1, task));
    }

    fn next_due(&self) -> Option<f64> {
        lock(&self.timers).iter().map(|e| e.0).reduce(f64::min)
    }

    fn take_due(&self, t: f64) -> Vec<Arc<Task>> {
        let mut timers = lock(&self.timers);
        if !timers.iter().any(|e| e.0 <= t) {
            return Vec::new();
        }
        let (due, rest) = std::mem::take(&mut *timers)
            .into_iter()
            .partition::<Vec<_>, _>(|e| e.0 <= t);
        *timers = rest;
        due.into_iter().map(|e| e.1).collect()
    }
}

/// Log positions read but not yet stored. While events queue up (a burst of lines) only
/// the newest position per log is stored, once the queue is drained or every
/// [`POS_EVERY`]: one DB transaction per burst rather than one per read.
#[derive(Default)]
pub(super) struct PendingPos {
    logs: Vec<(PathBuf, u64, String)>,
    since: Option<Instant>,
}

const POS_EVERY: Duration = Duration::from_secs(1);

impl PendingPos {
    pub(super) fn note(&mut self, path: PathBuf, pos: u64, hash: String) {
        match self.logs.iter_mut().find(|l| l.0 == path) {
            Some(l) => (l.1, l.2) = (pos, hash),
            None => self.logs.push((path, pos, hash)),
        }
        self.since.get_or_insert_with(Instant::now);
    }

    /// Stores the positions when nothing more is queued (or they waited long enough).
    pub(super) fn flush(&mut self, ctx: &FilterCtx, force: bool) {
        let due = self.since.is_some_and(|t| t.elapsed() >= POS_EVERY);
        if !(force || due || ctx.events.is_empty()) {
            return;
        }
        self.since = None;
        for (path, pos, hash) in self.logs.drain(..) {
            if let Some(db) = &ctx.db
                && let Err(e) = db.update_log(
                    &ctx.name,
                    &path.to_string_lossy(),
                    i64::try_from(pos).unwrap_or(i64::MAX),
                    &hash,
                )
            {
                crate::flog!(ERROR, "database", "{e}");
            }
        }
    }
}
