#pragma once
// The API's endpoints, grouped by resource; each adds its routes to the router.
// Every route file answers in JSON and checks access, so this brings both in.

#include "api/auth/Access.h"
#include "api/http/ApiContext.h"
#include "api/http/JsonResponse.h"
#include "api/http/Router.h"

namespace calltrack::api {

void addHealthRoutes(Router& router, ApiContext& ctx);
void addCallRoutes(Router& router, ApiContext& ctx);
void addClientRoutes(Router& router, ApiContext& ctx);
void addUsageRoute(Router& router, ApiContext& ctx);  // GET /v1/usage
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

}  // namespace calltrack::api
