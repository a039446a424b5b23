#include "db/history/EventTally.h"

#include <algorithm>
#include <vector>

namespace calltrack::db {

namespace {
// call_events by primary key from the cursor; for an end, its call's
// admission time (the holding time), looked up only for ends.
const char* const kEventsAfter =
    "SELECT e.id, e.at, coalesce(e.client_id, ''), e.kind, e.outcome, coalesce(e.reason, ''), "
    "coalesce(e.to_state, ''), "
    "CASE WHEN e.outcome = 'applied' AND e.call_id IS NOT NULL AND (e.to_state = 'completed' OR "
    "e.to_state = 'busy' OR e.to_state = 'failed' OR e.to_state = 'no_answer' OR "
    "e.to_state = 'canceled' OR e.to_state = 'timed_out') "
    "THEN (SELECT c.admitted_at FROM calls c WHERE c.id = e.call_id) END, e.source "
    "FROM call_events e WHERE e.id > ?1 ORDER BY e.id LIMIT ?2";

constexpr int64_t kMinuteMs = 60000;

// The counters' indexes and names (usage_totals.counter).
constexpr size_t kAdmitted = 0, kDuplicate = 1;
constexpr std::string_view kRefusals[] = {"client_limit_reached", "global_limit_reached",
                                          "client_disabled",      "bot_unavailable",
                                          "unknown_client",       "other"};
constexpr size_t kRefused0 = 2;  // 6 of them
constexpr std::string_view kEndStates[] = {"completed", "busy",     "failed",
                                           "no_answer", "canceled", "timed_out"};
constexpr size_t kEnded0 = 8;      // 6
constexpr size_t kHolding = 14;    // holding_ms
constexpr size_t kDuration0 = 15;  // 12 bounds + inf = 13
constexpr std::string_view kSources[] = {"api", "cli", "twilio", "generic", "reaper", "other"};
constexpr std::string_view kEventOutcomes[] = {
    "applied", "duplicate", "out_of_order", "after_end", "unknown_call", "rejected", "other"};
constexpr size_t kEvent0 = 28;  // 6 sources x 7 outcomes = 42
static_assert(kEvent0 + 6 * 7 == 70);

template <size_t N>
size_t indexOf(const std::string_view (&names)[N], std::string_view name) {
    for (size_t i = 0; i + 1 < N; ++i)
        if (names[i] == name) return i;
    return N - 1;  // "other"
}

std::string counterName(size_t i) {
    if (i == kAdmitted) return "admitted";
    if (i == kDuplicate) return "duplicate";
    if (i < kEnded0) return "refused:" + std::string(kRefusals[i - kRefused0]);
    if (i < kHolding) return "ended:" + std::string(kEndStates[i - kEnded0]);
    if (i == kHolding) return "holding_ms";
    if (i < kEvent0) {
        const size_t b = i - kDuration0;
        return b < kDurationBoundsS.size() ? "duration_le:" + std::to_string(kDurationBoundsS[b])
                                           : std::string("duration_le:inf");
    }
    const size_t e = i - kEvent0;
    return "event:" + std::string(kSources[e / 7]) + ":" + std::string(kEventOutcomes[e % 7]);
}

std::string_view text(SQLite::Statement& q, int column) {
    const auto c = q.getColumn(column);
    return {c.getText(), static_cast<size_t>(c.getBytes())};
}
}  // namespace

void UsageDelta::add(const UsageDelta& o) {
    admissions += o.admissions;
    refusedClientLimit += o.refusedClientLimit;
    refusedGlobalLimit += o.refusedGlobalLimit;
    refusedDisabled += o.refusedDisabled;
    refusedBot += o.refusedBot;
    refusedOther += o.refusedOther;
    endedCompleted += o.endedCompleted;
    endedBusy += o.endedBusy;
    endedFailed += o.endedFailed;
    endedNoAnswer += o.endedNoAnswer;
    endedCanceled += o.endedCanceled;
    timeouts += o.timeouts;
    holdingMsSum += o.holdingMsSum;
}

int64_t EventTally::foldFrom(Connection& c, int64_t afterId, int64_t limit) {
    Query q(c, kEventsAfter);
    q->bind(1, afterId);
    q->bind(2, limit);
    int64_t n = 0;
    lastId_ = std::max(lastId_, afterId);
    while (q.step()) {
        ++n;
        lastId_ = q->getColumn(0).getInt64();
        const int64_t at = q->getColumn(1).getInt64();
        std::optional<int64_t> holding;
        if (!q->getColumn(7).isNull())
            holding = std::max<int64_t>(0, at - q->getColumn(7).getInt64());
        fold(at, text(*q, 2), text(*q, 3), text(*q, 8), text(*q, 4), text(*q, 5), text(*q, 6),
             holding);
    }
    publish();
    return n;
}

void EventTally::fold(int64_t at, std::string_view clientId, std::string_view kind,
                      std::string_view source, std::string_view outcome, std::string_view reason,
                      std::string_view toState, std::optional<int64_t> holdingMs) {
    const bool known = !clientId.empty() &&
                       !(kind == "admit" && outcome == "refused" && reason == "unknown_client");
    const std::string_view key = known ? clientId : std::string_view(kUnknownClient);
    auto it = byClient_.find(key);
    if (it == byClient_.end()) it = byClient_.emplace(std::string(key), ClientTally{}).first;
    auto& counters = it->second.counters;

    UsageDelta d;
    if (kind == "admit") {
        if (outcome == "admitted") {
            d.admissions = 1;
            ++counters[kAdmitted];
        } else if (outcome == "duplicate") {
            ++counters[kDuplicate];
        } else if (outcome == "refused") {
            const size_t r = indexOf(kRefusals, reason);
            ++counters[kRefused0 + r];
            switch (r) {
                case 0:
                    d.refusedClientLimit = 1;
                    break;
                case 1:
                    d.refusedGlobalLimit = 1;
                    break;
                case 2:
                    d.refusedDisabled = 1;
                    break;
                case 3:
                    d.refusedBot = 1;
                    break;
                default:
                    d.refusedOther = 1;
                    break;
            }
        }
    } else {
        // Received events (status callbacks, ends, the reaper's timeouts)
        // by source and outcome; sources are calltrack's own names.
        ++counters[kEvent0 + 7 * indexOf(kSources, source) + indexOf(kEventOutcomes, outcome)];
    }
    if (outcome == "applied") {
        const size_t s = indexOf(kEndStates, toState);
        if (s < 6) {
            ++counters[kEnded0 + s];
            switch (s) {
                case 0:
                    d.endedCompleted = 1;
                    break;
                case 1:
                    d.endedBusy = 1;
                    break;
                case 2:
                    d.endedFailed = 1;
                    break;
                case 3:
                    d.endedNoAnswer = 1;
                    break;
                case 4:
                    d.endedCanceled = 1;
                    break;
                default:
                    d.timeouts = 1;
                    break;
            }
            if (holdingMs) {
                d.holdingMsSum = *holdingMs;
                counters[kHolding] += *holdingMs;
                size_t b = 0;
                while (b < kDurationBoundsS.size() && *holdingMs > kDurationBoundsS[b] * 1000) ++b;
                ++counters[kDuration0 + b];
            }
        }
    }
    if (d.admissions + d.refused() + d.ended() == 0) return;
    const int64_t minute = at - ((at % kMinuteMs) + kMinuteMs) % kMinuteMs;
    system_[minute].add(d);
    if (known) it->second.minutes[minute].add(d);
}

void EventTally::publish() {
    buckets_.clear();
    totals_.clear();
    for (const auto& [minute, d] : system_) buckets_[{kSystemRow, minute}] = d;
    for (const auto& [id, tally] : byClient_) {
        for (const auto& [minute, d] : tally.minutes) buckets_[{id, minute}] = d;
        for (size_t i = 0; i < kCounters; ++i)
            if (tally.counters[i] != 0) totals_[{id, counterName(i)}] = tally.counters[i];
    }
}

}  // namespace calltrack::db
