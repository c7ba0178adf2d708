//! IP addresses as fail2ban understands them (in progress).
