//! The server: jails, log readers, failure and ban managers, actions, database, logging.
//!
//! [`Server`] (in `daemon`) owns the jails and the database and executes commands
//! (`transmitter`, `jailcmd`); a [`jail::Jail`] has its filter side run by the filter
//! workers all jails share, and an actions thread (`bans`); `logtarget` configures the
//! process logger of `log`.

pub mod action;
pub mod banmanager;
pub mod bans;
pub mod daemon;
pub mod db;
pub mod failmanager;
pub mod formula;
pub mod ignore;
pub mod increment;
pub mod jail;
pub mod jailcmd;
pub mod log;
pub mod logtarget;
pub mod memtrim;
pub mod reader;
pub mod ticket;
pub mod transmitter;

pub use daemon::Server;
