#include "app/jobs/ProcessHeartbeatJob.h"

#include "db/EngineError.h"

namespace calltrack::app {

ProcessHeartbeatJob::ProcessHeartbeatJob(db::ProcessRegistry& processes,
                                         db::OfflineAdmissions& offline, db::ReadPool& readers,
                                         const db::Clock& clock, api::JsonLog& log,
                                         std::chrono::milliseconds interval)
    : processes_(processes),
      offline_(offline),
      readers_(readers),
      clock_(clock),
      log_(log),
      interval_(interval) {}

ProcessHeartbeatJob::~ProcessHeartbeatJob() {
    stop();
}

bool ProcessHeartbeatJob::runOnce() {
    bool ok = true;
    try {
        processes_.heartbeat(std::chrono::steady_clock::now() + kHeartbeatDeadline);
    } catch (const db::EngineError&) {
        ok = false;  // the row is refreshed on the next tick that can write
    }
    try {
        offline_.refresh(readers_.read(
            [&](db::Connection& c) { return db::ShareSnapshot::readIn(c, clock_.nowMs()); }));
    } catch (const db::EngineError&) {
        ok = false;  // the last snapshot stands
    }
    return ok;
}

void ProcessHeartbeatJob::start() {
    if (job_) return;
    job_ = std::make_unique<PeriodicJob>(
        "processes", interval_, [this] { runOnce(); }, log_);
}

void ProcessHeartbeatJob::stop() {
    job_.reset();
}

}  // namespace calltrack::app
