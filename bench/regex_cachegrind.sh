#!/usr/bin/env bash
# Counts what gaol's fail2ban-regex costs per line on one thread, under cachegrind:
# instructions and L1 data-cache misses. Unlike wall time these do not drift with the
# host (a shared VM's timings move by ±15% from minute to minute), so two builds can be
# compared run against run. The start-up cost (reading the filter, building automata) is
# measured on a 1,000-line head of the same log and subtracted.
#
# Environment (all optional):
#   GAOL    gaol binaries, space-separated  (default: target/release/gaol of this tree)
#   KIND    gen_logs.py corpus kind          (default: sshd)
#   FILTER  filter for fail2ban-regex        (default: /etc/fail2ban/filter.d/sshd.conf)
#   LINES   lines measured                   (default: 200000)
#   DATA    corpus directory                 (default: /tmp/gaol-bench-data)
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared/bench}"
GAOL="${GAOL:-${CARGO_TARGET_DIR:-$ROOT/target}/release/gaol}"
KIND="${KIND:-sshd}"
FILTER="${FILTER:-/etc/fail2ban/filter.d/sshd.conf}"
LINES="${LINES:-200000}"
DATA="${DATA:-/tmp/gaol-bench-data}"
command -v valgrind >/dev/null || { echo "valgrind not installed" >&2; exit 1; }
mkdir -p "$DATA"
log="$DATA/$KIND-$LINES.log"
[ -s "$log" ] || python3 "$SHARED/gen_logs.py" --kind "$KIND" --lines "$LINES" \
  --seed gaol-bench-1 -o "$log" >&2 || exit 1
head="$(mktemp)"
trap 'rm -f "$head" "$head".cg' EXIT
head -n 1000 "$log" > "$head"

# binary log -> "instructions d1_misses"
count() {
  GAOL_REGEX_BATCH=0 TZ=UTC valgrind --tool=cachegrind --cache-sim=yes \
    --cachegrind-out-file="$head.cg" "$1" regex -o ip "$2" "$FILTER" 2>&1 >/dev/null |
    awk '/I *refs:/ {gsub(",", "", $4); i=$4} /D1  misses:/ {gsub(",", "", $4); d=$4} END {print i, d}'
}

printf '%-40s %14s %14s  %s\n' binary "instr/line" "D1 miss/line" "(lines: $LINES, filter: $(basename "$FILTER"))"
for g in $GAOL; do
  read -r i0 d0 < <(count "$g" "$head")
  read -r i1 d1 < <(count "$g" "$log")
  n=$((LINES - 1000))
  printf '%-40s %14.1f %14.2f\n' "$g" "$(echo "($i1 - $i0) / $n" | bc -l)" "$(echo "($d1 - $d0) / $n" | bc -l)"
done
