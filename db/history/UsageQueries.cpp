#include "db/history/UsageQueries.h"

#include "db/tenants/ClientRegistry.h"

#include <unordered_map>

namespace calltrack::db {

namespace {
const char* const kRecentRefusals =
    "SELECT client_id, count(*) FROM call_events WHERE outcome = 'refused' AND at >= ?1 "
    "AND client_id IS NOT NULL GROUP BY client_id";
// From calls_live_client_slot: only live calls are in it.
const char* const kUnslotted =
    "SELECT client_id, count(*) FROM calls INDEXED BY calls_live_client_slot "
    "WHERE ended_at IS NULL AND client_slot IS NULL GROUP BY client_id";
}  // namespace

UsageReport UsageQueries::report(Connection& c, int64_t sinceMs, const std::string* onlyClient) {
    UsageReport report;
    report.global = ClientRegistry::globalIn(c);
    std::unordered_map<std::string, int64_t> refusals;
    {
        Query q(c, kRecentRefusals);
        q->bind(1, sinceMs);
        while (q.step()) {
            const int64_t n = q->getColumn(1).getInt64();
            refusals[q->getColumn(0).getString()] = n;
            report.refusedRecently += n;
        }
    }
    std::unordered_map<std::string, int64_t> unslotted;
    {
        Query q(c, kUnslotted);
        while (q.step()) unslotted[q->getColumn(0).getString()] = q->getColumn(1).getInt64();
    }
    if (onlyClient) {
        if (auto k = ClientRegistry::findIn(c, *onlyClient))
            report.clients.push_back({*k, refusals[k->id], unslotted[k->id]});
    } else {
        for (auto& k : ClientRegistry::listIn(c)) {
            const int64_t n = refusals[k.id];
            const int64_t u = unslotted[k.id];
            report.clients.push_back({std::move(k), n, u});
        }
    }
    return report;
}

}  // namespace calltrack::db
