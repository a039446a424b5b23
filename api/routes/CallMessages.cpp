#include "api/routes/CallMessages.h"

#include "api/json/ResourceJson.h"
#include "db/IsoTime.h"

#include <charconv>

namespace calltrack::api {

namespace {

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

bool maySeeClient(const RequestContext& rc, const std::string& clientId) {
    return rc.principal.isAdmin() ||
           (rc.principal.kind == Principal::Kind::client && rc.principal.clientId == clientId);
}

}  // namespace

db::AdmitRequest CallMessages::admitRequest(const JsonBody& body, const RequestContext& rc,
                                            JsonBody::Fields more) {
    body.allowOnly({"client_id", "external_id", "provider", "metadata"}, more);
    db::AdmitRequest admit;
    admit.clientId = body.requiredText("client_id", 64);
    admit.externalId = body.text("external_id", 128);
    admit.provider = body.text("provider", 32).value_or("api");
    admit.metadataJson = body.rawJson("metadata");
    if (admit.metadataJson && admit.metadataJson->size() > 16 * 1024) {
        throw ApiError::badRequest("metadata must be at most 16 KiB of JSON");
    }
    admit.source = "api";
    if (!maySeeClient(rc, admit.clientId))
        throw ApiError::notFound("unknown_client", "no client " + admit.clientId);
    return admit;
}

db::StatusEvent CallMessages::statusEvent(const JsonBody& body, db::CallRef call,
                                          JsonBody::Fields more) {
    body.allowOnly({"status", "sequence", "occurred_at", "event_id", "expected_version"}, more);
    db::StatusEvent ev;
    ev.call = std::move(call);
    const auto status = body.requiredText("status", 32);
    // A dialer may forward its provider's spelling (Twilio's in-progress,
    // no-answer, queued) as it came.
    auto state = db::parseCallState(status);
    if (!state) state = db::parseTwilioStatus(status);
    if (!state || *state == db::CallState::reserved || *state == db::CallState::timed_out) {
        throw ApiError::badRequest(
            "status must be one of initiated, ringing, in_progress, completed, busy, failed, "
            "no_answer, canceled (or Twilio's queued, in-progress, no-answer)");
    }
    ev.status = *state;
    ev.sequence = body.integer("sequence", 0);
    ev.occurredAtMs = occurredAt(body);
    ev.eventId = body.text("event_id", 200);
    ev.expectedVersion = body.integer("expected_version", 1);
    ev.source = "api";
    return ev;
}

db::EndRequest CallMessages::endRequest(const JsonBody& body, db::CallRef call,
                                        JsonBody::Fields more) {
    body.allowOnly({"reason", "expected_version"}, more);
    db::EndRequest end;
    end.call = std::move(call);
    end.reason = body.text("reason", 200);
    end.expectedVersion = body.integer("expected_version", 1);
    end.source = "api";
    return end;
}

db::CallRef CallMessages::callRef(const RequestContext& rc, const std::string& idText) {
    int64_t id = 0;
    auto [ptr, ec] = std::from_chars(idText.data(), idText.data() + idText.size(), id);
    if (ec != std::errc() || ptr != idText.data() + idText.size() || id <= 0) {
        throw ApiError::notFound("call_not_found", "no call " + idText);
    }
    db::CallRef ref = db::CallRef::byId(id);
    if (!rc.principal.isAdmin()) ref.clientId = rc.principal.clientId;
    return ref;
}

db::CallRef CallMessages::externalRef(const RequestContext& rc, const std::string& clientId,
                                      const std::string& externalId) {
    if (!maySeeClient(rc, clientId) || clientId.empty() || externalId.empty() ||
        externalId.size() > 128) {
        throw ApiError::notFound("call_not_found", "no call " + externalId.substr(0, 128) +
                                                       " for client " + clientId.substr(0, 64));
    }
    return db::CallRef::byExternal(clientId, externalId);
}

int CallMessages::admittedStatus(const db::AdmitResult& r) {
    return r.outcome == db::AdmitResult::Outcome::admitted ? 201 : 200;
}

namespace {
void writeUsage(JsonWriter& out, const db::Usage& u) {
    out.beginObject().key("active").value(u.active).key("max_concurrent").value(u.limit);
    out.endObject();
}
}  // namespace

std::string CallMessages::admittedBody(const db::AdmitResult& r) {
    // Keys in byte order; "usage" is ResourceJson::usage() of each scope.
    std::string text;
    text.reserve(768);
    JsonWriter out(text);
    out.beginObject().key("call");
    ResourceJson::writeCall(out, *r.call);
    out.key("outcome").value(r.outcome == db::AdmitResult::Outcome::admitted ? "admitted"
                                                                             : "existing");
    out.key("usage").beginObject().key("client");
    writeUsage(out, r.client);
    out.key("global");
    writeUsage(out, r.global);
    out.endObject().endObject();
    return text;
}

ApiError CallMessages::refusal(const db::AdmitResult& r, const std::string& clientId) {
    if (r.refusal == db::Refusal::unknown_client)
        return ApiError::notFound("unknown_client", "no client " + clientId);
    if (r.refusal == db::Refusal::bot_unavailable) {
        ApiError e(429, db::nameOf(r.refusal),
                   "call refused: bot_unavailable (client " + clientId +
                       " needs a warm bot with free capacity and none has room now)");
        // The engine's hint is the typical warm-up time of the client's bots.
        e.retryAfterMs = r.retryAfterMs.value_or(kRetryAfterMs);
        return e;
    }
    ApiError e(429, db::nameOf(r.refusal),
               std::string("call refused: ") + db::nameOf(r.refusal) + " (client " +
                   std::to_string(r.client.active) + "/" + std::to_string(r.client.limit) +
                   ", global " + std::to_string(r.global.active) + "/" +
                   std::to_string(r.global.limit) + ")");
    e.retryAfterMs = r.retryAfterMs.value_or(kRetryAfterMs);
    return e;
}

ApiError CallMessages::alreadyEnded(const db::AdmitResult& r) {
    ApiError e(409, "call_already_ended",
               "call " + r.call->externalId + " already ended as " + db::nameOf(r.call->state) +
                   " (" + r.call->endReason.value_or("ended") + "): do not dial it");
    e.extra["call"] = ResourceJson::call(*r.call);
    return e;
}

std::string CallMessages::eventBody(const db::EventResult& r) {
    std::string text;
    text.reserve(768);
    JsonWriter out(text);
    out.beginObject().key("call");
    if (r.call) {
        ResourceJson::writeCall(out, *r.call);
    } else {
        out.value(nullptr);
    }
    if (!r.detail.empty()) out.key("detail").value(r.detail);
    out.key("outcome").value(db::nameOf(r.outcome));
    out.endObject();
    return text;
}

std::optional<ApiError> CallMessages::unavailable(const db::EngineError& e) {
    using db::ErrorCode;
    const char* reason = nullptr;
    switch (e.code()) {
        case ErrorCode::busy:
        case ErrorCode::deadline_exceeded:
            reason = "locked";
            break;
        case ErrorCode::storage_failure:
            reason = "storage_failure";
            break;
        case ErrorCode::database_unavailable:
            reason = "breaker_open";
            break;
        default:
            return std::nullopt;
    }
    ApiError out(503, "database_unavailable",
                 std::string("the database could not take the admission in time; nothing was "
                             "written; retry: ") +
                     e.what());
    out.retryAfterMs = 1000;
    out.extra["reason"] = reason;
    return out;
}

nlohmann::json CallMessages::spooledBody(const db::IntakeOutcome& o) {
    return {{"outcome", "spooled"},
            {"call", nullptr},
            {"spool_key", o.spoolKey},
            {"detail", "the database could not take the event in time (" + o.why +
                           "); it is stored durably and will be applied in arrival order"}};
}

}  // namespace calltrack::api
