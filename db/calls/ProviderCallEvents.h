#pragma once
// How provider events find their call. A dialer admits a call before it
// dials and learns the provider's id (a Twilio CallSid) only afterwards; the
// provider's callbacks may beat the dialer's report of that id. So:
//   * the provider's id is bound to a call at most once: by the dialer
//     (PATCH), or by the first signed callback that names the call
//     (?call_id=); the schema keeps it unique among calls;
//   * a Twilio callback finds its call by ?call_id=, else by the bound
//     CallSid, else by external id among the clients of its AccountSid; a
//     call of a client outside that account is never touched;
//   * what finds no call is recorded and kept (PendingEvents), then applied
//     when the call is admitted or bound.
// All of it runs inside one writer transaction per request.

#include "db/Clock.h"
#include "db/calls/Call.h"
#include "db/calls/CallLifecycle.h"
#include "db/calls/PendingEvents.h"
#include "db/storage/Connection.h"
#include "db/storage/GroupCommitWriter.h"

#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

// A verified Twilio status callback.
struct TwilioEvent {
    std::string accountSid;
    std::string callSid;
    std::optional<int64_t> callId{};  // calltrack's id, from the callback URL's ?call_id=
    CallState status = CallState::initiated;
    std::optional<int64_t> sequence{};
    std::optional<int64_t> occurredAtMs{};
    std::optional<std::string> eventId{};  // idempotency key (I-Twilio-Idempotency-Token)
};

class ProviderCallEvents {
  public:
    ProviderCallEvents(GroupCommitWriter& writer, const Clock& clock)
        : writer_(writer), clock_(clock) {}

    // Binds `providerCallId` to the call (validated: 1-64 of [A-Za-z0-9._:-]).
    // The same id again is a no-op; another id, or an id bound to another
    // call, is EngineError provider_id_conflict; an unknown call not_found.
    // Events kept for that id are applied; returns the call after them.
    Call bind(CallRef call, std::string providerCallId, Deadline deadline = noDeadline());
    EventResult applyTwilio(TwilioEvent event, Deadline deadline = noDeadline());
    // What applyTwilio checks before it writes (EngineError invalid_argument).
    static void validate(const TwilioEvent& event);
    // Kept events whose call has not come within this long are dropped (a
    // CallSid no dialer ever admitted or bound): the table stays bounded.
    static constexpr int64_t kKeepPendingMs = 24 * 3600 * 1000;
    // Deletes up to `limit` kept events older than kKeepPendingMs; returns how many.
    int purgeExpiredPending(int limit, Deadline deadline = noDeadline());

    static Call bindIn(Connection& c, int64_t nowMs, const CallRef& call,
                       const std::string& providerCallId);
    static EventResult applyTwilioIn(Connection& c, int64_t nowMs, const TwilioEvent& event);
    // Applies, in sequence order, the events kept for a call known by
    // `callRef` (its external id or provider id), and forgets them.
    static std::vector<EventResult> applyPendingIn(Connection& c, int64_t nowMs, const Call& call,
                                                   const std::string& callRef);
    // Applies these kept events to the call that claimed them, and forgets them.
    static std::vector<EventResult> applyIn(Connection& c, int64_t nowMs, int64_t callId,
                                            const std::vector<PendingEvent>& pending);

  private:
    GroupCommitWriter& writer_;
    const Clock& clock_;
};

}  // namespace calltrack::db
