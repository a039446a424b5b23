#include "app/warmup/WarmupBackoff.h"

#include <algorithm>

namespace calltrack::app {

int64_t WarmupBackoff::ceilingMs(int64_t failures) const {
    int64_t delay = options_.baseMs;
    for (int64_t i = 1; i < failures && delay < options_.maxMs; ++i) delay *= 2;
    return std::min(delay, options_.maxMs);
}

int64_t WarmupBackoff::delayMs(int64_t failures) {
    const int64_t ceiling = ceilingMs(std::max<int64_t>(failures, 1));
    const int64_t half = ceiling / 2;
    std::lock_guard lock(mutex_);
    return half + std::uniform_int_distribution<int64_t>(0, ceiling - half)(rng_);
}

}  // namespace calltrack::app
