#include "db/history/UsageHistory.h"

#include "db/IsoTime.h"

#include <algorithm>
#include <map>

namespace calltrack::db {

namespace {
const char* const kRows =
    "SELECT step_s, bucket_at, samples, active_max, active_sum, limit_seen, admissions, "
    "refused_client_limit, refused_global_limit, refused_disabled, refused_bot, refused_other, "
    "ended_completed, ended_busy, ended_failed, ended_no_answer, ended_canceled, timeouts, "
    "holding_ms_sum FROM usage_history INDEXED BY usage_history_by_client "
    "WHERE client_id = ?1 AND bucket_at >= ?2 AND bucket_at < ?3 ORDER BY bucket_at";

int64_t floorTo(int64_t t, int64_t step) {
    return t - ((t % step) + step) % step;
}

struct Row {
    int64_t stepS, at, samples, activeMax, activeSum;
    std::optional<int64_t> limit;
    UsageDelta d;
};

std::vector<Row> rowsOf(Connection& c, const std::string& clientId, int64_t from, int64_t to) {
    std::vector<Row> rows;
    Query q(c, kRows);
    q->bind(1, clientId);
    q->bind(2, floorTo(from, 3600000));  // an hourly row that began before `from`
    q->bind(3, to);
    while (q.step()) {
        Row r{};
        r.stepS = q->getColumn(0).getInt64();
        r.at = q->getColumn(1).getInt64();
        r.samples = q->getColumn(2).getInt64();
        r.activeMax = q->getColumn(3).getInt64();
        r.activeSum = q->getColumn(4).getInt64();
        if (!q->getColumn(5).isNull()) r.limit = q->getColumn(5).getInt64();
        int64_t* fields[] = {&r.d.admissions,      &r.d.refusedClientLimit, &r.d.refusedGlobalLimit,
                             &r.d.refusedDisabled, &r.d.refusedBot,         &r.d.refusedOther,
                             &r.d.endedCompleted,  &r.d.endedBusy,          &r.d.endedFailed,
                             &r.d.endedNoAnswer,   &r.d.endedCanceled,      &r.d.timeouts,
                             &r.d.holdingMsSum};
        for (int i = 0; i < 13; ++i) *fields[i] = q->getColumn(6 + i).getInt64();
        if (r.at + r.stepS * 1000 <= from) continue;  // ended before the range
        rows.push_back(r);
    }
    return rows;
}
}  // namespace

nlohmann::json UsageSample::toJson() const {
    const auto& d = counts;
    nlohmann::json j = {
        {"at", isoTime(at)},
        {"step_s", stepS},
        {"samples", samples},
        {"active_max", activeMax},
        {"active_mean", activeMean},
        {"limit", limit ? nlohmann::json(*limit) : nlohmann::json(nullptr)},
        {"admissions", d.admissions},
        {"refusals",
         {{"client_limit_reached", d.refusedClientLimit},
          {"global_limit_reached", d.refusedGlobalLimit},
          {"client_disabled", d.refusedDisabled},
          {"bot_unavailable", d.refusedBot},
          {"other", d.refusedOther},
          {"total", d.refused()}}},
        {"timeouts", d.timeouts},
        {"ended",
         {{"completed", d.endedCompleted},
          {"busy", d.endedBusy},
          {"failed", d.endedFailed},
          {"no_answer", d.endedNoAnswer},
          {"canceled", d.endedCanceled},
          {"timed_out", d.timeouts},
          {"total", d.ended()}}},
    };
    const auto holding = meanHoldingS();
    j["mean_holding_s"] = holding ? nlohmann::json(*holding) : nlohmann::json(nullptr);
    j["utilization_max_ratio"] = limit && *limit > 0
                                     ? nlohmann::json(static_cast<double>(activeMax) / *limit)
                                     : nlohmann::json(nullptr);
    return j;
}

std::vector<UsageSample> UsageHistory::range(Connection& c, const std::string& clientId,
                                             int64_t fromMs, int64_t toMs, int64_t stepS,
                                             const std::vector<UsageSample>* system) {
    // The system's samples count the bucket's samples even where this
    // client had no row (nothing live then): its mean divides by them.
    std::map<int64_t, int64_t> systemSamples;  // bucket -> samples
    const auto bucketOf = [&](const Row& r) {
        const int64_t width = std::max(stepS, r.stepS) * 1000;
        return std::make_pair(floorTo(r.at, width), width / 1000);
    };
    if (system) {
        for (const auto& s : *system) systemSamples[s.at] += s.samples;
    } else {
        for (const auto& r : rowsOf(c, kSystemRow, fromMs, toMs))
            systemSamples[bucketOf(r).first] += r.samples;
    }
    std::map<int64_t, UsageSample> out;
    std::map<int64_t, int64_t> activeSums;
    for (const auto& r : clientId == kSystemRow ? rowsOf(c, kSystemRow, fromMs, toMs)
                                                : rowsOf(c, clientId, fromMs, toMs)) {
        const auto [at, width] = bucketOf(r);
        auto& s = out[at];
        s.at = at;
        s.stepS = std::max(s.stepS, width);
        s.activeMax = std::max(s.activeMax, r.activeMax);
        activeSums[at] += r.activeSum;
        if (r.limit) s.limit = std::max(s.limit.value_or(0), *r.limit);
        s.counts.add(r.d);
    }
    std::vector<UsageSample> samples;
    samples.reserve(out.size());
    for (auto& [at, s] : out) {
        s.samples = systemSamples[at];
        s.activeMean = s.samples > 0 ? static_cast<double>(activeSums[at]) / s.samples : 0.0;
        samples.push_back(s);
    }
    return samples;
}

}  // namespace calltrack::db
