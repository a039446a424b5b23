#pragma once
// Request fields and response bodies of the call endpoints, shared by the
// single endpoints (CallRoutes) and POST /v1/calls:batch (BatchRoute), so an
// item of a batch reads and answers exactly like its single request.

#include <optional>
#include "api/http/ApiContext.h"
#include "api/http/ApiError.h"
#include "api/http/RequestContext.h"
#include "api/json/JsonBody.h"
#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/spool/EventIntake.h"

#include <nlohmann/json.hpp>

namespace calltrack::api {

class CallMessages {
  public:
    // How long a refused dialer should wait before trying again, unless the
    // engine gives its own hint (bot_unavailable: the typical warm-up time).
    static constexpr int64_t kRetryAfterMs = 1000;

    // Each reader refuses unknown fields; `more` are fields the caller reads
    // itself (a batch item's "op" and "call_id").
    // POST /v1/calls body; checks that the caller may act for the client.
    static db::AdmitRequest admitRequest(const JsonBody& body, const RequestContext& rc,
                                         JsonBody::Fields more = {});
    // POST /v1/calls/{id}/events body (the call is named by the caller).
    // status: calltrack's names or the provider's (in-progress, no-answer, queued).
    static db::StatusEvent statusEvent(const JsonBody& body, db::CallRef call,
                                       JsonBody::Fields more = {});
    // POST /v1/calls/{id}/end body.
    static db::EndRequest endRequest(const JsonBody& body, db::CallRef call,
                                     JsonBody::Fields more = {});
    // The call a path or item names, scoped to what the caller may see.
    static db::CallRef callRef(const RequestContext& rc, const std::string& idText);
    // The call /v1/clients/{client_id}/calls/{external_id}/... names; a client
    // token naming another client finds nothing (404).
    static db::CallRef externalRef(const RequestContext& rc, const std::string& clientId,
                                   const std::string& externalId);

    // 201 (admitted) or 200 (existing) and its body; refusals are errors.
    static int admittedStatus(const db::AdmitResult& r);
    // Bodies are JSON text, written without a DOM (JsonWriter).
    static std::string admittedBody(const db::AdmitResult& r);
    static ApiError refusal(const db::AdmitResult& r, const std::string& clientId);
    // 409 call_already_ended, with the ended call in the body.
    static ApiError alreadyEnded(const db::AdmitResult& r);
    // An admission the database could not take (locked past the deadline,
    // failing, breaker open): 503 database_unavailable with Retry-After and
    // a "reason"; nothing was written. Other errors: nothing.
    static std::optional<ApiError> unavailable(const db::EngineError& e);
    // Runs an admission; its database trouble is counted and answered as
    // unavailable() says.
    template <class F>
    static auto admitOrRefuse(ApiContext& ctx, F&& fn) {
        try {
            return fn();
        } catch (const db::EngineError& e) {
            auto refusal = unavailable(e);
            if (!refusal) throw;
            ++ctx.counters.admissionsRefusedUnavailable;
            throw *refusal;
        }
    }
    // An event's or an end's answer: {"call", "detail" (when there is one), "outcome"}.
    static std::string eventBody(const db::EventResult& r);
    // 202: the event is in the intake spool, to be applied later.
    static nlohmann::json spooledBody(const db::IntakeOutcome& o);
};

}  // namespace calltrack::api
