#include "db/calls/AdmissionEngine.h"

#include "db/EngineError.h"
#include "db/TextRules.h"
#include "db/bots/BotAssigner.h"
#include "db/calls/CallTable.h"
#include "db/calls/EventLog.h"
#include "db/calls/PendingEvents.h"
#include "db/calls/ProviderCallEvents.h"
#include "db/calls/SlotAllocator.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>

namespace calltrack::db {

namespace {

// Everything the decision needs in one step: the client row (if any) and the
// global row, whose counters triggers keep exact.
const char* const kLimits =
    "SELECT s.global_limit, s.global_active, k.max_concurrent, k.enabled, k.mode, k.active, "
    "k.ring_timeout_s, k.bots_required "
    "FROM settings s LEFT JOIN clients k ON k.id = ?1 WHERE s.id = 1";
// The schema's insert guard refuses a second call with the same
// (client_id, external_id) outright (so that INSERT OR REPLACE can never
// delete a call); the engine looks the pair up first.
const char* const kInsertCall =
    "INSERT INTO calls (client_id, external_id, provider, state, client_slot, global_slot, "
    "would_refuse, "
    "created_at, admitted_at, updated_at, expires_at, metadata, bot_id, provider_call_id, "
    "bot_slot, admitted_offline) "
    "VALUES (?1, ?2, ?3, 'reserved', ?4, ?5, ?6, ?7, ?7, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
// A call the provider reported ended before its admission: admitted ended,
// holding no slot (the insert guard lets ended calls through).
const char* const kInsertEnded =
    "INSERT INTO calls (client_id, external_id, provider, state, created_at, admitted_at, "
    "updated_at, ended_at, end_reason, last_sequence, metadata, provider_call_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5, ?5, ?6, ?7, ?8, ?9)";
const char* const kCountRefusal =
    "UPDATE clients SET refused_total = refused_total + 1 WHERE id = ?1";
// Observe mode, no free bot: admitted without one (would_refuse names limit
// refusals only, so the trigger does not count this one).
const char* const kCountFlagged =
    "UPDATE clients SET flagged_total = flagged_total + 1 WHERE id = ?1";
const char* const kClaimEarlyEnded =
    "UPDATE calls SET admitted_at = ?2, updated_at = ?2, version = version + 1 "
    "WHERE id = ?1 AND admitted_at IS NULL";

// SQLite's json_valid() (the metadata CHECK) refuses deep nesting that a
// general parser accepts; a modest bound keeps the two in agreement.
constexpr int kMaxMetadataDepth = 64;

int jsonDepth(const std::string& text) {
    int depth = 0, deepest = 0;
    bool inString = false, escaped = false;
    for (char ch : text) {
        if (inString) {
            if (escaped)
                escaped = false;
            else if (ch == '\\')
                escaped = true;
            else if (ch == '"')
                inString = false;
        } else if (ch == '"') {
            inString = true;
        } else if (ch == '[' || ch == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (ch == ']' || ch == '}') {
            --depth;
        }
    }
    return deepest;
}

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
        case Refusal::bot_unavailable:
            return "bot_unavailable";
    }
    return "none";
}

void AdmissionEngine::validate(AdmitRequest& r) {
    TextRules::requireClientId(r.clientId);
    if (!r.externalId) {
        r.externalId = generatedExternalId();
        r.externalIdGenerated = true;
    }
    TextRules::requireExternalId(*r.externalId);
    if (r.providerCallId) TextRules::requireIdentifier(*r.providerCallId, "provider_call_id");
    if (r.provider.empty() || r.provider.size() > 32) {
        throw EngineError(ErrorCode::invalid_argument, "provider must be 1 to 32 characters");
    }
    if (r.metadataJson && (!nlohmann::json::accept(*r.metadataJson) ||
                           jsonDepth(*r.metadataJson) > kMaxMetadataDepth)) {
        throw EngineError(ErrorCode::invalid_argument,
                          "metadata must be valid JSON nested at most " +
                              std::to_string(kMaxMetadataDepth) + " levels deep");
    }
}

AdmitResult AdmissionEngine::admit(AdmitRequest request, Deadline deadline) {
    validate(request);
    auto result =
        writer_.run([&](Connection& c) { return admitIn(c, clock_.nowMs(), request); }, deadline);
    if (result.botShortage) reportBotShortage(request.clientId);
    return result;
}

namespace {

// (client, external_id) exists: a retry of an admission (answered with the
// call, counted once), or a call that already ended, either since its
// admission or, for a row written before v3, by a provider event that beat
// it (answered already_ended: the dialer must not dial it).
AdmitResult existingCall(Connection& c, int64_t now, AdmitResult result, EventRecord& event,
                         Call call) {
    if (!call.admittedAt) {
        Query q(c, kClaimEarlyEnded);
        q->bind(1, call.id);
        q->bind(2, now);
        if (q.run() == 1) {
            call.admittedAt = now;
            call.updatedAt = now;
            ++call.version;
        }
    }
    result.refusal = Refusal::none;
    event.callId = call.id;
    event.outcome = "duplicate";
    if (call.live()) {
        result.outcome = AdmitResult::Outcome::existing;
        event.reason = "already admitted";
    } else {
        result.outcome = AdmitResult::Outcome::already_ended;
        event.reason = std::string("call_already_ended: ") + nameOf(call.state);
    }
    EventLog::append(c, event);
    result.call = std::move(call);
    return result;
}

// The events kept for this call (by its external id, and by its provider id
// when that is another), in sequence order.
std::vector<PendingEvent> pendingFor(Connection& c, const AdmitRequest& r) {
    auto pending = PendingEvents::claimableBy(c, r.clientId, *r.externalId);
    if (r.providerCallId && *r.providerCallId != *r.externalId) {
        auto more = PendingEvents::claimableBy(c, r.clientId, *r.providerCallId);
        pending.insert(pending.end(), more.begin(), more.end());
        std::stable_sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) {
            if (a.sequence.has_value() != b.sequence.has_value()) return a.sequence.has_value();
            if (a.sequence && *a.sequence != *b.sequence) return *a.sequence < *b.sequence;
            return a.id < b.id;
        });
    }
    return pending;
}

