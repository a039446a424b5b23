#pragma once
// The API's endpoints, grouped by resource; each adds its routes to the router.

#include "api/http/ApiContext.h"
#include "api/http/Router.h"

namespace calltrack::api {

void addHealthRoutes(Router& router, ApiContext& ctx);
void addCallRoutes(Router& router, ApiContext& ctx);
void addClientRoutes(Router& router, ApiContext& ctx);
void addOpenApiRoute(Router& router);  // GET /openapi.json (api/routes/OpenApiRoute.cpp)
void addWebhookRoutes(Router& router, ApiContext& ctx);
void addTwilioVoiceRoute(Router& router, ApiContext& ctx);  // the inbound gate
void addBatchRoute(Router& router, ApiContext& ctx);
void addBotRoutes(Router& router, ApiContext& ctx);       // api/routes/BotRoutes.cpp
void addWarmPoolRoutes(Router& router, ApiContext& ctx);  // schedules and warm pools
void addMetricsRoute(Router& router, ApiContext& ctx);    // GET /metrics
void addHistoryRoutes(Router& router, ApiContext& ctx);   // usage history, capacity
void addAlertRoutes(Router& router, ApiContext& ctx);     // alert receivers, rules, alerts
void addDashboardRoute(Router& router);                   // GET /dashboard

// Helpers shared by the route files.
void sendJson(httplib::Response& res, int status, const nlohmann::json& body);
// A body already written as JSON text (JsonWriter).
void sendJsonText(httplib::Response& res, int status, std::string body);
// Admin only; anything else is 403.
void requireAdmin(const RequestContext& rc);
// The client a request may act for: admins any, client tokens only their own
// (another client's resources answer 404, as if they did not exist).
bool maySee(const RequestContext& rc, const std::string& clientId);

}  // namespace calltrack::api
