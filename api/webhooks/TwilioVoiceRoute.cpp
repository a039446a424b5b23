// POST /v1/webhooks/twilio/voice?client_id={id}: the inbound gate. A phone
// number's Voice URL points here; Twilio POSTs (signed) when a call arrives
// and waits at most 15 s for TwiML. The call is admitted for the client with
// external_id = provider_call_id = CallSid, then
//   admitted (or a retried delivery of an admitted call) ->
//       <Response><Redirect method="POST">{voice_url}</Redirect></Response>
//   any refusal (limits, disabled, already ended, database not answering
//   within the request deadline) -> <Response><Reject reason="busy"/></Response>
// The caller hears busy and nothing is billed. Later status callbacks go to
// /v1/webhooks/twilio and drive the call as for outbound calls.
//
// Unauthenticated requests (no Twilio account for the client, bad
// signature, another account) answer 403 and write nothing.

#include "api/http/ApiError.h"
#include "api/routes/Routes.h"
#include "api/webhooks/TwiML.h"
#include "api/webhooks/TwilioRequest.h"
#include "db/tenants/WebhookCredentials.h"

namespace calltrack::api {

namespace {

void sendTwiml(httplib::Response& res, const std::string& xml) {
    res.status = 200;
    res.set_content(xml, "text/xml");
}

}  // namespace

void addTwilioVoiceRoute(Router& router, ApiContext& ctx) {
    router.add(
        "POST", "/v1/webhooks/twilio/voice",
        [&ctx](const httplib::Request& req, httplib::Response& res, const RouteParams&,
               RequestContext& rc) {
            const TwilioRequest twilio(ctx, req);
            const std::string* clientId = twilio.query("client_id");
            if (!clientId || clientId->empty() || clientId->size() > 64)
                throw ApiError::badRequest("the Voice URL must carry ?client_id={client id}");
            auto gate = ctx.database.readers().read([&](db::Connection& c) {
                return db::WebhookCredentials::twilioGate(c, *clientId);
            });
            if (!gate) {
                rc.log["outcome"] = "rejected: client has no Twilio account";
                throw ApiError::invalidSignature("client " + *clientId +
                                                 " has no Twilio account registered");
            }
            const std::string* accountSid = twilio.field("AccountSid");
            if (!twilio.signedWith(gate->authToken) || !accountSid ||
                *accountSid != gate->accountSid) {
                rc.log["outcome"] = "rejected: bad signature";
                throw ApiError::invalidSignature(
                    "X-Twilio-Signature does not match this client's Twilio account (check the "
                    "auth token and --public-url)");
            }
            rc.client = *clientId;
            db::AdmitRequest admit;
            admit.clientId = *clientId;
            admit.externalId = twilio.requiredSid("CallSid");
            admit.providerCallId = admit.externalId;
            admit.provider = "twilio";
            admit.source = "twilio";
            rc.log["call_sid"] = *admit.externalId;

            const auto reject = [&](const std::string& why) {
                rc.log["outcome"] = "rejected";
                rc.log["detail"] = why;
                sendTwiml(res, TwiML::rejectBusy());
            };
            if (!gate->voiceUrl) {
                ctx.log.error("inbound call rejected: the client has no twilio.voice_url",
                              {{"call_sid", *admit.externalId}, {"client", *clientId}});
                return reject("client has no twilio.voice_url to send the call to");
            }
            db::AdmitResult r;
            try {
                r = ctx.admission.admit(admit, ctx.deadline());
            } catch (const db::EngineError& e) {
                // Any refusal is a busy tone: Twilio would play an application
                // error for anything but TwiML. A database that did not answer
                // within the deadline (well under Twilio's 15 s) is counted.
                using db::ErrorCode;
                const bool unavailable =
                    e.code() == ErrorCode::busy || e.code() == ErrorCode::deadline_exceeded ||
                    e.code() == ErrorCode::storage_failure || e.code() == ErrorCode::shutting_down;
                if (unavailable) ctx.counters.gateDatabaseRejects.fetch_add(1);
                ctx.log.warn(
                    unavailable ? "inbound call rejected: the database did not answer in time"
                                : "inbound call rejected",
                    {{"call_sid", *admit.externalId}, {"client", *clientId}, {"error", e.what()}});
                return reject((unavailable ? "database_unavailable: " : "") +
                              std::string(e.what()));
            } catch (const std::exception& e) {
                ctx.log.error(
                    "inbound call rejected: internal error",
                    {{"call_sid", *admit.externalId}, {"client", *clientId}, {"error", e.what()}});
                return reject("internal error");
            }
            if (r.call) rc.call = r.call->id;
            using Outcome = db::AdmitResult::Outcome;
            if (r.outcome == Outcome::refused) return reject(db::nameOf(r.refusal));
            if (r.outcome == Outcome::already_ended || !r.call->live())
                return reject("call_already_ended");
            rc.log["outcome"] = r.outcome == Outcome::admitted ? "admitted" : "existing";
            sendTwiml(res, TwiML::redirect(*gate->voiceUrl));
        });
}

}  // namespace calltrack::api
