#include "db/alerts/AlertNotification.h"

#include "db/IsoTime.h"

#include <cmath>
#include <sstream>

namespace calltrack::db {

namespace {
// RFC 3339 without milliseconds, as Alertmanager writes them.
std::string rfc3339(int64_t ms) {
    std::string t = isoTime(ms);  // yyyy-mm-ddThh:mm:ss.sssZ
    return t.substr(0, 19) + "Z";
}

std::string percent(double v) {
    std::ostringstream s;
    s.precision(3);
    s << v * 100 << " %";
    return s.str();
}

std::string describe(const AlertRule& r, const std::optional<std::string>& client,
                     std::optional<double> value) {
    const std::string who = client ? "client " + *client : std::string("the system");
    const std::string now = value ? (r.kind == "bot_unavailable" || r.kind == "database_unavailable"
                                         ? std::to_string(static_cast<int64_t>(*value))
                                         : percent(*value))
                                  : std::string("unknown");
    if (r.kind == "client_utilization" || r.kind == "global_utilization")
        return who + " runs at " + now + " of its limit (fires at " + percent(r.fireAt) +
               ", clears below " + percent(r.clearAt) + ")";
    if (r.kind == "refusal_rate")
        return who + ": " + now + " of admission attempts refused by a limit in the last " +
               std::to_string(r.windowS) + " s";
    if (r.kind == "timeout_rate")
        return who + ": " + now + " of ended calls timed out in the last " +
               std::to_string(r.windowS) + " s (status callbacks lost?)";
    if (r.kind == "bot_unavailable")
        return who + ": " + now + " admissions refused for want of a warm bot in the last " +
               std::to_string(r.windowS) + " s";
    return "calltrack cannot write its database (locked or failing): events are spooled, "
           "admissions refused";
}
}  // namespace

std::string AlertNotification::alertName(const std::string& kind) {
    if (kind == "client_utilization") return "CalltrackClientUtilizationHigh";
    if (kind == "global_utilization") return "CalltrackGlobalUtilizationHigh";
    if (kind == "refusal_rate") return "CalltrackRefusalsHigh";
    if (kind == "timeout_rate") return "CalltrackTimeoutsHigh";
    if (kind == "database_unavailable") return "CalltrackDatabaseUnavailable";
    return "CalltrackBotUnavailable";
}

nlohmann::json AlertNotification::alert(const AlertRule& rule,
                                        const std::optional<std::string>& clientId,
                                        const AlertState& state, const std::string& fingerprint,
                                        const std::string& status, const std::string& baseUrl) {
    nlohmann::json labels = {
        {"alertname", alertName(rule.kind)}, {"severity", rule.severity}, {"rule", rule.id}};
    if (clientId) labels["client"] = *clientId;
    return {
        {"status", status},
        {"labels", labels},
        {"annotations",
         {{"summary", describe(rule, clientId, state.value)},
          {"description", "calltrack alert rule " + rule.id + " (" + rule.kind + ")"}}},
        {"startsAt", rfc3339(state.startsAt.value_or(0))},
        {"endsAt", status == "resolved" && state.endsAt ? rfc3339(*state.endsAt)
                                                        : std::string("0001-01-01T00:00:00Z")},
        {"generatorURL", baseUrl + "/v1/alerts"},
        {"fingerprint", fingerprint},
    };
}

nlohmann::json AlertNotification::alertmanagerBody(const nlohmann::json& alert,
                                                   const std::string& receiverId,
                                                   const std::string& baseUrl) {
    // One group per alert name and client, so a bridge that de-duplicates
    // by group never lets one client's resolution close another's incident.
    const auto& labels = alert["labels"];
    nlohmann::json group = {{"alertname", labels.value("alertname", "")}};
    std::string key = "{}:{alertname=\"" + group["alertname"].get<std::string>() + "\"";
    if (labels.contains("client")) {
        group["client"] = labels["client"];
        key += ",client=\"" + labels["client"].get<std::string>() + "\"";
    }
    key += "}";
    return {
        {"version", "4"},
        {"groupKey", key},
        {"truncatedAlerts", 0},
        {"status", alert["status"]},
        {"receiver", receiverId},
        {"groupLabels", group},
        {"commonLabels", alert["labels"]},
        {"commonAnnotations", alert["annotations"]},
        {"externalURL", baseUrl},
        {"alerts", nlohmann::json::array({alert})},
    };
}

nlohmann::json AlertNotification::standardWebhooksBody(const nlohmann::json& alert, int64_t nowMs) {
    return {{"type", "alert." + alert["status"].get<std::string>()},
            {"timestamp", isoTime(nowMs)},
            {"data", alert}};
}

std::string AlertNotification::notificationId(const std::string& fingerprint,
                                              const std::string& status, int64_t startsAtMs) {
    return fingerprint + ":" + status + ":" + std::to_string(startsAtMs);
}

}  // namespace calltrack::db
