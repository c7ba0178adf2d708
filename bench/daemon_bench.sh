#!/bin/sh
# The server side by side: ../shared/bench/run_daemon_bench.py runs the real
# fail2ban-server 1.0.2 and gaol's (as fail2ban-server/-client symlinks) on the same
# generated logs, then daemon_ratios.py prints one table with the ratios.
#
#   bench/daemon_bench.sh                      # default: pyinotify; startup,latency,ingest,flood
#   TESTS=startup JAILS=1,10,50 bench/daemon_bench.sh
#   BACKENDS=polling,pyinotify INGEST=200000 FLOOD_IPS=100000 bench/daemon_bench.sh
#   TESTS=restore RESTORE_BANS=20000 bench/daemon_bench.sh   # bench/restore_bench.py:
#       start on a fail2ban-written DB of N active bans, time until all were re-banned
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
WORK=${WORKDIR:-/tmp/gaol-daemon-bench}
TESTS=${TESTS:-startup,latency,ingest,flood}
BACKENDS=${BACKENDS:-pyinotify}
JAILS=${JAILS:-1,10,50}
INGEST=${INGEST:-200000}
FLOOD_IPS=${FLOOD_IPS:-100000}
FLOOD_LINES=${FLOOD_LINES:-200000}
TRIALS=${TRIALS:-30}

(cd "$ROOT" && cargo build --release --quiet)
mkdir -p "$WORK/bin"
ln -sf "$ROOT/target/release/gaol" "$WORK/bin/fail2ban-server"
ln -sf "$ROOT/target/release/gaol" "$WORK/bin/fail2ban-client"

run() { # name server client
    python3 "$SHARED/bench/run_daemon_bench.py" --server "$2" --client "$3" \
        --workdir "$WORK/$1" --out "$WORK/$1.json" --tests "$TESTS" \
        --backends "$BACKENDS" --jail-counts "$JAILS" --ingest-lines "$INGEST" \
        --flood-ips "$FLOOD_IPS" --flood-lines "$FLOOD_LINES" \
        --latency-trials "$TRIALS" >"$WORK/$1.out" 2>"$WORK/$1.err" ||
        { echo "$1 run failed, see $WORK/$1.err" >&2; exit 1; }
}
restore() { # name server client
    python3 "$ROOT/bench/restore_bench.py" --server "$2" --client "$3" \
        --workdir "$WORK/restore-$1" --bans "${RESTORE_BANS:-20000}" \
        --out "$WORK/restore-$1.json" 2>"$WORK/restore-$1.err" ||
        { echo "restore $1 failed, see $WORK/restore-$1.err" >&2; exit 1; }
}
case ",$TESTS," in *,restore,*)
    restore fail2ban "$(command -v fail2ban-server)" "$(command -v fail2ban-client)"
    restore gaol "$WORK/bin/fail2ban-server" "$WORK/bin/fail2ban-client"
    TESTS=$(echo ",$TESTS," | sed 's/,restore,/,/; s/^,//; s/,$//')
    [ -n "$TESTS" ] || exit 0 ;;
esac
run fail2ban "$(command -v fail2ban-server)" "$(command -v fail2ban-client)"
run gaol "$WORK/bin/fail2ban-server" "$WORK/bin/fail2ban-client"
python3 "$ROOT/bench/daemon_ratios.py" "$WORK/fail2ban.json" "$WORK/gaol.json"
