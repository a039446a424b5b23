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

// Everything the decision needs in one step: the client row (if any) and the
// global row, whose counters triggers keep exact.
const char* const kLimits =
    "SELECT s.global_limit, s.global_active, k.max_concurrent, k.enabled, k.mode, k.active, "
    "k.ring_timeout_s "
    "FROM settings s LEFT JOIN clients k ON k.id = ?1 WHERE s.id = 1";
// On a (client_id, external_id) that exists, nothing is inserted: a retry of
// an earlier admission gets the existing call, and a call that a provider
// already reported ended (admitted_at NULL) becomes admitted, still ended and
// without a slot. Finding out this way costs nothing on the usual path.
const char* const kInsertCall =
    "INSERT INTO calls (client_id, external_id, provider, state, client_slot, global_slot, "
    "would_refuse, "
    "created_at, admitted_at, updated_at, expires_at, metadata) "
    "VALUES (?1, ?2, ?3, 'reserved', ?4, ?5, ?6, ?7, ?7, ?7, ?8, ?9) "
    "ON CONFLICT (client_id, external_id) DO UPDATE SET admitted_at = excluded.admitted_at, "
    "  updated_at = excluded.updated_at, version = version + 1 WHERE calls.admitted_at IS NULL "
    "RETURNING id, version";
const char* const kCountRefusal =
    "UPDATE clients SET refused_total = refused_total + 1 WHERE id = ?1";
const char* const kClaimEarlyEnded =
    "UPDATE calls SET admitted_at = ?2, updated_at = ?2, version = version + 1 "
    "WHERE id = ?1 AND admitted_at IS NULL";

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

