#include "app/jobs/AlertJob.h"

#include "db/EngineError.h"
#include "db/alerts/AlertConfig.h"
#include "db/alerts/AlertNotification.h"
#include "db/alerts/AlertSignals.h"
#include "db/alerts/AlertStateMachine.h"

#include <algorithm>

namespace calltrack::app {

AlertJob::AlertJob(db::AlertEvaluator& evaluator, db::AlertOutbox& outbox, db::LeaderLease& lease,
                   db::ReadPool& readers, const db::Clock& clock, api::JsonLog& log,
                   std::function<bool()> databaseUnavailable, AlertJobOptions options)
    : evaluator_(evaluator),
      outbox_(outbox),
      lease_(lease),
      readers_(readers),
      clock_(clock),
      log_(log),
      databaseUnavailable_(std::move(databaseUnavailable)),
      options_(std::move(options)),
      jitter_(std::random_device{}()) {}

AlertJob::~AlertJob() {
    stop();
}

void AlertJob::start(bool periodic) {
    for (int i = 0; i < options_.workers; ++i)
        workers_.emplace_back([this](std::stop_token st) { work(st); });
    if (periodic)
        ticker_ = std::make_unique<PeriodicJob>(
            "alerts", options_.tick, [this] { runOnce(); }, log_);
}

void AlertJob::stop() {
    if (ticker_) {
        ticker_->stop();
        ticker_.reset();
    }
    recordDatabaseAlerts();  // a last chance for changes only memory holds
    if (workers_.empty()) return;
    for (auto& w : workers_) w.request_stop();
    cv_.notify_all();
    workers_.clear();  // joins; a request in flight ends by its timeouts
    try {
        lease_.release();
    } catch (const db::EngineError&) {
    }
}

AlertJob::Stats AlertJob::stats() const {
    std::lock_guard lock(mutex_);
    Stats s = stats_;
    s.inFlight = static_cast<int>(inFlight_.size());
    return s;
}

bool AlertJob::waitIdle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return queue_.empty() && inFlight_.empty(); });
}

bool AlertJob::runOnce() {
    const bool held = lease_.acquireOrRenew();
    // While the database is unavailable nobody can renew the lease, nor take
    // it over: its last holder goes on stepping the database alerts (the
    // ones that matter then) until it can write again.
    const bool keepDatabaseAlerts =
        !held && held_ && databaseUnavailable_ && databaseUnavailable_();
    if (held != held_ && !keepDatabaseAlerts) {
        log_.info(
            held ? "alerts lease taken: this process evaluates alert rules" : "alerts lease lost",
            {{"holder", lease_.holder()}});
        held_ = held;
        // Reloaded from the table, unless changes only this process knows
        // of are still to be written.
        if (unrecorded_.empty()) databaseAlerts_.clear();
    }
    const int64_t now = clock_.nowMs();
    if (held || keepDatabaseAlerts) stepDatabaseAlerts(now);
    // Changes only this process knows of are written, and their
    // notifications sent from memory meanwhile, whoever holds the lease now.
    recordDatabaseAlerts();
    if (held) {
        evaluateAndDeliver(now, std::chrono::steady_clock::now() + std::chrono::seconds(2));
    }
    sendFromMemory(now);
    return held;
}

