#include "db/WebhookCredentials.h"

namespace calltrack::db {

std::optional<TwilioAccount> WebhookCredentials::twilioAccount(Connection& c,
                                                               const std::string& accountSid) {
    Query q(
        c,
        "SELECT client_id, twilio_auth_token FROM client_credentials WHERE twilio_account_sid = ?1 "
        "AND twilio_auth_token IS NOT NULL");
    q->bind(1, accountSid);
    if (!q.step()) return std::nullopt;
    return TwilioAccount{q->getColumn(0).getString(), q->getColumn(1).getString()};
}

std::optional<std::string> WebhookCredentials::webhookSecret(Connection& c,
                                                             const std::string& clientId) {
    Query q(c,
            "SELECT webhook_secret FROM client_credentials WHERE client_id = ?1 AND webhook_secret "
            "IS NOT NULL");
    q->bind(1, clientId);
    if (!q.step()) return std::nullopt;
    return q->getColumn(0).getString();
}

}  // namespace calltrack::db
