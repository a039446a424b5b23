#pragma once
// Reads the utilization history back: the rows of one client (or the
// system, '*') in [from, to), re-bucketed into `step`-wide samples aligned
// to the epoch. A bucket is never finer than the rows it is made of: older
// than the minute retention only hourly rows exist, and those samples are an
// hour wide (sample.stepS says which). Buckets without any row are omitted
// (all zero: nothing live, nothing happened).

#include "db/history/EventTally.h"
#include "db/storage/Connection.h"

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

    // `clientId` "*" for the system; stepS valid (validStep). An hourly row
    // is in the range when the hour overlaps [from, to). `system`: the
    // system's samples of the same range and step, when the caller has
    // them (saves reading them again per client).
    static std::vector<UsageSample> range(Connection& c, const std::string& clientId,
                                          int64_t fromMs, int64_t toMs, int64_t stepS,
                                          const std::vector<UsageSample>* system = nullptr);
    // A multiple of 60 that divides an hour or is a multiple of one, so that
    // minute and hourly rows fall into whole buckets.
    static bool validStep(int64_t stepS) {
        return stepS >= 60 && stepS % 60 == 0 && (3600 % stepS == 0 || stepS % 3600 == 0);
    }
    // The finest valid step that keeps a span of `spanS` within 1000 samples.
    static int64_t defaultStep(int64_t spanS) {
        for (const int64_t s : {60, 120, 180, 240, 300, 360, 480, 600, 720, 900, 1200, 1800, 3600})
            if (spanS / s <= 1000) return s;
        return (spanS / 1000 / 3600 + 1) * 3600;
    }
};

}  // namespace calltrack::db
