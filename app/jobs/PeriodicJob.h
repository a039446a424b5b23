#pragma once
// A background thread that runs `tick` every `interval` until stopped. The
// thread is joined on stop() and in the destructor; a tick that throws is
// logged and the job goes on.

#include "api/logging/JsonLog.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace calltrack::app {

class PeriodicJob {
  public:
    PeriodicJob(std::string name, std::chrono::milliseconds interval, std::function<void()> tick,
                api::JsonLog& log);
    ~PeriodicJob();
    PeriodicJob(const PeriodicJob&) = delete;
    PeriodicJob& operator=(const PeriodicJob&) = delete;

    // Runs the next tick now instead of at the end of the interval.
    void wake();
    void stop();
    // True once stop() was called: a tick that loops checks it.
    bool stopping() const { return stopping_.load(); }

  private:
    void loop(std::stop_token stop);

    std::string name_;
    std::chrono::milliseconds interval_;
    std::function<void()> tick_;
    api::JsonLog& log_;
    std::mutex mutex_;
    std::condition_variable_any cv_;
    bool woken_ = false;  // guarded by mutex_
    std::atomic<bool> stopping_{false};
    std::jthread thread_;
};

}  // namespace calltrack::app
