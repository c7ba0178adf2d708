#!/usr/bin/env python3
"""CPU and open fds of the systemd journal backend: N journal jails (stock sshd filter and
journalmatch, one shared journal file) idle, then while 50k matching entries are appended
by systemd-journal-remote. Runs the real fail2ban-server and gaol on the same journal and
prints each figure with the gaol/fail2ban ratio.

usage: journal_bench.py GAOL_BIN [--jails 10] [--entries 50000] [--idle 10] [--workdir D]
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

REMOTE = next((p for p in ("/lib/systemd/systemd-journal-remote",
                           "/usr/lib/systemd/systemd-journal-remote") if os.path.exists(p)), None)
BOOT = "0123456789abcdef0123456789abcdef"
TICK = os.sysconf("SC_CLK_TCK")


def export(entries):
    out = []
    for usec, unit, msg in entries:
        out.append(f"__REALTIME_TIMESTAMP={usec}\n__MONOTONIC_TIMESTAMP={usec % 10**12}\n"
                   f"_BOOT_ID={BOOT}\n_HOSTNAME=web1\n_SYSTEMD_UNIT={unit}\n_COMM=sshd\n"
                   f"SYSLOG_IDENTIFIER=sshd\n_PID=42\nMESSAGE={msg}\n\n")
    return "".join(out).encode()


def write_journal(path, entries):
    subprocess.run([REMOTE, "-o", path, "-"], input=export(entries), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def tree(d, journal, jails):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d + "/conf")
    shutil.copytree("/etc/fail2ban/filter.d", d + "/conf/filter.d")
    with open(d + "/conf/fail2ban.conf", "w") as f:
        f.write(f"[Definition]\nloglevel = INFO\nlogtarget = {d}/f2b.log\nsocket = {d}/f2b.sock\n"
                f"pidfile = {d}/f2b.pid\ndbfile = {d}/f2b.sqlite3\n")
    with open(d + "/conf/jail.conf", "w") as f:
        f.write(f"[DEFAULT]\nbackend = systemd[journalfiles={journal}]\nfindtime = 3600\n"
                "maxretry = 100000000\nbantime = 600\n")
        for i in range(jails):
            f.write(f"\n[j{i}]\nenabled = true\nfilter = sshd\n")


def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def total_failed(d, jail):
    o = subprocess.run(["fail2ban-client", "-s", d + "/f2b.sock", "status", jail],
                       capture_output=True, text=True).stdout
    for line in o.splitlines():
        if "Total failed:" in line:
            return int(line.split(":")[1])
    return -1


def wait(cond, secs):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def run(name, cmd, d, journal, a):
    tree(d, journal, a.jails)
    p = subprocess.Popen(cmd + ["-xf", "-c", d + "/conf", "start"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = lambda: open(d + "/f2b.log").read() if os.path.exists(d + "/f2b.log") else ""
    if not wait(lambda: log().count("Jail is in operation now") >= a.jails, 60):
        p.kill()
        sys.exit(f"{name}: jails did not come up, see {d}/f2b.log")
    time.sleep(1)
    r = {}
    c0 = cpu(p.pid)
    time.sleep(a.idle)
    r["idle CPU %"] = 100 * (cpu(p.pid) - c0) / a.idle
    r["idle fds"] = fds(p.pid)
    base = time.time()
    entries = [(int((base + i / 1e6) * 1e6), "sshd.service",
                f"Failed password for root from 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} port 22 ssh2")
               for i in range(a.entries)]
    c0, t0 = cpu(p.pid), time.time()
    peak = fds(p.pid)
    write_journal(journal, entries)
    done = lambda: all(total_failed(d, f"j{i}") >= a.entries for i in range(a.jails))
    while not done():
        peak = max(peak, fds(p.pid))
        if time.time() - t0 > a.timeout:
            p.kill()
            sys.exit(f"{name}: not all entries processed in {a.timeout}s")
        time.sleep(0.5)
    r["load CPU s"] = cpu(p.pid) - c0
    r["load wall s"] = time.time() - t0
    r["load peak fds"] = peak
    subprocess.run(["fail2ban-client", "-s", d + "/f2b.sock", "stop"], capture_output=True)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gaol")
    ap.add_argument("--jails", type=int, default=10)
    ap.add_argument("--entries", type=int, default=50000)
    ap.add_argument("--idle", type=float, default=10)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--workdir", default="/tmp/gaol-journal-bench")
    a = ap.parse_args()
    if not REMOTE:
        sys.exit("systemd-journal-remote is not installed")
    res = {}
    for name, cmd in (("fail2ban", ["fail2ban-server"]), ("gaol", [a.gaol, "server"])):
        d = f"{a.workdir}/{name}"
        os.makedirs(d, exist_ok=True)
        journal = f"{a.workdir}/{name}.journal"
        if os.path.exists(journal):
            os.remove(journal)
        write_journal(journal, [(int(time.time() * 1e6) - 10**6, "cron.service", "noise")])
        res[name] = run(name, cmd, d, journal, a)
    print(f"{a.jails} journal jails, {a.entries} sshd entries appended")
    print(f"{'metric':<16}{'fail2ban':>12}{'gaol':>12}{'gaol/f2b':>10}")
    for k in res["fail2ban"]:
        f, g = res["fail2ban"][k], res["gaol"][k]
        ratio = g / f if f else float("nan")
        print(f"{k:<16}{f:>12.2f}{g:>12.2f}{ratio:>10.3f}")


if __name__ == "__main__":
    main()
