//! fail2ban-client's socket commands: [`Client`] holds the resolved settings (socket,
//! pid file, log settings from the command line or fail2ban.conf) and runs one command
//! line ([`Client::process_command`]) or the interactive prompt ([`Client::interactive`]).
//!
//! Commands go through [`crate::control::client::Connection`]; replies are printed with
//! [`crate::control::beautify`]. Client-side commands (`start`, `restart`, `reload`) read
//! the configuration with [`crate::config::read_stream`] and send it as fail2ban does.
//! Every function returns fail2ban's success flag (the process exits 0 or 255).

use super::{ClientArgs, Logger};
use crate::config::{self, Source, StreamOptions};
use crate::control::beautify::{beautify, beautify_error};
use crate::control::client::{ClientError, Connection, py_os_error};
use crate::control::wire::Reply;
use crate::stream::Value;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Seconds `start` waits for a new server unless `--timeout` says otherwise.
pub const MAX_WAITTIME: f64 = 30.0;

/// The client's settings after the command line and fail2ban.conf.
pub struct Client {
    pub prog: String,
    pub args: ClientArgs,
    pub log: Logger,
    pub socket: String,
    pub pidfile: String,
    pub loglevel: String,
    pub logtarget: String,
    pub syslogsocket: String,
    /// `--timeout` in seconds.
    pub timeout: f64,
}

/// How long a request may wait: fail2ban's `-1` means "no timeout".
#[derive(Clone, Copy)]
enum Wait {
    Forever,
    Secs(f64),
}

impl Wait {
    fn duration(self) -> Option<Duration> {
        match self {
            Wait::Forever => None,
            Wait::Secs(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
            // Python's settimeout(0) means non-blocking: fail at once unless data is there.
            Wait::Secs(_) => Some(Duration::from_micros(1)),
        }
    }
}

fn strs(cmd: &[&str]) -> Vec<Value> {
    cmd.iter().map(|s| Value::str(*s)).collect()
}

/// What the beautifier sees of a command: each word as Python's `str()`.
fn words(cmd: &[Value]) -> Vec<String> {
    cmd.iter().map(Value::to_py_str).collect()
}

impl Client {
    fn conn_error(&self, e: &std::io::Error, error_only: bool) {
        let sock = Path::new(&self.socket);
        if !sock.exists() {
            self.log.error(
                "fail2ban",
                &format!(
                    "Failed to access socket path: {}. Is fail2ban running?",
                    self.socket
                ),
            );
            return;
        }
        if !writable(sock) {
            self.log.error(
                "fail2ban",
                &format!(
                    "Permission denied to socket: {}, (you must be root)",
                    self.socket
                ),
            );
        } else if error_only {
            self.log.error("fail2ban", &py_os_error(e));
        } else {
            self.log.error(
                "fail2ban",
                &format!(
                    "[{}] Unable to contact server. Is it running?",
                    py_os_error(e)
                ),
            );
        }
    }

