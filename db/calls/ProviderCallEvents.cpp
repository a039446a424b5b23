#include "db/calls/ProviderCallEvents.h"

#include "db/EngineError.h"
#include "db/TextRules.h"
#include "db/calls/CallTable.h"
#include "db/calls/EventLog.h"
#include "db/calls/PendingEvents.h"

namespace calltrack::db {

namespace {

const char* const kBind =
    "UPDATE calls SET provider_call_id = ?2, updated_at = ?3, version = version + 1 WHERE id = ?1";
const char* const kClientOnAccount =
    "SELECT 1 FROM client_credentials WHERE client_id = ?1 AND twilio_account_sid = ?2";

bool clientOnAccount(Connection& c, const std::string& clientId, const std::string& accountSid) {
    Query q(c, kClientOnAccount);
    q->bind(1, clientId);
    q->bind(2, accountSid);
    return q.step();
}

void writeBinding(Connection& c, int64_t now, Call& call, const std::string& providerCallId) {
    Query q(c, kBind);
    q->bind(1, call.id);
    q->bind(2, providerCallId);
    q->bind(3, now);
    q.run();
    call.providerCallId = providerCallId;
    call.updatedAt = now;
    ++call.version;
}

EventRecord twilioRecord(int64_t now, const TwilioEvent& ev) {
    EventRecord r;
    r.at = now;
    r.kind = "status";
    r.status = nameOf(ev.status);
    r.externalId = ev.callSid;
    r.sequence = ev.sequence;
    r.occurredAt = ev.occurredAtMs;
    r.source = "twilio";
    return r;
}

// A verified callback that contradicts the call it names: recorded with
// why, never applied. (Its sender is authenticated, so the record is not
// something an anonymous client can make us write.)
EventResult refuse(Connection& c, int64_t now, const TwilioEvent& ev, const Call* call,
                   std::string detail) {
    EventRecord r = twilioRecord(now, ev);
    if (call) {
        r.clientId = call->clientId;
        r.callId = call->id;
        r.fromState = nameOf(call->state);
    }
    r.outcome = "rejected";
    r.reason = detail;
    EventLog::append(c, r);
    EventResult out;
    out.outcome = EventOutcome::refused;
    if (call) out.call = *call;
    out.detail = std::move(detail);
    return out;
}

}  // namespace

std::vector<EventResult> ProviderCallEvents::applyPendingIn(Connection& c, int64_t now,
                                                            const Call& call,
                                                            const std::string& callRef) {
    return applyIn(c, now, call.id, PendingEvents::claimableBy(c, call.clientId, callRef));
}

std::vector<EventResult> ProviderCallEvents::applyIn(Connection& c, int64_t now, int64_t callId,
                                                     const std::vector<PendingEvent>& pending) {
    PendingEvents::remove(c, pending);
    std::vector<EventResult> out;
    for (const auto& p : pending)
        out.push_back(
            CallLifecycle::applyStatusIn(c, now, PendingEvents::asStatusEvent(p, callId)));
    return out;
}

Call ProviderCallEvents::bindIn(Connection& c, int64_t now, const CallRef& ref,
                                const std::string& providerCallId) {
    auto row = CallTable::find(c, ref);
    if (!row) {
        throw EngineError(ErrorCode::not_found,
                          ref.id ? "no call with id " + std::to_string(*ref.id) : "no such call");
    }
    Call& call = row->call;
    if (call.providerCallId == providerCallId) return call;
    if (call.providerCallId) {
        throw EngineError(ErrorCode::provider_id_conflict,
                          "call " + std::to_string(call.id) + " is bound to provider_call_id " +
                              *call.providerCallId + "; it is set at most once");
    }
    if (auto other = CallTable::findByProviderCallId(c, providerCallId)) {
        throw EngineError(ErrorCode::provider_id_conflict,
                          "provider_call_id " + providerCallId + " is bound to another call");
    }
    writeBinding(c, now, call, providerCallId);
    if (applyPendingIn(c, now, call, providerCallId).empty()) return call;
    return *CallTable::findById(c, call.id);
}

EventResult ProviderCallEvents::applyTwilioIn(Connection& c, int64_t now, const TwilioEvent& ev) {
    std::optional<CallWithTimeouts> row;
    if (ev.callId) {
        row = CallTable::find(c, CallRef::byId(*ev.callId));
        if (!row || !clientOnAccount(c, row->call.clientId, ev.accountSid)) {
            return refuse(c, now, ev, nullptr,
                          "call_id " + std::to_string(*ev.callId) +
                              " is not a call of a client of account " + ev.accountSid);
        }
    } else {
        row = CallTable::findByProviderCallId(c, ev.callSid);
        if (row && !clientOnAccount(c, row->call.clientId, ev.accountSid)) {
            return refuse(c, now, ev, nullptr,
                          "CallSid " + ev.callSid +
                              " is bound to a call of a client outside account " + ev.accountSid);
        }
        if (!row) {
            if (auto id = CallTable::findExternalInAccount(c, ev.accountSid, ev.callSid))
                row = CallTable::find(c, CallRef::byId(*id));
        }
    }

    if (!row) {
        // No call of this account has this CallSid yet: kept for the
        // admission or binding that will name it (PendingEvents).
        EventRecord r = twilioRecord(now, ev);
        EventResult out;
        if (ev.eventId && PendingEvents::keyKept(c, std::nullopt, ev.accountSid, "twilio",
                                                 ev.callSid, *ev.eventId)) {
            out.outcome = EventOutcome::duplicate;
            out.detail = "event id already received (kept for the call's admission)";
        } else {
            PendingEvent p;
            p.receivedAt = now;
            p.source = "twilio";
            p.accountSid = ev.accountSid;
            p.callRef = ev.callSid;
            p.status = ev.status;
            p.sequence = ev.sequence;
            p.occurredAt = ev.occurredAtMs;
            p.idempotencyKey = ev.eventId;
            PendingEvents::keep(c, p);
            out.outcome = EventOutcome::unknown_call;
            out.detail = "no call of account " + ev.accountSid +
                         " has this CallSid yet: kept, and applied when it is admitted or bound";
        }
        r.outcome = nameOf(out.outcome);
        r.reason = out.detail;
        EventLog::append(c, r);
        return out;
    }

    Call& call = row->call;
    if (call.providerCallId && *call.providerCallId != ev.callSid) {
        return refuse(c, now, ev, &call,
                      "CallSid " + ev.callSid + " contradicts the call's provider_call_id " +
                          *call.providerCallId);
    }
    if (!call.providerCallId) {
        if (CallTable::findByProviderCallId(c, ev.callSid)) {
            return refuse(c, now, ev, &call, "CallSid " + ev.callSid + " is bound to another call");
        }
        // The first signed callback that names the call binds its CallSid;
        // events that came for that CallSid before are applied first.
        writeBinding(c, now, call, ev.callSid);
        applyPendingIn(c, now, call, ev.callSid);
    }
    StatusEvent status;
    status.call = CallRef::byId(call.id);
    status.status = ev.status;
    status.sequence = ev.sequence;
    status.occurredAtMs = ev.occurredAtMs;
    status.eventId = ev.eventId;
    status.source = "twilio";
    return CallLifecycle::applyStatusIn(c, now, status);
}

Call ProviderCallEvents::bind(CallRef call, std::string providerCallId, Deadline deadline) {
    TextRules::requireIdentifier(providerCallId, "provider_call_id");
    return writer_.run(
        [&](Connection& c) { return bindIn(c, clock_.nowMs(), call, providerCallId); }, deadline);
}

void ProviderCallEvents::validate(const TwilioEvent& event) {
    TextRules::requireIdentifier(event.accountSid, "AccountSid");
    TextRules::requireIdentifier(event.callSid, "CallSid");
    if (event.status == CallState::reserved || event.status == CallState::timed_out) {
        throw EngineError(ErrorCode::invalid_argument, "not a provider status");
    }
}

EventResult ProviderCallEvents::applyTwilio(TwilioEvent event, Deadline deadline) {
    validate(event);
    return writer_.run([&](Connection& c) { return applyTwilioIn(c, clock_.nowMs(), event); },
                       deadline);
}

int ProviderCallEvents::purgeExpiredPending(int limit, Deadline deadline) {
    return writer_.run(
        [&](Connection& c) {
            return PendingEvents::purgeOlderThan(c, clock_.nowMs() - kKeepPendingMs, limit);
        },
        deadline);
}

}  // namespace calltrack::db
