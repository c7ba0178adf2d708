#!/usr/bin/env bash
# Times `fail2ban-client -c DIR -d` vs `gaol client -c DIR -d` (whole process) on the
# stock tree with every jail of jail.conf enabled. Uses hyperfine when present, else a
# bash loop of N runs with `date +%s.%N` reporting the median.
# Env: GAOL (default target/release/gaol), N (default 20).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
GAOL=${GAOL:-target/release/gaol}
N=${N:-20}
command -v fail2ban-client >/dev/null || { echo "fail2ban-client not installed" >&2; exit 1; }
[ -x "$GAOL" ] || { echo "gaol binary not found at $GAOL (set GAOL=...)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
bash "$here/make_all_enabled_tree.sh" "$root"
dir=$root/conf
jails=$(grep -c '^enabled = true' "$dir/jail.local")
echo "tree: stock /etc/fail2ban with $jails jails enabled ($dir)"

if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 2 --runs "$N" \
    -n fail2ban "fail2ban-client -c $dir -d" \
    -n gaol "$GAOL client -c $dir -d"
  exit 0
fi

# median wall time in seconds of N runs of "$@"
median() {
  local t=() s e
  for _ in $(seq "$N"); do
    s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
    t+=("$(awk -v a="$s" -v b="$e" 'BEGIN{print b-a}')")
  done
  printf '%s\n' "${t[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}
"$GAOL" client -c "$dir" -d >/dev/null 2>&1 || true   # warm the page cache
f=$(median fail2ban-client -c "$dir" -d)
g=$(median "$GAOL" client -c "$dir" -d)
printf 'fail2ban-client -d: median %.4f s over %d runs\n' "$f" "$N"
printf 'gaol client -d:     median %.4f s over %d runs\n' "$g" "$N"
printf 'ratio fail2ban/gaol: %.1fx\n' "$(awk -v a="$f" -v b="$g" 'BEGIN{print a/b}')"
