#include "db/calls/CallLifecycle.h"

#include "db/EngineError.h"
#include "db/TextRules.h"
#include "db/calls/CallTable.h"
#include "db/calls/EventLog.h"
#include "db/calls/PendingEvents.h"

#include <SQLiteCpp/Exception.h>

#include <vector>

namespace calltrack::db {

namespace {

const char* const kUpdateCall =
    "UPDATE calls SET state = ?2, updated_at = ?3, answered_at = ?4, ended_at = ?5, expires_at = "
    "?6, "
    "end_reason = ?7, last_sequence = ?8, version = version + 1 WHERE id = ?1";
const char* const kHeartbeat =
    "UPDATE calls SET expires_at = ?2, updated_at = ?3, last_heartbeat_at = ?3, "
    "heartbeats = heartbeats + 1, version = version + 1 WHERE id = ?1";
// Keyset over the partial index calls_live_expiry (expires_at, rowid): a
// pass resumes after the last call it examined, so calls that cannot be
// ended do not hold back the ones behind them.
const char* const kExpired =
    "SELECT id, expires_at FROM calls WHERE ended_at IS NULL AND expires_at <= ?1 AND "
    "(expires_at > ?2 OR (expires_at = ?2 AND id > ?3)) ORDER BY expires_at, id LIMIT ?4";

// Expiry of a live call after activity at `now`: LIFECYCLE.md invariant 5.
int64_t expiryAfterActivity(const CallWithTimeouts& row, CallState state, int64_t now) {
    const int64_t seconds = state == CallState::in_progress ? row.maxCallS : row.ringTimeoutS;
    return now + seconds * 1000;
}

// Writes the call's new state; `call` is updated to what was written.
void writeCall(Connection& c, Call& call, int64_t now) {
    call.updatedAt = now;
    ++call.version;
    Query q(c, kUpdateCall);
    q->bind(1, call.id);
    q->bindNoCopy(2, nameOf(call.state));
    q->bind(3, now);
    if (call.answeredAt) q->bind(4, *call.answeredAt);
    if (call.endedAt) q->bind(5, *call.endedAt);
    if (call.expiresAt) q->bind(6, *call.expiresAt);
    if (call.endReason) q->bind(7, *call.endReason);
    if (call.lastSequence) q->bind(8, *call.lastSequence);
    q.run();
}

void moveTo(Call& call, const CallWithTimeouts& row, CallState next, int64_t now,
            const std::optional<std::string>& reason) {
    call.state = next;
    if (next == CallState::in_progress && !call.answeredAt) call.answeredAt = now;
    if (isTerminal(next)) {
        call.endedAt = now;
        call.expiresAt.reset();
        call.endReason = reason ? *reason : std::string(nameOf(next));
    } else {
        call.expiresAt = expiryAfterActivity(row, next, now);
    }
}

void checkVersion(const Call& call, const std::optional<int64_t>& expected) {
    if (expected && *expected != call.version) {
        throw EngineError(ErrorCode::conflict,
                          "call " + std::to_string(call.id) + " is at version " +
                              std::to_string(call.version) + ", not " + std::to_string(*expected));
    }
}

void validateRef(const CallRef& ref) {
    if (ref.clientId) TextRules::requireClientId(*ref.clientId);
    if (ref.externalId) TextRules::requireExternalId(*ref.externalId);
    if (!ref.id && !(ref.clientId && ref.externalId)) {
        throw EngineError(ErrorCode::invalid_argument,
                          "a call is named by its id, or by client_id and external_id");
    }
}

EngineError callNotFound(const CallRef& ref) {
    if (ref.id)
        return EngineError(ErrorCode::not_found, "no call with id " + std::to_string(*ref.id));
    return EngineError(ErrorCode::not_found, "no call " + ref.externalId.value_or("") +
                                                 " for client " + ref.clientId.value_or(""));
}

// The call a reference names: by id, or by (client, external id); a sender
// that names it by the provider's id bound to it (the CallSid) within the
// client finds it too.
std::optional<CallWithTimeouts> findNamed(Connection& c, const CallRef& ref) {
    auto row = CallTable::find(c, ref);
    if (!row && !ref.id && ref.clientId && ref.externalId) {
        row = CallTable::findByProviderCallId(c, *ref.externalId);
        if (row && row->call.clientId != *ref.clientId) row.reset();
    }
    return row;
}

bool clientExists(Connection& c, const std::string& clientId) {
    Query q(c, "SELECT 1 FROM clients WHERE id = ?1");
    q->bind(1, clientId);
    return q.step();
}

EventRecord baseEvent(int64_t now, const Call& call, const char* kind, const std::string& source) {
    EventRecord e;
    e.at = now;
    e.clientId = call.clientId;
    e.callId = call.id;
    e.externalId = call.externalId;
    e.kind = kind;
    e.source = source;
    e.fromState = nameOf(call.state);
    return e;
}

}  // namespace

const char* nameOf(EventOutcome outcome) {
    switch (outcome) {
        case EventOutcome::applied:
            return "applied";
        case EventOutcome::duplicate:
            return "duplicate";
        case EventOutcome::out_of_order:
            return "out_of_order";
        case EventOutcome::after_end:
            return "after_end";
        case EventOutcome::unknown_call:
            return "unknown_call";
        case EventOutcome::not_extended:
            return "not_extended";
        case EventOutcome::refused:
            return "refused";
    }
    return "applied";
}

void CallLifecycle::validate(const CallRef& call) {
    validateRef(call);
}

void CallLifecycle::validate(const StatusEvent& event) {
    validateRef(event.call);
    if (event.status == CallState::reserved) {
        throw EngineError(ErrorCode::invalid_argument,
                          "status reserved is set by admission, not by events");
    }
}

EventResult CallLifecycle::applyStatus(StatusEvent event, Deadline deadline) {
    validate(event);
    return writer_.run([&](Connection& c) { return applyStatusIn(c, clock_.nowMs(), event); },
                       deadline);
}

EventResult CallLifecycle::heartbeat(CallRef call, std::string source, Deadline deadline) {
    validateRef(call);
    return writer_.run([&](Connection& c) { return heartbeatIn(c, clock_.nowMs(), call, source); },
                       deadline);
}

EventResult CallLifecycle::end(EndRequest request, Deadline deadline) {
    validateRef(request.call);
    return writer_.run([&](Connection& c) { return endIn(c, clock_.nowMs(), request); }, deadline);
}

int CallLifecycle::reapExpired(int maxCalls, Deadline deadline) {
    return reapBatch(maxCalls, ReapCursor{}, deadline).ended;
}

CallLifecycle::ReapBatch CallLifecycle::reapBatch(int maxCalls, ReapCursor after,
                                                  Deadline deadline) {
    return writer_.run(
        [&](Connection& c) { return reapExpiredIn(c, clock_.nowMs(), maxCalls, after); }, deadline);
}

EventResult CallLifecycle::applyStatusIn(Connection& c, int64_t now, const StatusEvent& ev) {
    EventResult result;
    auto row = findNamed(c, ev.call);

    EventRecord record;
    record.at = now;
    record.kind = "status";
    record.status = nameOf(ev.status);
    record.sequence = ev.sequence;
    record.occurredAt = ev.occurredAtMs;
    record.source = ev.source;
    record.idempotencyKey = ev.eventId;

    if (!row) {
        if (ev.call.id && !ev.call.externalId) throw callNotFound(ev.call);
        record.clientId = ev.call.clientId;
        record.externalId = ev.call.externalId;
        // Kept for the call's admission (PendingEvents), unless it is a
        // redelivery of an event kept already. Its id stays with the kept
        // event: the record here carries none.
        record.idempotencyKey.reset();
        // The id may also be one this client used before for another call.
        const bool kept =
            ev.eventId && (PendingEvents::keyKept(c, ev.call.clientId, std::nullopt, ev.source,
                                                  *ev.call.externalId, *ev.eventId) ||
                           EventLog::outcomeForKey(c, *ev.call.clientId, ev.source, *ev.eventId));
        if (kept) {
            result.outcome = EventOutcome::duplicate;
            result.detail = "event id already received";
        } else {
            result.outcome = EventOutcome::unknown_call;
            result.detail = "no such call: recorded";
            if (clientExists(c, *ev.call.clientId)) {
                PendingEvent pending;
                pending.receivedAt = now;
                pending.source = ev.source;
                pending.clientId = ev.call.clientId;
                pending.callRef = *ev.call.externalId;
                pending.status = ev.status;
                pending.sequence = ev.sequence;
                pending.occurredAt = ev.occurredAtMs;
                pending.idempotencyKey = ev.eventId;
                PendingEvents::keep(c, pending);
                result.detail = "call not admitted yet: kept, and applied when it is admitted";
            }
        }
        record.outcome = nameOf(result.outcome);
        record.reason = result.detail;
        EventLog::append(c, record);
        return result;
    }

    Call& call = row->call;
    record.clientId = call.clientId;
    record.callId = call.id;
    record.externalId = call.externalId;
    record.fromState = nameOf(call.state);

    // A redelivery with a known event id (per client and source): recorded
    // (every delivery is in the history) but without the key, which stays
    // with the first delivery.
    if (ev.eventId && EventLog::outcomeForKey(c, call.clientId, ev.source, *ev.eventId)) {
        result.outcome = EventOutcome::duplicate;
        result.detail = "event id already received";
        record.idempotencyKey.reset();
    } else if (ev.sequence && EventLog::sequenceSeen(c, call.id, *ev.sequence)) {
        result.outcome = EventOutcome::duplicate;
        result.detail = "sequence " + std::to_string(*ev.sequence) + " already received";
    } else if (!call.live()) {
        result.outcome =
            ev.status == call.state ? EventOutcome::duplicate : EventOutcome::after_end;
        result.detail = std::string("call already ended as ") + nameOf(call.state);
    } else if (ev.status == call.state) {
        result.outcome = EventOutcome::duplicate;
        result.detail = std::string("call is already ") + nameOf(call.state);
    } else if (rank(ev.status) < rank(call.state)) {
        result.outcome = EventOutcome::out_of_order;
        result.detail = std::string("call is already ") + nameOf(call.state);
    } else {
        checkVersion(call, ev.expectedVersion);
        moveTo(call, *row, ev.status, now, ev.reason);
        if (ev.sequence)
            call.lastSequence = std::max(call.lastSequence.value_or(*ev.sequence), *ev.sequence);
        writeCall(c, call, now);
        result.outcome = EventOutcome::applied;
    }
    record.outcome = nameOf(result.outcome);
    if (result.outcome == EventOutcome::applied) {
        record.toState = nameOf(call.state);
        if (isTerminal(call.state)) record.reason = call.endReason;
    } else {
        record.reason = result.detail;
    }
    EventLog::append(c, record);
    result.call = std::move(call);
    return result;
}

namespace {

// Heartbeat and end share their shape: find the call, answer after_end if it
// already ended, otherwise let `change` move it; record the event either way.
template <class Change>
EventResult changeLiveCall(Connection& c, int64_t now, CallWithTimeouts row, const char* kind,
                           const std::string& source, Change&& change) {
    Call& call = row.call;
    EventRecord record = baseEvent(now, call, kind, source);
    EventResult result;
    if (!call.live()) {
        result.outcome = EventOutcome::after_end;
        result.detail = std::string("call already ended as ") + nameOf(call.state);
        record.reason = result.detail;
    } else {
        change(row, record);
        writeCall(c, call, now);
        record.toState = nameOf(call.state);
    }
    record.outcome = nameOf(result.outcome);
    EventLog::append(c, record);
    result.call = std::move(call);
    return result;
}

}  // namespace

EventResult CallLifecycle::heartbeatIn(Connection& c, int64_t now, const CallRef& ref,
                                       const std::string& /*source*/) {
    auto row = findNamed(c, ref);
    if (!row) throw callNotFound(ref);
    Call& call = row->call;
    EventResult result;
    // v4: no event row for a heartbeat, whatever its outcome (a long call
    // sends thousands); an extending one is counted on the call.
    if (!call.live()) {
        result.outcome = EventOutcome::after_end;
        result.detail = std::string("call already ended as ") + nameOf(call.state);
    } else if (call.state != CallState::in_progress) {
        // Only an answered call is extended: a heartbeat while it rings must
        // not push back its ring timeout (a call that is never answered would
        // hold its slot for as long as the dialer keeps sending them).
        result.outcome = EventOutcome::not_extended;
        result.detail = std::string("call is ") + nameOf(call.state) +
                        ", not answered: a heartbeat extends only an answered call; its ring "
                        "timeout is unchanged";
    } else {
        call.expiresAt = expiryAfterActivity(*row, call.state, now);
        call.updatedAt = now;
        ++call.version;
        ++call.heartbeats;
        call.lastHeartbeatAt = now;
        Query q(c, kHeartbeat);
        q->bind(1, call.id);
        q->bind(2, *call.expiresAt);
        q->bind(3, now);
        q.run();
    }
    result.call = std::move(call);
    return result;
}

EventResult CallLifecycle::endIn(Connection& c, int64_t now, const EndRequest& req) {
    auto found = findNamed(c, req.call);
    if (!found) throw callNotFound(req.call);
    return changeLiveCall(
        c, now, std::move(*found), "end", req.source,
        [&](CallWithTimeouts& row, EventRecord& record) {
            checkVersion(row.call, req.expectedVersion);
            const CallState next = row.call.state == CallState::in_progress ? CallState::completed
                                                                            : CallState::canceled;
            moveTo(row.call, row, next, now, req.reason.value_or("ended by " + req.source));
            record.reason = row.call.endReason;
        });
}

CallLifecycle::ReapBatch CallLifecycle::reapExpiredIn(Connection& c, int64_t now, int maxCalls,
                                                      ReapCursor after) {
    ReapBatch out;
    out.next = after;
    std::vector<std::pair<int64_t, int64_t>> expired;  // id, expires_at
    {
        Query q(c, kExpired);
        q->bind(1, now);
        q->bind(2, after.expiresAt);
        q->bind(3, after.id);
        q->bind(4, maxCalls);
        while (q.step())
            expired.emplace_back(q->getColumn(0).getInt64(), q->getColumn(1).getInt64());
    }
    for (const auto& [id, expiresAt] : expired) {
        ++out.examined;
        out.next = ReapCursor{expiresAt, id};
        // Each call in its own savepoint: one that cannot be ended (a
        // trigger's CHECK fails because a shell edit broke a counter) is
        // rolled back alone, logged by the caller, and the rest are ended.
        Query(c, "SAVEPOINT reap_call").run();
        try {
            auto row = CallTable::find(c, CallRef::byId(id));
            if (row && row->call.live()) {
                Call& call = row->call;
                EventRecord record = baseEvent(now, call, "timeout", "reaper");
                const int64_t silentMs = now - call.updatedAt;
                moveTo(call, *row, CallState::timed_out, now,
                       "no event for " + std::to_string(silentMs / 1000) + " s while " +
                           nameOf(call.state));
                writeCall(c, call, now);
                record.toState = "timed_out";
                record.reason = call.endReason;
                EventLog::append(c, record);
                ++out.ended;
            }
            Query(c, "RELEASE reap_call").run();
        } catch (const SQLite::Exception& e) {
            // A constraint is this call's problem; anything else (I/O, busy,
            // a rolled-back transaction) is the batch's.
            if (e.getErrorCode() != SQLITE_CONSTRAINT || c.inAutocommit()) throw;
            // If the rollback itself fails, the batch must fail whole: its
            // partial writes must never commit.
            c.exec("ROLLBACK TO reap_call");
            c.exec("RELEASE reap_call");
            out.failed.emplace_back(id, e.what());
        }
    }
    return out;
}

}  // namespace calltrack::db
