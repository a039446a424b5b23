#include "app/warmup/CircuitBreaker.h"

namespace calltrack::app {

const char* nameOf(CircuitBreaker::State state) {
    switch (state) {
        case CircuitBreaker::State::closed:
            return "closed";
        case CircuitBreaker::State::open:
            return "open";
        case CircuitBreaker::State::half_open:
            return "half_open";
    }
    return "closed";
}

CircuitBreaker::State CircuitBreaker::stateOf(const Entry& e, int64_t now) const {
    if (e.consecutiveFailures < options_.failureThreshold) return State::closed;
    return now < e.openUntil ? State::open : State::half_open;
}

bool CircuitBreaker::allow(const std::string& endpoint) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(endpoint);
    if (it == entries_.end()) return true;
    Entry& e = it->second;
    const int64_t now = clock_.nowMs();
    switch (stateOf(e, now)) {
        case State::closed:
            return true;
        case State::open:
            return false;
        case State::half_open:
            if (e.trialStartedAt >= 0 && now - e.trialStartedAt < options_.coolOffMs) return false;
            e.trialStartedAt = now;
            return true;
    }
    return false;
}

void CircuitBreaker::recordSuccess(const std::string& endpoint) {
    std::lock_guard lock(mutex_);
    entries_.erase(endpoint);
}

void CircuitBreaker::recordFailure(const std::string& endpoint) {
    std::lock_guard lock(mutex_);
    Entry& e = entries_[endpoint];
    ++e.consecutiveFailures;
    e.trialStartedAt = -1;
    if (e.consecutiveFailures >= options_.failureThreshold)
        e.openUntil = clock_.nowMs() + options_.coolOffMs;
}

CircuitBreaker::State CircuitBreaker::state(const std::string& endpoint) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(endpoint);
    return it == entries_.end() ? State::closed : stateOf(it->second, clock_.nowMs());
}

int CircuitBreaker::openCount() const {
    std::lock_guard lock(mutex_);
    const int64_t now = clock_.nowMs();
    int n = 0;
    for (const auto& [endpoint, e] : entries_) n += stateOf(e, now) != State::closed;
    return n;
}

}  // namespace calltrack::app
