#!/bin/sh
# Prints the total CPU ticks of the PostgreSQL server: postmaster's own and reaped children's, plus live children's
pm=$(head -1 /var/run/postgresql/*.pid 2>/dev/null || true)
[ -z "$pm" ] && pm=$(pgrep -o postgres)
t=$(awk '{print $14+$15+$16+$17}' /proc/$pm/stat)
for c in $(pgrep -P $pm); do t=$((t + $(awk '{print $14+$15}' /proc/$c/stat 2>/dev/null || echo 0))); done
echo $t
