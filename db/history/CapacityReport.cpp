#include "db/history/CapacityReport.h"

#include "db/IsoTime.h"
#include "db/history/ErlangB.h"
#include "db/history/UsageHistory.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace calltrack::db {

namespace {
constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 24 * kHourMs;

const char* const kClientLimit = "SELECT max_concurrent, bots_required FROM clients WHERE id = ?1";
const char* const kSystemLimit = "SELECT global_limit FROM settings WHERE id = 1";
// Capacity per bot that may carry this client's calls (its own and shared ones).
const char* const kBotCapacity =
    "SELECT avg(capacity) FROM bots WHERE client_id = ?1 OR client_id IS NULL";

int64_t floorTo(int64_t t, int64_t step) {
    return t - ((t % step) + step) % step;
}

// Nearest-rank percentile of a sorted, non-empty series.
int64_t percentile(const std::vector<int64_t>& sorted, double p) {
    const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int64_t windowStart(int64_t nowMs, const CapacityOptions& o) {
    return floorTo(nowMs, kDayMs) - (o.windowDays - 1) * kDayMs;
}

CapacityReport analyse(Connection& c, const std::string& id, int64_t limit, int64_t nowMs,
                       const CapacityOptions& o, const std::vector<UsageSample>& system) {
    CapacityReport r;
    r.clientId = id;
    r.currentLimit = limit;
    const int64_t from = windowStart(nowMs, o);
    const auto samples =
        id == "*" ? system : UsageHistory::range(c, id, from, nowMs + 1, 60, &system);

    // Peaks count only buckets that were sampled (a backfilled day, folded
    // from old events but never sampled, has none); a client without a row
    // in a sampled bucket had no live call then: a zero.
    std::map<int64_t, size_t> sampledPerDay;
    for (const auto& s : system)
        if (s.samples > 0) ++sampledPerDay[floorTo(s.at, kDayMs)];
    std::map<int64_t, int64_t> admissionsPerHour;
    std::map<int64_t, std::vector<int64_t>> peaksPerDay;
    int64_t admissions = 0, ended = 0, holdingMs = 0;
    for (const auto& s : samples) {
        admissionsPerHour[floorTo(s.at, kHourMs)] += s.counts.admissions;
        if (s.samples > 0) peaksPerDay[floorTo(s.at, kDayMs)].push_back(s.activeMax);
        admissions += s.counts.admissions;
        // Blocking is what the limits refused; disabled clients, unknown
        // ids and missing bots are counted apart.
        r.refusals += s.counts.refusedClientLimit + s.counts.refusedGlobalLimit;
        r.otherRefusals += s.counts.refusedDisabled + s.counts.refusedBot + s.counts.refusedOther;
        ended += s.counts.ended();
        holdingMs += s.counts.holdingMsSum;
    }
    for (auto& [day, peaks] : peaksPerDay)
        if (const auto n = sampledPerDay[day]; peaks.size() < n) peaks.resize(n, 0);
    r.attempts = admissions + r.refusals;
    if (r.attempts > 0)
        r.measuredBlocking = static_cast<double>(r.refusals) / static_cast<double>(r.attempts);
    if (ended > 0) r.meanHoldingS = static_cast<double>(holdingMs) / ended / 1000.0;
    for (const auto& [hour, n] : admissionsPerHour) {
        if (!r.busyHourAt || n > r.busyHourAdmissions) {
            r.busyHourAt = hour;
            r.busyHourAdmissions = n;
        }
    }
    if (r.busyHourAt && r.meanHoldingS) {
        r.offeredErlangs = static_cast<double>(r.busyHourAdmissions) * *r.meanHoldingS / 3600.0;
        r.recommendedLimit = ErlangB::linesFor(*r.offeredErlangs, o.targetBlocking);
        r.verdict = CapacityReport::verdictFor(limit, *r.recommendedLimit);
    } else {
        r.verdict = "not enough history";
    }

    // The trend: the daily peaks of the last 4 weeks, whatever the window.
    const int64_t trendFrom = floorTo(nowMs, kDayMs) - 27 * kDayMs;
    std::vector<std::pair<double, double>> points;  // (day index, daily max)
    for (auto& [day, peaks] : peaksPerDay) {
        std::sort(peaks.begin(), peaks.end());
        r.peaks.push_back({isoTime(day).substr(0, 10), percentile(peaks, 0.95),
                           percentile(peaks, 0.99), peaks.back()});
        if (day >= trendFrom)
            points.emplace_back(static_cast<double>(day - from) / kDayMs,
                                static_cast<double>(peaks.back()));
    }
    if (static_cast<int64_t>(points.size()) < o.trendMinDays) {
        r.trend = "not enough history";
        return r;
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    const double n = static_cast<double>(points.size());
    for (const auto& [x, y] : points) {
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    const double intercept = (sy - slope * sx) / n;
    r.growthPerDay = slope;
    if (slope <= 1e-9) {
        r.trend = "flat or shrinking";
        return r;
    }
    r.trend = "growing";
    const double today = static_cast<double>(floorTo(nowMs, kDayMs) - from) / kDayMs;
    const double fittedToday = intercept + slope * today;
    r.daysUntilLimit = std::max(0.0, (static_cast<double>(limit) - fittedToday) / slope);
    return r;
}
}  // namespace

std::string CapacityReport::verdictFor(int64_t currentLimit, int64_t recommended) {
    if (currentLimit < recommended) return "under-provisioned";
    const auto roomy =
        std::max<int64_t>(recommended + 2, static_cast<int64_t>(std::ceil(recommended * 1.25)));
    return currentLimit > roomy ? "over-provisioned" : "fits";
}

std::vector<UsageSample> CapacityReport::systemSamples(Connection& c, int64_t nowMs,
                                                       const CapacityOptions& options) {
    return UsageHistory::range(c, "*", windowStart(nowMs, options), nowMs + 1, 60);
}

CapacityReport CapacityReport::forClient(Connection& c, const std::string& clientId, int64_t nowMs,
                                         const CapacityOptions& options,
                                         const std::vector<UsageSample>* system) {
    int64_t limit = 0;
    bool bots = false;
    {
        Query q(c, kClientLimit);
        q->bind(1, clientId);
        if (q.step()) {
            limit = q->getColumn(0).getInt64();
            bots = q->getColumn(1).getInt() == 1;
        }
    }
    auto r = analyse(c, clientId, limit, nowMs, options,
                     system ? *system : systemSamples(c, nowMs, options));
    r.botsRequired = bots;
    if (bots) {
        Query q(c, kBotCapacity);
        q->bind(1, clientId);
        if (q.step() && !q->getColumn(0).isNull())
            r.botCapacity = std::max(1.0, q->getColumn(0).getDouble());
        if (r.recommendedLimit)
            r.botsNeeded = static_cast<int64_t>(
                std::ceil(static_cast<double>(*r.recommendedLimit) / r.botCapacity));
    }
    return r;
}

CapacityReport CapacityReport::forSystem(Connection& c, int64_t nowMs,
                                         const CapacityOptions& options,
                                         const std::vector<UsageSample>* system) {
    int64_t limit = 0;
    {
        Query q(c, kSystemLimit);
        if (q.step()) limit = q->getColumn(0).getInt64();
    }
    return analyse(c, "*", limit, nowMs, options,
                   system ? *system : systemSamples(c, nowMs, options));
}

nlohmann::json CapacityReport::toJson(double targetBlocking) const {
    const auto opt = [](const auto& v) -> nlohmann::json {
        if (v) return *v;
        return nullptr;
    };
    nlohmann::json peaksJson = nlohmann::json::array();
    for (const auto& p : peaks)
        peaksJson.push_back({{"date", p.date}, {"p95", p.p95}, {"p99", p.p99}, {"max", p.max}});
    nlohmann::json j = {
        {"current_limit", currentLimit},
        {"target_blocking", targetBlocking},
        {"busy_hour",
         {{"at", busyHourAt ? nlohmann::json(isoTime(*busyHourAt)) : nlohmann::json(nullptr)},
          {"admissions", busyHourAdmissions},
          {"mean_holding_s", opt(meanHoldingS)},
          {"offered_erlangs", opt(offeredErlangs)}}},
        {"attempts", attempts},
        {"refusals", refusals},
        {"other_refusals", otherRefusals},
        {"measured_blocking", opt(measuredBlocking)},
        {"recommended_limit", opt(recommendedLimit)},
        {"verdict", verdict},
        {"peak_concurrency", peaksJson},
        {"trend",
         {{"status", trend},
          {"growth_per_day", opt(growthPerDay)},
          {"days_until_limit", opt(daysUntilLimit)}}},
    };
    if (clientId != "*") j["client_id"] = clientId;
    if (botsRequired) {
        j["bots_required"] = true;
        j["bot_capacity"] = botCapacity;
        j["bots_needed"] = opt(botsNeeded);
    }
    return j;
}

}  // namespace calltrack::db
