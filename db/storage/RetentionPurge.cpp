#include "db/storage/RetentionPurge.h"

#include "db/EngineError.h"

#include <algorithm>
#include <vector>

namespace calltrack::db {

namespace {

const char* const kRetentionMs = "SELECT 3600000 * retention_hours FROM settings WHERE id = 1";

// The oldest `limit` rows by id (ids follow time), those before the horizon
// deleted: a bounded look, whatever the table's size.
const char* const kPurgeEvents =
    "DELETE FROM call_events WHERE id IN (SELECT id FROM call_events ORDER BY id LIMIT ?2) "
    "AND at < min(?1, (SELECT e.at FROM call_events e ORDER BY e.id DESC LIMIT 1)) - ?3 "
    // v6: never an event the utilization history has not counted yet
    "AND id <= (SELECT last_event_id FROM usage_cursor WHERE id = 1)";

// Ended calls before the horizon that no event names any more; the keyset
// walks from the oldest call and stops at the first one created after it.
const char* const kCandidateCalls =
    "SELECT id, created_at, ended_at IS NOT NULL AND max(ended_at, updated_at) < ?1 "
    "AND NOT EXISTS (SELECT 1 FROM call_events e WHERE e.call_id = calls.id) "
    "FROM calls WHERE id > ?2 ORDER BY id LIMIT ?3";
const char* const kNewestCallCreatedAt = "SELECT created_at FROM calls ORDER BY id DESC LIMIT 1";
const char* const kDeleteCall = "DELETE FROM calls WHERE id = ?1";

const char* const kPurgeBotEvents =
    "DELETE FROM bot_events WHERE id IN (SELECT id FROM bot_events ORDER BY id LIMIT ?2) "
    "AND at < min(?1, (SELECT e.at FROM bot_events e ORDER BY e.id DESC LIMIT 1)) - ?3";

int64_t scalarOr(Connection& c, const char* sql, int64_t otherwise) {
    Query q(c, sql);
    return q.step() && !q->getColumn(0).isNull() ? q->getColumn(0).getInt64() : otherwise;
}

}  // namespace

RetentionPurge::Batch RetentionPurge::purgeBatch(int limit, int64_t callCursor, Deadline deadline) {
    return writer_.run(
        [&](Connection& c) {
            const int64_t now = clock_.nowMs();
            const int64_t retention = scalarOr(c, kRetentionMs, 720LL * 3600000);
            Batch b;
            b.callCursor = callCursor;
            {
                Query q(c, kPurgeEvents);
                q->bind(1, now);
                q->bind(2, limit);
                q->bind(3, retention);
                b.events = q.run();
            }
            const int64_t callHorizon =
                std::min(now, scalarOr(c, kNewestCallCreatedAt, now)) - retention;
            std::vector<int64_t> ids;
            int examined = 0;
            bool pastHorizon = false;
            // Events first: a call goes only once no event names it, so its
            // events must have had their turn.
            if (b.events < limit) {
                Query q(c, kCandidateCalls);
                q->bind(1, callHorizon);
                q->bind(2, callCursor);
                q->bind(3, limit);
                while (q.step()) {
                    if (q->getColumn(1).getInt64() >= callHorizon) {
                        pastHorizon = true;
                        break;
                    }
                    ++examined;
                    const int64_t id = q->getColumn(0).getInt64();
                    if (q->getColumn(2).getInt() == 1) {
                        ids.push_back(id);
                    } else if (ids.empty()) {
                        // Everything before a call that cannot go yet was
                        // deleted or examined: resume after it.
                        b.callCursor = id;
                    }
                }
            }
            for (const int64_t id : ids) {
                Query q(c, kDeleteCall);
                q->bind(1, id);
                b.calls += q.run();
            }
            {
                Query q(c, kPurgeBotEvents);
                q->bind(1, now);
                q->bind(2, limit);
                q->bind(3, retention);
                b.botEvents = q.run();
            }
            b.more =
                b.events == limit || b.botEvents == limit || (!pastHorizon && examined == limit);
            return b;
        },
        deadline);
}

int64_t RetentionPurge::retentionHours(Deadline deadline) {
    return writer_.run(
        [&](Connection& c) {
            return scalarOr(c, "SELECT retention_hours FROM settings WHERE id = 1", 720);
        },
        deadline);
}

int64_t RetentionPurge::setRetentionHours(int64_t hours, Deadline deadline) {
    if (hours < 1 || hours > 876000)
        throw EngineError(ErrorCode::invalid_argument, "retention must be 1 to 876000 hours");
    return writer_.run(
        [&](Connection& c) {
            Query q(c, "UPDATE settings SET retention_hours = ?1, updated_at = ?2 WHERE id = 1");
            q->bind(1, hours);
            q->bind(2, clock_.nowMs());
            q.run();
            return hours;
        },
        deadline);
}

}  // namespace calltrack::db
