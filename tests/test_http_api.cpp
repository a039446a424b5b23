// Integration tests of the HTTP API: the real HttpServer on an ephemeral
// loopback port over a fresh database, driven with cpp-httplib's client.

#include "api/webhooks/Hmac.h"
#include "db/calls/CallTable.h"
#include "db/calls/IdempotencyStore.h"
#include "db/tenants/ApiTokens.h"
#include "tests/ApiFixture.h"
#include "tests/TestSupport.h"

#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace calltrack;
using nlohmann::json;

using test::ApiFixture;
using test::checkErrorShape;

TEST_CASE("health and readiness") {
    ApiFixture f;
    CHECK(f.call("GET", "/healthz").first == 200);
    auto [status, body] = f.call("GET", "/readyz");
    CHECK(status == 200);
    CHECK(body["status"] == "ready");
}

TEST_CASE("clients, limits, admission until refused, usage") {
    ApiFixture f;
    auto [s1, created] =
        f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 2}, {"name", "Acme"}});
    CHECK(s1 == 201);
    CHECK(created["client"]["max_concurrent"] == 2);
    auto [s2, updated] =
        f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 2}, {"mode", "enforce"}});
    CHECK(s2 == 200);
    CHECK(updated["client"]["name"] == "Acme");
    CHECK(f.call("PUT", "/v1/limits/global", {{"max_concurrent", 10}}).first == 200);
    CHECK(f.call("GET", "/v1/limits/global").second["global"]["max_concurrent"] == 10);

    auto [a1, first] = f.call("POST", "/v1/calls", {{"client_id", "acme"}, {"external_id", "CA1"}});
    CHECK(a1 == 201);
    CHECK(first["call"]["state"] == "reserved");
    CHECK(first["usage"]["client"] == json{{"active", 1}, {"max_concurrent", 2}});
    CHECK(first["usage"]["global"] == json{{"active", 1}, {"max_concurrent", 10}});

    // A retry of the same external id: the same call, no second slot.
    auto [again, retry] =
        f.call("POST", "/v1/calls", {{"client_id", "acme"}, {"external_id", "CA1"}});
    CHECK(again == 200);
    CHECK(retry["call"]["id"] == first["call"]["id"]);
    CHECK(retry["usage"]["client"]["active"] == 1);

    CHECK(f.call("POST", "/v1/calls", {{"client_id", "acme"}}).first == 201);
    auto res = f.send("POST", "/v1/calls", json{{"client_id", "acme"}}.dump());
    REQUIRE(res);
    CHECK(res->status == 429);
    CHECK(res->get_header_value("Retry-After") == "1");
    auto refused = json::parse(res->body);
    checkErrorShape(refused, "client_limit_reached");
    CHECK(refused["retry_after_ms"] == 1000);

    auto [u, usage] = f.call("GET", "/v1/usage");
    CHECK(u == 200);
    CHECK(usage["global"]["active"] == 2);
    REQUIRE(usage["clients"].size() == 1);
    CHECK(usage["clients"][0]["client_id"] == "acme");
    CHECK(usage["clients"][0]["percent"] == 100.0);
    CHECK(usage["clients"][0]["refused_last_minute"] == 1);

    auto [gk, client] = f.call("GET", "/v1/clients/acme");
    CHECK(gk == 200);
    CHECK(client["client"]["active"] == 2);
    CHECK(f.call("GET", "/v1/clients").second["clients"].size() == 1);
    checkErrorShape(f.call("GET", "/v1/clients/nobody").second, "unknown_client");
}

TEST_CASE("refusal codes: unknown client, disabled client, global limit") {
    ApiFixture f;
    auto [s, unknown] = f.call("POST", "/v1/calls", {{"client_id", "ghost"}});
    CHECK(s == 404);
    checkErrorShape(unknown, "unknown_client");

    f.call("PUT", "/v1/clients/off", {{"max_concurrent", 5}, {"enabled", false}});
    auto [d, disabled] = f.call("POST", "/v1/calls", {{"client_id", "off"}});
    CHECK(d == 429);
    checkErrorShape(disabled, "client_disabled");

    f.call("PUT", "/v1/limits/global", {{"max_concurrent", 1}});
    f.call("PUT", "/v1/clients/a", {{"max_concurrent", 5}});
    CHECK(f.call("POST", "/v1/calls", {{"client_id", "a"}}).first == 201);
    auto [g, global] = f.call("POST", "/v1/calls", {{"client_id", "a"}});
    CHECK(g == 429);
    checkErrorShape(global, "global_limit_reached");
}

