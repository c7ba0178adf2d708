#!/usr/bin/env python3
"""Control-socket benchmark: gaol vs fail2ban.

Starts a fresh server of each kind (`fail2ban-server` and `gaol server`, both with
`--async -f -x`, no configuration), creates one polling jail without actions, then over a
single connection per server times
  * N `['status', 'bench']` round trips,
  * N `['set', 'bench', 'banip', <distinct ip>]` calls,
and, with --clients M, M runs of each command-line client (`fail2ban-client status bench`
vs `gaol client status bench`, process start included) against its own server.
Prints seconds, rates and the ratio fail2ban/gaol (> 1: gaol is faster).

Usage: bench/control_bench.py [--gaol target/release/gaol] [-n 10000] [--clients 100]
       [--gaol-socket PATH]   (bench an already running gaol server instead of starting one)
"""
import argparse
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import time

END = b"<F2B_END_COMMAND>"
CLOSE = b"<F2B_CLOSE_COMMAND>" + END


class Conn:
    """One client connection speaking fail2ban's protocol."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""

    def send(self, cmd):
        self.s.sendall(pickle.dumps(cmd, pickle.HIGHEST_PROTOCOL) + END)
        while True:
            i = self.buf.find(END)
            if i >= 0:
                msg, self.buf = self.buf[:i], self.buf[i + len(END):]
                return pickle.loads(msg)
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk

    def close(self):
        try:
            self.s.sendall(CLOSE)
        except OSError:
            pass
        self.s.close()


def wait_socket(path, proc, timeout=15.0):
    t = time.time()
    while time.time() - t < timeout:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            c = Conn(path)
            ok = c.send(["ping"]) == (0, "pong")
            c.close()
            if ok:
                return True
        except (OSError, ConnectionError):
            pass
        time.sleep(0.05)
    return False


def start_server(argv0, workdir):
    sock = os.path.join(workdir, "s.sock")
    cmd = argv0 + ["--async", "-f", "-x", "-s", sock, "-p", os.path.join(workdir, "s.pid"),
                   "--logtarget", os.path.join(workdir, "server.log")]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    if not wait_socket(sock, proc):
        proc.kill()
        proc.wait()
        return None, None
    return proc, sock


def setup_jail(sock, workdir):
    log = os.path.join(workdir, "bench.log")
    open(log, "a").close()
    c = Conn(sock)
    for cmd in (["add", "bench", "polling"], ["set", "bench", "addlogpath", log],
                ["set", "bench", "bantime", "3600"], ["start", "bench"]):
        code, val = c.send(cmd)
        if code != 0:
            raise RuntimeError("%r failed: %r" % (cmd, val))
    c.close()


def bench_socket(sock, n):
    c = Conn(sock)
    t = time.perf_counter()
    for _ in range(n):
        code, _ = c.send(["status", "bench"])
        assert code == 0
    status = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(n):
        ip = "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)
        code, _ = c.send(["set", "bench", "banip", ip])
        assert code == 0
    banip = time.perf_counter() - t
    c.close()
    return status, banip


def bench_clients(client_argv, sock, m):
    t = time.perf_counter()
    for _ in range(m):
        subprocess.run(client_argv + ["-s", sock, "status", "bench"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def row(name, n, f2b, gaol):
    def fmt(x):
        return "%8.3f s %9.0f/s" % (x, n / x) if x else "%21s" % "n/a"
    ratio = "%7.2fx" % (f2b / gaol) if (f2b and gaol) else "    n/a"
    print("%-34s fail2ban %s   gaol %s   ratio %s" % (name, fmt(f2b), fmt(gaol), ratio))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--gaol", default=os.path.join(here, "..", "target", "release", "gaol"))
    ap.add_argument("--gaol-socket", help="an already running gaol server (with no jail 'bench')")
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=100)
    a = ap.parse_args()
    if not shutil.which("fail2ban-server"):
        sys.exit("fail2ban-server not installed")
    work = tempfile.mkdtemp(prefix="control_bench.")
    procs = []
    try:
        wd = os.path.join(work, "f2b")
        os.makedirs(wd)
        p, f2b_sock = start_server(["fail2ban-server"], wd)
        if p is None:
            sys.exit("fail2ban-server did not start")
        procs.append(p)
        setup_jail(f2b_sock, wd)

        wd = os.path.join(work, "gaol")
        os.makedirs(wd)
        if a.gaol_socket:
            gaol_sock = a.gaol_socket
        else:
            p, gaol_sock = start_server([a.gaol, "server"], wd)
            if p is None:
                print("NOTE: `%s server` did not come up (not implemented yet?): "
                      "gaol columns are n/a" % a.gaol)
            else:
                procs.append(p)
        if gaol_sock:
            setup_jail(gaol_sock, wd)

        f_status, f_banip = bench_socket(f2b_sock, a.n)
        g_status, g_banip = bench_socket(gaol_sock, a.n) if gaol_sock else (None, None)
        print("control socket, one connection, n=%d (same Python driver for both servers)" % a.n)
        row("status <jail> round trips", a.n, f_status, g_status)
        row("set <jail> banip <ip>", a.n, f_banip, g_banip)
        if a.clients:
            f_cli = bench_clients(["fail2ban-client"], f2b_sock, a.clients)
            g_cli = bench_clients([a.gaol, "client"], gaol_sock or f2b_sock, a.clients)
            target = "own server" if gaol_sock else "fail2ban-server"
            print("command-line client, %d runs of `status bench` (gaol client -> %s)"
                  % (a.clients, target))
            row("client process round trips", a.clients, f_cli, g_cli)
        for sock in (f2b_sock, gaol_sock):
            if sock:
                try:
                    c = Conn(sock)
                    c.send(["stop"])
                    c.close()
                except (OSError, ConnectionError):
                    pass
    finally:
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
