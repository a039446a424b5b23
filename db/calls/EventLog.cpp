#include "db/calls/EventLog.h"

namespace calltrack::db {

namespace {
const char* const kAppend =
    "INSERT INTO call_events (at, client_id, call_id, external_id, kind, status, outcome, reason, "
    "from_state, to_state, sequence, occurred_at, source, idempotency_key) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

template <class T>
void bindOpt(SQLite::Statement& s, int index, const std::optional<T>& value) {
    if (value) s.bind(index, *value);
}
}  // namespace

int64_t EventLog::append(Connection& c, const EventRecord& e) {
    Query q(c, kAppend);
    q->bind(1, e.at);
    bindOpt(*q, 2, e.clientId);
    bindOpt(*q, 3, e.callId);
    bindOpt(*q, 4, e.externalId);
    q->bindNoCopy(5, e.kind);
    if (e.status) q->bindNoCopy(6, e.status);
    q->bindNoCopy(7, e.outcome);
    bindOpt(*q, 8, e.reason);
    if (e.fromState) q->bindNoCopy(9, e.fromState);
    if (e.toState) q->bindNoCopy(10, e.toState);
    bindOpt(*q, 11, e.sequence);
    bindOpt(*q, 12, e.occurredAt);
    q->bind(13, e.source);
    bindOpt(*q, 14, e.idempotencyKey);
    q.run();
    return c.lastInsertRowid();
}

std::optional<std::string> EventLog::outcomeForKey(Connection& c, const std::string& clientId,
                                                   const std::string& source,
                                                   const std::string& key) {
    Query q(c,
            "SELECT outcome FROM call_events WHERE client_id = ?1 AND source = ?2 AND "
            "idempotency_key = ?3");
    q->bind(1, clientId);
    q->bind(2, source);
    q->bind(3, key);
    if (!q.step()) return std::nullopt;
    return q->getColumn(0).getString();
}

bool EventLog::sequenceSeen(Connection& c, int64_t callId, int64_t sequence) {
    Query q(c, "SELECT 1 FROM call_events WHERE call_id = ?1 AND sequence = ?2 LIMIT 1");
    q->bind(1, callId);
    q->bind(2, sequence);
    return q.step();
}

}  // namespace calltrack::db
