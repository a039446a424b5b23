#pragma once
// When a bot whose warm-up failed may be tried again: exponential back-off
// with jitter. The n-th consecutive failure waits base * 2^(n-1), capped at
// max, of which a random half is jitter ("equal jitter"): retries of many
// bots that failed together (an endpoint outage) spread out instead of
// arriving in lockstep, yet never come sooner than half the back-off.

#include <cstdint>
#include <mutex>
#include <random>

namespace calltrack::app {

class WarmupBackoff {
  public:
    struct Options {
        int64_t baseMs = 1000;
        int64_t maxMs = 60'000;
    };
    explicit WarmupBackoff(Options options, uint64_t seed = std::random_device{}())
        : options_(options), rng_(seed) {}

    // The delay after the `failures`-th consecutive failure (failures >= 1).
    int64_t delayMs(int64_t failures);
    // The same without jitter: the upper bound of delayMs.
    int64_t ceilingMs(int64_t failures) const;

  private:
    Options options_;
    std::mutex mutex_;
    std::mt19937_64 rng_;  // guarded by mutex_
};

}  // namespace calltrack::app
