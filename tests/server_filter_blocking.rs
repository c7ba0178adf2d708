//! A jail whose filter waits (here on its `ignorecommand`) holds up no other jail's
//! filtering, though the jails share a few filter threads. Alone in its binary: its
//! commands hold the server-wide command lock for a while (as fail2ban, gaol runs one
//! command at a time), which would stall other tests' actions.

mod server_util;

use gaol::server::Server;
use server_util::*;

/// Five jails whose `ignorecommand` waits on a gate file are more than the workers
/// that run events at once (at most 4). One runs its command, the others wait for the
/// command lock, all inside a worker: the waiting workers must make room, so another
/// jail still counts its failures meanwhile. Then the gate opens, the five ban, and
/// the workers started for the waits end.
#[test]
fn jails_waiting_on_their_ignorecommand_hold_up_no_other_jail() {
    let env = Env::new();
    let dir = env.dir.path().display().to_string();
    let gate = env.path("gate");
    // Opens the gate whatever happens, so no command is left waiting.
    struct Open(std::path::PathBuf);
    impl Drop for Open {
        fn drop(&mut self) {
            let _ = std::fs::write(&self.0, "");
        }
    }
    let _open = Open(gate.clone());
    let slow: Vec<String> = (0..5).map(|i| format!("slow{i}")).collect();
    let mut cmds = Vec::new();
    for name in &slow {
        let wait = format!(
            "touch {dir}/started.{name}; while [ ! -e {dir}/gate ]; do sleep 0.05; done; exit 1"
        );
        let log = env.path(&format!("{name}.log"));
        std::fs::write(&log, "").unwrap();
        cmds.extend(named_jail(
            name,
            &log,
            &env.out,
            &[("maxretry", "1"), ("ignorecommand", &wait)],
        ));
    }
    let fast_log = env.path("fast.log");
    std::fs::write(&fast_log, "").unwrap();
    cmds.extend(named_jail(
        "fast",
        &fast_log,
        &env.out,
        &[("maxretry", "10")],
    ));
    let srv = Server::new();
    srv.execute(&stream(cmds)).unwrap();
    for (i, name) in slow.iter().enumerate() {
        append_to(
            &env.path(&format!("{name}.log")),
            &[line_now(&format!("192.0.2.{}", i + 1))],
        );
    }
    // All five jails are inside a worker: one in its command, four waiting for the
    // lock; the sixth worker is the one left for the other jails.
    assert!(
        wait_for(60.0, || filter_workers() >= 6),
        "{} filter workers",
        filter_workers()
    );
    append_to(
        &fast_log,
        &[line_now("198.51.100.1"), line_now("198.51.100.1")],
    );
    let fast = || {
        let st = srv.execute(&cmd(&["status", "fast"])).unwrap().to_string();
        st.contains("('Total failed', 2)")
    };
    let counted = wait_for(60.0, fast);
    assert_eq!(
        slow.iter()
            .filter(|n| env.path(&format!("started.{n}")).exists())
            .count(),
        1,
        "one command at a time"
    );
    assert!(!gate.exists(), "the gate opened early");
    assert!(
        counted,
        "the fast jail's failures were not counted while the others waited"
    );
    std::fs::write(&gate, "").unwrap();
    let want: Vec<String> = (0..5)
        .map(|i| format!("ban slow{i} 192.0.2.{}", i + 1))
        .collect();
    assert_bans_in_any_order(&env, &want);
    // The workers started for the waits end once idle (10 s), down to at most 4.
    assert!(
        wait_for(60.0, || filter_workers() <= 4),
        "{} filter workers stay",
        filter_workers()
    );
    srv.shutdown();
}
