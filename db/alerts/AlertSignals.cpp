#include "db/alerts/AlertSignals.h"

#include "db/Sha256.h"
#include "db/history/LiveState.h"

#include <map>
#include <set>

namespace calltrack::db {

namespace {
const char* const kWindow =
    "SELECT client_id, sum(admissions), sum(refused_client_limit + refused_global_limit), "
    "sum(timeouts), sum(ended_completed + ended_busy + ended_failed + ended_no_answer + "
    "ended_canceled + timeouts), sum(refused_bot) FROM usage_history "
    "WHERE step_s = 60 AND bucket_at >= ?1 GROUP BY client_id";

struct Window {
    int64_t admissions = 0, limitRefusals = 0, timeouts = 0, ended = 0, botRefusals = 0;
};

std::map<std::string, Window> windowIn(Connection& c, int64_t fromMs) {
    std::map<std::string, Window> out;
    Query q(c, kWindow);
    q->bind(1, fromMs - fromMs % 60000);
    while (q.step()) {
        out[q->getColumn(0).getString()] = {q->getColumn(1).getInt64(), q->getColumn(2).getInt64(),
                                            q->getColumn(3).getInt64(), q->getColumn(4).getInt64(),
                                            q->getColumn(5).getInt64()};
    }
    return out;
}
}  // namespace

std::string AlertSignals::fingerprintOf(const std::string& ruleId,
                                        const std::optional<std::string>& clientId) {
    return sha256Hex(ruleId + "|" + clientId.value_or("*")).substr(0, 16);
}

std::vector<AlertSignal> AlertSignals::readIn(Connection& c, int64_t nowMs,
                                              bool databaseUnavailable) {
    const auto rules = AlertConfig::rulesIn(c);
    const auto live = LiveState::readIn(c, nowMs);
    std::map<int64_t, std::map<std::string, Window>> windows;  // window_s -> client -> sums
    const auto window = [&](int64_t windowS) -> const std::map<std::string, Window>& {
        auto it = windows.find(windowS);
        if (it == windows.end())
            it = windows.emplace(windowS, windowIn(c, nowMs - windowS * 1000)).first;
        return it->second;
    };
    // Kinds with a rule naming the client: its client-less rules do not apply.
    std::set<std::pair<std::string, std::string>> overridden;  // (kind, client)
    for (const auto& r : rules)
        if (r.enabled && r.clientId) overridden.insert({r.kind, *r.clientId});

    std::vector<AlertSignal> out;
    const auto valueFor = [&](const AlertRule& r,
                              const std::optional<std::string>& client) -> std::optional<double> {
        if (r.kind == "database_unavailable") return databaseUnavailable ? 1.0 : 0.0;
        if (r.kind == "global_utilization") {
            if (live.globalLimit <= 0) return std::nullopt;
            return static_cast<double>(live.globalActive) / static_cast<double>(live.globalLimit);
        }
        if (r.kind == "client_utilization") {
            for (const auto& k : live.clients)
                if (k.id == *client)
                    return k.limit > 0 ? std::optional(static_cast<double>(k.active) /
                                                       static_cast<double>(k.limit))
                                       : std::nullopt;
            return std::nullopt;
        }
        const auto& sums = window(r.windowS);
        const auto it = sums.find(*client);
        const Window w = it == sums.end() ? Window{} : it->second;
        if (r.kind == "refusal_rate") {
            const int64_t attempts = w.admissions + w.limitRefusals;
            return attempts > 0 ? static_cast<double>(w.limitRefusals) / attempts : 0.0;
        }
        if (r.kind == "timeout_rate")
            return w.ended > 0 ? static_cast<double>(w.timeouts) / w.ended : 0.0;
        return static_cast<double>(w.botRefusals);  // bot_unavailable
    };
    for (const auto& r : rules) {
        if (!r.enabled) continue;
        if (!r.perClient()) {
            out.push_back({r, std::nullopt, fingerprintOf(r.id, std::nullopt), valueFor(r, {})});
            continue;
        }
        for (const auto& k : live.clients) {
            if (r.clientId ? *r.clientId != k.id : overridden.count({r.kind, k.id}) > 0) continue;
            out.push_back({r, k.id, fingerprintOf(r.id, k.id), valueFor(r, k.id)});
        }
    }
    return out;
}

}  // namespace calltrack::db
