#!/usr/bin/env bash
# Times `fail2ban-client -c DIR -d` vs `gaol client -c DIR -d` (whole process, same args) on
# the stock tree with every jail of jail.conf enabled, checks that both print the same
# stdout, and prints the median wall time of each (ms) and the ratio fail2ban/gaol.
# Uses hyperfine when present (medians from its JSON export), else a bash loop of N runs
# timed with `date +%s%N`.
# Env: GAOL (default target/release/gaol), N (default 20 runs; fail2ban gets max(5, N/4)),
# NO_HYPERFINE=1 forces the date loop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
GAOL=${GAOL:-target/release/gaol}
N=${N:-20}
NF=$(( N / 4 > 5 ? N / 4 : 5 ))
command -v fail2ban-client >/dev/null || { echo "fail2ban-client not installed" >&2; exit 1; }
[ -x "$GAOL" ] || { echo "gaol binary not found at $GAOL (set GAOL=...)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
bash "$here/make_all_enabled_tree.sh" "$root"
dir=$root/conf
jails=$(grep -c '^enabled = true' "$dir/jail.local")
echo "tree: stock /etc/fail2ban with $jails jails enabled ($dir)"

fail2ban-client -c "$dir" -d >"$root/f2b.out" 2>/dev/null || true
"$GAOL" client -c "$dir" -d >"$root/gaol.out" 2>/dev/null || true
if cmp -s "$root/f2b.out" "$root/gaol.out"; then
  echo "stdout: identical ($(wc -c <"$root/gaol.out") bytes)"
else
  echo "stdout: DIFFERENT" >&2
  diff "$root/f2b.out" "$root/gaol.out" | head -5 >&2
fi

# median wall time in ms of $1 runs of the rest
median_ms() {
  local n=$1 t=() s e
  shift
  for _ in $(seq "$n"); do
    s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
    t+=("$(( (e - s) / 1000 ))")
  done
  printf '%s\n' "${t[@]}" | sort -n |
    awk '{a[NR]=$1} END {m = (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); printf "%.2f", m/1000}'
}

if [ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 2 --runs "$NF" --export-json "$root/f.json" \
    "fail2ban-client -c $dir -d" >/dev/null 2>&1
  hyperfine -N --warmup 3 --runs "$N" --export-json "$root/g.json" \
    "$GAOL client -c $dir -d" >/dev/null 2>&1
  med() { python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1"; }
  f=$(med "$root/f.json")
  g=$(med "$root/g.json")
  how="hyperfine"
else
  "$GAOL" client -c "$dir" -d >/dev/null 2>&1 || true   # warm the page cache
  f=$(median_ms "$NF" fail2ban-client -c "$dir" -d)
  g=$(median_ms "$N" "$GAOL" client -c "$dir" -d)
  how="date loop"
fi
printf 'fail2ban-client -d: median %8.2f ms (%d runs, %s)\n' "$f" "$NF" "$how"
printf 'gaol client -d:     median %8.2f ms (%d runs, %s)\n' "$g" "$N" "$how"
printf 'ratio fail2ban/gaol: %.1fx\n' "$(awk -v a="$f" -v b="$g" 'BEGIN{print a/b}')"
