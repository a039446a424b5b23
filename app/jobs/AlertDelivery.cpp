#include "app/jobs/AlertDelivery.h"

#include "api/webhooks/StandardWebhookSignature.h"
#include "db/alerts/AlertNotification.h"

#include <httplib.h>

namespace calltrack::app {

std::string AlertDelivery::body(const db::OutboxItem& item, int64_t nowMs,
                                const std::string& baseUrl) {
    if (item.format == "standard-webhooks")
        return db::AlertNotification::standardWebhooksBody(item.alert, nowMs).dump();
    return db::AlertNotification::alertmanagerBody(item.alert, item.receiverId, baseUrl).dump();
}

AlertDeliveryResult AlertDelivery::post(const db::OutboxItem& item, int64_t nowMs,
                                        const AlertDeliveryOptions& options) {
    AlertDeliveryResult r;
    // scheme://host[:port] and the path (validated when the receiver was put).
    const auto schemeEnd = item.url.find("://");
    const auto pathStart = item.url.find('/', schemeEnd == std::string::npos ? 0 : schemeEnd + 3);
    const std::string origin =
        pathStart == std::string::npos ? item.url : item.url.substr(0, pathStart);
    const std::string path = pathStart == std::string::npos ? "/" : item.url.substr(pathStart);
    std::string payload;
    try {
        payload = body(item, nowMs, options.baseUrl);
    } catch (const std::exception& e) {
        r.error = std::string("cannot build the body: ") + e.what();
        return r;
    }
    httplib::Headers headers;
    if (item.secret) {
        const int64_t ts = nowMs / 1000;
        try {
            headers.emplace("webhook-id", item.notificationId);
            headers.emplace("webhook-timestamp", std::to_string(ts));
            headers.emplace("webhook-signature",
                            api::StandardWebhookSignature::sign(*item.secret, item.notificationId,
                                                                ts, payload));
        } catch (const std::exception& e) {
            r.error = std::string("cannot sign with the receiver's secret: ") + e.what();
            return r;
        }
    }
    try {
        httplib::Client client(origin);
        client.set_connection_timeout(options.connectTimeout);
        client.set_read_timeout(options.timeout);
        client.set_write_timeout(options.timeout);
        client.set_follow_location(false);
        auto res = client.Post(path, headers, payload, "application/json");
        if (!res) {
            r.error = "no answer: " + httplib::to_string(res.error());
            return r;
        }
        r.status = res->status;
        r.ok = res->status >= 200 && res->status < 300;
        if (!r.ok) r.error = "answered " + std::to_string(res->status);
    } catch (const std::exception& e) {
        r.error = e.what();
    }
    return r;
}

}  // namespace calltrack::app
