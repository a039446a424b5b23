#pragma once
// What receivers are sent. An alert is the Alertmanager alert object
// (OPERATIONS.md): status, labels (alertname, client for per-client rules,
// severity, rule), annotations, startsAt, endsAt (0001-01-01T00:00:00Z while
// firing), generatorURL, fingerprint. It is stored with its notification
// in alert_outbox; the body for a receiver is made from it at delivery:
//  * alertmanager: the webhook payload, version "4", one alert per message;
//  * standard-webhooks: {"type": "alert.firing"|"alert.resolved",
//    "timestamp", "data": <the alert>}.

#include "db/alerts/AlertConfig.h"
#include "db/alerts/AlertStateMachine.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace calltrack::db {

class AlertNotification {
  public:
    static std::string alertName(const std::string& kind);
    // `baseUrl`: where operators reach calltrack (generatorURL, externalURL).
    static nlohmann::json alert(const AlertRule& rule, const std::optional<std::string>& clientId,
                                const AlertState& state, const std::string& fingerprint,
                                const std::string& status, const std::string& baseUrl);
    static nlohmann::json alertmanagerBody(const nlohmann::json& alert,
                                           const std::string& receiverId,
                                           const std::string& baseUrl);
    static nlohmann::json standardWebhooksBody(const nlohmann::json& alert, int64_t nowMs);
    // fingerprint:status:startsAt (ms): the same for every retry.
    static std::string notificationId(const std::string& fingerprint, const std::string& status,
                                      int64_t startsAtMs);
};

}  // namespace calltrack::db
