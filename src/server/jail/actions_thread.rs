//! A running jail's actions thread, started on demand: by the first ticket the filter
//! sends, the first restored ban, or a ban added from the control socket (`banip`). A
//! jail that never bans keeps no thread for its actions: with many quiet jails, their
//! stacks and allocator heaps were a good part of the server's idle memory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use super::lock;
use crate::server::ticket::Ticket;

/// Spawns the thread (see [`ActionsThread::new`]).
type Starter = Box<dyn FnOnce() -> std::io::Result<JoinHandle<()>> + Send>;

pub(super) struct ActionsThread {
    jail: String,
    /// Set once the start was attempted: the fast path of [`ActionsThread::ensure`].
    started: AtomicBool,
    start: Mutex<Option<Starter>>,
    handle: Mutex<Option<JoinHandle<()>>>,
    /// Wakes the thread from its wait for tickets (full: a wake-up is pending).
    wake: Sender<()>,
}

impl ActionsThread {
    /// `start` spawns the thread; `wake` reaches its wait.
    pub fn new(jail: &str, start: Starter, wake: Sender<()>) -> Arc<ActionsThread> {
        Arc::new(ActionsThread {
            jail: jail.to_string(),
            started: AtomicBool::new(false),
            start: Mutex::new(Some(start)),
            handle: Mutex::new(None),
            wake,
        })
    }

    /// Starts the thread if it has not been started (or stopped) yet.
    pub fn ensure(&self) {
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let mut start = lock(&self.start);
        if let Some(spawn) = start.take() {
            match spawn() {
                Ok(h) => *lock(&self.handle) = Some(h),
                Err(e) => crate::flog!(
                    ERROR,
                    "jail",
                    "[{}] Cannot start the actions thread: {e}",
                    self.jail
                ),
            }
        }
        self.started.store(true, Ordering::Release);
    }

    /// A ban was added from another thread: the thread (started now if need be) has
    /// an unban to time.
    pub fn ensure_and_wake(&self) {
        self.ensure();
        let _ = self.wake.try_send(());
    }

    /// Wakes a started thread (to see the stop flag); starts nothing.
    pub fn wake_if_started(&self) {
        let _ = self.wake.try_send(());
    }

    /// Waits for the thread to end (the caller set the stop flag and woke it); a
    /// thread never started is not started any more.
    pub fn join(&self) {
        drop(lock(&self.start).take());
        self.started.store(true, Ordering::Release);
        let handle = lock(&self.handle).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// Where a jail's tickets go: the actions thread's channel, with the thread started
/// before the first one is sent.
#[derive(Clone)]
pub(super) struct TicketSink {
    pub tx: Sender<Ticket>,
    pub thread: Arc<ActionsThread>,
}

impl TicketSink {
    pub fn send(&self, t: Ticket) {
        self.thread.ensure();
        let _ = self.tx.send(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A thread that counts its starts and reports the first ticket it receives.
    fn counted(
        starts: &Arc<AtomicUsize>,
        got: Sender<String>,
    ) -> (Arc<ActionsThread>, Sender<Ticket>) {
        let (tx, rx) = crossbeam_channel::unbounded::<Ticket>();
        let (wake, _woken) = crossbeam_channel::bounded(1);
        let starts = starts.clone();
        let starter: Starter = Box::new(move || {
            starts.fetch_add(1, Ordering::SeqCst);
            std::thread::Builder::new().spawn(move || {
                if let Ok(t) = rx.recv() {
                    let _ = got.send(t.fid.clone());
                }
            })
        });
        (ActionsThread::new("j", starter, wake), tx)
    }

    #[test]
    fn starts_once_on_the_first_ticket() {
        let starts = Arc::new(AtomicUsize::new(0));
        let (got_tx, got) = crossbeam_channel::unbounded();
        let (thread, tx) = counted(&starts, got_tx);
        assert_eq!(
            starts.load(Ordering::SeqCst),
            0,
            "not started before a ticket"
        );
        let sink = TicketSink {
            tx,
            thread: thread.clone(),
        };
        sink.send(Ticket::new("192.0.2.1", None, 0.0));
        sink.send(Ticket::new("192.0.2.2", None, 0.0));
        thread.ensure_and_wake();
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        let first = got.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(first.as_deref(), Ok("192.0.2.1"));
        thread.join();
    }

    #[test]
    fn a_jail_stopped_before_any_ban_never_starts_it() {
        let starts = Arc::new(AtomicUsize::new(0));
        let (got_tx, _got) = crossbeam_channel::unbounded();
        let (thread, _tx) = counted(&starts, got_tx);
        thread.wake_if_started();
        thread.join();
        thread.ensure();
        assert_eq!(starts.load(Ordering::SeqCst), 0);
    }
}
