#include "db/history/LiveState.h"

#include "db/coordination/ProcessRegistry.h"

namespace calltrack::db {

namespace {
const char* const kClients =
    "SELECT k.id, k.active, (SELECT count(*) FROM calls c INDEXED BY calls_live_client_slot "
    "WHERE c.client_id = k.id AND c.ended_at IS NULL AND c.client_slot IS NULL), "
    "k.max_concurrent, k.enabled, k.mode, k.created_at FROM clients k ORDER BY k.id";
const char* const kGlobal = "SELECT global_active, global_limit FROM settings WHERE id = 1";
const char* const kBots = "SELECT state, count(*) FROM bots GROUP BY state";
const char* const kLeases = "SELECT name, holder, expires_at FROM leases ORDER BY name";
const char* const kPages = "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size";
const char* const kLiveProcesses = "SELECT count(*) FROM processes WHERE heartbeat_at >= ?1";
const char* const kBacklog =
    "SELECT max(0, (SELECT coalesce(max(id), 0) FROM call_events) - last_event_id), sampled_at "
    "FROM usage_cursor WHERE id = 1";
const char* const kOldestLive =
    "SELECT min(admitted_at) FROM calls INDEXED BY calls_live_expiry WHERE ended_at IS NULL";
}  // namespace

std::vector<LiveState::LeaseRow> LiveState::leasesIn(Connection& c) {
    std::vector<LeaseRow> out;
    Query q(c, kLeases);
    while (q.step())
        out.push_back(
            {q->getColumn(0).getString(), q->getColumn(1).getString(), q->getColumn(2).getInt64()});
    return out;
}

std::optional<int64_t> LiveState::oldestLiveCallAt(Connection& c) {
    Query q(c, kOldestLive);
    if (!q.step() || q->getColumn(0).isNull()) return std::nullopt;
    return q->getColumn(0).getInt64();
}

LiveState LiveState::readIn(Connection& c, int64_t nowMs) {
    LiveState s;
    {
        Query q(c, kClients);
        while (q.step()) {
            s.clients.push_back({q->getColumn(0).getString(), q->getColumn(1).getInt64(),
                                 q->getColumn(2).getInt64(), q->getColumn(3).getInt64(),
                                 q->getColumn(4).getInt() == 1,
                                 q->getColumn(5).getString() == "observe",
                                 q->getColumn(6).getInt64()});
        }
    }
    {
        Query q(c, kGlobal);
        if (q.step()) {
            s.globalActive = q->getColumn(0).getInt64();
            s.globalLimit = q->getColumn(1).getInt64();
        }
    }
    for (const char* state : {"cold", "warming", "ready", "busy", "failed"})
        s.botsByState[state] = 0;
    {
        Query q(c, kBots);
        while (q.step()) s.botsByState[q->getColumn(0).getString()] = q->getColumn(1).getInt64();
    }
    s.leases = leasesIn(c);
    {
        Query q(c, kPages);
        if (q.step()) s.databaseBytes = q->getColumn(0).getInt64();
    }
    {
        Query q(c, kLiveProcesses);
        q->bind(1, nowMs - ProcessRegistry::kLiveMs);
        if (q.step()) s.liveProcesses = q->getColumn(0).getInt64();
    }
    {
        Query q(c, kBacklog);
        if (q.step()) {
            s.historyBacklogEvents = q->getColumn(0).getInt64();
            s.lastSampleAt = q->getColumn(1).getInt64();
        }
    }
    return s;
}

}  // namespace calltrack::db
