#pragma once
// Deletes what calltrack keeps only for a while: idempotency keys and
// provider events kept for a call that never came (24 h), spool ledger keys
// (7 days), and ended calls, their events and bot events older than
// settings.retention_hours (30 days by default).
//
// Runs where the reaper's lease is held, so one process purges at a time;
// it does not take the lease itself (the reaper does). Every purge is in
// bounded batches, each its own writer operation, so admissions interleave
// with it; between batches it stops once the lease is lost or stop() is
// called, so a stopping serve never waits for a long purge.

#include "api/logging/JsonLog.h"
#include "app/jobs/PeriodicJob.h"
#include "db/calls/IdempotencyStore.h"
#include "db/calls/ProviderCallEvents.h"
#include "db/coordination/LeaderLease.h"
#include "db/spool/EventIntake.h"
#include "db/storage/RetentionPurge.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace calltrack::app {

struct PurgeTotals {
    int64_t idempotencyKeys = 0;
    int64_t pendingEvents = 0;
    int64_t spoolKeys = 0;
    db::RetentionPurge::Totals retention{};
};

class PurgeJob {
  public:
    // Rows deleted per writer operation for the keys and pending events.
    static constexpr int kBatch = 1000;

    PurgeJob(db::IdempotencyStore& idempotency, db::ProviderCallEvents& providerEvents,
             db::EventIntake& intake, db::RetentionPurge& retention, db::LeaderLease& reaperLease,
             api::JsonLog& log, std::chrono::milliseconds interval);
    ~PurgeJob();
    PurgeJob(const PurgeJob&) = delete;
    PurgeJob& operator=(const PurgeJob&) = delete;

    // One pass, if the lease is held: every purge until nothing is due.
    PurgeTotals runOnce();
    void start();
    void stop();

  private:
    bool keepGoing() const { return lease_.held() && !stopping_.load(); }

    db::IdempotencyStore& idempotency_;
    db::ProviderCallEvents& providerEvents_;
    db::EventIntake& intake_;
    db::RetentionPurge& retention_;
    db::LeaderLease& lease_;
    api::JsonLog& log_;
    std::chrono::milliseconds interval_;
    std::atomic<bool> stopping_{false};
    std::unique_ptr<PeriodicJob> job_;
};

}  // namespace calltrack::app
