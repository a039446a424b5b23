#pragma once
// Capacity planning from the utilization history, for one client or the
// system (docs/MONITORING.md, "Capacity planning"):
//  * busy-hour offered traffic A = the busiest hour's admissions × the mean
//    holding time over the window, in Erlangs;
//  * peak concurrency per day (p95, p99, max of the per-minute peaks; of the
//    per-hour peaks for days older than the minute retention);
//  * measured blocking = refusals by a limit ÷ (admissions + those) over
//    the window;
//  * the Erlang B limit for the target blocking next to the current limit,
//    with a verdict, and for bots_required clients the bots it needs;
//  * the trend: a least-squares line through the daily peaks, and the days
//    until it reaches the limit.

#include "db/history/UsageHistory.h"
#include "db/storage/Connection.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

struct CapacityOptions {
    double targetBlocking = 0.01;
    int64_t windowDays = 28;
    int64_t trendMinDays = 14;  // fewer days with data: "not enough history"
};

struct DailyPeak {
    std::string date;  // yyyy-mm-dd (UTC)
    int64_t p95 = 0, p99 = 0, max = 0;
};

struct CapacityReport {
    std::string clientId;  // "*" for the system
    int64_t currentLimit = 0;
    std::optional<int64_t> busyHourAt{};
    int64_t busyHourAdmissions = 0;
    std::optional<double> meanHoldingS{};
    std::optional<double> offeredErlangs{};
    // attempts = admissions + refusals by a limit (client or global);
    // otherRefusals: disabled client, unknown id, no bot (not blocking).
    int64_t attempts = 0, refusals = 0, otherRefusals = 0;
    std::optional<double> measuredBlocking{};
    std::optional<int64_t> recommendedLimit{};
    // over-provisioned | fits | under-provisioned | not enough history
    std::string verdict;
    std::vector<DailyPeak> peaks;
    std::string trend;  // growing | flat or shrinking | not enough history
    std::optional<double> growthPerDay{};
    std::optional<double> daysUntilLimit{};
    bool botsRequired = false;
    std::optional<int64_t> botsNeeded{};
    double botCapacity = 1;

    nlohmann::json toJson(double targetBlocking) const;

    // nowMs: the window is the `windowDays` before it. `system`: the
    // system's samples of the window (systemSamples), read once for many
    // reports; read here when absent.
    static CapacityReport forClient(Connection& c, const std::string& clientId, int64_t nowMs,
                                    const CapacityOptions& options,
                                    const std::vector<UsageSample>* system = nullptr);
    static CapacityReport forSystem(Connection& c, int64_t nowMs, const CapacityOptions& options,
                                    const std::vector<UsageSample>* system = nullptr);
    static std::vector<UsageSample> systemSamples(Connection& c, int64_t nowMs,
                                                  const CapacityOptions& options);
    // The verdict for a current limit against the recommended one: fits
    // from the recommendation up to 25 % (at least 2 lines) above it.
    static std::string verdictFor(int64_t currentLimit, int64_t recommended);
};

}  // namespace calltrack::db
