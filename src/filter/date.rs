//! The date detector.
