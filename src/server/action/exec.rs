//! Running one prepared action command as fail2ban does: [`execute`] spawns
//! `/bin/sh -c script args…` in its own process group, captures stdout/stderr, enforces
//! the timeout (SIGTERM to the group, SIGKILL 0.2 s later) and logs the outcome with
//! fail2ban's wording under the `fail2ban.utils` logger. A process-wide lock keeps all
//! action commands of the server strictly one at a time, except for the workers of a
//! restore batch ([`holding_command_lock`]), which run a few at once under one holder.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::PreparedCommand;
use crate::server::log::{LogLevel, emit, enabled};

/// fail2ban serializes every action command of the whole server.
static CMD_LOCK: Mutex<()> = Mutex::new(());

thread_local! {
    /// Set on the worker threads of [`holding_command_lock`]: their holder owns the lock.
    static LOCK_OWNED_BY_BATCH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` holding the server-wide command lock, so that the worker threads `f` starts
/// (each calling [`mark_batch_worker`] first) run their commands while no other command
/// of the server runs. The calling thread must not run a command itself inside `f`.
pub(crate) fn holding_command_lock<R>(f: impl FnOnce() -> R) -> R {
    let _guard = CMD_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    f()
}

/// Marks this thread as a worker of a [`holding_command_lock`] holder: its commands do
/// not take the lock again (the holder has it).
pub(crate) fn mark_batch_worker() {
    LOCK_OWNED_BY_BATCH.with(|c| c.set(true));
}

/// Undoes [`mark_batch_worker`] on a thread that goes on after its holder's batch.
pub(crate) fn unmark_batch_worker() {
    LOCK_OWNED_BY_BATCH.with(|c| c.set(false));
}

/// The server-wide command lock for one run, unless this thread is a batch worker
/// whose holder has it already.
pub(super) fn command_lock() -> Option<std::sync::MutexGuard<'static, ()>> {
    (!LOCK_OWNED_BY_BATCH.with(|c| c.get()))
        .then(|| CMD_LOCK.lock().unwrap_or_else(|p| p.into_inner()))
}

const UTILS: &str = "fail2ban.utils";
const KILL_GRACE: Duration = Duration::from_millis(200);

/// What happened to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    /// Exit code 0.
    pub success: bool,
    /// Exit code, or minus the signal number when killed; `None` if it could not be
    /// spawned or reaped.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

/// The command as fail2ban prints it: the script, or the Python list `[script, args…]`.
pub fn display_command(cmd: &PreparedCommand) -> String {
    if cmd.args.is_empty() {
        return cmd.script.clone();
    }
    let mut s = String::from("[");
    for (i, part) in std::iter::once(&cmd.script).chain(&cmd.args).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&crate::stream::py_str_repr(part));
    }
    s.push(']');
    s
}

/// A stand-in for Python's `id(realCmd)`: a distinct hex number per command.
fn command_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0x7f3a_5c00_0000);
    format!("{:x}", NEXT.fetch_add(0x30, Ordering::Relaxed))
}

/// Seconds as Python prints the `timeout` value (`60`, `1.5`).
pub fn seconds_text(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        crate::stream::py_float_repr(s)
    }
}

fn signal_name(n: i32) -> String {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGPOLL",
        "SIGPWR",
        "SIGSYS",
    ];
    match n {
        1..=31 => NAMES[n as usize].to_string(),
        34 => "SIGRTMIN".into(),
        64 => "SIGRTMAX".into(),
        _ => format!("signal {n}"),
    }
}

/// A child's stdout and stderr, read in the calling thread (no helper threads: a ban
/// runs one command, and two thread spawns per command cost more than the shell).
pub(super) struct Capture {
    out: Option<std::process::ChildStdout>,
    err: Option<std::process::ChildStderr>,
    pub(super) out_buf: Vec<u8>,
    pub(super) err_buf: Vec<u8>,
}

impl Capture {
    /// Takes the child's piped stdout and stderr.
    pub(super) fn of(child: &mut Child) -> Self {
        Capture {
            out: child.stdout.take(),
            err: child.stderr.take(),
            out_buf: Vec::new(),
            err_buf: Vec::new(),
        }
    }

    fn open(&self) -> bool {
        self.out.is_some() || self.err.is_some()
    }

    /// After the child exited: reads until both pipes close, but no longer than a grace
    /// time, since pipes still held open by escaped grandchildren must not block the
    /// server (short after a timeout).
    pub(super) fn drain_to_eof(&mut self, timed_out: bool) {
        let grace = if timed_out {
            Duration::from_millis(50)
        } else {
            Duration::from_secs(2)
        };
        let end = Instant::now() + grace;
        while self.open() {
            let now = Instant::now();
            if now >= end {
                break;
            }
            self.pump(end - now, None);
        }
    }

    /// Waits up to `limit` for output (or for `extra`, a pidfd, to become readable) and
    /// reads what is there. Returns true when `extra` became readable.
    pub(super) fn pump(&mut self, limit: Duration, extra: Option<i32>) -> bool {
        use std::os::fd::AsRawFd;
        let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(3);
        let ev = |fd: i32| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        if let Some(o) = &self.out {
            pfds.push(ev(o.as_raw_fd()));
        }
        if let Some(e) = &self.err {
            pfds.push(ev(e.as_raw_fd()));
        }
        if let Some(x) = extra {
            pfds.push(ev(x));
        }
        if pfds.is_empty() {
            std::thread::sleep(limit);
            return false;
        }
        let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: pfds is a live array of pollfd of the given length.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if n <= 0 {
            return false;
        }
        let ready = |fd: i32| {
            pfds.iter().any(|p| {
                p.fd == fd && p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
            })
        };
        let mut chunk = [0u8; 8192];
        if let Some(o) = self.out.as_mut()
            && ready(o.as_raw_fd())
        {
            match o.read(&mut chunk) {
                Ok(0) | Err(_) => self.out = None,
                Ok(k) => self.out_buf.extend_from_slice(&chunk[..k]),
            }
        }
        if let Some(e) = self.err.as_mut()
            && ready(e.as_raw_fd())
        {
            match e.read(&mut chunk) {
                Ok(0) | Err(_) => self.err = None,
                Ok(k) => self.err_buf.extend_from_slice(&chunk[..k]),
            }
        }
        extra.is_some_and(ready)
    }
}

/// A pidfd of the child (readable once it exited), so the wait needs no polling sleeps;
/// `None` on kernels without `pidfd_open` (then the wait polls).
pub(super) fn pidfd_open(pid: u32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain syscall; a non-negative result is a new fd that we then own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    let fd = i32::try_from(fd).ok().filter(|&f| f >= 0)?;
    // SAFETY: fd was just returned by the kernel and is owned by nobody else.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Reads the output while waiting up to `limit` for the child to exit.
pub(super) fn wait_reading(child: &mut Child, cap: &mut Capture, limit: Duration) -> Option<i32> {
    use std::os::fd::AsRawFd;
    let pidfd = pidfd_open(child.id());
    wait_loop(child, limit, |left, pause| match &pidfd {
        Some(fd) => cap.pump(left, Some(fd.as_raw_fd())),
        None => cap.pump(pause.min(left), None),
    })
}

/// Polls until the child exits or `limit` passes.
fn wait_until(child: &mut Child, limit: Duration) -> Option<i32> {
    wait_loop(child, limit, |left, pause| {
        std::thread::sleep(pause.min(left))
    })
}

/// The exit code once the child exits within `limit` (None on timeout or error);
/// between checks `idle(time left, back-off pause)` waits, the pause doubling to 20 ms.
fn wait_loop<T>(
    child: &mut Child,
    limit: Duration,
    mut idle: impl FnMut(Duration, Duration) -> T,
) -> Option<i32> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(status_code(st)),
            Ok(None) => {}
            Err(_) => return None,
        }
        let spent = start.elapsed();
        if spent >= limit {
            return None;
        }
        idle(limit - spent, pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

pub(super) fn status_code(st: std::process::ExitStatus) -> i32 {
    match (st.code(), st.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => -s,
        _ => -1,
    }
}

pub(super) fn kill_group(pgid: i32, sig: i32) {
    // SAFETY: plain syscall; pgid is our own child's group (the child leads it).
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// Runs one prepared command: `/bin/sh -c script args…`, own process group, timeout
/// (SIGTERM, then SIGKILL after 0.2 s), one at a time server-wide, logs as fail2ban.
pub fn execute(cmd: &PreparedCommand, timeout: Duration) -> ExecResult {
    execute_codes(cmd, timeout, &[0])
}

/// As [`execute`], with other exit codes counting as success (fail2ban runs
/// `ignorecommand` with codes 0 and 1: both are answers, neither is an error).
pub fn execute_codes(
    cmd: &PreparedCommand,
    timeout: Duration,
    success_codes: &[i32],
) -> ExecResult {
    if cmd.script.is_empty() {
        emit(LogLevel::DEBUG, "fail2ban.action", "Nothing to do");
        return ExecResult {
            success: true,
            code: Some(0),
            stdout: String::new(),
            stderr: String::new(),
            timed_out: false,
        };
    }
    let mut log = CmdLog::new(cmd);
    let _guard = command_lock();
    let spawned = Command::new("/bin/sh")
        .arg("-c")
        .arg(&cmd.script)
        .args(&cmd.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return log.spawn_failed(&e),
    };
    let pgid = child.id() as i32;
    let mut cap = Capture::of(&mut child);
    let mut code = wait_reading(&mut child, &mut cap, timeout);
    let timed_out = code.is_none();
    if timed_out {
        log.timed_out(timeout);
        code = kill_and_reap(&mut child, pgid);
    }
    cap.drain_to_eof(timed_out);
    log.finish(
        code,
        timed_out,
        &cap.out_buf,
        &cap.err_buf,
        success_codes,
        pgid,
    )
}

/// After a timeout: SIGTERM to the group, and (as fail2ban) SIGKILL to the whole tree
/// too, since children may ignore SIGTERM. The exit code if the child could be reaped.
pub(super) fn kill_and_reap(child: &mut Child, pgid: i32) -> Option<i32> {
    kill_group(pgid, libc::SIGTERM);
    let mut code = wait_until(child, KILL_GRACE);
    kill_group(pgid, libc::SIGKILL);
    if code.is_none() {
        code = wait_until(child, KILL_GRACE);
    }
    code
}

/// The log lines of one command run in fail2ban's wording, under a fresh command id:
/// the `exec:` line (once, and only at DEBUG or with an error), the timeout, the output
/// and the outcome. Shared by [`execute`] and the restore's batch shell.
pub(super) struct CmdLog<'a> {
    cmd: &'a PreparedCommand,
    id: String,
    shown: String,
    exec_logged: bool,
}

impl<'a> CmdLog<'a> {
    pub(super) fn new(cmd: &'a PreparedCommand) -> Self {
        CmdLog {
            cmd,
            id: command_id(),
            shown: display_command(cmd),
            exec_logged: false,
        }
    }

    fn exec_line(&mut self, level: LogLevel) {
        if !self.exec_logged {
            emit(
                level,
                UTILS,
                &format!("{} -- exec: {}", self.id, self.shown),
            );
            self.exec_logged = true;
        }
    }

    pub(super) fn spawn_failed(&mut self, e: &std::io::Error) -> ExecResult {
        self.exec_line(LogLevel::ERROR);
        let msg = format!("{} -- failed with {e}", self.shown);
        emit(LogLevel::ERROR, UTILS, &msg);
        ExecResult {
            success: false,
            code: None,
            stdout: String::new(),
            stderr: msg,
            timed_out: false,
        }
    }

    pub(super) fn timed_out(&mut self, timeout: Duration) {
        self.exec_line(LogLevel::ERROR);
        emit(
            LogLevel::ERROR,
            UTILS,
            &format!(
                "{} -- timed out after {} seconds.",
                self.id,
                seconds_text(timeout)
            ),
        );
    }

    /// The result of a finished (or killed) run and its log lines; `pid` names the
    /// process that could not be killed when `code` is None.
    pub(super) fn finish(
        &mut self,
        code: Option<i32>,
        timed_out: bool,
        out: &[u8],
        err: &[u8],
        success_codes: &[i32],
        pid: i32,
    ) -> ExecResult {
        let id = self.id.clone();
        let res_out = String::from_utf8_lossy(out).into_owned();
        let res_err = String::from_utf8_lossy(err).into_owned();
        let ok = code.is_some_and(|c| success_codes.contains(&c));
        let std_level = if ok { LogLevel::DEBUG } else { LogLevel::ERROR };
        if enabled(std_level) {
            self.exec_line(if ok { LogLevel(9) } else { LogLevel::ERROR });
            for (name, text) in [("stdout", &res_out), ("stderr", &res_err)] {
                for line in split_lines(text) {
                    emit(
                        std_level,
                        UTILS,
                        &format!("{id} -- {name}: {}", crate::stream::py_str_repr(line)),
                    );
                }
            }
        }
        match code {
            Some(c) if ok => emit(
                LogLevel::DEBUG,
                UTILS,
                &format!("{id} -- returned successfully {c}"),
            ),
            None => emit(
                LogLevel::ERROR,
                UTILS,
                &format!("{id} -- unable to kill PID {pid}"),
            ),
            Some(c) if !(0..=128).contains(&c) => {
                let sig = if c < 0 { -c } else { c - 128 };
                emit(
                    LogLevel::ERROR,
                    UTILS,
                    &format!(
                        "{id} -- killed with {} (return code: {c})",
                        signal_name(sig)
                    ),
                );
            }
            Some(c) => {
                emit(LogLevel::ERROR, UTILS, &format!("{id} -- returned {c}"));
                if c == 127 {
                    emit(LogLevel::INFO, UTILS, &hint_127(&shown_repr(self.cmd)));
                }
            }
        }
        ExecResult {
            success: ok,
            code,
            stdout: res_out,
            stderr: res_err,
            timed_out,
        }
    }
}

/// `%r` of the command: a str repr, or the list repr with escaped values.
fn shown_repr(cmd: &PreparedCommand) -> String {
    if cmd.args.is_empty() {
        crate::stream::py_str_repr(&cmd.script)
    } else {
        display_command(cmd)
    }
}

fn hint_127(cmd_repr: &str) -> String {
    format!(
        "HINT on 127: \"Command not found\".  Make sure that all commands in {cmd_repr} are in \
         the PATH of fail2ban-server process (grep -a PATH= /proc/`pidof -x fail2ban-server`/environ). \
         You may want to start \"fail2ban-server -f\" separately, initiate it with \
         \"fail2ban-client reload\" in another shell session and observe if additional \
         informative error messages appear in the terminals."
    )
}

/// Python's `bytes.splitlines()`: `\n`, `\r` and `\r\n` end a line.
fn split_lines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        if b[i] == b'\n' || b[i] == b'\r' {
            out.push(&s[start..i]);
            if b[i] == b'\r' && i + 1 < b.len() && b[i + 1] == b'\n' {
                i += 1;
            }
            start = i + 1;
        }
        i += 1;
    }
    if start < b.len() {
        out.push(&s[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_names() {
        assert_eq!(split_lines("a\nb\r\nc\rd"), vec!["a", "b", "c", "d"]);
        assert_eq!(split_lines("a\n"), vec!["a"]);
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(40), "signal 40");
        assert_eq!(seconds_text(Duration::from_secs(60)), "60");
        assert_eq!(seconds_text(Duration::from_millis(1500)), "1.5");
    }
}
