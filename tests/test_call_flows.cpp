// Real provider call flows (issue 8) through the real HTTP server, with
// Twilio requests signed by the npm `twilio` package: an outbound dialer
// that learns the CallSid after dialing, one Twilio account shared by
// several clients, the inbound gate, events that beat their call, per-tenant
// event ids, provider spellings, heartbeats and strict bodies.

#include "db/integrity/InvariantChecker.h"
#include "tests/ApiFixture.h"
#include "tests/NodeSigner.h"
#include "tests/TestSupport.h"
#include "tests/TwilioSender.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>

using namespace calltrack;
using nlohmann::json;
using test::ApiFixture;
using test::checkErrorShape;
using test::postTwilio;
using test::signTwilioRequests;

namespace {

const std::string kPublicUrl = "https://calls.example.com";
const std::string kAccount = "AC0000000000000000000000000000flow";
const std::string kToken = "shared-account-token";

json callback(const std::string& callSid, const std::string& status, int sequence) {
    return {{"AccountSid", kAccount},
            {"CallSid", callSid},
            {"CallStatus", status},
            {"ApiVersion", "2010-04-01"},
            {"Direction", "outbound-api"},
            {"SequenceNumber", std::to_string(sequence)},
            {"CallbackSource", "call-progress-events"}};
}

struct FlowFixture : ApiFixture {
    FlowFixture() : ApiFixture(std::string("admin-token"), kPublicUrl, 8) {
        REQUIRE(call("PUT", "/v1/limits/global", {{"max_concurrent", 100}}).first == 200);
    }
    void addClient(const std::string& id, int limit, const std::string& account = kAccount,
                   const std::string& token = kToken) {
        auto [status, body] =
            call("PUT", "/v1/clients/" + id,
                 {{"max_concurrent", limit},
                  {"twilio",
                   {{"account_sid", account},
                    {"auth_token", token},
                    {"voice_url", "https://app.example.com/voice?tenant=" + id + "&x='<1>'"}}}});
        REQUIRE(status == 201);
    }
    int64_t scalar(const std::string& sql) { return test::scalar(t, sql); }
    std::string text(const std::string& sql) { return test::scalarText(t, sql); }
    json getCall(int64_t id) {
        return call("GET", "/v1/calls/" + std::to_string(id)).second["call"];
    }
    void checkInvariants() {
        const auto report = t.database->readers().read(
            [&](db::Connection& c) { return db::InvariantChecker::run(c, t.clock.nowMs(), 5000); });
        CHECK(report.ok());
    }
};

}  // namespace

