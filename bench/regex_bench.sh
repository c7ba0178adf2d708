#!/usr/bin/env bash
# gaol's fail2ban-regex against the real one on generated corpora (whole process, same
# arguments). Per case: median wall / CPU / peak RSS of each tool, the ratio, whether the
# two outputs are byte-identical, and the per-IP check against the generator's truth.
#
# gaol runs as it chooses (a four-thread pipeline on large logs and two cores), and once
# more on one thread (GAOL_REGEX_BATCH=0) for the one-core rate, printed as lines/s.
#
# Environment (all optional):
#   GAOL        gaol binary                  (default: target/release/gaol of this tree)
#   REAL        real fail2ban-regex          (default: fail2ban-regex on PATH)
#   SIZES       line counts for the 1M cases (default: 1000000; e.g. "100000" to be quick)
#   WP_SIZES    line counts for wordpress    (default: 100000)
#   CASES       subset of: sshd sshd-aggr apache-auth nginx-http-auth wordpress summary
#   REPS        runs per tool and case       (default: 1 for the real tool, GAOL_REPS=3 for gaol)
#   OUTFMT      -o argument                  (default: ip, as the shared run_regex_bench.sh)
#   DATA        corpus directory             (default: /tmp/gaol-bench-data)
#   SEED        generator seed               (default: gaol-bench-1)
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared/bench}"
GAOL="${GAOL:-${CARGO_TARGET_DIR:-$ROOT/target}/release/gaol}"
REAL="${REAL:-$(command -v fail2ban-regex)}"
SIZES="${SIZES:-1000000}"
WP_SIZES="${WP_SIZES:-100000}"
CASES="${CASES:-sshd sshd-aggr apache-auth nginx-http-auth wordpress summary}"
REPS="${REPS:-1}"
GAOL_REPS="${GAOL_REPS:-3}"
OUTFMT="${OUTFMT:-ip}"
DATA="${DATA:-/tmp/gaol-bench-data}"
SEED="${SEED:-gaol-bench-1}"
PY="${PY:-python3}"
CONF=/etc/fail2ban

[ -x "$GAOL" ] || { echo "no gaol binary at $GAOL (cargo build --release)" >&2; exit 1; }
[ -n "$REAL" ] || { echo "fail2ban-regex not found" >&2; exit 1; }
# The multi-call name: gaol acts as fail2ban-regex when called by that name.
BIN="$(mktemp -d)"
trap 'rm -rf "$BIN"' EXIT
ln -s "$(readlink -f "$GAOL")" "$BIN/fail2ban-regex"
mkdir -p "$DATA"

corpus() { # kind lines -> path (generated once, deterministic, with per-IP truth)
  local f="$DATA/$1-$2.log"
  if [ ! -s "$f" ] || [ ! -s "$f.ptruth.json" ]; then
    "$PY" "$SHARED/gen_logs.py" --kind "$1" --lines "$2" --seed "$SEED" \
      --truth "$f.ptruth.json" --truth-per-ip -o "$f" >&2 || exit 1
  fi
  echo "$f"
}

# timed tool reps out args... -> "wall user sys rss_kib" medians; stdout of the last run in $out
# Each run is timed by the process's own rusage (wait4) and a monotonic clock around it:
# /usr/bin/time's %e has 10 ms steps, a tenth of a 100k-line gaol run.
timed() {
  local tool=$1 reps=$2 out=$3; shift 3
  TZ=UTC "$PY" - "$reps" "$out" "$tool" "$@" <<'EOF'
import os, statistics as st, subprocess, sys, time
reps, out, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
rows = []
for _ in range(reps):
    with open(out, "wb") as o, open(os.devnull, "wb") as e:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=o, stderr=e)
        _, _, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    rows.append((wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss))
print(" ".join("%.4f" % st.median(r[i] for r in rows) for i in range(4)))
EOF
}

# Drops the run-dependent elapsed time of the summary report.
strip_elapsed() { grep -v '^\[processed in ' "$1"; }

printf '%-16s %8s  %20s  %20s  %7s %7s  %-9s %-6s %s\n' case lines \
  "real wall/cpu/MiB" "gaol wall/cpu/MiB" "x wall" "x cpu" output truth "1 thread wall, lines/s"

run_case() { # name kind lines filter truthmode
  local name=$1 kind=$2 n=$3 filt=$4 tmode=$5
  local log; log=$(corpus "$kind" "$n")
  local ro go; ro=$(mktemp); go=$(mktemp)
  local args
  if [ "$name" = summary ]; then
    args=(-c "$CONF" --print-no-missed "$log" "$filt")
  else
    args=(-c "$CONF" -o "$OUTFMT" "$log" "$filt")
  fi
  local r g
  r=$(timed "$REAL" "$REPS" "$ro" "${args[@]}")
  g=$(timed "$BIN/fail2ban-regex" "$GAOL_REPS" "$go" "${args[@]}")
  local one; one=$(GAOL_REGEX_BATCH=0 timed "$BIN/fail2ban-regex" "$GAOL_REPS" /dev/null "${args[@]}")
  local same=DIFFERENT truth=n/a
  if [ "$name" = summary ]; then
    cmp -s <(strip_elapsed "$ro") <(strip_elapsed "$go") && same=identical
  else
    cmp -s "$ro" "$go" && same=identical
    if [ "$OUTFMT" = ip ] && [ "$tmode" != - ]; then
      if "$PY" "$SHARED/check_truth.py" "$log.ptruth.json" "$tmode" "$go" > "$go.t"; then
        truth=OK
      else
        truth="FAIL($(head -n 1 "$go.t"))"
      fi
      rm -f "$go.t"
    fi
  fi
  "$PY" - "$name" "$n" "$r" "$g" "$same" "$truth" "$one" <<'EOF'
import sys
name, n, r, g, same, truth, one = sys.argv[1:]
rw, ru, rs, rm = map(float, r.split()); gw, gu, gs, gm = map(float, g.split())
ow = float(one.split()[0])
rc, gc = ru + rs, gu + gs
ratio = lambda a, b: "%.1f" % (a / b) if b > 0 else "inf"
rate = "%.0fk" % (int(n) / ow / 1000) if ow > 0 else "inf"
print("%-16s %8s  %7.2f/%6.2f/%5.1f  %7.3f/%6.3f/%5.1f  %7s %7s  %-9s %-6s %.3f s, %s" % (
    name, n, rw, rc, rm / 1024, gw, gc, gm / 1024, ratio(rw, gw), ratio(rc, gc), same, truth,
    ow, rate))
EOF
  rm -f "$ro" "$go"
}

WP="$SHARED/filters/wordpress-bench.conf"
for c in $CASES; do
  case $c in
    sshd) for n in $SIZES; do run_case sshd sshd "$n" sshd normal; done ;;
    sshd-aggr) for n in $SIZES; do run_case sshd-aggressive sshd "$n" 'sshd[mode=aggressive]' aggressive; done ;;
    apache-auth) for n in $SIZES; do run_case apache-auth apache-error "$n" apache-auth normal; done ;;
    nginx-http-auth) for n in $SIZES; do run_case nginx-http-auth nginx-error "$n" nginx-http-auth normal; done ;;
    wordpress) for n in $WP_SIZES; do run_case wordpress access "$n" "$WP" wordpress; done ;;
    summary) for n in $SIZES; do run_case summary sshd "$n" sshd -; done ;;
    *) echo "unknown case $c" >&2 ;;
  esac
done
