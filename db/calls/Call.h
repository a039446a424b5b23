#pragma once
// A call as stored in the calls table.

#include "db/calls/CallState.h"

#include <cstdint>
#include <optional>
#include <string>

namespace calltrack::db {

struct Call {
    int64_t id = 0;
    std::string clientId;
    std::string externalId;
    std::string provider;
    CallState state = CallState::reserved;
    bool holdsSlot = false;
    std::optional<std::string> wouldRefuse{};  // observe mode: why enforce would have refused
    std::optional<int64_t> lastSequence{};
    int64_t createdAt = 0;
    // Absent while the call is known only from a provider's early terminal event.
    std::optional<int64_t> admittedAt{};
    int64_t updatedAt = 0;
    std::optional<int64_t> answeredAt{};
    std::optional<int64_t> endedAt{};
    std::optional<int64_t> expiresAt{};
    std::optional<std::string> endReason{};
    int64_t version = 1;
    std::optional<std::string> metadata{};  // JSON text
    std::optional<std::string> botId{};     // the bot carrying it (bots_required clients)
    // The provider's id (a Twilio CallSid): unique among calls, set at most once.
    std::optional<std::string> providerCallId{};
    // Heartbeats that extended the call, and the last one's time.
    int64_t heartbeats = 0;
    std::optional<int64_t> lastHeartbeatAt{};

    bool live() const { return !endedAt.has_value(); }
};

// Which call an operation is about: by calltrack id, or by the provider's id
// within a client. When both an id and a client are given, a call of another
// client is reported as not found (the client cannot see it).
struct CallRef {
    std::optional<int64_t> id{};
    std::optional<std::string> clientId{};
    std::optional<std::string> externalId{};

    static CallRef byId(int64_t id) { return CallRef{id, std::nullopt, std::nullopt}; }
    static CallRef byExternal(std::string client, std::string external) {
        return CallRef{std::nullopt, std::move(client), std::move(external)};
    }
};

}  // namespace calltrack::db
