//! The server: jails, log readers, failure and ban managers, actions, database, logging.
<<<<<<< HEAD
pub mod db;
=======

pub mod action;
pub mod log;
>>>>>>> actions
