//! Deferred log records (`emit_deferred`, used for the filter's `Found` lines): held back
//! until the next plain record or `flush`, never reordered, and written out before the
//! file target is replaced. One test fn: the log target is process-wide.

use gaol::server::log::{self, LogLevel, Target};

fn messages(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_once("]: ").map_or(l, |(_, m)| m).to_string())
        .collect()
}

#[test]
fn deferred_records_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fail2ban.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    log::set_level(LogLevel::INFO);
    log::set_target(Target::File(path.clone(), file));

    log::emit_deferred(LogLevel::INFO, "fail2ban.filter", "[j] Found 192.0.2.1 - x");
    log::emit_deferred(LogLevel::INFO, "fail2ban.filter", "[j] Found 192.0.2.2 - x");
    // Below the level: dropped, deferred or not.
    log::emit_deferred(LogLevel::DEBUG, "fail2ban.filter", "hidden");
    assert!(messages(&path).is_empty(), "deferred records written early");

    // A plain record (any thread) writes the held-back ones first.
    std::thread::spawn(|| log::emit(LogLevel::NOTICE, "fail2ban.actions", "[j] Ban 192.0.2.1"))
        .join()
        .unwrap();
    let want = [
        "INFO    [j] Found 192.0.2.1 - x",
        "INFO    [j] Found 192.0.2.2 - x",
        "NOTICE  [j] Ban 192.0.2.1",
    ];
    assert_eq!(messages(&path), want);
    // The logger name is padded as in a plain record.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().all(|l| l.contains(" fail2ban.")), "{text}");

    log::emit_deferred(LogLevel::INFO, "fail2ban.filter", "[j] Found 192.0.2.3 - x");
    log::flush();
    assert_eq!(messages(&path).len(), 4);
    assert_eq!(messages(&path)[3], "INFO    [j] Found 192.0.2.3 - x");

    // Replacing the target writes what is still held back to the old file.
    log::emit_deferred(LogLevel::INFO, "fail2ban.filter", "[j] Found 192.0.2.4 - x");
    log::set_target(Target::Discard);
    assert_eq!(messages(&path)[4], "INFO    [j] Found 192.0.2.4 - x");

    // Other targets get deferred records at once.
    log::set_target(Target::Memory(Vec::new()));
    log::emit_deferred(LogLevel::INFO, "fail2ban.filter", "[j] Found 192.0.2.5 - x");
    let Target::Memory(lines) = log::set_target(Target::Discard) else {
        panic!("memory target expected");
    };
    assert_eq!(lines.len(), 1);
    assert!(lines[0].ends_with("[j] Found 192.0.2.5 - x"), "{lines:?}");
}
