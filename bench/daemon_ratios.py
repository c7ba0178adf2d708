#!/usr/bin/env python3
"""Side-by-side table of two run_daemon_bench.py result files: fail2ban vs gaol.

usage: daemon_ratios.py FAIL2BAN.json GAOL.json

A ratio > 1 means gaol is better by that factor (less time, memory or CPU).
Ban equality is checked: both runs must record the expected bans, none missing.
"""
import json
import sys


def load(p):
    with open(p) as f:
        return json.load(f)


def index(res, section, keys):
    return {tuple(r.get(k) for k in keys): r for r in res.get(section, [])}


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.1f×" % (a / b)


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.4g%s" % (v, unit)
    return "%s%s" % (v, unit)


def row(label, a, b, unit=""):
    print("| %s | %s | %s | %s |" % (label, fmt(a, unit), fmt(b, unit), ratio(a, b)))


def main():
    f2b, gaol = load(sys.argv[1]), load(sys.argv[2])
    print("| measure | fail2ban 1.0.2 | gaol | ratio |")
    print("|---|---:|---:|---:|")
    a_s = index(f2b, "startup_idle", ("backend", "jails"))
    b_s = index(gaol, "startup_idle", ("backend", "jails"))
    for k in sorted(a_s, key=lambda k: (str(k[0]), k[1] or 0)):
        if k not in b_s:
            continue
        a, b = a_s[k], b_s[k]
        tag = "%s, %s jails" % k
        row("idle RSS MiB (%s)" % tag, a.get("rss_idle_MiB"), b.get("rss_idle_MiB"))
        row("startup to ping s (%s)" % tag, a.get("t_ping_s"), b.get("t_ping_s"))
        row("all jails started s (%s)" % tag, a.get("t_all_jails_started_s"),
            b.get("t_all_jails_started_s"))
    a_l = index(f2b, "latency", ("backend",))
    b_l = index(gaol, "latency", ("backend",))
    for k in a_l:
        if k in b_l:
            row("ban latency median s (%s)" % k[0], a_l[k].get("median_s"), b_l[k].get("median_s"))
            row("ban latency p95 s (%s)" % k[0], a_l[k].get("p95_s"), b_l[k].get("p95_s"))
    ok = True
    for sec in ("ingest", "ingest-simple", "flood"):
        a_i = index(f2b, sec, ("backend",))
        b_i = index(gaol, sec, ("backend",))
        for k in a_i:
            if k not in b_i:
                continue
            a, b = a_i[k], b_i[k]
            tag = "%s, %s" % (sec, k[0])
            row("server CPU s (%s)" % tag, a.get("server_cpu_s"), b.get("server_cpu_s"))
            row("server+children CPU s (%s)" % tag,
                (a.get("server_cpu_s") or 0) + (a.get("children_cpu_s") or 0),
                (b.get("server_cpu_s") or 0) + (b.get("children_cpu_s") or 0))
            row("time to last ban s (%s)" % tag, a.get("t_all_bans_s"), b.get("t_all_bans_s"))
            if sec == "flood":
                row("RSS growth MiB (%s)" % tag, a.get("rss_growth_MiB"), b.get("rss_growth_MiB"))
                row("bytes per failing IP (%s)" % tag, a.get("bytes_per_failing_ip"),
                    b.get("bytes_per_failing_ip"))
            for name, r in (("fail2ban", a), ("gaol", b)):
                if r.get("missing_bans") or r.get("unexpected_bans"):
                    ok = False
                    print("| bans differ from truth: %s %s | missing %s | unexpected %s | |"
                          % (name, tag, r.get("missing_bans"), r.get("unexpected_bans")))
            row("bans recorded (%s)" % tag, a.get("bans_recorded"), b.get("bans_recorded"))
    for name, r in (("fail2ban", f2b), ("gaol", gaol)):
        for e in r.get("errors", []):
            print("| error: %s | %s | | |" % (name, e))
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
