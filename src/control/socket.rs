//! The server side of the control socket: [`SocketServer`] binds fail2ban's Unix socket
//! and serves clients; each decoded command list goes to a [`Handler`].
//!
//! Data flow: bytes from a connection → [`FrameSplitter`] → [`wire::decode_request`]
//! (data-only pickle, never calls anything) → `Handler::handle` → `(0, value)` /
//! `(1, exception)` pickled back. A message that does not unpickle is logged as
//! fail2ban does (`PROTO-error: load message failed: …`) and answered with a bare
//! `'ERROR: …'` string.
//!
//! One thread runs a `poll(2)` loop over the listener, a wake-up pair and every
//! connection, so idle clients cost one fd and a small buffer, not a thread. Commands run
//! one at a time on that thread, as in fail2ban. Bounds ([`Limits`]): a connection cap
//! (at the cap the longest-idle connection is closed to make room, so idle clients cannot
//! starve the server), a per-message size cap (the sender gets an error and is
//! disconnected), a cap on all buffered input together, and backpressure on output (a
//! client that does not read its replies is not read from either).

use super::pickle::ExcReply;
use super::wire::{self, Frame, FrameSplitter};
use crate::stream::Value;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

/// What the server implements; the socket calls it for each decoded command list.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, command: Vec<Value>) -> Result<Value, ExcReply>;
}

/// Why the socket could not be started. `Display` is the text fail2ban shows after
/// `Could not start server: `.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The socket file exists and `force` was not given.
    #[error("Server already running")]
    AlreadyRunning,
    /// The stale socket file could not be removed (with `force`).
    #[error("Unable to remove socket {0}: {1}")]
    Remove(String, io::Error),
    /// The parent directory is missing and could not be created.
    #[error("Unable to create socket directory {0}: {1}")]
    Dir(String, io::Error),
    #[error("Unable to bind socket {0}")]
    Bind(String, io::Error),
    /// Setting up the listener or its thread failed.
    #[error("Unable to start socket {0}: {1}")]
    Setup(String, io::Error),
}

/// Resource bounds of one [`SocketServer`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once (further ones push out the longest-idle one).
    pub max_connections: usize,
    /// Largest single message (pickle) a client may send.
    pub max_message: usize,
    /// Input buffered over all connections; past it the biggest buffer is dropped.
    pub max_buffered: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            max_message: wire::DEFAULT_MAX_MESSAGE,
            max_buffered: 256 << 20,
        }
    }
}

/// A running control socket; [`SocketServer::stop`] (or drop) shuts it down.
pub struct SocketServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    wake: UnixStream,
    thread: Option<JoinHandle<()>>,
    loop_id: ThreadId,
}

impl SocketServer {
    /// Binds `path` (parent dir created, mode srwx------, stale-socket rules with
    /// `force`) and serves on its own thread until `stop`.
    pub fn start(
        path: &Path,
        force: bool,
        handler: Arc<dyn Handler>,
    ) -> Result<SocketServer, SocketError> {
        Self::start_with(path, force, handler, Limits::default())
    }