TEST_CASE(
    "outbound: admit, dial, ?call_id= callbacks before and after the PATCH, shuffled and "
    "duplicated: one terminal event applied, the slot released once") {
    FlowFixture f;
    f.addClient("dialer", 2);
    // 1. Ask for a slot before dialing: no CallSid exists yet.
    auto [s, admitted] = f.call("POST", "/v1/calls", {{"client_id", "dialer"}});
    REQUIRE(s == 201);
    const int64_t id = admitted["call"]["id"];
    const std::string sid = "CA00000000000000000000000000000001";
    // 2. calls.create with StatusCallback=.../v1/webhooks/twilio?call_id={id}; the callbacks
    //    race the dialer's PATCH. Some arrive without call_id (a misconfigured number) and
    //    must be kept until the CallSid is bound.
    const std::string withId = "/v1/webhooks/twilio?call_id=" + std::to_string(id);
    const std::vector<std::string> statuses{"initiated", "ringing", "in-progress", "completed"};
    std::vector<std::pair<std::string, json>> requests;
    for (int seq = 0; seq < 4; ++seq)
        requests.push_back({withId, callback(sid, statuses[seq], seq)});
    for (int seq = 0; seq < 4; ++seq)
        requests.push_back({"/v1/webhooks/twilio", callback(sid, statuses[seq], seq)});
    const auto signedRequests = signTwilioRequests(kPublicUrl, kToken, requests);
    std::vector<const test::SignedTwilioRequest*> deliveries;
    for (size_t i = 0; i < signedRequests.size(); ++i) {
        deliveries.push_back(&signedRequests[i]);
        if (i < 4) deliveries.push_back(&signedRequests[i]);  // Twilio's retry
    }
    std::mt19937 rng(20261201);
    std::shuffle(deliveries.begin(), deliveries.end(), rng);

    std::map<std::string, int> outcomes;
    for (size_t i = 0; i < deliveries.size(); ++i) {
        if (i == deliveries.size() / 2) {
            // 3. calls.create answered: the dialer binds the CallSid.
            auto [ps, patched] =
                f.call("PATCH", "/v1/calls/" + std::to_string(id), {{"provider_call_id", sid}});
            CHECK(ps == 200);
            CHECK(patched["call"]["provider_call_id"] == sid);
        }
        auto res = postTwilio(*f.client, *deliveries[i]);
        REQUIRE(res);
        INFO(res->body);
        CHECK(res->status == 200);  // every verified delivery is answered 2xx
        ++outcomes[json::parse(res->body)["outcome"].get<std::string>()];
    }
    CHECK(outcomes["unknown_call"] + outcomes["applied"] + outcomes["duplicate"] +
              outcomes["out_of_order"] + outcomes["after_end"] ==
          static_cast<int>(deliveries.size()));
    const json call = f.getCall(id);
    CHECK(call["state"] == "completed");
    CHECK(call["provider_call_id"] == sid);
    CHECK(call["holds_slot"] == true);
    CHECK(f.scalar("SELECT count(*) FROM call_events WHERE call_id = " + std::to_string(id) +
                   " AND outcome = 'applied' AND to_state = 'completed'") == 1);
    CHECK(f.scalar("SELECT active FROM clients WHERE id = 'dialer'") == 0);
    CHECK(f.scalar("SELECT global_active FROM settings") == 0);
    CHECK(f.scalar("SELECT count(*) FROM pending_events") == 0);
    // The same id again is fine; another is a conflict; a late callback with another CallSid
    // for this call is refused, recorded, and changes nothing.
    CHECK(f.call("PATCH", "/v1/calls/" + std::to_string(id), {{"provider_call_id", sid}}).first ==
          200);
    auto [cs, conflict] = f.call("PATCH", "/v1/calls/" + std::to_string(id),
                                 {{"provider_call_id", "CA00000000000000000000000000000002"}});
    CHECK(cs == 409);
    checkErrorShape(conflict, "provider_call_id_conflict");
    const auto wrong = signTwilioRequests(
        kPublicUrl, kToken, {{withId, callback("CA00000000000000000000000000000003", "busy", 9)}});
    auto refused = postTwilio(*f.client, wrong[0]);
    REQUIRE(refused);
    CHECK(refused->status == 409);
    checkErrorShape(json::parse(refused->body), "provider_call_id_conflict");
    CHECK(f.scalar("SELECT count(*) FROM call_events WHERE call_id = " + std::to_string(id) +
                   " AND outcome = 'rejected'") == 1);
    CHECK(f.getCall(id)["state"] == "completed");
    // Found by either id.
    CHECK(f.call("GET", "/v1/calls?provider_call_id=" + sid).second["calls"][0]["id"] == id);
    const std::string ext = call["external_id"];
    CHECK(f.call("GET", "/v1/calls?client_id=dialer&external_id=" + ext).second["calls"][0]["id"] ==
          id);
    f.checkInvariants();
}

