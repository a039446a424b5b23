#include "app/jobs/SpoolReplayJob.h"

namespace calltrack::app {

SpoolReplayJob::SpoolReplayJob(db::EventIntake& intake, db::GroupCommitWriter& writer,
                               api::JsonLog& log, std::chrono::milliseconds interval)
    : intake_(intake), writer_(writer), log_(log), interval_(interval) {}

SpoolReplayJob::~SpoolReplayJob() {
    stop();
}

int SpoolReplayJob::runOnce() {
    auto& spool = intake_.spool();
    if (const int adopted = spool.scan(); adopted > 0) {
        log_.warn("adopted intake spool segments of a calltrack process that is gone",
                  {{"segments", adopted}, {"pending_records", spool.stats().pendingRecords}});
    }
    const auto round = intake_.drain([this] { return !stopping_.load(); }, std::chrono::seconds(2));
    if (round.total() > 0) {
        log_.info("intake spool replayed", {{"applied", round.applied},
                                            {"already_applied", round.alreadyApplied},
                                            {"failed", round.failed},
                                            {"corrupt", round.corrupt},
                                            {"pending_records", spool.stats().pendingRecords}});
    }
    if (round.blocked != blocked_) {
        blocked_ = round.blocked;
        if (blocked_) {
            log_.warn(
                "intake spool replay waits (the database, or a call another process's "
                "spool may still create)",
                {{"error", round.error}});
        }
    }
    // Nothing waited: probe for the breaker if it is not closed.
    if (round.total() == 0 && !round.blocked &&
        writer_.breaker().snapshot().state != db::DatabaseBreaker::State::closed) {
        try {
            writer_.run([](db::Connection&) {},
                        std::chrono::steady_clock::now() + std::chrono::seconds(1));
        } catch (const db::EngineError&) {
            // Still failing: the breaker has noted it.
        }
    }
    return round.total();
}

void SpoolReplayJob::start() {
    if (job_) return;
    job_ = std::make_unique<PeriodicJob>(
        "spool-replay", interval_, [this] { runOnce(); }, log_);
}

void SpoolReplayJob::stop() {
    stopping_.store(true);
    job_.reset();
}

}  // namespace calltrack::app
