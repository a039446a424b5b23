// The HTTP side of voice bots: /v1/bots, the warm-pool fields of a client,
// scheduled demand, GET /v1/clients/{id}/warm-pool, token scoping between
// clients, and admissions of a bots_required client (refused
// bot_unavailable, then admitted with a bot, which comes back at the end).
//
// No scheduler runs here: a bot is made ready the way the scheduler's
// database side does it (db::WarmupClaims), without the network.

#include "db/IsoTime.h"
#include "db/bots/WarmupClaims.h"
#include "db/tenants/ApiTokens.h"
#include "tests/ApiFixture.h"

#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <set>
#include <string>

using namespace calltrack;
using nlohmann::json;

using test::ApiFixture;
using test::checkErrorShape;

namespace {

const std::string kUrl = "http://127.0.0.1:9/warm";

// Claims every bot the warm pools are short of and records each warm-up as
// a success that took `durationMs`. Returns how many bots became ready.
size_t warmPools(ApiFixture& f, int64_t durationMs = 50) {
    db::WarmupClaims claims(f.t.database->writer(), f.t.clock);
    db::PlanOptions options;
    options.maxJobs = 100;
    size_t warmed = 0;
    for (const auto& job : claims.plan(options).jobs) {
        if (claims.recordSuccess(job, durationMs)) ++warmed;
    }
    return warmed;
}

// A cpp-httplib client with a client token of `clientId`.
std::unique_ptr<httplib::Client> clientFor(ApiFixture& f, const std::string& clientId) {
    const auto token =
        db::ApiTokens::create(f.t.database->writer(), f.t.clock, clientId, std::nullopt);
    auto client = std::make_unique<httplib::Client>("127.0.0.1", f.server->port());
    client->set_bearer_token_auth(token.secret);
    return client;
}

std::pair<int, json> answer(const httplib::Result& res) {
    REQUIRE(res);
    return {res->status, res->body.empty() ? json() : json::parse(res->body)};
}

std::set<std::string> ids(const json& bots) {
    std::set<std::string> out;
    for (const auto& b : bots) out.insert(b["id"].get<std::string>());
    return out;
}

}  // namespace

