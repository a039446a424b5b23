#pragma once
// Ends calls whose expiry has passed (as timed_out), so that a slot never
// outlives its call by more than the call's timeout plus one interval.
// Runs in one process at a time (lease "reaper"); at start-up every process
// reaps once regardless of the lease, so a restart after a crash frees the
// slots of calls that expired while nothing was running.

#include "api/JsonLog.h"
#include "app/PeriodicJob.h"
#include "db/CallLifecycle.h"
#include "db/LeaderLease.h"

#include <chrono>
#include <memory>

namespace calltrack::app {

struct ReaperOptions {
    std::chrono::milliseconds interval{1000};
    int batch = 500;  // calls ended per transaction: bounds how long one batch holds the writer
};

class ReaperJob {
  public:
    ReaperJob(db::CallLifecycle& lifecycle, db::LeaderLease& lease, api::JsonLog& log,
              ReaperOptions options = {});
    ~ReaperJob();

    // One tick: take or renew the lease; if held, end expired calls in
    // batches until none is left. Returns how many calls it ended.
    int runOnce();
    // Ends every expired call now, lease or not (start-up).
    int reapAll();
    void start();
    void stop();

  private:
    db::CallLifecycle& lifecycle_;
    db::LeaderLease& lease_;
    api::JsonLog& log_;
    ReaperOptions options_;
    std::unique_ptr<PeriodicJob> job_;
};

}  // namespace calltrack::app
