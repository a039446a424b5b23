#pragma once
// The circuit breaker around this process's writes. When the database keeps
// failing writes (locked past their deadlines, I/O errors, disk full), every
// new write would otherwise wait out its whole deadline first; once the
// breaker is open they are answered at once instead (the HTTP layer spools
// events and refuses admissions), so threads and clients are not held.
//
//   closed    -> open       after `failureThreshold` failed writes in a row
//   open      -> half_open  after `openMs`: the next write is the one trial
//                           (the spool replay job makes one if no request does)
//   half_open -> closed     the trial committed
//   half_open -> open       the trial failed, or never reported back within
//                           `openMs` (then another trial is allowed)
//
// A success while closed resets the count. Thread-safe; time from the
// injected clock. State changes are reported to the listener (logged by
// serve) outside the lock.

#include "db/Clock.h"

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace calltrack::db {

class DatabaseBreaker {
  public:
    struct Options {
        int failureThreshold = 3;
        int64_t openMs = 1000;
    };
    enum class State { closed, open, half_open };
    struct Snapshot {
        State state = State::closed;
        std::string lastError;    // of the last failure
        int64_t changedAtMs = 0;  // of the last state change
        uint64_t opened = 0;      // times it opened
        uint64_t rejected = 0;    // writes answered at once while open
        int consecutiveFailures = 0;
    };
    using Listener = std::function<void(State from, State to, const std::string& why)>;

    DatabaseBreaker(const Clock& clock, Options options) : clock_(clock), options_(options) {}

    // Whether a write may go to the database now (true for the one trial).
    bool allow();
    void success();
    void failure(const std::string& why);
    Snapshot snapshot() const;
    void onChange(Listener listener);

  private:
    void move(State to, const std::string& why, std::unique_lock<std::mutex>& lock);

    const Clock& clock_;
    Options options_;
    mutable std::mutex mutex_;
    Snapshot s_;                   // guarded by mutex_
    int64_t trialStartedAt_ = -1;  // guarded by mutex_; >= 0: the half-open trial is out
    Listener listener_;            // set before use
};

const char* nameOf(DatabaseBreaker::State state);

}  // namespace calltrack::db