TEST_CASE("lifecycle over HTTP: events, duplicates, out of order, heartbeat, end") {
    ApiFixture f;
    f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 1}});
    const auto id =
        f.call("POST", "/v1/calls", {{"client_id", "acme"}}).second["call"]["id"].get<int64_t>();
    const std::string base = "/v1/calls/" + std::to_string(id);

    auto [s1, ringing] = f.call("POST", base + "/events", {{"status", "ringing"}, {"sequence", 1}});
    CHECK(s1 == 200);
    CHECK(ringing["outcome"] == "applied");
    CHECK(ringing["call"]["state"] == "ringing");
    CHECK(f.call("POST", base + "/events", {{"status", "ringing"}, {"sequence", 1}})
              .second["outcome"] == "duplicate");
    CHECK(f.call("POST", base + "/events",
                 {{"status", "in_progress"}, {"occurred_at", "2026-01-31T12:00:00Z"}})
              .second["outcome"] == "applied");
    CHECK(f.call("POST", base + "/events", {{"status", "initiated"}}).second["outcome"] ==
          "out_of_order");
    auto [hb, beat] = f.call("POST", base + "/heartbeat");
    CHECK(hb == 200);
    CHECK(beat["outcome"] == "applied");

    auto [e, ended] = f.call("POST", base + "/end", {{"reason", "hung up"}});
    CHECK(e == 200);
    CHECK(ended["call"]["state"] == "completed");
    CHECK(ended["call"]["end_reason"] == "hung up");
    CHECK(f.call("POST", base + "/events", {{"status", "busy"}}).second["outcome"] == "after_end");
    CHECK(f.call("POST", base + "/end").second["outcome"] == "after_end");
    CHECK(f.call("GET", "/v1/usage").second["global"]["active"] == 0);

    auto [g, got] = f.call("GET", base);
    CHECK(g == 200);
    CHECK(got["call"]["live"] == false);
    checkErrorShape(f.call("GET", "/v1/calls/999999").second, "call_not_found");
    checkErrorShape(f.call("POST", "/v1/calls/999999/end").second, "call_not_found");
    checkErrorShape(f.call("GET", "/v1/calls/not-a-number").second, "call_not_found");
    auto [v, conflict] = f.call("POST", base + "/end", {{"expected_version", 1}});
    CHECK(v == 200);  // already ended: after_end wins over the version check
    CHECK(conflict["outcome"] == "after_end");
}

TEST_CASE("listing calls: newest first, pages stable under new admissions") {
    ApiFixture f;
    f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 100}});
    for (int i = 0; i < 5; ++i) f.call("POST", "/v1/calls", {{"client_id", "acme"}});
    auto [s, page1] = f.call("GET", "/v1/calls?client_id=acme&state=all&limit=2");
    CHECK(s == 200);
    REQUIRE(page1["calls"].size() == 2);
    CHECK(page1["calls"][0]["id"].get<int64_t>() > page1["calls"][1]["id"].get<int64_t>());
    f.call("POST", "/v1/calls", {{"client_id", "acme"}});  // must not shift the next page
    auto [s2, page2] = f.call("GET", "/v1/calls?client_id=acme&state=all&limit=2&cursor=" +
                                         page1["next_cursor"].get<std::string>());
    CHECK(s2 == 200);
    REQUIRE(page2["calls"].size() == 2);
    CHECK(page2["calls"][0]["id"].get<int64_t>() == page1["calls"][1]["id"].get<int64_t>() - 1);
    checkErrorShape(f.call("GET", "/v1/calls?state=sideways").second, "invalid_request");
    checkErrorShape(f.call("GET", "/v1/calls?limit=0").second, "invalid_request");
    checkErrorShape(f.call("GET", "/v1/calls?cursor=abc").second, "invalid_request");
}