TEST_CASE("bots: register, read, reconfigure, list, remove") {
    ApiFixture f;
    f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 5}});

    auto [created, put] =
        f.call("PUT", "/v1/bots/bot-a", {{"client_id", "acme"}, {"warmup_url", kUrl}});
    CHECK(created == 201);
    const json& bot = put["bot"];
    CHECK(bot["id"] == "bot-a");
    CHECK(bot["client_id"] == "acme");
    CHECK(bot["warmup_url"] == kUrl);
    CHECK(bot["capacity"] == 1);  // the defaults
    CHECK(bot["warmup_timeout_ms"] == 10000);
    CHECK(bot["state"] == "cold");
    CHECK(bot["active_calls"] == 0);
    CHECK(bot["free_capacity"] == 1);
    CHECK(bot["warm_for"] == "acme");
    CHECK(bot["state_reason"] == "registered");
    CHECK(bot["state_changed_at"] == db::isoTime(f.t.clock.nowMs()));
    for (const char* absent :
         {"warming_until", "idle_until", "retry_at", "last_warmup_ms", "attempt_id"})
        CHECK_MESSAGE(bot[absent].is_null(), absent);
    CHECK(bot["failures"] == 0);
    CHECK(bot["version"] == 1);
    CHECK(bot["created_at"] == bot["updated_at"]);
    CHECK(bot.size() == 20);

    // Shared: client_id absent or null.
    auto [shared, sharedBody] = f.call("PUT", "/v1/bots/shared-z",
                                       {{"warmup_url", "https://bots.example/warm"},
                                        {"capacity", 3},
                                        {"warmup_timeout_ms", 2000}});
    CHECK(shared == 201);
    CHECK(sharedBody["bot"]["client_id"].is_null());
    CHECK(sharedBody["bot"]["warm_for"].is_null());
    CHECK(sharedBody["bot"]["free_capacity"] == 3);
    CHECK(f.call("PUT", "/v1/bots/shared-m", {{"client_id", nullptr}, {"warmup_url", kUrl}})
              .second["bot"]["client_id"]
              .is_null());

    // A full replacement: what is not given takes its default again.
    auto [updated, again] = f.call("PUT", "/v1/bots/bot-a",
                                   {{"client_id", "acme"}, {"warmup_url", kUrl}, {"capacity", 4}});
    CHECK(updated == 200);
    CHECK(again["bot"]["capacity"] == 4);
    CHECK(again["bot"]["warmup_timeout_ms"] == 10000);
    CHECK(again["bot"]["version"] == 2);
    CHECK(again["bot"]["state_reason"] == "registered");  // same endpoint: state kept
    // A new endpoint sends it back to cold: what was warmed is not this bot.
    auto [moved, movedBody] =
        f.call("PUT", "/v1/bots/bot-a", {{"client_id", "acme"}, {"warmup_url", kUrl + "/v2"}});
    CHECK(moved == 200);
    CHECK(movedBody["bot"]["capacity"] == 1);
    CHECK(movedBody["bot"]["state_reason"] == "reconfigured");

    auto [g, got] = f.call("GET", "/v1/bots/bot-a");
    CHECK(g == 200);
    CHECK(got["bot"] == movedBody["bot"]);
    auto [nf, missing] = f.call("GET", "/v1/bots/nobody");
    CHECK(nf == 404);
    checkErrorShape(missing, "bot_not_found");

    // Lists: by id; client_id narrows to that client's own bots.
    auto [l, all] = f.call("GET", "/v1/bots");
    CHECK(l == 200);
    REQUIRE(all["bots"].size() == 3);
    CHECK(all["bots"][0]["id"] == "bot-a");
    CHECK(all["bots"][1]["id"] == "shared-m");
    CHECK(all["bots"][2]["id"] == "shared-z");
    CHECK(ids(f.call("GET", "/v1/bots?client_id=acme").second["bots"]) ==
          std::set<std::string>{"bot-a"});
    CHECK(f.call("GET", "/v1/bots?client_id=nobody").second["bots"].empty());
    CHECK(f.call("GET", "/v1/bots?state=cold").second["bots"].size() == 3);
    CHECK(f.call("GET", "/v1/bots?state=ready").second["bots"].empty());
    CHECK(f.call("GET", "/v1/bots?client_id=acme&state=cold").second["bots"].size() == 1);
    for (const char* state : {"warming", "busy", "failed"})
        CHECK(f.call("GET", std::string("/v1/bots?state=") + state).first == 200);
    auto [bs, badState] = f.call("GET", "/v1/bots?state=asleep");
    CHECK(bs == 400);
    checkErrorShape(badState, "invalid_request");

    // Removal: 204 without a body, then gone.
    auto removed = f.send("DELETE", "/v1/bots/shared-m");
    REQUIRE(removed);
    CHECK(removed->status == 204);
    CHECK(removed->body.empty());
    CHECK_FALSE(removed->get_header_value("X-Request-Id").empty());
    auto [gone, goneBody] = f.call("DELETE", "/v1/bots/shared-m");
    CHECK(gone == 404);
    checkErrorShape(goneBody, "bot_not_found");
    CHECK(f.call("GET", "/v1/bots/shared-m").first == 404);
}

