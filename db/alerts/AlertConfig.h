#pragma once
// Alert rules and receivers as stored (schema.sql v7), and their store:
// put (create or replace), find, list, remove. Validation happens here, so
// the API and the CLI refuse the same things with the same messages
// (EngineError invalid_argument / not_found).

#include "db/Clock.h"
#include "db/storage/GroupCommitWriter.h"
#include "db/storage/ReadPool.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

struct AlertRule {
    std::string id;
    std::string kind;  // client_utilization, global_utilization, refusal_rate, timeout_rate,
                       // database_unavailable, bot_unavailable
    std::optional<std::string> clientId{};
    double fireAt = 0.8;
    double clearAt = 0.6;
    int64_t forS = 60;
    int64_t windowS = 300;
    std::string severity = "warning";
    bool enabled = true;
    int64_t createdAt = 0, updatedAt = 0;

    // Per-client kinds are evaluated once per client.
    bool perClient() const {
        return kind == "client_utilization" || kind == "refusal_rate" || kind == "timeout_rate" ||
               kind == "bot_unavailable";
    }
    // Throws EngineError invalid_argument naming the field.
    void validate() const;
};

struct AlertReceiver {
    std::string id;
    std::string url;
    std::string format = "alertmanager";  // or "standard-webhooks"
    std::optional<std::string> secret{};
    int64_t createdAt = 0, updatedAt = 0;
    void validate() const;
};

class AlertConfig {
  public:
    AlertConfig(GroupCommitWriter& writer, ReadPool& readers, const Clock& clock)
        : writer_(writer), readers_(readers), clock_(clock) {}

    // Create or replace; returns the stored rule and whether it was new.
    std::pair<AlertRule, bool> putRule(AlertRule rule, Deadline deadline = noDeadline());
    std::optional<AlertRule> findRule(const std::string& id);
    std::vector<AlertRule> rules();
    bool removeRule(const std::string& id, Deadline deadline = noDeadline());

    std::pair<AlertReceiver, bool> putReceiver(AlertReceiver receiver,
                                               Deadline deadline = noDeadline());
    std::optional<AlertReceiver> findReceiver(const std::string& id);
    std::vector<AlertReceiver> receivers();
    bool removeReceiver(const std::string& id, Deadline deadline = noDeadline());

    static std::vector<AlertRule> rulesIn(Connection& c);
    static std::vector<AlertReceiver> receiversIn(Connection& c);

  private:
    GroupCommitWriter& writer_;
    ReadPool& readers_;
    const Clock& clock_;
};

}  // namespace calltrack::db
