#!/usr/bin/env bash
# calltrack against what a team would deploy instead, side by side in one run,
# durable settings for all three, loopback only; stops by itself.
#   bench/peers.sh [DURATION_S] [ROUNDS]        (default 5 s per cell, 3 rounds)
#
#  * calltrack: a release `calltrack serve` (synchronous=FULL, the default),
#    wrk -t2 with bench/wrk_admit.lua (every request admits a new call and
#    keeps it live), and GET /healthz of the same server;
#  * Redis (Debian's redis-server, appendonly yes, appendfsync always): a Lua
#    script that checks a client and a global counter, then HSETNX the call
#    and INCR both counters; load from redis-benchmark (2 threads, EVALSHA,
#    unique call ids);
#  * PostgreSQL (Debian's, fsync on, synchronous_commit on): a PL/pgSQL
#    function doing the same checks as guarded UPDATEs of a client row and
#    a global row plus the INSERT of the call, one transaction per admission;
#    load from pgbench (2 threads, prepared statements).
#
# Every run starts its own Redis and PostgreSQL in a temporary directory (never
# the system instances) and removes it at the end. Cells run round-robin (all
# systems at 32 connections, then at 64, then the next round), so machine
# noise falls on all of them alike; each cell is the median of its rounds.
# The fsync latency of the temporary directory's file system (4 KiB pwrite +
# fdatasync, median of 200) is measured before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-5}
rounds=${2:-3}
[[ $duration =~ ^[0-9]+$ && $rounds =~ ^[0-9]+$ && $duration -ge 1 && $rounds -ge 1 ]] ||
  { echo "usage: bench/peers.sh [DURATION_S] [ROUNDS]" >&2; exit 2; }

# What it needs, from Debian, only if missing.
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || need+=(redis-server redis-tools)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || need+=(postgresql-contrib)
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  echo "installing ${need[*]} ..." >&2
  apt-get update -qq >&2
  # Keep the packages from starting the system redis-server and a system
  # PostgreSQL cluster: this benchmark runs only its own instances.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/calltrack-peers.conf
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  rm -f /etc/postgresql-common/createcluster.d/calltrack-peers.conf
  [[ -e $policy ]] && grep -q 'exit 101' "$policy" && rm -f "$policy"
  trap - EXIT
fi
pgbin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/postgres | sort -V | tail -1)")

build=$(scripts/build release calltrack)
# On disk, not tmpfs (where fsync costs nothing): /var/tmp unless TMPDIR says.
work=$(mktemp -d "${TMPDIR:-/var/tmp}/calltrack-peers.XXXXXX")
chmod 755 "$work"
if [[ $(stat -f -c %T "$work") == tmpfs ]]; then
  rmdir "$work"; echo "peers.sh: $work is on tmpfs, where fsync is free; set TMPDIR to a disk" >&2; exit 2
fi
ct_port=18281 redis_port=18282 pg_port=18283
for port in $ct_port $redis_port $pg_port; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "peers.sh: port $port is in use (another run?); nothing started" >&2; rm -rf "$work"; exit 2
  fi
done
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -d $work/pg ]] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
# Fails the run (with the server's log) unless process $1 is alive and $2
# (a command) succeeds within 10 s.
await() {
  local pid=$1 log=$2; shift 2
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "peers.sh: a server did not come up: $*" >&2; cat "$log" >&2; exit 1
}

fsync_us() {
  python3 - "$work/fsync-probe" <<'EOF'
import os, sys, time, statistics
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
page = b"x" * 4096
us = []
for i in range(200):
    t = time.perf_counter()
    os.pwrite(fd, page, i * 4096)
    os.fdatasync(fd)
    us.append((time.perf_counter() - t) * 1e6)
os.close(fd); os.unlink(sys.argv[1])
print(round(statistics.median(us)))
EOF
}
fsync_before=$(fsync_us)

# --- calltrack ---------------------------------------------------------------
export CALLTRACK_ADMIN_TOKEN=peers-bench-token
"$build/calltrack" --db "$work/calltrack.db" serve --listen 127.0.0.1:$ct_port --threads 160 \
  --log-level warn 2>"$work/calltrack.log" &
