#include "db/SlotAllocator.h"

namespace calltrack::db {

namespace {

// The same search for both scopes; the client scope binds ?1 = client id.
struct ScopeSql {
    const char* freeHint;       // ?1 scope, ?2 limit -> smallest hinted free slot <= limit
    const char* dropHint;       // ?1 scope, ?2 slot
    const char* isLive;         // ?1 scope, ?2 slot -> a row if a live call holds it
    const char* highWater;      // ?1 scope -> largest slot ever handed out and not forgotten
    const char* liveAscending;  // ?1 scope -> live slots, ascending
};

const ScopeSql kClientSql{
    "SELECT slot FROM free_client_slots WHERE client_id = ?1 AND slot <= ?2 ORDER BY slot LIMIT 1",
    "DELETE FROM free_client_slots WHERE client_id = ?1 AND slot = ?2",
    "SELECT 1 FROM calls WHERE client_id = ?1 AND client_slot = ?2 AND ended_at IS NULL",
    "SELECT max(coalesce((SELECT max(client_slot) FROM calls WHERE client_id = ?1 AND ended_at IS NULL), 0),"
    "           coalesce((SELECT max(slot) FROM free_client_slots WHERE client_id = ?1), 0))",
    "SELECT client_slot FROM calls WHERE client_id = ?1 AND ended_at IS NULL AND client_slot IS NOT NULL "
    "ORDER BY client_slot",
};

// ?1 is bound but unused in the global scope, so both scopes share the code.
const ScopeSql kGlobalSql{
    "SELECT slot FROM free_global_slots WHERE ?1 IS NULL AND slot <= ?2 ORDER BY slot LIMIT 1",
    "DELETE FROM free_global_slots WHERE ?1 IS NULL AND slot = ?2",
    "SELECT 1 FROM calls WHERE ?1 IS NULL AND global_slot = ?2 AND ended_at IS NULL",
    "SELECT max(coalesce((SELECT max(global_slot) FROM calls WHERE ?1 IS NULL AND ended_at IS NULL), 0),"
    "           coalesce((SELECT max(slot) FROM free_global_slots WHERE ?1 IS NULL), 0))",
    "SELECT global_slot FROM calls WHERE ?1 IS NULL AND ended_at IS NULL AND global_slot IS NOT NULL "
    "ORDER BY global_slot",
};

void bindScope(SQLite::Statement& s, const std::string* scope) {
    if (scope) s.bind(1, *scope);
}

std::optional<int64_t> allocate(Connection& c, const ScopeSql& sql, const std::string* scope, int64_t limit) {
    if (limit <= 0) return std::nullopt;
    // 1. A released slot (the usual case once traffic is steady).
    for (;;) {
        int64_t hinted = 0;
        {
            Query q(c, sql.freeHint);
            bindScope(*q, scope);
            q->bind(2, limit);
            if (!q.step()) break;
            hinted = q->getColumn(0).getInt64();
        }
        Query live(c, sql.isLive);
        bindScope(*live, scope);
        live->bind(2, hinted);
        if (!live.step()) return hinted;
        // Stale hint (someone wrote calls by hand): forget it and look again.
        Query drop(c, sql.dropHint);
        bindScope(*drop, scope);
        drop->bind(2, hinted);
        drop.run();
    }
    // 2. A never-used slot above everything handed out so far.
    {
        Query q(c, sql.highWater);
        bindScope(*q, scope);
        q.step();
        const int64_t next = q->getColumn(0).getInt64() + 1;
        if (next <= limit) return next;
    }
    // 3. Hints lost (hand-edited tables): find the first gap. O(live calls),
    // reached only when the hint tables disagree with the calls table.
    Query q(c, sql.liveAscending);
    bindScope(*q, scope);
    int64_t expected = 1;
    while (q.step() && expected <= limit) {
        const int64_t used = q->getColumn(0).getInt64();
        if (used > expected) return expected;
        if (used == expected) ++expected;
    }
    if (expected <= limit) return expected;
    return std::nullopt;
}

}  // namespace

std::optional<int64_t> SlotAllocator::clientSlot(Connection& c, const std::string& clientId, int64_t limit) {
    return allocate(c, kClientSql, &clientId, limit);
}

std::optional<int64_t> SlotAllocator::globalSlot(Connection& c, int64_t limit) {
    return allocate(c, kGlobalSql, nullptr, limit);
}

}  // namespace calltrack::db