TEST_CASE("bad input gets the one error shape with a stable code") {
    ApiFixture f;
    auto expect = [&](const httplib::Result& res, int status, const std::string& code) {
        REQUIRE(res);
        CHECK(res->status == status);
        checkErrorShape(json::parse(res->body), code);
    };
    expect(f.send("POST", "/v1/calls", "{not json"), 400, "malformed_json");
    expect(f.send("POST", "/v1/calls", "[1,2]"), 400, "malformed_json");
    expect(f.send("POST", "/v1/calls", R"({"client_id": 7})"), 400, "invalid_request");
    expect(f.send("POST", "/v1/calls", "{}"), 400, "invalid_request");
    expect(f.send("POST", "/v1/calls", "client_id=a", "application/x-www-form-urlencoded"), 415,
           "unsupported_media_type");
    expect(f.send("PUT", "/v1/clients/bad%20id", R"({"max_concurrent": 1})"), 400,
           "invalid_request");
    expect(f.send("PUT", "/v1/clients/a", R"({"max_concurrent": -1})"), 400, "invalid_request");
    expect(f.send("PUT", "/v1/clients/a", R"({"max_concurrent": "3"})"), 400, "invalid_request");
    expect(f.send("PUT", "/v1/clients/a", R"({"max_concurrent": 1, "mode": "maybe"})"), 400,
           "invalid_request");
    expect(f.send("GET", "/v1/nothing-here"), 404, "not_found");
    expect(f.send("POST", "/v1/calls/1/events", R"({"status": "exploded"})"), 400,
           "invalid_request");
    expect(f.send("POST", "/v1/calls", std::string(70 * 1024, 'x')), 413, "payload_too_large");

    auto res = f.send("DELETE", "/v1/calls");
    expect(res, 405, "method_not_allowed");
    CHECK(res->get_header_value("Allow").find("POST") != std::string::npos);

    // Nothing of the above wrote anything.
    CHECK(f.t.clients->list().empty());
}

TEST_CASE("request ids are honoured or generated and echoed") {
    ApiFixture f;
    auto res = f.client->Get("/healthz", httplib::Headers{{"X-Request-Id", "dialer-42"}});
    REQUIRE(res);
    CHECK(res->get_header_value("X-Request-Id") == "dialer-42");
    auto bad =
        f.client->Get("/v1/nothing", httplib::Headers{{"X-Request-Id", "has spaces\tand tabs"}});
    REQUIRE(bad);
    const auto generated = bad->get_header_value("X-Request-Id");
    CHECK(generated.rfind("req_", 0) == 0);
    CHECK(json::parse(bad->body)["error"]["request_id"] == generated);
}

TEST_CASE("bearer token: required when configured, health stays open") {
    ApiFixture f("s3cret-token");
    CHECK(f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 1}}).first == 201);

    httplib::Client anonymous("127.0.0.1", f.server->port());
    auto res = anonymous.Get("/v1/usage");
    REQUIRE(res);
    CHECK(res->status == 401);
    checkErrorShape(json::parse(res->body), "unauthorized");
    anonymous.set_bearer_token_auth("wrong-token");
    CHECK(anonymous.Get("/v1/usage")->status == 401);
    CHECK(anonymous.Get("/healthz")->status == 200);
}

TEST_CASE("no token: loopback only") {
    CHECK(api::HttpServer::isLoopback("127.0.0.1"));
    CHECK(api::HttpServer::isLoopback("127.1.2.3"));
    CHECK(api::HttpServer::isLoopback("::1"));
    CHECK_FALSE(api::HttpServer::isLoopback("0.0.0.0"));
    CHECK_FALSE(api::HttpServer::isLoopback("10.0.0.1"));
    test::TestDatabase t;
    db::BotRegistry bots(t.database->writer(), t.database->readers(), t.clock);
    db::DemandSchedules schedules(t.database->writer(), t.database->readers(), t.clock);
    db::ProviderCallEvents providerEvents(t.database->writer(), t.clock);
    api::JsonLog log{api::LogLevel::error, stderr};
    api::ApiContext ctx{*t.database,
                        *t.admission,
                        *t.lifecycle,
                        *t.clients,
                        bots,
                        schedules,
                        providerEvents,
                        *t.intake,
                        t.clock,
                        log,
                        std::chrono::milliseconds(2000)};
    api::HttpOptions open;
    open.host = "0.0.0.0";
    open.port = 0;
    CHECK_THROWS_WITH_AS(api::HttpServer(ctx, open), doctest::Contains("CALLTRACK_ADMIN_TOKEN"),
                         std::runtime_error);
}

