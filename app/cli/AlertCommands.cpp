#include "app/cli/AlertCommands.h"

#include "app/cli/ExitCode.h"
#include "app/cli/TextTable.h"
#include "db/EngineError.h"
#include "db/IsoTime.h"
#include "db/alerts/AlertConfig.h"
#include "db/alerts/AlertEvaluator.h"
#include "db/alerts/AlertOutbox.h"

#include <iostream>
#include <memory>
#include <sstream>

namespace calltrack::app {

namespace {
struct Args {
    db::AlertRule rule;
    db::AlertReceiver receiver;
    std::optional<std::string> client, secret, state;
    bool disable = false, json = false;
};

std::string num(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

std::string opt(const std::optional<int64_t>& t) {
    return t ? db::isoTime(*t) : "-";
}

struct Session {
    explicit Session(const CliContext& context)
        : database(context.databaseOptions()),
          config(database.writer(), database.readers(), clock) {}
    db::SystemClock clock;
    db::Database database;
    db::AlertConfig config;
};

void addRuleCommands(CLI::App& alert, const CliContext& context) {
    auto* rule = alert.add_subcommand("rule", "alert rules: put, list, delete");
    rule->require_subcommand(1);
    auto args = std::make_shared<Args>();
    auto* put = rule->add_subcommand("put", "create or replace a rule");
    put->add_option("id", args->rule.id)->required();
    put->add_option("--kind", args->rule.kind,
                    "client_utilization, global_utilization, refusal_rate, timeout_rate, "
                    "database_unavailable or bot_unavailable")
        ->required();
    put->add_option("--client", args->client, "only this client (per-client kinds)");
    put->add_option("--fire-at", args->rule.fireAt, "fires at or above this (utilization: 0.8)")
        ->required();
    put->add_option("--clear-at", args->rule.clearAt,
                    "resolves only below this, for --for-s (below --fire-at)")
        ->required();
    put->add_option("--for-s", args->rule.forS,
                    "pending this long before firing, and clearing "
                    "this long before resolving")
        ->required();
    put->add_option("--window-s", args->rule.windowS, "rates over this window")
        ->capture_default_str();
    put->add_option("--severity", args->rule.severity, "info, warning or critical")
        ->capture_default_str();
    put->add_flag("--disable", args->disable, "store it disabled");
    put->callback([context, args] {
        context.action = [context, args] {
            Session s(context);
            auto r = args->rule;
            r.clientId = args->client;
            r.enabled = !args->disable;
            const auto [stored, created] = s.config.putRule(r);
            std::cout << (created ? "created" : "replaced") << " alert rule " << stored.id << "\n";
            return kOk;
        };
    });
    auto* list = rule->add_subcommand("list", "list the rules (the defaults included)");
    list->add_flag("--json", args->json, "one JSON document: {\"rules\": [...]}");
    list->callback([context, args] {
        context.action = [context, args] {
            Session s(context);
            const auto rules = s.config.rules();
            if (args->json) {
                nlohmann::json j = nlohmann::json::array();
                for (const auto& r : rules)
                    j.push_back({{"id", r.id},
                                 {"kind", r.kind},
                                 {"client_id", r.clientId ? nlohmann::json(*r.clientId) : nullptr},
                                 {"fire_at", r.fireAt},
                                 {"clear_at", r.clearAt},
                                 {"for_s", r.forS},
                                 {"window_s", r.windowS},
                                 {"severity", r.severity},
                                 {"enabled", r.enabled}});
                std::cout << nlohmann::json{{"rules", j}}.dump(2) << "\n";
                return kOk;
            }
            TextTable t({"id", "kind", "client", "fire_at", "clear_at", "for_s", "window_s",
                         "severity", "enabled"});
            for (const auto& r : rules)
                t.add({r.id, r.kind, r.clientId.value_or(r.perClient() ? "(all)" : "-"),
                       num(r.fireAt), num(r.clearAt), std::to_string(r.forS),
                       std::to_string(r.windowS), r.severity, r.enabled ? "yes" : "no"});
            t.print(std::cout);
            return kOk;
        };
    });
    auto* del = rule->add_subcommand("delete", "remove a rule (its alerts go with it)");
    del->add_option("id", args->rule.id)->required();
    del->callback([context, args] {
        context.action = [context, args] {
            Session s(context);
            if (!s.config.removeRule(args->rule.id))
                throw db::EngineError(db::ErrorCode::not_found, "no alert rule " + args->rule.id);
            std::cout << "deleted alert rule " << args->rule.id << "\n";
            return kOk;
        };
    });
}

void addReceiverCommands(CLI::App& alert, const CliContext& context) {
    auto* receiver = alert.add_subcommand("receiver", "where notifications go: put, list, delete");
    receiver->require_subcommand(1);
    auto args = std::make_shared<Args>();
    auto* put = receiver->add_subcommand("put", "create or replace a receiver");
    put->add_option("id", args->receiver.id)->required();
    put->add_option("--url", args->receiver.url, "http(s) URL notifications are POSTed to")
        ->required();
    put->add_option("--format", args->receiver.format, "alertmanager or standard-webhooks")
        ->capture_default_str();
    put->add_option("--secret", args->secret,
                    "Standard Webhooks key (whsec_...): signs every notification");
    put->callback([context, args] {
        context.action = [context, args] {
            Session s(context);
            auto r = args->receiver;
            r.secret = args->secret;
            const auto [stored, created] = s.config.putReceiver(r);
            std::cout << (created ? "created" : "replaced") << " alert receiver " << stored.id
                      << "\n";
            return kOk;
        };
    });
    auto* list = receiver->add_subcommand("list", "receivers and their deliveries");
    list->add_flag("--json", args->json, "one JSON document: {\"receivers\": [...]}");
    list->callback([context, args] {
        context.action = [context, args] {
            Session s(context);
            const auto receivers = s.config.receivers();
            const auto delivery = s.database.readers().read(
                [](db::Connection& c) { return db::AlertOutbox::deliveryIn(c); });
            const auto of = [&](const std::string& id) {
                for (const auto& d : delivery)
                    if (d.receiverId == id) return d;
                return db::ReceiverDelivery{id};
            };
            if (args->json) {
                nlohmann::json j = nlohmann::json::array();
                for (const auto& r : receivers) {
                    const auto d = of(r.id);
                    j.push_back(
                        {{"id", r.id},
                         {"url", r.url},
                         {"format", r.format},
                         {"secret_set", r.secret.has_value()},
                         {"queued", d.queued},
                         {"gave_up", d.gaveUp},
                         {"last_success_at", d.lastSuccessAt
                                                 ? nlohmann::json(db::isoTime(*d.lastSuccessAt))
                                                 : nullptr},
                         {"last_error", d.lastError ? nlohmann::json(*d.lastError) : nullptr}});
                }
                std::cout << nlohmann::json{{"receivers", j}}.dump(2) << "\n";
                return kOk;
            }
            TextTable t({"id", "format", "url", "queued", "last_success", "last_error"});
            for (const auto& r : receivers) {
                const auto d = of(r.id);
                t.add({r.id, r.format, r.url, std::to_string(d.queued), opt(d.lastSuccessAt),
                       d.lastError.value_or("-")});
            }
            t.print(std::cout);
            return kOk;
        };
    });
    auto* del =
        receiver->add_subcommand("delete", "remove a receiver and its queued notifications");
    del->add_option("id", args->receiver.id)->required();
    del->callback([context, args] {
        context.action = [context, args] {
            Session s(context);
            if (!s.config.removeReceiver(args->receiver.id))
                throw db::EngineError(db::ErrorCode::not_found,
                                      "no alert receiver " + args->receiver.id);
            std::cout << "deleted alert receiver " << args->receiver.id << "\n";
            return kOk;
        };
    });
}
}  // namespace

void addAlertCommands(CLI::App& app, const CliContext& context) {
    auto* alert = app.add_subcommand("alert", "alerting: rules, receivers, and the alerts");
    alert->require_subcommand(1);
    addRuleCommands(*alert, context);
    addReceiverCommands(*alert, context);
    auto args = std::make_shared<Args>();
    auto* list = alert->add_subcommand("list", "alerts that are pending, firing or resolved");
    list->add_option("--state", args->state, "only this state")
        ->check(CLI::IsMember({"pending", "firing", "resolved", "inactive"}));
    list->add_flag("--json", args->json, "one JSON document: {\"alerts\": [...]}");
    list->callback([context, args] {
        context.action = [context, args] {
            Session s(context);
            const auto alerts = s.database.readers().read(
                [](db::Connection& c) { return db::AlertEvaluator::alertsIn(c); });
            nlohmann::json j = nlohmann::json::array();
            TextTable t({"fingerprint", "rule", "client", "state", "value", "since", "ended"});
            for (const auto& a : alerts) {
                if (args->state ? a.state.state != *args->state : a.state.state == "inactive")
                    continue;
                const auto since =
                    a.state.state == "pending" ? a.state.pendingAt : a.state.startsAt;
                j.push_back(
                    {{"fingerprint", a.fingerprint},
                     {"rule_id", a.ruleId},
                     {"client_id", a.clientId ? nlohmann::json(*a.clientId) : nullptr},
                     {"state", a.state.state},
                     {"value", a.state.value ? nlohmann::json(*a.state.value) : nullptr},
                     {"since", since ? nlohmann::json(db::isoTime(*since)) : nullptr},
                     {"ends_at",
                      a.state.endsAt ? nlohmann::json(db::isoTime(*a.state.endsAt)) : nullptr}});
                t.add({a.fingerprint, a.ruleId, a.clientId.value_or("-"), a.state.state,
                       a.state.value ? num(*a.state.value) : "-", opt(since), opt(a.state.endsAt)});
            }
            if (args->json)
                std::cout << nlohmann::json{{"alerts", j}}.dump(2) << "\n";
            else
                t.print(std::cout);
            return kOk;
        };
    });
}

}  // namespace calltrack::app
