//! Unit tests of the detector internals.

use super::*;
