// GET /openapi.json: the API's description (api/openapi.json, compiled in).
// Parsed once, when the routes are added, so a broken document stops the
// server at start-up instead of answering garbage; served re-serialised.

#include "api/OpenApiJson.h"
#include "api/routes/Routes.h"

#include <memory>
#include <stdexcept>

namespace calltrack::api {

void addOpenApiRoute(Router& router) {
    auto doc = nlohmann::json::parse(openApiJson(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        throw std::runtime_error("the compiled-in api/openapi.json is not a JSON object");
    }
    auto body = std::make_shared<const std::string>(doc.dump());
    router.add("GET", "/openapi.json",
               [body](const httplib::Request&, httplib::Response& res, const RouteParams&,
                      RequestContext&) {
                   res.status = 200;
                   res.set_content(*body, "application/json");
               });
}

}  // namespace calltrack::api
