#include "api/metrics/ProcessMetrics.h"

#include <mutex>

namespace calltrack::api {

namespace {
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
const prometheus::Histogram::BucketBoundaries kBatchBuckets = {1,  2,  4,   8,   16,
                                                               32, 64, 128, 256, 512};
const prometheus::Histogram::BucketBoundaries kWarmupBuckets = {0.1, 0.25, 0.5, 1,  2,
                                                                5,   10,   20,  30, 60};
}  // namespace

ProcessMetrics::ProcessMetrics(std::string process)
    : process_(std::move(process)),
      registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("calltrack_http_requests_total")
                    .Help("HTTP requests answered by this process, by route and status")
                    .Labels({{"process", process_}})
                    .Register(*registry_)),
      requestLatency_(prometheus::BuildHistogram()
                          .Name("calltrack_http_request_duration_seconds")
                          .Help("Time from a request's head to its answer, by route and status")
                          .Labels({{"process", process_}})
                          .Register(*registry_)),
      batchOps_(prometheus::BuildHistogram()
                    .Name("calltrack_writer_batch_ops")
                    .Help("Write operations per group-commit transaction")
                    .Labels({{"process", process_}})
                    .Register(*registry_)
                    .Add({}, kBatchBuckets)),
      commitLatency_(prometheus::BuildHistogram()
                         .Name("calltrack_writer_batch_duration_seconds")
                         .Help("Time from BEGIN to COMMIT (fsync included) of a writer batch")
                         .Labels({{"process", process_}})
                         .Register(*registry_)
                         .Add({}, kLatencyBuckets)),
      batchesFailed_(prometheus::BuildCounter()
                         .Name("calltrack_writer_batches_failed_total")
                         .Help("Writer batches that did not commit (locked, I/O error, full disk)")
                         .Labels({{"process", process_}})
                         .Register(*registry_)
                         .Add({})),
      warmups_(prometheus::BuildCounter()
                   .Name("calltrack_bot_warmups_total")
                   .Help("Bot warm-up requests finished by this process, by outcome")
                   .Labels({{"process", process_}})
                   .Register(*registry_)),
      warmupLatency_(prometheus::BuildHistogram()
                         .Name("calltrack_bot_warmup_duration_seconds")
                         .Help("Time a bot warm-up request took, by outcome")
                         .Labels({{"process", process_}})
                         .Register(*registry_)) {
    // Both outcomes exist from the start, so rate() sees the first failure.
    for (const char* outcome : {"ok", "failed"}) {
        warmups_.Add({{"outcome", outcome}});
        warmupLatency_.Add({{"outcome", outcome}}, kWarmupBuckets);
    }
}

void ProcessMetrics::observeRequest(const std::string& route, int status, double seconds) {
    const std::string_view key = route.empty() ? std::string_view("unmatched") : route;
    {
        std::shared_lock lock(mutex_);
        if (const auto r = series_.find(key); r != series_.end()) {
            if (const auto it = r->second.find(status); it != r->second.end()) {
                it->second.count->Increment();
                it->second.latency->Observe(seconds);
                return;
            }
        }
    }
    // Bounded: routes are the router's patterns, statuses HTTP's codes.
    std::string method = "any";
    std::string pattern = "unmatched";
    if (const auto space = key.find(' '); space != std::string_view::npos) {
        method = std::string(key.substr(0, space));
        pattern = std::string(key.substr(space + 1));
    }
    const prometheus::Labels labels = {
        {"method", method}, {"route", pattern}, {"status", std::to_string(status)}};
    std::unique_lock lock(mutex_);
    auto& byStatus = series_[std::string(key)];
    auto [it, added] = byStatus.try_emplace(status, RequestSeries{nullptr, nullptr});
    if (added) it->second = {&requests_.Add(labels), &requestLatency_.Add(labels, kLatencyBuckets)};
    it->second.count->Increment();
    it->second.latency->Observe(seconds);
}

void ProcessMetrics::observeBatch(size_t ops, double seconds, bool committed) {
    if (!committed) {
        batchesFailed_.Increment();
        return;
    }
    batchOps_.Observe(static_cast<double>(ops));
    commitLatency_.Observe(seconds);
}

void ProcessMetrics::observeWarmup(bool ok, double seconds) {
    const char* outcome = ok ? "ok" : "failed";
    warmups_.Add({{"outcome", outcome}}).Increment();
    warmupLatency_.Add({{"outcome", outcome}}, kWarmupBuckets).Observe(seconds);
}

}  // namespace calltrack::api
