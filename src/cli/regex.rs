//! `fail2ban-regex`.

/// Runs `fail2ban-regex` with `args` (without the program name); returns the exit code.
pub fn main(prog: &str, args: Vec<String>) -> i32 {
    let _ = args;
    eprintln!("{prog}: not implemented yet");
    255
}