TEST_CASE("bots: every invalid configuration is a 400 naming the field, unknown client a 404") {
    ApiFixture f;
    f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 5}});
    const std::vector<json> invalid = {
        json::object(),                                         // warmup_url required
        {{"warmup_url", 7}},                                    // not a string
        {{"warmup_url", "ftp://bots.example/warm"}},            // not http(s)
        {{"warmup_url", "http://bots.example/a b"}},            // a space
        {{"warmup_url", "http://" + std::string(2100, 'a')}},   // too long
        {{"warmup_url", kUrl}, {"capacity", 0}},                // capacity 1..10000
        {{"warmup_url", kUrl}, {"capacity", 10001}},            //
        {{"warmup_url", kUrl}, {"capacity", "2"}},              //
        {{"warmup_url", kUrl}, {"warmup_timeout_ms", 99}},      // 100..600000
        {{"warmup_url", kUrl}, {"warmup_timeout_ms", 600001}},  //
        {{"warmup_url", kUrl}, {"client_id", 5}},               // a string or null
        {{"warmup_url", kUrl}, {"client_id", "has space"}},     // not a client id
    };
    for (const auto& body : invalid) {
        auto [s, err] = f.call("PUT", "/v1/bots/b1", body);
        INFO(body.dump());
        CHECK(s == 400);
        checkErrorShape(err, "invalid_request");
    }
    auto [badId, badIdBody] = f.call("PUT", "/v1/bots/bad%20id", {{"warmup_url", kUrl}});
    CHECK(badId == 400);
    checkErrorShape(badIdBody, "invalid_request");
    auto raw = f.send("PUT", "/v1/bots/b1", "{");
    CHECK(raw->status == 400);
    checkErrorShape(json::parse(raw->body), "malformed_json");
    auto text = f.send("PUT", "/v1/bots/b1", "warmup_url=x", "text/plain");
    CHECK(text->status == 415);
    checkErrorShape(json::parse(text->body), "unsupported_media_type");

    auto [u, unknown] =
        f.call("PUT", "/v1/bots/b1", {{"client_id", "ghost"}, {"warmup_url", kUrl}});
    CHECK(u == 404);
    checkErrorShape(unknown, "unknown_client");
    // Nothing was registered by any of them.
    CHECK(f.call("GET", "/v1/bots").second["bots"].empty());
}

TEST_CASE("clients: bots_required and the warm-pool policy") {
    ApiFixture f;
    auto [s, created] = f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 5}});
    CHECK(s == 201);
    CHECK(created["client"]["bots_required"] == false);
    CHECK(created["client"]["warm_pool"] == json{{"min_warm", 0},
                                                 {"headroom", 1},
                                                 {"max_warm", nullptr},
                                                 {"warm_ttl_s", 300},
                                                 {"lead_time_s", 120}});

    auto [s2, set] = f.call("PUT", "/v1/clients/acme",
                            {{"bots_required", true},
                             {"warm_pool",
                              {{"min_warm", 2},
                               {"headroom", 3},
                               {"max_warm", 8},
                               {"warm_ttl_s", 60},
                               {"lead_time_s", 30}}}});
    CHECK(s2 == 200);
    CHECK(set["client"]["bots_required"] == true);
    CHECK(set["client"]["warm_pool"] == json{{"min_warm", 2},
                                             {"headroom", 3},
                                             {"max_warm", 8},
                                             {"warm_ttl_s", 60},
                                             {"lead_time_s", 30}});

    // Absent fields keep their value; max_warm null lifts the cap.
    auto [s3, partial] = f.call("PUT", "/v1/clients/acme", {{"warm_pool", {{"headroom", 0}}}});
    CHECK(s3 == 200);
    CHECK(partial["client"]["bots_required"] == true);
    CHECK(partial["client"]["warm_pool"]["headroom"] == 0);
    CHECK(partial["client"]["warm_pool"]["max_warm"] == 8);
    CHECK(partial["client"]["warm_pool"]["min_warm"] == 2);
    auto [s4, uncapped] =
        f.call("PUT", "/v1/clients/acme", {{"warm_pool", {{"max_warm", nullptr}}}});
    CHECK(s4 == 200);
    CHECK(uncapped["client"]["warm_pool"]["max_warm"].is_null());
    CHECK(uncapped["client"]["warm_pool"]["min_warm"] == 2);
    CHECK(f.call("PUT", "/v1/clients/acme", {{"warm_pool", nullptr}}).first == 200);
    CHECK(f.call("GET", "/v1/clients/acme").second["client"]["warm_pool"] ==
          uncapped["client"]["warm_pool"]);
    CHECK(f.call("PUT", "/v1/clients/acme", {{"bots_required", false}})
              .second["client"]["bots_required"] == false);

    const std::vector<json> invalid = {
        {{"warm_pool", {{"min_warm", 5}, {"max_warm", 4}}}},  // max below min (engine)
        {{"warm_pool", {{"max_warm", 1}}}},                   // below the stored min_warm 2
        {{"warm_pool", {{"min_warm", -1}}}},
        {{"warm_pool", {{"headroom", "1"}}}},
        {{"warm_pool", {{"warm_ttl_s", 0}}}},
        {{"warm_pool", {{"lead_time_s", -1}}}},
        {{"warm_pool", 3}},
        {{"bots_required", "yes"}},
    };
    for (const auto& body : invalid) {
        auto [status, err] = f.call("PUT", "/v1/clients/acme", body);
        INFO(body.dump());
        CHECK(status == 400);
        checkErrorShape(err, "invalid_request");
    }
    // An unknown field is unknown_field (issue 8 §6), named in the message.
    auto [unknownStatus, unknown] =
        f.call("PUT", "/v1/clients/acme", {{"warm_pool", {{"min_ready", 1}}}});
    CHECK(unknownStatus == 400);
    checkErrorShape(unknown, "unknown_field");
    CHECK(unknown["error"]["message"].get<std::string>().find("warm_pool.min_ready") !=
          std::string::npos);
    auto [st, named] = f.call("PUT", "/v1/clients/acme", {{"warm_pool", {{"headroom", "1"}}}});
    CHECK(named["error"]["message"].get<std::string>().find("warm_pool.headroom") !=
          std::string::npos);
    // None of them changed anything.
    CHECK(f.call("GET", "/v1/clients/acme").second["client"]["warm_pool"] ==
          uncapped["client"]["warm_pool"]);
}

