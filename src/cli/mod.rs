//! Front ends: the three fail2ban-compatible tools and `gaol`'s own entry point.
//!
//! `dispatch` looks at the name the binary was invoked under (`fail2ban-client`,
//! `fail2ban-server`, `fail2ban-regex`) or at `gaol`'s first argument (`client`, `server`,
//! `regex`) and hands the remaining arguments to that tool. Each tool returns its exit code.

pub mod client;
pub mod demo;
pub mod regex;
pub mod server;

use std::path::Path;

/// Runs the tool selected by `args[0]` (or by `gaol`'s sub-command) and returns its exit code.
pub fn dispatch(args: Vec<String>) -> i32 {
    let prog = args
        .first()
        .map(|a| {
            Path::new(a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let rest = args.get(1..).unwrap_or(&[]).to_vec();
    match tool_for(&prog) {
        Some(tool) => run(tool, &prog, rest),
        None => match rest.first().map(String::as_str) {
            Some(sub) if tool_for_sub(sub).is_some() => {
                let tool = tool_for_sub(sub).unwrap_or(Tool::Client);
                run(tool, &format!("gaol {sub}"), rest[1..].to_vec())
            }
            Some("-h") | Some("--help") | Some("help") => {
                print!("{}", USAGE);
                0
            }
            Some("-V") | Some("--version") => {
                println!(
                    "gaol {} (fail2ban 1.0.2 compatible)",
                    env!("CARGO_PKG_VERSION")
                );
                0
            }
            None => main_job(),
            Some("demo") => demo::main(rest[1..].to_vec()),
            Some(other) => {
                eprintln!("gaol: unknown command '{other}'\n{USAGE}");
                2
            }
        },
    }
}

#[derive(Clone, Copy)]
enum Tool {
    Client,
    Server,
    Regex,
}

fn tool_for(prog: &str) -> Option<Tool> {
    match prog {
        "fail2ban-client" => Some(Tool::Client),
        "fail2ban-server" => Some(Tool::Server),
        "fail2ban-regex" => Some(Tool::Regex),
        _ => None,
    }
}

fn tool_for_sub(sub: &str) -> Option<Tool> {
    match sub {
        "client" => Some(Tool::Client),
        "server" => Some(Tool::Server),
        "regex" => Some(Tool::Regex),
        _ => None,
    }
}

fn run(tool: Tool, prog: &str, args: Vec<String>) -> i32 {
    match tool {
        Tool::Client => client::main(prog, args),
        Tool::Server => server::main(prog, args),
        Tool::Regex => regex::main(prog, args),
    }
}

/// `gaol` with no arguments: the main job on the default configuration
/// (for now, the resolved command stream, as `fail2ban-client -d` prints it).
/// `gaol` alone: the server in the foreground on the default configuration (as the
/// systemd unit's `fail2ban-server -xf start`), until SIGTERM/SIGINT or `stop`.
fn main_job() -> i32 {
    server::main("gaol", vec!["-xf".to_string(), "start".to_string()])
}

const USAGE: &str = "\
Usage: gaol [client|server|regex] [ARGS…]

  gaol                 run the server in the foreground on the default configuration
                       (fail2ban-server -xf start; stop with Ctrl-C)
  gaol demo            the server on the embedded default with a demo log that it fills
                       with failed sshd logins: watch it find, ban and unban (Ctrl-C)
  gaol client ARGS     behave as fail2ban-client
  gaol server ARGS     behave as fail2ban-server
  gaol regex ARGS      behave as fail2ban-regex

Installed (or linked) under the name fail2ban-client, fail2ban-server or fail2ban-regex,
the binary behaves as that tool.
";