const char* nameOf(Refusal refusal) {
    switch (refusal) {
        case Refusal::none:
            return "none";
        case Refusal::unknown_client:
            return "unknown_client";
        case Refusal::client_disabled:
            return "client_disabled";
        case Refusal::client_limit_reached:
            return "client_limit_reached";
        case Refusal::global_limit_reached:
            return "global_limit_reached";
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
    return writer_.run([&](Connection& c) { return admitIn(c, clock_.nowMs(), request); },
                       deadline);
}

namespace {

// (client, external_id) exists. Either a retry of an admission (answered with
// the call, counted once) or the first admission of a call the provider
// already reported ended (answered as admitted, ended, holding no slot).
AdmitResult existingCall(Connection& c, int64_t now, AdmitResult result, EventRecord& event,
                         Call call, bool claimed) {
    if (!claimed && !call.admittedAt) {
        Query q(c, kClaimEarlyEnded);
        q->bind(1, call.id);
        q->bind(2, now);
        claimed = q.run() == 1;
    }
    result.refusal = Refusal::none;
    event.callId = call.id;
    if (claimed) {
        call.admittedAt = now;
        result.outcome = AdmitResult::Outcome::admitted;
        event.outcome = "admitted";
        event.toState = nameOf(call.state);
        event.reason = "ended before admission: holds no slot";
    } else {
        result.outcome = AdmitResult::Outcome::existing;
        event.outcome = "duplicate";
        event.reason = "already admitted";
    }
    EventLog::append(c, event);
    result.call = std::move(call);
    return result;
}

}  // namespace

AdmitResult AdmissionEngine::admitIn(Connection& c, int64_t now, const AdmitRequest& r) {
    AdmitResult result;
    EventRecord event;
    event.at = now;
    event.clientId = r.clientId;
    event.externalId = r.externalId;
    event.kind = "admit";
    event.source = r.source;

    int64_t limit = 0, ringTimeoutS = 0;
    bool known = false, enabled = false, observe = false;
    {
        Query q(c, kLimits);
        q->bind(1, r.clientId);
        q.step();
        result.global = Usage{q->getColumn(1).getInt64(), q->getColumn(0).getInt64()};
        known = !q->getColumn(2).isNull();
        if (known) {
            limit = q->getColumn(2).getInt64();
            enabled = q->getColumn(3).getInt() != 0;
            observe = std::string_view(q->getColumn(4).getText()) == "observe";
            result.client = Usage{q->getColumn(5).getInt64(), limit};
            ringTimeoutS = q->getColumn(6).getInt64();
        }
    }
    if (!known) {
        result.refusal = Refusal::unknown_client;
        event.outcome = "refused";
        event.reason = nameOf(result.refusal);
        EventLog::append(c, event);
        return result;
    }

    SlotAllocator::Slots slots;
    if (!enabled) {
        result.refusal = Refusal::client_disabled;
    } else if (result.client.active >= limit) {
        result.refusal = Refusal::client_limit_reached;
    } else if (result.global.active >= result.global.limit) {
        result.refusal = Refusal::global_limit_reached;
    } else {
        slots = SlotAllocator::allocate(c, r.clientId, limit, result.global.limit);
        // The counters said there was room; the slot search agrees unless
        // the limits were lowered under live calls and those hold the low
        // slot numbers. Either way the answer is a refusal.
        if (slots.client == 0)
            result.refusal = Refusal::client_limit_reached;
        else if (slots.global == 0)
            result.refusal = Refusal::global_limit_reached;
    }

    Call call;
    call.clientId = r.clientId;
    call.externalId = *r.externalId;
    call.provider = r.provider;
    call.createdAt = call.updatedAt = now;
    call.admittedAt = now;
    call.metadata = r.metadataJson;
    call.state = CallState::reserved;
    call.expiresAt = now + ringTimeoutS * 1000;

    if (result.refusal != Refusal::none) {
        // A retry of a call admitted before the client filled up is not
        // refused: it gets its call back.
        if (auto existing = CallTable::find(c, CallRef::byExternal(r.clientId, *r.externalId))) {
            return existingCall(c, now, std::move(result), event, std::move(existing->call), false);
        }
        slots = SlotAllocator::Slots{};
        if (!observe) {
            event.outcome = "refused";
            event.reason = nameOf(result.refusal);
            EventLog::append(c, event);
            Query count(c, kCountRefusal);
            count->bind(1, r.clientId);
            count.run();
            result.outcome = AdmitResult::Outcome::refused;
            return result;
        }
        call.wouldRefuse = nameOf(result.refusal);
        result.refusal = Refusal::none;
    }
    call.holdsSlot = slots.client != 0;

    {
        Query q(c, kInsertCall);
        q->bind(1, call.clientId);
        q->bind(2, call.externalId);
        q->bind(3, call.provider);
        if (call.holdsSlot) {
            q->bind(4, slots.client);
            q->bind(5, slots.global);
        }
        if (call.wouldRefuse) q->bind(6, *call.wouldRefuse);
        q->bind(7, now);
        q->bind(8, *call.expiresAt);
        if (call.metadata) q->bind(9, *call.metadata);
        // A row back with version 1: inserted. Version > 1: the upsert
        // admitted an early-ended call. No row: a retry of an admitted call.
        std::optional<int64_t> id, version;
        if (q.step()) {
            id = q->getColumn(0).getInt64();
            version = q->getColumn(1).getInt64();
        }
        if (!id || *version > 1) {
            auto existing = CallTable::find(c, CallRef::byExternal(r.clientId, *r.externalId));
            if (!existing)
                throw EngineError(ErrorCode::internal, "call conflict but no existing call");
            return existingCall(c, now, std::move(result), event, std::move(existing->call),
                                id.has_value());
        }
        call.id = *id;
    }
    if (call.holdsSlot) {
        ++result.client.active;
        ++result.global.active;
    }

    event.callId = call.id;
    event.outcome = "admitted";
    event.toState = nameOf(call.state);
    if (call.wouldRefuse) event.reason = "observe mode: enforce would refuse: " + *call.wouldRefuse;
    EventLog::append(c, event);

    result.outcome = AdmitResult::Outcome::admitted;
    result.call = std::move(call);
    return result;
}

}  // namespace calltrack::db
