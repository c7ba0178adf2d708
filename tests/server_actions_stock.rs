//! Stock actions against fail2ban itself: a copy of /etc/fail2ban with one jail per
//! banaction is read by gaol's config reader; the stream's action commands build gaol's
//! `JailActions`, which run start / ban / check / unban / ban / flush / stop with a
//! recording runner. fail2ban's own CommandAction does the same on its own reading of
//! the same directory (tests/oracle/action_oracle.py); the exact command lines
//! (script and positional arguments) must be identical.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use gaol::config::{FsSource, StreamOptions, read_stream};
use gaol::server::action::{CommandAction, Family, JailActions, MapInfo, PreparedCommand};
use gaol::stream::Command as StreamCmd;

mod common;

const TIME: f64 = 1795276400.0;

const JAILS: &[(&str, &str)] = &[
    (
        "j-ipt-multi",
        "iptables-multiport[port=\"ssh,http\", protocol=tcp]",
    ),
    ("j-ipt-all", "iptables-allports[blocktype=DROP]"),
    ("j-nft-multi", "nftables-multiport[port=\"22,443\"]"),
    ("j-ipset6", "iptables-ipset-proto6[port=ssh]"),
    ("j-ipset6-all", "iptables-ipset-proto6-allports"),
    ("j-fwcmd-ipset", "firewallcmd-ipset[port=ssh]"),
    (
        "j-sendmail",
        "sendmail-whois[dest=admin@example.org, sender=f2b@example.org]",
    ),
    ("j-hostsdeny", "hostsdeny[file=/tmp/gaol-hosts.deny]"),
    ("j-sendmail-m", "sendmail-whois-ipjailmatches[dest=root]"),
    ("j-nft-all", "nftables-allports"),
    ("j-ipt-new", "iptables[type=multiport, port=\"80,443\"]"),
];

struct Tick {
    ip: &'static str,
    time: f64,
    failures: u32,
    matches: &'static [&'static str],
    data: &'static [(&'static str, &'static str)],
}

const TICKETS: &[Tick] = &[
    Tick {
        ip: "192.0.2.10",
        time: 1795276366.0,
        failures: 3,
        matches: &["Nov 21 host sshd: Failed for bob", "line $(two) 'q' `x`;"],
        data: &[("user", "bob;x")],
    },
    Tick {
        ip: "2001:db8::7",
        time: 1795276370.5,
        failures: 2,
        matches: &["v6 line"],
        data: &[],
    },
];

fn info(t: &Tick) -> MapInfo {
    let mut m = MapInfo::for_id(t.ip, t.time);
    let matches = t.matches.join("\n");
    let failures = t.failures.to_string();
    m.set("failures", &failures)
        .set("bantime", "600")
        .set("bancount", "0")
        .set("matches", &matches)
        .set("restored", "0")
        .set("ipmatches", &matches)
        .set("ipjailmatches", &matches)
        .set("ipfailures", &failures)
        .set("ipjailfailures", &failures);
    for k in [
        "jail.banned",
        "jail.banned_total",
        "jail.found",
        "jail.found_total",
    ] {
        m.set(k, "0");
    }
    for (k, v) in t.data {
        m.set_data(k, v);
    }
    m
}

fn make_conf() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::copy_tree(std::path::Path::new(common::STOCK), dir.path());
    let mut local = String::new();
    for (name, action) in JAILS {
        local.push_str(&format!(
            "[{name}]\nenabled = true\nfilter = sshd\nbackend = polling\nlogpath = /dev/null\naction = {action}\n\n"
        ));
    }
    // The stock jail.d may enable jails (Debian enables sshd); keep only ours.
    let _ = std::fs::remove_dir_all(dir.path().join("jail.d"));
    std::fs::create_dir_all(dir.path().join("jail.d")).unwrap();
    std::fs::write(dir.path().join("jail.local"), local).unwrap();
    dir
}

type Ops = Vec<(String, Vec<Vec<String>>)>;

