#!/usr/bin/env python3
"""Restore bench: start a server on a database that holds N active bans of one jail
and time until every one of them went through the (file-writing) ban action.

usage: restore_bench.py --server S --client C --workdir W [--bans 20000] [--out F.json]

The database is written by fail2ban's own code (its schema and its sqlite adapters,
imported from the installed package), with rows inserted the way its addBan does, in
one transaction. The server setup (private config copy, dummy action appending
"ban <ip>" to a file) is ../shared/bench/run_daemon_bench.py's.  Printed: time to
ping, to "Jail started", to the last ban line; server and children CPU seconds.
"""
import argparse
import json
import os
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("SHARED", os.path.join(HERE, "..", "..", "shared"))
sys.path.insert(0, os.path.join(SHARED, "bench"))
import run_daemon_bench as rdb  # noqa: E402


def make_db(path, jail, n, bantime):
    # The import creates nothing by itself: Fail2BanDb writes the schema and the
    # module registers the dict adapter fail2ban uses for the data column.
    try:
        from fail2ban.server.database import Fail2BanDb
    except ImportError:  # another python3 first in PATH than the package's
        sys.path.append("/usr/lib/python3/dist-packages")
        from fail2ban.server.database import Fail2BanDb
    db = Fail2BanDb(path)
    del db
    con = sqlite3.connect(path)
    now = int(time.time())
    with con:
        con.execute("INSERT OR IGNORE INTO jails(name, enabled) VALUES(?, 1)", (jail,))
        rows = []
        for i in range(n):
            ip = "10.%d.%d.%d" % (i // 62500 + 1, (i // 250) % 250 + 1, i % 250 + 1)
            tob = now - 60 - i % 600
            data = {"matches": ["Nov 21 10:00:00 srv01 sshd[1234]: Failed password for "
                                "invalid user bench from %s port 4242 ssh2" % ip],
                    "failures": 5}
            rows.append((jail, ip, tob, bantime, 1, data))
        con.executemany("INSERT INTO bans(jail, ip, timeofban, bantime, bancount, data) "
                        "VALUES(?, ?, ?, ?, ?, ?)", rows)
        con.executemany("INSERT OR REPLACE INTO bips(jail, ip, timeofban, bantime, bancount, "
                        "data) VALUES(?, ?, ?, ?, ?, ?)", rows)
    con.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--confdir", default="/etc/fail2ban")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--bans", type=int, default=20000)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--out")
    o = ap.parse_args()
    o.workdir = os.path.abspath(o.workdir)
    # What run_daemon_bench.Server reads of its options.
    o.maxretry, o.ctl = 5, "socket"
    os.makedirs(o.workdir, exist_ok=True)
    logdir = os.path.join(o.workdir, "restore-logs")
    os.makedirs(logdir, exist_ok=True)
    srv = rdb.Server(o, "restore", [("sshd", "sshd", os.path.join(logdir, "auth.log"))],
                     "pyinotify")
    make_db(srv.db, "sshd", o.bans, 3600)
    res = {"server": o.server, "bans": o.bans}
    bw = rdb.BanWatcher(srv.banfile)
    t0 = time.monotonic()
    try:
        res.update(srv.start(timeout=o.timeout))
        while time.monotonic() - t0 < o.timeout:
            bw.poll()
            if len(bw.bans) >= o.bans:
                break
            time.sleep(0.02)
        res["t_all_restored_s"] = time.monotonic() - t0
        cpu = rdb.proc_cpu(srv.pid)
        res["server_cpu_s"], res["children_cpu_s"] = cpu
        res["bans_recorded"] = len(bw.bans)
        res["duplicate_ban_lines"] = sum(c - 1 for c in bw.bans.values() if c > 1)
    finally:
        res["stop_s"] = srv.stop(timeout=o.timeout)
    print(rdb.fmt_dict(res))
    if o.out:
        with open(o.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
