#pragma once
// Utilization read from one snapshot: global and per client, with refusals
// in a recent window (from the refusals index, O(refusals in the window)).

#include "db/storage/Connection.h"
#include "db/tenants/Client.h"

#include <cstdint>
#include <vector>

namespace calltrack::db {

struct ClientUsage {
    Client client;
    int64_t refusedRecently = 0;  // refusals since `sinceMs`
    // Live calls holding no slot: admitted in observe mode (also after a
    // switch to enforce, until they end). Not in client.active.
    int64_t unslottedActive = 0;
};

struct UsageReport {
    GlobalSettings global;
    int64_t refusedRecently = 0;
    std::vector<ClientUsage> clients;
};

class UsageQueries {
  public:
    // `onlyClient`: restrict the per-client part to one client (scoped callers).
    static UsageReport report(Connection& c, int64_t sinceMs,
                              const std::string* onlyClient = nullptr);
};

}  // namespace calltrack::db
