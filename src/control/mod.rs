//! The control socket: fail2ban's pickle protocol ([`pickle`], [`wire`]), the server's
//! listener ([`socket`]), the client's connection ([`client`]) and the client's output
//! formats ([`beautify`]).

pub mod beautify;
pub mod client;
pub mod pickle;
pub mod socket;
pub mod wire;
