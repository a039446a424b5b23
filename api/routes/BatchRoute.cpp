// POST /v1/calls:batch: up to 1 000 admissions, status events and ends in
// one request. Every item is read and answered exactly like its single
// request (CallMessages); each succeeds or fails on its own; all valid items
// go to the writer together, so they share group commits (one fsync for
// many) instead of one commit each.

#include "api/http/ApiError.h"
#include "api/json/JsonBody.h"
#include "api/json/JsonWriter.h"
#include "api/routes/CallMessages.h"
#include "api/routes/Routes.h"

#include <variant>

namespace calltrack::api {

namespace {

constexpr size_t kMaxItems = 1000;

struct ItemReply {
    int status = 200;
    std::string body;  // JSON text
};

ItemReply errorReply(const ApiError& e, const std::string& requestId) {
    return {e.status, ApiError::body(e, requestId)
                          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

// An item's engine work, run inside the writer's transaction.
using ItemWork = std::function<ItemReply(db::Connection&)>;

ItemWork prepare(const nlohmann::json& item, const RequestContext& rc, const db::Clock& clock,
                 const db::AdmissionEngine& admission, const std::string& itemId) {
    if (!item.is_object()) throw ApiError::badRequest("each item must be an object");
    const JsonBody body("application/json", item.dump());
    const auto op = body.requiredText("op", 16);
    if (op == "admit") {
        auto request = CallMessages::admitRequest(body, rc, {"op"});
        db::AdmissionEngine::validate(request);
        return [request, itemId, &clock, &admission](db::Connection& c) -> ItemReply {
            const auto r = db::AdmissionEngine::admitIn(c, clock.nowMs(), request);
            // Wakes the bot scheduler; its planning pass is queued behind
            // this batch's commit, so it sees the refusal.
            if (r.botShortage) admission.reportBotShortage(request.clientId);
            // Returned, not thrown: a throw would roll the recorded refusal back.
            if (r.outcome == db::AdmitResult::Outcome::refused) {
                return errorReply(CallMessages::refusal(r, request.clientId), itemId);
            }
            if (r.outcome == db::AdmitResult::Outcome::already_ended)
                return errorReply(CallMessages::alreadyEnded(r), itemId);
            return {CallMessages::admittedStatus(r), CallMessages::admittedBody(r)};
        };
    }
    const auto callId = body.integer("call_id", 1);
    if (!callId) throw ApiError::badRequest("call_id is required");
    const auto ref = CallMessages::callRef(rc, std::to_string(*callId));
    if (op == "event") {
        auto ev = CallMessages::statusEvent(body, ref, {"op", "call_id"});
        return [ev, &clock](db::Connection& c) -> ItemReply {
            return {200, CallMessages::eventBody(
                             db::CallLifecycle::applyStatusIn(c, clock.nowMs(), ev))};
        };
    }
    if (op == "end") {
        auto end = CallMessages::endRequest(body, ref, {"op", "call_id"});
        return [end, &clock](db::Connection& c) -> ItemReply {
            return {200, CallMessages::eventBody(db::CallLifecycle::endIn(c, clock.nowMs(), end))};
        };
    }
    throw ApiError::badRequest("op must be admit, event or end");
}

ItemReply replyFor(std::exception_ptr error, const std::string& requestId) {
    try {
        std::rethrow_exception(error);
    } catch (const ApiError& e) {
        return errorReply(e, requestId);
    } catch (const db::EngineError& e) {
        if (auto refusal = CallMessages::unavailable(e)) return errorReply(*refusal, requestId);
        ApiError mapped = ApiError::fromEngine(e);
        if (e.code() == db::ErrorCode::not_found)
            mapped = ApiError::notFound("call_not_found", e.what());
        return errorReply(mapped, requestId);
    } catch (...) {
        return errorReply(ApiError(500, "internal", "internal error"), requestId);
    }
}

}  // namespace

void addBatchRoute(Router& router, ApiContext& ctx) {
    router.add(
        "POST", "/v1/calls:batch",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams&,
               RequestContext& rc) {
            JsonBody body(req.get_header_value("Content-Type"), req.body);
            body.allowOnly({"items"});
            const auto it = body.json().find("items");
            if (it == body.json().end() || !it->is_array()) {
                throw ApiError::badRequest("items must be an array");
            }
            if (it->size() > kMaxItems) {
                throw ApiError::badRequest("items: at most " + std::to_string(kMaxItems) +
                                           " per batch");
            }
            const size_t n = it->size();
            std::vector<ItemReply> replies(n);
            std::vector<size_t> queued;
            std::vector<ItemWork> work;
            for (size_t i = 0; i < n; ++i) {
                const std::string itemId = rc.requestId + "#" + std::to_string(i);
                try {
                    work.push_back(prepare((*it)[i], rc, ctx.clock, ctx.admission, itemId));
                    queued.push_back(i);
                } catch (...) {
                    replies[i] = replyFor(std::current_exception(), itemId);
                }
            }
            auto results = CallMessages::admitOrRefuse(ctx, [&] {
                return ctx.database.writer().runAll<ItemReply>(std::move(work), ctx.deadline());
            });
            for (size_t k = 0; k < queued.size(); ++k) {
                const size_t i = queued[k];
                replies[i] = results[k].first ? std::move(*results[k].first)
                                              : replyFor(results[k].second,
                                                         rc.requestId + "#" + std::to_string(i));
            }
            std::string text;
            JsonWriter out(text);
            out.beginObject().key("results").beginArray();
            for (const auto& r : replies) {
                out.beginObject().key("body").rawValue(r.body).key("status").value(r.status);
                out.endObject();
            }
            out.endArray().endObject();
            sendJsonText(res, 200, std::move(text));
        });
}

}  // namespace calltrack::api
