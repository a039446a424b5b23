#pragma once
// Evaluates the alert rules (AlertSignals) against the stored alert states
// (table alerts) and writes every change in one writer op: the new state,
// a row of alert_history per transition, and, for "firing" and "resolved",
// a notification per receiver in alert_outbox, all in one transaction, so
// a state change and its notifications are never apart. Nothing is written
// while nothing changes.
//
// database_unavailable rules are not evaluated here (their alert could not
// be written while the database is unavailable): app/jobs/AlertJob steps them in
// memory and records them through record().

#include "db/Clock.h"
#include "db/alerts/AlertSignals.h"
#include "db/alerts/AlertStateMachine.h"
#include "db/storage/GroupCommitWriter.h"
#include "db/storage/ReadPool.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace calltrack::db {

struct AlertChange {
    AlertSignal signal;
    AlertState before, after;
    std::optional<std::string> notify{};
};

struct StoredAlert {
    std::string fingerprint, ruleId;
    std::optional<std::string> clientId;
    AlertState state;
    int64_t updatedAt = 0;
};

class AlertEvaluator {
  public:
    static constexpr int64_t kDefaultTtlMs = 24LL * 3600 * 1000;

    AlertEvaluator(GroupCommitWriter& writer, ReadPool& readers, const Clock& clock,
                   std::string baseUrl, int64_t notificationTtlMs = kDefaultTtlMs)
        : writer_(writer),
          readers_(readers),
          clock_(clock),
          baseUrl_(std::move(baseUrl)),
          ttlMs_(notificationTtlMs) {}

    // One pass; returns what changed (written, committed).
    std::vector<AlertChange> evaluate(Deadline deadline = noDeadline());
    // Writes changes decided elsewhere (database_unavailable), with their
    // history and notifications; the same transaction rules as evaluate().
    void record(const std::vector<AlertChange>& changes, Deadline deadline = noDeadline());

    static std::optional<AlertState> stateIn(Connection& c, const std::string& fingerprint);
    static std::vector<StoredAlert> alertsIn(Connection& c);
    // Transitions of one alert, newest first (at most `limit`).
    static nlohmann::json historyIn(Connection& c, const std::string& fingerprint, int limit);

    const std::string& baseUrl() const { return baseUrl_; }

  private:
    void writeIn(Connection& c, const AlertChange& change, int64_t now);

    GroupCommitWriter& writer_;
    ReadPool& readers_;
    const Clock& clock_;
    std::string baseUrl_;
    int64_t ttlMs_;
};

}  // namespace calltrack::db
