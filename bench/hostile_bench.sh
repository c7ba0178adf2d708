#!/usr/bin/env bash
# The worst time one hostile log line costs gaol's fail2ban-regex, per shipped filter.
# Lines: a 1 MB line of sshd-like text (ASCII, and again with non-ASCII letters), 100k
# `a`s, 100k bytes of addresses and brackets (the <HOST> alternations' worst case), NUL
# bytes, invalid UTF-8, a 64 KiB line of `(` and `[`. Each is timed twice, as medians of
# REPS whole-process runs: "first", the log of that line alone less the same filter on a
# one-line benign log (start-up: reading the filter, building its automata), which
# includes what the first such line builds late (the full-Unicode engines wait for a
# non-ASCII line); and "again", the line a second time, its last byte changed (a log of
# both less the log of the first). Prints each filter's worst of both and the largest over all; issue #3
# wants no line over 10 ms. Not a test: timings stay out of them.
#
# Environment (all optional):
#   GAOL     gaol binary          (default: target/release/gaol of this tree)
#   FILTERS  filter directory     (default: /etc/fail2ban/filter.d)
#   REPS     runs per measurement (default: 3)
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
GAOL="${GAOL:-${CARGO_TARGET_DIR:-$ROOT/target}/release/gaol}"
FILTERS="${FILTERS:-/etc/fail2ban/filter.d}"
REPS="${REPS:-3}"
[ -x "$GAOL" ] || { echo "no gaol binary at $GAOL (cargo build --release)" >&2; exit 1; }
[ -d "$FILTERS" ] || { echo "no filter directory at $FILTERS" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# The multi-call name: gaol acts as fail2ban-regex when called by that name.
ln -s "$(readlink -f "$GAOL")" "$WORK/fail2ban-regex"

python3 - "$WORK" "$FILTERS" "$REPS" <<'EOF'
import os, statistics, subprocess, sys, time

work, filters, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
tool = os.path.join(work, "fail2ban-regex")
date = b"Nov 21 12:00:00 host sshd[1]: "
unit = b"Failed password for invalid user a from 1.2.3.4 port 22 ssh2 ::ffff: [x] <y> \"z\" "
lines = {
    "1MB": date + unit * ((1 << 20) // len(unit)),
    "1MB-utf8": date + (unit.replace(b"user a", "user \u00e9".encode()) + "\u00fc ".encode())
    * ((1 << 20) // (len(unit) + 3)),
    "100k-a": b"a" * 100_000,
    "addrs": date + b"from " + b"1.2.3.4 [::ffff:10.0.0.1] host-a.example.com " * 2300,
    "nul": date + b"Failed password for \0root\0 from 1.2.3.4\0 port 22 ssh2" * 500,
    "bad-utf8": date + b"Failed password for \xff\xfeu\xc3 from 1.2.3.4 port 22 \xed\xa0\x80" * 500,
    "parens": date + b"([" * 32_768,
}
benign = date + b"Accepted publickey for git from 10.0.0.1 port 40000 ssh2\n"
logs = {}

def write(name, text):
    path = os.path.join(work, name + ".log")
    with open(path, "wb") as f:
        f.write(text)
    logs[name] = path

write("benign", benign)
for k, v in lines.items():
    write(k, v + b"\n")
    # (the second copy differs at its end: the memories of a text seen before must not
    # answer for it)
    write(k + "-x2", v + b"\n" + v + b" 2\n")

def run(log, flt):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = subprocess.run([tool, log, flt], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), r.returncode

def has_failregex(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return any(l.lstrip().lower().startswith("failregex") for l in f)
    except OSError:
        return False

names = sorted(n for n in os.listdir(filters)
               if n.endswith(".conf") and has_failregex(os.path.join(filters, n)))
print("%-24s %9s %-9s %9s %-9s %s" % ("filter", "first ms", "line", "again ms", "line",
                                      "(start-up ms)"))
worst_first, worst_again = (0.0, "", ""), (0.0, "", "")
alone, failed = [], []
for n in names:
    flt = os.path.join(filters, n)
    base, rc = run(logs["benign"], flt)
    if rc not in (0, 1):
        alone.append(n[:-5])
        continue
    first, again = (0.0, ""), (0.0, "")
    for k in lines:
        t1, rc1 = run(logs[k], flt)
        t2, rc2 = run(logs[k + "-x2"], flt)
        if rc1 not in (0, 1) or rc2 not in (0, 1):
            failed.append("%s on %s (exit %d/%d)" % (n, k, rc1, rc2))
        first = max(first, (max(0.0, t1 - base) * 1000, k))
        again = max(again, (max(0.0, t2 - t1) * 1000, k))
    print("%-24s %9.2f %-9s %9.2f %-9s (%.1f)" % (n[:-5], first[0], first[1], again[0],
                                                  again[1], base * 1000))
    worst_first = max(worst_first, (first[0], n[:-5], first[1]))
    worst_again = max(worst_again, (again[0], n[:-5], again[1]))
print("over %d filters, worst first line: %.2f ms (%s, %s); worst line again: %.2f ms (%s, %s)"
      % (len(names) - len(alone), *worst_first, *worst_again))
if alone:
    print("not a filter on its own (fails on a benign line): " + ", ".join(alone))
if failed:
    print("runs that failed: " + ", ".join(failed))
    sys.exit(1)
EOF
