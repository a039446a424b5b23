#pragma once
// Per-endpoint circuit breaker for bot warm-ups. After `failureThreshold`
// consecutive failures an endpoint (a warmup URL) is open: no warm-up is sent
// to it for `coolOffMs`. Then it is half-open: exactly one trial request may
// go; its success closes the breaker, its failure opens it for another
// cool-off. This sits above the per-bot back-off (bots.retry_at): back-off
// spaces the retries of one bot; the breaker stops hammering an endpoint that
// is down, whichever bots point at it.
//
// State is in memory, in the scheduler's leader process: a new leader starts
// with every breaker closed and relearns (at most `failureThreshold` more
// failed requests per endpoint). Thread-safe.

#include "db/Clock.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace calltrack::app {

class CircuitBreaker {
  public:
    struct Options {
        int failureThreshold = 5;
        int64_t coolOffMs = 30'000;
    };
    enum class State { closed, open, half_open };

    CircuitBreaker(const db::Clock& clock, Options options) : clock_(clock), options_(options) {}

    // Whether a request may go to `endpoint` now. In half-open state the
    // first caller gets the one trial; a trial that never reports back
    // (lost) is replaced after another cool-off.
    bool allow(const std::string& endpoint);
    void recordSuccess(const std::string& endpoint);
    void recordFailure(const std::string& endpoint);
    State state(const std::string& endpoint) const;
    int openCount() const;  // endpoints open or half-open now

  private:
    struct Entry {
        int consecutiveFailures = 0;
        int64_t openUntil = 0;        // > 0: opened; allow a trial from then on
        int64_t trialStartedAt = -1;  // >= 0: the half-open trial is in flight
    };
    State stateOf(const Entry& e, int64_t now) const;

    const db::Clock& clock_;
    Options options_;
    mutable std::mutex mutex_;
    std::map<std::string, Entry> entries_;  // guarded by mutex_
};

const char* nameOf(CircuitBreaker::State state);

}  // namespace calltrack::app