// The provider reported the call ended before this admission: the call is
// written ended, holding no slot, and every kept event is recorded against it.
AdmitResult endedBeforeAdmission(Connection& c, int64_t now, const AdmitRequest& r,
                                 AdmitResult result, EventRecord& event,
                                 const std::vector<PendingEvent>& pending) {
    const auto terminal = std::find_if(pending.begin(), pending.end(),
                                       [](const PendingEvent& p) { return isTerminal(p.status); });
    std::optional<int64_t> lastSequence;
    for (const auto& p : pending)
        if (p.sequence) lastSequence = std::max(lastSequence.value_or(*p.sequence), *p.sequence);
    const std::string reason = std::string("ended before admission: ") + nameOf(terminal->status) +
                               " from " + terminal->source;
    {
        Query q(c, kInsertEnded);
        q->bind(1, r.clientId);
        q->bind(2, *r.externalId);
        q->bind(3, r.provider);
        q->bindNoCopy(4, nameOf(terminal->status));
        q->bind(5, now);
        q->bind(6, reason);
        if (lastSequence) q->bind(7, *lastSequence);
        if (r.metadataJson) q->bind(8, *r.metadataJson);
        if (r.providerCallId) q->bind(9, *r.providerCallId);
        q.run();
    }
    const int64_t callId = c.lastInsertRowid();
    event.callId = callId;
    event.outcome = "admitted";
    event.toState = nameOf(terminal->status);
    event.reason = "call_already_ended: " + reason + "; holds no slot";
    EventLog::append(c, event);

    PendingEvents::remove(c, pending);
    for (auto p = pending.begin(); p != pending.end(); ++p) {
        if (p == terminal) {
            EventRecord applied;
            applied.at = now;
            applied.clientId = r.clientId;
            applied.callId = callId;
            applied.externalId = r.externalId;
            applied.status = nameOf(p->status);
            applied.toState = nameOf(p->status);
            applied.reason = reason;
            applied.sequence = p->sequence;
            applied.occurredAt = p->occurredAt;
            applied.source = p->source;
            // Unless this client and source used the id before (it is then
            // recorded without it, as applyStatusIn records a redelivery).
            if (p->idempotencyKey &&
                !EventLog::outcomeForKey(c, r.clientId, p->source, *p->idempotencyKey))
                applied.idempotencyKey = p->idempotencyKey;
            EventLog::append(c, applied);
            continue;
        }
        CallLifecycle::applyStatusIn(c, now, PendingEvents::asStatusEvent(*p, callId));
    }
    result.outcome = AdmitResult::Outcome::already_ended;
    result.call = CallTable::findById(c, callId);
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
    bool known = false, enabled = false, observe = false, botsRequired = false;
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
            botsRequired = q->getColumn(7).getInt() == 1;
        }
    }
    if (!known) {
        result.refusal = Refusal::unknown_client;
        event.outcome = "refused";
        event.reason = nameOf(result.refusal);
        EventLog::append(c, event);
        return result;
    }

    // A retry of an earlier admission gets its call back (counted once), even
    // when the client is full now; so does the first admission of a call a
    // provider already reported ended (admitted ended, holding no slot).
    if (auto existing = CallTable::find(c, CallRef::byExternal(r.clientId, *r.externalId))) {
        return existingCall(c, now, std::move(result), event, std::move(existing->call));
    }
    if (r.providerCallId) {
        if (auto bound = CallTable::findByProviderCallId(c, *r.providerCallId)) {
            if (bound->call.clientId != r.clientId) {
                throw EngineError(
                    ErrorCode::provider_id_conflict,
                    "provider_call_id " + *r.providerCallId + " is bound to another call");
            }
            return existingCall(c, now, std::move(result), event, std::move(bound->call));
        }
    }
    // Provider events that beat the admission: a terminal one means the call
    // is over before it was admitted; the others are applied once it is.
    // (None can exist for an id calltrack generated: nobody knew it before.)
    const auto pending = r.externalIdGenerated ? std::vector<PendingEvent>{} : pendingFor(c, r);
    if (std::any_of(pending.begin(), pending.end(),
                    [](const PendingEvent& p) { return isTerminal(p.status); })) {
        return endedBeforeAdmission(c, now, r, std::move(result), event, pending);
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
    // The bot and one of its capacity slots, in the same transaction as the
    // call's slots; the insert guard and calls_live_bot_slot keep a bot
    // within its capacity whatever this picks.
    std::optional<BotAssigner::Pick> bot;
    bool flaggedForBot = false;
    if (result.refusal == Refusal::none && botsRequired) {
        bot = BotAssigner::pickIn(c, now, r.clientId);
        if (!bot) {
            result.botShortage = true;
            if (observe) {
                flaggedForBot = true;
            } else {
                result.refusal = Refusal::bot_unavailable;
                result.retryAfterMs = BotAssigner::retryAfterMsIn(c, r.clientId);
            }
        }
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
        slots = SlotAllocator::Slots{};
        // An offline admission is a call that is already up: written
        // without a slot and flagged (never refused, never merged silently).
        if (!observe && !r.admittedOffline) {
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
    if (bot) call.botId = bot->botId;

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
        if (bot) {
            q->bind(10, bot->botId);
            q->bind(12, bot->slot);
        }
        if (r.providerCallId) q->bind(11, *r.providerCallId);
        q->bind(13, r.admittedOffline ? 1 : 0);
        q.run();
        call.id = c.lastInsertRowid();
        call.providerCallId = r.providerCallId;
    }
    if (call.holdsSlot) {
        ++result.client.active;
        ++result.global.active;
    }

    event.callId = call.id;
    event.outcome = "admitted";
    event.toState = nameOf(call.state);
    if (call.wouldRefuse) {
        event.reason = (r.admittedOffline ? "admitted offline; over the limit when written: "
                                          : "observe mode: enforce would refuse: ") +
                       *call.wouldRefuse;
    } else if (r.admittedOffline) {
        event.reason = "admitted offline";
    }
    if (flaggedForBot) {
        event.reason = "observe mode: enforce would refuse: bot_unavailable";
        Query q(c, kCountFlagged);
        q->bind(1, r.clientId);
        q.run();
    } else if (call.botId) {
        event.reason = "bot " + *call.botId;
    }
    EventLog::append(c, event);

    result.outcome = AdmitResult::Outcome::admitted;
    if (!pending.empty()) {
        // In sequence order, after the admission record: the call's state
        // and expiry follow the events it really had.
        ProviderCallEvents::applyIn(c, now, call.id, pending);
        result.call = CallTable::findById(c, call.id);
        return result;
    }
    result.call = std::move(call);
    return result;
}

}  // namespace calltrack::db
