//! The server: jails, log readers, failure and ban managers, actions, database, logging.

pub mod action;
pub mod banmanager;
pub mod db;
pub mod failmanager;
pub mod formula;
pub mod ignore;
pub mod increment;
pub mod log;
pub mod ticket;
