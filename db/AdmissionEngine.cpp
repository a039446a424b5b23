#include "db/AdmissionEngine.h"

#include "db/CallTable.h"
#include "db/EngineError.h"
#include "db/EventLog.h"
#include "db/SlotAllocator.h"
#include "db/TextRules.h"

#include <nlohmann/json.hpp>

#include <random>

namespace calltrack::db {

namespace {

const char* const kClientForAdmission =
    "SELECT max_concurrent, enabled, mode, active, ring_timeout_s FROM clients WHERE id = ?1";
const char* const kGlobal = "SELECT global_limit, global_active FROM settings WHERE id = 1";
const char* const kInsertCall =
    "INSERT INTO calls (client_id, external_id, provider, state, client_slot, global_slot, would_refuse, "
    "created_at, updated_at, ended_at, expires_at, end_reason, metadata) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12)";
// A terminal event that arrived before the admission (the provider was
// faster than the dialer's admission request, or the dialer crashed).
const char* const kEarlyTerminal =
    "SELECT status FROM call_events WHERE client_id = ?1 AND external_id = ?2 AND call_id IS NULL "
    "AND status IN ('completed', 'busy', 'failed', 'no_answer', 'canceled') ORDER BY id LIMIT 1";

std::string generatedExternalId() {
    // 128 random bits: collisions are not a practical concern, and a clash
    // would surface as the existing call rather than a second slot.
    std::random_device rd;
    const uint64_t hi = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    const uint64_t lo = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "ct-";
    for (uint64_t part : {hi, lo})
        for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(part >> shift) & 0xF]);
    return out;
}

}  // namespace

const char* toString(Refusal refusal) {
    switch (refusal) {
        case Refusal::none: return "none";
        case Refusal::unknown_client: return "unknown_client";
        case Refusal::client_disabled: return "client_disabled";
        case Refusal::client_limit_reached: return "client_limit_reached";
        case Refusal::global_limit_reached: return "global_limit_reached";
    }
    return "none";
}

void AdmissionEngine::validate(AdmitRequest& r) {
    TextRules::requireClientId(r.clientId);
    if (!r.externalId) r.externalId = generatedExternalId();
    TextRules::requireExternalId(*r.externalId);
    if (r.provider.empty() || r.provider.size() > 32) {
        throw EngineError(ErrorCode::invalid_argument, "provider must be 1 to 32 characters");
    }
    if (r.metadataJson && !nlohmann::json::accept(*r.metadataJson)) {
        throw EngineError(ErrorCode::invalid_argument, "metadata must be valid JSON");
    }
}

AdmitResult AdmissionEngine::admit(AdmitRequest request, Deadline deadline) {
    validate(request);
    return writer_.run([&](Connection& c) { return admitIn(c, clock_.nowMs(), request); }, deadline);
}

