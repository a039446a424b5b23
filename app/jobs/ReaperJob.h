#pragma once
// Ends calls whose expiry has passed (as timed_out), so that a slot never
// outlives its call by more than the call's timeout plus one interval.
// Runs in one process at a time (lease "reaper"); at start-up every process
// reaps once regardless of the lease, so a restart after a crash frees the
// slots of calls that expired while nothing was running.

#include "api/logging/JsonLog.h"
#include "app/jobs/PeriodicJob.h"
#include "db/calls/CallLifecycle.h"
#include "db/coordination/LeaderLease.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace calltrack::app {

struct ReaperOptions {
    std::chrono::milliseconds interval{1000};
    int batch = 500;  // calls ended per transaction: bounds how long one batch holds the writer
    // While this says so the reaper ends nothing: events waiting in the
    // intake spool may end (or extend) the very calls it would time out.
    std::function<bool()> holdWhile{};
};

class ReaperJob {
  public:
    ReaperJob(db::CallLifecycle& lifecycle, db::LeaderLease& lease, api::JsonLog& log,
              ReaperOptions options = {});
    ~ReaperJob();

    // One tick: take or renew the lease; if held, end expired calls in
    // batches until none is left. Returns how many calls it ended.
    int runOnce();
    // Ends every expired call now, lease or not (start-up); a call that
    // cannot be ended is logged (once) and skipped. Returns how many it
    // really ended; stops early after stop().
    int reapAll();
    // Expired calls the last pass could not end.
    int64_t unendable() const { return unendableTotal_.load(); }
    void start();
    void stop();

  private:
    db::CallLifecycle& lifecycle_;
    db::LeaderLease& lease_;
    api::JsonLog& log_;
    ReaperOptions options_;
    std::unique_ptr<PeriodicJob> job_;
    std::atomic<bool> stopping_{false};
    std::vector<int64_t> unendable_;  // the reaper thread's (or start-up's) own
    std::atomic<int64_t> unendableTotal_{0};
    bool holding_ = false;  // the reaper thread's own: logged when it changes
};

}  // namespace calltrack::app