pids+=($!)
await $! "$work/calltrack.log" curl -sf http://127.0.0.1:$ct_port/healthz
auth=(-H "Authorization: Bearer $CALLTRACK_ADMIN_TOKEN" -H "Content-Type: application/json")
curl -sf -X PUT http://127.0.0.1:$ct_port/v1/limits/global "${auth[@]}" -d '{"max_concurrent": 100000000}' >/dev/null
# Calls stay live for a day, as in Redis and PostgreSQL: no reaper work during the run.
curl -sf -X PUT http://127.0.0.1:$ct_port/v1/clients/bench "${auth[@]}" \
  -d '{"max_concurrent": 100000000, "ring_timeout_s": 86400}' >/dev/null

# --- Redis ---------------------------------------------------------------------
mkdir -p "$work/redis"
# No AOF rewrite: its forked child would compete with the other cells.
redis-server --bind 127.0.0.1 --port $redis_port --dir "$work/redis" --appendonly yes \
  --appendfsync always --auto-aof-rewrite-percentage 0 --save "" --protected-mode yes \
  --daemonize no --loglevel warning >"$work/redis.log" 2>&1 &
pids+=($!)
await $! "$work/redis.log" redis-cli -p $redis_port ping
[[ $(redis-cli -p $redis_port CONFIG GET dir | tail -1) == "$work/redis" ]] ||
  { echo "peers.sh: port $redis_port is not our Redis" >&2; exit 1; }
# KEYS: client counter, global counter, the client's calls; ARGV: call id,
# client limit, global limit, admitted-at.
sha=$(redis-cli -p $redis_port SCRIPT LOAD "
local ca = tonumber(redis.call('GET', KEYS[1]) or '0')
local ga = tonumber(redis.call('GET', KEYS[2]) or '0')
if ca >= tonumber(ARGV[2]) then return 'client_limit_reached' end
if ga >= tonumber(ARGV[3]) then return 'global_limit_reached' end
if redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[4]) == 0 then return 'existing' end
redis.call('INCR', KEYS[1])
redis.call('INCR', KEYS[2])
return 'admitted'")
[[ $(redis-cli -p $redis_port CONFIG GET appendfsync | tail -1) == always ]] || { echo "redis: appendfsync is not always" >&2; exit 1; }

# --- PostgreSQL ----------------------------------------------------------------
# PostgreSQL refuses to run as root: its directories belong to `postgres`.
mkdir -p "$work/pg" "$work/pg-socket"
chown postgres "$work/pg" "$work/pg-socket"
chmod 700 "$work/pg"
# Unix socket only, peer authentication: no other local user gets in.
runuser -u postgres -- "$pgbin/initdb" -D "$work/pg" --auth-local=peer --auth-host=reject \
  -U postgres >"$work/initdb.log" 2>&1 ||
  { cat "$work/initdb.log" >&2; exit 1; }
cat >>"$work/pg/postgresql.conf" <<EOF
listen_addresses = ''
port = $pg_port
unix_socket_directories = '$work/pg-socket'
max_connections = 100
fsync = on
synchronous_commit = on
full_page_writes = on
EOF
runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg-socket/server.log" -w start >/dev/null
psql_() { runuser -u postgres -- psql -h "$work/pg-socket" -p $pg_port -U postgres -qAt -v ON_ERROR_STOP=1 "$@"; }
psql_ <<'EOF'
CREATE TABLE settings (id int PRIMARY KEY, global_limit bigint NOT NULL, global_active bigint NOT NULL);
CREATE TABLE clients (id text PRIMARY KEY, max_concurrent bigint NOT NULL, active bigint NOT NULL);
CREATE TABLE calls (id bigserial PRIMARY KEY, client_id text NOT NULL REFERENCES clients (id),
                    external_id text NOT NULL, admitted_at timestamptz NOT NULL DEFAULT now(),
                    UNIQUE (client_id, external_id));