AdmitResult AdmissionEngine::admitIn(Connection& c, int64_t now, const AdmitRequest& r) {
    AdmitResult result;
    EventRecord event;
    event.at = now;
    event.clientId = r.clientId;
    event.externalId = r.externalId;
    event.kind = "admit";
    event.source = r.source;

    {
        Query g(c, kGlobal);
        g.step();
        result.global = Usage{g->getColumn(1).getInt64(), g->getColumn(0).getInt64()};
    }

    int64_t limit = 0, ringTimeoutS = 0;
    bool enabled = false, observe = false;
    {
        Query q(c, kClientForAdmission);
        q->bind(1, r.clientId);
        if (!q.step()) {
            result.refusal = Refusal::unknown_client;
        } else {
            limit = q->getColumn(0).getInt64();
            enabled = q->getColumn(1).getInt() != 0;
            observe = std::string_view(q->getColumn(2).getText()) == "observe";
            result.client = Usage{q->getColumn(3).getInt64(), limit};
            ringTimeoutS = q->getColumn(4).getInt64();
        }
    }
    if (result.refusal == Refusal::unknown_client) {
        event.outcome = "refused";
        event.reason = toString(result.refusal);
        EventLog::append(c, event);
        return result;
    }

    // A retry of an admission that already happened: the same call, no new slot.
    if (auto existing = CallTable::find(c, CallRef::byExternal(r.clientId, *r.externalId))) {
        result.outcome = AdmitResult::Outcome::existing;
        result.call = std::move(existing->call);
        event.callId = result.call->id;
        event.outcome = "duplicate";
        event.reason = "already admitted";
        EventLog::append(c, event);
        return result;
    }

    std::optional<CallState> endedEarly;
    {
        Query q(c, kEarlyTerminal);
        q->bind(1, r.clientId);
        q->bind(2, *r.externalId);
        if (q.step()) endedEarly = parseCallState(q->getColumn(0).getText());
    }

    Call call;
    call.clientId = r.clientId;
    call.externalId = *r.externalId;
    call.provider = r.provider;
    call.createdAt = call.updatedAt = now;
    call.metadata = r.metadataJson;
    int64_t clientSlot = 0, globalSlot = 0;  // 0: holds no slot

    if (endedEarly) {
        // Admitted already ended: it never holds a slot.
        call.state = *endedEarly;
        call.endedAt = now;
        call.endReason = "ended before admission";
    } else {
        if (!enabled) {
            result.refusal = Refusal::client_disabled;
        } else if (result.client.active >= limit) {
            result.refusal = Refusal::client_limit_reached;
        } else if (result.global.active >= result.global.limit) {
            result.refusal = Refusal::global_limit_reached;
        } else {
            clientSlot = SlotAllocator::clientSlot(c, r.clientId, limit).value_or(0);
            globalSlot = SlotAllocator::globalSlot(c, result.global.limit).value_or(0);
            // The counters said there was room; the slot search agrees unless
            // the limits were lowered under live calls and those hold the
            // low slot numbers. Either way the answer is a refusal.
            if (clientSlot == 0) result.refusal = Refusal::client_limit_reached;
            else if (globalSlot == 0) result.refusal = Refusal::global_limit_reached;
        }
        if (result.refusal != Refusal::none) {
            clientSlot = globalSlot = 0;
            if (!observe) {
                event.outcome = "refused";
                event.reason = toString(result.refusal);
                EventLog::append(c, event);
                result.outcome = AdmitResult::Outcome::refused;
                return result;
            }
            call.wouldRefuse = toString(result.refusal);
            result.refusal = Refusal::none;
        }
        call.state = CallState::reserved;
        call.expiresAt = now + ringTimeoutS * 1000;
    }
    call.holdsSlot = clientSlot != 0;

    {
        Query q(c, kInsertCall);
        q->bind(1, call.clientId);
        q->bind(2, call.externalId);
        q->bind(3, call.provider);
        q->bind(4, std::string(toString(call.state)));
        if (clientSlot != 0) q->bind(5, clientSlot);
        if (globalSlot != 0) q->bind(6, globalSlot);
        if (call.wouldRefuse) q->bind(7, *call.wouldRefuse);
        q->bind(8, now);
        if (call.endedAt) q->bind(9, *call.endedAt);
        if (call.expiresAt) q->bind(10, *call.expiresAt);
        if (call.endReason) q->bind(11, *call.endReason);
        if (call.metadata) q->bind(12, *call.metadata);
        q.run();
        call.id = c.lastInsertRowid();
    }
    if (call.holdsSlot) {
        ++result.client.active;
        ++result.global.active;
    }

    event.callId = call.id;
    event.outcome = "admitted";
    event.toState = std::string(toString(call.state));
    if (call.wouldRefuse) event.reason = "observe mode: enforce would refuse: " + *call.wouldRefuse;
    if (endedEarly) event.reason = "ended before admission: holds no slot";
    EventLog::append(c, event);

    result.outcome = AdmitResult::Outcome::admitted;
    result.call = std::move(call);
    return result;
}

}  // namespace calltrack::db
