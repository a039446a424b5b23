#include "db/alerts/AlertOutbox.h"

#include <algorithm>
#include <cmath>

namespace calltrack::db {

namespace {
const char* const kDue =
    "SELECT o.id, o.notification_id, o.receiver_id, o.status, r.url, r.format, r.secret, o.alert, "
    "o.attempts, o.created_at, o.expires_at, o.fingerprint FROM alert_outbox o "
    "INDEXED BY alert_outbox_due JOIN alert_receivers r ON r.id = o.receiver_id "
    "WHERE o.delivered_at IS NULL AND o.gave_up_at IS NULL AND o.next_attempt_at <= ?1 "
    "ORDER BY o.next_attempt_at, o.id LIMIT ?2";
const char* const kDelivered =
    "UPDATE alert_outbox SET delivered_at = ?2, attempts = attempts + 1, last_attempt_at = ?2, "
    "last_error = NULL WHERE id = ?1 AND delivered_at IS NULL";
const char* const kFailed =
    "UPDATE alert_outbox SET attempts = attempts + 1, last_attempt_at = ?2, last_error = ?3, "
    "next_attempt_at = ?4, gave_up_at = ?5 WHERE id = ?1 AND delivered_at IS NULL";
const char* const kPurge =
    "DELETE FROM alert_outbox WHERE id IN (SELECT id FROM alert_outbox WHERE "
    "coalesce(delivered_at, gave_up_at) < ?1 LIMIT 1000)";
const char* const kDelivery =
    "SELECT r.id, "
    "(SELECT count(*) FROM alert_outbox o WHERE o.receiver_id = r.id AND o.delivered_at IS NULL "
    "AND o.gave_up_at IS NULL), "
    "(SELECT max(delivered_at) FROM alert_outbox o WHERE o.receiver_id = r.id), "
    "(SELECT o.last_attempt_at FROM alert_outbox o WHERE o.receiver_id = r.id AND "
    "o.last_error IS NOT NULL ORDER BY o.last_attempt_at DESC LIMIT 1), "
    "(SELECT o.last_error FROM alert_outbox o WHERE o.receiver_id = r.id AND "
    "o.last_error IS NOT NULL ORDER BY o.last_attempt_at DESC LIMIT 1), "
    "(SELECT count(*) FROM alert_outbox o WHERE o.receiver_id = r.id AND o.gave_up_at IS NOT NULL) "
    "FROM alert_receivers r ORDER BY r.id";
}  // namespace

int64_t AlertOutbox::backoffMs(int64_t attempts, double jitter) {
    const double base =
        1000.0 * std::pow(2.0, static_cast<double>(std::clamp<int64_t>(attempts - 1, 0, 20)));
    const double capped = std::min(base, 300000.0);
    return static_cast<int64_t>(capped * (0.8 + 0.4 * std::clamp(jitter, 0.0, 1.0)));
}

std::vector<OutboxItem> AlertOutbox::due(int limit, const std::vector<int64_t>& excluding) {
    const int64_t now = clock_.nowMs();
    return readers_.read([&](Connection& c) {
        std::vector<OutboxItem> out;
        Query q(c, kDue);
        q->bind(1, now);
        q->bind(2, limit + static_cast<int>(excluding.size()));
        while (q.step()) {
            const int64_t id = q->getColumn(0).getInt64();
            if (std::find(excluding.begin(), excluding.end(), id) != excluding.end()) continue;
            OutboxItem it;
            it.id = id;
            it.notificationId = q->getColumn(1).getString();
            it.receiverId = q->getColumn(2).getString();
            it.status = q->getColumn(3).getString();
            it.url = q->getColumn(4).getString();
            it.format = q->getColumn(5).getString();
            if (!q->getColumn(6).isNull()) it.secret = q->getColumn(6).getString();
            it.alert = nlohmann::json::parse(q->getColumn(7).getString(), nullptr, false);
            it.attempts = q->getColumn(8).getInt64();
            it.createdAt = q->getColumn(9).getInt64();
            it.expiresAt = q->getColumn(10).getInt64();
            it.fingerprint = q->getColumn(11).getString();
            out.push_back(std::move(it));
            if (static_cast<int>(out.size()) >= limit) break;
        }
        return out;
    });
}

void AlertOutbox::delivered(int64_t id, Deadline deadline) {
    const int64_t now = clock_.nowMs();
    writer_.run(
        [&](Connection& c) {
            Query q(c, kDelivered);
            q->bind(1, id);
            q->bind(2, now);
            q.run();
        },
        deadline);
}

void AlertOutbox::failed(const OutboxItem& item, const std::string& error, double jitter,
                         Deadline deadline) {
    const int64_t now = clock_.nowMs();
    const int64_t next = now + backoffMs(item.attempts + 1, jitter);
    const bool giveUp = next >= item.expiresAt;
    writer_.run(
        [&](Connection& c) {
            Query q(c, kFailed);
            q->bind(1, item.id);
            q->bind(2, now);
            q->bind(3, error.substr(0, 500));
            q->bind(4, next);
            if (giveUp) q->bind(5, now);
            q.run();
        },
        deadline);
}

int AlertOutbox::purgeSettled(int64_t olderThanMs, Deadline deadline) {
    return writer_.run(
        [&](Connection& c) {
            Query q(c, kPurge);
            q->bind(1, olderThanMs);
            return q.run();
        },
        deadline);
}

std::vector<ReceiverDelivery> AlertOutbox::deliveryIn(Connection& c) {
    std::vector<ReceiverDelivery> out;
    Query q(c, kDelivery);
    while (q.step()) {
        ReceiverDelivery d;
        d.receiverId = q->getColumn(0).getString();
        d.queued = q->getColumn(1).getInt64();
        if (!q->getColumn(2).isNull()) d.lastSuccessAt = q->getColumn(2).getInt64();
        if (!q->getColumn(3).isNull()) d.lastErrorAt = q->getColumn(3).getInt64();
        if (!q->getColumn(4).isNull()) d.lastError = q->getColumn(4).getString();
        d.gaveUp = q->getColumn(5).getInt64();
        out.push_back(std::move(d));
    }
    return out;
}

}  // namespace calltrack::db
