#pragma once
// POSTs one notification to its receiver: the body in the receiver's format
// (db/alerts/AlertNotification), signed per the Standard Webhooks spec when
// the receiver has a secret (webhook-id = the notification id, so retries
// carry the same id), with connect and read timeouts. 2xx is acknowledged;
// anything else, a timeout or no connection is a failure with its reason.

#include "db/alerts/AlertOutbox.h"

#include <chrono>
#include <string>

namespace calltrack::app {

struct AlertDeliveryOptions {
    std::chrono::milliseconds connectTimeout{2000};
    std::chrono::milliseconds timeout{5000};  // read and write
    std::string baseUrl;                      // externalURL of Alertmanager bodies
};

struct AlertDeliveryResult {
    bool ok = false;
    int status = 0;     // HTTP status, 0 when none came
    std::string error;  // why not ok
};

class AlertDelivery {
  public:
    static AlertDeliveryResult post(const db::OutboxItem& item, int64_t nowMs,
                                    const AlertDeliveryOptions& options);
    // The body that is POSTed (tests check it against the spec).
    static std::string body(const db::OutboxItem& item, int64_t nowMs, const std::string& baseUrl);
};

}  // namespace calltrack::app
