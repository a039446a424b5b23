#include "db/storage/DatabaseBreaker.h"

namespace calltrack::db {

const char* nameOf(DatabaseBreaker::State state) {
    switch (state) {
        case DatabaseBreaker::State::closed:
            return "closed";
        case DatabaseBreaker::State::open:
            return "open";
        case DatabaseBreaker::State::half_open:
            return "half_open";
    }
    return "closed";
}

void DatabaseBreaker::onChange(Listener listener) {
    std::lock_guard lock(mutex_);
    listener_ = std::move(listener);
}

void DatabaseBreaker::move(State to, const std::string& why, std::unique_lock<std::mutex>& lock) {
    const State from = s_.state;
    if (from == to) return;
    s_.state = to;
    s_.changedAtMs = clock_.nowMs();
    if (to == State::open) ++s_.opened;
    auto listener = listener_;
    lock.unlock();
    if (listener) listener(from, to, why);
    lock.lock();
}

bool DatabaseBreaker::allow() {
    std::unique_lock lock(mutex_);
    const int64_t now = clock_.nowMs();
    if (s_.state == State::closed) return true;
    if (s_.state == State::open) {
        if (now - s_.changedAtMs < options_.openMs) {
            ++s_.rejected;
            return false;
        }
        trialStartedAt_ = now;
        move(State::half_open, "trying the database again", lock);
        return true;
    }
    // half_open: one trial at a time; a lost trial is replaced.
    if (trialStartedAt_ >= 0 && now - trialStartedAt_ < options_.openMs) {
        ++s_.rejected;
        return false;
    }
    trialStartedAt_ = now;
    return true;
}

void DatabaseBreaker::success() {
    std::unique_lock lock(mutex_);
    s_.consecutiveFailures = 0;
    trialStartedAt_ = -1;
    if (s_.state != State::closed) move(State::closed, "a write committed", lock);
}

void DatabaseBreaker::failure(const std::string& why) {
    std::unique_lock lock(mutex_);
    ++s_.consecutiveFailures;
    s_.lastError = why;
    if (s_.state == State::half_open) {
        trialStartedAt_ = -1;
        move(State::open, why, lock);
    } else if (s_.state == State::closed && s_.consecutiveFailures >= options_.failureThreshold) {
        move(State::open, why, lock);
    } else if (s_.state == State::open) {
        // A write that started before the breaker opened: keep it open from now.
        s_.changedAtMs = clock_.nowMs();
    }
}

DatabaseBreaker::Snapshot DatabaseBreaker::snapshot() const {
    std::lock_guard lock(mutex_);
    return s_;
}

}  // namespace calltrack::db
