#pragma once
// Every second: this process's row in `processes` (so every serve knows how
// many share the free slots), and the free slots of admit_within_share
// clients as last seen (db/spool/OfflineAdmissions). The snapshot is read
// through a read connection, which works while a shell holds the write
// lock, so the figures stay current through a lock; when the database
// cannot be read or written, the last snapshot stands.

#include "api/logging/JsonLog.h"
#include "app/jobs/PeriodicJob.h"
#include "db/Clock.h"
#include "db/coordination/ProcessRegistry.h"
#include "db/spool/OfflineAdmissions.h"
#include "db/storage/ReadPool.h"

#include <chrono>
#include <memory>

namespace calltrack::app {

class ProcessHeartbeatJob {
  public:
    // How long one heartbeat may wait for the writer: less than the
    // interval, so a locked database never backs heartbeats up.
    static constexpr std::chrono::milliseconds kHeartbeatDeadline{500};

    ProcessHeartbeatJob(db::ProcessRegistry& processes, db::OfflineAdmissions& offline,
                        db::ReadPool& readers, const db::Clock& clock, api::JsonLog& log,
                        std::chrono::milliseconds interval = std::chrono::seconds(1));
    ~ProcessHeartbeatJob();
    ProcessHeartbeatJob(const ProcessHeartbeatJob&) = delete;
    ProcessHeartbeatJob& operator=(const ProcessHeartbeatJob&) = delete;

    // One tick. Returns whether the heartbeat and the snapshot were both
    // written/read (false: the database was unavailable for one of them).
    bool runOnce();
    void start();
    void stop();

  private:
    db::ProcessRegistry& processes_;
    db::OfflineAdmissions& offline_;
    db::ReadPool& readers_;
    const db::Clock& clock_;
    api::JsonLog& log_;
    std::chrono::milliseconds interval_;
    std::unique_ptr<PeriodicJob> job_;
};

}  // namespace calltrack::app
