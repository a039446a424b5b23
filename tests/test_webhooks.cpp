// Provider webhooks end to end: requests signed by the providers' own npm
// packages, sent to the real server, checked against the database.

#include "db/integrity/InvariantChecker.h"
#include "tests/ApiFixture.h"
#include "tests/NodeSigner.h"
#include "tests/TwilioSender.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

using namespace calltrack;
using nlohmann::json;
using test::ApiFixture;
using test::formEncode;
using test::NodeSigner;

namespace {

const std::string kPublicUrl = "https://calls.example.com";
const std::string kAccount = "AC00000000000000000000000000000001";
const std::string kToken = "twilio-auth-token-1";
const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// A Twilio status callback exactly as Twilio sends it.
json twilioParams(const std::string& callSid, const std::string& status, int sequence) {
    return {{"AccountSid", kAccount},
            {"CallSid", callSid},
            {"CallStatus", status},
            {"ApiVersion", "2010-04-01"},
            {"Direction", "outbound-api"},
            {"From", "+14155550100"},
            {"To", "+14155550199"},
            {"SequenceNumber", std::to_string(sequence)},
            {"Timestamp", "Sun, 22 Nov 2026 12:00:0" + std::to_string(sequence % 10) + " +0000"},
            {"CallbackSource", "call-progress-events"}};
}

struct TwilioRequest {
    json params;
    std::string signature;
    std::string idempotencyToken;
};

std::vector<TwilioRequest> signTwilio(std::vector<json> paramsList,
                                      const std::string& token = kToken) {
    json batch = json::array();
    for (const auto& p : paramsList)
        batch.push_back({{"kind", "twilio"},
                         {"authToken", token},
                         {"url", kPublicUrl + "/v1/webhooks/twilio"},
                         {"params", p}});
    const auto sigs = NodeSigner::sign(batch);
    std::vector<TwilioRequest> out;
    for (size_t i = 0; i < paramsList.size(); ++i) {
        out.push_back({paramsList[i], sigs[i],
                       "idem-" + paramsList[i]["CallSid"].get<std::string>() + "-" +
                           paramsList[i]["SequenceNumber"].get<std::string>()});
    }
    return out;
}

httplib::Result postTwilio(httplib::Client& client, const TwilioRequest& r) {
    httplib::Headers headers{{"X-Twilio-Signature", r.signature},
                             {"I-Twilio-Idempotency-Token", r.idempotencyToken}};
    return client.Post("/v1/webhooks/twilio", headers, formEncode(r.params),
                       "application/x-www-form-urlencoded");
}

// 32 workers: cpp-httplib keeps a worker per open keep-alive connection, and
// the 16 senders plus the fixture's own client must all be served at once.
struct WebhookFixture : ApiFixture {
    WebhookFixture() : ApiFixture(std::string("admin-token"), kPublicUrl, 32) {
        auto [status, body] = call("PUT", "/v1/clients/acme",
                                   {{"max_concurrent", 500},
                                    {"twilio", {{"account_sid", kAccount}, {"auth_token", kToken}}},
                                    {"webhook_secret", kSecret}});
        REQUIRE(status == 201);
        // Secrets are never returned.
        CHECK(body["client"]["twilio"]["account_sid"] == kAccount);
        CHECK(body["client"]["twilio"]["auth_token_set"] == true);
        CHECK(body.dump().find(kToken) == std::string::npos);
        CHECK(body.dump().find(kSecret) == std::string::npos);
        call("PUT", "/v1/limits/global", {{"max_concurrent", 1000}});
    }
    int64_t scalar(const std::string& sql) {
        return t.database->readers().read([&](db::Connection& c) {
            SQLite::Statement s(c.handle(), sql);
            s.executeStep();
            return s.getColumn(0).getInt64();
        });
    }
};

}  // namespace

TEST_CASE("Twilio status callbacks drive a call to its end, once, in order") {
    WebhookFixture f;
    auto [s, admitted] =
        f.call("POST", "/v1/calls", {{"client_id", "acme"}, {"external_id", "CA0001"}});
    REQUIRE(s == 201);
    auto reqs = signTwilio(
        {twilioParams("CA0001", "initiated", 0), twilioParams("CA0001", "ringing", 1),
         twilioParams("CA0001", "in-progress", 2), twilioParams("CA0001", "completed", 3)});
    // Out of order: completed first, then the rest arrive late.
    auto res = postTwilio(*f.client, reqs[3]);
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(json::parse(res->body)["outcome"] == "applied");
    CHECK(json::parse(res->body)["call"]["state"] == "completed");
    for (int i : {0, 1, 2}) {
        auto late = postTwilio(*f.client, reqs[i]);
        REQUIRE(late);
        CHECK(late->status == 200);
        CHECK(json::parse(late->body)["outcome"] == "after_end");
    }
    auto dup = postTwilio(*f.client, reqs[3]);
    CHECK(json::parse(dup->body)["outcome"] == "duplicate");
    CHECK(f.scalar("SELECT active FROM clients WHERE id = 'acme'") == 0);
    CHECK(f.scalar("SELECT count(*) FROM call_events WHERE source = 'twilio'") == 5);
}

