#pragma once
// The bot scheduler's database side: each planning pass (one write
// transaction) expires what has to expire, compares every warm pool with its
// target, and claims bots for warm-up by moving them to `warming` with a
// fresh correlation id; the caller then sends the requests with no
// transaction open, and records each outcome in its own short transaction.
//
// Every outcome is matched on (bot id, state, attempt id): a result that
// arrives after the bot was reset (its warming_until passed, the leader
// changed, the bot was reconfigured) changes nothing, so a slow or
// duplicated warm-up can never resurrect a bot.

#include "db/Clock.h"
#include "db/bots/Bot.h"
#include "db/bots/WarmPoolPlanner.h"
#include "db/storage/GroupCommitWriter.h"

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace calltrack::db {

struct WarmupJob {
    std::string botId;
    std::string url;
    int64_t timeoutMs = 0;
    std::string attemptId;  // correlation id: in the request, the logs and bot_events
    std::string forClient;  // the pool it is warmed for
    bool refresh = false;   // a ready bot kept warm before its TTL runs out
    int64_t failuresBefore = 0;
};

struct PlanOptions {
    int maxJobs = 0;  // free warm-up slots: claims no more than this
    // In-memory state of the caller, consulted inside the transaction:
    std::function<bool(const std::string& url)> endpointAllowed{};  // circuit breaker
    std::set<std::string> inFlight{};                               // bot ids being warmed now
    std::function<std::string()> newAttemptId{};
};

struct PlanResult {
    std::vector<WarmupJob> jobs;
    int stuckReset = 0;                 // warming with no result by warming_until -> cold
    int expired = 0;                    // idle past the TTL -> cold
    int cooled = 0;                     // above max_warm -> cold
    std::vector<WarmPoolStatus> pools;  // as they were before the claims
};

class WarmupClaims {
  public:
    WarmupClaims(GroupCommitWriter& writer, const Clock& clock) : writer_(writer), clock_(clock) {}

    PlanResult plan(const PlanOptions& options, Deadline deadline = noDeadline());
    // True when the outcome changed the bot; false for a stale result.
    bool recordSuccess(const WarmupJob& job, int64_t durationMs);
    bool recordFailure(const WarmupJob& job, const std::string& reason, int64_t retryAtMs);

    static PlanResult planIn(Connection& c, int64_t nowMs, const PlanOptions& options);
    static bool recordSuccessIn(Connection& c, int64_t nowMs, const WarmupJob& job,
                                int64_t durationMs);
    static bool recordFailureIn(Connection& c, int64_t nowMs, const WarmupJob& job,
                                const std::string& reason, int64_t retryAtMs);

    // How long a claimed bot may stay warming without a recorded result: its
    // own timeout plus a grace (at most 5 s) for recording the result.
    static int64_t warmingGraceMs(int64_t timeoutMs);

  private:
    GroupCommitWriter& writer_;
    const Clock& clock_;
};

}  // namespace calltrack::db
