// Utilization history and capacity planning (docs/MONITORING.md):
//   GET /v1/usage/history?client_id=&from=&to=&step=
//   GET /v1/capacity?client_id=&blocking=&days=
// Client tokens see their own client only; the system ('*') is for admins.

#include "api/http/ApiError.h"
#include "api/routes/Routes.h"
#include "db/IsoTime.h"
#include "db/history/CapacityReport.h"
#include "db/history/UsageHistory.h"

#include <charconv>
#include <cmath>
#include <set>

namespace calltrack::api {

namespace {
void refuseUnknownParams(const httplib::Request& req, const std::set<std::string>& known) {
    for (const auto& [name, _] : req.params)
        if (!known.count(name)) throw ApiError::unknownField("unknown query parameter: " + name);
}

int64_t integerParam(const httplib::Request& req, const char* name, int64_t min, int64_t max,
                     int64_t fallback) {
    if (!req.has_param(name)) return fallback;
    const auto& text = req.get_param_value(name);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max)
        throw ApiError::badRequest(std::string(name) + " must be an integer from " +
                                   std::to_string(min) + " to " + std::to_string(max));
    return v;
}

int64_t timeParam(const httplib::Request& req, const char* name, int64_t fallback) {
    if (!req.has_param(name)) return fallback;
    const auto t = db::parseIsoTime(req.get_param_value(name));
    if (!t)
        throw ApiError::badRequest(std::string(name) +
                                   " must be an ISO-8601 UTC time, e.g. 2026-12-01T10:00:00Z");
    return *t;
}

// The client a request asks about: its own for a client token (another
// client's id answers 404, as if it did not exist), any for an admin;
// "*" (the system) when an admin names none.
std::string subject(ApiContext& ctx, const httplib::Request& req, const RequestContext& rc) {
    if (!req.has_param("client_id")) {
        if (rc.principal.isAdmin()) return db::kSystemRow;
        return rc.principal.clientId;
    }
    const auto& id = req.get_param_value("client_id");
    if (id == db::kSystemRow && rc.principal.isAdmin()) return id;
    if (!maySee(rc, id) || !ctx.clients.find(id))
        throw ApiError::notFound("unknown_client", "no client " + id);
    return id;
}
}  // namespace

void addHistoryRoutes(Router& router, ApiContext& ctx) {
    router.add(
        "GET", "/v1/usage/history",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams&,
               RequestContext& rc) {
            refuseUnknownParams(req, {"client_id", "from", "to", "step"});
            const std::string client = subject(ctx, req, rc);
            rc.client = client;
            const int64_t now = ctx.clock.nowMs();
            const int64_t to = timeParam(req, "to", now);
            const int64_t from = timeParam(req, "from", to - 3600 * 1000);
            if (from >= to) throw ApiError::badRequest("from must be before to");
            // Default: the finest valid step that stays within 1000 samples.
            const int64_t span = (to - from + 999) / 1000;
            const int64_t step =
                integerParam(req, "step", 60, 400LL * 86400, db::UsageHistory::defaultStep(span));
            if (!db::UsageHistory::validStep(step))
                throw ApiError::badRequest(
                    "step must be a multiple of 60 seconds that divides an hour (60, 120, ... "
                    "1800, 3600) or a multiple of 3600");
            if (span / step > db::UsageHistory::kMaxSamples)
                throw ApiError::badRequest("too many samples: at most " +
                                           std::to_string(db::UsageHistory::kMaxSamples) +
                                           " per request; use a larger step or a shorter range");
            const auto samples = ctx.database.readers().read([&](db::Connection& c) {
                return db::UsageHistory::range(c, client, from, to, step);
            });
            nlohmann::json list = nlohmann::json::array();
            for (const auto& s : samples) list.push_back(s.toJson());
            sendJson(res, 200,
                     {{"client_id", client},
                      {"from", db::isoTime(from)},
                      {"to", db::isoTime(to)},
                      {"step_s", step},
                      {"samples", std::move(list)}});
        });

    router.add(
        "GET", "/v1/capacity",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams&,
               RequestContext& rc) {
            refuseUnknownParams(req, {"client_id", "blocking", "days"});
            db::CapacityOptions options;
            if (req.has_param("blocking")) {
                const auto& text = req.get_param_value("blocking");
                double p = 0;
                const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), p,
                                                       std::chars_format::fixed);
                if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(p) ||
                    p <= 0 || p >= 1)
                    throw ApiError::badRequest(
                        "blocking must be a number between 0 and 1, "
                        "e.g. 0.01 for 1 %");
                options.targetBlocking = p;
            }
            options.windowDays = integerParam(req, "days", 1, 400, 28);
            const int64_t now = ctx.clock.nowMs();
            std::vector<std::string> clients;
            if (req.has_param("client_id")) {
                clients.push_back(subject(ctx, req, rc));
            } else if (rc.principal.isAdmin()) {
                for (const auto& k : ctx.clients.list()) clients.push_back(k.id);
            } else {
                clients.push_back(rc.principal.clientId);
            }
            nlohmann::json body = {{"target_blocking", options.targetBlocking},
                                   {"window_days", options.windowDays}};
            ctx.database.readers().read([&](db::Connection& c) {
                // The system's samples once, for every report.
                const auto system = db::CapacityReport::systemSamples(c, now, options);
                nlohmann::json list = nlohmann::json::array();
                for (const auto& id : clients)
                    list.push_back(db::CapacityReport::forClient(c, id, now, options, &system)
                                       .toJson(options.targetBlocking));
                body["clients"] = std::move(list);
                if (rc.principal.isAdmin())
                    body["global"] = db::CapacityReport::forSystem(c, now, options, &system)
                                         .toJson(options.targetBlocking);
            });
            sendJson(res, 200, body);
        });
}

}  // namespace calltrack::api