void AlertJob::recordDatabaseAlerts() {
    if (unrecorded_.empty()) return;
    try {
        evaluator_.record(unrecorded_,
                          std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
        unrecorded_.clear();
        // Written with their notifications: the outbox delivers them now
        // (a copy already sent from memory carries the same webhook-id).
        std::lock_guard lock(mutex_);
        for (auto it = direct_.begin(); it != direct_.end();) {
            directNextAt_.erase(it->first);
            if (inFlight_.count(it->first)) recordedDirect_.insert(it->first);
            it = direct_.erase(it);
        }
        queue_.erase(
            std::remove_if(queue_.begin(), queue_.end(), [](const auto& q) { return q.id < 0; }),
            queue_.end());
    } catch (const db::EngineError&) {
        // still unavailable: kept, and sent from memory meanwhile
    }
}

void AlertJob::evaluateAndDeliver(int64_t now, db::Deadline deadline) {
    try {
        for (const auto& ch : evaluator_.evaluate(deadline)) {
            if (!ch.notify) continue;
            log_.info("alert " + *ch.notify,
                      {{"rule", ch.signal.rule.id},
                       {"client", ch.signal.clientId ? nlohmann::json(*ch.signal.clientId)
                                                     : nlohmann::json(nullptr)},
                       {"fingerprint", ch.signal.fingerprint},
                       {"value", ch.after.value ? nlohmann::json(*ch.after.value)
                                                : nlohmann::json(nullptr)}});
        }
        std::vector<int64_t> busy;
        {
            std::lock_guard lock(mutex_);
            for (const auto& [id, _] : inFlight_) busy.push_back(id);
            for (const auto& item : queue_) busy.push_back(item.id);
        }
        dispatch(outbox_.due(100, busy));
        if (now >= nextPurgeAt_) {
            nextPurgeAt_ = now + 3600 * 1000;
            outbox_.purgeSettled(now - 7LL * 24 * 3600 * 1000, deadline);
        }
        if (failing_) log_.info("alert evaluation recovered");
        failing_ = false;
    } catch (const db::EngineError& e) {
        if (!failing_)
            log_.warn("alert evaluation failed; retried every tick", {{"error", e.what()}});
        failing_ = true;
    }
}

void AlertJob::sendFromMemory(int64_t now) {
    // Notifications of database alerts not yet written go out from memory.
    std::vector<db::OutboxItem> direct;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, item] : direct_) {
            if (inFlight_.count(id) || directNextAt_[id] > now) continue;
            if (std::any_of(queue_.begin(), queue_.end(),
                            [&](const auto& q) { return q.id == id; }))
                continue;
            direct.push_back(item);
        }
    }
    dispatch(std::move(direct));
}

void AlertJob::stepDatabaseAlerts(int64_t now) {
    std::vector<db::AlertRule> rules;
    try {
        // Reads work while another connection holds the write lock (WAL).
        readers_.read([&](db::Connection& c) {
            rules = db::AlertConfig::rulesIn(c);
            receivers_ = db::AlertConfig::receiversIn(c);
            for (const auto& r : rules) {
                if (r.kind != "database_unavailable") continue;
                const auto fp = db::AlertSignals::fingerprintOf(r.id, std::nullopt);
                if (!databaseAlerts_.count(fp))
                    databaseAlerts_[fp] =
                        db::AlertEvaluator::stateIn(c, fp).value_or(db::AlertState{});
            }
        });
    } catch (const db::EngineError&) {
        return;  // unreadable too: nothing to step against
    }
    const bool unavailable = databaseUnavailable_ && databaseUnavailable_();
    for (const auto& r : rules) {
        if (r.kind != "database_unavailable" || !r.enabled) continue;
        const auto fp = db::AlertSignals::fingerprintOf(r.id, std::nullopt);
        auto& state = databaseAlerts_[fp];
        const auto step = db::AlertStateMachine::step(state, unavailable ? 1.0 : 0.0, r, now);
        if (step.next == state) continue;
        db::AlertSignal sig{r, std::nullopt, fp, unavailable ? 1.0 : 0.0};
        unrecorded_.push_back({sig, state, step.next, step.notify});
        state = step.next;
        if (!step.notify) continue;
        const auto alert = db::AlertNotification::alert(r, std::nullopt, step.next, fp,
                                                        *step.notify, evaluator_.baseUrl());
        std::lock_guard lock(mutex_);
        for (const auto& rcv : receivers_) {
            db::OutboxItem item;
            item.id = nextDirectId_--;
            item.notificationId = db::AlertNotification::notificationId(
                fp, *step.notify, step.next.startsAt.value_or(0));
            item.receiverId = rcv.id;
            item.fingerprint = fp;
            item.status = *step.notify;
            item.url = rcv.url;
            item.format = rcv.format;
            item.secret = rcv.secret;
            item.alert = alert;
            item.createdAt = now;
            item.expiresAt = now + options_.notificationTtlMs;
            directNextAt_[item.id] = now;
            direct_[item.id] = std::move(item);
        }
        log_.warn("alert " + *step.notify, {{"rule", r.id}, {"fingerprint", fp}});
    }
}

