#include "api/routes/IntakeReply.h"

#include "api/routes/CallMessages.h"
#include "api/routes/Routes.h"

namespace calltrack::api {

void sendSpooled(ApiContext& ctx, httplib::Response& res, RequestContext& rc,
                 const db::IntakeOutcome& outcome) {
    ++ctx.counters.eventsSpooled;
    rc.log["outcome"] = "spooled";
    rc.log["spool_key"] = outcome.spoolKey;
    rc.log["detail"] = outcome.why;
    sendJson(res, 202, CallMessages::spooledBody(outcome));
}

}  // namespace calltrack::api
