#include "api/ApiError.h"
#include "api/JsonBody.h"
#include "api/ResourceJson.h"
#include "api/Routes.h"
#include "db/CallTable.h"

#include <charconv>

namespace calltrack::api {

namespace {

// How long a refused dialer should wait before trying again. Slots free up
// as calls end; a second is short against a call and long against a
// hot retry loop.
constexpr int64_t kRetryAfterMs = 1000;

int64_t callIdFrom(const std::string& text) {
    int64_t id = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || ptr != text.data() + text.size() || id <= 0) {
        throw ApiError::notFound("call_not_found", "no call " + text);
    }
    return id;
}

// The call named in the path, scoped to what the caller may see.
db::CallRef callRef(const RequestContext& rc, const std::string& idText) {
    db::CallRef ref = db::CallRef::byId(callIdFrom(idText));
    if (!rc.principal.isAdmin()) ref.clientId = rc.principal.clientId;
    return ref;
}

nlohmann::json eventResponse(const db::EventResult& r) {
    nlohmann::json body = {{"outcome", db::nameOf(r.outcome)}};
    body["call"] = r.call ? ResourceJson::call(*r.call) : nlohmann::json(nullptr);
    if (!r.detail.empty()) body["detail"] = r.detail;
    return body;
}

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

std::optional<int64_t> occurredAt(const JsonBody& body) {
    const auto& json = body.json();
    auto it = json.find("occurred_at");
    if (it == json.end() || it->is_null()) return std::nullopt;
    if (it->is_string()) {
        if (auto ms = db::parseIsoTime(it->get<std::string>())) return ms;
    }
    throw ApiError::badRequest(
        "occurred_at must be an ISO-8601 UTC time such as 2026-01-31T12:00:00Z");
}

}  // namespace

void addCallRoutes(Router& router, ApiContext& ctx) {
    router.add(
        "POST", "/v1/calls",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams&,
               RequestContext& rc) {
            JsonBody body(req.get_header_value("Content-Type"), req.body);
            db::AdmitRequest admit;
            admit.clientId = body.requiredText("client_id", 64);
            admit.externalId = body.text("external_id", 128);
            admit.provider = body.text("provider", 32).value_or("api");
            admit.metadataJson = body.rawJson("metadata");
            if (admit.metadataJson && admit.metadataJson->size() > 16 * 1024) {
                throw ApiError::badRequest("metadata must be at most 16 KiB of JSON");
            }
            admit.source = "api";
            rc.client = admit.clientId;
            if (!maySee(rc, admit.clientId)) {
                throw ApiError::notFound("unknown_client", "no client " + admit.clientId);
            }
            const auto r = ctx.admission.admit(admit, ctx.deadline());
            if (r.outcome == db::AdmitResult::Outcome::refused) {
                if (r.refusal == db::Refusal::unknown_client) {
                    throw ApiError::notFound("unknown_client", "no client " + admit.clientId);
                }
                ApiError e(429, db::nameOf(r.refusal),
                           std::string("call refused: ") + db::nameOf(r.refusal) + " (client " +
                               std::to_string(r.client.active) + "/" +
                               std::to_string(r.client.limit) + ", global " +
                               std::to_string(r.global.active) + "/" +
                               std::to_string(r.global.limit) + ")");
                e.retryAfterMs = kRetryAfterMs;
                throw e;
            }
            rc.call = r.call->id;
            sendJson(res, r.outcome == db::AdmitResult::Outcome::admitted ? 201 : 200,
                     {{"call", ResourceJson::call(*r.call)},
                      {"outcome",
                       r.outcome == db::AdmitResult::Outcome::admitted ? "admitted" : "existing"},
                      {"usage",
                       {{"client", ResourceJson::usage(r.client)},
                        {"global", ResourceJson::usage(r.global)}}}});
        });

    router.add("GET", "/v1/calls/{id}",
               [&ctx](const httplib::Request&, httplib::Response& res, const RouteParams& p,
                      RequestContext& rc) {
                   const auto ref = callRef(rc, p[0]);
                   rc.call = ref.id;
                   auto call = ctx.database.readers().read(
                       [&](db::Connection& c) { return db::CallTable::find(c, ref); });
                   if (!call) throw ApiError::notFound("call_not_found", "no call " + p[0]);
                   sendJson(res, 200, {{"call", ResourceJson::call(call->call)}});
               });

    router.add(
        "GET", "/v1/calls",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams&,
               RequestContext& rc) {
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
            nlohmann::json list = nlohmann::json::array();
            for (const auto& call : calls) list.push_back(ResourceJson::call(call));
            // Ids only grow, so "older than the last id seen" is a
            // cursor that new admissions cannot shift.
            nlohmann::json next = nullptr;
            if (static_cast<int64_t>(calls.size()) == filter.limit)
                next = std::to_string(calls.back().id);
            sendJson(res, 200, {{"calls", list}, {"next_cursor", next}});
        });

    router.add(
        "POST", "/v1/calls/{id}/events",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams& p,
               RequestContext& rc) {
            JsonBody body(req.get_header_value("Content-Type"), req.body);
            db::StatusEvent ev;
            ev.call = callRef(rc, p[0]);
            rc.call = ev.call.id;
            const auto status = body.requiredText("status", 32);
            const auto state = db::parseCallState(status);
            if (!state || *state == db::CallState::reserved || *state == db::CallState::timed_out) {
                throw ApiError::badRequest(
                    "status must be one of initiated, ringing, in_progress, completed, busy, "
                    "failed, "
                    "no_answer, canceled");
            }
            ev.status = *state;
            ev.sequence = body.integer("sequence", 0);
            ev.occurredAtMs = occurredAt(body);
            ev.eventId = body.text("event_id", 200);
            ev.expectedVersion = body.integer("expected_version", 1);
            ev.source = "api";
            const auto r = onCall([&] { return ctx.lifecycle.applyStatus(ev, ctx.deadline()); });
            sendJson(res, 200, eventResponse(r));
        });

    router.add("POST", "/v1/calls/{id}/heartbeat",
               [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams& p,
                      RequestContext& rc) {
                   JsonBody body(req.get_header_value("Content-Type"), req.body, true);
                   const auto ref = callRef(rc, p[0]);
                   rc.call = ref.id;
                   const auto r =
                       onCall([&] { return ctx.lifecycle.heartbeat(ref, "api", ctx.deadline()); });
                   sendJson(res, 200, eventResponse(r));
               });

    router.add("POST", "/v1/calls/{id}/end",
               [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams& p,
                      RequestContext& rc) {
                   JsonBody body(req.get_header_value("Content-Type"), req.body, true);
                   db::EndRequest end;
                   end.call = callRef(rc, p[0]);
                   rc.call = end.call.id;
                   end.reason = body.text("reason", 200);
                   end.expectedVersion = body.integer("expected_version", 1);
                   end.source = "api";
                   const auto r = onCall([&] { return ctx.lifecycle.end(end, ctx.deadline()); });
                   sendJson(res, 200, eventResponse(r));
               });
}

}  // namespace calltrack::api