fn run_oracle(dir: &std::path::Path) -> BTreeMap<String, BTreeMap<String, Ops>> {
    let tickets: Vec<serde_json::Value> = TICKETS
        .iter()
        .map(|t| {
            serde_json::json!({
                "ip": t.ip, "time": t.time, "failures": t.failures,
                "matches": t.matches,
                "data": t.data.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
    let req =
        serde_json::json!({"confdir": dir.to_str().unwrap(), "time": TIME, "tickets": tickets});
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/action_oracle.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "oracle failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The stream's action commands of each jail, as gaol's server would apply them.
fn gaol_actions(dir: &std::path::Path) -> BTreeMap<String, Vec<CommandAction>> {
    let res = read_stream(
        &FsSource,
        dir.to_str().unwrap(),
        &StreamOptions {
            dump: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{:?}", e.0));
    let mut jails: BTreeMap<String, Vec<CommandAction>> = BTreeMap::new();
    for c in res.commands.expect("stream") {
        match c {
            StreamCmd::AddAction {
                jail,
                action,
                python,
            } => {
                assert!(python.is_none());
                let a = CommandAction::new(&jail, &action);
                jails.entry(jail).or_default().push(a);
            }
            StreamCmd::MultiSetAction {
                jail,
                action,
                pairs,
            } => {
                let a = jails
                    .get_mut(&jail)
                    .and_then(|v| v.iter_mut().find(|a| a.name() == action))
                    .unwrap();
                for (k, v) in pairs {
                    a.set_value(&k, &v).unwrap();
                }
            }
            StreamCmd::SetAction {
                jail,
                action,
                key,
                value,
            } => {
                let a = jails
                    .get_mut(&jail)
                    .and_then(|v| v.iter_mut().find(|a| a.name() == action))
                    .unwrap();
                a.set_value(&key, &value).unwrap();
            }
            _ => {}
        }
    }
    jails
}

fn run_gaol(jail: &str, action: CommandAction) -> Ops {
    let rec: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let r2 = rec.clone();
    let mut ja = JailActions::new(jail);
    ja.set_clock(Box::new(|| TIME));
    ja.set_runner(Arc::new(move |c: &PreparedCommand, _| {
        let mut v = vec![c.script.clone()];
        v.extend(c.args.iter().cloned());
        r2.lock().unwrap().push(v);
        true
    }));
    ja.add(action).unwrap();
    let infos: Vec<MapInfo> = TICKETS.iter().map(info).collect();
    let fams: Vec<Family> = TICKETS.iter().map(|t| Family::of_id(t.ip)).collect();
    let mut ops: Ops = Vec::new();
    let mut step = |name: &str, ja: &mut JailActions, f: &dyn Fn(&mut JailActions)| {
        f(ja);
        ops.push((name.to_string(), std::mem::take(&mut *rec.lock().unwrap())));
    };
    step("start", &mut ja, &|ja| ja.start());
    for i in 0..infos.len() {
        step(&format!("ban{i}"), &mut ja, &|ja| {
            assert!(ja.ban(&infos[i], fams[i], false))
        });
    }
    step("check", &mut ja, &|ja| ja.consistency_check());
    for i in 0..infos.len() {
        step(&format!("unban{i}"), &mut ja, &|ja| {
            ja.unban(&infos[i], fams[i])
        });
    }
    step("reban0", &mut ja, &|ja| {
        assert!(ja.ban(&infos[0], fams[0], false))
    });
    step("flush", &mut ja, &|ja| ja.flush(&[&infos[0]]));
    step("stop", &mut ja, &|ja| ja.stop());
    ops
}

#[test]
fn stock_actions_match_fail2ban_command_lines() {
    if !common::have_oracle() {
        return;
    }
    let dir = make_conf();
    let oracle = run_oracle(dir.path());
    let ours = gaol_actions(dir.path());
    assert_eq!(
        oracle.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>(),
        "jails with actions"
    );
    let mut compared = 0;
    for (jail, actions) in ours {
        let want = &oracle[&jail];
        assert_eq!(want.len(), actions.len(), "{jail}: number of actions");
        for a in actions {
            let name = a.name().to_string();
            let exp = &want[&name];
            let got = run_gaol(&jail, a);
            for (e, g) in exp.iter().zip(got.iter()) {
                assert_eq!(e.0, g.0, "{jail}/{name}: operation (an error in fail2ban?)");
                assert_eq!(e.1, g.1, "{jail}/{name}: commands of {}", e.0);
                compared += e.1.len();
            }
            assert_eq!(exp.len(), got.len());
        }
    }
    // start/ban/check/unban/flush/stop of eight actions: dozens of command lines.
    assert!(compared > 40, "only {compared} commands compared");
    eprintln!("compared {compared} command lines");
}