TEST_CASE("client tokens see and change only their own client's calls and usage") {
    ApiFixture f("admin-token");
    f.call("PUT", "/v1/clients/alpha", {{"max_concurrent", 5}});
    f.call("PUT", "/v1/clients/beta", {{"max_concurrent", 5}});
    const auto betaCall =
        f.call("POST", "/v1/calls", {{"client_id", "beta"}}).second["call"]["id"].get<int64_t>();
    const auto alphaToken =
        db::ApiTokens::create(f.t.database->writer(), f.t.clock, std::string("alpha"), "dialer");
    const auto betaToken =
        db::ApiTokens::create(f.t.database->writer(), f.t.clock, std::string("beta"), std::nullopt);
    CHECK(alphaToken.secret.rfind("ct_", 0) == 0);
    CHECK(alphaToken.secret != betaToken.secret);

    httplib::Client alpha("127.0.0.1", f.server->port());
    alpha.set_bearer_token_auth(alphaToken.secret);
    auto post = [&](const json& body) {
        return alpha.Post("/v1/calls", body.dump(), "application/json");
    };

    auto own = post({{"client_id", "alpha"}});
    REQUIRE(own);
    CHECK(own->status == 201);
    const auto alphaCall = json::parse(own->body)["call"]["id"].get<int64_t>();
    // Another client's resources do not exist for this token.
    auto other = post({{"client_id", "beta"}});
    CHECK(other->status == 404);
    checkErrorShape(json::parse(other->body), "unknown_client");
    CHECK(alpha.Get("/v1/calls/" + std::to_string(betaCall))->status == 404);
    CHECK(alpha.Post("/v1/calls/" + std::to_string(betaCall) + "/end", "", "application/json")
              ->status == 404);
    CHECK(alpha.Get("/v1/clients/beta")->status == 404);
    CHECK(alpha.Get("/v1/calls/" + std::to_string(alphaCall))->status == 200);

    auto listed = json::parse(alpha.Get("/v1/calls?state=all")->body)["calls"];
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["client_id"] == "alpha");
    CHECK(json::parse(alpha.Get("/v1/calls?client_id=beta")->body)["calls"].empty());
    auto usage = json::parse(alpha.Get("/v1/usage")->body);
    REQUIRE(usage["clients"].size() == 1);
    CHECK(usage["clients"][0]["client_id"] == "alpha");
    auto clients = json::parse(alpha.Get("/v1/clients")->body)["clients"];
    REQUIRE(clients.size() == 1);
    CHECK(clients[0]["id"] == "alpha");

    // Operator endpoints are the admin's.
    auto put = alpha.Put("/v1/clients/alpha", R"({"max_concurrent": 50})", "application/json");
    CHECK(put->status == 403);
    checkErrorShape(json::parse(put->body), "forbidden");
    CHECK(alpha.Put("/v1/limits/global", R"({"max_concurrent": 1})", "application/json")->status ==
          403);

    // A revoked token stops working at once.
    CHECK(db::ApiTokens::revoke(f.t.database->writer(), f.t.clock, alphaToken.token.id));
    CHECK(alpha.Get("/v1/usage")->status == 401);
    CHECK_FALSE(db::ApiTokens::revoke(f.t.database->writer(), f.t.clock, alphaToken.token.id));
    // Only the hash is stored.
    const auto stored = f.t.database->readers().read([](db::Connection& c) {
        SQLite::Statement s(c.handle(), "SELECT group_concat(token_sha256) FROM api_tokens");
        s.executeStep();
        return s.getColumn(0).getString();
    });
    CHECK(stored.find(alphaToken.secret) == std::string::npos);
}

