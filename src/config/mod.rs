//! The config side: `/etc/fail2ban` (or gaol's embedded default) → the command stream.
