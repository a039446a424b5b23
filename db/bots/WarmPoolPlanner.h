#pragma once
// A client's warm pool: how many bots should be warm for it now (the target)
// and how many are, with the reason in words. Read-only; the scheduler
// (db/bots/WarmupClaims) acts on it, GET /v1/clients/{id}/warm-pool shows it.
//
// target = min(max_warm, bots that can serve the client,
//              max(min_warm, ceil(max(demand, scheduled) / capacity) + headroom))
// where demand = live calls + distinct calls refused bot_unavailable in the
// last minute and not admitted since (unmet demand), scheduled = expected
// concurrency of schedules whose [starts_at - lead_time, ends_at) holds now,
// and capacity = the smallest capacity among the client's usable bots (so
// the target errs on the side of enough bots).

#include "db/bots/Bot.h"
#include "db/storage/Connection.h"
#include "db/tenants/Client.h"

#include <cstdint>
#include <string>
#include <vector>

namespace calltrack::db {

struct WarmPoolStatus {
    std::string clientId;
    bool botsRequired = false;
    WarmPoolPolicy policy;
    int64_t target = 0;
    // Bots counted toward this pool, by state (ready = idle and warm).
    int64_t ready = 0;
    int64_t warming = 0;
    int64_t busy = 0;
    int64_t failed = 0;         // the client's own bots backing off
    int64_t coldAvailable = 0;  // cold bots (own or shared) it could warm
    int64_t usableBots = 0;     // own + shared bots
    int64_t activeCalls = 0;
    int64_t unmetDemand = 0;
    int64_t scheduledConcurrency = 0;
    int64_t capacityPerBot = 1;
    std::string why;

    int64_t warm() const { return ready + warming + busy; }
};

class WarmPoolPlanner {
  public:
    // Throws not_found for an unknown client.
    static WarmPoolStatus statusIn(Connection& c, int64_t nowMs, const std::string& clientId);
    // Every client with bots_required, by id.
    static std::vector<WarmPoolStatus> allIn(Connection& c, int64_t nowMs);

    static constexpr int64_t kUnmetDemandWindowMs = 60'000;
};

}  // namespace calltrack::db
