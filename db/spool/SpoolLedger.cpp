#include "db/spool/SpoolLedger.h"

namespace calltrack::db {

namespace {
const char* const kFind = "SELECT outcome FROM spool_applied WHERE key = ?1";
const char* const kInsert =
    "INSERT INTO spool_applied (key, applied_at, outcome) VALUES (?1, ?2, substr(?3, 1, 200))";
const char* const kPurge =
    "DELETE FROM spool_applied WHERE key IN (SELECT key FROM spool_applied INDEXED BY "
    "spool_applied_age WHERE applied_at < ?1 LIMIT ?2)";
}  // namespace

std::optional<std::string> SpoolLedger::outcomeOf(Connection& c, const std::string& key) {
    Query q(c, kFind);
    q->bind(1, key);
    if (!q.step()) return std::nullopt;
    return q->getColumn(0).getString();
}

void SpoolLedger::record(Connection& c, const std::string& key, int64_t nowMs,
                         const std::string& outcome) {
    Query q(c, kInsert);
    q->bind(1, key);
    q->bind(2, nowMs);
    q->bind(3, outcome.empty() ? std::string("applied") : outcome);
    q.run();
}

int SpoolLedger::purgeOlderThan(Connection& c, int64_t cutoffMs, int limit) {
    Query q(c, kPurge);
    q->bind(1, cutoffMs);
    q->bind(2, limit);
    return q.run();
}

}  // namespace calltrack::db
