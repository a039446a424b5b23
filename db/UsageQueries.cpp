#include "db/UsageQueries.h"

#include "db/ClientRegistry.h"

#include <unordered_map>

namespace calltrack::db {

namespace {
const char* const kRecentRefusals =
    "SELECT client_id, count(*) FROM call_events WHERE outcome = 'refused' AND at >= ?1 "
    "AND client_id IS NOT NULL GROUP BY client_id";
}

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
    if (onlyClient) {
        if (auto k = ClientRegistry::findIn(c, *onlyClient))
            report.clients.push_back({*k, refusals[k->id]});
    } else {
        for (auto& k : ClientRegistry::listIn(c)) {
            const int64_t n = refusals[k.id];
            report.clients.push_back({std::move(k), n});
        }
    }
    return report;
}

}  // namespace calltrack::db
