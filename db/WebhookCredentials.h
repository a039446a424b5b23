#pragma once
// The secrets a webhook is verified with. Read on a read connection; never
// logged, never returned by the API.

#include "db/Connection.h"

#include <optional>
#include <string>

namespace calltrack::db {

struct TwilioAccount {
    std::string clientId;
    std::string authToken;
};

class WebhookCredentials {
  public:
    static std::optional<TwilioAccount> twilioAccount(Connection& c, const std::string& accountSid);
    static std::optional<std::string> webhookSecret(Connection& c, const std::string& clientId);
};

}  // namespace calltrack::db
