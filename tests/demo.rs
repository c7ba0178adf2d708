//! `gaol demo` (README's first command): the server on the embedded default finds the
//! demo failures, bans the attacker through the log-only action, spares the address that
//! stays below maxretry, and stops cleanly.

use std::process::Command;

#[test]
fn demo_bans_the_attacker_with_the_log_only_action() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_gaol"))
        .args(["demo", "--for", "8", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run gaol demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}\n{stdout}", out.status);
    assert!(
        stdout.contains("NOTICE  [sshd] Ban 203.0.113.7"),
        "no ban line:\n{stdout}"
    );
    assert!(!stdout.contains("Ban 198.51.100.23"), "{stdout}");
    assert_eq!(
        stdout.matches("[sshd] Found 198.51.100.23").count(),
        2,
        "{stdout}"
    );
    assert!(stdout.contains("Exiting Fail2ban"), "{stdout}");
    let bans = std::fs::read_to_string(dir.path().join("bans.log")).expect("bans.log");
    assert_eq!(
        bans.lines().collect::<Vec<_>>(),
        // Stopping the jail unbans what is still banned (the action has no flush).
        [
            "start sshd",
            "ban sshd 203.0.113.7",
            "unban sshd 203.0.113.7",
            "stop sshd"
        ],
        "{bans}"
    );
}
