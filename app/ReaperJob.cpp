#include "app/ReaperJob.h"

namespace calltrack::app {

ReaperJob::ReaperJob(db::CallLifecycle& lifecycle, db::LeaderLease& lease, api::JsonLog& log,
                     ReaperOptions options)
    : lifecycle_(lifecycle), lease_(lease), log_(log), options_(options) {}

ReaperJob::~ReaperJob() {
    stop();
}

int ReaperJob::reapAll() {
    int total = 0;
    for (;;) {
        const int n = lifecycle_.reapExpired(options_.batch);
        total += n;
        if (n < options_.batch) break;
    }
    if (total > 0) log_.info("reaper timed out expired calls", {{"calls", total}});
    return total;
}

int ReaperJob::runOnce() {
    const bool wasHeld = lease_.held();
    const bool held = lease_.acquireOrRenew();
    if (held != wasHeld) {
        log_.info(held ? "reaper lease taken: this process reaps" : "reaper lease lost",
                  {{"holder", lease_.holder()}});
    }
    return held ? reapAll() : 0;
}

void ReaperJob::start() {
    if (job_) return;
    job_ = std::make_unique<PeriodicJob>(
        "reaper", options_.interval, [this] { runOnce(); }, log_);
}

void ReaperJob::stop() {
    job_.reset();
    lease_.release();
}

}  // namespace calltrack::app
