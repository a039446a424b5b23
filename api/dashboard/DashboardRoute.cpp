// GET /dashboard: the operator page. It is open (it holds no data): the
// page asks for a token, or takes it from the URL fragment (#token=..., which
// browsers never send to a server), keeps it in sessionStorage and sends it
// as a bearer header to the API, which decides what it may see. A strict
// Content-Security-Policy: nothing but this page and the API's own origin.

#include "api/dashboard/DashboardHtml.h"
#include "api/routes/Routes.h"

#include <memory>

namespace calltrack::api {

void addDashboardRoute(Router& router) {
    auto page = std::make_shared<const std::string>(dashboardHtml());
    router.add("GET", "/dashboard",
               [page](const httplib::Request&, httplib::Response& res, const RouteParams&,
                      RequestContext&) {
                   res.status = 200;
                   res.set_header("Content-Security-Policy",
                                  "default-src 'none'; script-src 'unsafe-inline'; style-src "
                                  "'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
                                  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
                   res.set_header("Cache-Control", "no-store");
                   res.set_header("Referrer-Policy", "no-referrer");
                   res.set_header("X-Content-Type-Options", "nosniff");
                   res.set_content(*page, "text/html; charset=utf-8");
               });
}

}  // namespace calltrack::api
