#include "db/bots/WarmPoolPlanner.h"

#include "db/EngineError.h"
#include "db/bots/DemandSchedules.h"

#include <algorithm>

namespace calltrack::db {

namespace {

const char* const kPolicy =
    "SELECT bots_required, warm_min, warm_headroom, warm_max, warm_ttl_s, warm_lead_time_s, active "
    "FROM clients WHERE id = ?1";
const char* const kBotsRequiredClients =
    "SELECT id FROM clients WHERE bots_required = 1 ORDER BY id";
// The pool by state. A ready bot past its TTL is not warm any more, whether
// or not the scheduler has marked it cold yet.
const char* const kPoolCounts =
    "SELECT coalesce(sum(state = 'ready' AND idle_until > ?2), 0), "
    "       coalesce(sum(state = 'warming'), 0), coalesce(sum(state = 'busy'), 0) "
    "FROM bots WHERE pool_client_id = ?1";
const char* const kUsable =
    "SELECT count(*), coalesce(min(capacity), 1), "
    "       coalesce(sum(state = 'cold' OR (state = 'failed' AND retry_at <= ?2)), 0), "
    "       coalesce(sum(state = 'failed' AND client_id = ?1), 0) "
    "FROM bots WHERE client_id = ?1 OR client_id IS NULL";
// Calls refused for want of a bot in the window, by distinct external id,
// that have not been admitted since: demand the pool failed to meet.
const char* const kUnmet =
    "SELECT count(DISTINCT e.external_id) FROM call_events e "
    "WHERE e.outcome = 'refused' AND e.at > ?2 AND e.client_id = ?1 "
    "AND e.reason = 'bot_unavailable' AND NOT EXISTS "
    "(SELECT 1 FROM calls c WHERE c.client_id = ?1 AND c.external_id = e.external_id)";

int64_t ceilDiv(int64_t a, int64_t b) {
    return b <= 0 ? a : (a + b - 1) / b;
}

}  // namespace

WarmPoolStatus WarmPoolPlanner::statusIn(Connection& c, int64_t now, const std::string& clientId) {
    WarmPoolStatus s;
    s.clientId = clientId;
    {
        Query q(c, kPolicy);
        q->bind(1, clientId);
        if (!q.step()) throw EngineError(ErrorCode::not_found, "no client " + clientId);
        s.botsRequired = q->getColumn(0).getInt() == 1;
        s.policy.minWarm = q->getColumn(1).getInt64();
        s.policy.headroom = q->getColumn(2).getInt64();
        if (!q->getColumn(3).isNull()) s.policy.maxWarm = q->getColumn(3).getInt64();
        s.policy.warmTtlS = q->getColumn(4).getInt64();
        s.policy.leadTimeS = q->getColumn(5).getInt64();
        s.activeCalls = q->getColumn(6).getInt64();
    }
    {
        Query q(c, kPoolCounts);
        q->bind(1, clientId);
        q->bind(2, now);
        q.step();
        s.ready = q->getColumn(0).getInt64();
        s.warming = q->getColumn(1).getInt64();
        s.busy = q->getColumn(2).getInt64();
    }
    {
        Query q(c, kUsable);
        q->bind(1, clientId);
        q->bind(2, now);
        q.step();
        s.usableBots = q->getColumn(0).getInt64();
        s.capacityPerBot = q->getColumn(1).getInt64();
        s.coldAvailable = q->getColumn(2).getInt64();
        s.failed = q->getColumn(3).getInt64();
    }
    if (!s.botsRequired) {
        s.why = "bots_required is off: the scheduler keeps no bots warm for this client";
        return s;
    }
    {
        Query q(c, kUnmet);
        q->bind(1, clientId);
        q->bind(2, now - kUnmetDemandWindowMs);
        q.step();
        s.unmetDemand = q->getColumn(0).getInt64();
    }
    s.scheduledConcurrency =
        DemandSchedules::expectedNowIn(c, now, clientId, s.policy.leadTimeS * 1000);

    const int64_t demand = s.activeCalls + s.unmetDemand;
    const int64_t need = std::max(demand, s.scheduledConcurrency);
    const int64_t forDemand = ceilDiv(need, s.capacityPerBot) + s.policy.headroom;
    int64_t target = std::max(s.policy.minWarm, forDemand);
    std::string why = "demand " + std::to_string(demand) + " calls (" +
                      std::to_string(s.activeCalls) + " live + " + std::to_string(s.unmetDemand) +
                      " refused bot_unavailable in the last minute)";
    if (s.scheduledConcurrency > 0) why += ", scheduled " + std::to_string(s.scheduledConcurrency);
    why += " -> " + std::to_string(ceilDiv(need, s.capacityPerBot)) + " bots of capacity " +
           std::to_string(s.capacityPerBot) + " + headroom " + std::to_string(s.policy.headroom) +
           " = " + std::to_string(forDemand);
    if (s.policy.minWarm > forDemand)
        why += "; raised to min_warm " + std::to_string(s.policy.minWarm);
    if (s.policy.maxWarm && target > *s.policy.maxWarm) {
        target = *s.policy.maxWarm;
        why += "; capped by max_warm " + std::to_string(target);
    }
    if (target > s.usableBots) {
        target = s.usableBots;
        why += "; only " + std::to_string(s.usableBots) + " bots can serve this client";
    }
    s.target = target;
    s.why = "target " + std::to_string(target) + ": " + why;
    return s;
}

std::vector<WarmPoolStatus> WarmPoolPlanner::allIn(Connection& c, int64_t now) {
    std::vector<std::string> ids;
    {
        Query q(c, kBotsRequiredClients);
        while (q.step()) ids.push_back(q->getColumn(0).getString());
    }
    std::vector<WarmPoolStatus> out;
    out.reserve(ids.size());
    for (const auto& id : ids) out.push_back(statusIn(c, now, id));
    return out;
}

}  // namespace calltrack::db
