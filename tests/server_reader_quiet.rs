//! A quiet log watched by inotify costs nothing: the reader thread sleeps until an event,
//! with no look every few seconds, while a log whose path goes through a symlink (where
//! inotify cannot see a rotation of the target) keeps its periodic look. Alone in its
//! binary: it counts the wake-ups of the process-wide reader thread.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};
use gaol::server::reader::{Backend, FileReader, ReadEvent, ReaderConfig, StartAt};

fn cfg(path: &Path) -> ReaderConfig {
    ReaderConfig {
        jail: "quiet".into(),
        path: path.to_path_buf(),
        start: StartAt::Head,
        saved: None,
        encoding: "UTF-8".into(),
        backend: Backend::Inotify,
        seek_since: None,
        time_of: None,
    }
}

/// Waits for one batch of lines (panics after a minute).
fn next_lines(rx: &Receiver<ReadEvent>) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(ReadEvent::Lines { .. }) => return,
            Ok(_) => {}
            Err(_) => panic!("no lines within a minute"),
        }
    }
}

/// The context switches of the reader thread (`f2b/reader`) so far: each sleep it
/// wakes from counts one.
fn reader_wakeups() -> u64 {
    let mut found = None;
    for task in fs::read_dir("/proc/self/task")
        .expect("task list")
        .flatten()
    {
        let comm = fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != "f2b/reader" {
            continue;
        }
        let status = fs::read_to_string(task.path().join("status")).expect("status");
        let count = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .expect("a switch count")
        };
        found = Some(count("voluntary_ctxt_switches:") + count("nonvoluntary_ctxt_switches:"));
    }
    found.expect("the reader thread runs")
}

/// The reader's wake-ups over a quiet 7 s, longer than the periodic look's 5 s.
fn wakeups_while_quiet() -> u64 {
    // let the reader settle after the last read
    std::thread::sleep(Duration::from_millis(300));
    let before = reader_wakeups();
    std::thread::sleep(Duration::from_secs(7));
    reader_wakeups() - before
}

fn append(path: &Path, data: &[u8]) {
    let mut f = OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(data).expect("append");
}

#[test]
fn a_quiet_watched_log_does_not_wake_the_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("plain.log");
    fs::write(&plain, "a 0\n").expect("write");
    let (tx, rx) = unbounded();
    let r = FileReader::spawn(cfg(&plain), tx).expect("reader");
    next_lines(&rx);
    assert_eq!(wakeups_while_quiet(), 0, "the reader woke for a quiet log");
    // events still wake it
    append(&plain, b"a 1\n");
    next_lines(&rx);

    // A symlinked path: looked at without events, so the reader wakes.
    let real = dir.path().join("real");
    fs::create_dir(&real).expect("mkdir");
    let target = real.join("app.log");
    fs::write(&target, "b 0\n").expect("write");
    let link = dir.path().join("app.log");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let (tx2, rx2) = unbounded();
    let r2 = FileReader::spawn(cfg(&link), tx2).expect("reader");
    next_lines(&rx2);
    assert!(
        wakeups_while_quiet() >= 1,
        "no look at the symlinked log in 7 s"
    );
    r2.stop();
    r.stop();
}
