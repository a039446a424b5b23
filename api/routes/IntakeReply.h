#pragma once
// How the HTTP layer answers what EventIntake did with an event: the
// engine's result (200, by the route), 202 "spooled", or 503 when it could
// be neither applied nor spooled (counted).

#include "api/http/ApiContext.h"
#include "api/http/RequestContext.h"

#include <httplib.h>

namespace calltrack::api {

void sendSpooled(ApiContext& ctx, httplib::Response& res, RequestContext& rc,
                 const db::IntakeOutcome& outcome);

template <class F>
db::IntakeOutcome intakeOrRefuse(ApiContext& ctx, F&& fn) {
    try {
        return fn();
    } catch (const db::EngineError& e) {
        if (e.code() == db::ErrorCode::spool_full || e.code() == db::ErrorCode::spool_unwritable)
            ++ctx.counters.eventsRefusedSpoolFull;
        throw;
    }
}

}  // namespace calltrack::api
