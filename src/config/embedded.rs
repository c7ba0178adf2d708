//! gaol's built-in default configuration (the files at the repository root), compiled in.

/// (path relative to the config root, contents).
pub static FILES: &[(&str, &str)] = &[
    ("fail2ban.conf", include_str!("../../fail2ban.conf")),
    ("jail.conf", include_str!("../../jail.conf")),
    (
        "filter.d/common.conf",
        include_str!("../../filter.d/common.conf"),
    ),
    (
        "filter.d/sshd.conf",
        include_str!("../../filter.d/sshd.conf"),
    ),
    (
        "filter.d/recidive.conf",
        include_str!("../../filter.d/recidive.conf"),
    ),
    (
        "action.d/dummy-log.conf",
        include_str!("../../action.d/dummy-log.conf"),
    ),
    (
        "action.d/iptables-multiport.conf",
        include_str!("../../action.d/iptables-multiport.conf"),
    ),
    (
        "action.d/nftables-multiport.conf",
        include_str!("../../action.d/nftables-multiport.conf"),
    ),
];
