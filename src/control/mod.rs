//! The control socket: fail2ban's pickle protocol, command dispatch, client output formats.

pub mod pickle;
pub mod wire;
