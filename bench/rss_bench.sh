#!/usr/bin/env bash
# Memory of `calltrack serve` with many live calls, loopback only, stops by itself.
#   bench/rss_bench.sh [LIVE_CALLS] [CALLTRACK_BINARY]
#                       (default 100000, and this tree's release build)
# Starts a release serve (synchronous=FULL) on a fresh database, reads its
# resident set (VmRSS) and peak (VmHWM) idle, then admits LIVE_CALLS calls
# over 8 clients through POST /v1/calls:batch (1 000 per request) and keeps
# them live, then drives the read side that grows with them (GET /metrics,
# /v1/usage, /v1/calls listings, 500 single admissions and ends) and reads
# both again.
set -euo pipefail
[[ -n ${2:-} ]] && set -- "$1" "$(realpath "$2")"  # before the cd below
cd "$(dirname "$0")/.."
live=${1:-100000}
[[ $live =~ ^[0-9]+$ ]] || { echo "usage: bench/rss_bench.sh [LIVE_CALLS] [CALLTRACK_BINARY]" >&2; exit 2; }
for tool in curl python3; do
  command -v $tool >/dev/null || { echo "$tool is missing: apt-get install $tool" >&2; exit 2; }
done
if [[ -n ${2:-} ]]; then binary=$2; else binary=$(scripts/build release calltrack)/calltrack; fi
work=$(mktemp -d)
port=18291
export CALLTRACK_ADMIN_TOKEN=rss-bench-token
"$binary" --db "$work/rss.db" serve --listen 127.0.0.1:$port --log-level warn \
  2>"$work/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 200); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.05; done
sleep 2  # the background jobs' first passes
mem() { awk -v k="$1" '$1 == k":" {printf "%.1f", $2 / 1024}' /proc/$server/status; }
idle_rss=$(mem VmRSS)
python3 - "$port" "$live" <<'EOF'
import json, sys, urllib.request
port, live = int(sys.argv[1]), int(sys.argv[2])
base = f"http://127.0.0.1:{port}"
hdr = {"Authorization": "Bearer rss-bench-token", "Content-Type": "application/json"}
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, headers=hdr,
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req) as r:
        return r.status, r.read()
call("PUT", "/v1/limits/global", {"max_concurrent": 100000000})
for k in range(8):
    # Live for a day: the reaper must not end them during the run.
    call("PUT", f"/v1/clients/c{k}", {"max_concurrent": 100000000, "ring_timeout_s": 86400})
n = 0
while n < live:
    items = [{"op": "admit", "client_id": f"c{(n + i) % 8}", "external_id": f"rss-{n + i}"}
             for i in range(min(1000, live - n))]
    status, body = call("POST", "/v1/calls:batch", {"items": items})
    bad = [r for r in json.loads(body)["results"] if r["status"] != 201]
    if status != 200 or bad:
        sys.exit(f"batch at {n}: HTTP {status}, {len(bad)} items not admitted: {bad[:1]}")
    n += len(items)
for path in ("/metrics", "/v1/usage", "/v1/calls?limit=1000", "/v1/clients/c0/calls?limit=1000"):
    try:
        call("GET", path)
    except urllib.error.HTTPError as e:
        if e.code != 404:
            raise
for i in range(500):
    _, body = call("POST", "/v1/calls", {"client_id": "c0", "external_id": f"rss-single-{i}"})
    call("POST", f"/v1/calls/{json.loads(body)['call']['id']}/end", {})
EOF
live_now=$(sqlite3 "file:$work/rss.db?mode=ro" "SELECT global_active FROM settings")
db_mb=$(du -m "$work/rss.db" | cut -f1)
echo "| live calls | VmRSS idle | VmRSS | of which anonymous | VmHWM (peak) | database file |"
echo "|---:|---:|---:|---:|---:|---:|"
echo "| $live_now | $idle_rss MiB | $(mem VmRSS) MiB | $(mem RssAnon) MiB | $(mem VmHWM) MiB | $db_mb MiB |"
