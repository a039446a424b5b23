#include "db/bots/WarmupClaims.h"

#include <algorithm>
#include <random>

namespace calltrack::db {

namespace {

const char* const kResetStuck =
    "UPDATE bots SET state = 'cold', pool_client_id = client_id, warming_until = NULL, "
    "state_reason = 'no warm-up result by its deadline (the scheduler stopped or restarted)', "
    "state_changed_at = ?1, updated_at = ?1, version = version + 1 "
    "WHERE state = 'warming' AND warming_until <= ?1";
const char* const kExpireIdle =
    "UPDATE bots SET state = 'cold', pool_client_id = client_id, idle_until = NULL, "
    "state_reason = 'idle past its warm TTL', state_changed_at = ?1, updated_at = ?1, "
    "version = version + 1 WHERE state = 'ready' AND idle_until <= ?1";
// Idle ready bots of a pool, the freshest first: the first `target` of them
// are kept (and refreshed), the rest are surplus.
const char* const kIdleReady =
    "SELECT id, warmup_url, warmup_timeout_ms, failures, idle_until FROM bots "
    "WHERE pool_client_id = ?1 AND state = 'ready' AND idle_until > ?2 "
    "ORDER BY idle_until DESC, id";
const char* const kCool =
    "UPDATE bots SET state = 'cold', pool_client_id = client_id, idle_until = NULL, "
    "state_reason = ?3, state_changed_at = ?2, updated_at = ?2, version = version + 1 "
    "WHERE id = ?1 AND state = 'ready'";
// What a pool may warm: its own cold bots first, then bots whose back-off
// has run out, then shared ones; fewest failures first.
const char* const kCandidates =
    "SELECT id, warmup_url, warmup_timeout_ms, failures FROM bots "
    "WHERE (client_id = ?1 OR client_id IS NULL) "
    "AND (state = 'cold' OR (state = 'failed' AND retry_at <= ?2)) "
    "ORDER BY client_id IS NULL, state = 'failed', failures, id";
const char* const kClaim =
    "UPDATE bots SET state = 'warming', attempt_id = ?2, warming_until = ?3, retry_at = NULL, "
    "pool_client_id = coalesce(client_id, ?4), state_reason = ?5, state_changed_at = ?6, "
    "updated_at = ?6, version = version + 1 "
    "WHERE id = ?1 AND (state = 'cold' OR state = 'failed')";
const char* const kMarkRefresh =
    "UPDATE bots SET attempt_id = ?2 WHERE id = ?1 AND state = 'ready'";
const char* const kWarmed =
    "UPDATE bots SET state = 'ready', warming_until = NULL, failures = 0, last_warmup_ms = ?3, "
    "idle_until = ?4 + 1000 * coalesce((SELECT k.warm_ttl_s FROM clients k "
    "                                   WHERE k.id = bots.pool_client_id), 300), "
    "state_reason = 'warmed in ' || ?3 || ' ms', state_changed_at = ?4, updated_at = ?4, "
    "version = version + 1 WHERE id = ?1 AND state = 'warming' AND attempt_id = ?2";
const char* const kRefreshed =
    "UPDATE bots SET last_warmup_ms = ?3, "
    "idle_until = ?4 + 1000 * coalesce((SELECT k.warm_ttl_s FROM clients k "
    "                                   WHERE k.id = bots.pool_client_id), 300), "
    "updated_at = ?4, version = version + 1 "
    "WHERE id = ?1 AND state = 'ready' AND attempt_id = ?2";
// A refresh is not a state change, so no trigger records it; this does.
const char* const kRecordRefresh =
    "INSERT INTO bot_events (at, bot_id, from_state, to_state, reason, attempt_id, active_calls) "
    "VALUES (?3, ?1, 'ready', 'ready', 'warm-up refreshed in ' || ?4 || ' ms', ?2, 0)";
const char* const kFailed =
    "UPDATE bots SET state = 'failed', warming_until = NULL, idle_until = NULL, retry_at = ?3, "
    "failures = failures + 1, pool_client_id = client_id, state_reason = ?4, "
    "state_changed_at = ?5, updated_at = ?5, version = version + 1 "
    "WHERE id = ?1 AND attempt_id = ?2 AND (state = 'warming' OR (state = 'ready' AND ?6))";

std::string randomAttemptId() {
    std::random_device rd;
    const uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "wu-";
    for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(v >> shift) & 0xF]);
    return out;
}

int64_t refreshMarginMs(int64_t ttlMs, int64_t timeoutMs) {
    return std::min(ttlMs / 2, timeoutMs + 5000);
}

}  // namespace

int64_t WarmupClaims::warmingGraceMs(int64_t timeoutMs) {
    return timeoutMs + std::min<int64_t>(timeoutMs, 5000);
}