TEST_CASE("one Twilio account, two clients: each callback reaches its own call, never another") {
    FlowFixture f;
    f.addClient("tenant-a", 1);
    f.addClient("tenant-b", 1);  // the same account: refused (409) before issue 8
    f.addClient("elsewhere", 1, "AC0000000000000000000000000000othr", "other-token");
    auto admit = [&](const std::string& client, const std::string& ext) {
        auto [s, body] = f.call("POST", "/v1/calls", {{"client_id", client}, {"external_id", ext}});
        REQUIRE(s == 201);
        return body["call"]["id"].get<int64_t>();
    };
    const int64_t a = admit("tenant-a", "a-1");
    const int64_t b = admit("tenant-b", "b-1");
    const int64_t other = admit("elsewhere", "o-1");
    const std::string sidA = "CA000000000000000000000000000000aa";
    const std::string sidB = "CA000000000000000000000000000000bb";
    REQUIRE(f.call("PATCH", "/v1/clients/tenant-a/calls/a-1", {{"provider_call_id", sidA}}).first ==
            200);
    REQUIRE(f.call("PATCH", "/v1/calls/" + std::to_string(b), {{"provider_call_id", sidB}}).first ==
            200);
    const std::string sidX = "CA000000000000000000000000000000cc";
    const auto reqs = signTwilioRequests(
        kPublicUrl, kToken,
        {{"/v1/webhooks/twilio", callback(sidA, "completed", 3)},
         {"/v1/webhooks/twilio", callback(sidB, "in-progress", 2)},
         {"/v1/webhooks/twilio", callback(sidX, "ringing", 1)},
         // B's CallSid naming A's call: a contradiction, refused.
         {"/v1/webhooks/twilio?call_id=" + std::to_string(a), callback(sidB, "busy", 4)},
         // A call of a client on another account: not found, untouched.
         {"/v1/webhooks/twilio?call_id=" + std::to_string(other),
          callback("CA000000000000000000000000000000dd", "busy", 1)}});
    std::vector<int> status;
    std::vector<json> body;
    for (const auto& r : reqs) {
        auto res = postTwilio(*f.client, r);
        REQUIRE(res);
        status.push_back(res->status);
        body.push_back(json::parse(res->body));
    }
    CHECK(status[0] == 200);
    CHECK(body[0]["call"]["id"] == a);
    CHECK(body[0]["call"]["state"] == "completed");
    CHECK(status[1] == 200);
    CHECK(body[1]["call"]["id"] == b);
    CHECK(body[1]["call"]["state"] == "in_progress");
    CHECK(status[2] == 200);
    CHECK(body[2]["outcome"] == "unknown_call");  // kept for a later admission
    CHECK(status[3] == 409);
    CHECK(status[4] == 404);
    CHECK(f.getCall(a)["state"] == "completed");
    CHECK(f.getCall(b)["state"] == "in_progress");
    CHECK(f.getCall(other)["state"] == "reserved");
    // Attributed to the right tenant in the history.
    CHECK(f.text("SELECT client_id FROM call_events WHERE external_id = 'a-1' AND to_state = "
                 "'completed'") == "tenant-a");
    CHECK(f.scalar("SELECT count(*) FROM call_events WHERE client_id = 'elsewhere' AND source = "
                   "'twilio'") == 0);
    // The kept ringing for sidX belongs to whichever client of the account admits it: here
    // tenant-a (its slot is free again), with the CallSid as external id.
    auto [s, admittedX] =
        f.call("POST", "/v1/calls", {{"client_id", "tenant-a"}, {"external_id", sidX}});
    CHECK(s == 201);
    CHECK(admittedX["call"]["state"] == "ringing");
    CHECK(f.scalar("SELECT count(*) FROM pending_events") == 0);
    // The client on the other account cannot claim events of this one.
    f.checkInvariants();
}

