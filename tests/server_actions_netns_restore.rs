//! A restore of many bans through the stock firewall actions, for real, in network
//! namespaces made by the test: once ticket by ticket (one `sh -c` per command), once
//! as a restore batch (gaol's batch shell, four at once). The test thread enters each
//! namespace itself, so gaol's own runner (the one that uses the batch shell) runs the
//! commands unwrapped. Both firewalls must end up holding the same rules and set
//! elements, and be as before after the flush and stop.
//! Needs root and the fail2ban package; outside CI it skips loudly without them.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

use gaol::server::action::{Family, JailActions, MapInfo, TagSource, batch_shells_started};

mod common;
mod netns_support;
use netns_support::{actions_of, can_run, stock_tree, ticket};

/// A network namespace the calling thread is in (and its children, and the threads it
/// starts); back in the previous one and deleted on drop.
struct InNetns {
    name: String,
    back: std::fs::File,
}

impl InNetns {
    fn enter(tag: &str) -> InNetns {
        let name = format!("gaol-rt-{}-{tag}", std::process::id());
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(st.success(), "ip netns add {name}");
        let back = std::fs::File::open("/proc/thread-self/ns/net").unwrap();
        let ns = std::fs::File::open(format!("/run/netns/{name}")).unwrap();
        // SAFETY: plain syscall on open namespace fds; affects this thread only.
        let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {name}");
        InNetns { name, back }
    }
}

impl Drop for InNetns {
    fn drop(&mut self) {
        // SAFETY: as above, back to the namespace the thread came from.
        unsafe { libc::setns(self.back.as_raw_fd(), libc::CLONE_NEWNET) };
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The firewall of the current namespace, lines sorted (rule order follows ban order,
/// which a batch running four at once does not keep).
fn state() -> Vec<String> {
    let o = Command::new("/bin/sh")
        .args([
            "-c",
            "iptables -w -S; ip6tables -w -S; nft list ruleset 2>/dev/null",
        ])
        .output()
        .unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .flat_map(|l| {
            l.split(", ")
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        // iptables (nft backend) leaves its empty base tables behind: not a ban's.
        .filter(|l| {
            !(l.is_empty()
                || l == "}"
                || l.starts_with("table ip filter")
                || l.starts_with("table ip6 filter")
                || l.starts_with("type filter hook")
                || ["INPUT", "FORWARD", "OUTPUT"]
                    .contains(&l.trim_start_matches("chain ").trim_end_matches(" {")))
        })
        .collect();
    v.sort();
    v
}

/// Bans `ips` restored (`batch`: as a restore batch) in a fresh namespace; the firewall
/// after the bans, and whether it was back as before after flush and stop.
fn restore(dir: &Path, jail: &str, ips: &[String], batch: bool) -> (Vec<String>, bool) {
    let _ns = InNetns::enter(if batch { "b" } else { "o" });
    let before = state();
    let mut ja = JailActions::new(jail);
    for a in actions_of(dir, jail) {
        ja.add(a).unwrap();
    }
    ja.start();
    let tickets: Vec<MapInfo> = ips.iter().map(|ip| ticket(ip, true)).collect();
    let fam = |ip: &str| {
        if ip.contains(':') {
            Family::Inet6
        } else {
            Family::Inet4
        }
    };
    let shells = batch_shells_started();
    if batch {
        let infos: Vec<(&dyn TagSource, Family)> = tickets
            .iter()
            .zip(ips)
            .map(|(t, ip)| (t as &dyn TagSource, fam(ip)))
            .collect();
        ja.ban_restored(&infos, 4);
        assert!(
            batch_shells_started() > shells,
            "{jail}: no batch shell ran"
        );
    } else {
        for (t, ip) in tickets.iter().zip(ips) {
            assert!(ja.ban(t, fam(ip), true), "{jail}: ban {ip}");
        }
        assert_eq!(batch_shells_started(), shells);
    }
    let banned = state();
    let refs: Vec<&dyn TagSource> = tickets.iter().map(|t| t as &dyn TagSource).collect();
    ja.flush(&refs);
    ja.stop();
    let after = state();
    if after != before {
        eprintln!("{jail} batch={batch}: before {before:#?}\nafter {after:#?}");
    }
    (banned, after == before)
}

#[test]
fn restore_batch_builds_the_same_firewall() {
    if !can_run("netns restore", &["ip", "iptables", "nft"]) {
        return;
    }
    let dash = std::fs::canonicalize("/bin/sh")
        .map(|p| p.to_string_lossy().contains("dash"))
        .unwrap_or(false);
    if !dash {
        eprintln!("SKIPPED: /bin/sh is not dash, restores use no batch shell");
        return;
    }
    let jails = [
        ("ipt-multi", "iptables-multiport[port=\"ssh,http\"]"),
        ("nft-multi", "nftables-multiport[port=\"22,443\"]"),
    ];
    let dir = stock_tree(&jails);
    let ips: Vec<String> = (1..=60)
        .map(|i| {
            if i % 5 == 0 {
                format!("2001:db8::{i:x}")
            } else {
                format!("198.51.100.{i}")
            }
        })
        .collect();
    for (jail, _) in jails {
        let (one, clean_one) = restore(dir.path(), jail, &ips, false);
        let (batch, clean_batch) = restore(dir.path(), jail, &ips, true);
        assert!(clean_one && clean_batch, "{jail}: firewall not as before");
        for ip in &ips {
            assert!(
                one.iter().any(|l| l.contains(ip.as_str())),
                "{jail}: {ip} not banned:\n{one:#?}"
            );
        }
        assert_eq!(one, batch, "{jail}: batch restore differs");
    }
}
