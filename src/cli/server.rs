//! `fail2ban-server`: options, daemonising, the startup and shutdown order of fail2ban
//! (compat-spec 4.1), signals, pid file, the control socket with [`Server`] as its
//! handler, and `start` (read the configuration and run its stream, as
//! `fail2ban-server -xf start` of the systemd unit does).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{self, Source, StreamOptions};
use crate::control::pickle::ExcReply;
use crate::control::socket::{Handler, SocketServer};
use crate::server::Server;
use crate::stream::Value;

const DEFAULT_SOCKET: &str = "/var/run/fail2ban/fail2ban.sock";
const DEFAULT_PIDFILE: &str = "/var/run/fail2ban/fail2ban.pid";

/// The socket's view of the server.
pub struct ServerHandle(pub Arc<Server>);

impl Handler for ServerHandle {
    fn handle(&self, command: Vec<Value>) -> Result<Value, ExcReply> {
        self.0.execute(&command)
    }
}

#[derive(Debug, Default)]
struct Args {
    conf: Option<String>,
    socket: Option<String>,
    pidfile: Option<String>,
    force: bool,
    background: bool,
    loglevel: Option<String>,
    logtarget: Option<String>,
    syslogsocket: Option<String>,
    /// `--async`: started by a client that sends the configuration itself. Without it
    /// the server reads the configuration, with or without the `start` word, as
    /// fail2ban-server does.
    asynchronous: bool,
    start: bool,
    /// `--timeout`: how long a background start waits for the server to be ready.
    timeout: Option<f64>,
}

const USAGE: &str = "\
Usage: fail2ban-server [OPTIONS] [start]

  -c <DIR>                configuration directory
  -s <FILE>               socket path
  -p <FILE>               pidfile path
  --pname <NAME>          name of the process (ignored)
  --loglevel <LEVEL>      logging level
  --logtarget <TARGET>    logging target (file, STDOUT, STDERR, SYSLOG)
  --syslogsocket auto|<FILE>
  -d                      dump configuration
  -t, --test              test configuration
  -b                      start in background
  -f                      start in foreground
  --async                 start server in async mode
  -x                      force execution of the server (remove socket file)
  -h, --help              display this help message
  -V, --version           print the version
";

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        background: true,
        ..Default::default()
    };
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let mut value = |name: &str| -> Result<String, String> {
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("option {name} requires an argument"))
        };
        match arg {
            "-c" | "--conf" => a.conf = Some(value(arg)?),
            "-s" | "--socket" => a.socket = Some(value(arg)?),
            "-p" | "--pidfile" => a.pidfile = Some(value(arg)?),
            "--pname" => {
                value(arg)?;
            }
            "--timeout" => {
                let v = value(arg)?;
                let t = v
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| format!("invalid timeout value {v:?}"))?;
                a.timeout = Some(t);
            }
            "--loglevel" => a.loglevel = Some(value(arg)?),
            "--logtarget" => a.logtarget = Some(value(arg)?),
            "--syslogsocket" => a.syslogsocket = Some(value(arg)?),
            "-x" => a.force = true,
            "-b" => a.background = true,
            "-f" => a.background = false,
            "--async" => a.asynchronous = true,
            "-v" | "-q" | "-i" => {}
            "start" => a.start = true,
            s if s.starts_with('-') && s.len() > 2 && !s.starts_with("--") => {
                // Combined short flags: `-xf`.
                for c in s[1..].chars() {
                    match c {
                        'x' => a.force = true,
                        'b' => a.background = true,
                        'f' => a.background = false,
                        'v' | 'q' => {}
                        _ => return Err(format!("invalid option -{c}")),
                    }
                }
            }
            other => return Err(format!("invalid argument {other}")),
        }
        i += 1;
    }
    Ok(a)
}

