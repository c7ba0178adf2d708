//! A restricted pickle codec for fail2ban's wire protocol.
//!
//! [`decode`] turns pickle bytes into a [`Decoded`] value; [`encode`] /
//! [`encode_exception_reply`] produce pickles that Python's `pickle.loads` accepts
//! (byte-identical to `pickle.dumps(obj, 5)` for fail2ban-sized data, see below).
//!
//! The decoder is a data-only virtual machine: it builds `None/bool/int/float/str`,
//! lists, tuples and dicts and never calls anything. In [`Mode::Request`] every opcode
//! that could name or call Python code (`GLOBAL`, `STACK_GLOBAL`, `REDUCE`, `INST`, `OBJ`,
//! `NEWOBJ*`, `BUILD`, `PERSID`, `EXT*`, buffers) is an error. In [`Mode::Reply`] the
//! one shape fail2ban's server sends for failures, `cls(*args)` built from a global, is
//! recorded as an [`ExcReply`] (never instantiated) so a client can show it.
//!
//! Decisions: Python `set`/`frozenset` decode to `Value::List` (the fail2ban client lets
//! sets through; `Value` has no set); `bytes`/`bytearray` are rejected (the client turns
//! everything exotic into `str`, so bytes never appear in real traffic); integers outside
//! i64 are rejected. Limits: whole message ([`Limits::max_size`]), nesting depth, and a
//! budget on values copied out of the memo (guards against "billion laughs" `GET`s).
//! Every length prefix is checked against the remaining input before allocating.
//!
//! Encoder differences from CPython: Python memoizes by object identity, so an object
//! appearing twice is emitted once and then fetched with `BINGET`; a `Value` has no
//! identity, so we emit every occurrence in full (still loads to an equal value).
//! Frames (64 KiB target, big strings written unframed) follow CPython's C pickler.

use crate::stream::Value;
use std::fmt;

/// Why a pickle was refused. `Display` is the text fail2ban puts after `ERROR: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickleError(pub String);

impl fmt::Display for PickleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for PickleError {}

fn err<T>(msg: impl Into<String>) -> Result<T, PickleError> {
    Err(PickleError(msg.into()))
}

/// An exception object from a reply, kept as data: `module.name(*args)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExcReply {
    pub module: String,
    pub name: String,
    pub args: Vec<Value>,
}

impl ExcReply {
    /// `builtins.<name>(msg)` or any other class with a single message argument.
    pub fn new(module: &str, name: &str, msg: impl Into<String>) -> Self {
        ExcReply {
            module: module.into(),
            name: name.into(),
            args: vec![Value::Str(msg.into())],
        }
    }

    /// An OSError-family exception (`errno, strerror, filename`), as an OS call fails.
    pub fn os_error(e: &std::io::Error, filename: &str) -> Self {
        let errno = e.raw_os_error().unwrap_or(0);
        let name = match e.kind() {
            std::io::ErrorKind::NotFound => "FileNotFoundError",
            std::io::ErrorKind::PermissionDenied => "PermissionError",
            _ => "OSError",
        };
        // Rust appends " (os error N)" to the C library's text, which Python shows bare.
        let text = e.to_string();
        let strerror = text
            .rsplit_once(" (os error ")
            .map_or(text.as_str(), |(t, _)| t);
        ExcReply {
            module: "builtins".into(),
            name: name.into(),
            args: vec![
                Value::Int(i64::from(errno)),
                Value::Str(strerror.into()),
                Value::Str(filename.into()),
            ],
        }
    }

    /// OSError and its subclasses keep a third constructor argument (the file name) out
    /// of `args` and show it in `str()`.
    fn os_filename(&self) -> Option<&Value> {
        let os = self.module == "builtins"
            && matches!(
                self.name.as_str(),
                "OSError"
                    | "IOError"
                    | "FileNotFoundError"
                    | "FileExistsError"
                    | "PermissionError"
                    | "IsADirectoryError"
                    | "NotADirectoryError"
            );
        match self.args.as_slice() {
            [Value::Int(_), _, f] if os => Some(f),
            _ => None,
        }
    }

    /// Python's `exc.args`: what the NOK log line shows.
    pub fn py_args(&self) -> Vec<Value> {
        match self.os_filename() {
            Some(_) => self.args[..2].to_vec(),
            None => self.args.clone(),
        }
    }

    /// Python's `str(exc)`: the lone argument as str, else the args tuple repr
    /// (`[Errno N] text: 'file'` for an OSError with a file name).
    pub fn message(&self) -> String {
        if let Some(f) = self.os_filename() {
            return format!(
                "[Errno {}] {}: {}",
                self.args[0].to_py_str(),
                self.args[1].to_py_str(),
                f
            );
        }
        match self.args.as_slice() {
            [] => String::new(),
            [one] => one.to_py_str(),
            more => Value::Tuple(more.to_vec()).to_string(),
        }
    }
}

/// Python's `repr(exc)`, e.g. `UnknownJailException('nosuchjail')`.
impl fmt::Display for ExcReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let py_args = self.py_args();
        let args = Value::Tuple(py_args.clone()).to_string();
        let inner = if py_args.len() == 1 {
            // `('x',)` -> `'x'`
            &args[1..args.len() - 2]
        } else {
            &args[1..args.len() - 1]
        };
        write!(f, "{}({inner})", self.name)
    }
}