TEST_CASE("schedules: add, list the upcoming ones, delete") {
    ApiFixture f;
    f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 5}});
    const int64_t now = f.t.clock.nowMs();
    const auto at = [&](int64_t offsetMs) { return db::isoTime(now + offsetMs); };

    auto [s, created] = f.call(
        "POST", "/v1/clients/acme/schedule",
        {{"starts_at", at(7'200'000)}, {"ends_at", at(10'800'000)}, {"expected_concurrency", 4}});
    CHECK(s == 201);
    const json& sched = created["schedule"];
    CHECK(sched["id"].get<int64_t>() >= 1);
    CHECK(sched["client_id"] == "acme");
    CHECK(sched["starts_at"] == at(7'200'000));
    CHECK(sched["ends_at"] == at(10'800'000));
    CHECK(sched["expected_concurrency"] == 4);
    CHECK(sched["created_at"] == at(0));
    CHECK(sched.size() == 6);
    // Years ahead, and without milliseconds in the request.
    auto [s2, far] = f.call("POST", "/v1/clients/acme/schedule",
                            {{"starts_at", "2030-01-01T00:00:00Z"},
                             {"ends_at", "2030-01-01T01:00:00Z"},
                             {"expected_concurrency", 1}});
    CHECK(s2 == 201);
    CHECK(far["schedule"]["starts_at"] == "2030-01-01T00:00:00.000Z");

    auto [l, listed] = f.call("GET", "/v1/clients/acme/schedule");
    CHECK(l == 200);
    REQUIRE(listed["schedules"].size() == 2);
    CHECK(listed["schedules"][0] == sched);  // soonest first (the test clock is in 2023)
    CHECK(listed["schedules"][1] == far["schedule"]);

    const std::vector<json> invalid = {
        {{"ends_at", at(1000)}, {"expected_concurrency", 1}},  // starts_at required
        {{"starts_at", "tomorrow"}, {"ends_at", at(1000)}, {"expected_concurrency", 1}},
        {{"starts_at", "2030-01-01T00:00:00+01:00"},  // UTC only
         {"ends_at", "2030-01-01T03:00:00Z"},
         {"expected_concurrency", 1}},
        {{"starts_at", at(2000)}, {"ends_at", at(1000)}, {"expected_concurrency", 1}},
        {{"starts_at", at(-7'200'000)}, {"ends_at", at(-3'600'000)}, {"expected_concurrency", 1}},
        {{"starts_at", at(0)}, {"ends_at", at(32LL * 86'400'000)}, {"expected_concurrency", 1}},
        {{"starts_at", at(0)}, {"ends_at", at(1000)}, {"expected_concurrency", 0}},
        {{"starts_at", at(0)}, {"ends_at", at(1000)}, {"expected_concurrency", 1'000'001}},
        {{"starts_at", at(0)}, {"ends_at", at(1000)}},
        {{"starts_at", 1700000000000}, {"ends_at", at(1000)}, {"expected_concurrency", 1}},
    };
    for (const auto& body : invalid) {
        auto [status, err] = f.call("POST", "/v1/clients/acme/schedule", body);
        INFO(body.dump());
        CHECK(status == 400);
        checkErrorShape(err, "invalid_request");
    }
    CHECK(f.call("GET", "/v1/clients/acme/schedule").second["schedules"].size() == 2);
    auto [u, unknown] =
        f.call("POST", "/v1/clients/ghost/schedule",
               {{"starts_at", at(0)}, {"ends_at", at(1000)}, {"expected_concurrency", 1}});
    CHECK(u == 404);
    checkErrorShape(unknown, "unknown_client");
    auto [ul, unknownList] = f.call("GET", "/v1/clients/ghost/schedule");
    CHECK(ul == 404);
    checkErrorShape(unknownList, "unknown_client");

    // Once over, a schedule is no longer listed.
    f.t.clock.advanceMs(10'800'000);
    auto [l2, later] = f.call("GET", "/v1/clients/acme/schedule");
    REQUIRE(later["schedules"].size() == 1);
    CHECK(later["schedules"][0]["id"] == far["schedule"]["id"]);

    const std::string path =
        "/v1/clients/acme/schedule/" + std::to_string(far["schedule"]["id"].get<int64_t>());
    auto removed = f.send("DELETE", path);
    REQUIRE(removed);
    CHECK(removed->status == 204);
    CHECK(removed->body.empty());
    CHECK(f.call("GET", "/v1/clients/acme/schedule").second["schedules"].empty());
    for (const std::string& gone : {path, std::string("/v1/clients/acme/schedule/abc"),
                                    std::string("/v1/clients/acme/schedule/0"),
                                    std::string("/v1/clients/acme/schedule/99999")}) {
        auto [status, err] = f.call("DELETE", gone);
        INFO(gone);
        CHECK(status == 404);
        checkErrorShape(err, "schedule_not_found");
    }
}

