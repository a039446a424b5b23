-- calltrack schema: the one source of truth. Compiled into the binary at build
-- time (db/storage/SchemaSql.cpp.in, filled with this file into the build
-- tree) and applied to a fresh database in one transaction. Upgrades of
-- existing databases are the numbered steps in db/storage/Migrations.cpp;
-- each step ends at the version below. Columns a step adds come last in
-- their table here, where ALTER TABLE puts them.
--
-- Conventions an operator can rely on in the sqlite3 shell:
--   * times are INTEGER milliseconds since the Unix epoch (UTC) in tables and
--     ISO-8601 text in the views (`*_at` columns);
--   * a call is live ("active") while ended_at IS NULL; its state is then one of
--     reserved, initiated, ringing, in_progress;
--   * every limit is guarded by the database itself (see "Limit guard" below),
--     so a hand-written INSERT cannot overbook a client or the system.
--
-- Why CHECKs say (x = 'a' OR x = 'b') and not x IN ('a', 'b'): SQLite 3.40
-- builds a temporary index for a constant IN list each time a CHECK runs;
-- on the admission path that was the single largest cost (measured with
-- callgrind: 9 temporary b-trees per admit+end pair).
--
-- schema-version: 7

PRAGMA user_version = 7;

-- One row: system-wide settings and O(1) counters.
CREATE TABLE settings (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    global_limit  INTEGER NOT NULL DEFAULT 100 CHECK (global_limit >= 0),
    -- live slot-holding calls of all clients; maintained by triggers on calls
    global_active INTEGER NOT NULL DEFAULT 0 CHECK (global_active >= 0),
    updated_at    INTEGER NOT NULL DEFAULT 0,
    -- v4: ended calls and their events, and bot events, older than this are
    -- purged by the lease holder (30 days by default); the append-only
    -- guards below allow exactly that purge
    retention_hours INTEGER NOT NULL DEFAULT 720 CHECK (retention_hours BETWEEN 1 AND 876000)
) STRICT;
INSERT INTO settings (id) VALUES (1);

-- v4: present (one row) only inside `calltrack check --repair`'s transaction,
-- which recomputes every counter from the live calls; the counter guards
-- below let counters jump only then.
CREATE TABLE counter_repairs (
    id INTEGER PRIMARY KEY CHECK (id = 1)
) STRICT;

CREATE TABLE clients (
    id               TEXT PRIMARY KEY
                     CHECK (length(id) BETWEEN 1 AND 64 AND id NOT GLOB '*[^A-Za-z0-9._:-]*'),
    name             TEXT NOT NULL CHECK (length(name) <= 200),
    max_concurrent   INTEGER NOT NULL CHECK (max_concurrent >= 0),
    enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- enforce: refuse over the limit. observe: admit everything, but a call
    -- that enforce would have refused holds no slot and is flagged (would_refuse)
    mode             TEXT NOT NULL DEFAULT 'enforce' CHECK ((mode = 'enforce' OR mode = 'observe')),
    -- a call not yet answered expires this long after its last event
    ring_timeout_s   INTEGER NOT NULL DEFAULT 60 CHECK (ring_timeout_s > 0),
    -- an answered call expires this long after its last event or heartbeat
    max_call_s       INTEGER NOT NULL DEFAULT 14400 CHECK (max_call_s > 0),
    -- live slot-holding calls; maintained by triggers on calls
    active           INTEGER NOT NULL DEFAULT 0 CHECK (active >= 0),
    refused_total    INTEGER NOT NULL DEFAULT 0,  -- admissions refused (kept by the engine)
    flagged_total    INTEGER NOT NULL DEFAULT 0,  -- observe mode: admissions enforce would have refused
    rejected_webhooks_total INTEGER NOT NULL DEFAULT 0,  -- v1-v2 only: rejections are counted in memory since v3 (never written)
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    -- v2 (voice bots). bots_required: every admitted call of this client
    -- takes a ready bot. warm_*: the warm-pool policy the bot scheduler keeps
    -- for this client (docs/ARCHITECTURE.md, "Bot warm-up").
    bots_required    INTEGER NOT NULL DEFAULT 0 CHECK (bots_required = 0 OR bots_required = 1),
    warm_min         INTEGER NOT NULL DEFAULT 0 CHECK (warm_min >= 0),       -- always keep ready
    warm_headroom    INTEGER NOT NULL DEFAULT 1 CHECK (warm_headroom >= 0),  -- ready bots above demand
    warm_max         INTEGER CHECK (warm_max IS NULL OR warm_max >= warm_min), -- NULL: no cap
    warm_ttl_s       INTEGER NOT NULL DEFAULT 300 CHECK (warm_ttl_s > 0),    -- idle ready bot goes cold after
    warm_lead_time_s INTEGER NOT NULL DEFAULT 120 CHECK (warm_lead_time_s >= 0), -- ready before a scheduled start
    -- v5: when the database cannot take an admission in time: refuse (503),
    -- or admit up to this process's share of the free slots last seen,
    -- spooled and written later (docs/RELIABILITY.md, "admit_within_share")
    on_database_unavailable TEXT NOT NULL DEFAULT 'refuse'
                     CHECK ((on_database_unavailable = 'refuse' OR on_database_unavailable = 'admit_within_share'))
) STRICT;

-- Provider credentials, apart from clients so that `select * from clients`
-- shows no secrets. The auth token and signing secret must be stored as
-- they are (HMAC needs the key): protect the database file like a key file.
--
-- v3: a Twilio account belongs to twilio_accounts, which holds its one auth
-- token (signatures are verified with it); several clients may name the same
-- account (a platform's master account serving many customers). The token is
-- also copied into client_credentials.twilio_auth_token for v2 binaries still
-- running against an upgraded file; calltrack writes both together.
CREATE TABLE client_credentials (
    client_id          TEXT PRIMARY KEY REFERENCES clients (id),
    twilio_account_sid TEXT CHECK (twilio_account_sid IS NULL OR length(twilio_account_sid) BETWEEN 1 AND 64),
    twilio_auth_token  TEXT CHECK (twilio_auth_token IS NULL OR length(twilio_auth_token) BETWEEN 1 AND 256),
    webhook_secret     TEXT CHECK (webhook_secret IS NULL OR length(webhook_secret) BETWEEN 7 AND 256),
    updated_at         INTEGER NOT NULL,
    -- v3: where the inbound gate sends an admitted call (TwiML <Redirect>)
    twilio_voice_url   TEXT CHECK (twilio_voice_url IS NULL OR (length(twilio_voice_url) BETWEEN 8 AND 2048
                                   AND (twilio_voice_url GLOB 'http://?*' OR twilio_voice_url GLOB 'https://?*'))),
    CHECK ((twilio_account_sid IS NULL) = (twilio_auth_token IS NULL))
) STRICT;
CREATE INDEX client_credentials_by_twilio_account ON client_credentials (twilio_account_sid)
    WHERE twilio_account_sid IS NOT NULL;

CREATE TABLE twilio_accounts (
    account_sid TEXT PRIMARY KEY CHECK (length(account_sid) BETWEEN 1 AND 64),
    auth_token  TEXT NOT NULL CHECK (length(auth_token) BETWEEN 1 AND 256),
    updated_at  INTEGER NOT NULL
) STRICT;

-- Bearer tokens for the API. Only a SHA-256 of each token is stored (tokens
-- are 160 random bits, so a fast hash is enough); the token itself is shown
-- once, when created. client_id NULL = admin token.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY CHECK (id GLOB 'tok_*'),
    token_sha256 TEXT NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
    client_id    TEXT REFERENCES clients (id),
    label        TEXT CHECK (label IS NULL OR length(label) <= 200),
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
) STRICT;

