#!/usr/bin/env bash
# Builds ROOT/conf = copy of the stock /etc/fail2ban plus a jail.local that enables every
# jail section of jail.conf, each with logpath = ROOT/log/<jail>.log (created empty), so
# `fail2ban-client -c ROOT/conf -d` exercises every jail without touching /var/log.
# Usage: make_all_enabled_tree.sh ROOT [STOCK_DIR]
set -euo pipefail
root=${1:?usage: make_all_enabled_tree.sh ROOT [STOCK]}
stock=${2:-/etc/fail2ban}
mkdir -p "$root/conf" "$root/log"
cp -r "$stock/." "$root/conf/"
local_file="$root/conf/jail.local"
: > "$local_file"
grep -E '^\[[^]]+\]' "$stock/jail.conf" | sed -E 's/^\[([^]]+)\].*/\1/' |
  grep -vxE 'INCLUDES|DEFAULT' | while read -r jail; do
    printf '[%s]\nenabled = true\nbackend = auto\nlogpath = %s/log/%s.log\n\n' \
      "$jail" "$root" "$jail" >> "$local_file"
    : > "$root/log/$jail.log"
  done
