#pragma once
// The state GET /metrics reports from the database, read in one snapshot so
// every process reports the same: per-client and system live calls and
// limits, bots by state, leases, the file's size, the history's backlog.

#include "db/storage/Connection.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

struct LiveState {
    struct ClientRow {
        std::string id;
        int64_t active = 0;     // slot-holding live calls (what the limit guards)
        int64_t unslotted = 0;  // observe-mode live calls holding no slot
        int64_t limit = 0;
        bool enabled = true;
        bool observe = false;
        int64_t createdAt = 0;
    };
    struct LeaseRow {
        std::string name, holder;
        int64_t expiresAt = 0;
    };
    std::vector<ClientRow> clients;  // by id
    int64_t globalActive = 0, globalLimit = 0;
    std::map<std::string, int64_t> botsByState;
    std::vector<LeaseRow> leases;
    int64_t databaseBytes = 0;
    int64_t liveProcesses = 0;
    int64_t historyBacklogEvents = 0;  // call_events not yet folded into usage_history
    int64_t lastSampleAt = 0;

    static LiveState readIn(Connection& c, int64_t nowMs);
    // Admission time of the oldest live call (a scan of the live calls:
    // for `calltrack top`, not for every scrape).
    static std::optional<int64_t> oldestLiveCallAt(Connection& c);
    static std::vector<LeaseRow> leasesIn(Connection& c);
};

}  // namespace calltrack::db