-- Idempotency-Key of POST /v1/calls: the first response per (scope, key) is
-- stored and replayed to retries. status NULL = the first request is still
-- in flight. Rows are purged 24 h after creation (by the reaper's lease
-- holder); an in-flight row older than 60 s (its process died) is taken over.
CREATE TABLE idempotency_keys (
    scope          TEXT NOT NULL,  -- "admin" or the client id of the token
    key            TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_sha256 TEXT NOT NULL,
    status         INTEGER,
    response       TEXT,
    created_at     INTEGER NOT NULL,
    completed_at   INTEGER,
    PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

CREATE TABLE calls (
    id            INTEGER PRIMARY KEY,
    client_id     TEXT NOT NULL REFERENCES clients (id),
    external_id   TEXT NOT NULL CHECK (length(external_id) BETWEEN 1 AND 128),
    provider      TEXT NOT NULL DEFAULT 'api' CHECK (length(provider) BETWEEN 1 AND 32),
    state         TEXT NOT NULL CHECK ((state = 'reserved' OR state = 'initiated' OR state = 'ringing' OR state = 'in_progress' OR state = 'completed' OR state = 'busy' OR state = 'failed' OR state = 'no_answer' OR state = 'canceled' OR state = 'timed_out')),
    -- Slot tokens (see "Limit guard"). NULL for an observe-mode call that holds
    -- no slot; both set or both NULL.
    client_slot   INTEGER CHECK (client_slot >= 1),
    global_slot   INTEGER CHECK (global_slot >= 1),
    -- observe mode: why enforce mode would have refused this call
    would_refuse  TEXT CHECK ((would_refuse = 'client_disabled' OR would_refuse = 'client_limit_reached' OR would_refuse = 'global_limit_reached')),
    last_sequence INTEGER,          -- highest provider sequence number seen
    created_at    INTEGER NOT NULL,
    -- NULL while the call is known only from a provider's terminal event that
    -- arrived before any admission; such a call is ended and never holds a slot
    admitted_at   INTEGER,
    updated_at    INTEGER NOT NULL,
    answered_at   INTEGER,
    ended_at      INTEGER,
    expires_at    INTEGER,          -- the reaper ends the call as timed_out after this
    end_reason    TEXT,
    version       INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    metadata      TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
    -- v2: the bot carrying the call (clients with bots_required). The bot
    -- gets its capacity back, by trigger, exactly once: when the call ends.
    bot_id        TEXT,
    -- v3: the provider's id of the call (a Twilio CallSid), unique among all
    -- calls and set at most once: at admission (inbound gate), by PATCH, or by
    -- the first signed status callback that names the call (?call_id=).
    provider_call_id TEXT CHECK (provider_call_id IS NULL OR (length(provider_call_id) BETWEEN 1 AND 64
                                 AND provider_call_id NOT GLOB '*[^A-Za-z0-9._:-]*')),
    -- v4: the bot's capacity slot the call holds (1..capacity, unique among
    -- the bot's live calls: calls_live_bot_slot), so that no writer can put
    -- more live calls on a bot than its capacity, whatever its counter says
    bot_slot      INTEGER CHECK (bot_slot IS NULL OR bot_slot >= 1),
    -- v4: heartbeats are counted on the call (the last one's time), not
    -- recorded as events: a long call sends thousands
    heartbeats    INTEGER NOT NULL DEFAULT 0 CHECK (heartbeats >= 0),
    last_heartbeat_at INTEGER,
    -- v5: admitted by a process while the database was unavailable
    -- (admit_within_share) and written when it came back. If its slot was
    -- gone by then it holds none and is flagged: would_refuse says why
    -- (counted in the client's flagged_total), never merged silently.
    admitted_offline INTEGER NOT NULL DEFAULT 0 CHECK ((admitted_offline = 0 OR admitted_offline = 1)),
    UNIQUE (client_id, external_id),
    CHECK ((client_slot IS NULL) = (global_slot IS NULL)),
    CHECK ((ended_at IS NULL) = ((state = 'reserved' OR state = 'initiated' OR state = 'ringing' OR state = 'in_progress'))),
    CHECK (ended_at IS NOT NULL OR expires_at IS NOT NULL),
    CHECK (ended_at IS NULL OR expires_at IS NULL),
    CHECK (admitted_at IS NOT NULL OR ended_at IS NOT NULL)
) STRICT;

-- Limit guard, part 1: a live call's slot numbers are unique among live calls.
-- Part 2 (trigger calls_insert_guard): a new live call's slot numbers are
-- within [1, limit] at the time it is inserted. Together: no commit can ever
-- hold more live slot-holding calls than a limit, whoever the writer is.
-- Calls admitted before a limit was lowered keep their (now out-of-range)
-- slots until they end; LIFECYCLE.md invariants 1 and 2 allow exactly that.
CREATE UNIQUE INDEX calls_live_client_slot ON calls (client_id, client_slot) WHERE ended_at IS NULL;
CREATE UNIQUE INDEX calls_live_global_slot ON calls (global_slot) WHERE ended_at IS NULL;
-- The reaper's index: only live calls are in it.
CREATE INDEX calls_live_expiry ON calls (expires_at) WHERE ended_at IS NULL;
-- Newest-first listings of ended calls per client.
CREATE INDEX calls_client_recent ON calls (client_id, id);
-- v3: status callbacks find their call by the provider's id.
CREATE UNIQUE INDEX calls_by_provider_call_id ON calls (provider_call_id) WHERE provider_call_id IS NOT NULL;
-- v4: bot capacity guard, as slots guard limits: a live call's bot slot is
-- unique among the bot's live calls (and within its capacity: the insert guard).
CREATE UNIQUE INDEX calls_live_bot_slot ON calls (bot_id, bot_slot) WHERE ended_at IS NULL AND bot_id IS NOT NULL;

-- Free-slot hints so admission finds a slot number in O(log n). Maintained by
-- the triggers below; the unique indexes above, not these tables, are the
-- guarantee, so a wrong hint can cost a retry but never an overbooking.
CREATE TABLE free_client_slots (
    client_id TEXT NOT NULL REFERENCES clients (id),
    slot      INTEGER NOT NULL CHECK (slot >= 1),
    PRIMARY KEY (client_id, slot)
) STRICT, WITHOUT ROWID;

CREATE TABLE free_global_slots (
    slot INTEGER PRIMARY KEY CHECK (slot >= 1)
) STRICT;

-- Append-only history: every admission, refusal, received event (applied or
-- not, and why), heartbeat, end and timeout.
CREATE TABLE call_events (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    client_id       TEXT,           -- NULL only when the client is unknown
    call_id         INTEGER REFERENCES calls (id),
    external_id     TEXT,
    kind            TEXT NOT NULL CHECK ((kind = 'admit' OR kind = 'status' OR kind = 'heartbeat' OR kind = 'end' OR kind = 'timeout')),
    status          TEXT,           -- the status received or the state requested
    outcome         TEXT NOT NULL CHECK ((outcome = 'admitted' OR outcome = 'refused' OR outcome = 'applied' OR outcome = 'duplicate' OR outcome = 'out_of_order' OR outcome = 'after_end' OR outcome = 'unknown_call' OR outcome = 'rejected')),
    reason          TEXT,           -- refusal reason, end reason or why not applied
    from_state      TEXT,
    to_state        TEXT,
    sequence        INTEGER,        -- provider sequence number, if any
    occurred_at     INTEGER,        -- when the provider says it happened
    source          TEXT NOT NULL,  -- api, cli, reaper, twilio, ...
    idempotency_key TEXT            -- event id; unique per (client, source) when present
) STRICT;
-- v3: event ids are per tenant: one client's "evt-42" never makes another
-- client's "evt-42" a duplicate.
CREATE UNIQUE INDEX call_events_idempotency_per_client ON call_events (client_id, source, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- v4: a call's events, and duplicate detection by provider sequence number.
-- Every event is in it (v3 indexed only events with a sequence): deleting an
-- ended call (retention) makes SQLite look for events that still reference
-- it, which without this index would scan the whole table per call.
CREATE INDEX call_events_by_call ON call_events (call_id, sequence);
-- Events for calls not admitted yet (a terminal webhook that beat the admission).
CREATE INDEX call_events_orphans ON call_events (client_id, external_id) WHERE call_id IS NULL;
-- Refusals in a recent window (usage reports).
CREATE INDEX call_events_refusals ON call_events (at, client_id) WHERE outcome = 'refused';

-- v3: provider events that arrived before their call was admitted, or before
-- the provider's id was bound to it (a ringing callback that beats the
-- dialer's PATCH). Each is also recorded in call_events (unknown_call); it is
-- kept here until the call appears, then applied in sequence order and
-- deleted, in the transaction that admits or binds the call.
--   call_ref: the CallSid (Twilio) or the external id (other senders);
--   scope: who may claim it: a client id, or for Twilio the AccountSid
--   (several clients may share an account; the call decides which).
CREATE TABLE pending_events (
    id              INTEGER PRIMARY KEY,
    received_at     INTEGER NOT NULL,
    source          TEXT NOT NULL CHECK (length(source) BETWEEN 1 AND 32),
    client_id       TEXT,
    account_sid     TEXT,
    call_ref        TEXT NOT NULL CHECK (length(call_ref) BETWEEN 1 AND 128),
    status          TEXT NOT NULL CHECK ((status = 'initiated' OR status = 'ringing' OR status = 'in_progress' OR status = 'completed' OR status = 'busy' OR status = 'failed' OR status = 'no_answer' OR status = 'canceled')),
    sequence        INTEGER,
    occurred_at     INTEGER,
    idempotency_key TEXT,
    CHECK ((client_id IS NULL) <> (account_sid IS NULL))
) STRICT;
CREATE INDEX pending_events_by_ref ON pending_events (call_ref);
CREATE INDEX pending_events_age ON pending_events (received_at);

-- v5: the intake spool's ledger (db/spool/). A provider webhook or call
-- event that the database could not take in time is appended to the spool
-- file beside the database and answered 202; replaying it applies the event
-- and inserts its record key here in the same transaction, so a record
-- replayed twice (a crash between the commit and the spool's own bookkeeping)
-- is applied once. Rows are purged a week after they were applied.
CREATE TABLE spool_applied (
    key        TEXT PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 64),
    applied_at INTEGER NOT NULL,
    outcome    TEXT NOT NULL CHECK (length(outcome) BETWEEN 1 AND 200)
) STRICT, WITHOUT ROWID;
CREATE INDEX spool_applied_age ON spool_applied (applied_at);

-- v5: the calltrack serve processes on this database, each refreshing its
-- row every second. admit_within_share divides a client's free slots by the
-- number of live ones (heartbeat within the last 5 s).
CREATE TABLE processes (
    holder       TEXT PRIMARY KEY CHECK (length(holder) BETWEEN 1 AND 200),
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
) STRICT;

-- Singleton background jobs (reaper, later the bot scheduler): one holder at
-- a time; another process takes over once expires_at has passed.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;

-- v6: utilization history (db/history/, docs/MONITORING.md). The history
-- job's lease holder folds call_events into it: every event exactly once,
-- in the transaction that moves usage_cursor past it, so restarts and
-- leader changes neither skip nor double-count anything. Rows are per
-- minute (step_s 60), rolled up into hours (3600) after 7 days, dropped
-- after 400 days. client_id '*' is the whole system; a client with no live
-- call and no event in a bucket has no row there (all zero).
CREATE TABLE usage_history (
    step_s          INTEGER NOT NULL CHECK ((step_s = 60 OR step_s = 3600)),
    bucket_at       INTEGER NOT NULL,            -- start of the minute or hour
    client_id       TEXT NOT NULL CHECK (length(client_id) BETWEEN 1 AND 64),
    -- utilization samples taken in the bucket (every 10 s by default); a
    -- client's mean live calls = active_sum / the '*' row's samples
    samples         INTEGER NOT NULL DEFAULT 0 CHECK (samples >= 0),
    active_max      INTEGER NOT NULL DEFAULT 0 CHECK (active_max >= 0),
    active_sum      INTEGER NOT NULL DEFAULT 0 CHECK (active_sum >= 0),
    limit_seen      INTEGER,                     -- the highest limit seen at a sample
    admissions      INTEGER NOT NULL DEFAULT 0 CHECK (admissions >= 0),
    refused_client_limit INTEGER NOT NULL DEFAULT 0 CHECK (refused_client_limit >= 0),
    refused_global_limit INTEGER NOT NULL DEFAULT 0 CHECK (refused_global_limit >= 0),
    refused_disabled     INTEGER NOT NULL DEFAULT 0 CHECK (refused_disabled >= 0),
    refused_bot          INTEGER NOT NULL DEFAULT 0 CHECK (refused_bot >= 0),
    refused_other        INTEGER NOT NULL DEFAULT 0 CHECK (refused_other >= 0),  -- unknown_client
    ended_completed INTEGER NOT NULL DEFAULT 0 CHECK (ended_completed >= 0),
    ended_busy      INTEGER NOT NULL DEFAULT 0 CHECK (ended_busy >= 0),
    ended_failed    INTEGER NOT NULL DEFAULT 0 CHECK (ended_failed >= 0),
    ended_no_answer INTEGER NOT NULL DEFAULT 0 CHECK (ended_no_answer >= 0),
    ended_canceled  INTEGER NOT NULL DEFAULT 0 CHECK (ended_canceled >= 0),
    timeouts        INTEGER NOT NULL DEFAULT 0 CHECK (timeouts >= 0),  -- ended timed_out (the reaper)
    -- admission to end, summed over the calls that ended in the bucket
    holding_ms_sum  INTEGER NOT NULL DEFAULT 0 CHECK (holding_ms_sum >= 0),
    PRIMARY KEY (step_s, bucket_at, client_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX usage_history_by_client ON usage_history (client_id, bucket_at);

-- v6: every counter since the database was created, per client ('?' for
-- events naming no known client), folded in with usage_history. GET /metrics
-- reads them (plus the events past the cursor), so every process reports
-- the same counters, which never go down, not even when retention purges
-- the events they came from. counter: admitted, duplicate,
-- refused:<reason>, ended:<state>, holding_ms, duration_le:<seconds>,
-- event:<source>:<outcome>.
CREATE TABLE usage_totals (
    client_id TEXT NOT NULL CHECK (length(client_id) BETWEEN 1 AND 64),
    counter   TEXT NOT NULL CHECK (length(counter) BETWEEN 1 AND 64),
    value     INTEGER NOT NULL CHECK (value >= 0),
    PRIMARY KEY (client_id, counter)
) STRICT, WITHOUT ROWID;

-- v6: how far usage_history and usage_totals have read call_events.
CREATE TABLE usage_cursor (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id INTEGER NOT NULL DEFAULT 0 CHECK (last_event_id >= 0),
    sampled_at    INTEGER NOT NULL DEFAULT 0   -- the last utilization sample
) STRICT;
INSERT INTO usage_cursor (id) VALUES (1);

-- v7: alerting (db/alerts/, docs/ALERTING.md). Rules are evaluated every
-- second by the "alerts" lease holder; an alert is pending once its
-- condition holds, firing after for_s, and resolved only after its signal
-- stayed below clear_at for for_s (hysteresis). Each notification (firing,
-- resolved) is written to alert_outbox in the transaction that changes the
-- alert's state, then POSTed to every receiver until acknowledged (2xx) or
-- expired.
CREATE TABLE alert_receivers (
    id           TEXT PRIMARY KEY
                 CHECK (length(id) BETWEEN 1 AND 64 AND id NOT GLOB '*[^A-Za-z0-9._:-]*'),
    url          TEXT NOT NULL CHECK (length(url) BETWEEN 8 AND 2048
                                      AND (url GLOB 'http://?*' OR url GLOB 'https://?*')),
    format       TEXT NOT NULL CHECK ((format = 'alertmanager' OR format = 'standard-webhooks')),
    -- Standard Webhooks signing key ("whsec_<Base64>"); required for that format
    secret       TEXT CHECK (secret IS NULL OR (length(secret) BETWEEN 10 AND 256 AND secret GLOB 'whsec_*')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CHECK (format = 'alertmanager' OR secret IS NOT NULL)
) STRICT;

-- kind: client_utilization, global_utilization (live calls / limit),
-- refusal_rate (limit refusals / attempts over window_s), timeout_rate
-- (timeouts / ended calls over window_s), database_unavailable (1 while the
-- evaluating process cannot write), bot_unavailable (bot_unavailable
-- refusals over window_s). client_id NULL: every client (per-client kinds);
-- a rule naming a client replaces the NULL rules of its kind for it.
CREATE TABLE alert_rules (
    id          TEXT PRIMARY KEY
                CHECK (length(id) BETWEEN 1 AND 64 AND id NOT GLOB '*[^A-Za-z0-9._:-]*'),
    kind        TEXT NOT NULL CHECK ((kind = 'client_utilization' OR kind = 'global_utilization'
                                      OR kind = 'refusal_rate' OR kind = 'timeout_rate'
                                      OR kind = 'database_unavailable' OR kind = 'bot_unavailable')),
    client_id   TEXT REFERENCES clients (id),
    fire_at     REAL NOT NULL CHECK (fire_at > 0),
    clear_at    REAL NOT NULL CHECK (clear_at > 0 AND clear_at < fire_at),  -- rising signals
    for_s       INTEGER NOT NULL CHECK (for_s BETWEEN 0 AND 86400),
    window_s    INTEGER NOT NULL DEFAULT 300 CHECK (window_s BETWEEN 60 AND 86400),
    severity    TEXT NOT NULL DEFAULT 'warning'
                CHECK ((severity = 'info' OR severity = 'warning' OR severity = 'critical')),
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK ((enabled = 0 OR enabled = 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK (client_id IS NULL OR kind = 'client_utilization' OR kind = 'refusal_rate'
           OR kind = 'timeout_rate' OR kind = 'bot_unavailable')
) STRICT;
INSERT INTO alert_rules (id, kind, fire_at, clear_at, for_s, window_s, severity, created_at, updated_at) VALUES
    ('default-client-utilization', 'client_utilization', 0.8, 0.6, 60, 300, 'warning', 0, 0),
    ('default-global-utilization', 'global_utilization', 0.8, 0.6, 60, 300, 'warning', 0, 0),
    ('default-refusal-rate', 'refusal_rate', 0.05, 0.02, 300, 300, 'warning', 0, 0),
    ('default-timeout-rate', 'timeout_rate', 0.1, 0.05, 600, 600, 'warning', 0, 0),
    ('default-database-unavailable', 'database_unavailable', 1, 0.5, 10, 300, 'critical', 0, 0),
    ('default-bot-unavailable', 'bot_unavailable', 1, 0.5, 120, 300, 'warning', 0, 0);

-- One row per alert (rule and client): its state and the times of its
-- current or last episode. fingerprint = the first 16 hex digits of
-- sha256("<rule id>|<client id or *>"), stable across restarts.
CREATE TABLE alerts (
    fingerprint TEXT PRIMARY KEY CHECK (length(fingerprint) = 16),
    rule_id     TEXT NOT NULL,
    client_id   TEXT,
    state       TEXT NOT NULL CHECK ((state = 'inactive' OR state = 'pending' OR state = 'firing'
                                      OR state = 'resolved')),
    value       REAL,
    pending_at  INTEGER,  -- the condition holds since (pending)
    starts_at   INTEGER,  -- firing since (the episode's start)
    clear_since INTEGER,  -- while firing: below clear_at since
    ends_at     INTEGER,  -- resolved at
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE alert_history (
    id          INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    at          INTEGER NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    value       REAL
) STRICT;
CREATE INDEX alert_history_by_alert ON alert_history (fingerprint, id);

-- Notifications waiting for (or done with) delivery. notification_id =
-- fingerprint + state + start time: the same for every retry, so a
-- receiver can de-duplicate.
CREATE TABLE alert_outbox (
    id              INTEGER PRIMARY KEY,
    notification_id TEXT NOT NULL CHECK (length(notification_id) BETWEEN 1 AND 100),
    receiver_id     TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK ((status = 'firing' OR status = 'resolved')),
    -- the alert as it was at the state change (an Alertmanager alert object)
    alert           TEXT NOT NULL CHECK (json_valid(alert)),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER,
    gave_up_at      INTEGER,
    UNIQUE (receiver_id, notification_id)
) STRICT;
CREATE INDEX alert_outbox_due ON alert_outbox (next_attempt_at) WHERE delivered_at IS NULL AND gave_up_at IS NULL;

-- ------------------------------------------------------------- voice bots
-- A bot is a scale-to-zero voice-bot container: it must be warmed (an HTTP
-- request to warmup_url) before it can take calls, and a warm bot left idle
-- for its warm TTL is assumed to have scaled back to zero.
--
-- States (each change is recorded in bot_events by trigger, whoever writes):
--   cold    -> warming  the scheduler claimed it and sent a warm-up request
--   warming -> ready    the warm-up answered 2xx
--   warming -> failed   it failed or timed out: retried after retry_at (back-off)
--   warming -> cold     no result by warming_until (the scheduler died)
--   ready   -> busy     a call took it (admission, same transaction as the slot)
--   busy    -> ready    its last call ended (capacity comes back by trigger)
--   ready   -> cold     idle past idle_until (warm TTL), or above warm_max
-- A bot never carries more live calls than its capacity: each holds one of its
-- slots 1..capacity (calls.bot_slot, unique among its live calls; v4). The
-- CHECK on active_calls below keeps the counter honest too.
CREATE TABLE bots (
    id                TEXT PRIMARY KEY
                      CHECK (length(id) BETWEEN 1 AND 64 AND id NOT GLOB '*[^A-Za-z0-9._:-]*'),
    client_id         TEXT REFERENCES clients (id),  -- NULL: shared by all clients
    warmup_url        TEXT NOT NULL CHECK (length(warmup_url) BETWEEN 8 AND 2048
                                           AND (warmup_url GLOB 'http://?*' OR warmup_url GLOB 'https://?*')),
    capacity          INTEGER NOT NULL DEFAULT 1 CHECK (capacity BETWEEN 1 AND 10000),
    warmup_timeout_ms INTEGER NOT NULL DEFAULT 10000 CHECK (warmup_timeout_ms BETWEEN 100 AND 600000),
    state             TEXT NOT NULL DEFAULT 'cold'
                      CHECK ((state = 'cold' OR state = 'warming' OR state = 'ready' OR state = 'busy' OR state = 'failed')),
    active_calls      INTEGER NOT NULL DEFAULT 0 CHECK (active_calls >= 0 AND active_calls <= capacity),
    -- whose warm pool the bot counts toward: its owner, or for a shared bot
    -- the client it was warmed for (NULL while a shared bot is cold or failed)
    pool_client_id    TEXT,
    state_reason      TEXT,           -- why it is in its state (copied into bot_events)
    attempt_id        TEXT,           -- correlation id of the last warm-up sent
    state_changed_at  INTEGER NOT NULL,
    warming_until     INTEGER,        -- warming: back to cold after this if no result came
    idle_until        INTEGER,        -- ready: cold after this (warm TTL since it became idle)
    retry_at          INTEGER,        -- failed: not warmed again before this (back-off)
    failures          INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),  -- consecutive failed warm-ups
    last_warmup_ms    INTEGER,        -- how long the last successful warm-up took
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    CHECK ((state = 'busy') = (active_calls > 0)),
    CHECK ((state = 'warming') = (warming_until IS NOT NULL)),
    CHECK ((state = 'ready') = (idle_until IS NOT NULL)),
    CHECK ((state = 'failed') = (retry_at IS NOT NULL)),
    CHECK (client_id IS NULL OR pool_client_id = client_id)
) STRICT;
-- Indexed by owner only, not by state: a call taking or freeing a bot changes
-- its state, and every index holding the state would be one more page
-- written per admission. A fleet's bots are few enough (hundreds) for the
-- scheduler's per-pool counts to scan them.
CREATE INDEX bots_by_client ON bots (client_id);

-- Append-only history of bot state changes (written by the triggers below).
CREATE TABLE bot_events (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    bot_id       TEXT NOT NULL,
    from_state   TEXT,            -- NULL: the bot was created
    to_state     TEXT NOT NULL,   -- a state, or 'deleted'
    reason       TEXT,
    attempt_id   TEXT,            -- the warm-up's correlation id, when one is involved
    active_calls INTEGER NOT NULL
) STRICT;
-- No index by bot: two rows per call on a bot are written on the admission
-- path; a bot's history (`WHERE bot_id = ...`) is an operator's scan.

-- Expected demand: the scheduler has bots ready lead_time before starts_at.
CREATE TABLE demand_schedules (
    id                   INTEGER PRIMARY KEY,
    client_id            TEXT NOT NULL REFERENCES clients (id),
    starts_at            INTEGER NOT NULL,
    ends_at              INTEGER NOT NULL CHECK (ends_at > starts_at),
    expected_concurrency INTEGER NOT NULL CHECK (expected_concurrency BETWEEN 1 AND 1000000),
    created_at           INTEGER NOT NULL
) STRICT;
CREATE INDEX demand_schedules_by_client ON demand_schedules (client_id, ends_at);

-- ---------------------------------------------------------------- triggers

-- One BEFORE INSERT trigger (one sub-program frame on the admission path)
-- guards every insert:
--  * INSERT OR REPLACE must never delete a call: REPLACE deletes the
--    conflicting row without firing DELETE triggers (unless the connection
--    enabled recursive_triggers), which would drop a live call and leave the
--    counters wrong. So a conflict on id, on (client_id, external_id), on
--    provider_call_id or on a live slot is refused here, before REPLACE can act;
--  * a live call must belong to a known client (foreign keys are off in a
--    plain sqlite3 shell, so the trigger checks it itself), hold slots within
--    the limits in force, not be for a disabled client, and hold a slot unless
--    its client is in observe mode;
--  * a bot given to a live call must be ready or busy, this client's or
--    shared, and warm (not past its TTL); a live call of an enforce-mode
--    bots_required client must hold one; v4: the call holds one of the
--    bot's capacity slots, free among its live calls (calls_live_bot_slot).
CREATE TRIGGER calls_insert_guard BEFORE INSERT ON calls
BEGIN
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM calls c WHERE c.id = NEW.id) THEN
            RAISE(ABORT, 'calltrack: a call with this id exists')
        WHEN EXISTS (SELECT 1 FROM calls c WHERE c.client_id = NEW.client_id AND c.external_id = NEW.external_id) THEN
            RAISE(ABORT, 'calltrack: this client already has a call with this external_id')
        WHEN NEW.provider_call_id IS NOT NULL
             AND EXISTS (SELECT 1 FROM calls c WHERE c.provider_call_id = NEW.provider_call_id) THEN
            RAISE(ABORT, 'calltrack: another call has this provider_call_id')
        WHEN NEW.ended_at IS NOT NULL THEN NULL
        WHEN s.id IS NULL THEN
            RAISE(ABORT, 'calltrack: the settings row is missing')
        WHEN k.id IS NULL THEN
            RAISE(ABORT, 'calltrack: unknown client')
        WHEN NEW.client_slot > k.max_concurrent THEN
            RAISE(ABORT, 'calltrack: client_limit_reached: client_slot is above the client''s max_concurrent')
        WHEN NEW.global_slot > s.global_limit THEN
            RAISE(ABORT, 'calltrack: global_limit_reached: global_slot is above settings.global_limit')
        WHEN NEW.client_slot IS NOT NULL AND k.enabled = 0 THEN
            RAISE(ABORT, 'calltrack: client_disabled: a disabled client cannot take a slot')
        WHEN NEW.client_slot IS NULL AND k.mode <> 'observe' AND NEW.admitted_offline = 0 THEN
            RAISE(ABORT, 'calltrack: a live call of an enforce-mode client must hold a slot')
        WHEN EXISTS (SELECT 1 FROM calls c WHERE c.client_id = NEW.client_id AND c.client_slot = NEW.client_slot
                     AND c.ended_at IS NULL) THEN
            RAISE(ABORT, 'calltrack: client slot is held by a live call')
        WHEN EXISTS (SELECT 1 FROM calls c WHERE c.global_slot = NEW.global_slot AND c.ended_at IS NULL) THEN
            RAISE(ABORT, 'calltrack: global slot is held by a live call')
        WHEN NEW.bot_id IS NULL THEN
            CASE WHEN NEW.bot_slot IS NOT NULL THEN
                RAISE(ABORT, 'calltrack: a bot slot needs a bot')
            WHEN k.bots_required = 1 AND k.mode = 'enforce' THEN
                RAISE(ABORT, 'calltrack: bot_unavailable: a live call of a bots_required client must hold a bot')
            END
        WHEN NOT EXISTS (SELECT 1 FROM bots b WHERE b.id = NEW.bot_id
                           AND (b.client_id IS NULL OR b.client_id = NEW.client_id)
                           AND (b.state = 'busy' OR (b.state = 'ready' AND b.idle_until > NEW.updated_at))) THEN
            RAISE(ABORT, 'calltrack: bot_unavailable: the bot is not warm or not this client''s')
        WHEN NEW.bot_slot IS NULL OR NEW.bot_slot > (SELECT b.capacity FROM bots b WHERE b.id = NEW.bot_id) THEN
            RAISE(ABORT, 'calltrack: bot_unavailable: a live call on a bot holds one of its capacity slots (1..capacity)')
        WHEN EXISTS (SELECT 1 FROM calls c WHERE c.bot_id = NEW.bot_id AND c.bot_slot = NEW.bot_slot
                     AND c.ended_at IS NULL) THEN
            RAISE(ABORT, 'calltrack: bot_unavailable: the bot slot is held by a live call')
    END
    FROM (SELECT 1) LEFT JOIN settings s ON s.id = 1 LEFT JOIN clients k ON k.id = NEW.client_id;
END;

CREATE TRIGGER settings_no_delete BEFORE DELETE ON settings
BEGIN
    SELECT RAISE(ABORT, 'calltrack: the settings row cannot be deleted');
END;

CREATE TRIGGER clients_no_delete_with_live_calls BEFORE DELETE ON clients
WHEN EXISTS (SELECT 1 FROM calls c WHERE c.client_id = OLD.id AND c.ended_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: a client with live calls cannot be deleted');
END;

-- v4: a client is protected from shell edits as calls and bots are.
-- INSERT OR REPLACE onto an existing client would delete it without DELETE
-- triggers (past clients_no_delete_with_live_calls), resetting its counters
-- under its live calls; a new id would orphan its calls, bots, credentials
-- and tokens. Its counters move one step at a time, as calltrack's triggers
-- and engine move them: `UPDATE clients SET active = 0` under live calls
-- once made the release trigger's CHECK fail and wedged the reaper. Only
-- `calltrack check --repair` (a counter_repairs row in its transaction)
-- sets them to what the live calls say.
CREATE TRIGGER clients_insert_guard BEFORE INSERT ON clients
WHEN EXISTS (SELECT 1 FROM clients k WHERE k.id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: a client with this id exists; UPDATE it instead');
END;

CREATE TRIGGER clients_id_immutable BEFORE UPDATE OF id ON clients
WHEN NEW.id IS NOT OLD.id
BEGIN
    SELECT RAISE(ABORT, 'calltrack: a client''s id never changes (its calls, bots and tokens name it)');
END;

CREATE TRIGGER clients_counters_step BEFORE UPDATE OF active, refused_total, flagged_total ON clients
WHEN (NEW.active - OLD.active NOT BETWEEN -1 AND 1
      OR NEW.refused_total - OLD.refused_total NOT BETWEEN 0 AND 1
      OR NEW.flagged_total - OLD.flagged_total NOT BETWEEN 0 AND 1)
     AND NOT EXISTS (SELECT 1 FROM counter_repairs)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: client counters are kept by calltrack (one step at a time); `calltrack check --repair` recomputes them');
END;

-- INSERT OR REPLACE INTO settings would replace the one row with defaults
-- (global_active 0 under live calls).
CREATE TRIGGER settings_insert_guard BEFORE INSERT ON settings
WHEN EXISTS (SELECT 1 FROM settings s WHERE s.id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: the settings row exists; UPDATE it instead');
END;

CREATE TRIGGER settings_counter_step BEFORE UPDATE OF global_active ON settings
WHEN NEW.global_active - OLD.global_active NOT BETWEEN -1 AND 1
     AND NOT EXISTS (SELECT 1 FROM counter_repairs)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: settings.global_active is kept by calltrack (one step at a time); `calltrack check --repair` recomputes it');
END;

CREATE TRIGGER bots_counter_step BEFORE UPDATE OF active_calls ON bots
WHEN NEW.active_calls - OLD.active_calls NOT BETWEEN -1 AND 1
     AND NOT EXISTS (SELECT 1 FROM counter_repairs)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: bots.active_calls is kept by calltrack (one step at a time); `calltrack check --repair` recomputes it');
END;

-- v4 retention: an ended call may be deleted once it ended, and was last
-- touched, more than settings.retention_hours before the newest call was
-- created (the database's own sense of "now": the engine's clock is not
-- the shell's). Its events go first (call_events_by_call makes the
-- foreign-key check an index probe).
CREATE TRIGGER calls_no_delete_recent BEFORE DELETE ON calls
WHEN OLD.ended_at IS NOT NULL
     AND max(OLD.ended_at, OLD.updated_at) >=
         (SELECT c.created_at FROM calls c ORDER BY c.id DESC LIMIT 1)
         - 3600000 * (SELECT s.retention_hours FROM settings s WHERE s.id = 1)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: only calls ended longer than settings.retention_hours ago are purged');
END;

-- Identity is immutable. Including id matters: UPDATE OR REPLACE SET id = <a
-- live call's id> would otherwise delete that call without any DELETE trigger.
CREATE TRIGGER calls_identity_immutable BEFORE UPDATE OF id, client_id, client_slot, global_slot, external_id, bot_id, bot_slot ON calls
WHEN NEW.id IS NOT OLD.id OR NEW.client_id IS NOT OLD.client_id OR NEW.client_slot IS NOT OLD.client_slot
  OR NEW.global_slot IS NOT OLD.global_slot OR NEW.external_id IS NOT OLD.external_id
  OR NEW.bot_id IS NOT OLD.bot_id OR NEW.bot_slot IS NOT OLD.bot_slot
BEGIN
    SELECT RAISE(ABORT, 'calltrack: a call''s id, client, external id, slots and bot never change');
END;

-- v3: the provider's id is bound once and never moves to another call.
-- Checked here and not only by the unique index: UPDATE OR REPLACE onto
-- another call's provider_call_id would delete that call.
CREATE TRIGGER calls_provider_call_id_once BEFORE UPDATE OF provider_call_id ON calls
WHEN NEW.provider_call_id IS NOT OLD.provider_call_id AND (OLD.provider_call_id IS NOT NULL OR
     EXISTS (SELECT 1 FROM calls c WHERE c.provider_call_id = NEW.provider_call_id AND c.id <> OLD.id))
BEGIN
    SELECT RAISE(ABORT, 'calltrack: a call''s provider_call_id is set at most once and belongs to one call');
END;

-- Forward only: reserved < initiated < ringing < in_progress < terminal, and a
-- terminal state is final (LIFECYCLE.md invariant 4).
CREATE TRIGGER calls_forward_only BEFORE UPDATE OF state ON calls
WHEN NEW.state IS NOT OLD.state AND (
    OLD.ended_at IS NOT NULL OR
    (CASE NEW.state WHEN 'reserved' THEN 0 WHEN 'initiated' THEN 1 WHEN 'ringing' THEN 2
                    WHEN 'in_progress' THEN 3 ELSE 4 END) <
    (CASE OLD.state WHEN 'reserved' THEN 0 WHEN 'initiated' THEN 1 WHEN 'ringing' THEN 2
                    WHEN 'in_progress' THEN 3 ELSE 4 END))
BEGIN
    SELECT RAISE(ABORT, 'calltrack: call state moves forward only and a terminal state is final');
END;

CREATE TRIGGER calls_no_delete_live BEFORE DELETE ON calls
WHEN OLD.ended_at IS NULL
BEGIN
    SELECT RAISE(ABORT, 'calltrack: a live call cannot be deleted; end it first');
END;

-- Slot taken: count it and drop the free-slot hints. One trigger with
-- conditional statements rather than several: each trigger firing costs a
-- sub-program frame on the admission hot path.
CREATE TRIGGER calls_admitted AFTER INSERT ON calls
BEGIN
    UPDATE clients
       SET active = active + (NEW.ended_at IS NULL AND NEW.client_slot IS NOT NULL),
           flagged_total = flagged_total + (NEW.would_refuse IS NOT NULL)
     WHERE id = NEW.client_id;
    UPDATE settings SET global_active = global_active + 1
     WHERE id = 1 AND NEW.ended_at IS NULL AND NEW.client_slot IS NOT NULL;
    DELETE FROM free_client_slots WHERE client_id = NEW.client_id AND slot = NEW.client_slot;
    DELETE FROM free_global_slots WHERE slot = NEW.global_slot;
END;

-- Slot released: runs exactly once per call, because the only way out of a
-- live state is into a terminal one, and terminal states are final. v4: a
-- counter already at 0 (a shell edit) stays 0 rather than failing its CHECK,
-- so a call can always end; `calltrack check` reports the wrong counter.
CREATE TRIGGER calls_slot_released AFTER UPDATE OF ended_at ON calls
WHEN OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL AND OLD.client_slot IS NOT NULL
BEGIN
    UPDATE clients SET active = max(active - 1, 0) WHERE id = OLD.client_id;
    UPDATE settings SET global_active = max(global_active - 1, 0) WHERE id = 1;
    INSERT OR IGNORE INTO free_client_slots (client_id, slot) VALUES (OLD.client_id, OLD.client_slot);
    INSERT OR IGNORE INTO free_global_slots (slot) VALUES (OLD.global_slot);
END;

-- A call that takes a bot makes it busy and counts it (capacity: the bots
-- CHECK refuses the commit if it would go over).
CREATE TRIGGER calls_bot_taken AFTER INSERT ON calls
WHEN NEW.bot_id IS NOT NULL AND NEW.ended_at IS NULL
BEGIN
    UPDATE bots
       SET active_calls = active_calls + 1,
           state = 'busy',
           idle_until = NULL,
           pool_client_id = CASE WHEN active_calls = 0 AND client_id IS NULL THEN NEW.client_id
                                 ELSE pool_client_id END,
           state_reason = CASE WHEN state = 'busy' THEN state_reason
                               ELSE 'took call ' || NEW.id END,
           state_changed_at = CASE WHEN state = 'busy' THEN state_changed_at ELSE NEW.updated_at END,
           updated_at = NEW.updated_at,
           version = version + 1
     WHERE id = NEW.bot_id;
END;

-- A call's bot gets its capacity back exactly once: the only way out of a
-- live state is into a terminal one, and terminal states are final. An idle
-- bot is ready again until the warm TTL of the pool it counts toward.
CREATE TRIGGER calls_bot_released AFTER UPDATE OF ended_at ON calls
WHEN OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL AND OLD.bot_id IS NOT NULL
BEGIN
    UPDATE bots
       SET active_calls = active_calls - 1,
           state = CASE WHEN active_calls = 1 THEN 'ready' ELSE 'busy' END,
           idle_until = CASE WHEN active_calls = 1 THEN NEW.ended_at + 1000 *
                            coalesce((SELECT k.warm_ttl_s FROM clients k
                                       WHERE k.id = coalesce(bots.pool_client_id, OLD.client_id)), 300)
                        END,
           state_reason = CASE WHEN active_calls = 1 THEN 'idle: call ' || OLD.id || ' ended'
                               ELSE state_reason END,
           state_changed_at = CASE WHEN active_calls = 1 THEN NEW.ended_at ELSE state_changed_at END,
           updated_at = NEW.ended_at,
           version = version + 1
     WHERE id = OLD.bot_id AND active_calls > 0;
END;

CREATE TRIGGER bots_created AFTER INSERT ON bots
BEGIN
    INSERT INTO bot_events (at, bot_id, from_state, to_state, reason, attempt_id, active_calls)
    VALUES (NEW.state_changed_at, NEW.id, NULL, NEW.state, NEW.state_reason, NEW.attempt_id,
            NEW.active_calls);
END;

CREATE TRIGGER bots_state_changed AFTER UPDATE OF state ON bots
WHEN NEW.state IS NOT OLD.state
BEGIN
    INSERT INTO bot_events (at, bot_id, from_state, to_state, reason, attempt_id, active_calls)
    VALUES (NEW.state_changed_at, NEW.id, OLD.state, NEW.state, NEW.state_reason, NEW.attempt_id,
            NEW.active_calls);
END;

CREATE TRIGGER bots_no_delete_busy BEFORE DELETE ON bots
WHEN OLD.active_calls > 0
BEGIN
    SELECT RAISE(ABORT, 'calltrack: bot_busy: a bot carrying calls cannot be deleted');
END;

-- REPLACE deletes the conflicting row without running DELETE triggers (unless
-- the connection enabled recursive_triggers): INSERT OR REPLACE, or UPDATE OR
-- REPLACE onto a bot's id, would remove a busy bot past bots_no_delete_busy,
-- record no 'deleted' event and leave its live calls on a fresh cold bot with
-- a zero counter. So an insert onto an existing id is refused here, and a
-- bot's id never changes (a renamed busy bot would stay busy for ever, its
-- calls naming a bot that is gone). Its owner stays while it carries calls:
-- they must remain calls of its client, as calls_insert_guard checked.
CREATE TRIGGER bots_insert_guard BEFORE INSERT ON bots
WHEN EXISTS (SELECT 1 FROM bots b WHERE b.id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: a bot with this id exists');
END;

CREATE TRIGGER bots_identity_immutable BEFORE UPDATE OF id, client_id ON bots
WHEN NEW.id IS NOT OLD.id OR (NEW.client_id IS NOT OLD.client_id AND OLD.active_calls > 0)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: a bot''s id never changes, nor its client while it carries calls');
END;

-- `at` is the bot's last update: calltrack touches it just before deleting
-- (the database has no injectable clock of its own).
CREATE TRIGGER bots_deleted AFTER DELETE ON bots
BEGIN
    INSERT INTO bot_events (at, bot_id, from_state, to_state, reason, attempt_id, active_calls)
    VALUES (OLD.updated_at, OLD.id, OLD.state, 'deleted', NULL, NULL, 0);
END;

CREATE TRIGGER bot_events_no_update BEFORE UPDATE ON bot_events
BEGIN
    SELECT RAISE(ABORT, 'calltrack: bot_events is append-only');
END;

CREATE TRIGGER bot_events_no_delete BEFORE DELETE ON bot_events
WHEN OLD.at >= (SELECT e.at FROM bot_events e ORDER BY e.id DESC LIMIT 1)
               - 3600000 * (SELECT s.retention_hours FROM settings s WHERE s.id = 1)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: bot_events is append-only; only rows older than settings.retention_hours are purged');
END;

-- INSERT OR REPLACE onto an existing id would overwrite a row (see above).
CREATE TRIGGER bot_events_no_replace BEFORE INSERT ON bot_events
WHEN EXISTS (SELECT 1 FROM bot_events e WHERE e.id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: bot_events is append-only');
END;

CREATE TRIGGER call_events_no_update BEFORE UPDATE ON call_events
BEGIN
    SELECT RAISE(ABORT, 'calltrack: call_events is append-only');
END;

CREATE TRIGGER call_events_no_delete BEFORE DELETE ON call_events
WHEN OLD.at >= (SELECT e.at FROM call_events e ORDER BY e.id DESC LIMIT 1)
               - 3600000 * (SELECT s.retention_hours FROM settings s WHERE s.id = 1)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: call_events is append-only; only rows older than settings.retention_hours are purged');
END;

-- ------------------------------------------------------------------- views
-- For operators: sqlite3 calltrack.db 'select * from <view>'

CREATE VIEW active_calls AS
SELECT c.id,
       c.client_id,
       c.external_id,
       c.state,
       c.provider,
       CASE WHEN c.client_slot IS NULL THEN 'no (observe: ' || c.would_refuse || ')' ELSE 'yes' END AS holds_slot,
       c.bot_id,
       strftime('%Y-%m-%dT%H:%M:%fZ', c.admitted_at / 1000.0, 'unixepoch') AS admitted_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', c.answered_at / 1000.0, 'unixepoch') AS answered_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', c.expires_at / 1000.0, 'unixepoch') AS expires_at,
       CAST((c.expires_at - (julianday('now') - 2440587.5) * 86400000.0) / 1000 AS INTEGER) AS expires_in_s
FROM calls c
WHERE c.ended_at IS NULL
ORDER BY c.id;

CREATE VIEW client_utilization AS
SELECT c.id AS client_id,
       c.name,
       c.mode,
       CASE c.enabled WHEN 1 THEN 'yes' ELSE 'no' END AS enabled,
       c.active,
       c.max_concurrent AS "limit",
       CASE WHEN c.max_concurrent = 0 THEN NULL
            ELSE round(100.0 * c.active / c.max_concurrent, 1) END AS percent,
       (SELECT count(*) FROM calls x
         WHERE x.client_id = c.id AND x.ended_at IS NULL AND x.client_slot IS NULL) AS unslotted_active,
       c.refused_total,
       c.flagged_total
FROM clients c
ORDER BY c.id;

CREATE VIEW global_utilization AS
SELECT s.global_active AS active,
       s.global_limit AS "limit",
       CASE WHEN s.global_limit = 0 THEN NULL
            ELSE round(100.0 * s.global_active / s.global_limit, 1) END AS percent,
       (SELECT count(*) FROM clients) AS clients
FROM settings s;

CREATE VIEW call_history AS
SELECT e.id,
       strftime('%Y-%m-%dT%H:%M:%fZ', e.at / 1000.0, 'unixepoch') AS at,
       e.client_id,
       e.call_id,
       e.external_id,
       e.kind,
       e.status,
       e.outcome,
       e.reason,
       e.from_state,
       e.to_state,
       e.sequence,
       e.source
FROM call_events e
ORDER BY e.id;

CREATE VIEW lease_holders AS
SELECT name,
       holder,
       strftime('%Y-%m-%dT%H:%M:%fZ', acquired_at / 1000.0, 'unixepoch') AS acquired_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', expires_at / 1000.0, 'unixepoch') AS expires_at
FROM leases;

CREATE VIEW bot_status AS
SELECT b.id,
       coalesce(b.client_id, '(shared)') AS client_id,
       b.state,
       b.active_calls,
       b.capacity,
       b.pool_client_id AS warm_for,
       b.state_reason,
       strftime('%Y-%m-%dT%H:%M:%fZ', b.state_changed_at / 1000.0, 'unixepoch') AS since,
       strftime('%Y-%m-%dT%H:%M:%fZ', b.idle_until / 1000.0, 'unixepoch') AS idle_until,
       strftime('%Y-%m-%dT%H:%M:%fZ', b.retry_at / 1000.0, 'unixepoch') AS retry_at,
       b.failures,
       b.last_warmup_ms,
       b.warmup_url
FROM bots b
ORDER BY b.id;

CREATE VIEW bot_history AS
SELECT e.id,
       strftime('%Y-%m-%dT%H:%M:%fZ', e.at / 1000.0, 'unixepoch') AS at,
       e.bot_id,
       e.from_state,
       e.to_state,
       e.reason,
       e.attempt_id,
       e.active_calls
FROM bot_events e
ORDER BY e.id;

-- Bots per warm pool and state (the target itself needs the scheduler's
-- arithmetic: GET /v1/clients/{id}/warm-pool or `calltrack client warm-pool`).
CREATE VIEW warm_pools AS
SELECT k.id AS client_id,
       CASE k.bots_required WHEN 1 THEN 'yes' ELSE 'no' END AS bots_required,
       k.warm_min AS min_warm,
       k.warm_headroom AS headroom,
       k.warm_max AS max_warm,
       k.warm_ttl_s,
       k.warm_lead_time_s AS lead_time_s,
       (SELECT count(*) FROM bots b WHERE b.pool_client_id = k.id AND b.state = 'ready') AS ready,
       (SELECT count(*) FROM bots b WHERE b.pool_client_id = k.id AND b.state = 'busy') AS busy,
       (SELECT count(*) FROM bots b WHERE b.pool_client_id = k.id AND b.state = 'warming') AS warming,
       (SELECT count(*) FROM bots b WHERE b.client_id = k.id AND b.state = 'failed') AS failed,
       (SELECT count(*) FROM bots b WHERE b.client_id = k.id AND b.state = 'cold') AS cold_own
FROM clients k
ORDER BY k.id;

-- v6: the last hours at a glance, per minute and client ('*' = all):
-- sqlite3 calltrack.db 'select * from recent_utilization limit 30'
CREATE VIEW recent_utilization AS
SELECT strftime('%Y-%m-%dT%H:%M:%SZ', h.bucket_at / 1000.0, 'unixepoch') AS minute,
       h.client_id,
       h.active_max AS peak,
       round(1.0 * h.active_sum / max(1, g.samples), 1) AS mean,
       h.limit_seen AS "limit",
       CASE WHEN coalesce(h.limit_seen, 0) = 0 THEN NULL
            ELSE round(100.0 * h.active_max / h.limit_seen, 1) END AS peak_percent,
       h.admissions,
       h.refused_client_limit + h.refused_global_limit + h.refused_disabled + h.refused_bot
           + h.refused_other AS refused,
       h.timeouts,
       h.ended_completed + h.ended_busy + h.ended_failed + h.ended_no_answer + h.ended_canceled
           + h.timeouts AS ended
FROM usage_history h
LEFT JOIN usage_history g ON g.step_s = h.step_s AND g.bucket_at = h.bucket_at AND g.client_id = '*'
WHERE h.step_s = 60
  AND h.bucket_at >= (CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) - 6 * 3600000)
ORDER BY h.bucket_at DESC, h.client_id;