/// Runs `fail2ban-server` with `args` (without the program name); returns the exit code.
pub fn main(prog: &str, args: Vec<String>) -> i32 {
    if args.iter().any(|a| {
        matches!(
            a.as_str(),
            "-d" | "--dp" | "--dump-pretty" | "-t" | "--test"
        )
    }) {
        return crate::cli::client::main(prog, args);
    }
    // Only a server trims memory: it records the exec-time mappings before anything
    // it runs can load a library (the client and fail2ban-regex skip the read).
    crate::server::memtrim::record_exec_mappings();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return 0;
    }
    if args.iter().any(|a| a == "-V" || a == "--version") {
        println!("Fail2Ban v{}", config::FAIL2BAN_VERSION);
        return 0;
    }
    let mut a = match parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ERROR: {e}\n{USAGE}");
            return 255;
        }
    };
    // SAFETY: umask only changes this process's file-creation mask.
    unsafe {
        libc::umask(0o077);
    }
    let pre = early_socket(&a);
    let (src, basedir): (Box<dyn Source>, String) = match &a.conf {
        Some(c) => (Box::new(config::FsSource), c.clone()),
        None => config::default_source(),
    };
    // The configuration (for `start`) and the early options (socket, pidfile, logging).
    let opts = StreamOptions {
        loglevel: a.loglevel.clone(),
        logtarget: a.logtarget.clone(),
        syslogsocket: a.syslogsocket.clone(),
        ..Default::default()
    };
    let stream = match config::read_stream(src.as_ref(), &basedir, &opts) {
        Ok(r) => r,
        Err(e) => {
            println!("ERROR: {}", e.0.message);
            drop_early(pre);
            return 255;
        }
    };
    let early = |k: &str| {
        stream
            .early
            .iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    a.socket = a.socket.clone().or_else(|| early("socket"));
    a.pidfile = a.pidfile.clone().or_else(|| early("pidfile"));
    a.loglevel = a.loglevel.clone().or_else(|| early("loglevel"));
    a.logtarget = a.logtarget.clone().or_else(|| early("logtarget"));
    a.syslogsocket = a.syslogsocket.clone().or_else(|| early("syslogsocket"));
    a.start = !a.asynchronous;
    if a.start {
        for (level, logger, msg) in &stream.log {
            if matches!(level, config::files::Level::Error) {
                eprintln!("{logger}: ERROR {msg}");
            }
        }
    }
    // A background start that reads the configuration itself returns once the server
    // answers and has applied it (fail2ban's parent waits for its configuring client);
    // with `--async` the starting client does that waiting.
    let wait =
        (!a.asynchronous).then(|| Duration::from_secs_f64(a.timeout.unwrap_or(30.0).max(0.0)));
    let mut ready = None;
    if a.background {
        match daemonize(wait) {
            Some(r) => ready = r,
            None => return 255,
        }
    }
    let commands = if a.start {
        match stream.commands {
            Some(c) if stream.ok => Some(c),
            _ => {
                eprintln!("ERROR: Failed during configuration");
                drop_early(pre);
                return 255;
            }
        }
    } else {
        None
    };
    run(&a, commands, pre, ready)
}

/// The server, its control socket and signal handling, started before the
/// configuration is read.
struct Early {
    server: Arc<Server>,
    socket: SocketServer,
    signals: Option<signal_hook::iterator::Handle>,
}

/// In the foreground with the socket path on the command line (`-f -s SOCK start`),
/// binds the socket before reading the configuration, so `ping` is answered while it
/// is read (fail2ban answers once the configuration is read; the stream itself still
/// runs only after it). Only when the path is free: a stale socket takes the usual
/// route, whose warnings must reach the configured log target. `None` otherwise (then
/// everything starts in fail2ban's order).
fn early_socket(a: &Args) -> Option<Early> {
    let sock = a.socket.as_deref()?;
    if a.background || a.asynchronous || Path::new(sock).exists() {
        return None;
    }
    let server = Arc::new(Server::new());
    let socket = SocketServer::start(
        Path::new(sock),
        false,
        Arc::new(ServerHandle(server.clone())),
    )
    .ok()?;
    // A TERM while the configuration is read must still remove the socket.
    let signals = install_signals(&server);
    Some(Early {
        server,
        socket,
        signals,
    })
}