PlanResult WarmupClaims::planIn(Connection& c, int64_t now, const PlanOptions& options) {
    PlanResult result;
    {
        Query q(c, kResetStuck);
        q->bind(1, now);
        result.stuckReset = q.run();
    }
    {
        Query q(c, kExpireIdle);
        q->bind(1, now);
        result.expired = q.run();
    }
    result.pools = WarmPoolPlanner::allIn(c, now);
    const auto attemptId = [&] {
        return options.newAttemptId ? options.newAttemptId() : randomAttemptId();
    };
    const auto allowed = [&](const std::string& url) {
        return !options.endpointAllowed || options.endpointAllowed(url);
    };
    int budget = options.maxJobs;

    struct Idle {
        std::string id, url;
        int64_t timeoutMs, failures, idleUntil;
    };
    struct Kept {
        const WarmPoolStatus* pool;
        std::vector<Idle> idle;
        int64_t warmingNow;  // including the claims just made
    };
    std::vector<Kept> kept;
    for (const auto& pool : result.pools) {
        std::vector<Idle> idle;
        {
            Query q(c, kIdleReady);
            q->bind(1, pool.clientId);
            q->bind(2, now);
            while (q.step()) {
                idle.push_back(Idle{q->getColumn(0).getString(), q->getColumn(1).getString(),
                                    q->getColumn(2).getInt64(), q->getColumn(3).getInt64(),
                                    q->getColumn(4).getInt64()});
            }
        }
        // Above max_warm: cool idle bots now, the stalest first.
        int64_t warm = pool.warm();
        while (pool.policy.maxWarm && warm > *pool.policy.maxWarm && !idle.empty()) {
            Query q(c, kCool);
            q->bind(1, idle.back().id);
            q->bind(2, now);
            q->bind(3, "above max_warm " + std::to_string(*pool.policy.maxWarm));
            result.cooled += q.run();
            idle.pop_back();
            --warm;
        }
        // Short of the target: claim bots to warm.
        int64_t claimed = 0;
        for (int64_t missing = pool.target - warm; missing > 0 && budget > 0;) {
            std::vector<WarmupJob> picks;
            {
                Query q(c, kCandidates);
                q->bind(1, pool.clientId);
                q->bind(2, now);
                while (q.step() && static_cast<int64_t>(picks.size()) < missing &&
                       static_cast<int>(picks.size()) < budget) {
                    WarmupJob job;
                    job.botId = q->getColumn(0).getString();
                    job.url = q->getColumn(1).getString();
                    if (options.inFlight.count(job.botId) || !allowed(job.url)) continue;
                    job.timeoutMs = q->getColumn(2).getInt64();
                    job.failuresBefore = q->getColumn(3).getInt64();
                    job.forClient = pool.clientId;
                    picks.push_back(std::move(job));
                }
            }
            if (picks.empty()) break;
            for (auto& job : picks) {
                job.attemptId = attemptId();
                Query q(c, kClaim);
                q->bind(1, job.botId);
                q->bind(2, job.attemptId);
                q->bind(3, now + warmingGraceMs(job.timeoutMs));
                q->bind(4, pool.clientId);
                q->bind(5, "warm-up sent for client " + pool.clientId + " (" +
                               std::to_string(warm) + " of target " + std::to_string(pool.target) +
                               " warm)");
                q->bind(6, now);
                if (q.run() == 1) {
                    result.jobs.push_back(std::move(job));
                    --missing;
                    --budget;
                    ++warm;
                    ++claimed;
                }
            }
        }
        kept.push_back(Kept{&pool, std::move(idle), pool.warming + claimed});
    }
    // Within the target: refresh idle bots before their TTL runs out, so a
    // pool that is meant to stay warm does not go cold and back.
    for (auto& [pool, idle, warmingNow] : kept) {
        const int64_t keep = std::max<int64_t>(0, pool->target - pool->busy - warmingNow);
        for (int64_t i = 0; i < keep && i < static_cast<int64_t>(idle.size()) && budget > 0; ++i) {
            const auto& bot = idle[static_cast<size_t>(i)];
            if (bot.idleUntil - now > refreshMarginMs(pool->policy.warmTtlS * 1000, bot.timeoutMs))
                continue;
            if (options.inFlight.count(bot.id) || !allowed(bot.url)) continue;
            WarmupJob job{bot.id,         bot.url, bot.timeoutMs, attemptId(),
                          pool->clientId, true,    bot.failures};
            Query q(c, kMarkRefresh);
            q->bind(1, job.botId);
            q->bind(2, job.attemptId);
            if (q.run() == 1) {
                result.jobs.push_back(std::move(job));
                --budget;
            }
        }
    }
    return result;
}

bool WarmupClaims::recordSuccessIn(Connection& c, int64_t now, const WarmupJob& job,
                                   int64_t durationMs) {
    Query q(c, job.refresh ? kRefreshed : kWarmed);
    q->bind(1, job.botId);
    q->bind(2, job.attemptId);
    q->bind(3, durationMs);
    q->bind(4, now);
    const bool changed = q.run() == 1;
    if (changed && job.refresh) {
        Query e(c, kRecordRefresh);
        e->bind(1, job.botId);
        e->bind(2, job.attemptId);
        e->bind(3, now);
        e->bind(4, durationMs);
        e.run();
    }
    return changed;
}

bool WarmupClaims::recordFailureIn(Connection& c, int64_t now, const WarmupJob& job,
                                   const std::string& reason, int64_t retryAtMs) {
    Query q(c, kFailed);
    q->bind(1, job.botId);
    q->bind(2, job.attemptId);
    q->bind(3, std::max(retryAtMs, now));
    q->bind(4, std::string(job.refresh ? "refresh failed: " : "warm-up failed: ") + reason);
    q->bind(5, now);
    // A failed refresh of an idle bot means it is not warm after all.
    q->bind(6, job.refresh ? 1 : 0);
    return q.run() == 1;
}

PlanResult WarmupClaims::plan(const PlanOptions& options, Deadline deadline) {
    return writer_.run([&](Connection& c) { return planIn(c, clock_.nowMs(), options); }, deadline);
}

bool WarmupClaims::recordSuccess(const WarmupJob& job, int64_t durationMs) {
    return writer_.run(
        [&](Connection& c) { return recordSuccessIn(c, clock_.nowMs(), job, durationMs); });
}

bool WarmupClaims::recordFailure(const WarmupJob& job, const std::string& reason,
                                 int64_t retryAtMs) {
    return writer_.run(
        [&](Connection& c) { return recordFailureIn(c, clock_.nowMs(), job, reason, retryAtMs); });
}

}  // namespace calltrack::db