void AlertJob::dispatch(std::vector<db::OutboxItem> items) {
    if (items.empty()) return;
    {
        std::lock_guard lock(mutex_);
        for (auto& item : items) queue_.push_back(std::move(item));
    }
    cv_.notify_all();
}

void AlertJob::work(std::stop_token stop) {
    for (;;) {
        db::OutboxItem item;
        {
            std::unique_lock lock(mutex_);
            // The first queued item whose receiver has room.
            // One notification of an alert at a time per receiver, oldest
            // first, so "resolved" never overtakes its "firing".
            const auto ready = [&] {
                return std::find_if(queue_.begin(), queue_.end(), [&](const auto& q) {
                    return perReceiver_[q.receiverId] < options_.perReceiver &&
                           !inFlightAlerts_.count(q.receiverId + "\n" + q.fingerprint);
                });
            };
            cv_.wait_for(lock, stop, std::chrono::seconds(1),
                         [&] { return ready() != queue_.end(); });
            if (stop.stop_requested()) return;
            const auto it = ready();
            if (it == queue_.end()) continue;
            item = std::move(*it);
            queue_.erase(it);
            inFlight_[item.id] = item.receiverId;
            inFlightAlerts_.insert(item.receiverId + "\n" + item.fingerprint);
            const int n = ++perReceiver_[item.receiverId];
            stats_.maxInFlightPerReceiver = std::max(stats_.maxInFlightPerReceiver, n);
        }
        const auto result = AlertDelivery::post(item, clock_.nowMs(), options_.delivery);
        finish(item, result);
        {
            std::lock_guard lock(mutex_);
            inFlight_.erase(item.id);
            inFlightAlerts_.erase(item.receiverId + "\n" + item.fingerprint);
            --perReceiver_[item.receiverId];
        }
        cv_.notify_all();
    }
}

void AlertJob::finish(const db::OutboxItem& item, const AlertDeliveryResult& result) {
    nlohmann::json fields = {{"notification_id", item.notificationId},
                             {"receiver", item.receiverId},
                             {"attempt", item.attempts + 1}};
    if (result.status) fields["http_status"] = result.status;
    double jitter = 0.5;
    {
        std::lock_guard lock(mutex_);
        jitter = std::uniform_real_distribution<double>(0.0, 1.0)(jitter_);
        if (result.ok)
            ++stats_.delivered;
        else
            ++stats_.failed;
        if (item.id < 0 && recordedDirect_.erase(item.id) > 0) {
            ++stats_.direct;  // written meanwhile: the outbox has it
        } else if (item.id < 0) {
            ++stats_.direct;
            // From memory: delivered, or tried again after the back-off.
            auto it = direct_.find(item.id);
            if (it != direct_.end()) {
                if (result.ok || clock_.nowMs() >= item.expiresAt) {
                    direct_.erase(it);
                    directNextAt_.erase(item.id);
                } else {
                    ++it->second.attempts;
                    directNextAt_[item.id] =
                        clock_.nowMs() + db::AlertOutbox::backoffMs(it->second.attempts, jitter);
                }
            }
        }
    }
    if (result.ok) {
        log_.info("alert notification delivered", std::move(fields));
    } else {
        fields["error"] = result.error;
        log_.warn("alert notification failed", std::move(fields));
    }
    if (item.id < 0) return;
    try {
        if (result.ok)
            outbox_.delivered(item.id, std::chrono::steady_clock::now() + std::chrono::seconds(2));
        else
            outbox_.failed(item, result.error, jitter,
                           std::chrono::steady_clock::now() + std::chrono::seconds(2));
    } catch (const db::EngineError&) {
        // not recorded: it is due again and sent again (at least once)
    }
}

}  // namespace calltrack::app