TEST_CASE(
    "inbound gate: admitted -> Redirect, refused -> Reject busy, a retried delivery gets the "
    "same answer without a second slot, status callbacks drive the call") {
    FlowFixture f;
    f.addClient("pbx", 1);
    const std::string gate = "/v1/webhooks/twilio/voice?client_id=pbx";
    auto inbound = [](const std::string& sid) {
        return json{{"AccountSid", kAccount}, {"CallSid", sid},         {"CallStatus", "ringing"},
                    {"Direction", "inbound"}, {"From", "+14155550100"}, {"To", "+14155550199"}};
    };
    const std::string sid1 = "CA00000000000000000000000000000in1";
    const std::string sid2 = "CA00000000000000000000000000000in2";
    const std::string sid3 = "CA00000000000000000000000000000in3";
    const auto reqs = signTwilioRequests(kPublicUrl, kToken,
                                         {{gate, inbound(sid1)},
                                          {gate, inbound(sid2)},
                                          {"/v1/webhooks/twilio", callback(sid1, "in-progress", 2)},
                                          {"/v1/webhooks/twilio", callback(sid1, "completed", 3)},
                                          {gate, inbound(sid3)}});
    const std::string redirect =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Redirect "
        "method=\"POST\">https://app.example.com/voice?tenant=pbx&amp;x=&apos;&lt;1&gt;&apos;"
        "</Redirect></Response>";
    const std::string reject =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Reject reason=\"busy\"/></Response>";
    auto post = [&](size_t i) {
        auto res = postTwilio(*f.client, reqs[i]);
        REQUIRE(res);
        CHECK(res->status == 200);
        return *res;
    };
    auto first = post(0);
    CHECK(first.get_header_value("Content-Type") == "text/xml");
    CHECK(first.body == redirect);
    CHECK(post(0).body == redirect);  // Twilio's retry: same answer
    CHECK(f.scalar("SELECT count(*) FROM calls WHERE provider_call_id = '" + sid1 + "'") == 1);
    CHECK(f.scalar("SELECT active FROM clients WHERE id = 'pbx'") == 1);
    CHECK(post(1).body == reject);  // over the limit
    CHECK(post(1).body == reject);
    CHECK(f.scalar("SELECT count(*) FROM calls WHERE external_id = '" + sid2 + "'") == 0);
    // The call's status callbacks drive it like an outbound call.
    CHECK(json::parse(post(2).body)["call"]["state"] == "in_progress");
    CHECK(json::parse(post(3).body)["call"]["state"] == "completed");
    CHECK(f.scalar("SELECT active FROM clients WHERE id = 'pbx'") == 0);
    CHECK(post(0).body == reject);  // a late retry of an ended call: busy, no slot
    CHECK(post(4).body == redirect);

    // Unauthenticated: 403 and nothing written.
    const int64_t events = f.scalar("SELECT count(*) FROM call_events");
    auto forged = reqs[1];
    forged.signature = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    auto res = postTwilio(*f.client, forged);
    REQUIRE(res);
    CHECK(res->status == 403);
    const auto otherAccount =
        signTwilioRequests(kPublicUrl, "not-the-token", {{gate, inbound(sid2)}});
    CHECK(postTwilio(*f.client, otherAccount[0])->status == 403);
    CHECK(f.scalar("SELECT count(*) FROM call_events") == events);

    // Disabled client: busy.
    REQUIRE(f.call("PUT", "/v1/clients/pbx", {{"enabled", false}}).first == 200);
    const auto later = signTwilioRequests(kPublicUrl, kToken,
                                          {{gate, inbound("CA00000000000000000000000000000in4")}});
    CHECK(postTwilio(*f.client, later[0])->body == reject);
    f.checkInvariants();
}

TEST_CASE(
    "inbound gate: a database that cannot answer in time is Reject busy within the deadline, "
    "counted") {
    FlowFixture f;
    f.addClient("pbx", 5);
    f.ctx.requestDeadline = std::chrono::milliseconds(300);
    const std::string gate = "/v1/webhooks/twilio/voice?client_id=pbx";
    const auto reqs =
        signTwilioRequests(kPublicUrl, kToken,
                           {{gate, json{{"AccountSid", kAccount},
                                        {"CallSid", "CA0000000000000000000000000000lock"},
                                        {"CallStatus", "ringing"}}}});
    {
        // An operator's shell holding the write lock.
        SQLite::Database shell(f.t.options.path, SQLite::OPEN_READWRITE);
        // serve writes every second (history, alerts): wait for a gap, as an
        // operator retrying would
        shell.exec("PRAGMA busy_timeout = 5000");
        shell.exec("BEGIN IMMEDIATE");
        auto res = postTwilio(*f.client, reqs[0]);
        REQUIRE(res);
        CHECK(res->status == 200);
        CHECK(res->body.find("<Reject reason=\"busy\"/>") != std::string::npos);
        shell.exec("ROLLBACK");
    }
    auto [s, usage] = f.call("GET", "/v1/usage");
    CHECK(usage["inbound_gate"]["database_unavailable_rejects"] == 1);
    // Once the lock is gone the same call is admitted.
    CHECK(postTwilio(*f.client, reqs[0])->body.find("<Redirect") != std::string::npos);
}

