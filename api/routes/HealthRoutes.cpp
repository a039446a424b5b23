#include "api/http/ApiError.h"
#include "api/json/ResourceJson.h"
#include "api/routes/Routes.h"

namespace calltrack::api {

void addHealthRoutes(Router& router, ApiContext& ctx) {
    router.add(
        "GET", "/healthz",
        [](const httplib::Request&, httplib::Response& res, const RouteParams&, RequestContext&) {
            sendJson(res, 200, {{"status", "ok"}});
        });

    // Ready = the database takes a write within the request deadline: the
    // probe goes through the writer (BEGIN IMMEDIATE, so it also waits for
    // other processes' write locks) and writes nothing. When it does not,
    // but events can still be spooled, the process is "degraded" and still
    // 200: a database shared by every instance being locked must not take
    // them all out of the load balancer at once. 503 only when this process
    // cannot serve: shutting down, or the spool full or unwritable.
    router.add(
        "GET", "/readyz",
        [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams&,
               RequestContext&) {
            auto& spool = ctx.intake.spool();
            const auto now = ctx.clock.nowMs();
            try {
                ctx.database.writer().run([](db::Connection&) {}, ctx.deadline());
                const auto stats = spool.stats();
                nlohmann::json body = {{"status", "ready"}};
                if (stats.pendingRecords > 0)
                    body["spool"] = ResourceJson::spool(stats, spool.options(), now);
                sendJson(res, 200, body);
                return;
            } catch (const db::EngineError& e) {
                const auto stats = spool.stats();
                const bool full = stats.hostBytes >= spool.options().maxBytes ||
                                  (stats.oldestPendingAtMs &&
                                   now - *stats.oldestPendingAtMs > spool.options().maxAgeMs);
                if (e.code() == db::ErrorCode::shutting_down || full || !stats.writable) {
                    ApiError err(
                        503, "not_ready",
                        std::string("the database is not writable (") + e.what() + ") and " +
                            (e.code() == db::ErrorCode::shutting_down ? "calltrack is shutting down"
                             : full                                   ? "the intake spool is full"
                                    : "the intake spool cannot be written"));
                    err.retryAfterMs = 1000;
                    throw err;
                }
                sendJson(
                    res, 200,
                    {{"status", "degraded"},
                     {"reason", std::string("the database is not writable: ") + e.what() +
                                    "; events are spooled, admissions refused"},
                     {"breaker", ResourceJson::breaker(ctx.database.writer().breaker().snapshot())},
                     {"spool", ResourceJson::spool(stats, spool.options(), now)}});
            }
        });
}

}  // namespace calltrack::api
