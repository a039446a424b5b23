#!/usr/bin/env bash
# HTTP benchmark (issue 3, section 8), loopback only, stops by itself.
#   bench/http_bench.sh [DURATION]      (default 10s per cell)
# Starts a release `calltrack serve` on a fresh database in a temporary
# directory, then in one run, side by side: GET /healthz and admit-then-end
# (bench/wrk_admit_end.lua) at 8, 32 and 64 connections with wrk, and
# POST /v1/calls:batch against the same admissions sent one by one.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
dir=$(scripts/build release)
work=$(mktemp -d)
port=18181
export CALLTRACK_ADMIN_TOKEN=bench-token
"$dir/calltrack" --db "$work/bench.db" serve --listen 127.0.0.1:$port --threads 96 --log-level warn \
  2>"$work/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.05; done
auth=(-H "Authorization: Bearer $CALLTRACK_ADMIN_TOKEN" -H "Content-Type: application/json")
curl -sf -X PUT http://127.0.0.1:$port/v1/limits/global "${auth[@]}" -d '{"max_concurrent": 1000000}' >/dev/null
curl -sf -X PUT http://127.0.0.1:$port/v1/clients/bench "${auth[@]}" -d '{"max_concurrent": 1000000}' >/dev/null

echo "| connections | healthz req/s | healthz p99 | admit+end req/s | admissions/s | admit+end p50 | admit+end p99 | admissions / healthz |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in 8 32 64; do
  h=$(wrk -t2 -c$c -d"$duration" --latency http://127.0.0.1:$port/healthz)
  a=$(wrk -t2 -c$c -d"$duration" --latency -s bench/wrk_admit_end.lua http://127.0.0.1:$port)
  hr=$(awk '/Requests\/sec/ {print $2}' <<<"$h"); hp99=$(awk '$1=="99%" {print $2}' <<<"$h")
  ar=$(awk '/Requests\/sec/ {print $2}' <<<"$a"); ap50=$(awk '$1=="50%" {print $2}' <<<"$a")
  ap99=$(awk '$1=="99%" {print $2}' <<<"$a")
  adm=$(awk -v r="$ar" 'BEGIN {printf "%.0f", r / 2}')
  ratio=$(awk -v a="$adm" -v h="$hr" 'BEGIN {printf "%.2f", a / h}')
  echo "| $c | $hr | $hp99 | $ar | $adm | $ap50 | $ap99 | $ratio |"
done
echo
"$dir/bench/http_batch_bench" $port "$CALLTRACK_ADMIN_TOKEN" 5 500
