//! The `gaol` binary, also a multi-call binary: invoked as `fail2ban-client`,
//! `fail2ban-server` or `fail2ban-regex` it behaves as that tool.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = gaol::cli::dispatch(args);
    std::process::exit(code);
}
