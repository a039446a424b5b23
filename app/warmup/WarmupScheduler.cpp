#include "app/warmup/WarmupScheduler.h"

#include "db/EngineError.h"

namespace calltrack::app {

WarmupScheduler::WarmupScheduler(db::WarmupClaims& claims, db::LeaderLease& lease,
                                 const db::Clock& clock, api::JsonLog& log,
                                 WarmupSchedulerOptions options)
    : claims_(claims),
      lease_(lease),
      clock_(clock),
      log_(log),
      options_(options),
      breaker_(clock, options.breaker),
      backoff_(options.backoff) {
    if (options_.concurrency < 1) options_.concurrency = 1;
}

WarmupScheduler::~WarmupScheduler() {
    stop();
}

void WarmupScheduler::start() {
    {
        std::lock_guard lock(plannerMutex_);
        if (planner_) return;
        planner_ = std::make_unique<PeriodicJob>(
            "bot-scheduler", options_.interval, [this] { runOnce(); }, log_);
    }
    for (int i = 0; i < options_.concurrency; ++i)
        workers_.emplace_back([this](std::stop_token st) { work(st); });
    watchdog_ = std::make_unique<PeriodicJob>(
        "warm-up-deadlines", std::chrono::milliseconds(100), [this] { client_.stopOverdue(); },
        log_);
}

void WarmupScheduler::stop() {
    PeriodicJob* planner = nullptr;
    {
        std::lock_guard lock(plannerMutex_);
        planner = planner_.get();
    }
    if (!planner) return;
    planner->stop();  // joins the planner thread: no new claims from here on
    watchdog_.reset();
    client_.stopAll();
    for (auto& w : workers_) w.request_stop();
    queueCv_.notify_all();
    // httplib's Client::stop() does nothing to a request that has not opened
    // its socket yet, so one stopAll() can miss a request starting at that
    // moment, which would then run to its timeout (up to 10 min): repeat it
    // until no request is left.
    while (client_.activeRequests() > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        client_.stopAll();
    }
    workers_.clear();  // joins; workers may still call wake() until here
    {
        std::lock_guard lock(plannerMutex_);
        planner_.reset();
    }
    lease_.release();
}

void WarmupScheduler::wake() {
    std::lock_guard lock(plannerMutex_);
    if (planner_) planner_->wake();
}

int WarmupScheduler::runOnce() {
    std::lock_guard planLock(planMutex_);
    const bool wasHeld = lease_.held();
    const bool held = lease_.acquireOrRenew();
    if (held != wasHeld) {
        log_.info(held ? "bot-scheduler lease taken: this process warms bots"
                       : "bot-scheduler lease lost",
                  {{"holder", lease_.holder()}});
    }
    if (!held) return 0;

    db::PlanOptions plan;
    {
        std::lock_guard lock(mutex_);
        plan.maxJobs = std::max(0, options_.concurrency - static_cast<int>(inFlight_.size()));
        plan.inFlight = inFlight_;
    }
    plan.endpointAllowed = [this](const std::string& url) { return breaker_.allow(url); };
    const auto result = claims_.plan(plan);
    if (result.stuckReset + result.expired + result.cooled > 0) {
        log_.info("bot-scheduler housekeeping", {{"stuck_warming_reset", result.stuckReset},
                                                 {"idle_expired", result.expired},
                                                 {"cooled_above_max_warm", result.cooled}});
    }
    if (result.jobs.empty()) return 0;
    {
        std::lock_guard lock(mutex_);
        for (const auto& job : result.jobs) {
            inFlight_.insert(job.botId);
            queue_.push_back(job);
        }
        stats_.dispatched += static_cast<int64_t>(result.jobs.size());
        stats_.inFlight = static_cast<int>(inFlight_.size());
        stats_.maxInFlight = std::max(stats_.maxInFlight, stats_.inFlight);
    }
    queueCv_.notify_all();
    return static_cast<int>(result.jobs.size());
}

void WarmupScheduler::work(std::stop_token stop) {
    for (;;) {
        db::WarmupJob job;
        {
            std::unique_lock lock(mutex_);
            if (!queueCv_.wait(lock, stop, [&] { return !queue_.empty(); })) return;
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        log_.debug("warm-up sent", {{"attempt_id", job.attemptId},
                                    {"bot_id", job.botId},
                                    {"client_id", job.forClient},
                                    {"refresh", job.refresh}});
        const auto outcome = client_.warm(job);
        finish(job, outcome);
        if (stop.stop_requested()) return;
        wake();
    }
}

void WarmupScheduler::finish(const db::WarmupJob& job, const WarmupOutcome& outcome) {
    if (outcome.aborted) {
        // stop() cut the request short. Recording that as a failure would
        // charge the bot a failure and a back-off (and its endpoint a breaker
        // failure) for our own shutdown. Instead the bot is left as it is: a
        // warming one is reset to cold by the next leader once warming_until
        // passes, as after a crash (a refreshed one simply stays ready).
        log_.info("warm-up abandoned: the scheduler is stopping",
                  {{"attempt_id", job.attemptId},
                   {"bot_id", job.botId},
                   {"client_id", job.forClient},
                   {"refresh", job.refresh},
                   {"duration_ms", outcome.durationMs}});
        std::lock_guard lock(mutex_);
        inFlight_.erase(job.botId);
        stats_.inFlight = static_cast<int>(inFlight_.size());
        return;
    }
    bool applied = false;
    std::string recordError;
    try {
        if (outcome.ok) {
            breaker_.recordSuccess(job.url);
            applied = claims_.recordSuccess(job, outcome.durationMs);
        } else {
            breaker_.recordFailure(job.url);
            const int64_t retryAt = clock_.nowMs() + backoff_.delayMs(job.failuresBefore + 1);
            applied = claims_.recordFailure(job, outcome.error, retryAt);
        }
    } catch (const std::exception& e) {
        // The bot stays warming; the next leader pass resets it to cold once
        // its warming_until passes, and it is warmed again.
        recordError = e.what();
    }
    nlohmann::json fields = {{"attempt_id", job.attemptId},
                             {"bot_id", job.botId},
                             {"client_id", job.forClient},
                             {"url", job.url},
                             {"refresh", job.refresh},
                             {"outcome", outcome.ok ? "ok" : "failed"},
                             {"duration_ms", outcome.durationMs},
                             {"recorded", applied}};
    if (outcome.httpStatus) fields["http_status"] = outcome.httpStatus;
    if (!outcome.ok) {
        fields["error"] = outcome.error;
        fields["breaker"] = nameOf(breaker_.state(job.url));
    }
    if (!recordError.empty()) {
        fields["record_error"] = recordError;
        log_.error("warm-up outcome could not be recorded", fields);
    } else if (outcome.ok) {
        log_.info("warm-up done", fields);
    } else {
        log_.warn("warm-up failed", fields);
    }
    if (options_.onOutcome && !outcome.aborted)
        options_.onOutcome(outcome.ok, static_cast<double>(outcome.durationMs) / 1000.0);
    std::lock_guard lock(mutex_);
    inFlight_.erase(job.botId);
    stats_.inFlight = static_cast<int>(inFlight_.size());
    if (outcome.ok)
        ++stats_.succeeded;
    else
        ++stats_.failed;
    if (!applied && recordError.empty()) ++stats_.stale;
}

WarmupScheduler::Stats WarmupScheduler::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

}  // namespace calltrack::app
