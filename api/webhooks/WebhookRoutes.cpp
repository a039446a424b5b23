// Provider webhooks. They authenticate by signature (not by bearer token),
// are applied through the same lifecycle as API events, and answer 200 for
// anything verified (also unknown calls), so that providers stop retrying;
// 202 "spooled" when the database could not take it in time (EventIntake):
// Twilio does not retry a 5xx status callback, so a 503 would lose it.
// A bad signature or unknown account answers 403 and is counted in memory
// (WebhookRejections), never written: nothing unauthenticated reaches the
// database.

#include "api/http/ApiError.h"
#include "api/json/JsonBody.h"
#include "api/json/ResourceJson.h"
#include "api/routes/CallMessages.h"
#include "api/routes/IntakeReply.h"
#include "api/routes/Routes.h"
#include "api/webhooks/FormBody.h"
#include "api/webhooks/StandardWebhookSignature.h"
#include "api/webhooks/TwilioRequest.h"
#include "db/IsoTime.h"
#include "db/TextRules.h"
#include "db/tenants/WebhookCredentials.h"

#include <charconv>
#include <ctime>

namespace calltrack::api {

namespace {

bool isSid(const std::string& text) {
    try {
        db::TextRules::requireIdentifier(text, "sid");
        return true;
    } catch (const db::EngineError&) {
        return false;
    }
}

// ?call_id= of a status callback URL: calltrack's call id, given by the
// dialer when it created the call.
std::optional<int64_t> parseCallId(const std::string* text) {
    if (!text) return std::nullopt;
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || ptr != text->data() + text->size() || value < 1)
        throw ApiError::badRequest("call_id must be a calltrack call id (a positive integer)");
    return value;
}

std::optional<int64_t> parseInteger(const std::string* text) {
    if (!text) return std::nullopt;
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || ptr != text->data() + text->size() || value < 0) {
        throw ApiError::badRequest("SequenceNumber must be a non-negative integer");
    }
    return value;
}

// Twilio's Timestamp: RFC 2822, e.g. "Tue, 21 Nov 2026 15:04:05 +0000".
std::optional<int64_t> parseRfc2822(const std::string* text) {
    if (!text) return std::nullopt;
    std::tm tm{};
    const char* end = strptime(text->c_str(), "%a, %d %b %Y %H:%M:%S %z", &tm);
    if (!end || *end != '\0')
        return std::nullopt;  // an odd timestamp is not worth refusing the event
    return (static_cast<int64_t>(timegm(&tm)) - tm.tm_gmtoff) * 1000;
}

void sendOutcome(httplib::Response& res, const db::EventResult& r) {
    sendJsonText(res, 200, CallMessages::eventBody(r));
}

// Counted and (rate-limited) logged, never written: the sender is not
// authenticated.
void countRejection(ApiContext& ctx, const std::string& source, const std::string& reason,
                    const std::optional<std::string>& callSid) {
    if (auto unlogged = ctx.webhookRejections.count(source, reason)) {
        nlohmann::json fields = {{"source", source}, {"reason", reason}, {"count", *unlogged}};
        if (callSid) fields["call_sid"] = *callSid;
        ctx.log.warn("webhook rejected before authentication (at most one line a second)",
                     std::move(fields));
    }
}

}  // namespace