/// What a decode produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Value(Value),
    /// Only in [`Mode::Reply`]: the tuple `(code, exception)`.
    ErrorReply(Value, ExcReply),
}

/// Which traffic is being decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Client → server: data only.
    Request,
    /// Server → client: data plus `(code, exception)` tuples.
    Reply,
}

/// Resource caps for the decoder.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_size: usize,
    pub max_depth: usize,
    /// Objects the decoder may create (each costs far more memory than its opcode
    /// byte: a list of a million `None`s is 1 MB of pickle). No cap by default.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: 32 << 20,
            max_depth: 100,
            max_nodes: usize::MAX,
        }
    }
}

/// Objects a request may carry: far above any configuration stream (a few hundred
/// thousand), far below what would exhaust memory.
pub const REQUEST_MAX_NODES: usize = 4_000_000;

/// Decode with default limits.
pub fn decode(data: &[u8], mode: Mode) -> Result<Decoded, PickleError> {
    decode_with(data, mode, Limits::default())
}

/// Decode a pickle that must be plain data (a request, or a success reply).
pub fn decode_value(data: &[u8]) -> Result<Value, PickleError> {
    match decode(data, Mode::Request)? {
        Decoded::Value(v) => Ok(v),
        Decoded::ErrorReply(..) => err("unexpected exception object"),
    }
}

mod dec;
mod enc;
pub use dec::decode_with;
pub use enc::{encode, encode_exception_reply};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exc_repr_and_message() {
        let e = ExcReply::new("builtins", "ValueError", "not banned: ['1.1.1.1']");
        assert_eq!(e.to_string(), "ValueError(\"not banned: ['1.1.1.1']\")");
        assert_eq!(e.message(), "not banned: ['1.1.1.1']");
        let none = ExcReply {
            module: "builtins".into(),
            name: "Exception".into(),
            args: vec![],
        };
        assert_eq!(none.to_string(), "Exception()");
        let two = ExcReply {
            args: vec![Value::Int(1), Value::str("a")],
            ..none
        };
        assert_eq!(two.to_string(), "Exception(1, 'a')");
        assert_eq!(two.message(), "(1, 'a')");
    }

    #[test]
    fn ints_round_trip_through_every_width() {
        for i in [
            0,
            1,
            255,
            256,
            65535,
            65536,
            -1,
            -256,
            i64::from(i32::MAX) + 1,
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(
                decode_value(&encode(&Value::Int(i))),
                Ok(Value::Int(i)),
                "{i}"
            );
        }
    }

    #[test]
    fn protocol0_text_opcodes() {
        // Hand-written protocol 0: MARK LIST PUT, INT bool, LONG, FLOAT, UNICODE, STRING.
        let p = b"(lp0\nI01\naL5L\naF0.5\naVa\\u00e9\naS'b\\n'\na.";
        let v = decode_value(p).unwrap();
        assert_eq!(v.to_string(), "[True, 5, 0.5, 'a\u{e9}', 'b\\n']");
    }

    #[test]
    fn node_cap_bounds_cheap_big_lists() {
        // EMPTY_LIST MARK None*n APPENDS STOP: one byte per element.
        let n = 10_000;
        let mut p = vec![b']', b'('];
        p.extend(std::iter::repeat_n(b'N', n));
        p.extend_from_slice(b"e.");
        let lim = Limits {
            max_nodes: n / 2,
            ..Limits::default()
        };
        let e = decode_with(&p, Mode::Request, lim).unwrap_err();
        assert!(e.0.contains("too many objects"), "{e}");
        let lim = Limits {
            max_nodes: n + 10,
            ..Limits::default()
        };
        assert!(decode_with(&p, Mode::Request, lim).is_ok());
    }

    #[test]
    fn str_subclass_in_reply_is_data() {
        // What fail2ban's server sends for `[IPAddr('1.1.1.1')]`: builtins.str reduced.
        let p = b"\x80\x05\x95)\x00\x00\x00\x00\x00\x00\x00K\x00]\x94\x8c\x08builtins\x94\x8c\x03str\x94\x93\x94\x8c\x071.1.1.1\x94\x85\x94R\x94a\x86\x94.";
        assert_eq!(
            decode(p, Mode::Reply),
            Ok(Decoded::Value(Value::Tuple(vec![
                Value::Int(0),
                Value::List(vec![Value::str("1.1.1.1")])
            ])))
        );
        assert!(decode(p, Mode::Request).is_err());
    }

    #[test]
    fn reply_mode_only_accepts_code_exception_pairs() {
        let e = ExcReply::new("builtins", "KeyError", "k");
        let bytes = encode_exception_reply(1, &e);
        assert_eq!(
            decode(&bytes, Mode::Reply),
            Ok(Decoded::ErrorReply(Value::Int(1), e))
        );
        assert!(
            decode(&bytes, Mode::Request)
                .unwrap_err()
                .0
                .contains("STACK_GLOBAL")
        );
    }
}
