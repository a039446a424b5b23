#pragma once
// The bot warm-up scheduler: a singleton background job (lease
// "bot-scheduler": one process at a time) that every interval, or at once
// when woken (an admission found no free bot, a warm-up finished), runs one
// planning pass (db::WarmupClaims::plan: expire, compare pools with targets,
// claim bots) and hands the claimed warm-ups to a fixed pool of `concurrency`
// worker threads. So at most `concurrency` warm-up requests are in flight,
// each bounded by its bot's timeout; a failure or a hang of one never holds
// up the others. Every outcome is logged with the attempt's correlation id
// and its duration, and recorded in its own short transaction: no
// transaction is open while a request is on the network.
//
// A worker that finishes wakes the planner, so a long shortfall is worked
// through at full concurrency rather than one batch per interval.

#include "api/logging/JsonLog.h"
#include "app/jobs/PeriodicJob.h"
#include "app/warmup/BotWarmupClient.h"
#include "app/warmup/CircuitBreaker.h"
#include "app/warmup/WarmupBackoff.h"
#include "db/bots/WarmupClaims.h"
#include "db/coordination/LeaderLease.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace calltrack::app {

struct WarmupSchedulerOptions {
    int concurrency = 5;  // warm-up requests in flight at most
    std::chrono::milliseconds interval{1000};
    WarmupBackoff::Options backoff{};
    CircuitBreaker::Options breaker{};
    // Called after each warm-up finished (metrics); must be thread-safe.
    std::function<void(bool ok, double seconds)> onOutcome{};
};

class WarmupScheduler {
  public:
    WarmupScheduler(db::WarmupClaims& claims, db::LeaderLease& lease, const db::Clock& clock,
                    api::JsonLog& log, WarmupSchedulerOptions options);
    ~WarmupScheduler();
    WarmupScheduler(const WarmupScheduler&) = delete;
    WarmupScheduler& operator=(const WarmupScheduler&) = delete;

    // Starts the workers and the periodic planner.
    void start();
    // Stops planning, aborts requests in flight (their bots are reset to
    // cold by the next leader once warming_until passes), joins every thread
    // and gives up the lease.
    void stop();
    // Plan now (thread-safe; cheap when nothing is short).
    void wake();

    // One planning pass if this process holds the lease: returns how many
    // warm-ups it dispatched. Public for tests that drive it step by step.
    int runOnce();

    struct Stats {
        int inFlight = 0;     // requests on the network or queued for a worker now
        int maxInFlight = 0;  // the most ever at once
        int64_t dispatched = 0;
        int64_t succeeded = 0;
        int64_t failed = 0;
        int64_t stale = 0;  // outcomes that no longer matched the bot (it was reset)
    };
    Stats stats() const;
    const CircuitBreaker& breaker() const { return breaker_; }

  private:
    void work(std::stop_token stop);
    void finish(const db::WarmupJob& job, const WarmupOutcome& outcome);

    db::WarmupClaims& claims_;
    db::LeaderLease& lease_;
    const db::Clock& clock_;
    api::JsonLog& log_;
    WarmupSchedulerOptions options_;
    CircuitBreaker breaker_;
    WarmupBackoff backoff_;
    BotWarmupClient client_;

    mutable std::mutex mutex_;
    std::condition_variable_any queueCv_;
    std::deque<db::WarmupJob> queue_;  // guarded by mutex_
    std::set<std::string> inFlight_;   // bot ids queued or being warmed; guarded by mutex_
    Stats stats_;                      // guarded by mutex_

    std::mutex planMutex_;               // one planning pass at a time (timer and tests)
    std::vector<std::jthread> workers_;  // only start() and stop() touch it
    // wake() may come from any thread (admissions, workers) while stop()
    // tears the planner down: the pointer is guarded, the planner outlives
    // every worker.
    std::mutex plannerMutex_;
    std::unique_ptr<PeriodicJob> planner_;  // guarded by plannerMutex_
    // Enforces each warm-up's overall deadline (BotWarmupClient::stopOverdue).
    std::unique_ptr<PeriodicJob> watchdog_;  // only start() and stop() touch it
};

}  // namespace calltrack::app
