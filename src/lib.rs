//! gaol: fail2ban 1.0.2, rebuilt in Rust as a drop-in.
//!
//! The data flows one way: [`config`] reads `/etc/fail2ban` into the typed command
//! stream of [`stream`]; the [`server`] executes that stream (jails, readers, [`filter`],
//! bans, actions, database); [`control`] carries the same commands over fail2ban's socket;
//! [`cli`] holds the fail2ban-compatible front ends.

pub mod cli;
pub mod config;
pub mod control;
pub mod filter;
pub mod journal;
pub mod server;
pub mod stream;