TEST_CASE(
    "early ringing and in-progress before the CallSid is bound are applied when it is: the "
    "reaper does not end a call that is up") {
    FlowFixture f;
    f.addClient("dialer", 1);
    auto [s, admitted] =
        f.call("POST", "/v1/calls", {{"client_id", "dialer"}, {"external_id", "j"}});
    REQUIRE(s == 201);
    const int64_t id = admitted["call"]["id"];
    const std::string sid = "CA0000000000000000000000000000erly";
    const auto reqs = signTwilioRequests(kPublicUrl, kToken,
                                         {{"/v1/webhooks/twilio", callback(sid, "in-progress", 2)},
                                          {"/v1/webhooks/twilio", callback(sid, "ringing", 1)}});
    for (const auto& r : reqs) {
        auto res = postTwilio(*f.client, r);
        REQUIRE(res);
        CHECK(json::parse(res->body)["outcome"] == "unknown_call");
    }
    CHECK(f.scalar("SELECT count(*) FROM pending_events") == 2);
    f.t.clock.advanceMs(30'000);
    auto [ps, bound] =
        f.call("PATCH", "/v1/calls/" + std::to_string(id), {{"provider_call_id", sid}});
    CHECK(ps == 200);
    CHECK(bound["call"]["state"] == "in_progress");
    CHECK(bound["call"]["last_sequence"] == 2);
    CHECK(f.scalar("SELECT count(*) FROM pending_events") == 0);
    // Past the ring timeout (60 s): an answered call is not "never answered".
    f.t.clock.advanceMs(120'000);
    CHECK(f.t.lifecycle->reapExpired(100) == 0);
    CHECK(f.getCall(id)["live"] == true);
}

TEST_CASE(
    "JSON events: event ids per tenant, provider spellings, heartbeats only after the answer") {
    FlowFixture f;
    f.addClient("a", 3);
    f.addClient("b", 3);
    auto admit = [&](const std::string& client, const std::string& ext) {
        auto [s, body] = f.call("POST", "/v1/calls", {{"client_id", client}, {"external_id", ext}});
        REQUIRE(s == 201);
        return "/v1/calls/" + std::to_string(body["call"]["id"].get<int64_t>());
    };
    const std::string callA = admit("a", "x1");
    const std::string callB = admit("b", "x1");
    // Client a's evt-42 must not make client b's genuine evt-42 a duplicate.
    auto [sa, ea] =
        f.call("POST", callA + "/events", {{"status", "ringing"}, {"event_id", "evt-42"}});
    CHECK(ea["outcome"] == "applied");
    auto [sb, eb] =
        f.call("POST", callB + "/events", {{"status", "ringing"}, {"event_id", "evt-42"}});
    CHECK(eb["outcome"] == "applied");
    CHECK(eb["call"]["state"] == "ringing");
    auto [sd, dup] =
        f.call("POST", callB + "/events", {{"status", "in_progress"}, {"event_id", "evt-42"}});
    CHECK(dup["outcome"] == "duplicate");

    // Heartbeat on a ringing call: recorded, not extended.
    const std::string expiry = f.getCall(std::stoll(callA.substr(10)))["expires_at"];
    f.t.clock.advanceMs(10'000);
    auto [hs, hb] = f.call("POST", callA + "/heartbeat");
    CHECK(hs == 200);
    CHECK(hb["outcome"] == "not_extended");
    CHECK(hb["call"]["expires_at"] == expiry);

    // Twilio's spellings.
    auto [s1, inProgress] = f.call("POST", callA + "/events", {{"status", "in-progress"}});
    CHECK(inProgress["call"]["state"] == "in_progress");
    auto [s2, extended] = f.call("POST", callA + "/heartbeat");
    CHECK(extended["outcome"] == "applied");
    const std::string callC = admit("a", "x2");
    CHECK(f.call("POST", callC + "/events", {{"status", "queued"}}).second["call"]["state"] ==
          "initiated");
    CHECK(f.call("POST", callC + "/events", {{"status", "no-answer"}}).second["call"]["state"] ==
          "no_answer");
    auto [s3, bad] = f.call("POST", callC + "/events", {{"status", "in progress"}});
    CHECK(s3 == 400);
}

TEST_CASE("unknown fields are refused, named, on every endpoint with a body; nothing changes") {
    FlowFixture f;
    f.addClient("acme", 4);
    auto [s, admitted] = f.call("POST", "/v1/calls", {{"client_id", "acme"}, {"external_id", "k"}});
    REQUIRE(s == 201);
    const std::string call = "/v1/calls/" + std::to_string(admitted["call"]["id"].get<int64_t>());
    const std::vector<std::tuple<std::string, std::string, json>> cases = {
        {"PUT", "/v1/clients/acme", {{"max_concurent", 9}}},
        {"PUT",
         "/v1/clients/acme",
         {{"twilio", {{"account_sid", kAccount}, {"auth_token", kToken}, {"voiceurl", "x"}}}}},
        {"PUT", "/v1/clients/acme", {{"warm_pool", {{"min_ready", 1}}}}},
        {"PUT", "/v1/limits/global", {{"max_concurrent", 5}, {"bogus", 1}}},
        {"POST", "/v1/calls", {{"client_id", "acme"}, {"external_id", "new"}, {"bogus", 1}}},
        {"POST", "/v1/calls:batch", {{"items", json::array()}, {"bogus", 1}}},
        {"POST", call + "/events", {{"status", "ringing"}, {"bogus", 1}}},
        {"POST", call + "/end", {{"reason", "r"}, {"bogus", 1}}},
        {"POST", call + "/heartbeat", {{"bogus", 1}}},
        {"PATCH", call, {{"provider_call_id", "CA1"}, {"bogus", 1}}},
        {"PUT", "/v1/bots/bot-1", {{"warmup_url", "http://127.0.0.1:9/w"}, {"bogus", 1}}},
        {"POST",
         "/v1/clients/acme/schedule",
         {{"starts_at", "2030-01-01T00:00:00Z"},
          {"ends_at", "2030-01-01T01:00:00Z"},
          {"expected_concurrency", 2},
          {"bogus", 1}}},
    };
    for (const auto& [method, path, body] : cases) {
        CAPTURE(method);
        CAPTURE(path);
        httplib::Request req;
        req.method = method;
        req.path = path;
        req.body = body.dump();
        req.set_header("Content-Type", "application/json");
        auto res = f.client->send(req);
        REQUIRE(res);
        CHECK(res->status == 400);
        const json err = json::parse(res->body);
        checkErrorShape(err, "unknown_field");
        const std::string message = err["error"]["message"];
        CHECK((message.find("bogus") != std::string::npos ||
               message.find("max_concurent") != std::string::npos ||
               message.find("twilio.voiceurl") != std::string::npos ||
               message.find("warm_pool.min_ready") != std::string::npos));
    }
    // A batch item with an unknown field fails alone.
    auto [bs, batch] =
        f.call("POST", "/v1/calls:batch",
               {{"items", json::array({{{"op", "admit"}, {"client_id", "acme"}, {"bogus", 1}},
                                       {{"op", "admit"}, {"client_id", "acme"}}})}});
    CHECK(bs == 200);
    CHECK(batch["results"][0]["status"] == 400);
    checkErrorShape(batch["results"][0]["body"], "unknown_field");
    CHECK(batch["results"][1]["status"] == 201);
    // Nothing of the refused requests changed anything.
    const json client = f.call("GET", "/v1/clients/acme").second["client"];
    CHECK(client["max_concurrent"] == 4);
    CHECK(client["twilio"]["voice_url"] == "https://app.example.com/voice?tenant=acme&x='<1>'");
    CHECK(f.call("GET", "/v1/limits/global").second["global"]["max_concurrent"] == 100);
    CHECK(f.scalar("SELECT count(*) FROM calls") == 2);
    CHECK(f.scalar("SELECT count(*) FROM bots") == 0);
    CHECK(f.scalar("SELECT count(*) FROM demand_schedules") == 0);
    CHECK(f.getCall(admitted["call"]["id"])["state"] == "reserved");
}

TEST_CASE("every webhook delivery's log line names the CallSid, the call and the outcome") {
    FlowFixture f;
    f.addClient("dialer", 2);
    auto [s, admitted] =
        f.call("POST", "/v1/calls", {{"client_id", "dialer"}, {"external_id", "j"}});
    REQUIRE(s == 201);
    const int64_t id = admitted["call"]["id"];
    // A second server on the same database whose access log is captured.
    std::FILE* logFile = std::tmpfile();
    REQUIRE(logFile);
    api::JsonLog log(api::LogLevel::info, logFile);
    api::ApiContext ctx{*f.t.database,
                        *f.t.admission,
                        *f.t.lifecycle,
                        *f.t.clients,
                        f.bots,
                        f.schedules,
                        f.providerEvents,
                        *f.t.intake,
                        f.t.clock,
                        log,
                        std::chrono::milliseconds(2000),
                        kPublicUrl};
    api::HttpOptions options;
    options.port = 0;
    options.threads = 2;
    api::HttpServer server(ctx, options);
    server.start();
    httplib::Client client("127.0.0.1", server.port());
    const std::string sid = "CA0000000000000000000000000000logd";
    auto reqs = signTwilioRequests(
        kPublicUrl, kToken,
        {{"/v1/webhooks/twilio?call_id=" + std::to_string(id), callback(sid, "ringing", 1)},
         {"/v1/webhooks/twilio", callback("CA0000000000000000000000000000none", "ringing", 1)}});
    CHECK(postTwilio(client, reqs[0])->status == 200);
    CHECK(postTwilio(client, reqs[1])->status == 200);
    auto forged = reqs[0];
    forged.signature = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    CHECK(postTwilio(client, forged)->status == 403);
    server.stop();

    std::fflush(logFile);
    std::rewind(logFile);
    std::vector<json> lines;
    char buf[8192];
    while (std::fgets(buf, sizeof buf, logFile)) {
        auto line = json::parse(buf, nullptr, false);
        if (!line.is_discarded() && line.value("route", "") == "POST /v1/webhooks/twilio")
            lines.push_back(line);
    }
    std::fclose(logFile);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0]["call_sid"] == sid);
    CHECK(lines[0]["call"] == id);
    CHECK(lines[0]["client"] == "dialer");
    CHECK(lines[0]["outcome"] == "applied");
    CHECK(lines[0]["event_id"].is_string());
    CHECK(lines[1]["call_sid"] == "CA0000000000000000000000000000none");
    CHECK(lines[1]["outcome"] == "unknown_call");
    CHECK(lines[1]["detail"].get<std::string>().find("kept") != std::string::npos);
    CHECK(lines[2]["outcome"] == "rejected: bad signature");
    CHECK(lines[2]["status"] == 403);
}

TEST_CASE("events kept for a call that never comes are dropped after 24 h, not before") {
    FlowFixture f;
    f.addClient("dialer", 1);
    const auto reqs = signTwilioRequests(
        kPublicUrl, kToken,
        {{"/v1/webhooks/twilio", callback("CA0000000000000000000000000000gone", "ringing", 1)}});
    CHECK(json::parse(postTwilio(*f.client, reqs[0])->body)["outcome"] == "unknown_call");
    f.t.clock.advanceMs(db::ProviderCallEvents::kKeepPendingMs - 1);
    CHECK(f.providerEvents.purgeExpiredPending(100) == 0);
    f.t.clock.advanceMs(2);
    CHECK(f.providerEvents.purgeExpiredPending(100) == 1);
    CHECK(f.scalar("SELECT count(*) FROM pending_events") == 0);
    // The delivery itself stays in the history.
    CHECK(f.scalar("SELECT count(*) FROM call_events WHERE outcome = 'unknown_call'") == 1);
}

TEST_CASE(
    "review findings: a reused event id never blocks an admission; events by the bound "
    "CallSid find their call; a shared account's token is rotated only on purpose") {
    FlowFixture f;
    f.addClient("a", 3);
    f.addClient("b", 3);
    auto [s1, x] = f.call("POST", "/v1/calls", {{"client_id", "a"}, {"external_id", "X"}});
    REQUIRE(s1 == 201);
    const std::string callX = "/v1/calls/" + std::to_string(x["call"]["id"].get<int64_t>());
    CHECK(f.call("POST", callX + "/events", {{"status", "completed"}, {"event_id", "e1"}})
              .second["outcome"] == "applied");
    // The same id for a call not admitted yet: a duplicate, not kept (before
    // the fix it was kept, and its later insert with the same id failed the
    // admission of Y on the per-client unique index: 500 for 24 h).
    auto [s2, early] = f.call("POST", "/v1/clients/a/calls/Y/events",
                              {{"status", "completed"}, {"event_id", "e1"}});
    CHECK(s2 == 200);
    CHECK(early["outcome"] == "duplicate");
    db::StatusEvent ev;
    ev.call = db::CallRef::byExternal("a", "Y");
    ev.status = db::CallState::completed;
    ev.eventId = "e1";
    CHECK(f.t.lifecycle->applyStatus(ev).outcome == db::EventOutcome::duplicate);
    CHECK(f.scalar("SELECT count(*) FROM pending_events") == 0);
    // A kept terminal event whose id the client used before: the admission is
    // call_already_ended (recorded without the key), never a 500.
    ev.eventId = "e2";
    CHECK(f.t.lifecycle->applyStatus(ev).outcome == db::EventOutcome::unknown_call);
    f.t.database->writer().run([](db::Connection& c) {
        c.exec(
            "INSERT INTO call_events (at, client_id, kind, outcome, source, idempotency_key) "
            "VALUES (1, 'a', 'status', 'applied', 'api', 'e2')");
    });
    auto [s3, ended] = f.call("POST", "/v1/calls", {{"client_id", "a"}, {"external_id", "Y"}});
    CHECK(s3 == 409);
    checkErrorShape(ended, "call_already_ended");

    // Events naming the call by its bound CallSid within the client find it.
    auto [s4, z] = f.call("POST", "/v1/calls", {{"client_id", "a"}, {"external_id", "job-z"}});
    REQUIRE(s4 == 201);
    const int64_t zid = z["call"]["id"];
    REQUIRE(
        f.call("PATCH", "/v1/calls/" + std::to_string(zid), {{"provider_call_id", "CAz"}}).first ==
        200);
    db::StatusEvent bySid;
    bySid.call = db::CallRef::byExternal("a", "CAz");
    bySid.status = db::CallState::ringing;
    bySid.source = "generic";
    auto found = f.t.lifecycle->applyStatus(bySid);
    CHECK(found.outcome == db::EventOutcome::applied);
    CHECK(found.call->id == zid);
    bySid.call = db::CallRef::byExternal("b", "CAz");  // not b's call
    CHECK(f.t.lifecycle->applyStatus(bySid).outcome == db::EventOutcome::unknown_call);
    // So do heartbeats and ends over HTTP, by /v1/clients/{client}/calls/{CallSid}.
    CHECK(f.call("POST", "/v1/clients/a/calls/CAz/heartbeat").second["outcome"] == "not_extended");
    CHECK(f.call("POST", "/v1/clients/b/calls/CAz/end").first == 404);

    // A shared account's token: another one is refused unless rotated on purpose.
    auto [s5, typo] = f.call("PUT", "/v1/clients/b",
                             {{"twilio", {{"account_sid", kAccount}, {"auth_token", "typo"}}}});
    CHECK(s5 == 409);
    checkErrorShape(typo, "conflict");
    const auto stillValid = signTwilioRequests(
        kPublicUrl, kToken, {{"/v1/webhooks/twilio", callback("CAz", "in-progress", 2)}});
    CHECK(postTwilio(*f.client, stillValid[0])->status == 200);
    auto [s6, rotated] = f.call(
        "PUT", "/v1/clients/b",
        {{"twilio",
          {{"account_sid", kAccount}, {"auth_token", "new-token"}, {"rotate_auth_token", true}}}});
    CHECK(s6 == 200);
    CHECK(postTwilio(*f.client, stillValid[0])->status == 403);  // the old token no longer verifies
    const auto withNew = signTwilioRequests(
        kPublicUrl, "new-token", {{"/v1/webhooks/twilio", callback("CAz", "completed", 3)}});
    CHECK(postTwilio(*f.client, withNew[0])->status == 200);  // also for client a's call
    f.checkInvariants();
}
