#pragma once
// The delivery side of alert_outbox: which notifications are due, and what
// came of an attempt. A notification is retried with exponential back-off
// and jitter (1 s doubling to 5 min, ±20 %) until a receiver answers 2xx or
// it expires (24 h by default: expires_at, set when it was written); then
// it is given up and stays as a record. Rows delivered or given up are
// purged after 7 days.

#include "db/Clock.h"
#include "db/storage/GroupCommitWriter.h"
#include "db/storage/ReadPool.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

struct OutboxItem {
    int64_t id = 0;
    std::string notificationId, receiverId, status, fingerprint;
    std::string url, format;
    std::optional<std::string> secret{};
    nlohmann::json alert;
    int64_t attempts = 0, createdAt = 0, expiresAt = 0;
};

struct ReceiverDelivery {
    std::string receiverId;
    int64_t queued = 0;  // not delivered, not given up
    std::optional<int64_t> lastSuccessAt{};
    std::optional<int64_t> lastErrorAt{};
    std::optional<std::string> lastError{};
    int64_t gaveUp = 0;
};

class AlertOutbox {
  public:
    AlertOutbox(GroupCommitWriter& writer, ReadPool& readers, const Clock& clock)
        : writer_(writer), readers_(readers), clock_(clock) {}

    // Due now (next_attempt_at passed), oldest first; `excluding`: ids in flight.
    std::vector<OutboxItem> due(int limit, const std::vector<int64_t>& excluding = {});
    void delivered(int64_t id, Deadline deadline = noDeadline());
    // A failed attempt: retried after the back-off, or given up once expired.
    // `jitter` in [0, 1) (0.5: none).
    void failed(const OutboxItem& item, const std::string& error, double jitter,
                Deadline deadline = noDeadline());
    int purgeSettled(int64_t olderThanMs, Deadline deadline = noDeadline());

    static int64_t backoffMs(int64_t attempts, double jitter);
    static std::vector<ReceiverDelivery> deliveryIn(Connection& c);

  private:
    GroupCommitWriter& writer_;
    ReadPool& readers_;
    const Clock& clock_;
};

}  // namespace calltrack::db
