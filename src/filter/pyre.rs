//! Python `re` → Rust regex translation and engine choice.
