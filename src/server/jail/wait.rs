//! The filter thread's waiting and bookkeeping between read events: [`next_event`]
//! (blocks while the jail is idle, runs the cleanup of expired failures when one is due)
//! and [`PendingPos`] (log positions stored once per burst of events).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{FilterCtx, lock, now};
use crate::server::reader::ReadEvent;

/// Seconds between cleanups of expired failures while the jail reads nothing.
const IDLE_CLEANUP: f64 = 5.0;

/// Waits for the next read event. Blocks without a timeout while no failure is
/// pending (an idle jail costs no wake-ups); otherwise runs the cleanup every
/// [`IDLE_CLEANUP`] seconds meanwhile. None: stop (or the channel closed).
pub(super) fn next_event(ctx: &FilterCtx) -> Option<ReadEvent> {
    loop {
        if ctx.stop.load(Ordering::Relaxed) {
            return None;
        }
        let due = {
            let f = lock(&ctx.filter);
            (f.fm.size() > 0).then(|| f.last_cleanup + IDLE_CLEANUP)
        };
        let mut sel = crossbeam_channel::Select::new();
        let ev_idx = sel.recv(&ctx.events);
        sel.recv(&ctx.wake);
        let op = match due {
            None => sel.select(),
            Some(due) => {
                let wait = (due - now()).clamp(0.0, IDLE_CLEANUP);
                match sel.select_timeout(Duration::from_secs_f64(wait)) {
                    Ok(op) => op,
                    Err(_) => {
                        let mut f = lock(&ctx.filter);
                        let t = now();
                        f.fm.cleanup(t);
                        f.last_cleanup = t;
                        continue;
                    }
                }
            }
        };
        if op.index() == ev_idx {
            return op.recv(&ctx.events).ok();
        }
        // A wake-up (stop, or new pending failures); a closed wake channel is a stop.
        if op.recv(&ctx.wake).is_err() {
            return None;
        }
    }
}

/// Log positions read but not yet stored. While events queue up (a burst of lines) only
/// the newest position per log is stored, once the queue is drained or every
/// [`POS_EVERY`]: one DB transaction per burst rather than one per read.
#[derive(Default)]
pub(super) struct PendingPos {
    logs: Vec<(PathBuf, u64, String)>,
    since: Option<std::time::Instant>,
}

const POS_EVERY: Duration = Duration::from_secs(1);

impl PendingPos {
    pub(super) fn note(&mut self, path: PathBuf, pos: u64, hash: String) {
        match self.logs.iter_mut().find(|l| l.0 == path) {
            Some(l) => (l.1, l.2) = (pos, hash),
            None => self.logs.push((path, pos, hash)),
        }
        self.since.get_or_insert_with(std::time::Instant::now);
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
