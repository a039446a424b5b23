#include "app/jobs/HistoryJob.h"

#include "db/EngineError.h"

namespace calltrack::app {

HistoryJob::HistoryJob(db::UsageRecorder& recorder, db::LeaderLease& lease, const db::Clock& clock,
                       api::JsonLog& log, std::chrono::milliseconds tick)
    : recorder_(recorder), lease_(lease), clock_(clock), log_(log), tick_(tick) {}

HistoryJob::~HistoryJob() {
    stop();
}

void HistoryJob::start() {
    job_ = std::make_unique<PeriodicJob>(
        "history", tick_, [this] { runOnce(); }, log_);
}

void HistoryJob::stop() {
    if (!job_) return;
    job_->stop();
    job_.reset();
    try {
        lease_.release();
    } catch (const db::EngineError&) {
        // it expires after its TTL
    }
}

bool HistoryJob::runOnce() {
    const bool held = lease_.acquireOrRenew();
    if (held != held_) {
        log_.info(
            held ? "history lease taken: this process samples utilization" : "history lease lost",
            {{"holder", lease_.holder()}});
        held_ = held;
        nextMaintenanceAt_ = 0;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    try {
        recorder_.sample(deadline);
        if (held) {
            recorder_.fold(10, deadline);
            const int64_t now = clock_.nowMs();
            if (now >= nextMaintenanceAt_) {
                nextMaintenanceAt_ = now + recorder_.options().sampleIntervalMs;
                for (int i = 0; i < 24 && recorder_.rollUpOldestHour(deadline); ++i) {
                }
                for (int i = 0; i < 24 && recorder_.purgeOldestHour(deadline); ++i) {
                }
            }
        }
        if (failing_) log_.info("utilization history recovered");
        failing_ = false;
    } catch (const db::EngineError& e) {
        // Locked or failing: the events stay past the cursor and are folded
        // on a later tick; only this sample is lost. Logged once per streak.
        if (!failing_) log_.warn("utilization history tick failed", {{"error", e.what()}});
        failing_ = true;
    }
    return held;
}

}  // namespace calltrack::app
