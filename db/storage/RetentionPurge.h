#pragma once
// Retention: ended calls and their events, and bot events, older than
// settings.retention_hours (30 days by default) are deleted by the lease
// holder in small batches, each its own writer operation, so that a purge
// never holds the writer for long and admissions interleave with it.
//
// "Older" counts back from the newest row of the same table (or from now,
// if that is earlier), as the schema's append-only guards do: the guards
// allow exactly these deletes. Events go first, oldest first; a call goes
// once it ended and was last touched before the horizon and no event still
// names it (a late duplicate keeps it until that event ages out too).

#include "db/Clock.h"
#include "db/storage/GroupCommitWriter.h"

#include <cstdint>

namespace calltrack::db {

class RetentionPurge {
  public:
    struct Batch {
        int events = 0;
        int calls = 0;
        int botEvents = 0;
        // Some table had `limit` candidates: there may be more to purge.
        bool more = false;
        // Resume the walk over calls after this id (calls that cannot go
        // yet, live or named by a young event, are not looked at again in
        // this pass).
        int64_t callCursor = 0;
    };
    struct Totals {
        int64_t events = 0;
        int64_t calls = 0;
        int64_t botEvents = 0;
        int batches = 0;
    };

    RetentionPurge(GroupCommitWriter& writer, const Clock& clock)
        : writer_(writer), clock_(clock) {}

    // One writer operation: examines at most `limit` rows of each table.
    Batch purgeBatch(int limit = 100, int64_t callCursor = 0, Deadline deadline = noDeadline());
    // Batches until nothing more is due or `keepGoing()` says stop (lease
    // lost, shutting down).
    template <class KeepGoing>
    Totals purgeDue(KeepGoing&& keepGoing, int limit = 100) {
        Totals totals;
        int64_t cursor = 0;
        for (bool more = true; more && keepGoing();) {
            const Batch b = purgeBatch(limit, cursor);
            cursor = b.callCursor;
            totals.events += b.events;
            totals.calls += b.calls;
            totals.botEvents += b.botEvents;
            ++totals.batches;
            more = b.more;
        }
        return totals;
    }

    // settings.retention_hours: read, and set (1 .. 876000).
    int64_t retentionHours(Deadline deadline = noDeadline());
    int64_t setRetentionHours(int64_t hours, Deadline deadline = noDeadline());

  private:
    GroupCommitWriter& writer_;
    const Clock& clock_;
};

}  // namespace calltrack::db