TEST_CASE("a token in the database makes the server require authentication") {
    test::TestDatabase t;
    db::ApiTokens::create(t.database->writer(), t.clock, std::nullopt, std::string("ops"));
    db::BotRegistry bots(t.database->writer(), t.database->readers(), t.clock);
    db::DemandSchedules schedules(t.database->writer(), t.database->readers(), t.clock);
    db::ProviderCallEvents providerEvents(t.database->writer(), t.clock);
    api::JsonLog log{api::LogLevel::error, stderr};
    api::ApiContext ctx{*t.database,
                        *t.admission,
                        *t.lifecycle,
                        *t.clients,
                        bots,
                        schedules,
                        providerEvents,
                        *t.intake,
                        t.clock,
                        log,
                        std::chrono::milliseconds(2000)};
    api::HttpOptions options;
    options.host = "0.0.0.0";  // allowed: a token exists
    options.port = 0;
    api::HttpServer server(ctx, options);
    CHECK_FALSE(server.open());
    server.start();
    httplib::Client anonymous("127.0.0.1", server.port());
    CHECK(anonymous.Get("/v1/usage")->status == 401);
    server.stop();
}

TEST_CASE("batch: admissions, events and ends in one request, each item on its own") {
    ApiFixture f;
    f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 2}});
    json items = json::array({
        {{"op", "admit"}, {"client_id", "acme"}, {"external_id", "B1"}},
        {{"op", "admit"}, {"client_id", "acme"}, {"external_id", "B2"}},
        {{"op", "admit"}, {"client_id", "acme"}, {"external_id", "B3"}},  // over the limit
        {{"op", "admit"}, {"client_id", "nobody"}},
        {{"op", "admit"}},  // malformed item
        {{"op", "explode"}},
        {{"op", "end"}, {"call_id", 999999}},
        "not an object",
    });
    auto [s, body] = f.call("POST", "/v1/calls:batch", {{"items", items}});
    CHECK(s == 200);
    const auto& r = body["results"];
    REQUIRE(r.size() == items.size());
    CHECK(r[0]["status"] == 201);
    CHECK(r[1]["status"] == 201);
    CHECK(r[2]["status"] == 429);
    checkErrorShape(r[2]["body"], "client_limit_reached");
    CHECK(r[2]["body"]["retry_after_ms"] == 1000);
    CHECK(r[3]["status"] == 404);
    checkErrorShape(r[3]["body"], "unknown_client");
    CHECK(r[4]["status"] == 400);
    checkErrorShape(r[4]["body"], "invalid_request");
    CHECK(r[5]["status"] == 400);
    CHECK(r[6]["status"] == 404);
    checkErrorShape(r[6]["body"], "call_not_found");
    CHECK(r[7]["status"] == 400);
    // The refusal is recorded even though it came in a batch.
    CHECK(f.call("GET", "/v1/clients/acme").second["client"]["refused_total"] == 1);

    const auto id1 = r[0]["body"]["call"]["id"].get<int64_t>();
    const auto id2 = r[1]["body"]["call"]["id"].get<int64_t>();
    auto [s2, second] =
        f.call("POST", "/v1/calls:batch",
               {{"items", json::array({{{"op", "event"}, {"call_id", id1}, {"status", "ringing"}},
                                       {{"op", "event"}, {"call_id", id1}, {"status", "ringing"}},
                                       {{"op", "end"}, {"call_id", id2}, {"reason", "batch"}}})}});
    CHECK(s2 == 200);
    CHECK(second["results"][0]["body"]["outcome"] == "applied");
    CHECK(second["results"][1]["body"]["outcome"] == "duplicate");
    CHECK(second["results"][2]["body"]["call"]["state"] == "canceled");
    CHECK(f.call("GET", "/v1/usage").second["global"]["active"] == 1);

    checkErrorShape(f.call("POST", "/v1/calls:batch", {{"items", 5}}).second, "invalid_request");
    checkErrorShape(
        f.call("POST", "/v1/calls:batch", {{"items", json(std::vector<int>(1001, 1))}}).second,
        "invalid_request");
}