    /// Sends `cmds` over one connection; prints replies when `show` (and always for
    /// `echo` / `server-status`). False if any command failed.
    fn process_cmd(&self, cmds: &[Vec<Value>], show: bool, wait: Wait) -> bool {
        let mut conn: Option<Connection> = None;
        let mut ok = true;
        let mut last_word = String::new();
        let mut result = None;
        for c in cmds {
            let w = words(c);
            last_word = w.first().cloned().unwrap_or_default();
            let loud = show || last_word == "echo" || last_word == "server-status";
            let is_ping = last_word == "ping";
            let link = match conn.take() {
                Some(k) => {
                    if let Wait::Secs(_) = wait {
                        let _ = k.set_timeout(wait.duration());
                    }
                    Ok(k)
                }
                None => Connection::connect(Path::new(&self.socket), wait.duration()),
            };
            // As fail2ban: the command is logged once the connection exists.
            let sent = match link {
                Ok(k) => {
                    self.log
                        .heavy("fail2ban", &format!("CMD: {}", Value::List(c.clone())));
                    conn.insert(k).send(c)
                }
                Err(e) => Err(ClientError::Io(e)),
            };
            match sent {
                Ok(Reply::Ok(v)) => {
                    self.log.heavy("fail2ban", &format!("OK : {v}"));
                    if loud {
                        self.log.heavy(
                            "fail2ban.beautifier",
                            &format!("Beautify {v} with {}", Value::List(c.clone())),
                        );
                        let b = beautify(&w, &v);
                        if b.fallback {
                            self.log.warning(
                                "fail2ban.beautifier",
                                "Beautifier error. Please report the error",
                            );
                            self.log.error(
                                "fail2ban.beautifier",
                                &format!("Beautify {v} with {} failed", Value::List(c.clone())),
                            );
                        }
                        println!("{}", b.text);
                    }
                }
                Ok(Reply::Err(e)) => {
                    self.log
                        .error("fail2ban", &format!("NOK: {}", Value::Tuple(e.py_args())));
                    if show {
                        self.log.debug(
                            "fail2ban.beautifier",
                            &format!("Beautify (error) {e} with {}", Value::List(c.clone())),
                        );
                        println!("{}", beautify_error(&e));
                    }
                    ok = false;
                }
                Ok(Reply::Raw(v)) => {
                    // fail2ban's client looks for `.args` on the reply and fails.
                    if show || self.args.verbose > 1 {
                        let ty = py_type_name(&v);
                        let msg = match &v {
                            Value::Str(_) | Value::Tuple(_) | Value::List(_) => {
                                format!("'{ty}' object has no attribute 'args'")
                            }
                            _ => format!("'{ty}' object is not subscriptable"),
                        };
                        self.log.error("fail2ban", &msg);
                    }
                    result = Some(false);
                    break;
                }
                Err(ClientError::Io(e)) => {
                    if show || self.args.verbose > 1 {
                        if show || !is_ping {
                            self.conn_error(&e, is_ping);
                        } else {
                            self.log
                                .heavy("fail2ban", &format!(" -- {:?} failed -- {e}", w));
                        }
                    }
                    result = Some(false);
                    break;
                }
                Err(ClientError::Protocol(e)) => {
                    if show || self.args.verbose > 1 {
                        self.log.error("fail2ban", &e.to_string());
                    }
                    result = Some(false);
                    break;
                }
            }
        }
        if let Some(k) = conn {
            k.close();
        }
        if show || last_word == "echo" || last_word == "server-status" {
            let _ = std::io::stdout().flush();
        }
        result.unwrap_or(ok)
    }

    fn ping(&self, timeout: Option<f64>) -> bool {
        match timeout {
            Some(t) => self.process_cmd(
                &[vec![Value::str("ping"), Value::Float(t)]],
                false,
                Wait::Secs(t),
            ),
            None => self.process_cmd(&[strs(&["ping"])], false, Wait::Forever),
        }
    }

    /// One command line (already split into words).
    pub fn process_command(&mut self, cmd: &[String]) -> bool {
        let first = cmd.first().map(String::as_str).unwrap_or("");
        if cmd.len() == 1 && first == "start" {
            return self.start_server(self.args.background);
        }
        if first == "restart" {
            if cmd.len() > 1 {
                let mut c = vec!["reload".to_string(), "--restart".to_string()];
                c.extend_from_slice(&cmd[1..]);
                return self.process_command(&c);
            }
            if self.args.interactive {
                println!("  ## stop ... ");
            }
            self.process_command(&["stop".to_string()]);
            match self.wait_on_server(false, None) {
                Ok(true) => {}
                Ok(false) => {
                    self.log.error("fail2ban", "Could not stop server");
                    return false;
                }
                Err(msg) => {
                    self.log.error("fail2ban", &msg);
                    return false;
                }
            }
            if self.args.interactive {
                println!("  ## start ... ");
            }
            return self.process_command(&["start".to_string()]);
        }
        if first == "reload" {
            return self.reload(cmd);
        }
        if cmd.len() > 1 && first == "ping" {
            let t: f64 = match cmd[1].trim().parse() {
                Ok(t) => t,
                Err(_) => {
                    self.log.error(
                        "fail2ban",
                        &format!(
                            "could not convert string to float: {}",
                            crate::stream::py_str_repr(&cmd[1])
                        ),
                    );
                    return false;
                }
            };
            let c: Vec<&str> = cmd.iter().map(String::as_str).collect();
            return self.process_cmd(&[strs(&c)], true, Wait::Secs(t));
        }
        let c: Vec<&str> = cmd.iter().map(String::as_str).collect();
        self.process_cmd(&[strs(&c)], true, Wait::Forever)
    }

