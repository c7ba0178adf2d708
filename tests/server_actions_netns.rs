//! Stock firewall actions for real, inside a network namespace made by the test: the
//! actions of /etc/fail2ban, read by gaol's config reader, run unchanged through
//! gaol's `execute` (wrapped in `ip netns exec`). After a ban the rule / set element is
//! there; the consistency check passes; after unban and stop the firewall is as before.
//! Needs root and the fail2ban package; outside CI it skips loudly without them.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use gaol::config::{FsSource, StreamOptions, read_stream};
use gaol::server::action::{CommandAction, Family, JailActions, MapInfo, PreparedCommand, execute};
use gaol::stream::Command as StreamCmd;

mod common;

const V4: &str = "192.0.2.10";
const V6: &str = "2001:db8::7";

fn can_run() -> bool {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    // SAFETY: plain syscall without arguments.
    let root = unsafe { libc::geteuid() } == 0;
    let tools = ["ip", "iptables", "ip6tables", "nft", "ipset"]
        .iter()
        .all(|t| {
            Command::new(t)
                .arg(if *t == "ip" { "-V" } else { "--version" })
                .output()
                .is_ok()
        });
    if !(root && tools) {
        if ci {
            panic!("CI=true: the netns firewall test needs root and ip/iptables/nft/ipset");
        }
        eprintln!("SKIPPED: netns firewall test needs root and ip/iptables/nft/ipset");
        return false;
    }
    common::have_oracle()
}

/// A network namespace, deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("gaol-test-{}-{tag}", std::process::id());
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(st.success(), "ip netns add {name}");
        Netns(name)
    }

    fn sh(&self, script: &str) -> String {
        let o = Command::new("ip")
            .args(["netns", "exec", &self.0, "/bin/sh", "-c", script])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn state(&self) -> String {
        self.sh("iptables -w -S; ip6tables -w -S; ipset list; echo ==nft; nft list ruleset | grep -v '^table ip6\\? filter\\|^\\s*chain \\(INPUT\\|FORWARD\\|OUTPUT\\)\\|^\\s*type filter hook\\|^\\s*}\\|^$'")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn actions_of(dir: &Path, jail: &str) -> Vec<CommandAction> {
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

fn ticket(ip: &str) -> MapInfo {
    let mut m = MapInfo::for_id(ip, 1795276366.0);
    m.set("failures", "3")
        .set("bantime", "600")
        .set("bancount", "1")
        .set("restored", "0")
        .set("matches", "");
    m
}

/// Runs one jail's stock action in a fresh namespace; returns what the firewall showed
/// after the bans.
fn exercise(dir: &Path, jail: &str) -> String {
    let ns = Netns::new(jail);
    let before = ns.state();
    let nsname = ns.0.clone();
    let mut ja = JailActions::new(jail);
    ja.set_runner(Arc::new(move |c: &PreparedCommand, timeout| {
        // The script and its arguments pass unchanged into the namespace's shell.
        let mut args = vec![c.script.clone()];
        args.extend(c.args.iter().cloned());
        let wrapped = PreparedCommand {
            script: format!("exec ip netns exec {nsname} /bin/sh -c \"$0\" \"$@\""),
            args,
        };
        execute(&wrapped, timeout).success
    }));
    let actions = actions_of(dir, jail);
    assert_eq!(actions.len(), 1, "{jail}: one action");
    for a in actions {
        ja.add(a).unwrap();
    }
    ja.start();
    let (t4, t6) = (ticket(V4), ticket(V6));
    assert!(ja.ban(&t4, Family::Inet4, false), "{jail}: ban {V4}");
    assert!(ja.ban(&t6, Family::Inet6, false), "{jail}: ban {V6}");
    let banned = ns.state();
    ja.consistency_check();
    assert_eq!(
        ja.ban_epoch(),
        0,
        "{jail}: the check found the firewall broken"
    );
    ja.unban(&t4, Family::Inet4);
    ja.unban(&t6, Family::Inet6);
    let unbanned = ns.state();
    assert!(
        !unbanned.contains(V4) && !unbanned.contains(V6),
        "{jail}: still banned after unban:\n{unbanned}"
    );
    ja.flush(&[]);
    ja.stop();
    let after = ns.state();
    assert_eq!(before, after, "{jail}: firewall not restored");
    banned
}

#[test]
fn stock_firewall_actions_in_netns() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    common::copy_tree(Path::new(common::STOCK), dir.path());
    let _ = std::fs::remove_dir_all(dir.path().join("jail.d"));
    std::fs::create_dir_all(dir.path().join("jail.d")).unwrap();
    let jails = [
        ("ipt-multi", "iptables-multiport[port=\"ssh,http\"]"),
        ("ipt-all", "iptables-allports"),
        ("nft-multi", "nftables-multiport[port=\"22,443\"]"),
        ("ipset6", "iptables-ipset-proto6[port=ssh]"),
    ];
    let mut local = String::new();
    for (name, action) in jails {
        local.push_str(&format!(
            "[{name}]\nenabled = true\nfilter = sshd\nbackend = polling\nlogpath = /dev/null\naction = {action}\n\n"
        ));
    }
    std::fs::write(dir.path().join("jail.local"), local).unwrap();

    let s = exercise(dir.path(), "ipt-multi");
    assert!(
        s.contains(&format!("-A f2b-ipt-multi -s {V4}/32 -j REJECT")),
        "{s}"
    );
    assert!(
        s.contains(&format!("-A f2b-ipt-multi -s {V6}/128 -j REJECT")),
        "{s}"
    );
    assert!(
        s.contains("-A INPUT -p tcp -m multiport --dports 22,80 -j f2b-ipt-multi"),
        "{s}"
    );

    let s = exercise(dir.path(), "ipt-all");
    assert!(
        s.contains(&format!("-A f2b-ipt-all -s {V4}/32 -j REJECT")),
        "{s}"
    );
    assert!(
        s.contains(&format!("-A f2b-ipt-all -s {V6}/128 -j REJECT")),
        "{s}"
    );
    assert!(s.contains("-A INPUT -p tcp -j f2b-ipt-all"), "{s}");

    let s = exercise(dir.path(), "nft-multi");
    assert!(s.contains("table inet f2b-table"), "{s}");
    assert!(s.contains(V4) && s.contains(V6), "{s}");

    let s = exercise(dir.path(), "ipset6");
    assert!(
        s.contains("Name: f2b-ipset6\n") && s.contains("Name: f2b-ipset66\n"),
        "{s}"
    );
    assert!(
        s.contains(&format!("\n{V4} timeout")) || s.contains(&format!("\n{V4}\n")),
        "{s}"
    );
    assert!(s.contains(V6), "{s}");
    assert!(s.contains("--match-set f2b-ipset6 src -j REJECT"), "{s}");
}
