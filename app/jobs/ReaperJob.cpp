#include "app/jobs/ReaperJob.h"

#include <algorithm>

namespace calltrack::app {

ReaperJob::ReaperJob(db::CallLifecycle& lifecycle, db::LeaderLease& lease, api::JsonLog& log,
                     ReaperOptions options)
    : lifecycle_(lifecycle), lease_(lease), log_(log), options_(options) {}

ReaperJob::~ReaperJob() {
    stop();
}

int ReaperJob::reapAll() {
    int ended = 0;
    std::vector<std::pair<int64_t, std::string>> failed;
    db::CallLifecycle::ReapCursor cursor;
    // Batches until no expired call is left after the cursor, or stop().
    while (!stopping_.load()) {
        const auto batch = lifecycle_.reapBatch(options_.batch, cursor);
        ended += batch.ended;
        failed.insert(failed.end(), batch.failed.begin(), batch.failed.end());
        cursor = batch.next;
        if (batch.examined < options_.batch) break;
    }
    if (ended > 0) log_.info("reaper timed out expired calls", {{"calls", ended}});
    // Logged when the set of calls it cannot end changes, not every tick.
    std::vector<int64_t> ids;
    for (const auto& [id, why] : failed) ids.push_back(id);
    if (ids != unendable_) {
        for (const auto& [id, why] : failed) {
            if (std::find(unendable_.begin(), unendable_.end(), id) != unendable_.end()) continue;
            log_.error("reaper cannot end an expired call (run `calltrack check`)",
                       {{"call", id}, {"error", why}});
        }
        unendable_ = std::move(ids);
    }
    unendableTotal_.store(static_cast<int64_t>(unendable_.size()));
    return ended;
}

int ReaperJob::runOnce() {
    const bool wasHeld = lease_.held();
    const bool held = lease_.acquireOrRenew();
    if (held != wasHeld) {
        log_.info(held ? "reaper lease taken: this process reaps" : "reaper lease lost",
                  {{"holder", lease_.holder()}});
    }
    if (!held) return 0;
    const bool hold = options_.holdWhile && options_.holdWhile();
    if (hold != holding_) {
        holding_ = hold;
        log_.info(hold ? "reaper waits: events are waiting in the intake spool"
                       : "reaper goes on: the intake spool is drained");
    }
    return hold ? 0 : reapAll();
}

void ReaperJob::start() {
    if (job_) return;
    job_ = std::make_unique<PeriodicJob>(
        "reaper", options_.interval, [this] { runOnce(); }, log_);
}

void ReaperJob::stop() {
    stopping_.store(true);
    job_.reset();
    lease_.release();
}

}  // namespace calltrack::app
