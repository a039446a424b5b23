#include "db/bots/BotAssigner.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace calltrack::db {

namespace {

// Two index probes (bots_by_client): the client's own bots, then shared ones.
// Warm = busy, or ready and not past its TTL (the scheduler may not have
// cooled it yet; the insert guard applies the same rule).
// A few candidates each: a counter a shell edit left wrong can make a full
// bot look free, and then its slots tell.
const char* const kPickOwn =
    "SELECT id, capacity FROM bots WHERE client_id = ?1 AND active_calls < capacity "
    "AND (state = 'busy' OR (state = 'ready' AND idle_until > ?2)) "
    "ORDER BY active_calls DESC, id LIMIT 4";
const char* const kPickShared =
    "SELECT id, capacity FROM bots WHERE client_id IS NULL AND active_calls < capacity "
    "AND (state = 'busy' OR (state = 'ready' AND idle_until > ?2)) "
    "ORDER BY pool_client_id IS NOT ?1, active_calls DESC, id LIMIT 4";
// The bot's taken slots in order, from calls_live_bot_slot.
const char* const kTakenBotSlots =
    "SELECT bot_slot FROM calls WHERE bot_id = ?1 AND ended_at IS NULL AND bot_slot IS NOT NULL "
    "ORDER BY bot_slot";
const char* const kTypicalWarmup =
    "SELECT avg(last_warmup_ms) FROM bots WHERE (client_id = ?1 OR client_id IS NULL) "
    "AND last_warmup_ms IS NOT NULL";

}  // namespace

namespace {
// The lowest slot in 1..capacity that no live call of the bot holds.
std::optional<int64_t> freeSlotIn(Connection& c, const std::string& botId, int64_t capacity) {
    Query q(c, kTakenBotSlots);
    q->bind(1, botId);
    int64_t next = 1;
    while (q.step() && next <= capacity) {
        const int64_t taken = q->getColumn(0).getInt64();
        if (taken > next) break;
        if (taken == next) ++next;
    }
    if (next > capacity) return std::nullopt;
    return next;
}
}  // namespace

std::optional<BotAssigner::Pick> BotAssigner::pickIn(Connection& c, int64_t nowMs,
                                                     const std::string& clientId) {
    for (const char* sql : {kPickOwn, kPickShared}) {
        std::vector<std::pair<std::string, int64_t>> candidates;
        {
            Query q(c, sql);
            q->bind(1, clientId);
            q->bind(2, nowMs);
            while (q.step())
                candidates.emplace_back(q->getColumn(0).getString(), q->getColumn(1).getInt64());
        }
        for (const auto& [id, capacity] : candidates) {
            if (auto slot = freeSlotIn(c, id, capacity)) return Pick{id, *slot};
        }
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
