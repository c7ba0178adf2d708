//! `fail2ban-client`.

/// Runs `fail2ban-client` with `args` (without the program name); returns the exit code.
pub fn main(prog: &str, args: Vec<String>) -> i32 {
    let _ = args;
    eprintln!("{prog}: not implemented yet");
    255
}
