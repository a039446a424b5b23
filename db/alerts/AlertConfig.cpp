#include "db/alerts/AlertConfig.h"

#include "db/EngineError.h"
#include "db/TextRules.h"

#include <cmath>

namespace calltrack::db {

namespace {
const char* const kSelectRules =
    "SELECT id, kind, client_id, fire_at, clear_at, for_s, window_s, severity, enabled, "
    "created_at, updated_at FROM alert_rules ORDER BY id";
const char* const kSelectRule =
    "SELECT id, kind, client_id, fire_at, clear_at, for_s, window_s, severity, enabled, "
    "created_at, updated_at FROM alert_rules WHERE id = ?1";
const char* const kUpsertRule =
    "INSERT INTO alert_rules (id, kind, client_id, fire_at, clear_at, for_s, window_s, severity, "
    "enabled, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) "
    "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, client_id = excluded.client_id, "
    "fire_at = excluded.fire_at, clear_at = excluded.clear_at, for_s = excluded.for_s, "
    "window_s = excluded.window_s, severity = excluded.severity, enabled = excluded.enabled, "
    "updated_at = excluded.updated_at";
const char* const kRuleExists = "SELECT created_at FROM alert_rules WHERE id = ?1";
const char* const kClientExists = "SELECT 1 FROM clients WHERE id = ?1";
const char* const kDeleteRule = "DELETE FROM alert_rules WHERE id = ?1";
// A removed rule's alerts go too (a firing one is not announced as
// resolved: the rule that would resolve it is gone).
const char* const kDeleteRuleAlerts = "DELETE FROM alerts WHERE rule_id = ?1";

const char* const kSelectReceivers =
    "SELECT id, url, format, secret, created_at, updated_at FROM alert_receivers ORDER BY id";
const char* const kSelectReceiver =
    "SELECT id, url, format, secret, created_at, updated_at FROM alert_receivers WHERE id = ?1";
const char* const kReceiverExists = "SELECT created_at FROM alert_receivers WHERE id = ?1";
const char* const kUpsertReceiver =
    "INSERT INTO alert_receivers (id, url, format, secret, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (id) DO UPDATE SET url = excluded.url, "
    "format = excluded.format, secret = excluded.secret, updated_at = excluded.updated_at";
const char* const kDeleteReceiver = "DELETE FROM alert_receivers WHERE id = ?1";
// Its undelivered notifications go with it.
const char* const kDeleteReceiverOutbox =
    "DELETE FROM alert_outbox WHERE receiver_id = ?1 AND delivered_at IS NULL";

AlertRule ruleFrom(SQLite::Statement& q) {
    AlertRule r;
    r.id = q.getColumn(0).getString();
    r.kind = q.getColumn(1).getString();
    if (!q.getColumn(2).isNull()) r.clientId = q.getColumn(2).getString();
    r.fireAt = q.getColumn(3).getDouble();
    r.clearAt = q.getColumn(4).getDouble();
    r.forS = q.getColumn(5).getInt64();
    r.windowS = q.getColumn(6).getInt64();
    r.severity = q.getColumn(7).getString();
    r.enabled = q.getColumn(8).getInt() == 1;
    r.createdAt = q.getColumn(9).getInt64();
    r.updatedAt = q.getColumn(10).getInt64();
    return r;
}

AlertReceiver receiverFrom(SQLite::Statement& q) {
    AlertReceiver r;
    r.id = q.getColumn(0).getString();
    r.url = q.getColumn(1).getString();
    r.format = q.getColumn(2).getString();
    if (!q.getColumn(3).isNull()) r.secret = q.getColumn(3).getString();
    r.createdAt = q.getColumn(4).getInt64();
    r.updatedAt = q.getColumn(5).getInt64();
    return r;
}

void invalid(const std::string& message) {
    throw EngineError(ErrorCode::invalid_argument, message);
}

}  // namespace

void AlertRule::validate() const {
    TextRules::requireIdentifier(id, "rule id");
    if (kind != "client_utilization" && kind != "global_utilization" && kind != "refusal_rate" &&
        kind != "timeout_rate" && kind != "database_unavailable" && kind != "bot_unavailable")
        invalid(
            "kind must be client_utilization, global_utilization, refusal_rate, timeout_rate, "
            "database_unavailable or bot_unavailable");
    if (clientId && !perClient()) invalid("client_id is only for per-client kinds");
    if (!std::isfinite(fireAt) || fireAt <= 0 || fireAt > 1e9) invalid("fire_at must be above 0");
    if (!std::isfinite(clearAt) || clearAt <= 0)
        invalid("clear_at must be above 0 (an alert resolves below it; no signal goes below 0)");
    if (clearAt >= fireAt)
        invalid(
            "clear_at must be below fire_at (the signals rise: an alert clears lower than it "
            "fires)");
    const bool ratio = kind == "client_utilization" || kind == "global_utilization" ||
                       kind == "refusal_rate" || kind == "timeout_rate";
    if (ratio && (kind == "refusal_rate" || kind == "timeout_rate") && fireAt > 1)
        invalid("fire_at of a rate is a ratio from 0 to 1");
    if (ratio && fireAt > 10) invalid("fire_at of a utilization is a ratio of the limit (0-10)");
    if (forS < 0 || forS > 86400) invalid("for_s must be from 0 to 86400");
    if (windowS < 60 || windowS > 86400) invalid("window_s must be from 60 to 86400");
    if (severity != "info" && severity != "warning" && severity != "critical")
        invalid("severity must be info, warning or critical");
}

void AlertReceiver::validate() const {
    TextRules::requireIdentifier(id, "receiver id");
    TextRules::requireHttpUrl(url, "url");
    if (format != "alertmanager" && format != "standard-webhooks")
        invalid("format must be alertmanager or standard-webhooks");
    if (secret && (secret->rfind("whsec_", 0) != 0 || secret->size() < 10 || secret->size() > 256))
        invalid("secret must be a Standard Webhooks key: whsec_ and its Base64");
    if (format == "standard-webhooks" && !secret)
        invalid("the standard-webhooks format needs a secret (whsec_...) to sign with");
}

std::vector<AlertRule> AlertConfig::rulesIn(Connection& c) {
    std::vector<AlertRule> out;
    Query q(c, kSelectRules);
    while (q.step()) out.push_back(ruleFrom(*q));
    return out;
}

std::vector<AlertReceiver> AlertConfig::receiversIn(Connection& c) {
    std::vector<AlertReceiver> out;
    Query q(c, kSelectReceivers);
    while (q.step()) out.push_back(receiverFrom(*q));
    return out;
}

std::pair<AlertRule, bool> AlertConfig::putRule(AlertRule rule, Deadline deadline) {
    rule.validate();
    return writer_.run(
        [&](Connection& c) {
            if (rule.clientId) {
                Query k(c, kClientExists);
                k->bind(1, *rule.clientId);
                if (!k.step())
                    throw EngineError(ErrorCode::not_found, "no client " + *rule.clientId);
            }
            const int64_t now = clock_.nowMs();
            bool created = true;
            {
                Query e(c, kRuleExists);
                e->bind(1, rule.id);
                if (e.step()) {
                    created = false;
                    rule.createdAt = e->getColumn(0).getInt64();
                } else {
                    rule.createdAt = now;
                }
            }
            rule.updatedAt = now;
            Query q(c, kUpsertRule);
            q->bind(1, rule.id);
            q->bind(2, rule.kind);
            if (rule.clientId) q->bind(3, *rule.clientId);
            q->bind(4, rule.fireAt);
            q->bind(5, rule.clearAt);
            q->bind(6, rule.forS);
            q->bind(7, rule.windowS);
            q->bind(8, rule.severity);
            q->bind(9, rule.enabled ? 1 : 0);
            q->bind(10, now);
            q.run();
            return std::make_pair(rule, created);
        },
        deadline);
}

std::optional<AlertRule> AlertConfig::findRule(const std::string& id) {
    return readers_.read([&](Connection& c) -> std::optional<AlertRule> {
        Query q(c, kSelectRule);
        q->bind(1, id);
        if (!q.step()) return std::nullopt;
        return ruleFrom(*q);
    });
}

std::vector<AlertRule> AlertConfig::rules() {
    return readers_.read([](Connection& c) { return rulesIn(c); });
}

bool AlertConfig::removeRule(const std::string& id, Deadline deadline) {
    return writer_.run(
        [&](Connection& c) {
            Query a(c, kDeleteRuleAlerts);
            a->bind(1, id);
            a.run();
            Query q(c, kDeleteRule);
            q->bind(1, id);
            return q.run() == 1;
        },
        deadline);
}

std::pair<AlertReceiver, bool> AlertConfig::putReceiver(AlertReceiver receiver, Deadline deadline) {
    receiver.validate();
    return writer_.run(
        [&](Connection& c) {
            const int64_t now = clock_.nowMs();
            bool created = true;
            {
                Query e(c, kReceiverExists);
                e->bind(1, receiver.id);
                if (e.step()) {
                    created = false;
                    receiver.createdAt = e->getColumn(0).getInt64();
                } else {
                    receiver.createdAt = now;
                }
            }
            receiver.updatedAt = now;
            Query q(c, kUpsertReceiver);
            q->bind(1, receiver.id);
            q->bind(2, receiver.url);
            q->bind(3, receiver.format);
            if (receiver.secret) q->bind(4, *receiver.secret);
            q->bind(5, now);
            q.run();
            return std::make_pair(receiver, created);
        },
        deadline);
}

std::optional<AlertReceiver> AlertConfig::findReceiver(const std::string& id) {
    return readers_.read([&](Connection& c) -> std::optional<AlertReceiver> {
        Query q(c, kSelectReceiver);
        q->bind(1, id);
        if (!q.step()) return std::nullopt;
        return receiverFrom(*q);
    });
}

std::vector<AlertReceiver> AlertConfig::receivers() {
    return readers_.read([](Connection& c) { return receiversIn(c); });
}

bool AlertConfig::removeReceiver(const std::string& id, Deadline deadline) {
    return writer_.run(
        [&](Connection& c) {
            Query o(c, kDeleteReceiverOutbox);
            o->bind(1, id);
            o.run();
            Query q(c, kDeleteReceiver);
            q->bind(1, id);
            return q.run() == 1;
        },
        deadline);
}

}  // namespace calltrack::db