/// Undoes [`early_socket`] when the configuration fails.
fn drop_early(early: Option<Early>) {
    if let Some(e) = early {
        e.socket.stop();
        if let Some(h) = e.signals {
            h.close();
        }
    }
}

/// Double fork into the background (setsid, `/` as cwd, stdio on /dev/null); `None` on
/// failure. With `wait`, the first parent stays until the daemon reports through a pipe
/// (see [`Ready`]) and exits 0 when it started, 255 when it failed, died or timed out;
/// the daemon gets the pipe's write end. Other parent processes exit here at once.
fn daemonize(wait: Option<Duration>) -> Option<Option<Ready>> {
    let mut fds = [-1 as libc::c_int; 2];
    // SAFETY: called before any thread is started; pipe/fork/setsid/dup2 on our own
    // process and file descriptors it owns.
    unsafe {
        if wait.is_some() && libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return None;
        }
        match libc::fork() {
            -1 => return None,
            0 => {}
            _ => {
                let code = match wait {
                    Some(t) => {
                        libc::close(fds[1]);
                        if wait_ready(fds[0], t) { 0 } else { 255 }
                    }
                    None => 0,
                };
                libc::_exit(code)
            }
        }
        if wait.is_some() {
            libc::close(fds[0]);
        }
        libc::setsid();
        match libc::fork() {
            -1 => return None,
            0 => {}
            _ => libc::_exit(0),
        }
        let _ = libc::chdir(c"/".as_ptr());
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
    Some(wait.map(|_| Ready(fds[1])))
}

/// The daemon's side of the readiness pipe: one byte, 1 = started, 0 = failed. Dropped
/// unsent (the daemon died or gave up), the reader sees end-of-file: a failure.
struct Ready(libc::c_int);

impl Ready {
    fn send(self, ok: bool) {
        let b = [u8::from(ok)];
        // SAFETY: writes one byte from a live buffer to the pipe this value owns.
        unsafe {
            libc::write(self.0, b.as_ptr().cast(), 1);
        }
    }
}

impl Drop for Ready {
    fn drop(&mut self) {
        // SAFETY: closes the descriptor this value owns, once.
        unsafe {
            libc::close(self.0);
        }
    }
}

/// The waiting parent: true when the daemon reported success within `timeout`.
fn wait_ready(fd: libc::c_int, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            eprintln!("ERROR: Could not start server: timeout waiting for it to be ready");
            return false;
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms.max(1)) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            continue;
        }
        let mut b = [0u8; 1];
        // SAFETY: reads at most one byte into a live buffer.
        let r = unsafe { libc::read(fd, b.as_mut_ptr().cast(), 1) };
        return r == 1 && b[0] == 1;
    }
}

