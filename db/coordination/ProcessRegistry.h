#pragma once
// The `processes` table: every `calltrack serve` on the database refreshes
// its row every second, so each knows how many live processes share the
// free slots when the database becomes unavailable (admit_within_share).

#include "db/Clock.h"
#include "db/storage/Connection.h"
#include "db/storage/GroupCommitWriter.h"

#include <string>

namespace calltrack::db {

class ProcessRegistry {
  public:
    // A process whose heartbeat is older than this is gone.
    static constexpr int64_t kLiveMs = 5000;

    ProcessRegistry(GroupCommitWriter& writer, const Clock& clock, std::string holder, int64_t pid);
    // Refreshes this process's row (and forgets rows dead for a minute).
    void heartbeat(Deadline deadline);
    // Removes this process's row (clean shutdown).
    void leave(Deadline deadline);
    // Live processes, this one included (at least 1): those whose last
    // heartbeat is within kLiveMs of the freshest one.
    static int liveIn(Connection& c, int64_t nowMs);

  private:
    GroupCommitWriter& writer_;
    const Clock& clock_;
    std::string holder_;
    int64_t pid_;
    int64_t startedAt_;
};

}  // namespace calltrack::db
