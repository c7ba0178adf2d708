//! The control socket server: the real Python fail2ban-client against it (same output as
//! against the real fail2ban-server), socket file rules, and hostile clients.

mod control_support;

use control_support::*;
use gaol::control::pickle;
use gaol::control::socket::{Limits, SocketError, SocketServer};
use gaol::control::wire::{self, Reply};
use gaol::stream::Value;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn server(dir: &Path) -> (SocketServer, Arc<TestHandler>) {
    let h = Arc::new(TestHandler::default());
    let s = SocketServer::start(&dir.join("run/f2b.sock"), false, h.clone()).unwrap();
    (s, h)
}

/// Sends raw bytes, returns what came back until the reply terminator or EOF.
fn raw(sock: &Path, bytes: &[u8]) -> Vec<u8> {
    let mut c = UnixStream::connect(sock).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may close early (oversized input): a failed write is fine.
    let _ = c.write_all(bytes);
    read_reply(&mut c)
}

fn read_reply(c: &mut UnixStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(wire::END_MARKER) {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => out.extend_from_slice(&buf[..k]),
        }
    }
    out
}

fn decode(reply: &[u8]) -> Reply {
    let body = reply
        .strip_suffix(wire::END_MARKER)
        .expect("terminated reply");
    wire::decode_reply(body).unwrap()
}

fn ping(sock: &Path) {
    let r = raw(sock, &wire::encode_request(&[Value::str("ping")]));
    assert_eq!(decode(&r), Reply::Ok(Value::str("pong")));
}

fn is_load_error(reply: &[u8]) -> bool {
    matches!(decode(reply), Reply::Raw(Value::Str(s)) if s.starts_with("ERROR: "))
}

#[test]
fn python_client_sees_the_same_as_with_the_real_server() {
    if !have_fail2ban() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let real = RealServer::start(dir.path());
    let (ours, _) = server(dir.path());
    let cmds: &[&[&str]] = &[
        &["ping"],
        &["echo", "a", "b"],
        &["echo"],
        &["version"],
        &["bogus"],
        &["get", "nosuch", "maxretry"],
        &["status", "nosuch"],
        &["ping", "2"],
    ];
    for c in cmds {
        let want = py_client(&real.sock, c);
        let got = py_client(ours.path(), c);
        assert_eq!(got.stdout, want.stdout, "{c:?}");
        assert_eq!(got.code, want.code, "{c:?}");
        assert_eq!(got.stderr_norm(), want.stderr_norm(), "{c:?}");
    }
    ours.stop();
}

#[test]
fn socket_file_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/f2b.sock");
    let h = Arc::new(TestHandler::default());
    let s = SocketServer::start(&path, false, h.clone()).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700, "srwx------");
    // A second server on the same path: refused without force.
    match SocketServer::start(&path, false, h.clone()) {
        Err(e @ SocketError::AlreadyRunning) => assert_eq!(e.to_string(), "Server already running"),
        other => panic!("expected AlreadyRunning, got {:?}", other.map(|_| ())),
    }
    s.stop();
    assert!(!path.exists(), "stop removes the socket file");
    // A stale file blocks start, unless forced.
    std::fs::write(&path, b"stale").unwrap();
    assert!(matches!(
        SocketServer::start(&path, false, h.clone()),
        Err(SocketError::AlreadyRunning)
    ));
    let s = SocketServer::start(&path, true, h.clone()).unwrap();
    ping(&path);
    drop(s);
    assert!(!path.exists(), "drop removes the socket file");
}

#[test]
fn several_commands_per_connection_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let (s, h) = server(dir.path());
    let mut c = UnixStream::connect(s.path()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Two requests in one write: two replies, in order.
    let mut req = wire::encode_request(&[Value::str("echo"), Value::Int(1), Value::Float(2.5)]);
    req.extend(wire::encode_request(&[
        Value::str("ping"),
        Value::Float(0.1),
    ]));
    c.write_all(&req).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got
        .windows(wire::END_MARKER.len())
        .filter(|w| *w == wire::END_MARKER)
        .count()
        < 2
    {
        let k = c.read(&mut buf).unwrap();
        assert!(k > 0);
        got.extend_from_slice(&buf[..k]);
    }
    let mut split = wire::FrameSplitter::default();
    split.feed(&got);
    let mut replies = Vec::new();
    while let Some(wire::Frame::Message(m)) = split.next_frame().unwrap() {
        replies.push(wire::decode_reply(&m).unwrap());
    }
    assert_eq!(
        replies,
        [
            Reply::Ok(Value::List(vec![Value::Int(1), Value::Float(2.5)])),
            Reply::Ok(Value::str("pong"))
        ]
    );
    // CLOSE: the server closes its side.
    c.write_all(wire::CLOSE_FRAME).unwrap();
    assert_eq!(c.read(&mut buf).unwrap(), 0);
    assert_eq!(h.seen.lock().unwrap().len(), 2);
}

