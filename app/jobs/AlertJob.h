#pragma once
// Alert evaluation and delivery (docs/ALERTING.md). One process evaluates:
// the holder of the "alerts" lease, every tick (1 s):
//  1. database_unavailable rules are stepped in memory (their alert cannot
//     be written while the database is unavailable); each change is
//     written as soon as the database takes it, and meanwhile its
//     notifications are POSTed straight from memory;
//  2. AlertEvaluator evaluates the other rules and writes changes and their
//     notifications in one transaction;
//  3. due notifications are handed to the delivery workers, at most
//     `perReceiver` at once per receiver; evaluation never waits for them.
// A notification is delivered at least once (a crash between the POST and
// its bookkeeping sends it again, with the same webhook-id).

#include "api/logging/JsonLog.h"
#include "app/jobs/AlertDelivery.h"
#include "app/jobs/PeriodicJob.h"
#include "db/alerts/AlertEvaluator.h"
#include "db/alerts/AlertOutbox.h"
#include "db/coordination/LeaderLease.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace calltrack::app {

struct AlertJobOptions {
    std::chrono::milliseconds tick{1000};
    int workers = 4;
    int perReceiver = 2;  // deliveries in flight per receiver at most
    AlertDeliveryOptions delivery{};
    int64_t notificationTtlMs = db::AlertEvaluator::kDefaultTtlMs;
};

class AlertJob {
  public:
    AlertJob(db::AlertEvaluator& evaluator, db::AlertOutbox& outbox, db::LeaderLease& lease,
             db::ReadPool& readers, const db::Clock& clock, api::JsonLog& log,
             std::function<bool()> databaseUnavailable, AlertJobOptions options);
    ~AlertJob();
    AlertJob(const AlertJob&) = delete;
    AlertJob& operator=(const AlertJob&) = delete;

    // Starts the delivery workers; with `periodic`, the tick thread too
    // (tests call runOnce themselves).
    void start(bool periodic = true);
    // Stops ticking, lets requests in flight end (bounded by the delivery
    // timeouts), joins every thread, gives the lease up.
    void stop();
    // One tick; true if this process holds the lease.
    bool runOnce();
    // Waits until no delivery is queued or in flight, at most `timeout`.
    bool waitIdle(std::chrono::milliseconds timeout);

    struct Stats {
        int inFlight = 0;
        int maxInFlightPerReceiver = 0;  // the most ever at once for one receiver
        int64_t delivered = 0, failed = 0, direct = 0;
    };
    Stats stats() const;

  private:
    void stepDatabaseAlerts(int64_t now);
    void evaluateAndDeliver(int64_t now, db::Deadline deadline);
    void sendFromMemory(int64_t now);
    void recordDatabaseAlerts();
    void dispatch(std::vector<db::OutboxItem> items);
    void work(std::stop_token stop);
    void finish(const db::OutboxItem& item, const AlertDeliveryResult& result);

    db::AlertEvaluator& evaluator_;
    db::AlertOutbox& outbox_;
    db::LeaderLease& lease_;
    db::ReadPool& readers_;
    const db::Clock& clock_;
    api::JsonLog& log_;
    std::function<bool()> databaseUnavailable_;
    AlertJobOptions options_;

    // The tick's own state (only its thread, or a test, touches it).
    bool held_ = false;
    bool failing_ = false;
    std::map<std::string, db::AlertState> databaseAlerts_;  // fingerprint -> state
    std::vector<db::AlertChange> unrecorded_;               // changes not yet written
    std::vector<db::AlertReceiver> receivers_;              // as last read
    int64_t nextPurgeAt_ = 0;

    mutable std::mutex mutex_;
    std::condition_variable_any cv_;
    std::deque<db::OutboxItem> queue_;         // guarded by mutex_
    std::map<int64_t, std::string> inFlight_;  // id -> receiver, guarded by mutex_
    std::map<std::string, int> perReceiver_;   // guarded by mutex_
    std::set<std::string> inFlightAlerts_;     // receiver + fingerprint, guarded by mutex_
    std::set<int64_t> recordedDirect_;         // in flight from memory, written since; guarded
    // Notifications of unrecorded changes, sent from memory (negative ids).
    std::map<int64_t, db::OutboxItem> direct_;  // guarded by mutex_
    std::map<int64_t, int64_t> directNextAt_;   // guarded by mutex_
    int64_t nextDirectId_ = -1;                 // guarded by mutex_
    Stats stats_;                               // guarded by mutex_
    std::mt19937_64 jitter_;                    // guarded by mutex_
    std::vector<std::jthread> workers_;
    std::unique_ptr<PeriodicJob> ticker_;
};

}  // namespace calltrack::app
