#pragma once
// What each enabled rule measures now, for the system or for each client:
// rules expanded over the clients (a rule naming a client replaces the
// client-less rules of its kind for that client), their signal read in one
// snapshot from the live state and the utilization history's last
// window_s.

#include "db/alerts/AlertConfig.h"
#include "db/storage/Connection.h"

#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

struct AlertSignal {
    AlertRule rule;
    std::optional<std::string> clientId{};
    std::string fingerprint;
    std::optional<double> value{};  // none: unknown now (a limit of 0)
};

class AlertSignals {
  public:
    // `databaseUnavailable`: the evaluating process's own view (its writes fail).
    static std::vector<AlertSignal> readIn(Connection& c, int64_t nowMs, bool databaseUnavailable);
    // sha256("<rule id>|<client id or *>"), first 16 hex digits.
    static std::string fingerprintOf(const std::string& ruleId,
                                     const std::optional<std::string>& clientId);
};

}  // namespace calltrack::db