TEST_CASE("Twilio: a bad signature is refused and counted, and writes nothing (issue 9 §2)") {
    WebhookFixture f;
    const int64_t pages = f.scalar("PRAGMA page_count");
    auto reqs = signTwilio({twilioParams("CA0002", "ringing", 1)}, "not-the-token");
    auto res = postTwilio(*f.client, reqs[0]);
    REQUIRE(res);
    CHECK(res->status == 403);
    test::checkErrorShape(json::parse(res->body), "invalid_signature");
    // Before: every rejected delivery was a write transaction appending a
    // permanent call_events row holding the sender's CallSid as sent.
    CHECK(f.scalar("SELECT count(*) FROM call_events") == 0);
    // 100 junk deliveries, 4 KB CallSids among them: the database does not
    // grow. (Form bodies over 8 KiB are cpp-httplib's 413 before any handler.)
    for (int i = 0; i < 100; ++i) {
        auto junk = twilioParams(i % 2 ? std::string(4096, 'C') : "CA0002", "ringing", i);
        if (i % 3 == 0) junk["AccountSid"] = "AC" + std::to_string(i);
        httplib::Headers h{{"X-Twilio-Signature", "bm9wZQ=="}};
        auto r = f.client->Post("/v1/webhooks/twilio", h, formEncode(junk),
                                "application/x-www-form-urlencoded");
        REQUIRE(r);
        CHECK(r->status == 403);
    }
    CHECK(f.scalar("SELECT count(*) FROM call_events") == 0);
    // page_count on a read snapshot counts WAL frames too.
    CHECK(f.scalar("PRAGMA page_count") == pages);
    auto [us, usage] = f.call("GET", "/v1/usage");
    CHECK(usage["webhook_rejections"]["twilio"]["bad_signature"] == 67);
    CHECK(usage["webhook_rejections"]["twilio"]["unknown_account"] == 34);

    // Signed for another URL (no --public-url match) is refused too.
    json batch = json::array({{{"kind", "twilio"},
                               {"authToken", kToken},
                               {"url", "http://elsewhere.example.com/v1/webhooks/twilio"},
                               {"params", twilioParams("CA0002", "ringing", 1)}}});
    TwilioRequest wrongUrl{twilioParams("CA0002", "ringing", 1), NodeSigner::sign(batch)[0], "x"};
    CHECK(postTwilio(*f.client, wrongUrl)->status == 403);

    // An account no client has.
    auto params = twilioParams("CA0002", "ringing", 1);
    params["AccountSid"] = "AC99999999999999999999999999999999";
    auto unknown = signTwilio({params});
    CHECK(postTwilio(*f.client, unknown[0])->status == 403);

    // Form bodies only.
    auto json415 = f.client->Post("/v1/webhooks/twilio", "{}", "application/json");
    CHECK(json415->status == 415);
}

TEST_CASE(
    "Twilio: a terminal event before the admission: the admission is 409 call_already_ended") {
    WebhookFixture f;
    auto reqs = signTwilio({twilioParams("CA0003", "busy", 2)});
    auto res = postTwilio(*f.client, reqs[0]);
    REQUIRE(res);
    CHECK(res->status == 200);  // so that Twilio stops retrying
    CHECK(json::parse(res->body)["outcome"] == "unknown_call");
    // Issue 8 §4: never 201 for a call that is over (a dialer checking the
    // status would dial a dead call); the ended call is in the body.
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto [s, ended] =
            f.call("POST", "/v1/calls", {{"client_id", "acme"}, {"external_id", "CA0003"}});
        CHECK(s == 409);
        test::checkErrorShape(ended, "call_already_ended");
        CHECK(ended["call"]["state"] == "busy");
        CHECK(ended["call"]["live"] == false);
        CHECK(ended["call"]["holds_slot"] == false);
    }
    CHECK(f.scalar("SELECT active FROM clients WHERE id = 'acme'") == 0);
    CHECK(f.scalar("SELECT count(*) FROM calls WHERE external_id = 'CA0003'") == 1);
    CHECK(f.scalar("SELECT count(*) FROM pending_events") == 0);
}

