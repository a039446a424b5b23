#include "db/alerts/AlertEvaluator.h"

#include "db/alerts/AlertConfig.h"
#include "db/alerts/AlertNotification.h"

#include <algorithm>
#include <set>

namespace calltrack::db {

namespace {
const char* const kState =
    "SELECT state, value, pending_at, starts_at, clear_since, ends_at FROM alerts "
    "WHERE fingerprint = ?1";
const char* const kAlerts =
    "SELECT fingerprint, rule_id, client_id, state, value, pending_at, starts_at, clear_since, "
    "ends_at, updated_at FROM alerts ORDER BY rule_id, client_id";
const char* const kUpsert =
    "INSERT INTO alerts (fingerprint, rule_id, client_id, state, value, pending_at, starts_at, "
    "clear_since, ends_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
    "ON CONFLICT (fingerprint) DO UPDATE SET state = excluded.state, value = excluded.value, "
    "pending_at = excluded.pending_at, starts_at = excluded.starts_at, "
    "clear_since = excluded.clear_since, ends_at = excluded.ends_at, "
    "updated_at = excluded.updated_at";
const char* const kHistory =
    "INSERT INTO alert_history (fingerprint, at, from_state, to_state, value) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
const char* const kHistoryOf =
    "SELECT at, from_state, to_state, value FROM alert_history WHERE fingerprint = ?1 "
    "ORDER BY id DESC LIMIT ?2";
// A firing notification not yet delivered when its alert resolves is not
// sent any more: a receiver must never get "firing" after "resolved".
const char* const kSupersede =
    "UPDATE alert_outbox SET gave_up_at = ?2, last_error = 'superseded: the alert resolved "
    "before it was delivered' WHERE fingerprint = ?1 AND status = 'firing' AND "
    "delivered_at IS NULL AND gave_up_at IS NULL";
const char* const kOutbox =
    "INSERT INTO alert_outbox (notification_id, receiver_id, fingerprint, status, alert, "
    "created_at, expires_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6) "
    "ON CONFLICT (receiver_id, notification_id) DO NOTHING";

std::optional<int64_t> optInt(SQLite::Statement& q, int i) {
    if (q.getColumn(i).isNull()) return std::nullopt;
    return q.getColumn(i).getInt64();
}

void bindOpt(SQLite::Statement& q, int i, const std::optional<int64_t>& v) {
    if (v) q.bind(i, *v);
}

AlertState stateFrom(SQLite::Statement& q, int first) {
    AlertState s;
    s.state = q.getColumn(first).getString();
    if (!q.getColumn(first + 1).isNull()) s.value = q.getColumn(first + 1).getDouble();
    s.pendingAt = optInt(q, first + 2);
    s.startsAt = optInt(q, first + 3);
    s.clearSince = optInt(q, first + 4);
    s.endsAt = optInt(q, first + 5);
    return s;
}
}  // namespace

std::optional<AlertState> AlertEvaluator::stateIn(Connection& c, const std::string& fingerprint) {
    Query q(c, kState);
    q->bind(1, fingerprint);
    if (!q.step()) return std::nullopt;
    return stateFrom(*q, 0);
}

std::vector<StoredAlert> AlertEvaluator::alertsIn(Connection& c) {
    std::vector<StoredAlert> out;
    Query q(c, kAlerts);
    while (q.step()) {
        StoredAlert a;
        a.fingerprint = q->getColumn(0).getString();
        a.ruleId = q->getColumn(1).getString();
        if (!q->getColumn(2).isNull()) a.clientId = q->getColumn(2).getString();
        a.state = stateFrom(*q, 3);
        a.updatedAt = q->getColumn(9).getInt64();
        out.push_back(std::move(a));
    }
    return out;
}

nlohmann::json AlertEvaluator::historyIn(Connection& c, const std::string& fingerprint, int limit) {
    nlohmann::json list = nlohmann::json::array();
    Query q(c, kHistoryOf);
    q->bind(1, fingerprint);
    q->bind(2, limit);
    while (q.step()) {
        list.push_back(
            {{"at", q->getColumn(0).getInt64()},
             {"from", q->getColumn(1).getString()},
             {"to", q->getColumn(2).getString()},
             {"value", q->getColumn(3).isNull() ? nlohmann::json(nullptr)
                                                : nlohmann::json(q->getColumn(3).getDouble())}});
    }
    return list;
}

void AlertEvaluator::writeIn(Connection& c, const AlertChange& ch, int64_t now) {
    const auto& s = ch.after;
    {
        Query q(c, kUpsert);
        q->bind(1, ch.signal.fingerprint);
        q->bind(2, ch.signal.rule.id);
        if (ch.signal.clientId) q->bind(3, *ch.signal.clientId);
        q->bind(4, s.state);
        if (s.value) q->bind(5, *s.value);
        bindOpt(*q, 6, s.pendingAt);
        bindOpt(*q, 7, s.startsAt);
        bindOpt(*q, 8, s.clearSince);
        bindOpt(*q, 9, s.endsAt);
        q->bind(10, now);
        q.run();
    }
    if (ch.before.state != s.state) {
        Query q(c, kHistory);
        q->bind(1, ch.signal.fingerprint);
        q->bind(2, now);
        q->bind(3, ch.before.state);
        q->bind(4, s.state);
        if (s.value) q->bind(5, *s.value);
        q.run();
    }
    if (!ch.notify) return;
    if (*ch.notify == "resolved") {
        Query q(c, kSupersede);
        q->bind(1, ch.signal.fingerprint);
        q->bind(2, now);
        q.run();
    }
    const auto alert = AlertNotification::alert(ch.signal.rule, ch.signal.clientId, s,
                                                ch.signal.fingerprint, *ch.notify, baseUrl_)
                           .dump();
    const std::string id = AlertNotification::notificationId(ch.signal.fingerprint, *ch.notify,
                                                             s.startsAt.value_or(0));
    for (const auto& r : AlertConfig::receiversIn(c)) {
        Query q(c, kOutbox);
        q->bind(1, id);
        q->bind(2, r.id);
        q->bind(3, ch.signal.fingerprint);
        q->bind(4, *ch.notify);
        q->bind(5, alert);
        q->bind(6, now);
        q->bind(7, now + ttlMs_);
        q.run();
    }
}

std::vector<AlertChange> AlertEvaluator::evaluate(Deadline deadline) {
    const int64_t now = clock_.nowMs();
    auto signals =
        readers_.read(deadline, [&](Connection& c) { return AlertSignals::readIn(c, now, false); });
    return writer_.run(
        [&](Connection& c) {
            std::vector<AlertChange> changes;
            std::set<std::string> evaluated;
            for (const auto& sig : signals) evaluated.insert(sig.fingerprint);
            // Alerts no rule evaluates any more (rule disabled, overridden
            // for the client, the client gone, a limit set to 0) must not
            // stay firing forever: they resolve now.
            const auto rules = AlertConfig::rulesIn(c);
            for (const auto& a : alertsIn(c)) {
                if (evaluated.count(a.fingerprint)) continue;
                if (a.state.state != "firing" && a.state.state != "pending") continue;
                const auto rule = std::find_if(rules.begin(), rules.end(),
                                               [&](const auto& r) { return r.id == a.ruleId; });
                if (rule == rules.end() || (rule->kind == "database_unavailable" && rule->enabled))
                    continue;
                AlertChange ch{AlertSignal{*rule, a.clientId, a.fingerprint, std::nullopt}, a.state,
                               a.state, std::nullopt};
                ch.after.clearSince.reset();
                if (a.state.state == "firing") {
                    ch.after.state = "resolved";
                    ch.after.endsAt = now;
                    ch.notify = "resolved";
                } else {
                    ch.after.state = "inactive";
                    ch.after.pendingAt.reset();
                }
                writeIn(c, ch, now);
                changes.push_back(std::move(ch));
            }
            for (auto& sig : signals) {
                if (sig.rule.kind == "database_unavailable") continue;
                const AlertState before = stateIn(c, sig.fingerprint).value_or(AlertState{});
                auto step = AlertStateMachine::step(before, sig.value, sig.rule, now);
                if (step.next == before) continue;
                AlertChange ch{std::move(sig), before, step.next, step.notify};
                writeIn(c, ch, now);
                changes.push_back(std::move(ch));
            }
            return changes;
        },
        deadline);
}

void AlertEvaluator::record(const std::vector<AlertChange>& changes, Deadline deadline) {
    if (changes.empty()) return;
    const int64_t now = clock_.nowMs();
    writer_.run(
        [&](Connection& c) {
            for (const auto& ch : changes) writeIn(c, ch, now);
        },
        deadline);
}

}  // namespace calltrack::db
