//! A restricted pickle codec for fail2ban's wire protocol.