void addWebhookRoutes(Router& router, ApiContext& ctx) {
    router.add(
        "POST", "/v1/webhooks/twilio",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams&,
               RequestContext& rc) {
            const TwilioRequest twilio(ctx, req);
            const std::string* accountSid = twilio.field("AccountSid");
            const std::string* callSid = twilio.field("CallSid");
            // Only a well-formed CallSid is ever stored or logged.
            const auto safeCallSid =
                callSid && isSid(*callSid) ? std::optional(*callSid) : std::nullopt;
            if (safeCallSid) rc.log["call_sid"] = *safeCallSid;

            auto account = accountSid && isSid(*accountSid)
                               ? ctx.database.readers().read([&](db::Connection& c) {
                                     return db::WebhookCredentials::twilioAccount(c, *accountSid);
                                 })
                               : std::nullopt;
            if (!account) {
                rc.log["outcome"] = "rejected: unknown AccountSid";
                countRejection(ctx, "twilio", "unknown_account", safeCallSid);
                throw ApiError::invalidSignature("no client is registered for this AccountSid");
            }
            if (account->clientIds.size() == 1) rc.client = account->clientIds.front();
            if (!twilio.signedWith(account->authToken)) {
                rc.log["outcome"] = "rejected: bad signature";
                countRejection(ctx, "twilio", "bad_signature", safeCallSid);
                throw ApiError::invalidSignature(
                    "X-Twilio-Signature does not match (check the auth token and --public-url)");
            }
            db::TwilioEvent ev;
            ev.accountSid = *accountSid;
            ev.callSid = twilio.requiredSid("CallSid");
            const std::string* callStatus = twilio.field("CallStatus");
            if (!callStatus) throw ApiError::badRequest("CallStatus is required");
            const auto state = db::parseTwilioStatus(*callStatus);
            if (!state)
                throw ApiError::badRequest("unknown CallStatus " + callStatus->substr(0, 32));
            ev.status = *state;
            ev.callId = parseCallId(twilio.query("call_id"));
            ev.sequence = parseInteger(twilio.field("SequenceNumber"));
            ev.occurredAtMs = parseRfc2822(twilio.field("Timestamp"));
            // Twilio's retries of one request share this token.
            if (auto token = req.get_header_value("I-Twilio-Idempotency-Token"); !token.empty()) {
                ev.eventId = "twilio:" + token.substr(0, 200);
                rc.log["event_id"] = *ev.eventId;
            }
            const auto o =
                intakeOrRefuse(ctx, [&] { return ctx.intake.twilio(ev, ctx.deadline()); });
            if (o.spooled) return sendSpooled(ctx, res, rc, o);
            const auto& r = *o.result;
            if (r.call) {
                rc.client = r.call->clientId;
                rc.call = r.call->id;
            }
            rc.log["outcome"] = db::nameOf(r.outcome);
            if (!r.detail.empty()) rc.log["detail"] = r.detail;
            if (r.outcome == db::EventOutcome::refused) {
                // Recorded with why; the call (if any) is untouched.
                if (!r.call) throw ApiError::notFound("call_not_found", r.detail);
                ApiError e(409, "provider_call_id_conflict", r.detail);
                e.extra["call"] = ResourceJson::call(*r.call);
                throw e;
            }
            sendOutcome(res, r);
        });

    router.add(
        "POST", "/v1/webhooks/generic",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams&,
               RequestContext& rc) {
            // The body is parsed before it is verified only to learn whose
            // secret to verify it with; nothing is acted on before.
            JsonBody body(req.get_header_value("Content-Type"), req.body);
            const std::string clientId = body.requiredText("client_id", 64);
            rc.client = clientId;
            auto secret = ctx.database.readers().read([&](db::Connection& c) {
                return db::WebhookCredentials::webhookSecret(c, clientId);
            });
            // The header struct holds views: keep the strings alive.
            const std::string id = req.get_header_value("webhook-id");
            const std::string timestamp = req.get_header_value("webhook-timestamp");
            const std::string signature = req.get_header_value("webhook-signature");
            const StandardWebhookHeaders headers{id, timestamp, signature};
            const auto verdict = secret ? StandardWebhookSignature::verify(
                                              *secret, headers, req.body, ctx.clock.nowMs() / 1000)
                                        : StandardWebhookVerdict::no_matching_signature;
            if (verdict != StandardWebhookVerdict::ok) {
                rc.log["outcome"] = "rejected: bad signature";
                const auto reason =
                    secret ? std::string(nameOf(verdict)) : "client has no webhook_secret";
                countRejection(
                    ctx, "generic",
                    std::string(secret ? nameOf(verdict) : std::string_view("no_secret")),
                    std::nullopt);
                throw ApiError::invalidSignature("webhook signature rejected: " + reason);
            }
            body.allowOnly({"client_id", "external_id", "status", "sequence", "occurred_at"});
            db::StatusEvent ev;
            ev.call = db::CallRef::byExternal(clientId, body.requiredText("external_id", 128));
            const auto status = body.requiredText("status", 32);
            auto state = db::parseCallState(status);
            if (!state) state = db::parseTwilioStatus(status);  // a relayed provider spelling
            if (!state || *state == db::CallState::reserved || *state == db::CallState::timed_out) {
                throw ApiError::badRequest("unknown status " + status);
            }
            ev.status = *state;
            ev.sequence = body.integer("sequence", 0);
            if (auto at = body.text("occurred_at", 64)) {
                ev.occurredAtMs = db::parseIsoTime(*at);
                if (!ev.occurredAtMs)
                    throw ApiError::badRequest("occurred_at must be ISO-8601 UTC");
            }
            ev.eventId = "generic:" + id.substr(0, 200);
            ev.source = "generic";
            rc.log["event_id"] = *ev.eventId;
            const auto o =
                intakeOrRefuse(ctx, [&] { return ctx.intake.status(ev, ctx.deadline()); });
            if (o.spooled) return sendSpooled(ctx, res, rc, o);
            const auto& r = *o.result;
            if (r.call) rc.call = r.call->id;
            rc.log["outcome"] = db::nameOf(r.outcome);
            if (!r.detail.empty()) rc.log["detail"] = r.detail;
            sendOutcome(res, r);
        });
}

}  // namespace calltrack::api
