#!/usr/bin/env bash
# Side-by-side HTTP throughput of two calltrack builds (a change against its
# parent), loopback only, stops by itself: both serve at once on two ports
# (fresh databases in a temporary directory), wrk runs alternate between
# them, GET /healthz, admissions (bench/wrk_admit.lua: every request admits a
# call that stays live) and admit-then-end (bench/wrk_admit_end.lua) at 32
# and 64 connections; the median of ROUNDS runs per cell and the ratio new/old,
# for the request rate and for serve's CPU per request (utime + stime of
# /proc/PID/stat around each run, all of serve's threads, divided by the
# requests wrk completed).
#
#   bench/compare_http_builds.sh OLD/calltrack NEW/calltrack [ROUNDS] [DURATION]
#
# OLD_SERVE_ARGS and NEW_SERVE_ARGS (default "--log-level warn") are each
# side's serve options, so one binary can also be compared with itself under
# two settings (OLD_SERVE_ARGS="--log-level info", say).
set -euo pipefail
old=$1 new=$2 rounds=${3:-3} duration=${4:-5s}
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
work=$(mktemp -d)
export CALLTRACK_ADMIN_TOKEN=bench-token
read -ra old_args <<<"${OLD_SERVE_ARGS:---log-level warn}"
read -ra new_args <<<"${NEW_SERVE_ARGS:---log-level warn}"
"$old" --db "$work/old.db" serve --listen 127.0.0.1:18301 --threads 96 "${old_args[@]}" 2>"$work/old.log" & p1=$!
"$new" --db "$work/new.db" serve --listen 127.0.0.1:18302 --threads 96 "${new_args[@]}" 2>"$work/new.log" & p2=$!
trap 'kill $p1 $p2 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for port in 18301 18302; do
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.05; done
  auth=(-H "Authorization: Bearer $CALLTRACK_ADMIN_TOKEN" -H "Content-Type: application/json")
  curl -sf -X PUT http://127.0.0.1:$port/v1/limits/global "${auth[@]}" -d '{"max_concurrent": 100000000}' >/dev/null
  # Admitted calls stay live for the run: no reaper work in the measurement.
  curl -sf -X PUT http://127.0.0.1:$port/v1/clients/bench "${auth[@]}" \
    -d '{"max_concurrent": 100000000, "ring_timeout_s": 86400}' >/dev/null
done
ticks=$(getconf CLK_TCK)
# CPU ticks (user + system, every thread) of process $1 so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# One wrk run against port $2 (serve's pid $1); prints "req/s µs-of-CPU-per-request".
cell() {
  local pid=$1 port=$2; shift 2
  local before after out
  before=$(cpu_ticks "$pid")
  out=$(wrk -t2 -c$c -d"$duration" "$@" http://127.0.0.1:$port/healthz)
  after=$(cpu_ticks "$pid")
  awk -v b="$before" -v a="$after" -v t="$ticks" '
    /requests in/ {n = $1} /Requests\/sec/ {r = $2}
    END {printf "%s %.1f\n", r, (a - b) / t * 1e6 / n}' <<<"$out"
}
for c in 32 64; do
  for ((i = 0; i < rounds; i++)); do
    # The order alternates by round: the second of two runs in a row
    # meets a warmer (or busier) machine.
    sides="old new"; ((i % 2)) && sides="new old"
    for side in $sides; do
      port=18301 pid=$p1; [[ $side == new ]] && port=18302 pid=$p2
      echo "$c $side healthz $(cell $pid $port)"
      echo "$c $side admit $(cell $pid $port -s "$here/wrk_admit.lua")"
      echo "$c $side pairs $(cell $pid $port -s "$here/wrk_admit_end.lua")"
    done
  done
done > "$work/r"
echo "| connections | kind | old req/s (median of $rounds) | new req/s | new/old | old CPU µs/req | new CPU µs/req | new/old |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|"
for c in 32 64; do for k in healthz admit pairs; do
  med() { awk -v c=$c -v s=$1 -v k=$k -v f=$2 '$1==c && $2==s && $3==k {print $f}' "$work/r" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
  o=$(med old 4); n=$(med new 4); oc=$(med old 5); nc=$(med new 5)
  awk -v c=$c -v k=$k -v o=$o -v n=$n -v oc=$oc -v nc=$nc 'BEGIN {printf "| %s | %s | %.0f | %.0f | %.2f | %.1f | %.1f | %.2f |\n", c, (k=="pairs"?"admit+end requests":(k=="admit"?"admissions":k)), o, n, n/o, oc, nc, nc/oc}'
done; done
