#include "db/history/UsageTotals.h"

#include "db/history/EventTally.h"

namespace calltrack::db {

namespace {
const char* const kTotals = "SELECT client_id, counter, value FROM usage_totals";
const char* const kCursor = "SELECT last_event_id FROM usage_cursor WHERE id = 1";
}  // namespace

UsageTotals::Values UsageTotals::current(Connection& c, int64_t tailLimit) {
    Values values;
    {
        Query q(c, kTotals);
        while (q.step())
            values[{q->getColumn(0).getString(), q->getColumn(1).getString()}] =
                q->getColumn(2).getInt64();
    }
    int64_t cursor = 0;
    {
        Query q(c, kCursor);
        if (q.step()) cursor = q->getColumn(0).getInt64();
    }
    EventTally tail;
    tail.foldFrom(c, cursor, tailLimit);
    for (const auto& [key, value] : tail.totals()) values[key] += value;
    return values;
}

}  // namespace calltrack::db