TEST_CASE("Standard Webhooks: signed JSON events, tolerance, tampering") {
    WebhookFixture f;
    f.call("POST", "/v1/calls", {{"client_id", "acme"}, {"external_id", "ext-1"}});
    const int64_t now = f.t.clock.nowMs() / 1000;
    const std::string body =
        json{{"client_id", "acme"}, {"external_id", "ext-1"}, {"status", "ringing"}}.dump();
    const std::string late =
        json{{"client_id", "acme"}, {"external_id", "ext-1"}, {"status", "completed"}}.dump();
    auto sigs = NodeSigner::sign(json::array({{{"kind", "standard"},
                                               {"secret", kSecret},
                                               {"id", "msg_1"},
                                               {"timestamp", now},
                                               {"body", body}},
                                              {{"kind", "standard"},
                                               {"secret", kSecret},
                                               {"id", "msg_2"},
                                               {"timestamp", now - 400},
                                               {"body", late}}}));
    auto post = [&](const std::string& id, int64_t ts, const std::string& sig,
                    const std::string& payload) {
        httplib::Headers h{{"webhook-id", id},
                           {"webhook-timestamp", std::to_string(ts)},
                           {"webhook-signature", sig}};
        return f.client->Post("/v1/webhooks/generic", h, payload, "application/json");
    };
    auto ok = post("msg_1", now, sigs[0], body);
    REQUIRE(ok);
    INFO(ok->body);
    CHECK(ok->status == 200);
    CHECK(json::parse(ok->body)["outcome"] == "applied");
    // The same webhook-id again: applied once.
    CHECK(json::parse(post("msg_1", now, sigs[0], body)->body)["outcome"] == "duplicate");
    // Tampered body.
    CHECK(post("msg_1", now, sigs[0], late)->status == 403);
    // Signed 400 s ago: outside the 5-minute tolerance.
    CHECK(post("msg_2", now - 400, sigs[1], late)->status == 403);
    auto [us, usage] = f.call("GET", "/v1/usage");
    int64_t rejectedGeneric = 0;
    for (const auto& [reason, n] : usage["webhook_rejections"]["generic"].items())
        rejectedGeneric += n.get<int64_t>();
    CHECK(rejectedGeneric == 2);
    CHECK(f.scalar("SELECT count(*) FROM call_events WHERE outcome = 'rejected'") == 0);
}

TEST_CASE("webhook storm: 200 calls, every event twice, shuffled, 16 senders") {
    WebhookFixture f;
    constexpr int kCalls = 200;
    const std::vector<std::string> statuses{"initiated", "ringing", "in-progress", "completed"};
    std::vector<json> params;
    for (int i = 0; i < kCalls; ++i) {
        char sid[40];
        std::snprintf(sid, sizeof sid, "CA%032d", i);
        auto [s, body] = f.call("POST", "/v1/calls", {{"client_id", "acme"}, {"external_id", sid}});
        REQUIRE(s == 201);
        for (int seq = 0; seq < 4; ++seq) params.push_back(twilioParams(sid, statuses[seq], seq));
    }
    auto signedReqs = signTwilio(params);
    std::vector<const TwilioRequest*> deliveries;
    for (const auto& r : signedReqs) {
        deliveries.push_back(&r);
        deliveries.push_back(&r);  // every event delivered twice
    }
    std::mt19937 rng(12345);
    std::shuffle(deliveries.begin(), deliveries.end(), rng);

    std::atomic<size_t> next{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> senders;
    for (int t = 0; t < 16; ++t) {
        senders.emplace_back([&] {
            httplib::Client client("127.0.0.1", f.server->port());
            client.set_keep_alive(true);
            for (size_t i; (i = next.fetch_add(1)) < deliveries.size();) {
                auto res = postTwilio(client, *deliveries[i]);
                if (!res || res->status != 200) {
                    if (failures++ == 0)
                        MESSAGE("first failure: " << (res ? res->body
                                                          : httplib::to_string(res.error())));
                }
            }
        });
    }
    for (auto& s : senders) s.join();
    CHECK(failures == 0);

    CHECK(f.scalar("SELECT count(*) FROM calls WHERE state = 'completed'") == kCalls);
    CHECK(f.scalar("SELECT active FROM clients WHERE id = 'acme'") == 0);
    CHECK(f.scalar("SELECT global_active FROM settings") == 0);
    // Each slot released exactly once: one applied terminal event per call.
    CHECK(f.scalar("SELECT count(*) FROM call_events WHERE outcome = 'applied' AND to_state = "
                   "'completed'") == kCalls);
    // The history has every delivery.
    CHECK(f.scalar("SELECT count(*) FROM call_events WHERE source = 'twilio'") ==
          static_cast<int64_t>(deliveries.size()));
    const auto report = f.t.database->readers().read(
        [&](db::Connection& c) { return db::InvariantChecker::run(c, f.t.clock.nowMs(), 5000); });
    CHECK(report.ok());
}
