#!/usr/bin/env bash
# Memory of `calltrack serve` after heavy concurrent load, loopback only,
# stops by itself: a serve with --threads 160 on a fresh database, two 6 s
# wrk runs of 160 connections admitting calls that stay live
# (bench/wrk_admit.lua), then VmRSS after each run, 5 s and 35 s later (a
# connection thread idle for a second gives its malloc cache back), and the
# live calls. With two binaries, they alternate, ROUNDS each, one at a time.
#
#   bench/rss_load_bench.sh [ROUNDS] CALLTRACK_BINARY [OTHER_BINARY]
set -euo pipefail
rounds=${1:-3}
[[ $rounds =~ ^[0-9]+$ && -n ${2:-} ]] || {
  echo "usage: bench/rss_load_bench.sh [ROUNDS] CALLTRACK_BINARY [OTHER_BINARY]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
binaries=("$(realpath "$2")")
[[ -n ${3:-} ]] && binaries+=("$(realpath "$3")")
for tool in wrk curl sqlite3; do
  command -v $tool >/dev/null || { echo "$tool is missing: apt-get install $tool" >&2; exit 2; }
done
export CALLTRACK_ADMIN_TOKEN=rss-load-token
port=18293
run() {
  local binary=$1 work pid
  work=$(mktemp -d /var/tmp/rss-load.XXXXXX)  # on disk, as a database would be
  "$binary" --db "$work/r.db" serve --listen 127.0.0.1:$port --threads 160 \
    --max-connections 1024 --log-level warn 2>"$work/serve.log" &
  pid=$!
  # shellcheck disable=SC2064  # the values of now
  trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf '$work'" EXIT
  for _ in $(seq 200); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.05; done
  local auth=(-H "Authorization: Bearer $CALLTRACK_ADMIN_TOKEN" -H "Content-Type: application/json")
  curl -sf -X PUT "${auth[@]}" -d '{"max_concurrent": 100000000}' \
    http://127.0.0.1:$port/v1/limits/global >/dev/null
  # Live for a day: the reaper must not end them during the run.
  curl -sf -X PUT "${auth[@]}" -d '{"max_concurrent": 100000000, "ring_timeout_s": 86400}' \
    http://127.0.0.1:$port/v1/clients/bench >/dev/null
  rss() { awk '$1 == "VmRSS:" {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
  local line="idle $(rss)"
  for r in 1 2; do
    wrk -t2 -c160 -d6s -s "$here/wrk_admit.lua" http://127.0.0.1:$port/ >/dev/null
    line+=" | run $r $(rss)"
  done
  sleep 5; line+=" | +5 s $(rss)"
  sleep 30; line+=" | +35 s $(rss)"
  line+=" | live $(sqlite3 "$work/r.db" 'SELECT count(*) FROM calls WHERE ended_at IS NULL')"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$work"; trap - EXIT
  echo "$line"
}
echo "VmRSS in MiB"
for ((i = 1; i <= rounds; i++)); do
  for b in "${binaries[@]}"; do echo "$b: $(run "$b")"; done
done
