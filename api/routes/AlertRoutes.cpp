// Alerting (docs/ALERTING.md):
//   PUT|GET|DELETE /v1/alert-receivers/{id}, GET /v1/alert-receivers
//   PUT|GET|DELETE /v1/alert-rules/{id},     GET /v1/alert-rules
//   GET /v1/alerts (active and recent, with their transitions)
// Receivers and rules are admin only; a client token sees its client's alerts.

#include "api/http/ApiError.h"
#include "api/json/JsonBody.h"
#include "api/routes/Routes.h"
#include "db/IsoTime.h"
#include "db/alerts/AlertConfig.h"
#include "db/alerts/AlertEvaluator.h"
#include "db/alerts/AlertNotification.h"
#include "db/alerts/AlertOutbox.h"

#include <cmath>

namespace calltrack::api {

namespace {
nlohmann::json optTime(const std::optional<int64_t>& t) {
    return t ? nlohmann::json(db::isoTime(*t)) : nlohmann::json(nullptr);
}

nlohmann::json ruleJson(const db::AlertRule& r) {
    return {{"id", r.id},
            {"kind", r.kind},
            {"client_id", r.clientId ? nlohmann::json(*r.clientId) : nlohmann::json(nullptr)},
            {"fire_at", r.fireAt},
            {"clear_at", r.clearAt},
            {"for_s", r.forS},
            {"window_s", r.windowS},
            {"severity", r.severity},
            {"enabled", r.enabled},
            {"alertname", db::AlertNotification::alertName(r.kind)},
            {"created_at", db::isoTime(r.createdAt)},
            {"updated_at", db::isoTime(r.updatedAt)}};
}

// Never the secret itself.
nlohmann::json receiverJson(const db::AlertReceiver& r,
                            const std::optional<db::ReceiverDelivery>& d) {
    nlohmann::json j = {{"id", r.id},
                        {"url", r.url},
                        {"format", r.format},
                        {"secret_set", r.secret.has_value()},
                        {"created_at", db::isoTime(r.createdAt)},
                        {"updated_at", db::isoTime(r.updatedAt)}};
    j["delivery"] = {{"queued", d ? d->queued : 0},
                     {"gave_up", d ? d->gaveUp : 0},
                     {"last_success_at", d ? optTime(d->lastSuccessAt) : nullptr},
                     {"last_error_at", d ? optTime(d->lastErrorAt) : nullptr},
                     {"last_error", d && d->lastError ? nlohmann::json(*d->lastError) : nullptr}};
    return j;
}

double number(const JsonBody& body, const char* field) {
    const auto& j = body.json();
    const auto it = j.find(field);
    if (it == j.end() || !it->is_number())
        throw ApiError::badRequest(std::string(field) + " must be a number");
    const double v = it->get<double>();
    if (!std::isfinite(v)) throw ApiError::badRequest(std::string(field) + " must be finite");
    return v;
}

std::optional<db::ReceiverDelivery> deliveryOf(ApiContext& ctx, const std::string& id) {
    const auto all = ctx.database.readers().read(
        [](db::Connection& c) { return db::AlertOutbox::deliveryIn(c); });
    for (const auto& d : all)
        if (d.receiverId == id) return d;
    return std::nullopt;
}
}  // namespace

void addAlertRoutes(Router& router, ApiContext& ctx) {
    db::AlertConfig config(ctx.database.writer(), ctx.database.readers(), ctx.clock);

    router.add("PUT", "/v1/alert-receivers/{id}",
               [&ctx, config](const httplib::Request& req, httplib::Response& res,
                              const RouteParams& p, RequestContext& rc) mutable {
                   requireAdmin(rc);
                   JsonBody body(req.get_header_value("Content-Type"), req.body);
                   body.allowOnly({"url", "format", "secret"});
                   db::AlertReceiver r;
                   r.id = p[0];
                   r.url = body.requiredText("url", 2048);
                   r.format = body.text("format", 32).value_or("alertmanager");
                   r.secret = body.text("secret", 256);
                   const auto [stored, created] = config.putReceiver(r, ctx.deadline());
                   sendJson(res, created ? 201 : 200,
                            {{"receiver", receiverJson(stored, deliveryOf(ctx, stored.id))}});
               });
    router.add("GET", "/v1/alert-receivers/{id}",
               [&ctx, config](const httplib::Request&, httplib::Response& res, const RouteParams& p,
                              RequestContext& rc) mutable {
                   requireAdmin(rc);
                   const auto r = config.findReceiver(p[0]);
                   if (!r)
                       throw ApiError::notFound("unknown_alert_receiver", "no receiver " + p[0]);
                   sendJson(res, 200, {{"receiver", receiverJson(*r, deliveryOf(ctx, r->id))}});
               });
    router.add("GET", "/v1/alert-receivers",
               [&ctx, config](const httplib::Request&, httplib::Response& res, const RouteParams&,
                              RequestContext& rc) mutable {
                   requireAdmin(rc);
                   nlohmann::json list = nlohmann::json::array();
                   for (const auto& r : config.receivers())
                       list.push_back(receiverJson(r, deliveryOf(ctx, r.id)));
                   sendJson(res, 200, {{"receivers", list}});
               });
    router.add("DELETE", "/v1/alert-receivers/{id}",
               [&ctx, config](const httplib::Request&, httplib::Response& res, const RouteParams& p,
                              RequestContext& rc) mutable {
                   requireAdmin(rc);
                   if (!config.removeReceiver(p[0], ctx.deadline()))
                       throw ApiError::notFound("unknown_alert_receiver", "no receiver " + p[0]);
                   res.status = 204;
               });

    router.add("PUT", "/v1/alert-rules/{id}",
               [&ctx, config](const httplib::Request& req, httplib::Response& res,
                              const RouteParams& p, RequestContext& rc) mutable {
                   requireAdmin(rc);
                   JsonBody body(req.get_header_value("Content-Type"), req.body);
                   body.allowOnly({"kind", "client_id", "fire_at", "clear_at", "for_s", "window_s",
                                   "severity", "enabled"});
                   db::AlertRule r;
                   r.id = p[0];
                   r.kind = body.requiredText("kind", 64);
                   r.clientId = body.text("client_id", 64);
                   r.fireAt = number(body, "fire_at");
                   r.clearAt = number(body, "clear_at");
                   r.forS = body.requiredInteger("for_s", 0, 86400);
                   r.windowS = body.integer("window_s", 60, 86400).value_or(300);
                   r.severity = body.text("severity", 16).value_or("warning");
                   r.enabled = body.boolean("enabled").value_or(true);
                   if (r.clientId && !ctx.clients.find(*r.clientId))
                       throw ApiError::notFound("unknown_client", "no client " + *r.clientId);
                   const auto [stored, created] = config.putRule(r, ctx.deadline());
                   sendJson(res, created ? 201 : 200, {{"rule", ruleJson(stored)}});
               });
    router.add("GET", "/v1/alert-rules/{id}",
               [config](const httplib::Request&, httplib::Response& res, const RouteParams& p,
                        RequestContext& rc) mutable {
                   requireAdmin(rc);
                   const auto r = config.findRule(p[0]);
                   if (!r) throw ApiError::notFound("unknown_alert_rule", "no alert rule " + p[0]);
                   sendJson(res, 200, {{"rule", ruleJson(*r)}});
               });
    router.add("GET", "/v1/alert-rules",
               [config](const httplib::Request&, httplib::Response& res, const RouteParams&,
                        RequestContext& rc) mutable {
                   requireAdmin(rc);
                   nlohmann::json list = nlohmann::json::array();
                   for (const auto& r : config.rules()) list.push_back(ruleJson(r));
                   sendJson(res, 200, {{"rules", list}});
               });
    router.add("DELETE", "/v1/alert-rules/{id}",
               [&ctx, config](const httplib::Request&, httplib::Response& res, const RouteParams& p,
                              RequestContext& rc) mutable {
                   requireAdmin(rc);
                   if (!config.removeRule(p[0], ctx.deadline()))
                       throw ApiError::notFound("unknown_alert_rule", "no alert rule " + p[0]);
                   res.status = 204;
               });

    router.add(
        "GET", "/v1/alerts",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams&,
               RequestContext& rc) {
            for (const auto& [name, _] : req.params)
                if (name != "state")
                    throw ApiError::unknownField("unknown query parameter: " + name);
            const std::string want = req.has_param("state") ? req.get_param_value("state") : "";
            if (!want.empty() && want != "pending" && want != "firing" && want != "resolved" &&
                want != "inactive")
                throw ApiError::badRequest("state must be pending, firing, resolved or inactive");
            nlohmann::json list = nlohmann::json::array();
            ctx.database.readers().read([&](db::Connection& c) {
                const auto rules = db::AlertConfig::rulesIn(c);
                for (const auto& a : db::AlertEvaluator::alertsIn(c)) {
                    if (!want.empty() && a.state.state != want) continue;
                    if (a.state.state == "inactive" && want.empty()) continue;
                    if (!rc.principal.isAdmin() && a.clientId != rc.principal.clientId) continue;
                    const auto rule = std::find_if(rules.begin(), rules.end(),
                                                   [&](const auto& r) { return r.id == a.ruleId; });
                    nlohmann::json j = {
                        {"fingerprint", a.fingerprint},
                        {"rule_id", a.ruleId},
                        {"kind", rule == rules.end() ? nlohmann::json(nullptr)
                                                     : nlohmann::json(rule->kind)},
                        {"alertname",
                         rule == rules.end()
                             ? nlohmann::json(nullptr)
                             : nlohmann::json(db::AlertNotification::alertName(rule->kind))},
                        {"severity", rule == rules.end() ? nlohmann::json(nullptr)
                                                         : nlohmann::json(rule->severity)},
                        {"client_id", a.clientId ? nlohmann::json(*a.clientId) : nullptr},
                        {"state", a.state.state},
                        {"value", a.state.value ? nlohmann::json(*a.state.value) : nullptr},
                        {"pending_since", optTime(a.state.pendingAt)},
                        {"starts_at", optTime(a.state.startsAt)},
                        {"ends_at", optTime(a.state.endsAt)},
                        {"clearing_since", optTime(a.state.clearSince)},
                        {"updated_at", db::isoTime(a.updatedAt)}};
                    auto history = db::AlertEvaluator::historyIn(c, a.fingerprint, 20);
                    for (auto& h : history) h["at"] = db::isoTime(h["at"].get<int64_t>());
                    j["history"] = std::move(history);
                    list.push_back(std::move(j));
                }
            });
            sendJson(res, 200, {{"alerts", list}});
        });
}

}  // namespace calltrack::api