TEST_CASE("Idempotency-Key on POST /v1/calls: replay, mismatch, in flight, expiry") {
    ApiFixture f;
    f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 1}});
    auto post = [&](const std::string& key, const json& body) {
        return f.client->Post("/v1/calls", httplib::Headers{{"Idempotency-Key", key}}, body.dump(),
                              "application/json");
    };
    const json body = {
        {"client_id", "acme"}};  // no external id: without the key a retry would take a new slot
    auto first = post("k-1", body);
    REQUIRE(first);
    CHECK(first->status == 201);
    auto again = post("k-1", body);
    REQUIRE(again);
    CHECK(again->status == 201);
    CHECK(again->get_header_value("Idempotent-Replayed") == "true");
    CHECK(json::parse(again->body)["call"]["id"] == json::parse(first->body)["call"]["id"]);
    CHECK(f.call("GET", "/v1/usage").second["global"]["active"] == 1);

    // Same key, another body: 422.
    auto misuse = post("k-1", {{"client_id", "acme"}, {"external_id", "other"}});
    CHECK(misuse->status == 422);
    checkErrorShape(json::parse(misuse->body), "idempotency_key_reused");

    // A refusal is an answer too: stored and replayed.
    auto refused = post("k-2", body);
    CHECK(refused->status == 429);
    auto refusedAgain = post("k-2", body);
    CHECK(refusedAgain->status == 429);
    CHECK(refusedAgain->body == refused->body);
    CHECK(f.call("GET", "/v1/clients/acme").second["client"]["refused_total"] == 1);

    // Still in flight (claimed, not completed, as a v3 binary on the same
    // file leaves it): 409; after 60 s abandoned: taken over.
    db::IdempotencyStore store(f.t.database->writer(), f.t.clock);
    const auto hash = api::sha256Hex(json{{"client_id", "acme"}, {"external_id", "x"}}.dump());
    {
        SQLite::Database v3(f.t.options.path, SQLite::OPEN_READWRITE);
        SQLite::Statement claim(v3,
                                "INSERT INTO idempotency_keys (scope, key, request_sha256, "
                                "created_at) VALUES ('admin', 'k-3', ?1, ?2)");
        claim.bind(1, hash);
        claim.bind(2, static_cast<int64_t>(f.t.clock.nowMs()));
        REQUIRE(claim.exec() == 1);
    }
    auto inFlight = post("k-3", {{"client_id", "acme"}, {"external_id", "x"}});
    CHECK(inFlight->status == 409);
    checkErrorShape(json::parse(inFlight->body), "idempotency_key_in_flight");
    f.t.clock.advanceMs(61'000);
    CHECK(post("k-3", {{"client_id", "acme"}, {"external_id", "x"}})->status ==
          429);  // ran: client full

    // Keys are kept 24 h, then purged.
    CHECK(store.purgeExpired(100) == 0);
    f.t.clock.advanceMs(db::IdempotencyStore::kKeepMs + 1);
    CHECK(store.purgeExpired(100) == 3);
    CHECK(post("k-1", body)->status ==
          429);  // the key is new again: a fresh admission, refused (client full)
}

TEST_CASE(
    "live-call listings read only live calls' index entries, however many calls ended "
    "(issue 9)") {
    // calls_client_recent would walk every ended call of the client, newest
    // first, to find the few live ones; the plans must use the partial
    // indexes that hold live calls only.
    ApiFixture f;
    SQLite::Database db(f.t.options.path, SQLite::OPEN_READONLY);
    for (bool withClient : {false, true}) {
        db::CallTable::ListFilter filter;
        if (withClient) filter.clientId = "acme";
        filter.which = db::CallTable::ListFilter::Which::active;
        SQLite::Statement plan(db,
                               std::string("EXPLAIN QUERY PLAN ") + db::CallTable::listSql(filter));
        std::string text;
        while (plan.executeStep()) text += plan.getColumn(3).getString() + "\n";
        INFO(text);
        CHECK(text.find(withClient ? "calls_live_client_slot" : "calls_live_expiry") !=
              std::string::npos);
        CHECK(text.find("calls_client_recent") == std::string::npos);
        CHECK(text.find("SCAN c\n") == std::string::npos);
    }
    // And they list exactly the live calls.
    REQUIRE(f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 10}}).first == 201);
    std::vector<int64_t> live;
    for (int i = 0; i < 30; ++i) {
        auto [status, body] = f.call("POST", "/v1/calls", {{"client_id", "acme"}});
        REQUIRE(status == 201);
        const int64_t id = body["call"]["id"];
        if (i % 10 == 3) {
            live.push_back(id);
        } else {
            REQUIRE(
                f.call("POST", "/v1/calls/" + std::to_string(id) + "/end", json::object()).first ==
                200);
        }
    }
    for (const std::string path : {"/v1/calls", "/v1/calls?client_id=acme"}) {
        auto [status, body] = f.call("GET", path);
        REQUIRE(status == 200);
        std::vector<int64_t> listed;
        for (const auto& c : body["calls"]) listed.push_back(c["id"]);
        CHECK(listed == std::vector<int64_t>(live.rbegin(), live.rend()));
    }
}

