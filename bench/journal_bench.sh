#!/bin/sh
# The systemd journal backend, gaol vs the real fail2ban-server 1.0.2: CPU and open fds
# with 10 journal jails idle and while 50k entries arrive (journal_bench.py does the work;
# needs systemd-journal-remote and python3-systemd).
#
#   bench/journal_bench.sh                         # 10 jails, 50000 entries, 10 s idle
#   JAILS=3 ENTRIES=5000 IDLE=5 bench/journal_bench.sh
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
(cd "$ROOT" && cargo build --release --quiet)
exec python3 "$ROOT/bench/journal_bench.py" "$ROOT/target/release/gaol" \
    --jails "${JAILS:-10}" --entries "${ENTRIES:-50000}" --idle "${IDLE:-10}" \
    --workdir "${WORKDIR:-/tmp/gaol-journal-bench}"
