#include "api/ApiError.h"
#include "api/Routes.h"

namespace calltrack::api {

void addHealthRoutes(Router& router, ApiContext& ctx) {
    router.add(
        "GET", "/healthz",
        [](const httplib::Request&, httplib::Response& res, const RouteParams&, RequestContext&) {
            sendJson(res, 200, {{"status", "ok"}});
        });

    // Ready = the database takes a write within the request deadline: the
    // probe goes through the writer (BEGIN IMMEDIATE, so it also waits for
    // other processes' write locks) and writes nothing.
    router.add("GET", "/readyz",
               [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams&,
                      RequestContext&) {
                   try {
                       ctx.database.writer().run([](db::Connection&) {}, ctx.deadline());
                       sendJson(res, 200, {{"status", "ready"}});
                   } catch (const db::EngineError& e) {
                       ApiError err(503, "not_ready",
                                    std::string("the database is not writable: ") + e.what());
                       err.retryAfterMs = 1000;
                       throw err;
                   }
               });
}

}  // namespace calltrack::api
