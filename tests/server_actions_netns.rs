//! Stock firewall actions for real, inside a network namespace made by the test: the
//! actions of /etc/fail2ban, read by gaol's config reader, run unchanged through
//! gaol's `execute` (wrapped in `ip netns exec`). After a ban the rule / set element is
//! there; the consistency check passes; after unban and stop the firewall is as before.
//! Needs root and the fail2ban package; outside CI it skips loudly without them.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use gaol::server::action::{Family, JailActions, PreparedCommand, execute};

mod common;
mod netns_support;
use netns_support::{actions_of, can_run, stock_tree, ticket};

const V4: &str = "192.0.2.10";
const V6: &str = "2001:db8::7";

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
    let (t4, t6) = (ticket(V4, false), ticket(V6, false));
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
    if !can_run(
        "netns firewall",
        &["ip", "iptables", "ip6tables", "nft", "ipset"],
    ) {
        return;
    }
    let jails = [
        ("ipt-multi", "iptables-multiport[port=\"ssh,http\"]"),
        ("ipt-all", "iptables-allports"),
        ("nft-multi", "nftables-multiport[port=\"22,443\"]"),
        ("ipset6", "iptables-ipset-proto6[port=ssh]"),
    ];
    let dir = stock_tree(&jails);

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
