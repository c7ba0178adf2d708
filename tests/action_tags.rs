//! Differential test of the dynamic tag pass against fail2ban's own
//! `CommandAction.replaceDynamicTags`, plus a shell canary for hostile values.

use gaol::server::action::{PreparedCommand, TagSource, replace_dynamic_tags};
use std::collections::BTreeMap;
use std::process::Command;

struct Src(BTreeMap<String, String>, BTreeMap<String, String>);
impl TagSource for Src {
    fn get(&self, t: &str) -> Option<String> {
        self.0.get(t).cloned()
    }
    fn data(&self, k: &str) -> Option<String> {
        self.1.get(k).cloned()
    }
}

const HOSTILE: &[&str] = &[
    "plain",
    "$(touch CANARY)",
    "`touch CANARY`",
    "a; touch CANARY",
    "x' ; touch CANARY; '",
    "x\" ; touch CANARY; \"",
    "l1\ntouch CANARY",
    "~!*?[]{}<>^|&#\\",
];

fn python_ok() -> bool {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import fail2ban.server.action"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("SKIPPED: fail2ban python package not available");
    }
    ok || std::env::var("CI").as_deref() == Ok("true")
}

fn python_prepare(
    tpl: &str,
    vals: &BTreeMap<String, String>,
    data: &BTreeMap<String, String>,
) -> PreparedCommand {
    let code = r#"
import json, sys
from fail2ban.server.action import CommandAction
a = json.loads(sys.argv[1]); d = json.loads(sys.argv[2]); a["F-*"] = d
r = CommandAction.replaceDynamicTags(sys.argv[3], a)
print(json.dumps(r if isinstance(r, list) else [r]))
"#;
    let out = Command::new("/usr/bin/python3")
        .args([
            "-c",
            code,
            &serde_json::to_string(vals).unwrap(),
            &serde_json::to_string(data).unwrap(),
            tpl,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    PreparedCommand {
        script: v[0].clone(),
        args: v[1..].to_vec(),
    }
}

#[test]
fn dynamic_pass_matches_fail2ban_and_never_executes_values() {
    if !python_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tpl = "echo <ip> <ip-rev> <failures> \"<matches>\" <F-USER> <F-ID> <F-MISSING> <unknown> <sp>x <family><br>";
    for h in HOSTILE {
        let vals: BTreeMap<String, String> = [
            ("ip", "2001:db8::1"),
            ("ip-rev", h),
            ("failures", "3"),
            ("matches", h),
            ("family", "inet6"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let data: BTreeMap<String, String> = [
            ("user".to_string(), h.to_string()),
            ("fid".to_string(), h.to_string()),
        ]
        .into();
        let ours = replace_dynamic_tags(tpl, &Src(vals.clone(), data.clone()));
        assert_eq!(ours, python_prepare(tpl, &vals, &data), "value {h:?}");
        // `<unknown>` stays literal and would be a shell redirection: drop it to execute.
        let run = ours.script.replace("<unknown>", "");
        let st = Command::new("/bin/sh")
            .arg("-c")
            .arg(&run)
            .args(&ours.args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(st.status.success());
        assert!(
            !dir.path().join("CANARY").exists(),
            "value {h:?} was executed"
        );
    }
}
