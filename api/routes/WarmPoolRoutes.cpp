// A client's warm pool: its scheduled demand (POST, GET
// /v1/clients/{id}/schedule, DELETE /v1/clients/{id}/schedule/{schedule_id})
// and what the bot scheduler is keeping warm for it and why (GET
// /v1/clients/{id}/warm-pool). Admins, or the client's own token; another
// client answers 404 unknown_client as if it did not exist.

#include "api/http/ApiError.h"
#include "api/json/JsonBody.h"
#include "api/json/ResourceJson.h"
#include "api/routes/Routes.h"
#include "db/IsoTime.h"
#include "db/bots/DemandSchedules.h"
#include "db/bots/WarmPoolPlanner.h"
#include "db/tenants/ClientRegistry.h"

#include <charconv>

namespace calltrack::api {

namespace {

ApiError unknownClient(const std::string& id) {
    return ApiError::notFound("unknown_client", "no client " + id);
}

void requireVisibleClient(const RequestContext& rc, const std::string& id) {
    if (!maySee(rc, id)) throw unknownClient(id);
}

int64_t requiredTime(const JsonBody& body, const char* field) {
    if (auto ms = db::parseIsoTime(body.requiredText(field, 64))) return *ms;
    throw ApiError::badRequest(std::string(field) +
                               " must be an ISO-8601 UTC time such as 2026-01-31T12:00:00Z");
}

}  // namespace

void addWarmPoolRoutes(Router& router, ApiContext& ctx) {
    router.add("POST", "/v1/clients/{id}/schedule",
               [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams& p,
                      RequestContext& rc) {
                   rc.client = p[0];
                   requireVisibleClient(rc, p[0]);
                   JsonBody body(req.get_header_value("Content-Type"), req.body);
                   body.allowOnly({"starts_at", "ends_at", "expected_concurrency"});
                   const int64_t startsAt = requiredTime(body, "starts_at");
                   const int64_t endsAt = requiredTime(body, "ends_at");
                   const int64_t expected =
                       body.requiredInteger("expected_concurrency", 1, 1'000'000);
                   try {
                       const auto schedule =
                           ctx.schedules.add(p[0], startsAt, endsAt, expected, ctx.deadline());
                       sendJson(res, 201, {{"schedule", ResourceJson::schedule(schedule)}});
                   } catch (const db::EngineError& e) {
                       if (e.code() == db::ErrorCode::not_found) throw unknownClient(p[0]);
                       throw;
                   }
               });

    router.add("GET", "/v1/clients/{id}/schedule",
               [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams& p,
                      RequestContext& rc) {
                   rc.client = p[0];
                   requireVisibleClient(rc, p[0]);
                   // One read: an unknown client is told apart from one with
                   // no schedules.
                   const auto schedules = ctx.database.readers().read(
                       [&](db::Connection& c) -> std::optional<std::vector<db::DemandSchedule>> {
                           if (!db::ClientRegistry::findIn(c, p[0])) return std::nullopt;
                           return db::DemandSchedules::upcomingIn(c, ctx.clock.nowMs(), p[0]);
                       });
                   if (!schedules) throw unknownClient(p[0]);
                   nlohmann::json list = nlohmann::json::array();
                   for (const auto& s : *schedules) list.push_back(ResourceJson::schedule(s));
                   sendJson(res, 200, {{"schedules", list}});
               });

    router.add("DELETE", "/v1/clients/{id}/schedule/{schedule_id}",
               [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams& p,
                      RequestContext& rc) {
                   rc.client = p[0];
                   requireVisibleClient(rc, p[0]);
                   const std::string& text = p[1];
                   int64_t scheduleId = 0;
                   auto [ptr, ec] =
                       std::from_chars(text.data(), text.data() + text.size(), scheduleId);
                   const auto notFound = ApiError::notFound(
                       "schedule_not_found", "client " + p[0] + " has no schedule " + text);
                   if (ec != std::errc() || ptr != text.data() + text.size() || scheduleId <= 0)
                       throw notFound;
                   try {
                       ctx.schedules.remove(p[0], scheduleId, ctx.deadline());
                   } catch (const db::EngineError& e) {
                       if (e.code() == db::ErrorCode::not_found) throw notFound;
                       throw;
                   }
                   res.status = 204;
               });

    router.add("GET", "/v1/clients/{id}/warm-pool",
               [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams& p,
                      RequestContext& rc) {
                   rc.client = p[0];
                   requireVisibleClient(rc, p[0]);
                   try {
                       const auto status = ctx.database.readers().read([&](db::Connection& c) {
                           return db::WarmPoolPlanner::statusIn(c, ctx.clock.nowMs(), p[0]);
                       });
                       sendJson(res, 200, {{"warm_pool", ResourceJson::warmPool(status)}});
                   } catch (const db::EngineError& e) {
                       if (e.code() == db::ErrorCode::not_found) throw unknownClient(p[0]);
                       throw;
                   }
               });
}

}  // namespace calltrack::api
