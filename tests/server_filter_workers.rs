//! The filter side of many jails runs on a few shared threads, not one per jail: 30
//! jails that each read and ban leave at most 4 filter workers (the CPU count, capped),
//! once any started for waits have ended, and no thread of a jail's own. Alone in its
//! binary: it counts this process's threads.

mod server_util;

use gaol::server::Server;
use server_util::*;

#[test]
fn thirty_jails_share_a_few_filter_threads() {
    let env = Env::new();
    let names: Vec<String> = (0..30).map(|i| format!("j{i:02}")).collect();
    let mut cmds = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let log = env.path(&format!("{name}.log"));
        // Read from the head at the start: every jail has events at once.
        let ip = format!("192.0.2.{}", i + 1);
        append_to(&log, &[line_now(&ip), line_now(&ip)]);
        cmds.extend(named_jail(name, &log, &env.out, &[("maxretry", "2")]));
    }
    let srv = Server::new();
    srv.execute(&stream(cmds)).unwrap();
    let want: Vec<String> = (0..30)
        .map(|i| format!("ban j{i:02} 192.0.2.{}", i + 1))
        .collect();
    assert_bans_in_any_order(&env, &want);
    // Workers that waited in a lookup (`ignoreself` resolves this host's name) may have
    // started extra ones; those end once idle (10 s).
    assert!(
        wait_for(60.0, || (1..=4).contains(&filter_workers())),
        "{} filter workers: {:?}",
        filter_workers(),
        thread_names()
    );
    let threads = thread_names();
    // A jail's own threads are named after it (`f2b/a.<jail>` for its actions).
    let own = threads.iter().filter(|n| n.starts_with("f2b/f.")).count();
    assert_eq!(own, 0, "{threads:?}");
    srv.shutdown();
}
