//! The filter engine: pure and hot. Regex translation (`pyre`), the date detector
//! (`date`), tag expansion (`template`), addresses (`addr`), compiled fail/ignore/pref
//! regexes and match extraction (`failregex`), and the per-line pipeline. No I/O, no clock
//! but one passed in.

pub mod addr;
pub mod date;
pub mod failregex;
pub mod matcher;
pub mod pyre;
pub mod template;
