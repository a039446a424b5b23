// Voice bots: PUT, GET, DELETE /v1/bots/{id} and GET /v1/bots.
//
// A bot is either a client's own or shared by all clients. A client token
// sees its own bots and the shared ones; another client's bot answers 404 as
// if it did not exist. Registering, changing and removing bots is for admins.

#include "api/http/ApiError.h"
#include "api/json/JsonBody.h"
#include "api/json/ResourceJson.h"
#include "api/routes/Routes.h"
#include "db/bots/BotRegistry.h"

namespace calltrack::api {

namespace {

bool maySeeBot(const RequestContext& rc, const db::Bot& bot) {
    return !bot.clientId || maySee(rc, *bot.clientId);
}

ApiError botNotFound(const std::string& id) {
    return ApiError::notFound("bot_not_found", "no bot " + id);
}

// A change that would strand the calls a bot carries is the engine's
// conflict; for a bot that means it is busy.
ApiError botBusy(const db::EngineError& e) {
    return ApiError(409, "bot_busy", e.what());
}

// The whole configuration: PUT replaces it, absent fields take their defaults.
db::BotConfig botConfig(const JsonBody& body) {
    db::BotConfig config;
    body.allowOnly({"client_id", "warmup_url", "capacity", "warmup_timeout_ms"});
    config.clientId = body.text("client_id", 64);
    config.warmupUrl = body.requiredText("warmup_url", 2048);
    config.capacity = body.integer("capacity", 1, 10'000).value_or(config.capacity);
    config.warmupTimeoutMs =
        body.integer("warmup_timeout_ms", 100, 600'000).value_or(config.warmupTimeoutMs);
    return config;
}

}  // namespace

void addBotRoutes(Router& router, ApiContext& ctx) {
    router.add(
        "PUT", "/v1/bots/{id}",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams& p,
               RequestContext& rc) {
            requireAdmin(rc);
            JsonBody body(req.get_header_value("Content-Type"), req.body);
            const auto config = botConfig(body);
            rc.client = config.clientId;
            try {
                const auto result = ctx.bots.put(p[0], config, ctx.deadline());
                sendJson(res, result.created ? 201 : 200, {{"bot", ResourceJson::bot(result.bot)}});
            } catch (const db::EngineError& e) {
                // The only thing put looks up is the owning client.
                if (e.code() == db::ErrorCode::not_found)
                    throw ApiError::notFound("unknown_client", e.what());
                if (e.code() == db::ErrorCode::conflict) throw botBusy(e);
                throw;
            }
        });

    router.add("GET", "/v1/bots/{id}",
               [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams& p,
                      RequestContext& rc) {
                   const auto bot = ctx.bots.find(p[0]);
                   if (!bot || !maySeeBot(rc, *bot)) throw botNotFound(p[0]);
                   sendJson(res, 200, {{"bot", ResourceJson::bot(*bot)}});
               });

    router.add("DELETE", "/v1/bots/{id}",
               [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams& p,
                      RequestContext& rc) {
                   requireAdmin(rc);
                   try {
                       ctx.bots.remove(p[0], ctx.deadline());
                   } catch (const db::EngineError& e) {
                       if (e.code() == db::ErrorCode::not_found) throw botNotFound(p[0]);
                       if (e.code() == db::ErrorCode::conflict) throw botBusy(e);
                       throw;
                   }
                   res.status = 204;
               });

    router.add("GET", "/v1/bots",
               [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams&,
                      RequestContext& rc) {
                   db::BotRegistry::ListFilter filter;
                   if (req.has_param("client_id") && !req.get_param_value("client_id").empty())
                       filter.clientId = req.get_param_value("client_id");
                   if (req.has_param("state")) {
                       filter.state = db::parseBotState(req.get_param_value("state"));
                       if (!filter.state) {
                           throw ApiError::badRequest(
                               "state must be one of cold, warming, ready, busy, failed");
                       }
                   }
                   nlohmann::json list = nlohmann::json::array();
                   // Another client's bots do not exist for a client token: its
                   // filter answers an empty list, as GET /v1/calls does.
                   if (filter.clientId && !maySee(rc, *filter.clientId)) {
                       sendJson(res, 200, {{"bots", list}});
                       return;
                   }
                   for (const auto& bot : ctx.bots.list(filter)) {
                       if (maySeeBot(rc, bot)) list.push_back(ResourceJson::bot(bot));
                   }
                   sendJson(res, 200, {{"bots", list}});
               });
}

}  // namespace calltrack::api