    fn reload(&mut self, cmd: &[String]) -> bool {
        let mut rest: Vec<String> = cmd[1..].to_vec();
        let mut opts = Vec::new();
        while !rest.is_empty() {
            if matches!(rest[0].as_str(), "--restart" | "--unban" | "--if-exists") {
                opts.push(Value::str(rest.remove(0)));
            } else {
                if rest.len() > 1 {
                    let shown = Value::List(rest.iter().map(|s| Value::str(s.clone())).collect());
                    self.log.error(
                        "fail2ban",
                        &format!("Unexpected argument(s) for reload: {shown}"),
                    );
                    return false;
                }
                break;
            }
        }
        if !self.ping(None) {
            self.log.error("fail2ban", "Could not find server");
            return false;
        }
        let jail = match rest.first().map(String::as_str) {
            None | Some("--all") => None,
            Some(j) => Some(j.to_string()),
        };
        let Some(stream) = self.read_config(jail.as_deref()) else {
            return false;
        };
        if self.args.interactive {
            println!("  ## reload ... ");
        }
        let target = Value::str(jail.unwrap_or_else(|| "--all".to_string()));
        let req = vec![Value::str("reload"), target, Value::List(opts), stream];
        self.process_cmd(&[req], true, Wait::Forever)
    }

    fn source(&self) -> (Box<dyn Source>, String) {
        match &self.args.conf {
            Some(c) => (Box::new(config::FsSource), c.clone()),
            None => config::default_source(),
        }
    }

    /// The configuration as a command stream (one jail, or all), or `None` after logging
    /// why it cannot be used.
    fn read_config(&self, jail: Option<&str>) -> Option<Value> {
        let (src, basedir) = self.source();
        if let Some(j) = jail
            && !jail_exists(src.as_ref(), &basedir, j)
        {
            // fail2ban reads only that section; it fails before the jail-level messages.
            let (src2, base2) = self.source();
            if let Ok(res) = config::read_stream(src2.as_ref(), &base2, &StreamOptions::default()) {
                let early: Vec<_> = res
                    .log
                    .iter()
                    .filter(|(_, logger, _)| logger == "fail2ban.configreader")
                    .cloned()
                    .collect();
                self.log.config_lines(&early);
            }
            self.log.error(
                "fail2ban",
                &format!(
                    "Failed during configuration: No section: {}",
                    crate::stream::py_str_repr(j)
                ),
            );
            return None;
        }
        let opts = StreamOptions {
            loglevel: Some(self.loglevel.clone()),
            logtarget: Some(self.logtarget.clone()),
            syslogsocket: Some(self.syslogsocket.clone()),
            test: false,
            dump: false,
        };
        let res = match config::read_stream(src.as_ref(), &basedir, &opts) {
            Ok(r) => r,
            Err(config::EarlyError(e, log)) => {
                self.log.config_lines(&log);
                self.log.error(
                    "fail2ban",
                    &format!("Failed during configuration: {}", e.message),
                );
                return None;
            }
        };
        let cmds = res.commands.filter(|_| res.ok);
        let values: Vec<Vec<Value>> = cmds.iter().flatten().map(|c| c.to_values()).collect();
        // fail2ban reads only the jail being reloaded: other jails' messages stay unsaid.
        let others: Vec<String> = match jail {
            None => Vec::new(),
            Some(j) => values
                .iter()
                .filter(|c| c.first().and_then(Value::as_str) == Some("add"))
                .filter_map(|c| c.get(1).and_then(Value::as_str))
                .filter(|n| *n != j)
                .map(str::to_string)
                .collect(),
        };
        let log: Vec<_> = res
            .log
            .iter()
            .filter(|(_, logger, msg)| !about_other_jail(logger, msg, &others))
            .cloned()
            .collect();
        self.log.config_lines(&log);
        cmds?;
        let picked = match jail {
            None => values,
            Some(j) => only_jail(values, j),
        };
        Some(Value::List(picked.into_iter().map(Value::List).collect()))
    }

    fn prepare_start(&self) -> Option<Value> {
        if self.ping(Some(0.1)) {
            self.log.error("fail2ban", "Server already running");
            return None;
        }
        let stream = self.read_config(None)?;
        if !self.args.force && Path::new(&self.socket).exists() {
            self.log.error(
                "fail2ban",
                "Fail2ban seems to be in unexpected state (not running but the socket exists)",
            );
            return None;
        }
        Some(stream)
    }

    fn start_server(&mut self, background: bool) -> bool {
        let Some(stream) = self.prepare_start() else {
            return false;
        };
        let mut child = match self.spawn_server(background) {
            Ok(c) => c,
            Err(e) => {
                println!();
                let mode = if background {
                    "background"
                } else {
                    "foreground"
                };
                self.log.error(
                    "fail2ban",
                    &format!("Exception while starting server {mode}"),
                );
                self.log.error("fail2ban", &e.to_string());
                return false;
            }
        };
        let ok = self.configure(stream, &mut child);
        if background {
            // The launcher exits once the server has detached; reap it if it already did.
            let _ = child.try_wait();
            return ok;
        }
        if !ok {
            let _ = self.process_cmd(&[strs(&["stop"])], false, Wait::Secs(1.0));
            let _ = child.wait();
            return false;
        }
        match child.wait() {
            Ok(st) => st.success(),
            Err(_) => false,
        }
    }

