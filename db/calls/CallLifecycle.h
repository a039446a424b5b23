#pragma once
// Moves calls through their lifecycle: provider status events, heartbeats,
// explicit ends and timeouts. Every input is recorded in call_events with its
// outcome; only an event that moves the call forward changes it, and the
// slot is released (by trigger) exactly once, at the first terminal state.

#include "db/Clock.h"
#include "db/calls/Call.h"
#include "db/storage/Connection.h"
#include "db/storage/GroupCommitWriter.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace calltrack::db {

enum class EventOutcome {
    applied,       // the call moved forward
    duplicate,     // this event (same id, same sequence, or same state) was seen before
    out_of_order,  // earlier in the lifecycle than the call already is
    after_end,     // the call had already ended
    unknown_call,  // no such call (yet): recorded, kept, and applied when it is admitted or bound
    not_extended,  // a heartbeat on a call not yet answered: recorded, expiry unchanged
    refused,       // a provider event that contradicts the call it names: recorded, not applied
};
const char* nameOf(EventOutcome outcome);

struct StatusEvent {
    CallRef call;
    CallState status = CallState::initiated;
    std::optional<int64_t> sequence{};         // provider's per-call sequence number
    std::optional<int64_t> occurredAtMs{};     // provider's timestamp
    std::optional<std::string> eventId{};      // idempotency key (provider event id)
    std::optional<int64_t> expectedVersion{};  // optimistic check: conflict if the call changed
    std::optional<std::string> reason{};       // stored as end_reason on a terminal event
    std::string source = "api";
};

struct EndRequest {
    CallRef call;
    std::optional<std::string> reason{};
    std::optional<int64_t> expectedVersion{};
    std::string source = "api";
};

struct EventResult {
    EventOutcome outcome = EventOutcome::applied;
    std::optional<Call> call{};  // the call after the event (absent for unknown_call)
    std::string detail;          // why it was not applied
};

class CallLifecycle {
  public:
    CallLifecycle(GroupCommitWriter& writer, const Clock& clock) : writer_(writer), clock_(clock) {}

    EventResult applyStatus(StatusEvent event, Deadline deadline = noDeadline());
    // Extends an answered call's expiry as if an event had come; no state
    // change. On a live call not yet answered: not_extended, nothing changes.
    EventResult heartbeat(CallRef call, std::string source = "api",
                          Deadline deadline = noDeadline());
    // Ends a live call: completed if it was answered, canceled otherwise.
    EventResult end(EndRequest request, Deadline deadline = noDeadline());
    // Ends up to maxCalls calls whose expiry is at or before nowMs as
    // timed_out, oldest expiry first. Returns how many it really ended.
    int reapExpired(int maxCalls, Deadline deadline = noDeadline());
    // Where a reaper pass goes on: after this (expires_at, id).
    struct ReapCursor {
        int64_t expiresAt = INT64_MIN;
        int64_t id = 0;
    };
    struct ReapBatch {
        int examined = 0;  // expired calls looked at
        int ended = 0;
        // Calls that could not be ended (a shell edit broke a counter, say):
        // each was rolled back alone and never blocks the others.
        std::vector<std::pair<int64_t, std::string>> failed;
        ReapCursor next;  // the last call examined
    };
    // Up to maxCalls expired calls after `after`, each in its own savepoint.
    ReapBatch reapBatch(int maxCalls, ReapCursor after, Deadline deadline = noDeadline());

    // What applyStatus / heartbeat / end check before they write
    // (EngineError invalid_argument).
    static void validate(const StatusEvent& event);
    static void validate(const CallRef& call);

    // Transaction bodies, for composing into batches.
    static EventResult applyStatusIn(Connection& c, int64_t nowMs, const StatusEvent& event);
    static EventResult heartbeatIn(Connection& c, int64_t nowMs, const CallRef& call,
                                   const std::string& source);
    static EventResult endIn(Connection& c, int64_t nowMs, const EndRequest& request);
    static ReapBatch reapExpiredIn(Connection& c, int64_t nowMs, int maxCalls, ReapCursor after);

  private:
    GroupCommitWriter& writer_;
    const Clock& clock_;
};

}  // namespace calltrack::db
