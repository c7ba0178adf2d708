//! The reader hub: one thread (`f2b/reader`) reads the log files of all jails, instead of
//! one thread per file (each thread costs its own stack and allocator heap).
//!
//! Data flow: `FileReader::spawn` opens the file and sends [`Cmd::Add`] with the
//! [`Entry`] (file + the jail's sending side); the hub keeps a [`Slot`] per file with its
//! watch state (`watch::Poll` or `watch::Notify`, all sharing one inotify instance) and
//! sleeps on the inotify descriptor and its [`Wake`] eventfd until the earliest timer.
//! `FileReader::stop` sends [`Cmd::Remove`] and waits for the acknowledgement, after
//! which that file sends nothing more. Jails' channels are unbounded, so a send never
//! blocks the hub on one slow jail; instead a file whose jail has a few batches waiting
//! is paused and looked at again shortly (`Pass::Busy`), which bounds what a burst holds
//! in memory.

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, unbounded};
use inotify::{EventMask, WatchDescriptor};

use super::Backend;
use super::file::{LogFile, Out};
use super::watch::{Notify, Poll, Wake, Watches};
use crate::flog;

/// A file handed to the hub.
pub(super) struct Entry {
    pub id: u64,
    pub log: LogFile,
    pub out: Out,
    pub backend: Backend,
}

pub(super) enum Cmd {
    Add(Box<Entry>),
    /// Stop reading file `id`; the sender is dropped once it is gone.
    Remove(u64, Sender<()>),
}

/// The running hub: its command channel and the eventfd that wakes it.
pub(super) struct Hub {
    tx: Sender<Cmd>,
    wake: Arc<Wake>,
}

static HUB: OnceLock<Result<Hub, String>> = OnceLock::new();

impl Hub {
    /// The hub, started on first use (the error when its thread could not start).
    pub fn get() -> Result<&'static Hub, String> {
        HUB.get_or_init(start).as_ref().map_err(Clone::clone)
    }

    /// Sends a command and wakes the hub; false when the hub is gone.
    pub fn send(&self, cmd: Cmd) -> bool {
        let ok = self.tx.send(cmd).is_ok();
        self.wake.wake();
        ok
    }
}

fn start() -> Result<Hub, String> {
    let wake = Arc::new(Wake::new().map_err(|e| e.to_string())?);
    let (tx, rx) = unbounded();
    let w2 = wake.clone();
    std::thread::Builder::new()
        .name("f2b/reader".into())
        // Reading and decoding lines needs little stack.
        .stack_size(256 << 10)
        .spawn(move || run(rx, w2))
        .map_err(|e| e.to_string())?;
    Ok(Hub { tx, wake })
}

enum Kind {
    Poll(Poll),
    Notify(Notify),
}

struct Slot {
    id: u64,
    log: LogFile,
    out: Out,
    kind: Kind,
}

impl Slot {
    fn new(e: Entry, watches: Option<&mut Watches>) -> Slot {
        let kind = match (e.backend, watches) {
            (Backend::Inotify, Some(w)) => Kind::Notify(Notify::start(&e.log, w)),
            _ => Kind::Poll(Poll::new()),
        };
        Slot {
            id: e.id,
            log: e.log,
            out: e.out,
            kind,
        }
    }

    /// Timers and due passes; false when the file leaves the hub.
    fn service(&mut self, watches: Option<&mut Watches>, now: Instant) -> bool {
        if self.out.stopped() {
            return false;
        }
        match (&mut self.kind, watches) {
            (Kind::Poll(p), _) => now < p.next || p.step(&mut self.log, &self.out),
            (Kind::Notify(n), Some(w)) => {
                n.tick(w, now);
                n.run(&mut self.log, &self.out, w)
            }
            // Notify slots exist only with an inotify instance.
            (Kind::Notify(_), None) => false,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match &self.kind {
            Kind::Poll(p) => Some(p.next),
            Kind::Notify(n) if n.dirty => Some(Instant::now()),
            Kind::Notify(n) => n.deadline(),
        }
    }

    fn release(&mut self, watches: Option<&mut Watches>) {
        if let (Kind::Notify(n), Some(w)) = (&mut self.kind, watches) {
            n.release(w);
        }
    }
}

fn run(rx: Receiver<Cmd>, wake: Arc<Wake>) {
    let mut watches = match Watches::new() {
        Ok(w) => Some(w),
        Err(e) => {
            flog!(
                ERROR,
                "filterpyinotify",
                "Cannot use inotify ({}), polling instead",
                e
            );
            None
        }
    };
    let mut slots: Vec<Slot> = Vec::new();
    let mut buf = [0u8; 4096];
    let mut events: Vec<(WatchDescriptor, EventMask, Option<OsString>)> = Vec::new();
    // The hub lives as long as the process: its wake-up always works.
    let nudge = wake.clone();
    let mut trims = crate::server::memtrim::TrimCursor::register(move || {
        nudge.wake();
        true
    });
    loop {
        trims.collect_if_due();
        while let Ok(cmd) = rx.try_recv() {
            match cmd {
                Cmd::Add(e) => slots.push(Slot::new(*e, watches.as_mut())),
                Cmd::Remove(id, ack) => {
                    if let Some(i) = slots.iter().position(|s| s.id == id) {
                        slots.remove(i).release(watches.as_mut());
                    }
                    drop(ack);
                }
            }
        }
        let now = Instant::now();
        slots.retain_mut(|s| {
            let keep = s.service(watches.as_mut(), now);
            if !keep {
                s.release(watches.as_mut());
            }
            keep
        });
        let timeout = slots
            .iter()
            .filter_map(Slot::deadline)
            .min()
            .map(|d| d.saturating_duration_since(Instant::now()));
        let fd = watches.as_ref().map(|w| w.inotify.as_raw_fd());
        let (woken, ready) = wake.wait(fd, timeout);
        if woken {
            wake.clear();
        }
        let Some(w) = watches.as_mut().filter(|_| ready) else {
            continue;
        };
        // Drain the queue; the events are copied out since reading borrows the instance.
        loop {
            events.clear();
            match w.inotify.read_events(&mut buf) {
                Ok(evs) => {
                    for ev in evs {
                        events.push((ev.wd, ev.mask, ev.name.map(OsString::from)));
                    }
                }
                Err(_) => break, // WouldBlock: drained
            }
            if events.is_empty() {
                break;
            }
            for (wd, mask, name) in &events {
                for s in slots.iter_mut() {
                    if let Kind::Notify(n) = &mut s.kind {
                        if mask.contains(EventMask::Q_OVERFLOW) {
                            n.changed();
                        } else {
                            n.event(wd, *mask, name.as_deref());
                        }
                    }
                }
                w.after_event(wd, *mask);
            }
        }
        for s in slots.iter_mut() {
            if let Kind::Notify(n) = &mut s.kind {
                n.end_batch();
            }
        }
    }
}
