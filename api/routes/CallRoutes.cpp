#include "api/http/ApiError.h"
#include "api/json/JsonBody.h"
#include "api/json/JsonWriter.h"
#include "api/json/ResourceJson.h"
#include "api/routes/CallMessages.h"
#include "api/routes/IntakeReply.h"
#include "api/routes/Routes.h"
#include "api/webhooks/Hmac.h"
#include "db/calls/CallTable.h"
#include "db/calls/IdempotencyStore.h"

#include <charconv>

namespace calltrack::api {

namespace {

// Engine "not found" on a call path is the API's call_not_found.
template <class F>
auto onCall(F&& fn) {
    try {
        return fn();
    } catch (const db::EngineError& e) {
        if (e.code() == db::ErrorCode::not_found)
            throw ApiError::notFound("call_not_found", e.what());
        throw;
    }
}

// The database could not take the admission: a client with
// on_database_unavailable admit_within_share may be admitted offline, within
// this process's share (OfflineAdmissions): 202 admitted_offline, spooled.
bool sendOffline(ApiContext& ctx, db::AdmitRequest admit, const std::string& why,
                 httplib::Response& res, RequestContext& rc) {
    // Only with the caller's own external id: a generated one would make
    // every retry a new call (the idempotency store is in the database).
    if (!ctx.offline || admit.providerCallId || !admit.externalId ||
        !ctx.offline->sharesFor(admit.clientId))
        return false;
    db::AdmissionEngine::validate(admit);
    const auto grant = ctx.offline->grant(admit.clientId, *admit.externalId);
    if (grant == db::OfflineAdmissions::Grant::no_share) return false;
    nlohmann::json body = {
        {"outcome", "admitted_offline"},
        {"call", nullptr},
        {"client_id", admit.clientId},
        {"external_id", *admit.externalId},
        {"spool_key", nullptr},
        {"detail", "the database could not take the admission (" + why +
                       "); admitted within this process's share of the free slots, written "
                       "when the database is back; use the external id until then"}};
    if (grant == db::OfflineAdmissions::Grant::granted) {
        try {
            body["spool_key"] = ctx.intake.admitOffline(admit, why).spoolKey;
            ctx.offline->spooled(admit.clientId, *admit.externalId);
        } catch (const db::EngineError&) {
            ctx.offline->written(admit.clientId, *admit.externalId);
            return false;  // not stored: refused like any other
        }
    }
    rc.log["outcome"] = "admitted_offline";
    sendJson(res, 202, body);
    return true;
}

// Runs an admission; database trouble is an offline admission or a 503.
template <class F>
auto admitOrOffline(ApiContext& ctx, const db::AdmitRequest& admit, httplib::Response& res,
                    RequestContext& rc, F&& fn) -> std::optional<decltype(fn())> {
    try {
        return fn();
    } catch (const db::EngineError& e) {
        auto refusal = CallMessages::unavailable(e);
        if (!refusal) throw;
        if (sendOffline(ctx, admit, e.what(), res, rc)) return std::nullopt;
        ++ctx.counters.admissionsRefusedUnavailable;
        throw *refusal;
    }
}

void admitOnce(ApiContext& ctx, const httplib::Request& req, httplib::Response& res,
               RequestContext& rc) {
    JsonBody body(req.get_header_value("Content-Type"), req.body);
    rc.client = body.text("client_id", 64);
    const auto admit = CallMessages::admitRequest(body, rc);
    const auto admitted = admitOrOffline(
        ctx, admit, res, rc, [&] { return ctx.admission.admit(admit, ctx.deadline()); });
    if (!admitted) return;
    const auto& r = *admitted;
    if (r.outcome == db::AdmitResult::Outcome::refused)
        throw CallMessages::refusal(r, admit.clientId);
    if (r.outcome == db::AdmitResult::Outcome::already_ended) {
        rc.call = r.call->id;
        throw CallMessages::alreadyEnded(r);
    }
    rc.call = r.call->id;
    sendJsonText(res, CallMessages::admittedStatus(r), CallMessages::admittedBody(r));
}

// 200 {"call": ...}
void sendCall(httplib::Response& res, const db::Call& call) {
    std::string text;
    JsonWriter out(text);
    out.beginObject().key("call");
    ResourceJson::writeCall(out, call);
    out.endObject();
    sendJsonText(res, 200, std::move(text));
}

// Which call a route names: by calltrack id (/v1/calls/{id}) or by the
// caller's own id (/v1/clients/{client_id}/calls/{external_id}).
using CallRefOf = db::CallRef (*)(const RequestContext&, const RouteParams&);

db::CallRef byCallId(const RequestContext& rc, const RouteParams& p) {
    return CallMessages::callRef(rc, p[0]);
}
db::CallRef byExternalId(const RequestContext& rc, const RouteParams& p) {
    return CallMessages::externalRef(rc, p[0], p[1]);
}

// The handlers of one call's routes (GET, PATCH to bind the provider's id,
// events, heartbeat, end), for either way of naming the call.
RouteHandler getCall(ApiContext& ctx, CallRefOf refOf) {
    return [&ctx, refOf](const httplib::Request&, httplib::Response& res, const RouteParams& p,
                         RequestContext& rc) {
        const auto ref = refOf(rc, p);
        auto call = ctx.database.readers().read(
            [&](db::Connection& c) { return db::CallTable::find(c, ref); });
        if (!call) throw ApiError::notFound("call_not_found", "no such call");
        rc.call = call->call.id;
        sendCall(res, call->call);
    };
}

RouteHandler bindProviderCallId(ApiContext& ctx, CallRefOf refOf) {
    return [&ctx, refOf](const httplib::Request& req, httplib::Response& res, const RouteParams& p,
                         RequestContext& rc) {
        JsonBody body(req.get_header_value("Content-Type"), req.body);
        body.allowOnly({"provider_call_id"});
        const auto providerCallId = body.requiredText("provider_call_id", 64);
        const auto ref = refOf(rc, p);
        rc.call = ref.id;
        rc.log["provider_call_id"] = providerCallId;
        const auto call =
            onCall([&] { return ctx.providerEvents.bind(ref, providerCallId, ctx.deadline()); });
        rc.call = call.id;
        sendCall(res, call);
    };
}

void sendEventResult(httplib::Response& res, RequestContext& rc, const db::EventResult& r) {
    if (r.call) rc.call = r.call->id;
    rc.log["outcome"] = db::nameOf(r.outcome);
    sendJsonText(res, 200, CallMessages::eventBody(r));
}

// Applied (200 with the outcome) or spooled (202).
template <class F>
void sendIntake(ApiContext& ctx, httplib::Response& res, RequestContext& rc, F&& fn) {
    const auto o = intakeOrRefuse(ctx, [&] { return onCall(fn); });
    if (o.spooled) return sendSpooled(ctx, res, rc, o);
    sendEventResult(res, rc, *o.result);
}

RouteHandler postEvent(ApiContext& ctx, CallRefOf refOf) {
    return [&ctx, refOf](const httplib::Request& req, httplib::Response& res, const RouteParams& p,
                         RequestContext& rc) {
        JsonBody body(req.get_header_value("Content-Type"), req.body);
        const auto ev = CallMessages::statusEvent(body, refOf(rc, p));
        rc.call = ev.call.id;
        sendIntake(ctx, res, rc, [&] { return ctx.intake.status(ev, ctx.deadline()); });
    };
}

RouteHandler postHeartbeat(ApiContext& ctx, CallRefOf refOf) {
    return [&ctx, refOf](const httplib::Request& req, httplib::Response& res, const RouteParams& p,
                         RequestContext& rc) {
        JsonBody body(req.get_header_value("Content-Type"), req.body, true);
        body.allowOnly({});
        const auto ref = refOf(rc, p);
        rc.call = ref.id;
        sendIntake(ctx, res, rc, [&] {
            return ctx.intake.heartbeat(db::HeartbeatRequest{ref, "api"}, ctx.deadline());
        });
    };
}

RouteHandler postEnd(ApiContext& ctx, CallRefOf refOf) {
    return [&ctx, refOf](const httplib::Request& req, httplib::Response& res, const RouteParams& p,
                         RequestContext& rc) {
        JsonBody body(req.get_header_value("Content-Type"), req.body, true);
        const auto end = CallMessages::endRequest(body, refOf(rc, p));
        rc.call = end.call.id;
        sendIntake(ctx, res, rc, [&] { return ctx.intake.end(end, ctx.deadline()); });
    };
}

// GET /v1/calls?provider_call_id= or ?client_id=&external_id=: the one call
// with that id, as a list (empty when there is none the caller may see).
std::optional<db::Call> lookup(ApiContext& ctx, const httplib::Request& req,
                               const RequestContext& rc) {
    std::optional<db::CallWithTimeouts> found;
    if (req.has_param("provider_call_id")) {
        const auto& id = req.get_param_value("provider_call_id");
        if (id.empty() || id.size() > 64)
            throw ApiError::badRequest("provider_call_id must be 1 to 64 characters");
        found = ctx.database.readers().read(
            [&](db::Connection& c) { return db::CallTable::findByProviderCallId(c, id); });
    } else {
        const auto& external = req.get_param_value("external_id");
        if (external.empty() || external.size() > 128)
            throw ApiError::badRequest("external_id must be 1 to 128 characters");
        std::string client = req.get_param_value("client_id");
        if (client.empty() && !rc.principal.isAdmin()) client = rc.principal.clientId;
        if (client.empty())
            throw ApiError::badRequest("external_id needs client_id: external ids are per client");
        found = ctx.database.readers().read([&](db::Connection& c) {
            return db::CallTable::find(c, db::CallRef::byExternal(client, external));
        });
    }
    if (!found || !maySee(rc, found->call.clientId)) return std::nullopt;
    return std::move(found->call);
}

}  // namespace

void addCallRoutes(Router& router, ApiContext& ctx) {
    auto idempotency = std::make_shared<db::IdempotencyStore>(ctx.database.writer(), ctx.clock);
    router.add(
        "POST", "/v1/calls",
        [&ctx, idempotency](const httplib::Request& req, httplib::Response& res, const RouteParams&,
                            RequestContext& rc) {
            const std::string key = req.get_header_value("Idempotency-Key");
            if (key.empty()) {
                admitOnce(ctx, req, res, rc);
                return;
            }
            // Idempotency-Key: the first response per (caller, key) is
            // stored and replayed; the body's hash tells a retry from a
            // misuse of the key.
            if (key.size() > 255)
                throw ApiError::badRequest("Idempotency-Key: at most 255 characters");
            const std::string scope =
                rc.principal.isAdmin() ? "admin" : "client:" + rc.principal.clientId;
            // Parsed and validated first: a malformed body is answered the
            // same way on every retry, and is not stored.
            JsonBody body(req.get_header_value("Content-Type"), req.body);
            rc.client = body.text("client_id", 64);
            auto admit = CallMessages::admitRequest(body, rc);
            db::AdmissionEngine::validate(admit);
            std::optional<ApiError> refusal;
            bool botShortage = false;
            std::optional<int64_t> callId;  // set only once the operation committed
            const auto ran = admitOrOffline(ctx, admit, res, rc, [&] {
                return idempotency->runOnce(
                    scope, key, sha256Hex(req.body),
                    [&](db::Connection& c, int64_t now) -> db::IdempotencyStore::Response {
                        // Reset: what one run decides must not leak into another.
                        refusal.reset();
                        botShortage = false;
                        callId.reset();
                        const auto r = db::AdmissionEngine::admitIn(c, now, admit);
                        botShortage = r.botShortage;
                        if (r.call) callId = r.call->id;
                        if (r.outcome == db::AdmitResult::Outcome::refused)
                            refusal = CallMessages::refusal(r, admit.clientId);
                        else if (r.outcome == db::AdmitResult::Outcome::already_ended)
                            refusal = CallMessages::alreadyEnded(r);
                        // A refusal is an answer too: stored, and replayed.
                        if (refusal)
                            return {refusal->status, ApiError::body(*refusal, rc.requestId).dump()};
                        return {CallMessages::admittedStatus(r), CallMessages::admittedBody(r)};
                    },
                    ctx.deadline());
            });
            if (!ran) return;
            const auto& outcome = *ran;
            if (botShortage) ctx.admission.reportBotShortage(admit.clientId);
            if (callId) rc.call = *callId;
            using Kind = db::IdempotencyStore::Outcome::Kind;
            if (outcome.kind == Kind::mismatch) {
                throw ApiError(422, "idempotency_key_reused",
                               "this Idempotency-Key was used with a different request body");
            }
            if (outcome.kind == Kind::in_flight) {
                throw ApiError(
                    409, "idempotency_key_in_flight",
                    "a request with this Idempotency-Key is still being processed; retry later");
            }
            if (outcome.kind == Kind::replay) res.set_header("Idempotent-Replayed", "true");
            // The first answer of a refusal keeps its Retry-After header.
            if (outcome.kind == Kind::ran && refusal) throw *refusal;
            res.status = outcome.response.status;
            res.set_content(outcome.response.body, "application/json");
        });

    router.add(
        "GET", "/v1/calls",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams&,
               RequestContext& rc) {
            if (req.has_param("provider_call_id") || req.has_param("external_id")) {
                nlohmann::json list = nlohmann::json::array();
                if (auto call = lookup(ctx, req, rc)) list.push_back(ResourceJson::call(*call));
                sendJson(res, 200, {{"calls", list}, {"next_cursor", nullptr}});
                return;
            }
            db::CallTable::ListFilter filter;
            if (req.has_param("client_id")) filter.clientId = req.get_param_value("client_id");
            if (!rc.principal.isAdmin()) {
                if (filter.clientId && *filter.clientId != rc.principal.clientId) {
                    sendJson(res, 200,
                             {{"calls", nlohmann::json::array()}, {"next_cursor", nullptr}});
                    return;
                }
                filter.clientId = rc.principal.clientId;
            }
            const std::string state =
                req.has_param("state") ? req.get_param_value("state") : "active";
            if (state == "active")
                filter.which = db::CallTable::ListFilter::Which::active;
            else if (state == "ended")
                filter.which = db::CallTable::ListFilter::Which::ended;
            else if (state == "all")
                filter.which = db::CallTable::ListFilter::Which::all;
            else
                throw ApiError::badRequest("state must be active, ended or all");
            if (req.has_param("limit")) {
                const auto& text = req.get_param_value("limit");
                int64_t limit = 0;
                auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
                if (ec != std::errc() || ptr != text.data() + text.size() || limit < 1 ||
                    limit > 1000) {
                    throw ApiError::badRequest("limit must be an integer from 1 to 1000");
                }
                filter.limit = limit;
            }
            if (req.has_param("cursor")) {
                const auto& text = req.get_param_value("cursor");
                int64_t before = 0;
                auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), before);
                if (ec != std::errc() || ptr != text.data() + text.size() || before < 1) {
                    throw ApiError::badRequest("cursor is not one this API returned");
                }
                filter.beforeId = before;
            }
            auto calls = ctx.database.readers().read(
                [&](db::Connection& c) { return db::CallTable::list(c, filter); });
            std::string text;
            JsonWriter out(text);
            out.beginObject().key("calls").beginArray();
            for (const auto& call : calls) ResourceJson::writeCall(out, call);
            out.endArray().key("next_cursor");
            // Ids only grow, so "older than the last id seen" is a
            // cursor that new admissions cannot shift.
            if (static_cast<int64_t>(calls.size()) == filter.limit) {
                out.value(std::to_string(calls.back().id));
            } else {
                out.value(nullptr);
            }
            out.endObject();
            sendJsonText(res, 200, std::move(text));
        });

    router.add("GET", "/v1/calls/{id}", getCall(ctx, byCallId));
    router.add("PATCH", "/v1/calls/{id}", bindProviderCallId(ctx, byCallId));
    router.add("POST", "/v1/calls/{id}/events", postEvent(ctx, byCallId));
    router.add("POST", "/v1/calls/{id}/heartbeat", postHeartbeat(ctx, byCallId));
    router.add("POST", "/v1/calls/{id}/end", postEnd(ctx, byCallId));
    // The same, by the caller's own id: a dialer need not keep calltrack's.
    router.add("GET", "/v1/clients/{client_id}/calls/{external_id}", getCall(ctx, byExternalId));
    router.add("PATCH", "/v1/clients/{client_id}/calls/{external_id}",
               bindProviderCallId(ctx, byExternalId));
    router.add("POST", "/v1/clients/{client_id}/calls/{external_id}/events",
               postEvent(ctx, byExternalId));
    router.add("POST", "/v1/clients/{client_id}/calls/{external_id}/heartbeat",
               postHeartbeat(ctx, byExternalId));
    router.add("POST", "/v1/clients/{client_id}/calls/{external_id}/end",
               postEnd(ctx, byExternalId));
}

}  // namespace calltrack::api
