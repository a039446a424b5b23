#include "db/history/EventTally.h"

#include <algorithm>
#include <vector>

namespace calltrack::db {

namespace {
// call_events by primary key from the cursor; the call's admission time for
// the holding time of an end (calls by primary key).
const char* const kEventsAfter =
    "SELECT e.id, e.at, coalesce(e.client_id, ''), e.kind, e.outcome, coalesce(e.reason, ''), "
    "coalesce(e.to_state, ''), c.admitted_at, e.source FROM call_events e "
    "LEFT JOIN calls c ON c.id = e.call_id WHERE e.id > ?1 ORDER BY e.id LIMIT ?2";
const char* const kClientIds = "SELECT id FROM clients";

constexpr int64_t kMinuteMs = 60000;

bool isEnded(const std::string& s) {
    return s == "completed" || s == "busy" || s == "failed" || s == "no_answer" ||
           s == "canceled" || s == "timed_out";
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

std::unordered_set<std::string> EventTally::knownClientsIn(Connection& c) {
    std::unordered_set<std::string> ids;
    Query q(c, kClientIds);
    while (q.step()) ids.insert(q->getColumn(0).getString());
    return ids;
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
        fold(at, q->getColumn(2).getString(), q->getColumn(3).getString(),
             q->getColumn(8).getString(), q->getColumn(4).getString(), q->getColumn(5).getString(),
             q->getColumn(6).getString(), holding);
    }
    return n;
}

void EventTally::fold(int64_t at, const std::string& clientId, const std::string& kind,
                      const std::string& source, const std::string& outcome,
                      const std::string& reason, const std::string& toState,
                      std::optional<int64_t> holdingMs) {
    UsageDelta d;
    std::vector<std::string> counters;
    if (kind == "admit" && outcome == "admitted") {
        d.admissions = 1;
        counters.push_back("admitted");
    } else if (kind == "admit" && outcome == "duplicate") {
        counters.push_back("duplicate");
    } else if (kind == "admit" && outcome == "refused") {
        if (reason == "client_limit_reached")
            d.refusedClientLimit = 1;
        else if (reason == "global_limit_reached")
            d.refusedGlobalLimit = 1;
        else if (reason == "client_disabled")
            d.refusedDisabled = 1;
        else if (reason == "bot_unavailable")
            d.refusedBot = 1;
        else
            d.refusedOther = 1;
        counters.push_back("refused:" + (reason.empty() ? std::string("other") : reason));
    }
    if (outcome == "applied" && isEnded(toState)) {
        if (toState == "completed") d.endedCompleted = 1;
        if (toState == "busy") d.endedBusy = 1;
        if (toState == "failed") d.endedFailed = 1;
        if (toState == "no_answer") d.endedNoAnswer = 1;
        if (toState == "canceled") d.endedCanceled = 1;
        if (toState == "timed_out") d.timeouts = 1;
        counters.push_back("ended:" + toState);
        if (holdingMs) {
            d.holdingMsSum = *holdingMs;
            totals_[{known_.count(clientId) ? clientId : kUnknownClient, "holding_ms"}] +=
                *holdingMs;
            std::string bucket = "duration_le:inf";
            for (const int64_t bound : kDurationBoundsS) {
                if (*holdingMs <= bound * 1000) {
                    bucket = "duration_le:" + std::to_string(bound);
                    break;
                }
            }
            counters.push_back(std::move(bucket));
        }
    }
    // Received events (status callbacks, ends, the reaper's timeouts) by
    // source and outcome; sources are calltrack's own names (api, cli,
    // twilio, generic, reaper), never a caller's text.
    if (kind != "admit") counters.push_back("event:" + source + ":" + outcome);
    if (counters.empty()) return;
    const bool known = known_.count(clientId) > 0;
    if (d.admissions + d.refused() + d.ended() > 0) {
        const int64_t minute = at - ((at % kMinuteMs) + kMinuteMs) % kMinuteMs;
        buckets_[{kSystemRow, minute}].add(d);
        if (known) buckets_[{clientId, minute}].add(d);
    }
    for (auto& counter : counters) ++totals_[{known ? clientId : kUnknownClient, counter}];
}

}  // namespace calltrack::db
