#include "db/tenants/WebhookCredentials.h"

namespace calltrack::db {

std::optional<TwilioAccount> WebhookCredentials::twilioAccount(Connection& c,
                                                               const std::string& accountSid) {
    Query q(c,
            "SELECT a.auth_token, cc.client_id FROM twilio_accounts a JOIN client_credentials cc "
            "ON cc.twilio_account_sid = a.account_sid WHERE a.account_sid = ?1 ORDER BY "
            "cc.client_id");
    q->bind(1, accountSid);
    std::optional<TwilioAccount> out;
    while (q.step()) {
        if (!out) out = TwilioAccount{accountSid, q->getColumn(0).getString(), {}};
        out->clientIds.push_back(q->getColumn(1).getString());
    }
    return out;
}

std::optional<TwilioGate> WebhookCredentials::twilioGate(Connection& c,
                                                         const std::string& clientId) {
    Query q(c,
            "SELECT a.account_sid, a.auth_token, cc.twilio_voice_url FROM client_credentials cc "
            "JOIN twilio_accounts a ON a.account_sid = cc.twilio_account_sid WHERE cc.client_id = "
            "?1");
    q->bind(1, clientId);
    if (!q.step()) return std::nullopt;
    TwilioGate gate{q->getColumn(0).getString(), q->getColumn(1).getString(), std::nullopt};
    if (!q->getColumn(2).isNull()) gate.voiceUrl = q->getColumn(2).getString();
    return gate;
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
