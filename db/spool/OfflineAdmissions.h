#pragma once
// admit_within_share: admissions a process grants on its own while the
// database cannot take them. Every second, while the database can be read,
// the process notes each such client's free slots, the global free slots and
// how many serve processes are live (ProcessRegistry). When an admission
// then fails for database trouble, this process may grant it if its grants
// still waiting to be written stay within
//     floor(client free / live processes)  and  floor(global free / live processes),
// so that all processes together stay within the free slots they all saw.
// The grant is spooled (an "admit" record) and written on replay, where a
// call whose slot is gone after all is written without one and flagged.
//
// What can go wrong, and how much (docs/RELIABILITY.md): the free slots are
// up to a second old; a process that starts while the database is down
// counts the others it can see; so the calls over a limit are at most the
// admissions of the last second before the outage plus one per process per
// client (rounding), each of them flagged and counted, none merged.
// A retry of a granted (client, external id) gets the same grant. Thread-safe.

#include "db/storage/Connection.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace calltrack::db {

struct ShareSnapshot {
    int64_t atMs = 0;
    int liveProcesses = 1;
    int64_t globalFree = 0;
    std::map<std::string, int64_t> clientFree;  // clients with admit_within_share only

    // Read from the database (a read connection).
    static ShareSnapshot readIn(Connection& c, int64_t nowMs);
};

struct OfflineStats {
    uint64_t granted = 0;  // since start
    uint64_t refused = 0;  // asked for, but no share left (or no snapshot)
    uint64_t waiting = 0;  // granted, not yet written
    int64_t snapshotAtMs = 0;
    int liveProcesses = 0;
};

class OfflineAdmissions {
  public:
    void refresh(ShareSnapshot snapshot);
    enum class Grant { granted, again, no_share };
    // Whether this process may admit (client, externalId) offline now.
    // `granted` reserves a share: the caller spools it, then confirms it
    // (spooled) or gives it back (written). `again`: this id was granted
    // and spooled before. A grant still being spooled is `no_share`.
    Grant grant(const std::string& clientId, const std::string& externalId);
    void spooled(const std::string& clientId, const std::string& externalId);
    // Its spool record was written (or refused): it no longer counts.
    void written(const std::string& clientId, const std::string& externalId);
    // The client's policy, as last seen.
    bool sharesFor(const std::string& clientId) const;
    OfflineStats stats() const;

  private:
    mutable std::mutex mutex_;
    std::optional<ShareSnapshot> snapshot_;  // guarded by mutex_
    // granted and not yet written -> spooled (false while being spooled)
    std::map<std::pair<std::string, std::string>, bool> waiting_;  // guarded by mutex_
    std::map<std::string, int64_t> waitingPerClient_;              // guarded by mutex_
    uint64_t granted_ = 0, refused_ = 0;                           // guarded by mutex_
};

}  // namespace calltrack::db
