#pragma once
// Writes the utilization history (usage_history, usage_totals, usage_cursor;
// schema.sql v6). Run by the history job's lease holder, but safe in any
// number of processes at once:
//  * fold(): the events past usage_cursor are read in a snapshot and their
//    deltas written in one writer op that first checks the cursor is still
//    where the snapshot found it (else another process folded them: nothing
//    is written), so each event is counted exactly once;
//  * sample(): live calls per client and system, once an interval has
//    passed since the last sample whoever took it (usage_cursor.sampled_at
//    is claimed in the writer op, so two processes never both sample);
//  * rollUp() / purge(): one hour of rows per writer op (bounded batches).

#include "db/Clock.h"
#include "db/storage/GroupCommitWriter.h"
#include "db/storage/ReadPool.h"

#include <cstdint>

namespace calltrack::db {

struct HistoryOptions {
    int64_t sampleIntervalMs = 10000;
    int64_t minuteRowsKeptMs = 7LL * 24 * 3600 * 1000;  // then rolled up into hours
    int64_t keptMs = 400LL * 24 * 3600 * 1000;          // hourly rows then dropped
    int64_t foldBatch = 20000;                          // events per writer op
};

class UsageRecorder {
  public:
    UsageRecorder(GroupCommitWriter& writer, ReadPool& readers, const Clock& clock,
                  HistoryOptions options = {})
        : writer_(writer), readers_(readers), clock_(clock), options_(options) {}

    // Folds at most one batch; returns the events folded (0: caught up, or
    // another process folded this batch first).
    int64_t foldOnce(Deadline deadline = noDeadline());
    // Folds batches until caught up or `maxBatches` ran; returns the events.
    int64_t fold(int maxBatches, Deadline deadline = noDeadline());
    // One utilization sample; false when the last one (by this or another
    // process) is less than an interval old.
    bool sample(Deadline deadline = noDeadline());
    // Rolls the oldest hour of minute rows older than the minute retention
    // into an hourly row; false when there is none. Bounded: one hour of rows.
    bool rollUpOldestHour(Deadline deadline = noDeadline());
    // Drops the oldest hour of hourly rows older than the retention.
    bool purgeOldestHour(Deadline deadline = noDeadline());

    const HistoryOptions& options() const { return options_; }

  private:
    GroupCommitWriter& writer_;
    ReadPool& readers_;
    const Clock& clock_;
    HistoryOptions options_;
};

}  // namespace calltrack::db