#[test]
fn hostile_input_gets_an_error_and_the_server_keeps_serving() {
    use gaol::server::log::{self, Target};
    log::set_target(Target::Memory(vec![]));
    let dir = tempfile::tempdir().unwrap();
    // fail2ban's own cap (32 MB per message) and fd-derived connection cap.
    let limits = Limits::default();
    let h = Arc::new(TestHandler::default());
    let path = dir.path().join("f2b.sock");
    let s = SocketServer::start_with(&path, false, h.clone(), limits).unwrap();

    // Garbage bytes: a plain 'ERROR: …' string, as fail2ban replies.
    let r = raw(&path, b"garbage-not-pickle<F2B_END_COMMAND>");
    assert!(is_load_error(&r), "{r:?}");
    ping(&path);

    // A truncated pickle.
    let p = pickle::encode(&Value::List(vec![Value::str("ping"), Value::str("x")]));
    let mut t = p[..p.len() / 2].to_vec();
    t.extend_from_slice(wire::END_MARKER);
    assert!(is_load_error(&raw(&path, &t)));
    ping(&path);

    // A pickle that would call os.system (GLOBAL + REDUCE), in protocol 0 and 4 forms.
    let marker = dir.path().join("pwned");
    let cmd = format!("touch {}", marker.display());
    let mut p0 = format!("cos\nsystem\n(V{cmd}\ntR.").into_bytes();
    p0.extend_from_slice(wire::END_MARKER);
    assert!(is_load_error(&raw(&path, &p0)));
    let mut p4 = b"\x80\x04\x8c\x02os\x8c\x06system\x93".to_vec();
    p4.push(0x8c);
    p4.push(cmd.len() as u8);
    p4.extend_from_slice(cmd.as_bytes());
    p4.extend_from_slice(b"\x85R.");
    p4.extend_from_slice(wire::END_MARKER);
    assert!(is_load_error(&raw(&path, &p4)));
    assert!(!marker.exists(), "the pickle must never run anything");
    ping(&path);

    // A small pickle that would build millions of objects (a list of 5M `None`s).
    let mut many = vec![b']', b'('];
    many.extend(std::iter::repeat_n(b'N', 5_000_000));
    many.extend_from_slice(b"e.");
    many.extend_from_slice(wire::END_MARKER);
    assert!(is_load_error(&raw(&path, &many)));
    ping(&path);

    // A 100 MB message: error reply or closed connection, bounded memory, then service.
    {
        let mut c = UnixStream::connect(&path).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        let chunk = vec![b'A'; 1 << 20];
        let mut sent = 0;
        for _ in 0..100 {
            if c.write_all(&chunk).is_err() {
                break;
            }
            sent += 1;
        }
        assert!(
            sent < 100,
            "the server must stop reading an oversized message"
        );
        let r = read_reply(&mut c);
        assert!(r.is_empty() || is_load_error(&r), "{r:?}");
    }
    ping(&path);

    // Nothing reached the handler except the pings.
    let seen = h.seen.lock().unwrap().clone();
    assert!(seen.iter().all(|c| c[0] == Value::str("ping")), "{seen:?}");
    let lines = match log::set_target(Target::Discard) {
        Target::Memory(l) => l,
        _ => vec![],
    };
    let proto = lines
        .iter()
        .filter(|l| {
            l.contains("fail2ban.asyncserver")
                && l.contains("ERROR   PROTO-error: load message failed: ")
        })
        .count();
    assert!(proto >= 6, "{lines:#?}");
    s.stop();
}

#[test]
fn a_thousand_concurrent_connections() {
    raise_fd_limit(8192);
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = server(dir.path());
    let mut conns = Vec::new();
    for i in 0..1000 {
        let mut c = UnixStream::connect(s.path()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // Half send garbage, half a message that never ends.
        let _ = if i % 2 == 0 {
            c.write_all(b"garbage<F2B_END_COMMAND>")
        } else {
            c.write_all(b"\x80\x05\x95")
        };
        conns.push((i, c));
    }
    // While all of them are open, the server still answers.
    ping(s.path());
    // Each got an error or was closed; none got a success reply or hangs.
    let mut errors = 0;
    for (i, c) in conns.iter_mut() {
        if *i % 2 == 1 {
            let _ = c.shutdown(std::net::Shutdown::Write);
        }
        let r = read_reply(c);
        if !r.is_empty() {
            assert!(is_load_error(&r), "{r:?}");
            errors += 1;
        }
    }
    assert!(errors > 0);
    drop(conns);
    ping(s.path());
}