    /// [`SocketServer::start`] with explicit bounds.
    pub fn start_with(
        path: &Path,
        force: bool,
        handler: Arc<dyn Handler>,
        limits: Limits,
    ) -> Result<SocketServer, SocketError> {
        let shown = path.display().to_string();
        let listener = bind(path, force)?;
        let setup = |e: io::Error| SocketError::Setup(shown.clone(), e);
        listener.set_nonblocking(true).map_err(setup)?;
        let (wake_rx, wake) = UnixStream::pair().map_err(setup)?;
        wake_rx.set_nonblocking(true).map_err(setup)?;
        wake.set_nonblocking(true).map_err(setup)?;
        // Serving clients (a `start` or `reload` stream) leaves this thread's free
        // heap to give back (see `memtrim::TrimCursor`).
        let trims = wake
            .try_clone()
            .ok()
            .map(|w| crate::server::memtrim::TrimCursor::register(move || nudge_loop(&w)));
        let stop = Arc::new(AtomicBool::new(false));
        let mut lp = EventLoop {
            listener,
            wake: wake_rx,
            conns: Vec::new(),
            handler,
            limits: clamp_to_fd_limit(limits),
            stop: stop.clone(),
            path: path.to_path_buf(),
            trims,
        };
        let thread = thread::Builder::new()
            .name("f2b/socket".into())
            .spawn(move || lp.run())
            .map_err(|e| {
                let _ = std::fs::remove_file(path);
                setup(e)
            })?;
        let loop_id = thread.thread().id();
        Ok(SocketServer {
            path: path.to_path_buf(),
            stop,
            wake,
            thread: Some(thread),
            loop_id,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True while the serving thread runs.
    pub fn is_active(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Closes every connection (after flushing pending replies briefly) and removes the
    /// socket file. From inside a handler call (the loop's own thread) it only asks the
    /// loop to end after the current command; the file is removed when it does.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = (&self.wake).write(&[1]);
        if let Some(t) = self.thread.take() {
            if thread::current().id() == self.loop_id {
                return;
            }
            let _ = t.join();
        }
    }
}

impl Drop for SocketServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Stale-socket rules, parent directory, bind under a private umask, mode 0700.
fn bind(path: &Path, force: bool) -> Result<UnixListener, SocketError> {
    let shown = path.display().to_string();
    // `exists` follows symlinks, like fail2ban's os.path.exists.
    if path.exists() {
        crate::flog!(ERROR, "asyncserver", "Fail2ban seems to be already running");
        if !force {
            return Err(SocketError::AlreadyRunning);
        }
        crate::flog!(WARNING, "asyncserver", "Forcing execution of the server");
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(SocketError::Remove(shown, e)),
        }
    }
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        // Only the last level, as fail2ban does.
        std::fs::create_dir(dir).map_err(|e| SocketError::Dir(dir.display().to_string(), e))?;
    }
    // SAFETY: umask only swaps the process file-creation mask; it cannot fail.
    let old = unsafe { libc::umask(0o077) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let listener = bound.map_err(|e| SocketError::Bind(shown.clone(), e))?;
    // The umask already gave 0700; be explicit in case the caller's umask was odd.
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)) {
        let _ = std::fs::remove_file(path);
        return Err(SocketError::Setup(shown, e));
    }
    Ok(listener)
}

/// Keep the connection cap well under the process's open-file limit, so accept never
/// runs out of descriptors that the rest of the server needs.
fn clamp_to_fd_limit(mut l: Limits) -> Limits {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } == 0 {
        let soft = usize::try_from(rl.rlim_cur).unwrap_or(usize::MAX);
        let room = soft.saturating_sub(soft / 4).max(8);
        l.max_connections = l.max_connections.min(room);
    }
    l.max_connections = l.max_connections.max(1);
    l
}

struct Conn {
    stream: UnixStream,
    split: FrameSplitter,
    out: Vec<u8>,
    out_pos: usize,
    last: Instant,
    /// Close once `out` is flushed (CLOSE command, or an oversized message).
    closing: bool,
    dead: bool,
}

impl Conn {
    fn has_output(&self) -> bool {
        self.out_pos < self.out.len()
    }
}

struct EventLoop {
    listener: UnixListener,
    wake: UnixStream,
    conns: Vec<Conn>,
    handler: Arc<dyn Handler>,
    limits: Limits,
    stop: Arc<AtomicBool>,
    path: PathBuf,
    /// This thread's part in the memory trims (None: its wake-up could not be made).
    trims: Option<crate::server::memtrim::TrimCursor>,
}

/// Most bytes read from one connection per loop turn (fairness).
const READ_TURN: usize = 1 << 20;
/// Stop taking new commands from a connection while this much output is unsent.
const OUT_HIGH: usize = 1 << 20;

