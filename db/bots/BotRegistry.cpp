#include "db/bots/BotRegistry.h"

#include "db/EngineError.h"
#include "db/TextRules.h"
#include "db/storage/OptionalColumn.h"

#include <SQLiteCpp/Exception.h>

namespace calltrack::db {

namespace {

#define BOT_COLUMNS                                                                               \
    "b.id, b.client_id, b.warmup_url, b.capacity, b.warmup_timeout_ms, b.state, b.active_calls, " \
    "b.pool_client_id, b.state_reason, b.attempt_id, b.state_changed_at, b.warming_until, "       \
    "b.idle_until, b.retry_at, b.failures, b.last_warmup_ms, b.created_at, b.updated_at, "        \
    "b.version"

const char* const kFind = "SELECT " BOT_COLUMNS " FROM bots b WHERE b.id = ?1";
const char* const kList = "SELECT " BOT_COLUMNS
                          " FROM bots b WHERE (?1 IS NULL OR b.client_id = ?1) "
                          "AND (?2 IS NULL OR b.state = ?2) ORDER BY b.id";
const char* const kClientExists = "SELECT 1 FROM clients WHERE id = ?1";
const char* const kInsert =
    "INSERT INTO bots (id, client_id, warmup_url, capacity, warmup_timeout_ms, state, "
    "pool_client_id, state_reason, state_changed_at, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, 'cold', ?2, 'registered', ?6, ?6, ?6)";
// Same endpoint and owner: the warm state stays valid.
const char* const kUpdateKeepState =
    "UPDATE bots SET capacity = ?2, warmup_timeout_ms = ?3, updated_at = ?4, version = version + 1 "
    "WHERE id = ?1";
// A new endpoint or owner: what was warmed is not this bot any more.
const char* const kUpdateToCold =
    "UPDATE bots SET client_id = ?2, warmup_url = ?3, capacity = ?4, warmup_timeout_ms = ?5, "
    "state = 'cold', pool_client_id = ?2, state_reason = 'reconfigured', attempt_id = NULL, "
    "warming_until = NULL, idle_until = NULL, retry_at = NULL, failures = 0, "
    "state_changed_at = ?6, updated_at = ?6, version = version + 1 WHERE id = ?1";
const char* const kTouch = "UPDATE bots SET updated_at = ?2 WHERE id = ?1";
const char* const kDelete = "DELETE FROM bots WHERE id = ?1";

Bot readBot(SQLite::Statement& s) {
    Bot b;
    b.id = s.getColumn(0).getString();
    b.clientId = optionalText(s.getColumn(1));
    b.warmupUrl = s.getColumn(2).getString();
    b.capacity = s.getColumn(3).getInt64();
    b.warmupTimeoutMs = s.getColumn(4).getInt64();
    const auto state = parseBotState(s.getColumn(5).getText());
    if (!state) throw EngineError(ErrorCode::internal, "unknown bot state in database");
    b.state = *state;
    b.activeCalls = s.getColumn(6).getInt64();
    b.poolClientId = optionalText(s.getColumn(7));
    b.stateReason = optionalText(s.getColumn(8));
    b.attemptId = optionalText(s.getColumn(9));
    b.stateChangedAt = s.getColumn(10).getInt64();
    b.warmingUntil = optionalInt(s.getColumn(11));
    b.idleUntil = optionalInt(s.getColumn(12));
    b.retryAt = optionalInt(s.getColumn(13));
    b.failures = s.getColumn(14).getInt64();
    b.lastWarmupMs = optionalInt(s.getColumn(15));
    b.createdAt = s.getColumn(16).getInt64();
    b.updatedAt = s.getColumn(17).getInt64();
    b.version = s.getColumn(18).getInt64();
    return b;
}

}  // namespace

const char* nameOf(BotState state) {
    switch (state) {
        case BotState::cold:
            return "cold";
        case BotState::warming:
            return "warming";
        case BotState::ready:
            return "ready";
        case BotState::busy:
            return "busy";
        case BotState::failed:
            return "failed";
    }
    return "cold";
}

std::optional<BotState> parseBotState(std::string_view text) {
    for (auto s :
         {BotState::cold, BotState::warming, BotState::ready, BotState::busy, BotState::failed}) {
        if (text == nameOf(s)) return s;
    }
    return std::nullopt;
}

void BotRegistry::validate(const std::string& id, const BotConfig& config) {
    TextRules::requireIdentifier(id, "bot id");
    if (config.clientId) TextRules::requireClientId(*config.clientId);
    TextRules::requireHttpUrl(config.warmupUrl, "warmup_url");
    if (config.capacity < 1 || config.capacity > 10'000)
        throw EngineError(ErrorCode::invalid_argument,
                          "capacity must be an integer from 1 to 10000");
    if (config.warmupTimeoutMs < 100 || config.warmupTimeoutMs > 600'000) {
        throw EngineError(ErrorCode::invalid_argument,
                          "warmup_timeout_ms must be an integer from 100 to 600000");
    }
}

BotRegistry::PutResult BotRegistry::putIn(Connection& c, int64_t now, const std::string& id,
                                          const BotConfig& config) {
    if (config.clientId) {
        Query q(c, kClientExists);
        q->bind(1, *config.clientId);
        if (!q.step()) throw EngineError(ErrorCode::not_found, "no client " + *config.clientId);
    }
    const auto existing = findIn(c, id);
    if (!existing) {
        Query q(c, kInsert);
        q->bind(1, id);
        if (config.clientId) q->bind(2, *config.clientId);
        q->bind(3, config.warmupUrl);
        q->bind(4, config.capacity);
        q->bind(5, config.warmupTimeoutMs);
        q->bind(6, now);
        q.run();
        return PutResult{*findIn(c, id), true};
    }
    const bool moved = existing->clientId != config.clientId;
    const bool newEndpoint = existing->warmupUrl != config.warmupUrl;
    if (existing->activeCalls > 0 && (moved || newEndpoint)) {
        throw EngineError(ErrorCode::conflict,
                          "bot " + id + " carries " + std::to_string(existing->activeCalls) +
                              " calls: its client and warmup_url cannot change until they end");
    }
    if (config.capacity < existing->activeCalls) {
        throw EngineError(ErrorCode::conflict, "bot " + id + " carries " +
                                                   std::to_string(existing->activeCalls) +
                                                   " calls: capacity cannot go below that");
    }
    if (moved || newEndpoint) {
        Query q(c, kUpdateToCold);
        q->bind(1, id);
        if (config.clientId) q->bind(2, *config.clientId);
        q->bind(3, config.warmupUrl);
        q->bind(4, config.capacity);
        q->bind(5, config.warmupTimeoutMs);
        q->bind(6, now);
        q.run();
    } else {
        Query q(c, kUpdateKeepState);
        q->bind(1, id);
        q->bind(2, config.capacity);
        q->bind(3, config.warmupTimeoutMs);
        q->bind(4, now);
        q.run();
    }
    return PutResult{*findIn(c, id), false};
}

std::optional<Bot> BotRegistry::findIn(Connection& c, const std::string& id) {
    Query q(c, kFind);
    q->bind(1, id);
    if (!q.step()) return std::nullopt;
    return readBot(*q);
}

std::vector<Bot> BotRegistry::listIn(Connection& c, const ListFilter& filter) {
    Query q(c, kList);
    if (filter.clientId) q->bind(1, *filter.clientId);
    if (filter.state) q->bind(2, nameOf(*filter.state));
    std::vector<Bot> out;
    while (q.step()) out.push_back(readBot(*q));
    return out;
}

BotRegistry::PutResult BotRegistry::put(const std::string& id, const BotConfig& config,
                                        Deadline deadline) {
    validate(id, config);
    return writer_.run([&](Connection& c) { return putIn(c, clock_.nowMs(), id, config); },
                       deadline);
}

std::optional<Bot> BotRegistry::find(const std::string& id) {
    return readers_.read([&](Connection& c) { return findIn(c, id); });
}

std::vector<Bot> BotRegistry::list(const ListFilter& filter) {
    return readers_.read([&](Connection& c) { return listIn(c, filter); });
}

void BotRegistry::remove(const std::string& id, Deadline deadline) {
    writer_.run(
        [&](Connection& c) {
            const auto bot = findIn(c, id);
            if (!bot) throw EngineError(ErrorCode::not_found, "no bot " + id);
            if (bot->activeCalls > 0) {
                throw EngineError(ErrorCode::conflict,
                                  "bot " + id + " carries " + std::to_string(bot->activeCalls) +
                                      " calls: it can be removed once they end");
            }
            Query touch(c, kTouch);  // the time bots_deleted records
            touch->bind(1, id);
            touch->bind(2, clock_.nowMs());
            touch.run();
            Query q(c, kDelete);
            q->bind(1, id);
            q.run();
            return 0;
        },
        deadline);
}

}  // namespace calltrack::db
