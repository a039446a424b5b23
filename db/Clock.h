#pragma once
// Time source for everything that expires: call timeouts, leases, the reaper.
// Injected so that tests move time forward instead of sleeping.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace calltrack::db {

class Clock {
  public:
    virtual ~Clock() = default;
    // Milliseconds since the Unix epoch (UTC). Shared by all processes on a
    // host, which is why it is wall-clock and not steady time.
    virtual int64_t nowMs() const = 0;
};

class SystemClock final : public Clock {
  public:
    int64_t nowMs() const override {
        using namespace std::chrono;
        return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    }
};

// A clock that moves only when told to; safe to read from many threads.
class ManualClock final : public Clock {
  public:
    explicit ManualClock(int64_t startMs = 1'700'000'000'000) : now_(startMs) {}
    int64_t nowMs() const override { return now_.load(std::memory_order_acquire); }
    void advanceMs(int64_t ms) { now_.fetch_add(ms, std::memory_order_acq_rel); }
    void setMs(int64_t ms) { now_.store(ms, std::memory_order_release); }

  private:
    std::atomic<int64_t> now_;
};

}  // namespace calltrack::db
