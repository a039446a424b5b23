#pragma once
// What only this process sees, observed as it happens (prometheus-cpp
// histograms and counters in this process's registry): HTTP requests by
// route and status, writer batches and commit latency, bot warm-ups. Every
// series carries process="<holder id>" so several serves on one database can
// be scraped side by side (docs/MONITORING.md).
//
// Cost on the request path: one shared-lock lookup of the (route, status)
// series (created once, on first use) and its histogram's own mutex.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace calltrack::api {

class ProcessMetrics {
  public:
    explicit ProcessMetrics(std::string process);
    ProcessMetrics(const ProcessMetrics&) = delete;
    ProcessMetrics& operator=(const ProcessMetrics&) = delete;

    // `route`: "METHOD /pattern" as the router matched it; empty when no
    // route matched (404, 401 before routing): counted as route "unmatched".
    void observeRequest(const std::string& route, int status, double seconds);
    void observeBatch(size_t ops, double seconds, bool committed);
    void observeWarmup(bool ok, double seconds);

    const std::string& process() const { return process_; }
    prometheus::Registry& registry() { return *registry_; }

  private:
    struct RequestSeries {
        prometheus::Counter* count;
        prometheus::Histogram* latency;
    };
    std::string process_;
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>& requests_;
    prometheus::Family<prometheus::Histogram>& requestLatency_;
    prometheus::Histogram& batchOps_;
    prometheus::Histogram& commitLatency_;
    prometheus::Counter& batchesFailed_;
    prometheus::Family<prometheus::Counter>& warmups_;
    prometheus::Family<prometheus::Histogram>& warmupLatency_;
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::shared_mutex mutex_;
    // route -> status -> series; found without building a string.
    std::unordered_map<std::string, std::map<int, RequestSeries>, Hash, std::equal_to<>>
        series_;  // guarded by mutex_
};

}  // namespace calltrack::api
