//! What the batch-shell tests share: a ticket, the captured log lines in a comparable
//! form, an output file's sorted lines, and whether /bin/sh is dash.

use std::path::Path;

use gaol::server::action::MapInfo;
use gaol::server::log::{self, Target};

pub fn ticket(ip: &str) -> MapInfo {
    let mut m = MapInfo::for_id(ip, 1795276366.0);
    m.set("failures", "3").set("bantime", "600");
    m
}

/// Log lines without time, pid, command ids and the directory `d`, sorted.
pub fn logs(d: &Path) -> Vec<String> {
    let d = d.display().to_string();
    let Target::Memory(lines) = log::set_target(Target::Memory(Vec::new())) else {
        panic!("log target changed");
    };
    let mut out: Vec<String> = lines
        .iter()
        .map(|l| l.replace(&d, "D"))
        .map(|l| {
            let msg = l.split_once("]: ").map_or(l.as_str(), |(_, m)| m);
            match msg.split_once(" -- ") {
                Some((level_id, rest)) => {
                    let level = level_id.split_whitespace().next().unwrap_or_default();
                    format!("{level} ID -- {rest}")
                }
                None => msg.to_string(),
            }
        })
        .collect();
    out.sort();
    out
}

/// The file `name` under `d` as (name, its lines sorted); empty when missing.
pub fn sorted_lines(d: &Path, name: &str) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(d.join(name)).unwrap_or_default();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.sort();
    (name.to_string(), lines)
}

/// Whether /bin/sh is dash (the only shell the batch path runs on).
pub fn dash() -> bool {
    std::fs::canonicalize("/bin/sh")
        .map(|p| p.to_string_lossy().contains("dash"))
        .unwrap_or(false)
}
