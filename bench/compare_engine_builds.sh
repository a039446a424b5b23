#!/usr/bin/env bash
# Side-by-side engine throughput of two calltrack builds (a change against
# its parent), alternating runs in one session so that machine noise hits
# both alike. Prints, per cell, the median admit+end pairs/s of each build
# and the ratio new/old.
#
#   bench/compare_engine_builds.sh OLD/bench/engine_bench NEW/bench/engine_bench [RUNS] [SECONDS]
#
# e.g. for a change on main (release builds of both):
#   git worktree add /tmp/old HEAD~1 && (cd /tmp/old && scripts/build release engine_bench)
#   scripts/build release engine_bench
#   bench/compare_engine_builds.sh /tmp/old/build/bench/engine_bench build/bench/engine_bench 5 2
set -euo pipefail
old=$1 new=$2 runs=${3:-5} seconds=${4:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((i = 0; i < runs; i++)); do
  for side in old new; do
    bin=$old; [[ $side == new ]] && bin=$new
    rm -rf "$work/data" && mkdir -p "$work/data"
    # One throughput run per cell; the table rows are "| threads | FULL pairs/s | ... | NORMAL pairs/s | ...".
    "$bin" --seconds "$seconds" --repeat 1 --rounds 1 --dir "$work/data" 2>/dev/null |
      awk -v side="$side" -F'|' '/^\| (1|8|32) \|/ {gsub(/ /, "", $2); gsub(/ /, "", $3); gsub(/ /, "", $5);
        print side, $2, "FULL", $3; print side, $2, "NORMAL", $5}' >> "$work/results"
  done
done
echo "| threads | durability | old pairs/s (median of $runs) | new pairs/s | new/old |"
echo "|---:|---|---:|---:|---:|"
for threads in 1 8 32; do
  for mode in FULL NORMAL; do
    median() { awk -v s="$1" -v t="$threads" -v m="$mode" '$1 == s && $2 == t && $3 == m {print $4}' "$work/results" | sort -n |
      awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
    o=$(median old) n=$(median new)
    awk -v t="$threads" -v m="$mode" -v o="$o" -v n="$n" 'BEGIN {printf "| %s | %s | %.0f | %.0f | %.2f |\n", t, m, o, n, n / o}'
  done
done