TEST_CASE("warm-pool status: target, bots by state, demand and why") {
    ApiFixture f;
    f.call("PUT", "/v1/clients/acme",
           {{"max_concurrent", 10},
            {"bots_required", true},
            {"warm_pool", {{"min_warm", 1}, {"headroom", 1}, {"lead_time_s", 60}}}});
    for (const char* id : {"a1", "a2", "a3"})
        f.call("PUT", std::string("/v1/bots/") + id, {{"client_id", "acme"}, {"warmup_url", kUrl}});
    f.call("PUT", "/v1/bots/shared", {{"warmup_url", kUrl}});

    auto [s, body] = f.call("GET", "/v1/clients/acme/warm-pool");
    CHECK(s == 200);
    const json& pool = body["warm_pool"];
    CHECK(pool["client_id"] == "acme");
    CHECK(pool["bots_required"] == true);
    CHECK(pool["policy"] == json{{"min_warm", 1},
                                 {"headroom", 1},
                                 {"max_warm", nullptr},
                                 {"warm_ttl_s", 300},
                                 {"lead_time_s", 60}});
    CHECK(pool["target"] == 1);  // max(min_warm 1, 0 demand + headroom 1)
    CHECK(pool["ready"] == 0);
    CHECK(pool["warming"] == 0);
    CHECK(pool["busy"] == 0);
    CHECK(pool["failed"] == 0);
    CHECK(pool["cold_available"] == 4);
    CHECK(pool["usable_bots"] == 4);
    CHECK(pool["demand"] == json{{"active_calls", 0},
                                 {"unmet", 0},
                                 {"scheduled_concurrency", 0},
                                 {"capacity_per_bot", 1}});
    CHECK_FALSE(pool["why"].get<std::string>().empty());
    CHECK(pool.size() == 12);

    // A campaign within its lead time raises the target; warming shows up.
    const int64_t now = f.t.clock.nowMs();
    f.call("POST", "/v1/clients/acme/schedule",
           {{"starts_at", db::isoTime(now + 30'000)},
            {"ends_at", db::isoTime(now + 3'600'000)},
            {"expected_concurrency", 2}});
    auto scheduled = f.call("GET", "/v1/clients/acme/warm-pool").second["warm_pool"];
    CHECK(scheduled["demand"]["scheduled_concurrency"] == 2);
    CHECK(scheduled["target"] == 3);  // ceil(2 / 1) + headroom 1
    CHECK(warmPools(f) == 3);
    auto warm = f.call("GET", "/v1/clients/acme/warm-pool").second["warm_pool"];
    CHECK(warm["ready"] == 3);
    CHECK(warm["cold_available"] == 1);
    CHECK(f.call("GET", "/v1/bots?state=ready").second["bots"].size() == 3);

    auto [u, unknown] = f.call("GET", "/v1/clients/ghost/warm-pool");
    CHECK(u == 404);
    checkErrorShape(unknown, "unknown_client");
}

TEST_CASE("client tokens see their own and shared bots, and only their own warm pool") {
    ApiFixture f("admin-token");
    f.call("PUT", "/v1/clients/alpha", {{"max_concurrent", 5}});
    f.call("PUT", "/v1/clients/beta", {{"max_concurrent", 5}});
    f.call("PUT", "/v1/bots/alpha-bot", {{"client_id", "alpha"}, {"warmup_url", kUrl}});
    f.call("PUT", "/v1/bots/beta-bot", {{"client_id", "beta"}, {"warmup_url", kUrl}});
    f.call("PUT", "/v1/bots/shared-bot", {{"warmup_url", kUrl}});
    const int64_t now = f.t.clock.nowMs();
    const json campaign = {{"starts_at", db::isoTime(now + 60'000)},
                           {"ends_at", db::isoTime(now + 120'000)},
                           {"expected_concurrency", 2}};
    const auto betaSchedule = f.call("POST", "/v1/clients/beta/schedule", campaign)
                                  .second["schedule"]["id"]
                                  .get<int64_t>();
    auto alpha = clientFor(f, "alpha");

    // Bots: its own and the shared ones; another client's answers 404.
    auto [l, listed] = answer(alpha->Get("/v1/bots"));
    CHECK(l == 200);
    CHECK(ids(listed["bots"]) == std::set<std::string>{"alpha-bot", "shared-bot"});
    CHECK(ids(answer(alpha->Get("/v1/bots?client_id=alpha")).second["bots"]) ==
          std::set<std::string>{"alpha-bot"});
    auto [lb, betaList] = answer(alpha->Get("/v1/bots?client_id=beta"));
    CHECK(lb == 200);
    CHECK(betaList["bots"].empty());
    CHECK(ids(answer(alpha->Get("/v1/bots?state=cold")).second["bots"]) ==
          std::set<std::string>{"alpha-bot", "shared-bot"});
    CHECK(answer(alpha->Get("/v1/bots/alpha-bot")).first == 200);
    CHECK(answer(alpha->Get("/v1/bots/shared-bot")).first == 200);
    auto [g, hidden] = answer(alpha->Get("/v1/bots/beta-bot"));
    CHECK(g == 404);
    checkErrorShape(hidden, "bot_not_found");

    // Configuring bots is the admin's, also for its own bot.
    const auto forbidden = [](const httplib::Result& res) {
        auto [status, err] = answer(res);
        CHECK(status == 403);
        checkErrorShape(err, "forbidden");
    };
    const std::string ownBot = json{{"client_id", "alpha"}, {"warmup_url", kUrl}}.dump();
    forbidden(alpha->Put("/v1/bots/alpha-bot", ownBot, "application/json"));
    forbidden(alpha->Put("/v1/bots/new-bot", ownBot, "application/json"));
    forbidden(alpha->Delete("/v1/bots/alpha-bot"));
    forbidden(alpha->Delete("/v1/bots/beta-bot"));
    CHECK(f.call("GET", "/v1/bots").second["bots"].size() == 3);

    // Warm pools and schedules: its own; beta's do not exist for it.
    CHECK(answer(alpha->Get("/v1/clients/alpha/warm-pool")).first == 200);
    auto [w, betaPool] = answer(alpha->Get("/v1/clients/beta/warm-pool"));
    CHECK(w == 404);
    checkErrorShape(betaPool, "unknown_client");
    auto [a, own] =
        answer(alpha->Post("/v1/clients/alpha/schedule", campaign.dump(), "application/json"));
    CHECK(a == 201);
    CHECK(own["schedule"]["client_id"] == "alpha");
    CHECK(answer(alpha->Get("/v1/clients/alpha/schedule")).second["schedules"].size() == 1);
    auto [pb, postBeta] =
        answer(alpha->Post("/v1/clients/beta/schedule", campaign.dump(), "application/json"));
    CHECK(pb == 404);
    checkErrorShape(postBeta, "unknown_client");
    auto [gb, getBeta] = answer(alpha->Get("/v1/clients/beta/schedule"));
    CHECK(gb == 404);
    checkErrorShape(getBeta, "unknown_client");
    auto [dbeta, delBeta] =
        answer(alpha->Delete("/v1/clients/beta/schedule/" + std::to_string(betaSchedule)));
    CHECK(dbeta == 404);
    checkErrorShape(delBeta, "unknown_client");
    // Not through its own client's path either: the schedule is beta's.
    auto [da, delViaAlpha] =
        answer(alpha->Delete("/v1/clients/alpha/schedule/" + std::to_string(betaSchedule)));
    CHECK(da == 404);
    checkErrorShape(delViaAlpha, "schedule_not_found");
    CHECK(f.call("GET", "/v1/clients/beta/schedule").second["schedules"].size() == 1);
    auto removed = alpha->Delete("/v1/clients/alpha/schedule/" +
                                 std::to_string(own["schedule"]["id"].get<int64_t>()));
    REQUIRE(removed);
    CHECK(removed->status == 204);
}

TEST_CASE("a bots_required client: refused bot_unavailable, admitted with a bot, bot freed") {
    ApiFixture f;
    f.call("PUT", "/v1/clients/voice", {{"max_concurrent", 10}, {"bots_required", true}});
    f.call("PUT", "/v1/clients/plain", {{"max_concurrent", 10}});

    // No bot at all: refused with the default hint (no warm-up measured yet).
    auto first =
        f.send("POST", "/v1/calls", json{{"client_id", "voice"}, {"external_id", "V1"}}.dump());
    REQUIRE(first);
    CHECK(first->status == 429);
    CHECK(first->get_header_value("Retry-After") == "1");
    auto refused = json::parse(first->body);
    checkErrorShape(refused, "bot_unavailable");
    CHECK(refused["retry_after_ms"] == 1000);

    // A cold bot is no better: it has to be warmed first.
    f.call("PUT", "/v1/bots/vb", {{"client_id", "voice"}, {"warmup_url", kUrl}, {"capacity", 2}});
    CHECK(f.call("POST", "/v1/calls", {{"client_id", "voice"}}).second["error"]["code"] ==
          "bot_unavailable");
    CHECK(f.call("GET", "/v1/clients/voice/warm-pool").second["warm_pool"]["demand"]["unmet"] == 2);

    // Warmed in 1.5 s: that becomes the retry hint.
    CHECK(warmPools(f, 1500) == 1);
    auto ready = f.call("GET", "/v1/bots/vb").second["bot"];
    CHECK(ready["state"] == "ready");
    CHECK(ready["last_warmup_ms"] == 1500);
    CHECK(ready["idle_until"] == db::isoTime(f.t.clock.nowMs() + 300'000));
    CHECK(ready["attempt_id"].is_string());

    auto [a1, admitted] =
        f.call("POST", "/v1/calls", {{"client_id", "voice"}, {"external_id", "V1"}});
    CHECK(a1 == 201);
    CHECK(admitted["call"]["bot_id"] == "vb");
    const auto call1 = admitted["call"]["id"].get<int64_t>();
    CHECK(f.call("GET", "/v1/calls/" + std::to_string(call1)).second["call"]["bot_id"] == "vb");
    auto [a2, second] = f.call("POST", "/v1/calls", {{"client_id", "voice"}});
    CHECK(a2 == 201);
    CHECK(second["call"]["bot_id"] == "vb");
    const auto call2 = second["call"]["id"].get<int64_t>();
    // A client without bots_required: no bot.
    CHECK(f.call("POST", "/v1/calls", {{"client_id", "plain"}}).second["call"]["bot_id"].is_null());

    auto busy = f.call("GET", "/v1/bots/vb").second["bot"];
    CHECK(busy["state"] == "busy");
    CHECK(busy["active_calls"] == 2);
    CHECK(busy["free_capacity"] == 0);

    // Full: refused again, now with the measured warm-up time as the hint.
    auto full = f.send("POST", "/v1/calls", json{{"client_id", "voice"}}.dump());
    CHECK(full->status == 429);
    CHECK(full->get_header_value("Retry-After") == "2");
    CHECK(json::parse(full->body)["retry_after_ms"] == 1500);
    // The same in a batch: the item is answered like the single request.
    auto [b, batch] = f.call("POST", "/v1/calls:batch",
                             {{"items", json::array({{{"op", "admit"}, {"client_id", "voice"}},
                                                     {{"op", "admit"}, {"client_id", "plain"}}})}});
    CHECK(b == 200);
    REQUIRE(batch["results"].size() == 2);
    CHECK(batch["results"][0]["status"] == 429);
    checkErrorShape(batch["results"][0]["body"], "bot_unavailable");
    CHECK(batch["results"][0]["body"]["retry_after_ms"] == 1500);
    CHECK(batch["results"][1]["status"] == 201);

    // A bot carrying calls cannot be removed, moved, re-pointed or shrunk below them.
    const std::vector<json> stranding = {
        {{"client_id", "plain"}, {"warmup_url", kUrl}, {"capacity", 2}},
        {{"warmup_url", kUrl}, {"capacity", 2}},
        {{"client_id", "voice"}, {"warmup_url", kUrl + "/other"}, {"capacity", 2}},
        {{"client_id", "voice"}, {"warmup_url", kUrl}, {"capacity", 1}},
    };
    for (const auto& body : stranding) {
        auto [status, err] = f.call("PUT", "/v1/bots/vb", body);
        INFO(body.dump());
        CHECK(status == 409);
        checkErrorShape(err, "bot_busy");
    }
    auto [d, notRemoved] = f.call("DELETE", "/v1/bots/vb");
    CHECK(d == 409);
    checkErrorShape(notRemoved, "bot_busy");
    // Growing it is fine and keeps it warm.
    auto grown = f.call("PUT", "/v1/bots/vb",
                        {{"client_id", "voice"}, {"warmup_url", kUrl}, {"capacity", 3}});
    CHECK(grown.first == 200);
    CHECK(grown.second["bot"]["state"] == "busy");
    CHECK(grown.second["bot"]["free_capacity"] == 1);

    // The calls end (by hand, and by a provider event): the bot's capacity
    // comes back once each, and the idle bot is ready again.
    auto [e1, ended] = f.call("POST", "/v1/calls/" + std::to_string(call1) + "/end");
    CHECK(e1 == 200);
    CHECK(ended["call"]["bot_id"] == "vb");
    CHECK(f.call("GET", "/v1/bots/vb").second["bot"]["active_calls"] == 1);
    CHECK(f.call("POST", "/v1/calls/" + std::to_string(call2) + "/events", {{"status", "failed"}})
              .second["outcome"] == "applied");
    CHECK(f.call("POST", "/v1/calls/" + std::to_string(call1) + "/end").second["outcome"] ==
          "after_end");
    auto freed = f.call("GET", "/v1/bots/vb").second["bot"];
    CHECK(freed["state"] == "ready");
    CHECK(freed["active_calls"] == 0);
    CHECK(freed["free_capacity"] == 3);

    // Free again: admitted; and once idle it can be removed.
    auto [a3, third] = f.call("POST", "/v1/calls", {{"client_id", "voice"}});
    CHECK(a3 == 201);
    CHECK(third["call"]["bot_id"] == "vb");
    f.call("POST", "/v1/calls/" + std::to_string(third["call"]["id"].get<int64_t>()) + "/end");
    auto removed = f.send("DELETE", "/v1/bots/vb");
    CHECK(removed->status == 204);
    CHECK(f.call("POST", "/v1/calls", {{"client_id", "voice"}}).first == 429);
}