    /// Waits for the new server, then sends the stream and `server-status`.
    fn configure(&self, stream: Value, child: &mut std::process::Child) -> bool {
        match self.wait_on_server_of(child) {
            Ok(true) => {}
            Ok(false) => {
                self.log
                    .error("fail2ban", "Could not find server, waiting failed");
                return false;
            }
            Err(_) => {
                self.log.error(
                    "fail2ban",
                    &format!(
                        "Could not start server. Maybe an old socket file is still present. \
Try to remove {}. If you used fail2ban-client to start the server, adding the -x option will do it",
                        self.socket
                    ),
                );
                return false;
            }
        }
        let cmds = [
            vec![Value::str("server-stream"), stream],
            strs(&["server-status"]),
        ];
        self.process_cmd(&cmds, false, Wait::Forever)
    }

    /// `fail2ban-server` as fail2ban launches it: next to this client, else on PATH;
    /// gaol itself (`gaol server …`) when neither exists or when run as `gaol client`.
    fn spawn_server(&self, background: bool) -> std::io::Result<std::process::Child> {
        let mut args: Vec<String> = vec!["--async".into()];
        args.push(if background { "-b" } else { "-f" }.into());
        args.extend(["-s".into(), self.socket.clone()]);
        args.extend(["-p".into(), self.pidfile.clone()]);
        if self.args.force {
            args.push("-x".into());
        }
        if self.args.verbose > 1 {
            args.push(format!("-{}", "v".repeat((self.args.verbose - 1) as usize)));
        }
        args.extend(["--loglevel".into(), self.loglevel.clone()]);
        args.extend(["--logtarget".into(), self.logtarget.clone()]);
        args.extend(["--syslogsocket".into(), self.syslogsocket.clone()]);
        let (exe, pre) = server_exe(&self.prog);
        self.log.debug(
            "fail2ban",
            &format!("Starting {} with args {:?} {:?}", exe.display(), pre, args),
        );
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(pre).args(&args);
        if background {
            cmd.stdin(std::process::Stdio::null());
        }
        cmd.spawn()
    }

    /// Waits for the server just spawned; a launcher that failed ends the wait early
    /// (a daemonizing server's launcher exits 0 once the server runs).
    fn wait_on_server_of(&self, child: &mut std::process::Child) -> Result<bool, String> {
        let start = Instant::now();
        let mut sl = 0.0125 / 2.0;
        loop {
            if Path::new(&self.socket).exists() && self.ping(Some(sl)) {
                return Ok(true);
            }
            if let Ok(Some(st)) = child.try_wait()
                && !st.success()
            {
                return Err(format!("server exited with {st}"));
            }
            let waited = start.elapsed().as_secs_f64();
            if waited >= self.timeout {
                return Err("Failed to start server".into());
            }
            sl = f64::min(sl * 2.0, if waited > 0.2 { 0.5 } else { 0.1 });
            std::thread::sleep(Duration::from_secs_f64(sl));
        }
    }

    /// Polls until the server answers (`alive`) or is gone (`!alive`); `Err` after the
    /// timeout.
    fn wait_on_server(&self, alive: bool, maxtime: Option<f64>) -> Result<bool, String> {
        let maxtime = maxtime.unwrap_or(self.timeout);
        let start = Instant::now();
        let mut sl = 0.0125 / 2.0;
        loop {
            let up = Path::new(&self.socket).exists() && self.ping(Some(sl));
            if up == alive {
                return Ok(true);
            }
            let waited = start.elapsed().as_secs_f64();
            if waited >= maxtime {
                return Err("Failed to start server".into());
            }
            sl = f64::min(sl * 2.0, if waited > 0.2 { 0.5 } else { 0.1 });
            std::thread::sleep(Duration::from_secs_f64(sl));
        }
    }

