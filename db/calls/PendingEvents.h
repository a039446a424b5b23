#pragma once
// Provider events that arrived before their call could be found: before the
// admission (a fast provider, a dialer that crashed mid-admission) or before
// the provider's id was bound to the call (a ringing callback that beats the
// dialer's PATCH). They are kept in pending_events and applied, in sequence
// order, inside the transaction that admits or binds the call, so a live
// call's expiry follows the events it really had (LIFECYCLE.md invariant 5).
//
// Who may claim an event is its scope: the client it names, or for Twilio
// the AccountSid it came from (several clients may share one account; the
// call that appears decides which).

#include "db/calls/CallLifecycle.h"
#include "db/calls/CallState.h"
#include "db/storage/Connection.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

struct PendingEvent {
    int64_t id = 0;
    int64_t receivedAt = 0;
    std::string source;
    std::optional<std::string> clientId{};    // scope: this client ...
    std::optional<std::string> accountSid{};  // ... or the clients of this Twilio account
    std::string callRef;                      // CallSid or external id
    CallState status = CallState::initiated;
    std::optional<int64_t> sequence{};
    std::optional<int64_t> occurredAt{};
    std::optional<std::string> idempotencyKey{};
};

class PendingEvents {
  public:
    static void keep(Connection& c, const PendingEvent& event);
    // The events a call of `clientId` known by `callRef` may claim (its
    // client's, or its client's Twilio account's), in sequence order, then
    // arrival order.
    static std::vector<PendingEvent> claimableBy(Connection& c, const std::string& clientId,
                                                 const std::string& callRef);
    static void remove(Connection& c, const std::vector<PendingEvent>& events);
    // The kept event as a status event for the call that claimed it.
    static StatusEvent asStatusEvent(const PendingEvent& event, int64_t callId);
    // Whether an event with this key from this source is already kept for
    // this scope and call (a redelivery of an event still waiting for its
    // call). By call_ref: one probe of its index, however many are kept.
    // Deletes up to `limit` events kept since before `cutoffMs` (their call
    // never came); returns how many. They stay in call_events as unknown_call.
    static int purgeOlderThan(Connection& c, int64_t cutoffMs, int limit);
    static bool keyKept(Connection& c, const std::optional<std::string>& clientId,
                        const std::optional<std::string>& accountSid, const std::string& source,
                        const std::string& callRef, const std::string& key);
};

}  // namespace calltrack::db
