//! The filter engine: pure and hot. Regex translation (`pyre`), the date detector
//! (`date`), tag expansion and the per-line pipeline. No I/O, no clock but one passed in.

pub mod date;
pub mod pyre;
