#pragma once
// Applies what waits in the intake spool once the database takes writes
// again, in every serve process: each replays its own segments and adopts
// those of processes that are gone (IntakeSpool::scan). While the database
// breaker is open and nothing waits, it is also the breaker's probe: one
// empty write per interval, so the breaker closes without waiting for a
// request to try.

#include "api/logging/JsonLog.h"
#include "app/jobs/PeriodicJob.h"
#include "db/spool/EventIntake.h"
#include "db/storage/GroupCommitWriter.h"

#include <atomic>
#include <chrono>
#include <memory>

namespace calltrack::app {

class SpoolReplayJob {
  public:
    SpoolReplayJob(db::EventIntake& intake, db::GroupCommitWriter& writer, api::JsonLog& log,
                   std::chrono::milliseconds interval);
    ~SpoolReplayJob();

    // One tick: scan, replay until drained or blocked, probe. Returns the
    // records it took out of the spool.
    int runOnce();
    void start();
    void stop();

  private:
    db::EventIntake& intake_;
    db::GroupCommitWriter& writer_;
    api::JsonLog& log_;
    std::chrono::milliseconds interval_;
    std::atomic<bool> stopping_{false};
    bool blocked_ = false;  // the job thread's own: logged when it changes
    std::unique_ptr<PeriodicJob> job_;
};

}  // namespace calltrack::app
