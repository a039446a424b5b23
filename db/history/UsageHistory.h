#pragma once
// Reads the utilization history back: the rows of one client (or the
// system, '*') in [from, to), re-bucketed into `step`-wide samples aligned
// to the epoch. A bucket is never finer than the rows it is made of: older
// than the minute retention only hourly rows exist, and those samples are an
// hour wide (sample.stepS says which). Buckets without any row are omitted
// (all zero: nothing live, nothing happened).

#include "db/Connection.h"
#include "db/history/EventTally.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

struct UsageSample {
    int64_t at = 0;  // bucket start, ms
    int64_t stepS = 60;
    int64_t samples = 0;             // utilization samples of the system in the bucket
    int64_t activeMax = 0;           // most live calls seen at a sample
    double activeMean = 0;           // mean live calls over the samples
    std::optional<int64_t> limit{};  // highest limit seen
    UsageDelta counts;
    // Mean admission-to-end time of the calls that ended in the bucket.
    std::optional<double> meanHoldingS() const {
        if (counts.ended() == 0) return std::nullopt;
        return static_cast<double>(counts.holdingMsSum) / counts.ended() / 1000.0;
    }
    // The shape GET /v1/usage/history and `calltrack history --json` give.
    nlohmann::json toJson() const;
};

class UsageHistory {
  public:
    static constexpr int64_t kMaxSamples = 10000;  // per query

    // `clientId` "*" for the system; stepS a multiple of 60.
    static std::vector<UsageSample> range(Connection& c, const std::string& clientId,
                                          int64_t fromMs, int64_t toMs, int64_t stepS);
};

}  // namespace calltrack::db
