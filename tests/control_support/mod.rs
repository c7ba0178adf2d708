//! Shared pieces of the control tests: a small [`Handler`] with fail2ban's replies for a
//! few commands, the real fail2ban-server (`--async -f`, no configuration) as an oracle,
//! and runners for the real Python client and gaol's client.
#![allow(dead_code)]

use gaol::control::pickle::ExcReply;
use gaol::control::socket::Handler;
use gaol::stream::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// ping → 'pong', echo → its arguments, version; the errors fail2ban gives for an
/// unknown command and an unknown jail; everything it receives is recorded.
#[derive(Default)]
pub struct TestHandler {
    pub seen: Mutex<Vec<Vec<Value>>>,
}

impl Handler for TestHandler {
    fn handle(&self, cmd: Vec<Value>) -> Result<Value, ExcReply> {
        if let Ok(mut s) = self.seen.lock() {
            s.push(cmd.clone());
        }
        let word = |i: usize| cmd.get(i).and_then(Value::as_str);
        match word(0) {
            Some("ping") => Ok(Value::str("pong")),
            Some("echo") => Ok(Value::List(cmd[1..].to_vec())),
            Some("version") => Ok(Value::str("1.0.2")),
            Some("get") | Some("set") | Some("status")
                if cmd.len() >= 2 && word(1) == Some("nosuch") =>
            {
                Err(ExcReply::new(
                    "fail2ban.exceptions",
                    "UnknownJailException",
                    "nosuch",
                ))
            }
            _ => Err(ExcReply::new("builtins", "Exception", "Invalid command")),
        }
    }
}

pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Run {
    /// stderr without the time stamp and pid, which differ between any two runs.
    pub fn stderr_norm(&self) -> String {
        let re = regex::Regex::new(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} |\[\d+\]:").unwrap();
        re.replace_all(&self.stderr, "").into_owned()
    }
}

fn run(mut c: Command) -> Run {
    let o = c.stdin(Stdio::null()).output().expect("spawn");
    Run {
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(-1),
    }
}

/// True if the real fail2ban tools are installed; otherwise a loud skip (or a failure
/// under CI=true).
pub fn have_fail2ban() -> bool {
    let ok = Command::new("fail2ban-client")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "fail2ban-client missing, but CI=true requires it"
        );
        eprintln!("SKIPPED: fail2ban-client not installed");
    }
    ok
}

pub fn py_client(sock: &Path, args: &[&str]) -> Run {
    let mut c = Command::new("fail2ban-client");
    c.arg("-s").arg(sock).args(args);
    run(c)
}

pub fn gaol_client(sock: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gaol"));
    c.arg("client").arg("-s").arg(sock).args(args);
    run(c)
}

/// A real fail2ban-server without configuration, killed on drop.
pub struct RealServer {
    child: Child,
    pub sock: PathBuf,
}

impl RealServer {
    pub fn start(dir: &Path) -> RealServer {
        let sock = dir.join("real.sock");
        let child = Command::new("fail2ban-server")
            .args(["--async", "-f", "-x", "-s"])
            .arg(&sock)
            .arg("-p")
            .arg(dir.join("real.pid"))
            .arg("--logtarget")
            .arg(dir.join("real.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fail2ban-server");
        let s = RealServer { child, sock };
        wait_for_socket(&s.sock);
        s
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something accepts connections at `sock` (60 s at most: the Python
/// server starts slowly on a loaded machine).
pub fn wait_for_socket(sock: &Path) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if std::os::unix::net::UnixStream::connect(sock).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no server at {}", sock.display());
}

/// Raises the open-file soft limit (tests that hold many connections).
pub fn raise_fd_limit(want: u64) {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 && rl.rlim_cur < want {
            rl.rlim_cur = want.min(rl.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
}
