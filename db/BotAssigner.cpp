#include "db/BotAssigner.h"

#include <algorithm>

namespace calltrack::db {

namespace {

// Two index probes (bots_by_client): the client's own bots, then shared ones.
// Warm = busy, or ready and not past its TTL (the scheduler may not have
// cooled it yet; the insert guard applies the same rule).
const char* const kPickOwn =
    "SELECT id FROM bots WHERE client_id = ?1 AND active_calls < capacity "
    "AND (state = 'busy' OR (state = 'ready' AND idle_until > ?2)) "
    "ORDER BY active_calls DESC, id LIMIT 1";
const char* const kPickShared =
    "SELECT id FROM bots WHERE client_id IS NULL AND active_calls < capacity "
    "AND (state = 'busy' OR (state = 'ready' AND idle_until > ?2)) "
    "ORDER BY pool_client_id IS NOT ?1, active_calls DESC, id LIMIT 1";
const char* const kTypicalWarmup =
    "SELECT avg(last_warmup_ms) FROM bots WHERE (client_id = ?1 OR client_id IS NULL) "
    "AND last_warmup_ms IS NOT NULL";

}  // namespace

std::optional<std::string> BotAssigner::pickIn(Connection& c, int64_t nowMs,
                                               const std::string& clientId) {
    for (const char* sql : {kPickOwn, kPickShared}) {
        Query q(c, sql);
        q->bind(1, clientId);
        q->bind(2, nowMs);
        if (q.step()) return q->getColumn(0).getString();
    }
    return std::nullopt;
}

int64_t BotAssigner::retryAfterMsIn(Connection& c, const std::string& clientId) {
    Query q(c, kTypicalWarmup);
    q->bind(1, clientId);
    q.step();
    const int64_t typical = q->getColumn(0).isNull() ? 1000 : q->getColumn(0).getInt64();
    return std::clamp<int64_t>(typical, 250, 30'000);
}

}  // namespace calltrack::db
