#pragma once
// Appends to call_events, the append-only history (LIFECYCLE.md invariant 6:
// every received event is recorded, applied or not, with why).

#include "db/storage/Connection.h"

#include <cstdint>
#include <optional>
#include <string>

namespace calltrack::db {

struct EventRecord {
    int64_t at = 0;
    std::optional<std::string> clientId{};
    std::optional<int64_t> callId{};
    std::optional<std::string> externalId{};
    const char* kind = "status";   // admit, status, heartbeat, end, timeout
    const char* status = nullptr;  // static names only (nameOf)
    const char* outcome = "applied";
    std::optional<std::string> reason{};
    const char* fromState = nullptr;
    const char* toState = nullptr;
    std::optional<int64_t> sequence{};
    std::optional<int64_t> occurredAt{};
    std::string source = "api";
    std::optional<std::string> idempotencyKey{};
};

class EventLog {
  public:
    static int64_t append(Connection& c, const EventRecord& e);
    // The outcome first recorded under this event id for this client and
    // source, if any. Event ids are per tenant: another client's event with
    // the same id is another event.
    static std::optional<std::string> outcomeForKey(Connection& c, const std::string& clientId,
                                                    const std::string& source,
                                                    const std::string& key);
    // Whether this call already received an event with this sequence number.
    static bool sequenceSeen(Connection& c, int64_t callId, int64_t sequence);
};

}  // namespace calltrack::db
