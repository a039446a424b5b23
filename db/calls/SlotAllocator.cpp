#include "db/calls/SlotAllocator.h"

namespace calltrack::db {

namespace {

// Both scopes in one step: the smallest hinted slot within the limit that no
// live call holds. ?1 client id, ?2 client limit, ?3 global limit.
const char* const kHinted =
    "SELECT (SELECT f.slot FROM free_client_slots f WHERE f.client_id = ?1 AND f.slot <= ?2 "
    "          AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.client_id = ?1 AND c.client_slot = "
    "f.slot "
    "                          AND c.ended_at IS NULL) ORDER BY f.slot LIMIT 1), "
    "       (SELECT g.slot FROM free_global_slots g WHERE g.slot <= ?3 "
    "          AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.global_slot = g.slot AND c.ended_at "
    "IS NULL) "
    "        ORDER BY g.slot LIMIT 1)";

// The next never-used slot: one above the highest live slot or hint. Free
// slots and live slots together always cover 1..high water, so when no hint
// is within the limit, this is the only other candidate.
const char* const kClientHighWater =
    "SELECT max(coalesce((SELECT max(client_slot) FROM calls WHERE client_id = ?1 AND ended_at IS "
    "NULL), 0),"
    "           coalesce((SELECT max(slot) FROM free_client_slots WHERE client_id = ?1), 0))";
const char* const kGlobalHighWater =
    "SELECT max(coalesce((SELECT max(global_slot) FROM calls WHERE ended_at IS NULL), 0),"
    "           coalesce((SELECT max(slot) FROM free_global_slots), 0))";

// Last resort when the hint tables were edited by hand: the first gap among
// the live slots. O(live calls of the scope).
const char* const kClientLive =
    "SELECT client_slot FROM calls WHERE client_id = ?1 AND ended_at IS NULL AND client_slot IS "
    "NOT NULL "
    "ORDER BY client_slot";
const char* const kGlobalLive =
    "SELECT global_slot FROM calls WHERE ended_at IS NULL AND global_slot IS NOT NULL ORDER BY "
    "global_slot";

int64_t firstGap(Query& q, int64_t limit) {
    int64_t expected = 1;
    while (expected <= limit && q.step()) {
        const int64_t used = q->getColumn(0).getInt64();
        if (used > expected) return expected;
        if (used == expected) ++expected;
    }
    return expected <= limit ? expected : 0;
}

int64_t unhinted(Connection& c, const std::string* clientId, int64_t limit) {
    {
        Query q(c, clientId ? kClientHighWater : kGlobalHighWater);
        if (clientId) q->bind(1, *clientId);
        q.step();
        const int64_t next = q->getColumn(0).getInt64() + 1;
        if (next <= limit) return next;
    }
    Query q(c, clientId ? kClientLive : kGlobalLive);
    if (clientId) q->bind(1, *clientId);
    return firstGap(q, limit);
}

}  // namespace

SlotAllocator::Slots SlotAllocator::allocate(Connection& c, const std::string& clientId,
                                             int64_t clientLimit, int64_t globalLimit) {
    Slots slots;
    if (clientLimit <= 0 || globalLimit <= 0) return slots;
    {
        Query q(c, kHinted);
        q->bind(1, clientId);
        q->bind(2, clientLimit);
        q->bind(3, globalLimit);
        q.step();
        if (!q->getColumn(0).isNull()) slots.client = q->getColumn(0).getInt64();
        if (!q->getColumn(1).isNull()) slots.global = q->getColumn(1).getInt64();
    }
    if (slots.client == 0) slots.client = unhinted(c, &clientId, clientLimit);
    if (slots.global == 0) slots.global = unhinted(c, nullptr, globalLimit);
    return slots;
}

}  // namespace calltrack::db
