-- calltrack schema: the one source of truth. Compiled into the binary at build
-- time (db/storage/SchemaSql.cpp is generated from this file) and applied to a fresh
-- database in one transaction. Upgrades of existing databases are the numbered
-- steps in db/storage/Migrations.cpp; each step ends at the version below.
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
-- schema-version: 1

PRAGMA user_version = 1;

-- One row: system-wide settings and O(1) counters.
CREATE TABLE settings (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    global_limit  INTEGER NOT NULL DEFAULT 100 CHECK (global_limit >= 0),
    -- live slot-holding calls of all clients; maintained by triggers on calls
    global_active INTEGER NOT NULL DEFAULT 0 CHECK (global_active >= 0),
    updated_at    INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO settings (id) VALUES (1);

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
    rejected_webhooks_total INTEGER NOT NULL DEFAULT 0,  -- webhooks refused for a bad signature
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

-- Provider credentials, apart from clients so that `select * from clients`
-- shows no secrets. The auth token and signing secret must be stored as
-- they are (HMAC needs the key): protect the database file like a key file.
CREATE TABLE client_credentials (
    client_id          TEXT PRIMARY KEY REFERENCES clients (id),
    twilio_account_sid TEXT UNIQUE CHECK (twilio_account_sid IS NULL OR length(twilio_account_sid) BETWEEN 1 AND 64),
    twilio_auth_token  TEXT CHECK (twilio_auth_token IS NULL OR length(twilio_auth_token) BETWEEN 1 AND 256),
    webhook_secret     TEXT CHECK (webhook_secret IS NULL OR length(webhook_secret) BETWEEN 7 AND 256),
    updated_at         INTEGER NOT NULL,
    CHECK ((twilio_account_sid IS NULL) = (twilio_auth_token IS NULL))
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
    idempotency_key TEXT            -- provider event id; unique when present
) STRICT;
CREATE UNIQUE INDEX call_events_idempotency ON call_events (idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Duplicate detection by provider sequence number. Events without one
-- (admissions, ends, timeouts: the hot path) stay out of every index but the
-- primary key; a call's history is found through this index or a scan.
CREATE INDEX call_events_by_sequence ON call_events (call_id, sequence) WHERE sequence IS NOT NULL;
-- Events for calls not admitted yet (a terminal webhook that beat the admission).
CREATE INDEX call_events_orphans ON call_events (client_id, external_id) WHERE call_id IS NULL;
-- Refusals in a recent window (usage reports).
CREATE INDEX call_events_refusals ON call_events (at, client_id) WHERE outcome = 'refused';

-- Singleton background jobs (reaper, later the bot scheduler): one holder at
-- a time; another process takes over once expires_at has passed.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;

-- ---------------------------------------------------------------- triggers

-- One BEFORE INSERT trigger (one sub-program frame on the admission path)
-- guards every insert:
--  * INSERT OR REPLACE must never delete a call: REPLACE deletes the
--    conflicting row without firing DELETE triggers (unless the connection
--    enabled recursive_triggers), which would drop a live call and leave the
--    counters wrong. So a conflict on id, on (client_id, external_id) or on a
--    live slot is refused here, before REPLACE can act;
--  * a live call must belong to a known client (foreign keys are off in a
--    plain sqlite3 shell, so the trigger checks it itself), hold slots within
--    the limits in force, not be for a disabled client, and hold a slot unless
--    its client is in observe mode.
CREATE TRIGGER calls_insert_guard BEFORE INSERT ON calls
BEGIN
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM calls c WHERE c.id = NEW.id) THEN
            RAISE(ABORT, 'calltrack: a call with this id exists')
        WHEN EXISTS (SELECT 1 FROM calls c WHERE c.client_id = NEW.client_id AND c.external_id = NEW.external_id) THEN
            RAISE(ABORT, 'calltrack: this client already has a call with this external_id')
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
        WHEN NEW.client_slot IS NULL AND k.mode <> 'observe' THEN
            RAISE(ABORT, 'calltrack: a live call of an enforce-mode client must hold a slot')
        WHEN EXISTS (SELECT 1 FROM calls c WHERE c.client_id = NEW.client_id AND c.client_slot = NEW.client_slot
                     AND c.ended_at IS NULL) THEN
            RAISE(ABORT, 'calltrack: client slot is held by a live call')
        WHEN EXISTS (SELECT 1 FROM calls c WHERE c.global_slot = NEW.global_slot AND c.ended_at IS NULL) THEN
            RAISE(ABORT, 'calltrack: global slot is held by a live call')
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

-- Identity is immutable. Including id matters: UPDATE OR REPLACE SET id = <a
-- live call's id> would otherwise delete that call without any DELETE trigger.
CREATE TRIGGER calls_identity_immutable BEFORE UPDATE OF id, client_id, client_slot, global_slot, external_id ON calls
WHEN NEW.id IS NOT OLD.id OR NEW.client_id IS NOT OLD.client_id OR NEW.client_slot IS NOT OLD.client_slot
  OR NEW.global_slot IS NOT OLD.global_slot OR NEW.external_id IS NOT OLD.external_id
BEGIN
    SELECT RAISE(ABORT, 'calltrack: a call''s id, client, external id and slots never change');
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
-- live state is into a terminal one, and terminal states are final.
CREATE TRIGGER calls_slot_released AFTER UPDATE OF ended_at ON calls
WHEN OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL AND OLD.client_slot IS NOT NULL
BEGIN
    UPDATE clients SET active = active - 1 WHERE id = OLD.client_id;
    UPDATE settings SET global_active = global_active - 1 WHERE id = 1;
    INSERT OR IGNORE INTO free_client_slots (client_id, slot) VALUES (OLD.client_id, OLD.client_slot);
    INSERT OR IGNORE INTO free_global_slots (slot) VALUES (OLD.global_slot);
END;

CREATE TRIGGER call_events_no_update BEFORE UPDATE ON call_events
BEGIN
    SELECT RAISE(ABORT, 'calltrack: call_events is append-only');
END;

CREATE TRIGGER call_events_no_delete BEFORE DELETE ON call_events
BEGIN
    SELECT RAISE(ABORT, 'calltrack: call_events is append-only');
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
