//! The systemd journal backend (`backend = systemd[…]`, `fail2ban-regex systemd-journal`).
//!
//! `ffi` loads libsystemd at run time and wraps `sd_journal` in [`ffi::Journal`];
//! `options` parses the backend's `[…]` options into [`options::JournalOptions`];
//! `entry` turns an entry into fail2ban's line and time; `follow` is the per-jail reader
//! thread ([`follow::Follower`]) that feeds the jail's filter side.

pub mod entry;
pub mod ffi;
pub mod follow;
pub mod options;