fn run(
    a: &Args,
    commands: Option<Vec<crate::stream::Command>>,
    early: Option<Early>,
    ready: Option<Ready>,
) -> i32 {
    let (server, mut pre_socket, pre_signals) = match early {
        Some(e) => (e.server, Some(e.socket), Some(e.signals)),
        None => (Arc::new(Server::new()), None, None),
    };
    // Logging first, so every later step is in the log.
    let mut setup = vec![];
    if let Some(l) = &a.loglevel {
        setup.push(vec![
            Value::from("set"),
            "loglevel".into(),
            l.as_str().into(),
        ]);
    }
    if let Some(s) = &a.syslogsocket {
        setup.push(vec![
            Value::from("set"),
            "syslogsocket".into(),
            s.as_str().into(),
        ]);
    }
    let target = a.logtarget.clone().unwrap_or_else(|| "STDERR".into());
    setup.push(vec![Value::from("set"), "logtarget".into(), target.into()]);
    for c in setup {
        if let Err(e) = server.execute(&c) {
            eprintln!("ERROR: {}", e.message());
        }
    }
    crate::flog!(INFO, "server", "{}", "-".repeat(50));
    crate::flog!(
        INFO,
        "server",
        "Starting Fail2ban v{}",
        config::FAIL2BAN_VERSION
    );
    let signals = match pre_signals {
        Some(h) => h,
        None => install_signals(&server),
    };
    let pidfile = PathBuf::from(a.pidfile.as_deref().unwrap_or(DEFAULT_PIDFILE));
    if let Err(e) = write_pid(&pidfile) {
        crate::flog!(ERROR, "server", "Unable to save pidfile: {e}");
    }
    crate::flog!(INFO, "observer", "Observer start...");
    let sock = PathBuf::from(a.socket.as_deref().unwrap_or(DEFAULT_SOCKET));
    let started = match pre_socket.take() {
        Some(s) => Ok(s),
        None => SocketServer::start(&sock, a.force, Arc::new(ServerHandle(server.clone()))),
    };
    let socket = match started {
        Ok(s) => Some(s),
        Err(e) => {
            crate::flog!(ERROR, "server", "Could not start server: {e}");
            eprintln!("ERROR: Could not start server: {e}");
            finish(&server, None, &pidfile);
            if let Some(r) = ready {
                r.send(false);
            }
            return 255;
        }
    };
    let mut code = 0;
    // A `stop` or signal that came while the configuration was read wins.
    if let Some(cmds) = commands.filter(|_| !server.wait_quit(Duration::ZERO)) {
        let list = cmds
            .iter()
            .map(|c| Value::List(c.to_values()))
            .collect::<Vec<_>>();
        match server.execute(&[Value::from("server-stream"), Value::List(list)]) {
            Ok(_) => {
                if let Ok(v) = server.execute(&[Value::from("server-status")]) {
                    println!("{}", v.to_py_str());
                }
            }
            Err(_) => {
                code = 255;
                server.request_quit();
            }
        }
    }
    // The stream and its commands are dropped now, after the start-up trim: what they
    // held goes back from this thread, which only waits from here on.
    crate::server::memtrim::collect_here();
    if let Some(r) = ready {
        r.send(code == 0);
    }
    // Serve until `stop` or a signal (the server purges its database itself).
    while !server.wait_quit(Duration::from_secs(3600)) {}
    finish(&server, socket, &pidfile);
    if let Some(h) = signals {
        h.close();
    }
    code
}

fn finish(server: &Server, socket: Option<SocketServer>, pidfile: &Path) {
    // Communication stops first, as in fail2ban: once `stop` is answered no new client
    // gets through while the jails and their actions shut down.
    if let Some(s) = socket {
        s.stop();
    }
    server.shutdown();
    crate::flog!(INFO, "server", "Exiting Fail2ban");
    let _ = std::fs::remove_file(pidfile);
}

fn write_pid(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, format!("{}\n", std::process::id()))
}

/// SIGTERM/SIGINT: graceful quit; SIGUSR1: reopen the log file.
fn install_signals(server: &Arc<Server>) -> Option<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
    let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGUSR1]) {
        Ok(s) => s,
        Err(e) => {
            crate::flog!(ERROR, "server", "Unable to install signal handlers: {e}");
            return None;
        }
    };
    let handle = signals.handle();
    let srv = server.clone();
    let spawned = std::thread::Builder::new()
        .name("f2b/signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGUSR1 {
                    let _ = srv.execute(&[Value::from("flushlogs")]);
                } else {
                    srv.request_quit();
                }
            }
        });
    if let Err(e) = spawned {
        crate::flog!(ERROR, "server", "Unable to start the signal thread: {e}");
    }
    Some(handle)
}
