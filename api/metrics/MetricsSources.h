#pragma once
// What GET /metrics needs from serve beyond the ApiContext: this process's
// registry, its leases, its warm-ups in flight, and the client-label bound.

#include "api/metrics/ProcessMetrics.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace calltrack::api {

struct MetricsSources {
    ProcessMetrics* process = nullptr;  // none: no per-process histograms (tests)
    // (lease name, held by this process now)
    std::function<std::vector<std::pair<std::string, bool>>()> leasesHeld{};
    std::function<int()> warmupsInFlight{};
    // Per-client series for at most this many clients (by id); the others
    // are summed under client="_other" (docs/MONITORING.md).
    size_t maxClientLabels = 500;
};

}  // namespace calltrack::api
