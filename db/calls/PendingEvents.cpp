#include "db/calls/PendingEvents.h"

#include "db/EngineError.h"
#include "db/storage/OptionalColumn.h"

namespace calltrack::db {

namespace {

const char* const kKeep =
    "INSERT INTO pending_events (received_at, source, client_id, account_sid, call_ref, status, "
    "sequence, occurred_at, idempotency_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
// call_ref is indexed: on the admission path this is one probe of a
// (usually empty) index.
const char* const kClaimable =
    "SELECT id, received_at, source, client_id, account_sid, call_ref, status, sequence, "
    "occurred_at, idempotency_key FROM pending_events WHERE call_ref = ?1 AND (client_id = ?2 OR "
    "account_sid IN (SELECT twilio_account_sid FROM client_credentials WHERE client_id = ?2)) "
    "ORDER BY sequence IS NULL, sequence, id";
const char* const kRemove = "DELETE FROM pending_events WHERE id = ?1";
const char* const kPurge =
    "DELETE FROM pending_events WHERE id IN (SELECT id FROM pending_events WHERE received_at < ?1 "
    "ORDER BY received_at LIMIT ?2)";
const char* const kKeyKept =
    "SELECT 1 FROM pending_events WHERE call_ref = ?5 AND idempotency_key = ?1 AND source = ?2 "
    "AND (client_id = ?3 OR account_sid = ?4) LIMIT 1";

}  // namespace

void PendingEvents::keep(Connection& c, const PendingEvent& e) {
    Query q(c, kKeep);
    q->bind(1, e.receivedAt);
    q->bind(2, e.source);
    if (e.clientId) q->bind(3, *e.clientId);
    if (e.accountSid) q->bind(4, *e.accountSid);
    q->bind(5, e.callRef);
    q->bindNoCopy(6, nameOf(e.status));
    if (e.sequence) q->bind(7, *e.sequence);
    if (e.occurredAt) q->bind(8, *e.occurredAt);
    if (e.idempotencyKey) q->bind(9, *e.idempotencyKey);
    q.run();
}

std::vector<PendingEvent> PendingEvents::claimableBy(Connection& c, const std::string& clientId,
                                                     const std::string& callRef) {
    Query q(c, kClaimable);
    q->bind(1, callRef);
    q->bind(2, clientId);
    std::vector<PendingEvent> out;
    while (q.step()) {
        PendingEvent e;
        e.id = q->getColumn(0).getInt64();
        e.receivedAt = q->getColumn(1).getInt64();
        e.source = q->getColumn(2).getString();
        e.clientId = optionalText(q->getColumn(3));
        e.accountSid = optionalText(q->getColumn(4));
        e.callRef = q->getColumn(5).getString();
        const auto status = parseCallState(q->getColumn(6).getText());
        if (!status) throw EngineError(ErrorCode::internal, "unknown status in pending_events");
        e.status = *status;
        e.sequence = optionalInt(q->getColumn(7));
        e.occurredAt = optionalInt(q->getColumn(8));
        e.idempotencyKey = optionalText(q->getColumn(9));
        out.push_back(std::move(e));
    }
    return out;
}

void PendingEvents::remove(Connection& c, const std::vector<PendingEvent>& events) {
    for (const auto& e : events) {
        Query q(c, kRemove);
        q->bind(1, e.id);
        q.run();
    }
}

StatusEvent PendingEvents::asStatusEvent(const PendingEvent& p, int64_t callId) {
    StatusEvent ev;
    ev.call = CallRef::byId(callId);
    ev.status = p.status;
    ev.sequence = p.sequence;
    ev.occurredAtMs = p.occurredAt;
    ev.eventId = p.idempotencyKey;
    ev.source = p.source;
    return ev;
}

int PendingEvents::purgeOlderThan(Connection& c, int64_t cutoffMs, int limit) {
    Query q(c, kPurge);
    q->bind(1, cutoffMs);
    q->bind(2, limit);
    return q.run();
}

bool PendingEvents::keyKept(Connection& c, const std::optional<std::string>& clientId,
                            const std::optional<std::string>& accountSid, const std::string& source,
                            const std::string& callRef, const std::string& key) {
    Query q(c, kKeyKept);
    q->bind(5, callRef);
    q->bind(1, key);
    q->bind(2, source);
    if (clientId) q->bind(3, *clientId);
    if (accountSid) q->bind(4, *accountSid);
    return q.step();
}

}  // namespace calltrack::db