    /// `-i`: the prompt loop. Returns false on end of input (as fail2ban does).
    pub fn interactive(&mut self) -> bool {
        println!(
            "Fail2Ban v{} reads log file that contains password failure report",
            config::FAIL2BAN_VERSION
        );
        println!("and bans the corresponding IP addresses using firewall rules.");
        println!();
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        loop {
            print!("fail2ban> ");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            match input.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    println!();
                    self.log.error("fail2ban", "EOF when reading a line");
                    return false;
                }
                Ok(_) => {}
            }
            let cmd = line.strip_suffix('\n').unwrap_or(&line);
            if cmd == "exit" || cmd == "quit" {
                return true;
            }
            if cmd == "help" {
                print!("{}", super::usage(&self.prog));
            } else if !cmd.is_empty() {
                match shlex_split(cmd) {
                    Ok(words) => {
                        self.process_command(&words);
                    }
                    Err(e) => self.log.error("fail2ban", &e),
                }
            }
        }
    }
}

fn py_type_name(v: &Value) -> &'static str {
    match v {
        Value::None => "NoneType",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) => "str",
        Value::List(_) => "list",
        Value::Tuple(_) => "tuple",
        Value::Dict(_) => "dict",
    }
}

fn writable(p: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// Where `fail2ban-server` is: beside the client as invoked, then on PATH; otherwise
/// this binary run as `gaol server`.
fn server_exe(prog: &str) -> (PathBuf, Vec<String>) {
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("gaol"));
    let self_server = || (me.clone(), vec!["server".to_string()]);
    if prog.starts_with("gaol") {
        return self_server();
    }
    let argv0 = std::env::args().next().unwrap_or_default();
    let dir = if argv0.contains('/') {
        Path::new(&argv0).parent().map(Path::to_path_buf)
    } else {
        which(&argv0).and_then(|p| p.parent().map(Path::to_path_buf))
    };
    if let Some(d) = dir {
        let cand = d.join("fail2ban-server");
        if cand.is_file() {
            return (cand, Vec::new());
        }
    }
    match which("fail2ban-server") {
        Some(p) => (p, Vec::new()),
        None => self_server(),
    }
}

fn which(name: &str) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A jail-level config message naming one of `others` (the reader's phrasings: `for X`,
/// `'X'`, `X jail`, `[X]`).
fn about_other_jail(logger: &str, msg: &str, others: &[String]) -> bool {
    if logger == "fail2ban.configreader" || logger == "fail2ban.configparserinc" {
        return false;
    }
    others.iter().any(|o| {
        msg.ends_with(&format!(" for {o}"))
            || msg.contains(&format!("'{o}'"))
            || msg.contains(&format!(" {o} jail"))
            || msg.contains(&format!("[{o}]"))
    })
}

fn jail_exists(src: &dyn Source, basedir: &str, jail: &str) -> bool {
    let mut rd = config::Reader::new(src, basedir);
    matches!(rd.fs.read("jail"), Ok(Some(c)) if c.sections.contains_key(jail))
}

/// The global settings (everything before the first `add`) plus the commands of `jail`.
fn only_jail(stream: Vec<Vec<Value>>, jail: &str) -> Vec<Vec<Value>> {
    let first_add = stream
        .iter()
        .position(|c| c.first().and_then(Value::as_str) == Some("add"))
        .unwrap_or(stream.len());
    let mut out = Vec::new();
    for (i, c) in stream.into_iter().enumerate() {
        if i < first_add || c.get(1).and_then(Value::as_str) == Some(jail) {
            out.push(c);
        }
    }
    out
}

/// Python's `shlex.split` (POSIX mode, no comments): the config reader's, shared.
pub use crate::config::options::shlex_split;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shlex_like_python() {
        assert_eq!(
            shlex_split(r#"set j addfailregex "^a \"b\" c$" 'x y' z\ w"#).unwrap(),
            ["set", "j", "addfailregex", "^a \"b\" c$", "x y", "z w"]
        );
        assert_eq!(shlex_split(r#""a\nb""#).unwrap(), ["a\\nb"]);
        assert_eq!(shlex_split("''").unwrap(), [""]);
        assert!(shlex_split("echo \"x").is_err());
    }

    #[test]
    fn reload_stream_of_one_jail() {
        let c = |a: &[&str]| strs(a);
        let s = vec![
            c(&["set", "loglevel", "INFO"]),
            c(&["add", "a", "auto"]),
            c(&["set", "a", "maxretry", "3"]),
            c(&["add", "b", "auto"]),
            c(&["set", "b", "maxretry", "3"]),
            c(&["start", "a"]),
            c(&["start", "b"]),
        ];
        let got = only_jail(s, "b");
        assert_eq!(
            got,
            vec![
                c(&["set", "loglevel", "INFO"]),
                c(&["add", "b", "auto"]),
                c(&["set", "b", "maxretry", "3"]),
                c(&["start", "b"]),
            ]
        );
    }
}
