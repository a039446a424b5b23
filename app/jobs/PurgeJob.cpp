#include "app/jobs/PurgeJob.h"

namespace calltrack::app {

PurgeJob::PurgeJob(db::IdempotencyStore& idempotency, db::ProviderCallEvents& providerEvents,
                   db::EventIntake& intake, db::RetentionPurge& retention,
                   db::LeaderLease& reaperLease, api::JsonLog& log,
                   std::chrono::milliseconds interval)
    : idempotency_(idempotency),
      providerEvents_(providerEvents),
      intake_(intake),
      retention_(retention),
      lease_(reaperLease),
      log_(log),
      interval_(interval) {}

PurgeJob::~PurgeJob() {
    stop();
}

PurgeTotals PurgeJob::runOnce() {
    PurgeTotals totals;
    // A batch that came back full may have left more behind.
    const auto drain = [this](int64_t& total, auto&& purgeBatch) {
        for (int n = kBatch; n == kBatch && keepGoing();) {
            n = purgeBatch();
            total += n;
        }
    };
    drain(totals.idempotencyKeys, [this] { return idempotency_.purgeExpired(kBatch); });
    drain(totals.pendingEvents, [this] { return providerEvents_.purgeExpiredPending(kBatch); });
    drain(totals.spoolKeys, [this] { return intake_.purgeAppliedKeys(kBatch); });
    totals.retention = retention_.purgeDue([this] { return keepGoing(); });
    const auto& r = totals.retention;
    if (r.calls + r.events + r.botEvents > 0) {
        log_.info("retention purge", {{"calls", r.calls},
                                      {"events", r.events},
                                      {"bot_events", r.botEvents},
                                      {"batches", r.batches}});
    }
    return totals;
}

void PurgeJob::start() {
    if (job_) return;
    job_ = std::make_unique<PeriodicJob>(
        "purge", interval_, [this] { runOnce(); }, log_);
}

void PurgeJob::stop() {
    stopping_.store(true);
    job_.reset();
}

}  // namespace calltrack::app
