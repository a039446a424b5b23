#include "db/storage/Migrations.h"

namespace calltrack::db {

// Frozen: a released step never changes (databases in the field ran it).
// tests/test_schema.cpp upgrades tests/schemas/vN.sql through these steps and
// compares the result with a fresh schema.sql.
const std::vector<const char*>& upgradeSteps() {
    static const std::vector<const char*> steps = {
        // 1 -> 2
        R"calltrack_sql(
-- v1 -> v2: voice bots (issue 4). Additive: a v1 binary still running
-- against the upgraded file keeps working (it never sets bot_id, and its
-- clients have bots_required = 0).
ALTER TABLE clients ADD COLUMN bots_required INTEGER NOT NULL DEFAULT 0 CHECK (bots_required = 0 OR bots_required = 1);
ALTER TABLE clients ADD COLUMN warm_min INTEGER NOT NULL DEFAULT 0 CHECK (warm_min >= 0);
ALTER TABLE clients ADD COLUMN warm_headroom INTEGER NOT NULL DEFAULT 1 CHECK (warm_headroom >= 0);
ALTER TABLE clients ADD COLUMN warm_max INTEGER CHECK (warm_max IS NULL OR warm_max >= warm_min);
ALTER TABLE clients ADD COLUMN warm_ttl_s INTEGER NOT NULL DEFAULT 300 CHECK (warm_ttl_s > 0);
ALTER TABLE clients ADD COLUMN warm_lead_time_s INTEGER NOT NULL DEFAULT 120 CHECK (warm_lead_time_s >= 0);
ALTER TABLE calls ADD COLUMN bot_id TEXT;

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
-- A bot never carries more calls than its capacity: the CHECK below.
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

DROP TRIGGER calls_insert_guard;
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
        WHEN NEW.bot_id IS NULL THEN
            CASE WHEN k.bots_required = 1 AND k.mode = 'enforce' THEN
                RAISE(ABORT, 'calltrack: bot_unavailable: a live call of a bots_required client must hold a bot')
            END
        WHEN NOT EXISTS (SELECT 1 FROM bots b WHERE b.id = NEW.bot_id
                           AND (b.client_id IS NULL OR b.client_id = NEW.client_id)
                           AND (b.state = 'busy' OR (b.state = 'ready' AND b.idle_until > NEW.updated_at))) THEN
            RAISE(ABORT, 'calltrack: bot_unavailable: the bot is not warm or not this client''s')
    END
    FROM (SELECT 1) LEFT JOIN settings s ON s.id = 1 LEFT JOIN clients k ON k.id = NEW.client_id;
END;

DROP TRIGGER calls_identity_immutable;
CREATE TRIGGER calls_identity_immutable BEFORE UPDATE OF id, client_id, client_slot, global_slot, external_id, bot_id ON calls
WHEN NEW.id IS NOT OLD.id OR NEW.client_id IS NOT OLD.client_id OR NEW.client_slot IS NOT OLD.client_slot
  OR NEW.global_slot IS NOT OLD.global_slot OR NEW.external_id IS NOT OLD.external_id
  OR NEW.bot_id IS NOT OLD.bot_id
BEGIN
    SELECT RAISE(ABORT, 'calltrack: a call''s id, client, external id, slots and bot never change');
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
BEGIN
    SELECT RAISE(ABORT, 'calltrack: bot_events is append-only');
END;

-- INSERT OR REPLACE onto an existing id would overwrite a row (see above).
CREATE TRIGGER bot_events_no_replace BEFORE INSERT ON bot_events
WHEN EXISTS (SELECT 1 FROM bot_events e WHERE e.id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: bot_events is append-only');
END;

DROP VIEW active_calls;
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
)calltrack_sql",
        // 2 -> 3
        R"calltrack_sql(
-- v2 -> v3: real provider call flows (issue 8). Additive for a v2 binary
-- still running: client_credentials keeps its columns (the auth token copy
-- included) and loses only the UNIQUE on twilio_account_sid, so several
-- clients may share one Twilio account; new columns and tables are ignored
-- by v2. The event-id index becomes per client: a superset of the old
-- global uniqueness, so the existing rows satisfy it.
ALTER TABLE calls ADD COLUMN provider_call_id TEXT CHECK (provider_call_id IS NULL OR (length(provider_call_id) BETWEEN 1 AND 64
                                 AND provider_call_id NOT GLOB '*[^A-Za-z0-9._:-]*'));
CREATE UNIQUE INDEX calls_by_provider_call_id ON calls (provider_call_id) WHERE provider_call_id IS NOT NULL;

CREATE TABLE twilio_accounts (
    account_sid TEXT PRIMARY KEY CHECK (length(account_sid) BETWEEN 1 AND 64),
    auth_token  TEXT NOT NULL CHECK (length(auth_token) BETWEEN 1 AND 256),
    updated_at  INTEGER NOT NULL
) STRICT;
INSERT INTO twilio_accounts (account_sid, auth_token, updated_at)
SELECT twilio_account_sid, twilio_auth_token, updated_at FROM client_credentials
 WHERE twilio_account_sid IS NOT NULL;

CREATE TABLE client_credentials_v3 (
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
INSERT INTO client_credentials_v3 (client_id, twilio_account_sid, twilio_auth_token, webhook_secret, updated_at)
SELECT client_id, twilio_account_sid, twilio_auth_token, webhook_secret, updated_at FROM client_credentials
 WHERE client_id IN (SELECT id FROM clients);  -- a client deleted from a shell (foreign keys off) left an orphan
DROP TABLE client_credentials;
ALTER TABLE client_credentials_v3 RENAME TO client_credentials;
CREATE INDEX client_credentials_by_twilio_account ON client_credentials (twilio_account_sid)
    WHERE twilio_account_sid IS NOT NULL;

DROP INDEX call_events_idempotency;
CREATE UNIQUE INDEX call_events_idempotency_per_client ON call_events (client_id, source, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

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

DROP TRIGGER calls_insert_guard;
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
        WHEN NEW.client_slot IS NULL AND k.mode <> 'observe' THEN
            RAISE(ABORT, 'calltrack: a live call of an enforce-mode client must hold a slot')
        WHEN EXISTS (SELECT 1 FROM calls c WHERE c.client_id = NEW.client_id AND c.client_slot = NEW.client_slot
                     AND c.ended_at IS NULL) THEN
            RAISE(ABORT, 'calltrack: client slot is held by a live call')
        WHEN EXISTS (SELECT 1 FROM calls c WHERE c.global_slot = NEW.global_slot AND c.ended_at IS NULL) THEN
            RAISE(ABORT, 'calltrack: global slot is held by a live call')
        WHEN NEW.bot_id IS NULL THEN
            CASE WHEN k.bots_required = 1 AND k.mode = 'enforce' THEN
                RAISE(ABORT, 'calltrack: bot_unavailable: a live call of a bots_required client must hold a bot')
            END
        WHEN NOT EXISTS (SELECT 1 FROM bots b WHERE b.id = NEW.bot_id
                           AND (b.client_id IS NULL OR b.client_id = NEW.client_id)
                           AND (b.state = 'busy' OR (b.state = 'ready' AND b.idle_until > NEW.updated_at))) THEN
            RAISE(ABORT, 'calltrack: bot_unavailable: the bot is not warm or not this client''s')
    END
    FROM (SELECT 1) LEFT JOIN settings s ON s.id = 1 LEFT JOIN clients k ON k.id = NEW.client_id;
END;

CREATE TRIGGER calls_provider_call_id_once BEFORE UPDATE OF provider_call_id ON calls
WHEN NEW.provider_call_id IS NOT OLD.provider_call_id AND (OLD.provider_call_id IS NOT NULL OR
     EXISTS (SELECT 1 FROM calls c WHERE c.provider_call_id = NEW.provider_call_id AND c.id <> OLD.id))
BEGIN
    SELECT RAISE(ABORT, 'calltrack: a call''s provider_call_id is set at most once and belongs to one call');
END;
)calltrack_sql",
        // 3 -> 4
        R"calltrack_sql(
-- v3 -> v4: hold under abuse (issue 9). Shell edits cannot break counters or
-- orphan calls, bot capacity is held by slots, heartbeats are counted on
-- the call, and the append-only guards allow exactly the retention purge.
-- A v3 binary still running against the file keeps working except for
-- calls on bots (it sets no bot slot): stop v3 processes that admit bot
-- calls before migrating.
ALTER TABLE settings ADD COLUMN retention_hours INTEGER NOT NULL DEFAULT 720 CHECK (retention_hours BETWEEN 1 AND 876000);
CREATE TABLE counter_repairs (
    id INTEGER PRIMARY KEY CHECK (id = 1)
) STRICT;

ALTER TABLE calls ADD COLUMN bot_slot INTEGER CHECK (bot_slot IS NULL OR bot_slot >= 1);
ALTER TABLE calls ADD COLUMN heartbeats INTEGER NOT NULL DEFAULT 0 CHECK (heartbeats >= 0);
ALTER TABLE calls ADD COLUMN last_heartbeat_at INTEGER;
-- Live calls on a bot number its slots in admission order (a bot a shell
-- edit overloaded keeps its calls, with slots above capacity, until they end).
UPDATE calls SET bot_slot = (SELECT count(*) FROM calls x WHERE x.bot_id = calls.bot_id
                                AND x.ended_at IS NULL AND x.id <= calls.id)
 WHERE bot_id IS NOT NULL AND ended_at IS NULL;
CREATE UNIQUE INDEX calls_live_bot_slot ON calls (bot_id, bot_slot) WHERE ended_at IS NULL AND bot_id IS NOT NULL;

CREATE INDEX call_events_by_call ON call_events (call_id, sequence);
DROP INDEX call_events_by_sequence;

DROP TRIGGER calls_insert_guard;
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
        WHEN NEW.client_slot IS NULL AND k.mode <> 'observe' THEN
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

DROP TRIGGER calls_identity_immutable;
CREATE TRIGGER calls_identity_immutable BEFORE UPDATE OF id, client_id, client_slot, global_slot, external_id, bot_id, bot_slot ON calls
WHEN NEW.id IS NOT OLD.id OR NEW.client_id IS NOT OLD.client_id OR NEW.client_slot IS NOT OLD.client_slot
  OR NEW.global_slot IS NOT OLD.global_slot OR NEW.external_id IS NOT OLD.external_id
  OR NEW.bot_id IS NOT OLD.bot_id OR NEW.bot_slot IS NOT OLD.bot_slot
BEGIN
    SELECT RAISE(ABORT, 'calltrack: a call''s id, client, external id, slots and bot never change');
END;

DROP TRIGGER calls_slot_released;
CREATE TRIGGER calls_slot_released AFTER UPDATE OF ended_at ON calls
WHEN OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL AND OLD.client_slot IS NOT NULL
BEGIN
    UPDATE clients SET active = max(active - 1, 0) WHERE id = OLD.client_id;
    UPDATE settings SET global_active = max(global_active - 1, 0) WHERE id = 1;
    INSERT OR IGNORE INTO free_client_slots (client_id, slot) VALUES (OLD.client_id, OLD.client_slot);
    INSERT OR IGNORE INTO free_global_slots (slot) VALUES (OLD.global_slot);
END;

DROP TRIGGER call_events_no_delete;
CREATE TRIGGER call_events_no_delete BEFORE DELETE ON call_events
WHEN OLD.at >= (SELECT e.at FROM call_events e ORDER BY e.id DESC LIMIT 1)
               - 3600000 * (SELECT s.retention_hours FROM settings s WHERE s.id = 1)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: call_events is append-only; only rows older than settings.retention_hours are purged');
END;

DROP TRIGGER bot_events_no_delete;
CREATE TRIGGER bot_events_no_delete BEFORE DELETE ON bot_events
WHEN OLD.at >= (SELECT e.at FROM bot_events e ORDER BY e.id DESC LIMIT 1)
               - 3600000 * (SELECT s.retention_hours FROM settings s WHERE s.id = 1)
BEGIN
    SELECT RAISE(ABORT, 'calltrack: bot_events is append-only; only rows older than settings.retention_hours are purged');
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
)calltrack_sql",
        // 4 -> 5
        R"calltrack_sql(
-- v4 -> v5: database trouble (issue 10). Additive: the intake spool's ledger.
CREATE TABLE spool_applied (
    key        TEXT PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 64),
    applied_at INTEGER NOT NULL,
    outcome    TEXT NOT NULL CHECK (length(outcome) BETWEEN 1 AND 200)
) STRICT, WITHOUT ROWID;
CREATE INDEX spool_applied_age ON spool_applied (applied_at);
-- admit_within_share: the client's choice, offline-admitted calls, and the
-- live processes that share the free slots.
ALTER TABLE clients ADD COLUMN on_database_unavailable TEXT NOT NULL DEFAULT 'refuse'
                     CHECK ((on_database_unavailable = 'refuse' OR on_database_unavailable = 'admit_within_share'));
ALTER TABLE calls ADD COLUMN admitted_offline INTEGER NOT NULL DEFAULT 0 CHECK ((admitted_offline = 0 OR admitted_offline = 1));
CREATE TABLE processes (
    holder       TEXT PRIMARY KEY CHECK (length(holder) BETWEEN 1 AND 200),
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
) STRICT;
-- An offline-admitted call whose slot was gone when it was written holds
-- none (flagged): the insert guard lets exactly those through.
DROP TRIGGER calls_insert_guard;
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
)calltrack_sql",
        // 5 -> 6
        R"calltrack_sql(
-- v5 -> v6: utilization history and counters (issue 11). Additive: v5
-- binaries still running ignore the new tables.
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
)calltrack_sql",
        // 6 -> 7
        R"calltrack_sql(
-- v6 -> v7: alerting (issue 12). Additive.
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
)calltrack_sql",
    };
    return steps;
}

}  // namespace calltrack::db
