#pragma once
// Picks the one process that runs a singleton background job (the reaper,
// later the bot scheduler) through a row in `leases`. The holder renews it
// every tick; when the holder dies, its lease expires and the next process to
// try takes it over: failover takes at most ttl + one tick.
//
// A holder that cannot renew (database busy or failing) stops acting as
// leader as soon as its last successful renewal is ttl old, so two processes
// never both believe they hold a lease that the database says is valid.
// Singleton jobs must still be safe to run twice (the reaper is): the lease
// saves work, it is not what keeps data correct.

#include "db/Clock.h"
#include "db/storage/GroupCommitWriter.h"

#include <atomic>
#include <string>

namespace calltrack::db {

class LeaderLease {
  public:
    LeaderLease(GroupCommitWriter& writer, const Clock& clock, std::string name, std::string holder,
                int64_t ttlMs);

    // Takes or renews the lease; true while this process holds it.
    bool acquireOrRenew();
    // Gives the lease up at once (clean shutdown), so a successor need not wait.
    void release();
    bool held() const;
    const std::string& holder() const { return holder_; }

    // A holder id unique to this process: host, pid and a random part.
    static std::string processHolderId();

  private:
    GroupCommitWriter& writer_;
    const Clock& clock_;
    std::string name_;
    std::string holder_;
    int64_t ttlMs_;
    // Our own view. Written by the job's thread; atomic because other threads
    // ask held() too (serve's idempotency-key purge runs on the reaper's lease).
    std::atomic<int64_t> validUntilMs_{0};
};

}  // namespace calltrack::db
