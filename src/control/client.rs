//! The client end of the control socket: [`Connection`] sends a command list and reads
//! the reply, as fail2ban's client does (one connection may carry several commands,
//! closed with the CLOSE frame).
//!
//! Errors keep the shape fail2ban's client reports: [`py_os_error`] renders an OS error
//! as Python's `str(OSError)` (`[Errno 111] Connection refused`, `timed out`).

use super::pickle::PickleError;
use super::wire::{self, Frame, FrameSplitter, Reply};
use crate::stream::Value;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Replies come from the server we chose to talk to; the cap only stops a runaway.
const MAX_REPLY: usize = 1 << 30;

/// Why a request got no usable reply.
#[derive(Debug)]
pub enum ClientError {
    /// The socket failed (refused, reset, timed out…).
    Io(io::Error),
    /// The reply did not unpickle.
    Protocol(PickleError),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Io(e) => f.write_str(&py_os_error(e)),
            ClientError::Protocol(e) => write!(f, "{e}"),
        }
    }
}
impl std::error::Error for ClientError {}

/// Python's `str()` of an `OSError`.
pub fn py_os_error(e: &io::Error) -> String {
    if matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        return "timed out".to_string();
    }
    match e.raw_os_error() {
        Some(code) => {
            let full = e.to_string();
            let suffix = format!(" (os error {code})");
            let msg = full.strip_suffix(&suffix).unwrap_or(&full);
            format!("[Errno {code}] {msg}")
        }
        None => e.to_string(),
    }
}

/// One connection to the server.
pub struct Connection {
    stream: UnixStream,
    split: FrameSplitter,
}

impl Connection {
    /// Connects to the socket at `path`; `timeout` bounds each send/receive.
    pub fn connect(path: &Path, timeout: Option<Duration>) -> io::Result<Connection> {
        let stream = UnixStream::connect(path)?;
        let c = Connection {
            stream,
            split: FrameSplitter::new(MAX_REPLY),
        };
        c.set_timeout(timeout)?;
        Ok(c)
    }

    /// Sets (or clears, with `None`) the timeout of later sends and receives.
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero duration is an error for std; treat it as the smallest wait.
        let t = timeout.map(|d| d.max(Duration::from_micros(1)));
        self.stream.set_read_timeout(t)?;
        self.stream.set_write_timeout(t)
    }

    /// Sends one command and waits for its reply.
    pub fn send(&mut self, cmd: &[Value]) -> Result<Reply, ClientError> {
        let req = wire::encode_request(cmd);
        self.stream.write_all(&req).map_err(ClientError::Io)?;
        let body = self.receive()?;
        wire::decode_reply(&body).map_err(ClientError::Protocol)
    }

    fn receive(&mut self) -> Result<Vec<u8>, ClientError> {
        let mut buf = vec![0u8; 65536];
        loop {
            match self.split.next_frame() {
                Ok(Some(Frame::Message(m))) => return Ok(m),
                // A server never sends CLOSE; fail2ban's client would fail to load it.
                Ok(Some(Frame::Close)) => {
                    return Err(ClientError::Protocol(PickleError(
                        "unexpected close marker".into(),
                    )));
                }
                Ok(None) => {}
                Err(e) => return Err(ClientError::Protocol(PickleError(e.to_string()))),
            }
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    return Err(ClientError::Io(io::Error::from_raw_os_error(
                        libc::ECONNRESET,
                    )));
                }
                Ok(k) => self.split.feed(&buf[..k]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ClientError::Io(e)),
            }
        }
    }

    /// Says goodbye (CLOSE frame) and shuts the socket down; errors are ignored.
    pub fn close(self) {
        let _ = (&self.stream).write_all(wire::CLOSE_FRAME);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}
