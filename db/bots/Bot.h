#pragma once
// A voice bot as stored in the bots table (schema.sql, "voice bots"), its
// configuration, and scheduled demand.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace calltrack::db {

enum class BotState { cold, warming, ready, busy, failed };

const char* nameOf(BotState state);
std::optional<BotState> parseBotState(std::string_view text);

struct Bot {
    std::string id;
    std::optional<std::string> clientId{};  // absent: shared by all clients
    std::string warmupUrl;
    int64_t capacity = 1;
    int64_t warmupTimeoutMs = 10'000;
    BotState state = BotState::cold;
    int64_t activeCalls = 0;
    std::optional<std::string> poolClientId{};  // whose warm pool it counts toward
    std::optional<std::string> stateReason{};
    std::optional<std::string> attemptId{};  // correlation id of the last warm-up
    int64_t stateChangedAt = 0;
    std::optional<int64_t> warmingUntil{};
    std::optional<int64_t> idleUntil{};
    std::optional<int64_t> retryAt{};
    int64_t failures = 0;
    std::optional<int64_t> lastWarmupMs{};
    int64_t createdAt = 0;
    int64_t updatedAt = 0;
    int64_t version = 1;
};

// What PUT /v1/bots/{id} sets: the whole configuration (absent client = shared).
struct BotConfig {
    std::optional<std::string> clientId{};
    std::string warmupUrl;
    int64_t capacity = 1;
    int64_t warmupTimeoutMs = 10'000;
};

// Expected demand (POST /v1/clients/{id}/schedule).
struct DemandSchedule {
    int64_t id = 0;
    std::string clientId;
    int64_t startsAt = 0;
    int64_t endsAt = 0;
    int64_t expectedConcurrency = 0;
    int64_t createdAt = 0;
};

}  // namespace calltrack::db