TEST_CASE(
    "reads wait for a read connection no longer than their deadline; auth has its own "
    "(issue 9)") {
    // Four slow listings held every reader, and authentication queued
    // behind them: every authenticated endpoint stalled.
    ApiFixture f(std::string("admin-secret"));
    REQUIRE(f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 10}}).first == 201);
    // A token from the database, so that authenticating it reads.
    const auto token =
        db::ApiTokens::create(f.t.database->writer(), f.t.clock, std::string("acme"), std::nullopt);
    f.client->set_bearer_token_auth(token.secret);
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    int holding = 0;
    std::vector<std::thread> holders;
    for (size_t i = 0; i < f.t.database->readers().size(); ++i) {
        holders.emplace_back([&] {
            f.t.database->readers().read([&](db::Connection&) {
                std::unique_lock lock(m);
                ++holding;
                cv.notify_all();
                cv.wait_for(lock, std::chrono::seconds(30), [&] { return release; });
                return 0;
            });
        });
    }
    {
        std::unique_lock lock(m);
        REQUIRE(cv.wait_for(lock, std::chrono::seconds(10),
                            [&] { return holding == static_cast<int>(holders.size()); }));
    }
    // Authenticated writes still work (auth reads its own connections)...
    auto [admitted, body] = f.call("POST", "/v1/calls", {{"client_id", "acme"}});
    CHECK(admitted == 201);
    // ...and a read that finds no reader is 503 storage_unavailable with
    // Retry-After once its deadline passes, not a hang.
    auto res = f.send("GET", "/v1/calls");
    REQUIRE(res);
    CHECK(res->status == 503);
    CHECK(res->get_header_value("Retry-After") == "1");
    test::checkErrorShape(json::parse(res->body), "storage_unavailable");
    {
        std::lock_guard lock(m);
        release = true;
    }
    cv.notify_all();
    for (auto& t : holders) t.join();
    CHECK(f.call("GET", "/v1/calls").first == 200);
}

TEST_CASE("Idempotency-Key: the admission and its stored response commit together (issue 9)") {
    // Claim, admission and stored response were three transactions: when
    // storing the response failed, the committed admission was answered 5xx
    // and a retry after the claim expired admitted the call twice.
    ApiFixture f;
    REQUIRE(f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 5}}).first == 201);
    {
        // An operator's trigger that makes storing any response fail.
        SQLite::Database shell(f.t.options.path, SQLite::OPEN_READWRITE);
        shell.exec(
            "CREATE TRIGGER fail_store BEFORE INSERT ON idempotency_keys WHEN NEW.response IS "
            "NOT NULL BEGIN SELECT RAISE(ABORT, 'injected: cannot store'); END;"
            "CREATE TRIGGER fail_store_update BEFORE UPDATE ON idempotency_keys WHEN "
            "NEW.response IS NOT NULL BEGIN SELECT RAISE(ABORT, 'injected: cannot store'); END;");
    }
    auto post = [&] {
        return f.client->Post("/v1/calls", httplib::Headers{{"Idempotency-Key", "once"}},
                              R"({"client_id": "acme"})", "application/json");
    };
    auto failed = post();
    REQUIRE(failed);
    CHECK(failed->status >= 500);
    // Nothing committed: no call, no slot, no key.
    CHECK(test::scalar(f.t, "SELECT count(*) FROM calls") == 0);
    CHECK(test::scalar(f.t, "SELECT active FROM clients WHERE id = 'acme'") == 0);
    CHECK(test::scalar(f.t, "SELECT count(*) FROM idempotency_keys") == 0);
    {
        SQLite::Database shell(f.t.options.path, SQLite::OPEN_READWRITE);
        shell.exec("DROP TRIGGER fail_store; DROP TRIGGER fail_store_update;");
    }
    // The retry runs once, and its replay is the same call.
    auto first = post();
    REQUIRE(first);
    CHECK(first->status == 201);
    auto replay = post();
    REQUIRE(replay);
    CHECK(replay->get_header_value("Idempotent-Replayed") == "true");
    CHECK(json::parse(replay->body)["call"]["id"] == json::parse(first->body)["call"]["id"]);
    CHECK(test::scalar(f.t, "SELECT count(*) FROM calls") == 1);
}

