#pragma once
// The utilization history's background job (db/history/UsageRecorder).
// Every tick (1 s), in every serve:
//  * the holder of the "history" lease folds the new call_events into the
//    history and counters (bounded batches) and, once per sample interval,
//    rolls old minute rows into hours and drops rows past the retention (an
//    hour per writer op); the fold is exactly-once whoever runs it;
//  * every process samples once the last sample (by anyone) is an interval
//    old; the database lets one of them take it. So a leader that crashes
//    costs no sample: the gap between two samples stays within one interval
//    plus one tick while any serve runs.

#include "api/logging/JsonLog.h"
#include "app/jobs/PeriodicJob.h"
#include "db/coordination/LeaderLease.h"
#include "db/history/UsageRecorder.h"

#include <chrono>
#include <memory>

namespace calltrack::app {

class HistoryJob {
  public:
    HistoryJob(db::UsageRecorder& recorder, db::LeaderLease& lease, const db::Clock& clock,
               api::JsonLog& log, std::chrono::milliseconds tick = std::chrono::seconds(1));
    ~HistoryJob();
    HistoryJob(const HistoryJob&) = delete;
    HistoryJob& operator=(const HistoryJob&) = delete;

    void start();
    // Joins the thread, then gives the lease up so a successor need not wait.
    void stop();
    // One tick (tests drive it on a ManualClock); returns whether this
    // process held the lease.
    bool runOnce();

  private:
    db::UsageRecorder& recorder_;
    db::LeaderLease& lease_;
    const db::Clock& clock_;
    api::JsonLog& log_;
    std::chrono::milliseconds tick_;
    int64_t nextMaintenanceAt_ = 0;  // only the job's thread (or a test) touches it
    bool held_ = false;
    bool failing_ = false;
    std::unique_ptr<PeriodicJob> job_;
};

}  // namespace calltrack::app
