//! What the network-namespace firewall tests share: whether they can run here, the
//! stock actions of one jail as gaol's config reader resolves them, and a ban ticket.

use std::path::Path;
use std::process::Command;

use gaol::config::{FsSource, StreamOptions, read_stream};
use gaol::server::action::{CommandAction, MapInfo};
use gaol::stream::Command as StreamCmd;

/// Root, the named tools and the fail2ban package: true when the test can run. Without
/// them it skips loudly, except under CI=true where it fails.
pub fn can_run(what: &str, tools: &[&str]) -> bool {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    // SAFETY: plain syscall without arguments.
    let root = unsafe { libc::geteuid() } == 0;
    let have = tools.iter().all(|t| {
        Command::new(t)
            .arg(if *t == "ip" { "-V" } else { "--version" })
            .output()
            .is_ok()
    });
    if !(root && have) {
        let need = tools.join("/");
        if ci {
            panic!("CI=true: the {what} test needs root and {need}");
        }
        eprintln!("SKIPPED: {what} test needs root and {need}");
        return false;
    }
    crate::common::have_oracle()
}

/// The actions of `jail` in the config tree `dir`, with their `multi-set` values applied.
pub fn actions_of(dir: &Path, jail: &str) -> Vec<CommandAction> {
    let res = read_stream(
        &FsSource,
        dir.to_str().unwrap(),
        &StreamOptions {
            dump: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{:?}", e.0));
    let mut out: Vec<CommandAction> = Vec::new();
    for c in res.commands.expect("stream") {
        match c {
            StreamCmd::AddAction {
                jail: j, action, ..
            } if j == jail => out.push(CommandAction::new(&j, &action)),
            StreamCmd::MultiSetAction {
                jail: j,
                action,
                pairs,
            } if j == jail => {
                let a = out.iter_mut().find(|a| a.name() == action).unwrap();
                for (k, v) in pairs {
                    a.set_value(&k, &v).unwrap();
                }
            }
            _ => {}
        }
    }
    out
}

/// A ban ticket for `ip` (restored from the database or not).
pub fn ticket(ip: &str, restored: bool) -> MapInfo {
    let mut m = MapInfo::for_id(ip, 1795276366.0);
    m.set("failures", "3")
        .set("bantime", "600")
        .set("bancount", "1")
        .set("restored", if restored { "1" } else { "0" })
        .set("matches", "");
    m
}

/// A copy of the stock config tree (no jail.d) whose jail.local enables one sshd jail
/// per `(name, action)`, reading nothing.
pub fn stock_tree(jails: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    crate::common::copy_tree(Path::new(crate::common::STOCK), dir.path());
    let _ = std::fs::remove_dir_all(dir.path().join("jail.d"));
    std::fs::create_dir_all(dir.path().join("jail.d")).unwrap();
    let mut local = String::new();
    for (name, action) in jails {
        local.push_str(&format!(
            "[{name}]\nenabled = true\nfilter = sshd\nbackend = polling\nlogpath = /dev/null\naction = {action}\n\n"
        ));
    }
    std::fs::write(dir.path().join("jail.local"), local).unwrap();
    dir
}