TEST_CASE(
    "admin writes are answered within their deadline while another process holds the lock "
    "(issue 9)") {
    // Client, limit, bot and schedule writes had no deadline: with a shell
    // holding BEGIN IMMEDIATE they waited out the busy timeout (5 s) and
    // more. Now each is 503 with nothing written once its 300 ms deadline
    // has passed: database_busy, until three failures in a row open the
    // database breaker; then database_unavailable at once (issue 10). An
    // admission is always database_unavailable. The bound checked is the
    // busy timeout (a wait that would mean no deadline), not a speed.
    ApiFixture f(std::nullopt, "", 4, std::chrono::milliseconds(300));
    REQUIRE(f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 2}}).first == 201);
    SQLite::Database shell(f.t.options.path, SQLite::OPEN_READWRITE);
    // serve writes every second (history, alerts): wait for a gap, as an
    // operator retrying would
    shell.exec("PRAGMA busy_timeout = 5000");
    shell.exec("BEGIN IMMEDIATE");
    const std::vector<std::tuple<std::string, std::string, json>> writes = {
        {"PUT", "/v1/clients/beta", {{"max_concurrent", 2}}},
        {"PUT", "/v1/clients/acme", {{"max_concurrent", 3}}},
        {"PUT", "/v1/limits/global", {{"max_concurrent", 50}}},
        {"PUT", "/v1/bots/b1", {{"warmup_url", "http://127.0.0.1:9/warm"}}},
        {"POST", "/v1/calls", {{"client_id", "acme"}}},
    };
    for (size_t i = 0; i < writes.size(); ++i) {
        const auto& [method, path, body] = writes[i];
        CAPTURE(path);
        const auto started = std::chrono::steady_clock::now();
        auto [status, reply] = f.call(method, path, body);
        const auto waited = std::chrono::steady_clock::now() - started;
        CHECK(status == 503);
        checkErrorShape(reply,
                        i < 3 && path != "/v1/calls" ? "database_busy" : "database_unavailable");
        CHECK(waited < std::chrono::milliseconds(f.t.options.busyTimeoutMs / 2));
    }
    CHECK(f.call("GET", "/v1/usage").second["database"]["breaker"]["state"] == "open");
    shell.exec("ROLLBACK");
    CHECK(test::scalar(f.t, "SELECT count(*) FROM clients") == 1);
    CHECK(test::scalar(f.t, "SELECT max_concurrent FROM clients WHERE id = 'acme'") == 2);
    CHECK(test::scalar(f.t, "SELECT count(*) FROM bots") == 0);
    CHECK(test::scalar(f.t, "SELECT count(*) FROM calls") == 0);
}

TEST_CASE(
    "usage counts the slotless live calls observe mode left, also after the switch to "
    "enforce (issue 9)") {
    ApiFixture f;
    REQUIRE(f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 1}, {"mode", "observe"}}).first ==
            201);
    REQUIRE(f.call("POST", "/v1/calls", {{"client_id", "acme"}}).first == 201);
    auto [status, flagged] = f.call("POST", "/v1/calls", {{"client_id", "acme"}});
    REQUIRE(status == 201);
    CHECK(flagged["call"]["holds_slot"] == false);
    REQUIRE(f.call("PUT", "/v1/clients/acme", {{"mode", "enforce"}}).first == 200);
    const auto usage = f.call("GET", "/v1/usage").second["clients"][0];
    CHECK(usage["active"] == 1);
    CHECK(usage["unslotted_active"] == 1);
    // Enforce refuses the next one; the slotless call still counts as shown.
    CHECK(f.call("POST", "/v1/calls", {{"client_id", "acme"}}).first == 429);
    REQUIRE(f.call("POST",
                   "/v1/calls/" + std::to_string(flagged["call"]["id"].get<int64_t>()) + "/end",
                   json::object())
                .first == 200);
    CHECK(f.call("GET", "/v1/usage").second["clients"][0]["unslotted_active"] == 0);
}
