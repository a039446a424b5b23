#pragma once
// The secrets a webhook is verified with. Read on a read connection; never
// logged, never returned by the API.

#include "db/storage/Connection.h"

#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

// A Twilio account: one auth token, any number of clients (a platform's
// master account serving several customers).
struct TwilioAccount {
    std::string accountSid;
    std::string authToken;
    std::vector<std::string> clientIds;
};

// What the inbound gate of one client needs.
struct TwilioGate {
    std::string accountSid;
    std::string authToken;
    std::optional<std::string> voiceUrl{};
};

class WebhookCredentials {
  public:
    // The account, if any client registered it.
    static std::optional<TwilioAccount> twilioAccount(Connection& c, const std::string& accountSid);
    static std::optional<TwilioGate> twilioGate(Connection& c, const std::string& clientId);
    static std::optional<std::string> webhookSecret(Connection& c, const std::string& clientId);
};

}  // namespace calltrack::db
