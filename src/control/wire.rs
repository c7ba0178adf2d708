//! fail2ban's control-socket framing on top of [`crate::control::pickle`].
//!
//! A message is a pickle followed by [`END_MARKER`]. [`FrameSplitter`] takes bytes as
//! they arrive and yields whole messages (terminator stripped), refusing to buffer more
//! than a cap. Requests are pickled lists ([`encode_request`] / [`decode_request`]);
//! replies are `(code, value)` tuples or, for undecodable input, a bare `'ERROR: …'`
//! string ([`encode_reply`], [`encode_load_error`], [`decode_reply`]). A client closes
//! with [`CLOSE_MARKER`] framed like any message ([`CLOSE_FRAME`]).

use super::pickle::{self, Decoded, ExcReply, Mode, PickleError};
use crate::stream::Value;

pub const END_MARKER: &[u8] = b"<F2B_END_COMMAND>";
pub const CLOSE_MARKER: &[u8] = b"<F2B_CLOSE_COMMAND>";
/// What a client sends to say goodbye.
pub const CLOSE_FRAME: &[u8] = b"<F2B_CLOSE_COMMAND><F2B_END_COMMAND>";
pub const DEFAULT_MAX_MESSAGE: usize = 32 << 20;

/// A message grew past the cap without a terminator: the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oversized {
    pub limit: usize,
}

impl std::fmt::Display for Oversized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "message exceeds {} bytes without terminator", self.limit)
    }
}
impl std::error::Error for Oversized {}

/// One framed unit from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The bytes before the terminator (a pickle, or garbage).
    Message(Vec<u8>),
    /// The client's close request.
    Close,
}

/// Incremental splitter: `feed` bytes, then drain complete frames with `next_frame`.
#[derive(Debug)]
pub struct FrameSplitter {
    buf: Vec<u8>,
    /// Bytes before this offset are known not to start a terminator.
    scanned: usize,
    max: usize,
}

impl Default for FrameSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE)
    }
}

impl FrameSplitter {
    pub fn new(max_message: usize) -> Self {
        FrameSplitter {
            buf: Vec::new(),
            scanned: 0,
            max: max_message,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet framed.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or `Err` once the
    /// unterminated tail exceeds the cap (the buffer is then dropped).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, Oversized> {
        let from = self.scanned;
        match memchr::memmem::find(&self.buf[from..], END_MARKER) {
            Some(i) => {
                let end = from + i;
                if end > self.max {
                    self.buf = Vec::new();
                    self.scanned = 0;
                    return Err(Oversized { limit: self.max });
                }
                let msg: Vec<u8> = self.buf[..end].to_vec();
                self.buf.drain(..end + END_MARKER.len());
                self.scanned = 0;
                if msg == CLOSE_MARKER {
                    Ok(Some(Frame::Close))
                } else {
                    Ok(Some(Frame::Message(msg)))
                }
            }
            None => {
                if self.buf.len() > self.max + END_MARKER.len() {
                    self.buf = Vec::new();
                    self.scanned = 0;
                    return Err(Oversized { limit: self.max });
                }
                // A terminator may straddle the next feed.
                self.scanned = self.buf.len().saturating_sub(END_MARKER.len() - 1);
                Ok(None)
            }
        }
    }
}

/// Append the terminator to a pickle.
pub fn frame(mut pickle: Vec<u8>) -> Vec<u8> {
    pickle.extend_from_slice(END_MARKER);
    pickle
}

/// A client request: the pickled list plus terminator.
pub fn encode_request(args: &[Value]) -> Vec<u8> {
    frame(pickle::encode(&Value::List(args.to_vec())))
}

/// Decode a request body (terminator already stripped). fail2ban's server accepts any
/// picklable value; gaol needs a command list, so a tuple is taken as a list too and
/// anything else is refused.
pub fn decode_request(body: &[u8]) -> Result<Vec<Value>, PickleError> {
    let limits = pickle::Limits {
        max_nodes: pickle::REQUEST_MAX_NODES,
        ..pickle::Limits::default()
    };
    let value = match pickle::decode_with(body, Mode::Request, limits)? {
        Decoded::Value(v) => v,
        Decoded::ErrorReply(..) => return Err(PickleError("unexpected exception object".into())),
    };
    match value {
        Value::List(v) | Value::Tuple(v) => Ok(v),
        other => Err(PickleError(format!(
            "command must be a list, got {}",
            type_name(&other)
        ))),
    }
}

fn type_name(v: &Value) -> &'static str {
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

/// A server reply: `(0, value)` or `(1, exception)`, framed.
pub fn encode_reply(result: Result<&Value, &ExcReply>) -> Vec<u8> {
    frame(match result {
        Ok(v) => pickle::encode(&Value::Tuple(vec![Value::Int(0), v.clone()])),
        Err(e) => pickle::encode_exception_reply(1, e),
    })
}

/// The reply to a message that could not be unpickled: `'ERROR: <reason>'`, framed.
pub fn encode_load_error(e: &PickleError) -> Vec<u8> {
    frame(pickle::encode(&Value::Str(format!("ERROR: {e}"))))
}

/// A reply as the client sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `(0, value)`.
    Ok(Value),
    /// `(code, exception)` with code != 0.
    Err(ExcReply),
    /// A bare value that is not a `(code, value)` pair: e.g. the server's `'ERROR: …'`.
    Raw(Value),
}

/// Decode a reply body (terminator stripped) on the client side.
pub fn decode_reply(body: &[u8]) -> Result<Reply, PickleError> {
    match pickle::decode(body, Mode::Reply)? {
        Decoded::ErrorReply(_, e) => Ok(Reply::Err(e)),
        Decoded::Value(Value::Tuple(mut t)) if t.len() == 2 && t[0] == Value::Int(0) => {
            Ok(Reply::Ok(t.pop().unwrap_or(Value::None)))
        }
        Decoded::Value(Value::Tuple(t)) if t.len() == 2 => Ok(Reply::Err(ExcReply {
            // A failure whose value is not an exception object: keep it as the message.
            module: "builtins".into(),
            name: "Exception".into(),
            args: vec![t[1].clone()],
        })),
        Decoded::Value(v) => Ok(Reply::Raw(v)),
    }
}
