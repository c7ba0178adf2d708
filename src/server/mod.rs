//! The server: jails, log readers, failure and ban managers, actions, database, logging.

pub mod action;
pub mod db;
pub mod log;
pub mod reader;
