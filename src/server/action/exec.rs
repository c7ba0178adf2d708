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
struct Capture {
    out: Option<std::process::ChildStdout>,
    err: Option<std::process::ChildStderr>,
    out_buf: Vec<u8>,
    err_buf: Vec<u8>,
}

impl Capture {
    fn open(&self) -> bool {
        self.out.is_some() || self.err.is_some()
    }

    /// Waits up to `limit` for output (or for `extra`, a pidfd, to become readable) and
    /// reads what is there. Returns true when `extra` became readable.
    fn pump(&mut self, limit: Duration, extra: Option<i32>) -> bool {
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
fn pidfd_open(pid: u32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain syscall; a non-negative result is a new fd that we then own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    let fd = i32::try_from(fd).ok().filter(|&f| f >= 0)?;
    // SAFETY: fd was just returned by the kernel and is owned by nobody else.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Reads the output while waiting up to `limit` for the child to exit.
fn wait_reading(child: &mut Child, cap: &mut Capture, limit: Duration) -> Option<i32> {
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

fn status_code(st: std::process::ExitStatus) -> i32 {
    match (st.code(), st.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => -s,
        _ => -1,
    }
}

fn kill_group(pgid: i32, sig: i32) {
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
    let id = command_id();
    let shown = display_command(cmd);
    let mut exec_logged = false;
    let log_exec = |level: LogLevel, logged: &mut bool| {
        if !*logged {
            emit(level, UTILS, &format!("{id} -- exec: {shown}"));
            *logged = true;
        }
    };
    let mut res = ExecResult {
        success: false,
        code: None,
        stdout: String::new(),
        stderr: String::new(),
        timed_out: false,
    };
    if cmd.script.is_empty() {
        emit(LogLevel::DEBUG, "fail2ban.action", "Nothing to do");
        res.success = true;
        res.code = Some(0);
        return res;
    }
    let _guard = (!LOCK_OWNED_BY_BATCH.with(|c| c.get()))
        .then(|| CMD_LOCK.lock().unwrap_or_else(|p| p.into_inner()));
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
        Err(e) => {
            log_exec(LogLevel::ERROR, &mut exec_logged);
            let msg = format!("{shown} -- failed with {e}");
            emit(LogLevel::ERROR, UTILS, &msg);
            res.stderr = msg;
            return res;
        }
    };
    let pgid = child.id() as i32;
    let mut cap = Capture {
        out: child.stdout.take(),
        err: child.stderr.take(),
        out_buf: Vec::new(),
        err_buf: Vec::new(),
    };
    let mut code = wait_reading(&mut child, &mut cap, timeout);
    if code.is_none() {
        res.timed_out = true;
        log_exec(LogLevel::ERROR, &mut exec_logged);
        emit(
            LogLevel::ERROR,
            UTILS,
            &format!("{id} -- timed out after {} seconds.", seconds_text(timeout)),
        );
        kill_group(pgid, libc::SIGTERM);
        code = wait_until(&mut child, KILL_GRACE);
        // Like fail2ban, the whole tree gets SIGKILL too: children may ignore SIGTERM.
        kill_group(pgid, libc::SIGKILL);
        if code.is_none() {
            code = wait_until(&mut child, KILL_GRACE);
        }
    }
    res.code = code;
    // Pipes still held open by escaped grandchildren must not block the server.
    let grace = if res.timed_out {
        Duration::from_millis(50)
    } else {
        Duration::from_secs(2)
    };
    let end = Instant::now() + grace;
    while cap.open() {
        let now = Instant::now();
        if now >= end {
            break;
        }
        cap.pump(end - now, None);
    }
    res.stdout = String::from_utf8_lossy(&cap.out_buf).into_owned();
    res.stderr = String::from_utf8_lossy(&cap.err_buf).into_owned();
    let ok = code.is_some_and(|c| success_codes.contains(&c));
    let std_level = if ok { LogLevel::DEBUG } else { LogLevel::ERROR };
    if enabled(std_level) {
        let lv = if ok { LogLevel(9) } else { LogLevel::ERROR };
        log_exec(lv, &mut exec_logged);
        for (name, text) in [("stdout", &res.stdout), ("stderr", &res.stderr)] {
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
        Some(c) if ok => {
            res.success = true;
            emit(
                LogLevel::DEBUG,
                UTILS,
                &format!("{id} -- returned successfully {c}"),
            );
        }
        None => emit(
            LogLevel::ERROR,
            UTILS,
            &format!("{id} -- unable to kill PID {pgid}"),
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
                emit(LogLevel::INFO, UTILS, &hint_127(&shown_repr(cmd)));
            }
        }
    }
    res
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
