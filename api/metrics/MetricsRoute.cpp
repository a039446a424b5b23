// GET /metrics: the Prometheus exposition (api/metrics/MetricsExposition),
// admin only like the rest of the operator API (a bearer token, or open on
// loopback when no token is configured).

#include "api/metrics/MetricsExposition.h"
#include "api/routes/Routes.h"

namespace calltrack::api {

void addMetricsRoute(Router& router, ApiContext& ctx) {
    router.add("GET", "/metrics",
               [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams&,
                      RequestContext& rc) {
                   requireAdmin(rc);
                   res.status = 200;
                   res.set_content(MetricsExposition::render(ctx),
                                   "text/plain; version=0.0.4; charset=utf-8");
               });
}

}  // namespace calltrack::api
