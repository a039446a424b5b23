#include "app/jobs/PeriodicJob.h"

namespace calltrack::app {

PeriodicJob::PeriodicJob(std::string name, std::chrono::milliseconds interval,
                         std::function<void()> tick, api::JsonLog& log)
    : name_(std::move(name)), interval_(interval), tick_(std::move(tick)), log_(log) {
    thread_ = std::jthread([this](std::stop_token st) { loop(st); });
}

PeriodicJob::~PeriodicJob() {
    stop();
}

void PeriodicJob::wake() {
    {
        std::lock_guard lock(mutex_);
        woken_ = true;
    }
    cv_.notify_all();
}

void PeriodicJob::stop() {
    if (!thread_.joinable()) return;
    stopping_.store(true);
    thread_.request_stop();
    cv_.notify_all();
    thread_.join();
}

void PeriodicJob::loop(std::stop_token stop) {
    while (!stop.stop_requested()) {
        try {
            tick_();
        } catch (const std::exception& e) {
            log_.error("background job failed; retrying next interval",
                       {{"job", name_}, {"error", e.what()}});
        }
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, stop, interval_, [&] { return woken_; });
        woken_ = false;
    }
}

}  // namespace calltrack::app