/// Wakes a serving loop for a trim (see `memtrim::TrimCursor`); false once the loop has
/// ended (its end of the pair is closed). A full pair means a wake-up is pending.
fn nudge_loop(wake: &UnixStream) -> bool {
    // SAFETY: sends one byte from a live buffer on our own socket; MSG_NOSIGNAL turns a
    // closed peer into EPIPE rather than a signal.
    let n = unsafe {
        libc::send(
            wake.as_raw_fd(),
            [1u8].as_ptr().cast(),
            1,
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        )
    };
    n == 1 || io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

impl EventLoop {
    fn run(&mut self) {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut accept_pause: Option<Instant> = None;
        while !self.stop.load(Ordering::SeqCst) {
            if let Some(t) = &mut self.trims {
                t.collect_if_due();
            }
            fds.clear();
            fds.push(pollfd(self.wake.as_raw_fd(), libc::POLLIN));
            let accepting = accept_pause.is_none_or(|t| t.elapsed() > Duration::from_millis(50));
            fds.push(pollfd(
                self.listener.as_raw_fd(),
                if accepting { libc::POLLIN } else { 0 },
            ));
            for c in &self.conns {
                let mut ev = 0;
                if !c.closing && c.out.len() - c.out_pos < OUT_HIGH {
                    ev |= libc::POLLIN;
                }
                if c.has_output() {
                    ev |= libc::POLLOUT;
                }
                fds.push(pollfd(c.stream.as_raw_fd(), ev));
            }
            // Idle, the loop sleeps until a client or the wake-up pair (every stop writes
            // to it) has something: no periodic wake-ups.
            let timeout = if accepting { -1 } else { 50 };
            // SAFETY: `fds` is a live, correctly sized array of pollfd for this call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    crate::flog!(ERROR, "asyncserver", "Server connection was closed: {e}");
                    thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            // Serving clients runs code an idle daemon does not: given back once quiet.
            if fds[1..].iter().any(|f| f.revents != 0) {
                crate::server::memtrim::after_activity();
            }
            if fds[0].revents != 0 {
                let mut b = [0u8; 64];
                while matches!((&self.wake).read(&mut b), Ok(k) if k > 0) {}
            }
            // Connections first (their indices match `fds`), then new ones.
            for i in 0..self.conns.len() {
                let re = fds[i + 2].revents;
                if re == 0 {
                    continue;
                }
                if re & libc::POLLOUT != 0 {
                    self.flush(i);
                    let c = &self.conns[i];
                    if !c.has_output() && c.split.pending() > 0 {
                        // Commands held back by backpressure can run now.
                        self.pump(i);
                    }
                }
                if re & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                    self.read(i);
                }
            }
            self.enforce_buffer_budget();
            self.conns.retain(|c| !c.dead);
            if accepting && fds[1].revents != 0 {
                accept_pause = self.accept();
            } else if !accepting {
                accept_pause = accept_pause.filter(|t| t.elapsed() <= Duration::from_millis(50));
            }
        }
        self.finish();
    }

    /// Accepts what is waiting; returns `Some(now)` to pause accepting after running out
    /// of descriptors with nobody to close.
    fn accept(&mut self) -> Option<Instant> {
        for _ in 0..64 {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.conns.len() >= self.limits.max_connections && !self.evict_idle() {
                        // Everyone is busy: this one is turned away (closed).
                        continue;
                    }
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    self.conns.push(Conn {
                        stream,
                        split: FrameSplitter::new(self.limits.max_message),
                        out: Vec::new(),
                        out_pos: 0,
                        last: Instant::now(),
                        closing: false,
                        dead: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    crate::flog!(WARNING, "asyncserver", "Accept socket error: {e}");
                    if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
                        && self.evict_idle()
                    {
                        continue;
                    }
                    return Some(Instant::now());
                }
            }
        }
        None
    }

    /// Closes the connection that has been quiet longest (a live exchange is never
    /// quiet for long); false if there is none.
    fn evict_idle(&mut self) -> bool {
        let victim = self
            .conns
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| c.last)
            .map(|(i, _)| i);
        match victim {
            Some(i) => {
                self.conns.swap_remove(i);
                true
            }
            None => false,
        }
    }

    fn read(&mut self, i: usize) {
        // Requests are small; a larger buffer would only deepen the thread's stack (and
        // its resident pages) under every command it runs.
        let mut buf = [0u8; 8192];
        let mut got = 0;
        loop {
            let c = &mut self.conns[i];
            if c.dead || c.closing || got >= READ_TURN {
                break;
            }
            match (&c.stream).read(&mut buf) {
                Ok(0) => {
                    // The peer is gone; unsent replies have nobody to read them.
                    c.dead = true;
                    break;
                }
                Ok(k) => {
                    got += k;
                    c.last = Instant::now();
                    c.split.feed(&buf[..k]);
                    self.pump(i);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    c.dead = true;
                    break;
                }
            }
        }
    }

    /// Runs every complete command buffered on connection `i` (while its output is
    /// under the high-water mark) and queues the replies.
    fn pump(&mut self, i: usize) {
        loop {
            let c = &mut self.conns[i];
            if c.dead || c.closing || c.out.len() - c.out_pos >= OUT_HIGH {
                break;
            }
            match c.split.next_frame() {
                Ok(None) => break,
                Ok(Some(Frame::Close)) => {
                    c.closing = true;
                }
                Ok(Some(Frame::Message(body))) => {
                    let reply = self.answer(&body);
                    let c = &mut self.conns[i];
                    c.out.extend_from_slice(&reply);
                }
                Err(over) => {
                    crate::flog!(
                        ERROR,
                        "asyncserver",
                        "PROTO-error: load message failed: {over}"
                    );
                    let e = super::pickle::PickleError(over.to_string());
                    c.out.extend_from_slice(&wire::encode_load_error(&e));
                    c.closing = true;
                }
            }
        }
        self.flush(i);
    }

    fn answer(&self, body: &[u8]) -> Vec<u8> {
        let cmd = match wire::decode_request(body) {
            Ok(cmd) => cmd,
            Err(e) => {
                crate::flog!(
                    ERROR,
                    "asyncserver",
                    "PROTO-error: load message failed: {e}"
                );
                return wire::encode_load_error(&e);
            }
        };
        let handler = &self.handler;
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.handle(cmd)));
        match res {
            Ok(r) => wire::encode_reply(r.as_ref()),
            Err(_) => {
                crate::flog!(
                    ERROR,
                    "asyncserver",
                    "Caught unhandled exception: internal error"
                );
                let e = ExcReply::new("builtins", "Exception", "internal error");
                wire::encode_reply(Err(&e))
            }
        }
    }

    fn flush(&mut self, i: usize) {
        let c = &mut self.conns[i];
        while c.has_output() && !c.dead {
            match (&c.stream).write(&c.out[c.out_pos..]) {
                Ok(0) => c.dead = true,
                Ok(k) => {
                    c.out_pos += k;
                    c.last = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => c.dead = true,
            }
        }
        if !c.has_output() {
            c.out.clear();
            c.out_pos = 0;
            if c.closing {
                let _ = c.stream.shutdown(std::net::Shutdown::Both);
                c.dead = true;
            }
        }
    }

    /// Input buffered over all connections stays under `max_buffered`.
    fn enforce_buffer_budget(&mut self) {
        let mut total: usize = self.conns.iter().map(|c| c.split.pending()).sum();
        while total > self.limits.max_buffered {
            let Some((i, _)) = self
                .conns
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.dead)
                .max_by_key(|(_, c)| c.split.pending())
            else {
                break;
            };
            let c = &mut self.conns[i];
            total -= c.split.pending();
            crate::flog!(
                ERROR,
                "asyncserver",
                "PROTO-error: load message failed: too much buffered input, connection closed"
            );
            c.split = FrameSplitter::new(self.limits.max_message);
            c.dead = true;
        }
    }

    /// Gives pending replies (e.g. to `stop`) a moment to leave, then closes everything
    /// and removes the socket file.
    fn finish(&mut self) {
        let deadline = Instant::now() + Duration::from_millis(500);
        for c in &mut self.conns {
            let _ = c.stream.set_nonblocking(false);
            let _ = c.stream.set_write_timeout(Some(Duration::from_millis(100)));
            while c.has_output() && Instant::now() < deadline {
                match (&c.stream).write(&c.out[c.out_pos..]) {
                    Ok(k) if k > 0 => c.out_pos += k,
                    _ => break,
                }
            }
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
        self.conns.clear();
        match std::fs::remove_file(&self.path) {
            Ok(()) => crate::flog!(
                DEBUG,
                "asyncserver",
                "Removed socket file {}",
                self.path.display()
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => crate::flog!(
                ERROR,
                "asyncserver",
                "Unable to remove socket file {}: {e}",
                self.path.display()
            ),
        }
        crate::flog!(DEBUG, "asyncserver", "Socket shutdown");
    }
}

fn pollfd(fd: i32, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}