INSERT INTO settings VALUES (1, 100000000, 0);
INSERT INTO clients VALUES ('bench', 100000000, 0);
-- Guarded UPDATEs: a row changes only while under its limit; otherwise the
-- admission is refused and the transaction leaves nothing behind.
CREATE FUNCTION admit(p_client text, p_external text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  UPDATE clients SET active = active + 1 WHERE id = p_client AND active < max_concurrent;
  IF NOT FOUND THEN RETURN 'client_limit_reached'; END IF;
  UPDATE settings SET global_active = global_active + 1 WHERE id = 1 AND global_active < global_limit;
  IF NOT FOUND THEN RAISE EXCEPTION 'global_limit_reached'; END IF;
  INSERT INTO calls (client_id, external_id) VALUES (p_client, p_external);
  RETURN 'admitted';
END $$;
EOF
[[ $(psql_ -c "SHOW synchronous_commit") == on && $(psql_ -c "SHOW fsync") == on ]] ||
  { echo "postgresql: not durable" >&2; exit 1; }
cat >"$work/admit.pgbench" <<'EOF'
\set ext random(1, 1000000000000)
SELECT admit('bench', :client_id || '-' || :ext);
EOF
chown postgres "$work/admit.pgbench"

# --- the cells -------------------------------------------------------------------
to_ms() {  # wrk latency ("850.00us", "5.12ms", "1.20s") to milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'
}
declare -A cell
add() { cell[$1]="${cell[$1]:-} $2"; }
median() {  # of an even count: the mean of the middle two
  tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) printf "%s", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
bad=0
cell_calltrack() {
  local c=$1 out
  out=$(wrk -t2 -c$c -d${duration}s --latency -s bench/wrk_admit.lua http://127.0.0.1:$ct_port)
  add ct$c "$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  add ctp99_$c "$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
  bad=$((bad + $(awk '/not_admitted/ {print $2}' <<<"$out")))
  out=$(wrk -t2 -c$c -d${duration}s http://127.0.0.1:$ct_port/healthz)
  add hz$c "$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
}
cell_redis() {
  local c=$1 out
  # redis-benchmark counts requests, not seconds: about DURATION_S at 40k/s.
  out=$(redis-benchmark -h 127.0.0.1 -p $redis_port -c $c --threads 2 -n $((duration * 40000)) \
    -r 2000000000 --csv EVALSHA "$sha" 3 ct:active:bench ct:active:global ct:calls:bench \
    call:__rand_int__ 100000000 100000000 1 2>/dev/null | tail -1)
  add rd$c "$(awk -F'"' '{print $4}' <<<"$out")"
  add rdp99_$c "$(awk -F'"' '{print $14}' <<<"$out")"
}
cell_postgres() {
  local c=$1 out
  out=$(cd "$work" && runuser -u postgres -- "$pgbin/pgbench" -h "$work/pg-socket" -p $pg_port \
    -U postgres -n -M prepared -c $c -j 2 -T "$duration" -f admit.pgbench postgres 2>&1) || true
  add pg$c "$(awk '/^tps =/ {printf "%.0f", $3; exit}' <<<"$out")"
  # Its checkpoint's writes must not fall into the next system's cell.
  psql_ -c CHECKPOINT >/dev/null
}
# Round-robin, the order rotating each round, so that no system always runs
# right after the same other one.
systems=(calltrack redis postgres)
for round in $(seq "$rounds"); do
  for c in 32 64; do
    for k in 0 1 2; do
      "cell_${systems[$(((round + k) % 3))]}" $c
    done
  done
done
fsync_after=$(fsync_us)

redis_admitted=$(redis-cli -p $redis_port GET ct:active:global)
pg_admitted=$(psql_ -c "SELECT global_active FROM settings")
ct_live=$(sqlite3 "file:$work/calltrack.db?mode=ro" "SELECT global_active FROM settings" 2>/dev/null || echo "?")

echo "## Peers: admissions per second, durable settings, median of $rounds rounds of ${duration} s"
echo
echo "fsync (4 KiB pwrite + fdatasync) median: ${fsync_before} µs before, ${fsync_after} µs after"
echo
echo "| connections | calltrack admissions/s | calltrack admit p99 | calltrack /healthz req/s | Redis script/s | Redis p99 | PostgreSQL tx/s | calltrack / Redis | calltrack / /healthz | calltrack / PostgreSQL |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in 32 64; do
  ct=$(median "${cell[ct$c]}") hz=$(median "${cell[hz$c]}") rd=$(median "${cell[rd$c]}") pg=$(median "${cell[pg$c]}")
  awk -v c=$c -v ct="$ct" -v p99="$(median "${cell[ctp99_$c]}")" -v hz="$hz" -v rd="$rd" \
      -v rp99="$(median "${cell[rdp99_$c]}")" -v pg="$pg" 'BEGIN {
    printf "| %d | %.0f | %s ms | %.0f | %.0f | %s ms | %.0f | %.2f | %.2f | %.1f |\n",
           c, ct, p99, hz, rd, rp99, pg, ct / rd, ct / hz, ct / pg }'
done
echo
echo "Admitted in total: calltrack $ct_live live calls, Redis $redis_admitted, PostgreSQL $pg_admitted; calltrack answers other than 201: $bad."
