#pragma once
// A client (tenant) with its own concurrency limit, and the global limit.

#include <cstdint>
#include <optional>
#include <string>

namespace calltrack::db {

enum class ClientMode { enforce, observe };
// What an admission does when the database cannot take it in time.
enum class UnavailablePolicy { refuse, admit_within_share };

// The ranges every client value must fall in: checked by ClientRegistry for
// every writer (API and CLI alike); the API names them in its messages.
struct ClientBounds {
    static constexpr int64_t kMaxConcurrent = 1'000'000'000;
    static constexpr int64_t kMaxRingTimeoutS = 86'400;
    static constexpr int64_t kMaxCallS = 7 * 86'400;
    static constexpr int64_t kMaxWarmBots = 100'000;
    static constexpr int64_t kMaxWarmTtlS = 30 * 86'400;  // "always warm" pools
    static constexpr int64_t kMaxLeadTimeS = 86'400;
};

// A client's warm pool (clients.warm_*): how many bots the scheduler keeps
// warm for it. target = min(max_warm, max(min_warm,
//     ceil(max(demand, scheduled) / capacity per bot) + headroom)).
struct WarmPoolPolicy {
    int64_t minWarm = 0;
    int64_t headroom = 1;
    std::optional<int64_t> maxWarm{};  // absent: no cap but the bots that exist
    int64_t warmTtlS = 300;
    int64_t leadTimeS = 120;
};

struct Client {
    std::string id;
    std::string name;
    int64_t maxConcurrent = 0;
    bool enabled = true;
    ClientMode mode = ClientMode::enforce;
    int64_t ringTimeoutS = 60;
    int64_t maxCallS = 4 * 3600;
    int64_t active = 0;
    int64_t refusedTotal = 0;
    int64_t flaggedTotal = 0;
    // Provider credentials: the account SID is shown, secrets only as "set".
    std::optional<std::string> twilioAccountSid{};
    bool hasTwilioAuthToken = false;
    std::optional<std::string> twilioVoiceUrl{};  // the inbound gate's <Redirect> target
    bool hasWebhookSecret = false;
    int64_t createdAt = 0;
    int64_t updatedAt = 0;
    bool botsRequired = false;  // every admitted call takes a ready bot
    WarmPoolPolicy warmPool;
    UnavailablePolicy onDatabaseUnavailable = UnavailablePolicy::refuse;
};

// Fields to change; absent ones keep their value (or the default on create).
struct ClientPatch {
    std::optional<std::string> name{};
    std::optional<int64_t> maxConcurrent{};
    std::optional<bool> enabled{};
    std::optional<ClientMode> mode{};
    std::optional<int64_t> ringTimeoutS{};
    std::optional<int64_t> maxCallS{};
    // Several clients may name one account; its auth token is the
    // account's (the latest given replaces it for all of them).
    struct Twilio {
        std::string accountSid;
        std::string authToken;
        std::optional<std::string> voiceUrl{};  // absent keeps the client's current one
        // Another token for an account other clients use is refused unless
        // this is set: a typo would break every client of the account.
        bool rotateAuthToken = false;
    };
    std::optional<Twilio> twilio{};
    std::optional<std::string> webhookSecret{};  // Standard Webhooks "whsec_..."
    std::optional<bool> botsRequired{};
    struct WarmPool {
        std::optional<int64_t> minWarm{};
        std::optional<int64_t> headroom{};
        std::optional<std::optional<int64_t>> maxWarm{};  // set to nullopt: no cap
        std::optional<int64_t> warmTtlS{};
        std::optional<int64_t> leadTimeS{};
    };
    std::optional<WarmPool> warmPool{};  // fields absent keep their value
    std::optional<UnavailablePolicy> onDatabaseUnavailable{};
};

struct Usage {
    int64_t active = 0;
    int64_t limit = 0;
};

struct GlobalSettings {
    int64_t limit = 0;
    int64_t active = 0;
};

const char* nameOf(ClientMode mode);
std::optional<ClientMode> parseClientMode(const std::string& text);
const char* nameOf(UnavailablePolicy policy);
std::optional<UnavailablePolicy> parseUnavailablePolicy(const std::string& text);

}  // namespace calltrack::db
