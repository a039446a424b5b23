#include "api/http/ApiError.h"
#include "api/json/JsonBody.h"
#include "api/json/ResourceJson.h"
#include "api/routes/Routes.h"

#include <string>

namespace calltrack::api {

namespace {

// "warm_pool": each field optional (absent keeps its value); max_warm null
// means no cap.
db::ClientPatch::WarmPool warmPoolPatch(const nlohmann::json& object) {
    using B = db::ClientBounds;
    const JsonBody inner("application/json", object.dump());
    inner.allowOnly({"min_warm", "headroom", "max_warm", "warm_ttl_s", "lead_time_s"}, {},
                    "warm_pool.");
    db::ClientPatch::WarmPool w;
    try {
        w.minWarm = inner.integer("min_warm", 0, B::kMaxWarmBots);
        w.headroom = inner.integer("headroom", 0, B::kMaxWarmBots);
        // Present and null: no cap (an engaged optional holding nothing).
        if (object.contains("max_warm"))
            w.maxWarm.emplace(inner.integer("max_warm", 0, B::kMaxWarmBots));
        w.warmTtlS = inner.integer("warm_ttl_s", 1, B::kMaxWarmTtlS);
        w.leadTimeS = inner.integer("lead_time_s", 0, B::kMaxLeadTimeS);
    } catch (const ApiError& e) {
        throw ApiError(e.status, e.code, std::string("warm_pool.") + e.what());
    }
    return w;
}

db::ClientPatch clientPatch(const JsonBody& body) {
    using B = db::ClientBounds;
    body.allowOnly({"name", "max_concurrent", "enabled", "mode", "ring_timeout_s", "max_call_s",
                    "twilio", "webhook_secret", "bots_required", "warm_pool",
                    "on_database_unavailable"});
    db::ClientPatch p;
    if (const auto* twilio = body.object("twilio")) {
        const JsonBody inner("application/json", twilio->dump());
        inner.allowOnly({"account_sid", "auth_token", "voice_url", "rotate_auth_token"}, {},
                        "twilio.");
        try {
            p.twilio = db::ClientPatch::Twilio{
                inner.requiredText("account_sid", 64), inner.requiredText("auth_token", 256),
                inner.text("voice_url", 2048), inner.boolean("rotate_auth_token").value_or(false)};
        } catch (const ApiError& e) {
            throw ApiError(e.status, e.code, std::string("twilio.") + e.what());
        }
    }
    p.webhookSecret = body.text("webhook_secret", 256);
    p.name = body.text("name", 200);
    p.maxConcurrent = body.integer("max_concurrent", 0, B::kMaxConcurrent);
    p.enabled = body.boolean("enabled");
    if (auto mode = body.text("mode", 16)) {
        p.mode = db::parseClientMode(*mode);
        if (!p.mode) throw ApiError::badRequest("mode must be \"enforce\" or \"observe\"");
    }
    p.ringTimeoutS = body.integer("ring_timeout_s", 1, B::kMaxRingTimeoutS);
    p.maxCallS = body.integer("max_call_s", 1, B::kMaxCallS);
    p.botsRequired = body.boolean("bots_required");
    if (auto policy = body.text("on_database_unavailable", 32)) {
        p.onDatabaseUnavailable = db::parseUnavailablePolicy(*policy);
        if (!p.onDatabaseUnavailable) {
            throw ApiError::badRequest(
                "on_database_unavailable must be \"refuse\" or \"admit_within_share\"");
        }
    }
    if (const auto* warmPool = body.object("warm_pool")) p.warmPool = warmPoolPatch(*warmPool);
    return p;
}

}  // namespace

void addClientRoutes(Router& router, ApiContext& ctx) {
    router.add("PUT", "/v1/clients/{id}",
               [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams& p,
                      RequestContext& rc) {
                   requireAdmin(rc);
                   rc.client = p[0];
                   JsonBody body(req.get_header_value("Content-Type"), req.body);
                   auto result = ctx.clients.put(p[0], clientPatch(body), ctx.deadline());
                   sendJson(res, result.created ? 201 : 200,
                            {{"client", ResourceJson::client(result.client)}});
               });

    router.add("GET", "/v1/clients/{id}",
               [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams& p,
                      RequestContext& rc) {
                   rc.client = p[0];
                   auto client = maySee(rc, p[0]) ? ctx.clients.find(p[0]) : std::nullopt;
                   if (!client) throw ApiError::notFound("unknown_client", "no client " + p[0]);
                   sendJson(res, 200, {{"client", ResourceJson::client(*client)}});
               });

    router.add("GET", "/v1/clients",
               [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams&,
                      RequestContext& rc) {
                   nlohmann::json list = nlohmann::json::array();
                   for (const auto& k : ctx.clients.list()) {
                       if (maySee(rc, k.id)) list.push_back(ResourceJson::client(k));
                   }
                   sendJson(res, 200, {{"clients", list}});
               });

    router.add(
        "PUT", "/v1/limits/global",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams&,
               RequestContext& rc) {
            requireAdmin(rc);
            JsonBody body(req.get_header_value("Content-Type"), req.body);
            body.allowOnly({"max_concurrent"});
            const auto g = ctx.clients.setGlobalLimit(
                body.requiredInteger("max_concurrent", 0, db::ClientBounds::kMaxConcurrent),
                ctx.deadline());
            sendJson(res, 200, {{"global", {{"max_concurrent", g.limit}, {"active", g.active}}}});
        });

    router.add(
        "GET", "/v1/limits/global",
        [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams&,
               RequestContext&) {
            const auto g = ctx.clients.global();
            sendJson(res, 200, {{"global", {{"max_concurrent", g.limit}, {"active", g.active}}}});
        });
}

}  // namespace calltrack::api
