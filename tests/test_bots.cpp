// Voice bots (issue 4) at the engine level, against a real database and a
// ManualClock: time is moved, never slept. Covers the bot registry, bot
// assignment inside admission, capacity coming back exactly once, the
// schema's guard under raw SQL, the warm-up scheduler's database side
// (WarmupClaims / WarmPoolPlanner / DemandSchedules), the invariant checker
// and the v1 -> v2 upgrade with data in it.

#include "db/bots/BotRegistry.h"
#include "db/bots/DemandSchedules.h"
#include "db/bots/WarmPoolPlanner.h"
#include "db/bots/WarmupClaims.h"
#include "db/integrity/CounterRepair.h"
#include "db/storage/SchemaSql.h"
#include "tests/TestSupport.h"

#include <SQLiteCpp/Exception.h>

#include <fstream>
#include <functional>
#include <initializer_list>
#include <set>
#include <sstream>
#include <utility>

using namespace calltrack;
using db::AdmitResult;
using db::EventOutcome;
using db::Refusal;
using test::scalar;
using test::scalarText;

namespace {

constexpr int64_t kSecond = 1000;

std::string urlOf(const std::string& bot) {
    return "http://bots.test/" + bot + "/warm";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string quoted(const std::string& text) {
    return "'" + text + "'";
}

// A bots_required client whose pool wants every bot warm (min_warm 10), so
// that a test can warm exactly the bots it names; tests about the target
// itself set their own policy.
db::ClientPatch botClient(int64_t limit = 10) {
    db::ClientPatch p;
    p.maxConcurrent = limit;
    p.botsRequired = true;
    db::ClientPatch::WarmPool w;
    w.minWarm = 10;
    w.headroom = 1;
    w.warmTtlS = 300;
    w.leadTimeS = 120;
    p.warmPool = w;
    return p;
}

db::ClientPatch policy(int64_t minWarm, int64_t headroom, std::optional<int64_t> maxWarm,
                       int64_t ttlS = 300) {
    db::ClientPatch p;
    db::ClientPatch::WarmPool w;
    w.minWarm = minWarm;
    w.headroom = headroom;
    w.maxWarm = maxWarm;  // nullopt inside: no cap
    w.warmTtlS = ttlS;
    p.warmPool = w;
    return p;
}

db::BotConfig botConfig(std::optional<std::string> client, int64_t capacity = 1,
                        const std::string& url = "") {
    db::BotConfig c;
    c.clientId = std::move(client);
    c.warmupUrl = url;
    c.capacity = capacity;
    return c;
}

// The engine pieces issue 4 adds, wired to the test database and its clock.
struct Fx {
    test::TestDatabase t;
    db::BotRegistry bots{t.database->writer(), t.database->readers(), t.clock};
    db::WarmupClaims claims{t.database->writer(), t.clock};
    db::DemandSchedules schedules{t.database->writer(), t.database->readers(), t.clock};

    int64_t now() const { return t.clock.nowMs(); }
    void advance(int64_t ms) { t.clock.advanceMs(ms); }

    db::Bot bot(const std::string& id, std::optional<std::string> client, int64_t capacity = 1,
                int64_t timeoutMs = 10'000) {
        auto c = botConfig(std::move(client), capacity, urlOf(id));
        c.warmupTimeoutMs = timeoutMs;
        return bots.put(id, c).bot;
    }
    db::Bot get(const std::string& id) {
        auto b = bots.find(id);
        REQUIRE_MESSAGE(b.has_value(), "no bot " << id);
        return *b;
    }
    std::string state(const std::string& id) { return db::nameOf(get(id).state); }

    db::PlanResult plan(int maxJobs = 100, std::set<std::string> inFlight = {},
                        std::function<bool(const std::string&)> allowed = {}) {
        db::PlanOptions o;
        o.maxJobs = maxJobs;
        o.inFlight = std::move(inFlight);
        o.endpointAllowed = std::move(allowed);
        return claims.plan(o);
    }
    // One planning pass that may only claim this bot (the breaker callback
    // lets its URL through and no other): its warm-up job.
    db::WarmupJob claim(const std::string& id) {
        const std::string url = get(id).warmupUrl;
        auto r = plan(1, {}, [url](const std::string& u) { return u == url; });
        REQUIRE_MESSAGE(r.jobs.size() == 1, "plan did not claim " << id);
        REQUIRE(r.jobs[0].botId == id);
        return r.jobs[0];
    }
    // cold -> warming -> ready, the way the scheduler does it.
    void warm(const std::string& id, int64_t durationMs = 100) {
        const auto job = claim(id);
        REQUIRE(claims.recordSuccess(job, durationMs));
        REQUIRE(state(id) == "ready");
    }

    db::WarmPoolStatus pool(const std::string& client) {
        return t.database->readers().read(
            [&](db::Connection& c) { return db::WarmPoolPlanner::statusIn(c, now(), client); });
    }

    AdmitResult admit(const std::string& client, const std::string& external) {
        return t.admission->admit(test::admitReq(client, external));
    }
    db::Call admitted(const std::string& client, const std::string& external) {
        auto r = admit(client, external);
        REQUIRE_MESSAGE(r.outcome == AdmitResult::Outcome::admitted,
                        "refused: " << db::nameOf(r.refusal));
        return *r.call;
    }

    // "from>to" for each bot_events row of a bot, oldest first.
    std::string history(const std::string& id) {
        return scalarText(t,
                          "SELECT group_concat(coalesce(from_state, 'NULL') || '>' || to_state, "
                          "', ') FROM (SELECT from_state, to_state FROM bot_events WHERE bot_id "
                          "= " +
                              quoted(id) + " ORDER BY id)");
    }
    int64_t botEvents(const std::string& id) {
        return scalar(t, "SELECT count(*) FROM bot_events WHERE bot_id = " + quoted(id));
    }
    std::string lastBotEvent(const std::string& id, const std::string& column) {
        return scalarText(t, "SELECT " + column + " FROM bot_events WHERE bot_id = " + quoted(id) +
                                 " ORDER BY id DESC LIMIT 1");
    }
};

int64_t activeCalls(Fx& f, const std::string& bot) {
    return f.get(bot).activeCalls;
}

using test::openRaw;
using test::tryExec;

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_SUITE("bot registry") {
    TEST_CASE("put creates a cold bot and then updates it in place") {
        Fx f;
        f.t.clients->create("acme", botClient());
        auto r = f.bots.put("b1", botConfig("acme", 1, urlOf("b1")));
        CHECK(r.created);
        CHECK(r.bot.id == "b1");
        CHECK(r.bot.clientId == std::optional<std::string>("acme"));
        CHECK(r.bot.poolClientId == std::optional<std::string>("acme"));
        CHECK(std::string(db::nameOf(r.bot.state)) == "cold");
        CHECK(r.bot.capacity == 1);
        CHECK(r.bot.warmupTimeoutMs == 10'000);
        CHECK(r.bot.activeCalls == 0);
        CHECK(r.bot.createdAt == f.now());
        CHECK(f.history("b1") == "NULL>cold");
        CHECK(f.lastBotEvent("b1", "reason") == "registered");

        f.advance(kSecond);
        auto c = botConfig("acme", 4, urlOf("b1"));
        c.warmupTimeoutMs = 2000;
        auto u = f.bots.put("b1", c);
        CHECK_FALSE(u.created);
        CHECK(u.bot.capacity == 4);
        CHECK(u.bot.warmupTimeoutMs == 2000);
        CHECK(u.bot.createdAt == r.bot.createdAt);
        CHECK(u.bot.updatedAt == f.now());
        CHECK(u.bot.version == r.bot.version + 1);
        CHECK(f.history("b1") == "NULL>cold");  // not a state change

        auto shared = f.bots.put("s1", botConfig(std::nullopt, 2, urlOf("s1")));
        CHECK(shared.created);
        CHECK_FALSE(shared.bot.clientId.has_value());
        CHECK_FALSE(shared.bot.poolClientId.has_value());

        CHECK(f.bots.list({}).size() == 2);
        db::BotRegistry::ListFilter own;
        own.clientId = "acme";
        const auto acme = f.bots.list(own);
        REQUIRE(acme.size() == 1);
        CHECK(acme[0].id == "b1");
        db::BotRegistry::ListFilter ready;
        ready.state = db::BotState::ready;
        CHECK(f.bots.list(ready).empty());
        db::BotRegistry::ListFilter cold;
        cold.state = db::BotState::cold;
        CHECK(f.bots.list(cold).size() == 2);
        CHECK_FALSE(f.bots.find("nope").has_value());
    }

    TEST_CASE("put refuses a bad id, URL, capacity or timeout and writes nothing") {
        Fx f;
        f.t.clients->create("acme", botClient());
        const auto good = botConfig("acme", 1, "http://bots.test/x");
        const auto refused = [&](const std::string& id, const db::BotConfig& c) {
            const auto thrown = test::thrownBy([&] { f.bots.put(id, c); });
            INFO("id '" << id << "' url '" << c.warmupUrl << "' capacity " << c.capacity
                        << " timeout " << c.warmupTimeoutMs << ": " << thrown.message);
            CHECK(thrown.code == db::ErrorCode::invalid_argument);
        };
        for (const std::string& id :
             {std::string(), std::string("has space"), std::string("slash/no"),
              std::string(65, 'a'), std::string("quote'"), std::string("caf\xC3\xA9")}) {
            refused(id, good);
        }
        for (const std::string& url :
             {std::string(), std::string("ftp://bots.test/x"), std::string("http://"),
              std::string("https://"), std::string("http:/bots.test"), std::string("bots.test/x"),
              std::string("http://a b.test/x"), std::string("http://bots.test/\x7f"),
              std::string("http://bots.test/\n"), "http://" + std::string(2042, 'a')}) {
            auto c = good;
            c.warmupUrl = url;
            refused("b1", c);
        }
        for (int64_t capacity : {int64_t{0}, int64_t{-1}, int64_t{10'001}}) {
            auto c = good;
            c.capacity = capacity;
            refused("b1", c);
        }
        for (int64_t timeout : {int64_t{99}, int64_t{0}, int64_t{600'001}}) {
            auto c = good;
            c.warmupTimeoutMs = timeout;
            refused("b1", c);
        }
        CHECK(scalar(f.t, "SELECT count(*) FROM bots") == 0);
        CHECK(scalar(f.t, "SELECT count(*) FROM bot_events") == 0);

        // The boundaries themselves are accepted (and the schema agrees).
        auto edge = good;
        edge.capacity = 10'000;
        edge.warmupTimeoutMs = 600'000;
        edge.warmupUrl = "https://" + std::string(2040, 'a');
        REQUIRE(edge.warmupUrl.size() == 2048);
        CHECK(f.bots.put(std::string(60, 'z') + "._:-", edge).created);
        auto low = good;
        low.capacity = 1;
        low.warmupTimeoutMs = 100;
        low.warmupUrl = "http://a";
        CHECK(f.bots.put("Az09._:-", low).created);
        CHECK(scalar(f.t, "SELECT count(*) FROM bots") == 2);
    }

    TEST_CASE("a bot of an unknown client is not_found and nothing is written") {
        Fx f;
        const auto thrown =
            test::thrownBy([&] { f.bots.put("b1", botConfig("ghost", 1, urlOf("b1"))); });
        CHECK(thrown.code == db::ErrorCode::not_found);
        CHECK(scalar(f.t, "SELECT count(*) FROM bots") == 0);
        // Also when moving an existing bot to an unknown client.
        f.t.clients->create("acme", botClient());
        f.bot("b1", "acme");
        CHECK(test::thrownBy([&] { f.bots.put("b1", botConfig("ghost", 1, urlOf("b1"))); }).code ==
              db::ErrorCode::not_found);
        CHECK(f.get("b1").clientId == std::optional<std::string>("acme"));
    }

    TEST_CASE("a new warmup_url or owner sends a ready bot back to cold; capacity does not") {
        Fx f;
        f.t.clients->create("acme", botClient());
        f.t.clients->create("beta", botClient());
        f.bot("b1", "acme");
        f.warm("b1");
        const auto warmBot = f.get("b1");
        REQUIRE(warmBot.idleUntil.has_value());

        // Capacity and timeout: what was warmed is still this bot.
        f.advance(kSecond);
        auto c = botConfig("acme", 3, urlOf("b1"));
        c.warmupTimeoutMs = 5000;
        f.bots.put("b1", c);
        CHECK(f.state("b1") == "ready");
        CHECK(f.get("b1").idleUntil == warmBot.idleUntil);
        CHECK(f.get("b1").capacity == 3);

        SUBCASE("a new endpoint") {
            f.bots.put("b1", botConfig("acme", 3, "http://elsewhere.test/warm"));
            const auto b = f.get("b1");
            CHECK(std::string(db::nameOf(b.state)) == "cold");
            CHECK(b.stateReason == std::optional<std::string>("reconfigured"));
            CHECK_FALSE(b.idleUntil.has_value());
            CHECK_FALSE(b.attemptId.has_value());
            CHECK(b.poolClientId == std::optional<std::string>("acme"));
            CHECK(f.lastBotEvent("b1", "from_state || '>' || to_state || ' ' || reason") ==
                  "ready>cold reconfigured");
            // Not assignable any more.
            CHECK(f.admit("acme", "CA1").refusal == Refusal::bot_unavailable);
        }
        SUBCASE("another owner, then shared") {
            f.bots.put("b1", botConfig("beta", 3, urlOf("b1")));
            auto b = f.get("b1");
            CHECK(std::string(db::nameOf(b.state)) == "cold");
            CHECK(b.clientId == std::optional<std::string>("beta"));
            CHECK(b.poolClientId == std::optional<std::string>("beta"));
            f.warm("b1");
            CHECK(f.get("b1").poolClientId == std::optional<std::string>("beta"));
            CHECK(f.admit("acme", "CA1").refusal == Refusal::bot_unavailable);

            f.bots.put("b1", botConfig(std::nullopt, 3, urlOf("b1")));
            b = f.get("b1");
            CHECK(std::string(db::nameOf(b.state)) == "cold");
            CHECK_FALSE(b.clientId.has_value());
            CHECK_FALSE(b.poolClientId.has_value());
            const auto events = f.botEvents("b1");
            f.bots.put("b1", botConfig(std::nullopt, 3, urlOf("b1")));  // unchanged
            CHECK(f.botEvents("b1") == events);
        }
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("a bot carrying calls cannot be moved, re-pointed, shrunk below them or removed") {
        Fx f;
        f.t.clients->create("acme", botClient());
        f.t.clients->create("beta", botClient());
        f.bot("b1", "acme", 2);
        f.warm("b1");
        const auto c1 = f.admitted("acme", "CA1");
        const auto c2 = f.admitted("acme", "CA2");
        REQUIRE(activeCalls(f, "b1") == 2);
        const auto before = f.get("b1");

        const auto conflict = [&](const db::BotConfig& c) {
            const auto thrown = test::thrownBy([&] { f.bots.put("b1", c); });
            INFO(thrown.message);
            CHECK(thrown.code == db::ErrorCode::conflict);
        };
        conflict(botConfig("beta", 2, urlOf("b1")));
        conflict(botConfig(std::nullopt, 2, urlOf("b1")));
        conflict(botConfig("acme", 2, "http://elsewhere.test/warm"));
        conflict(botConfig("acme", 1, urlOf("b1")));
        CHECK(test::thrownBy([&] { f.bots.remove("b1"); }).code == db::ErrorCode::conflict);
        const auto after = f.get("b1");
        CHECK(after.version == before.version);
        CHECK(after.capacity == 2);
        CHECK(after.activeCalls == 2);
        CHECK(std::string(db::nameOf(after.state)) == "busy");

        // Growing, or shrinking to exactly its calls, is fine and keeps it busy.
        f.bots.put("b1", botConfig("acme", 5, urlOf("b1")));
        f.bots.put("b1", botConfig("acme", 2, urlOf("b1")));
        CHECK(f.state("b1") == "busy");
        CHECK(activeCalls(f, "b1") == 2);

        f.t.lifecycle->end(test::endReq(c1.id));
        CHECK(test::thrownBy([&] { f.bots.remove("b1"); }).code == db::ErrorCode::conflict);
        f.t.lifecycle->end(test::endReq(c2.id));
        REQUIRE(f.state("b1") == "ready");

        f.advance(5 * kSecond);
        f.bots.remove("b1");
        CHECK_FALSE(f.bots.find("b1").has_value());
        CHECK(f.lastBotEvent("b1", "from_state || '>' || to_state") == "ready>deleted");
        CHECK(std::stoll(f.lastBotEvent("b1", "at")) == f.now());
        CHECK(test::thrownBy([&] { f.bots.remove("b1"); }).code == db::ErrorCode::not_found);
        // The ended calls keep naming the bot they had.
        CHECK(scalar(f.t, "SELECT count(*) FROM calls WHERE bot_id = 'b1'") == 2);
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("every state change is recorded in bot_events and the bot views show it") {
        Fx f;
        f.t.clock.setMs(1'700'000'000'000);  // 2023-11-14T22:13:20.000Z
        auto patch = botClient();
        patch.warmPool->warmTtlS = 60;
        f.t.clients->create("acme", patch);
        f.bot("b1", "acme");
        f.bots.put("s1", botConfig(std::nullopt, 2, urlOf("s1")));

        const auto first = f.claim("b1");
        f.advance(kSecond);
        REQUIRE(f.claims.recordFailure(first, "HTTP 503", f.now() + 5 * kSecond));
        CHECK(f.state("b1") == "failed");
        f.advance(5 * kSecond);
        const auto second = f.claim("b1");
        CHECK(second.attemptId != first.attemptId);
        CHECK(second.failuresBefore == 1);
        f.advance(kSecond);
        REQUIRE(f.claims.recordSuccess(second, 250));

        auto raw = openRaw(f.t.options.path);
        {
            SQLite::Statement s(raw,
                                "SELECT client_id, state, active_calls, capacity, warm_for, "
                                "since, idle_until, failures, last_warmup_ms FROM bot_status "
                                "WHERE id = 'b1'");
            REQUIRE(s.executeStep());
            CHECK(s.getColumn(0).getString() == "acme");
            CHECK(s.getColumn(1).getString() == "ready");
            CHECK(s.getColumn(2).getInt64() == 0);
            CHECK(s.getColumn(3).getInt64() == 1);
            CHECK(s.getColumn(4).getString() == "acme");
            CHECK(s.getColumn(5).getString() == "2023-11-14T22:13:27.000Z");
            CHECK(s.getColumn(6).getString() == "2023-11-14T22:14:27.000Z");  // + warm TTL 60 s
            CHECK(s.getColumn(7).getInt64() == 0);
            CHECK(s.getColumn(8).getInt64() == 250);
            CHECK(scalarText(raw, "SELECT client_id FROM bot_status WHERE id = 's1'") ==
                  "(shared)");
        }
        {
            SQLite::Statement s(raw,
                                "SELECT bots_required, min_warm, ready, busy, warming, failed, "
                                "cold_own FROM warm_pools WHERE client_id = 'acme'");
            REQUIRE(s.executeStep());
            CHECK(s.getColumn(0).getString() == "yes");
            CHECK(s.getColumn(1).getInt64() == 10);
            CHECK(s.getColumn(2).getInt64() == 1);
            CHECK(s.getColumn(3).getInt64() == 0);
            CHECK(s.getColumn(4).getInt64() == 0);
            CHECK(s.getColumn(5).getInt64() == 0);
            CHECK(s.getColumn(6).getInt64() == 0);
        }

        const auto call = f.admitted("acme", "CA1");
        CHECK(call.botId == std::optional<std::string>("b1"));
        CHECK(scalar(raw, "SELECT busy FROM warm_pools WHERE client_id = 'acme'") == 1);
        CHECK(scalarText(raw, "SELECT bot_id FROM active_calls") == "b1");
        f.advance(kSecond);
        f.t.lifecycle->end(test::endReq(call.id));
        f.advance(60 * kSecond);
        auto pass = f.plan(0);  // no warm-up budget: only expiry
        CHECK(pass.expired == 1);
        CHECK(f.state("b1") == "cold");
        f.advance(kSecond);
        f.bots.remove("b1");

        CHECK(f.history("b1") ==
              "NULL>cold, cold>warming, warming>failed, failed>warming, warming>ready, "
              "ready>busy, busy>ready, ready>cold, cold>deleted");
        // The attempt ids tie warm-up outcomes to their requests.
        CHECK(scalar(f.t,
                     "SELECT count(*) FROM bot_events WHERE bot_id = 'b1' AND attempt_id = " +
                         quoted(first.attemptId)) == 2);  // cold>warming, warming>failed
        CHECK(scalar(f.t, "SELECT count(*) FROM bot_events WHERE bot_id = 'b1' AND attempt_id = " +
                              quoted(second.attemptId)) >= 2);
        // Times only move forward, and each is the time of the change.
        CHECK(scalar(f.t,
                     "SELECT count(*) FROM bot_events a JOIN bot_events b ON b.bot_id = a.bot_id "
                     "AND b.id > a.id WHERE a.bot_id = 'b1' AND b.at < a.at") == 0);
        CHECK(
            scalar(f.t, "SELECT at FROM bot_events WHERE bot_id = 'b1' AND to_state = 'deleted'") ==
            f.now());
        CHECK(scalar(raw, "SELECT count(*) FROM bot_history WHERE bot_id = 'b1'") == 9);
        CHECK(
            scalarText(raw, "SELECT at FROM bot_history WHERE bot_id = 'b1' ORDER BY id LIMIT 1") ==
            "2023-11-14T22:13:20.000Z");
        CHECK(scalarText(raw,
                         "SELECT reason FROM bot_history WHERE bot_id = 'b1' AND to_state = "
                         "'failed'") == "warm-up failed: HTTP 503");
        CHECK_INVARIANTS(f.t);
    }
}

TEST_SUITE("admission with bots") {
    TEST_CASE("no warm bot: refused bot_unavailable with a retry hint, recorded and counted") {
        Fx f;
        f.t.clients->create("acme", botClient());
        f.bot("b1", "acme");  // cold
        std::vector<std::string> shortages;
        f.t.admission->onBotShortage([&](const std::string& c) { shortages.push_back(c); });

        auto r = f.admit("acme", "CA1");
        CHECK(r.outcome == AdmitResult::Outcome::refused);
        CHECK(r.refusal == Refusal::bot_unavailable);
        CHECK(r.botShortage);
        REQUIRE(r.retryAfterMs.has_value());
        CHECK(*r.retryAfterMs == 1000);  // no warm-up measured yet: the default
        CHECK_FALSE(r.call.has_value());
        CHECK(shortages == std::vector<std::string>{"acme"});
        CHECK(scalarText(f.t,
                         "SELECT kind || ' ' || outcome || ' ' || reason || ' ' || external_id "
                         "FROM call_events ORDER BY id DESC LIMIT 1") ==
              "admit refused bot_unavailable CA1");
        CHECK(f.t.clients->find("acme")->refusedTotal == 1);
        CHECK(scalar(f.t, "SELECT count(*) FROM calls") == 0);
        CHECK(test::clientActive(f.t, "acme") == 0);
        CHECK(test::globalActive(f.t) == 0);

        // Once warm-ups have been measured, the hint is their typical time.
        f.warm("b1", 4000);
        f.admitted("acme", "CA2");
        r = f.admit("acme", "CA3");
        CHECK(r.refusal == Refusal::bot_unavailable);
        CHECK(r.retryAfterMs == std::optional<int64_t>(4000));
        CHECK(shortages.size() == 2);
        CHECK(f.t.clients->find("acme")->refusedTotal == 2);

        // A refusal for another reason is not a bot shortage.
        f.t.clients->update("acme", test::limitPatch(1));
        r = f.admit("acme", "CA4");
        CHECK(r.refusal == Refusal::client_limit_reached);
        CHECK_FALSE(r.botShortage);
        CHECK_FALSE(r.retryAfterMs.has_value());
        CHECK(shortages.size() == 2);
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("a ready bot goes with the call and becomes busy") {
        Fx f;
        f.t.clients->create("acme", botClient());
        f.bot("b1", "acme");
        f.warm("b1");
        f.advance(kSecond);
        auto r = f.admit("acme", "CA1");
        REQUIRE(r.outcome == AdmitResult::Outcome::admitted);
        CHECK(r.call->botId == std::optional<std::string>("b1"));
        CHECK_FALSE(r.botShortage);
        const auto b = f.get("b1");
        CHECK(std::string(db::nameOf(b.state)) == "busy");
        CHECK(b.activeCalls == 1);
        CHECK_FALSE(b.idleUntil.has_value());
        CHECK(b.stateChangedAt == f.now());
        CHECK(b.stateReason == "took call " + std::to_string(r.call->id));
        CHECK(scalarText(f.t, "SELECT bot_id FROM calls WHERE id = " +
                                  std::to_string(r.call->id)) == "b1");
        CHECK(scalarText(f.t, "SELECT reason FROM call_events ORDER BY id DESC LIMIT 1") ==
              "bot b1");
        CHECK(f.lastBotEvent("b1", "from_state || '>' || to_state || ' ' || active_calls") ==
              "ready>busy 1");
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("calls are packed onto the busiest bot with room; none beyond capacity") {
        Fx f;
        f.t.clients->create("acme", botClient());
        SUBCASE("one bot of capacity 2") {
            f.bot("b1", "acme", 2);
            f.warm("b1");
            CHECK(f.admitted("acme", "CA1").botId == std::optional<std::string>("b1"));
            CHECK(f.admitted("acme", "CA2").botId == std::optional<std::string>("b1"));
            CHECK(activeCalls(f, "b1") == 2);
            auto r = f.admit("acme", "CA3");
            CHECK(r.refusal == Refusal::bot_unavailable);
            CHECK(activeCalls(f, "b1") == 2);
            CHECK(test::clientActive(f.t, "acme") == 2);
        }
        SUBCASE("two bots: the busier one first, whatever its id") {
            f.bot("pa", "acme", 2);
            f.bot("pb", "acme", 2);
            f.warm("pa");
            f.warm("pb");
            const auto c1 = f.admitted("acme", "CA1");
            const auto c2 = f.admitted("acme", "CA2");
            const auto c3 = f.admitted("acme", "CA3");
            CHECK(c1.botId == std::optional<std::string>("pa"));  // a tie: by id
            CHECK(c2.botId == std::optional<std::string>("pa"));  // packed
            CHECK(c3.botId == std::optional<std::string>("pb"));  // pa is full
            f.t.lifecycle->end(test::endReq(c1.id));
            f.t.lifecycle->end(test::endReq(c2.id));
            REQUIRE(f.state("pa") == "ready");
            // pb carries a call and has room: it, not the idle pa, gets the next.
            CHECK(f.admitted("acme", "CA4").botId == std::optional<std::string>("pb"));
            CHECK(f.state("pa") == "ready");
            CHECK(f.admitted("acme", "CA5").botId == std::optional<std::string>("pa"));
            CHECK(f.admitted("acme", "CA6").botId == std::optional<std::string>("pa"));
            CHECK(f.admit("acme", "CA7").refusal == Refusal::bot_unavailable);
        }
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("own bots come before shared ones; a shared bot serves any client") {
        Fx f;
        f.t.clients->create("acme", botClient());
        f.t.clients->create("beta", botClient());
        f.bot("own", "acme");
        f.bots.put("sh", botConfig(std::nullopt, 2, urlOf("sh")));
        f.warm("sh");  // claimed for acme's pool (own cold bots are skipped by the URL filter)
        f.warm("own");
        CHECK(f.get("sh").poolClientId == std::optional<std::string>("acme"));

        CHECK(f.admitted("acme", "A1").botId == std::optional<std::string>("own"));
        // beta has no bots of its own: the shared one.
        CHECK(f.admitted("beta", "B1").botId == std::optional<std::string>("sh"));
        CHECK(f.get("sh").poolClientId == std::optional<std::string>("beta"));
        // acme's own bot is full: the shared one, which now carries both clients.
        CHECK(f.admitted("acme", "A2").botId == std::optional<std::string>("sh"));
        CHECK(activeCalls(f, "sh") == 2);
        CHECK(f.admit("beta", "B2").refusal == Refusal::bot_unavailable);
        CHECK(f.admit("acme", "A3").refusal == Refusal::bot_unavailable);
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("another client's bot is never given to a call") {
        Fx f;
        f.t.clients->create("acme", botClient());
        f.t.clients->create("beta", botClient());
        f.bot("betabot", "beta", 5);
        f.warm("betabot");
        CHECK(f.admit("acme", "A1").refusal == Refusal::bot_unavailable);
        CHECK(activeCalls(f, "betabot") == 0);
    }

    TEST_CASE("a ready bot past its idle TTL is not assigned, even before the scheduler cools it") {
        Fx f;
        auto patch = botClient();
        patch.warmPool->warmTtlS = 60;
        f.t.clients->create("acme", patch);
        f.bot("b1", "acme");
        f.warm("b1");
        const int64_t idleUntil = *f.get("b1").idleUntil;
        REQUIRE(idleUntil == f.now() + 60 * kSecond);

        f.t.clock.setMs(idleUntil - 1);
        const auto call = f.admitted("acme", "CA1");  // still warm: 1 ms left
        CHECK(call.botId == std::optional<std::string>("b1"));
        f.t.lifecycle->end(test::endReq(call.id));
        const int64_t again = *f.get("b1").idleUntil;
        CHECK(again == f.now() + 60 * kSecond);  // idle again, TTL from the end

        f.t.clock.setMs(again);
        auto r = f.admit("acme", "CA2");
        CHECK(r.refusal == Refusal::bot_unavailable);
        CHECK(r.botShortage);
        CHECK(f.state("b1") == "ready");  // stale, but not the admission's job to change
        CHECK(activeCalls(f, "b1") == 0);
    }

    TEST_CASE("observe mode: admitted without a bot when none is warm, and flagged") {
        Fx f;
        auto patch = botClient();
        patch.mode = db::ClientMode::observe;
        f.t.clients->create("obs", patch);
        f.bot("b1", "obs");
        int shortages = 0;
        f.t.admission->onBotShortage([&](const std::string&) { ++shortages; });

        auto r = f.admit("obs", "O1");
        REQUIRE(r.outcome == AdmitResult::Outcome::admitted);
        CHECK_FALSE(r.call->botId.has_value());
        CHECK(r.call->holdsSlot);
        CHECK(r.botShortage);
        CHECK(shortages == 1);
        CHECK(f.t.clients->find("obs")->flaggedTotal == 1);
        CHECK(f.t.clients->find("obs")->refusedTotal == 0);
        CHECK(scalarText(f.t, "SELECT reason FROM call_events ORDER BY id DESC LIMIT 1") ==
              "observe mode: enforce would refuse: bot_unavailable");

        // With a warm bot, observe mode takes it like enforce mode does.
        f.warm("b1");
        r = f.admit("obs", "O2");
        CHECK(r.call->botId == std::optional<std::string>("b1"));
        CHECK(f.t.clients->find("obs")->flaggedTotal == 1);
        CHECK(shortages == 1);
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("re-admitting the same external id returns the same call and bot, counted once") {
        Fx f;
        f.t.clients->create("acme", botClient());
        f.bot("b1", "acme", 2);
        f.warm("b1");
        const auto first = f.admitted("acme", "CA1");
        REQUIRE(first.botId == std::optional<std::string>("b1"));
        for (int i = 0; i < 3; ++i) {
            auto r = f.admit("acme", "CA1");
            CHECK(r.outcome == AdmitResult::Outcome::existing);
            CHECK(r.call->id == first.id);
            CHECK(r.call->botId == first.botId);
        }
        CHECK(activeCalls(f, "b1") == 1);
        CHECK(test::clientActive(f.t, "acme") == 1);

        // Even when the bot is full now, the retry gets its call back.
        f.admitted("acme", "CA2");
        REQUIRE(activeCalls(f, "b1") == 2);
        auto r = f.admit("acme", "CA1");
        CHECK(r.outcome == AdmitResult::Outcome::existing);
        CHECK(r.call->botId == first.botId);
        CHECK(activeCalls(f, "b1") == 2);
        CHECK(f.t.clients->find("acme")->refusedTotal == 0);
        CHECK_INVARIANTS(f.t);
    }
}

TEST_SUITE("bot capacity comes back exactly once") {
    TEST_CASE("each way a call ends gives its bot back one unit, once") {
        Fx f;
        auto patch = botClient();
        patch.warmPool->warmTtlS = 120;
        f.t.clients->create("acme", patch);
        f.bot("b1", "acme", 2);
        f.warm("b1");
        const auto c1 = f.admitted("acme", "CA1");
        const auto c2 = f.admitted("acme", "CA2");
        REQUIRE(activeCalls(f, "b1") == 2);
        f.advance(kSecond);

        // After the first of the two calls ended, and after the second.
        const auto oneLeft = [&] {
            CHECK(activeCalls(f, "b1") == 1);
            CHECK(f.state("b1") == "busy");
            CHECK_FALSE(f.get("b1").idleUntil.has_value());
        };
        const auto idle = [&](int64_t endedAt) {
            const auto b = f.get("b1");
            CHECK(b.activeCalls == 0);
            CHECK(std::string(db::nameOf(b.state)) == "ready");
            CHECK(b.idleUntil == std::optional<int64_t>(endedAt + 120 * kSecond));
            CHECK(b.stateChangedAt == endedAt);
            CHECK(f.history("b1") ==
                  "NULL>cold, cold>warming, warming>ready, ready>busy, "
                  "busy>ready");
        };

        SUBCASE("ended by hand, then ended again") {
            CHECK(f.t.lifecycle->end(test::endReq(c1.id)).outcome == EventOutcome::applied);
            oneLeft();
            CHECK(f.t.lifecycle->end(test::endReq(c1.id)).outcome == EventOutcome::after_end);
            oneLeft();
            f.advance(2 * kSecond);
            auto r = f.t.lifecycle->end(test::endReq(c2.id));
            REQUIRE(r.outcome == EventOutcome::applied);
            idle(*r.call->endedAt);
            f.advance(kSecond);
            CHECK(f.t.lifecycle->end(test::endReq(c2.id)).outcome == EventOutcome::after_end);
            idle(*r.call->endedAt);
        }
        SUBCASE("terminal status events, repeated and contradicted") {
            f.t.lifecycle->applyStatus(test::statusEvent(c1.id, db::CallState::in_progress));
            CHECK(activeCalls(f, "b1") == 2);  // answered, not ended: nothing released yet
            CHECK(f.t.lifecycle->applyStatus(test::statusEvent(c1.id, db::CallState::completed))
                      .outcome == EventOutcome::applied);
            oneLeft();
            CHECK(f.t.lifecycle->applyStatus(test::statusEvent(c1.id, db::CallState::completed))
                      .outcome != EventOutcome::applied);
            CHECK(f.t.lifecycle->applyStatus(test::statusEvent(c1.id, db::CallState::failed))
                      .outcome != EventOutcome::applied);
            CHECK(f.t.lifecycle->end(test::endReq(c1.id)).outcome == EventOutcome::after_end);
            oneLeft();
            auto busy = test::statusEvent(c2.id, db::CallState::busy);
            busy.eventId = "EV-1";
            auto r = f.t.lifecycle->applyStatus(busy);
            REQUIRE(r.outcome == EventOutcome::applied);
            idle(*r.call->endedAt);
            f.advance(kSecond);
            CHECK(f.t.lifecycle->applyStatus(busy).outcome == EventOutcome::duplicate);
            CHECK(f.t.lifecycle->applyStatus(test::statusEvent(c2.id, db::CallState::no_answer))
                      .outcome != EventOutcome::applied);
            idle(*r.call->endedAt);
        }
        SUBCASE("the reaper times them out") {
            // Ring timeout 60 s since the admission; the bot TTL runs from the timeout.
            f.t.clock.setMs(*c1.expiresAt);
            CHECK(f.t.lifecycle->reapExpired(10) == 2);
            idle(f.now());
            f.advance(kSecond);
            CHECK(f.t.lifecycle->reapExpired(10) == 0);
            CHECK(f.t.lifecycle->end(test::endReq(c1.id)).outcome == EventOutcome::after_end);
            idle(*c1.expiresAt);
        }
        CHECK(test::clientActive(f.t, "acme") == test::liveSlotted(f.t, "acme"));
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("a shared bot's idle TTL is that of the client whose call it carried last") {
        Fx f;
        auto a = botClient();
        a.warmPool->warmTtlS = 30;
        f.t.clients->create("acme", a);
        auto b = botClient();
        b.warmPool->warmTtlS = 900;
        f.t.clients->create("beta", b);
        f.bots.put("sh", botConfig(std::nullopt, 1, urlOf("sh")));
        f.warm("sh");  // for acme: acme's 30 s
        CHECK(f.get("sh").idleUntil == std::optional<int64_t>(f.now() + 30 * kSecond));
        const auto call = f.admitted("beta", "B1");
        f.advance(kSecond);
        f.t.lifecycle->end(test::endReq(call.id));
        CHECK(f.get("sh").idleUntil == std::optional<int64_t>(f.now() + 900 * kSecond));
        CHECK(f.get("sh").poolClientId == std::optional<std::string>("beta"));
        CHECK_INVARIANTS(f.t);
    }
}

TEST_SUITE("bot guard under raw SQL") {
    // acme and beta need bots; plain does not; obs needs them in observe mode.
    struct RawFixture {
        RawFixture() {
            f.t.clients->create("acme", botClient(5));
            f.t.clients->create("beta", botClient(5));
            f.t.clients->create("plain", test::limitPatch(5));
            auto obs = botClient(5);
            obs.mode = db::ClientMode::observe;
            f.t.clients->create("obs", obs);
            f.bot("full", "acme", 1);
            f.bot("roomy", "acme", 2);
            f.bot("cold1", "acme");
            f.bot("betabot", "beta");
            f.warm("full");
            f.warm("roomy");
            f.warm("betabot");
            fullCall = f.admitted("acme", "E1");
            REQUIRE(fullCall.botId == std::optional<std::string>("full"));
        }
        // A hand-written live call, on the next free slot numbers (or none).
        std::string insert(const std::string& client, const std::string& external,
                           const std::optional<std::string>& bot, bool slot = true,
                           std::optional<int64_t> updatedAt = std::nullopt) {
            const int64_t at = updatedAt.value_or(f.now());
            std::string clientSlot = "NULL", globalSlot = "NULL";
            if (slot) {
                clientSlot = std::to_string(
                    scalar(raw,
                           "SELECT coalesce(max(client_slot), 0) + 1 FROM calls WHERE ended_at IS "
                           "NULL AND client_id = " +
                               quoted(client)));
                globalSlot = std::to_string(
                    scalar(raw,
                           "SELECT coalesce(max(global_slot), 0) + 1 FROM calls WHERE ended_at IS "
                           "NULL"));
            }
            // v4: the bot's next capacity slot, as the engine would take it.
            const std::string botSlot =
                bot ? std::to_string(scalar(raw,
                                            "SELECT coalesce(max(bot_slot), 0) + 1 FROM calls "
                                            "WHERE ended_at IS NULL AND bot_id = " +
                                                quoted(*bot)))
                    : "NULL";
            return tryExec(raw,
                           "INSERT INTO calls (client_id, external_id, state, client_slot, "
                           "global_slot, created_at, admitted_at, updated_at, expires_at, bot_id, "
                           "bot_slot) "
                           "VALUES (" +
                               quoted(client) + ", " + quoted(external) + ", 'reserved', " +
                               clientSlot + ", " + globalSlot + ", " + std::to_string(at) + ", " +
                               std::to_string(at) + ", " + std::to_string(at) + ", " +
                               std::to_string(at + 60'000) + ", " + (bot ? quoted(*bot) : "NULL") +
                               ", " + botSlot + ")");
        }
        int64_t callsNamed(const std::string& external) {
            return scalar(raw,
                          "SELECT count(*) FROM calls WHERE external_id = " + quoted(external));
        }
        Fx f;
        SQLite::Database raw = openRaw(f.t.options.path);
        db::Call fullCall;
    };

    TEST_CASE("raw live calls: only a warm bot of the client (or shared) with room") {
        RawFixture x;
        auto& f = x.f;
        SUBCASE("a ready bot of the client with room: accepted, and it becomes busy") {
            CHECK(x.insert("acme", "R1", "roomy") == "");
            CHECK(f.state("roomy") == "busy");
            CHECK(activeCalls(f, "roomy") == 1);
            CHECK(test::clientActive(f.t, "acme") == 2);
        }
        SUBCASE("over the bot's capacity") {
            // The next slot (2) is beyond capacity 1: the slot guard refuses.
            const auto e = x.insert("acme", "R1", "full");
            INFO(e);
            CHECK(contains(e, "capacity slots"));
            CHECK(x.callsNamed("R1") == 0);
            CHECK(activeCalls(f, "full") == 1);
            CHECK(test::clientActive(f.t, "acme") == 1);
        }
        SUBCASE("a reset bot counter cannot make room (issue 9 section 4)") {
            // The shell edit that once let a capacity-1 bot take a second
            // call. It is one step, so the counter guard lets it through;
            // the bot's capacity slots are what hold.
            REQUIRE(tryExec(x.raw,
                            "UPDATE bots SET active_calls = 0, state = 'ready', "
                            "idle_until = 9000000000000000 WHERE id = 'full'") == "");
            // A jump is refused outright.
            CHECK(contains(tryExec(x.raw, "UPDATE bots SET active_calls = 5 WHERE id = 'roomy'"),
                           "kept by calltrack"));
            for (const char* slot : {"1", "2"}) {
                const auto e = tryExec(
                    x.raw,
                    std::string("INSERT INTO calls (client_id, external_id, state, client_slot, "
                                "global_slot, created_at, admitted_at, updated_at, expires_at, "
                                "bot_id, bot_slot) VALUES ('acme', 'R9', 'reserved', 2, 2, ") +
                        std::to_string(f.now()) + ", " + std::to_string(f.now()) + ", " +
                        std::to_string(f.now()) + ", " + std::to_string(f.now() + 60'000) +
                        ", 'full', " + slot + ")");
                INFO(e);
                CHECK(contains(e, "bot_unavailable"));
            }
            CHECK(x.callsNamed("R9") == 0);
            // The engine finds no room on it either, whatever its counter says.
            CHECK(f.admitted("acme", "E2").botId != std::optional<std::string>("full"));
            // check --repair puts the counter (and state) back.
            const auto changes = db::CounterRepair::run(f.t.database->writer(), f.t.clock);
            CHECK(std::find(changes.begin(), changes.end(), "bot full: active_calls 0 -> 1") !=
                  changes.end());
            CHECK(activeCalls(f, "full") == 1);
            CHECK(f.state("full") == "busy");
        }
        SUBCASE("a cold bot") {
            const auto e = x.insert("acme", "R1", "cold1");
            INFO(e);
            CHECK(contains(e, "bot_unavailable"));
            CHECK(f.state("cold1") == "cold");
            CHECK(x.callsNamed("R1") == 0);
        }
        SUBCASE("a ready bot past its idle TTL") {
            const int64_t idleUntil = *f.get("roomy").idleUntil;
            const auto e = x.insert("acme", "R1", "roomy", true, idleUntil);
            INFO(e);
            CHECK(contains(e, "bot_unavailable"));
            CHECK(x.insert("acme", "R2", "roomy", true, idleUntil - 1) == "");
        }
        SUBCASE("another client's bot") {
            const auto e = x.insert("acme", "R1", "betabot");
            INFO(e);
            CHECK(contains(e, "not this client's"));
            CHECK(f.state("betabot") == "ready");
        }
        SUBCASE("a bot that does not exist") {
            CHECK(contains(x.insert("acme", "R1", "ghost"), "bot_unavailable"));
            CHECK(contains(x.insert("plain", "R1", "ghost"), "bot_unavailable"));
        }
        SUBCASE("no bot for a client that needs one") {
            const auto e = x.insert("acme", "R1", std::nullopt);
            INFO(e);
            CHECK(contains(e, "must hold a bot"));
            CHECK(x.callsNamed("R1") == 0);
            // A client without bots_required, and observe mode, may.
            CHECK(x.insert("plain", "R2", std::nullopt) == "");
            CHECK(x.insert("obs", "R3", std::nullopt) == "");
            CHECK(x.insert("obs", "R4", std::nullopt, false) == "");
        }
        SUBCASE("an ended call may name any bot; it takes nothing") {
            CHECK(tryExec(x.raw,
                          "INSERT INTO calls (client_id, external_id, state, created_at, "
                          "updated_at, ended_at, end_reason, bot_id) VALUES ('acme', 'R1', "
                          "'completed', 1, 1, 1, 'x', 'full')") == "");
            CHECK(activeCalls(f, "full") == 1);
        }
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("a call's bot never changes and bots cannot be pushed past their CHECKs") {
        RawFixture x;
        auto& f = x.f;
        const std::string id = std::to_string(x.fullCall.id);
        for (const std::string& sql : {"UPDATE calls SET bot_id = NULL WHERE id = " + id,
                                       "UPDATE calls SET bot_id = 'roomy' WHERE id = " + id}) {
            const auto e = tryExec(x.raw, sql);
            INFO(sql << ": " << e);
            CHECK(contains(e, "never change"));
        }
        // Not on an ended call either (it would re-point its history).
        f.t.lifecycle->end(test::endReq(x.fullCall.id));
        CHECK(contains(tryExec(x.raw, "UPDATE calls SET bot_id = 'roomy' WHERE id = " + id),
                       "never change"));
        const auto plain = f.admitted("plain", "P1");
        CHECK(contains(tryExec(x.raw, "UPDATE calls SET bot_id = 'roomy' WHERE id = " +
                                          std::to_string(plain.id)),
                       "never change"));
        CHECK(activeCalls(f, "roomy") == 0);

        const auto again = f.admitted("acme", "E2");
        REQUIRE(again.botId == std::optional<std::string>("full"));
        CHECK(contains(tryExec(x.raw, "UPDATE bots SET active_calls = 2 WHERE id = 'full'"),
                       "CHECK constraint failed"));
        CHECK(contains(tryExec(x.raw, "UPDATE bots SET capacity = 0 WHERE id = 'full'"),
                       "CHECK constraint failed"));
        CHECK(contains(
            tryExec(x.raw, "UPDATE bots SET state = 'ready', idle_until = 1 WHERE id = 'full'"),
            "CHECK constraint failed"));
        CHECK(contains(tryExec(x.raw, "UPDATE bots SET state = 'warming' WHERE id = 'cold1'"),
                       "CHECK constraint failed"));
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("a bot cannot be replaced, renamed or handed to another client under its calls") {
        // REPLACE deletes the conflicting row without running DELETE triggers
        // (recursive_triggers is off), so INSERT OR REPLACE, or UPDATE OR
        // REPLACE onto its id, would remove a busy bot past bots_no_delete_busy,
        // record no 'deleted' event and leave its live calls pointing at a new
        // cold bot with a zero counter. A rename leaves them pointing at nothing.
        RawFixture x;
        auto& f = x.f;
        const std::string values =
            " (id, client_id, warmup_url, capacity, state, pool_client_id, state_changed_at, "
            "created_at, updated_at) VALUES ('full', 'acme', 'http://x.test/w', 5, 'cold', "
            "'acme', 1, 1, 1)";
        const int64_t events = scalar(x.raw, "SELECT count(*) FROM bot_events");
        for (const std::string& sql :
             {"INSERT OR REPLACE INTO bots" + values, "REPLACE INTO bots" + values,
              std::string("UPDATE OR REPLACE bots SET id = 'full' WHERE id = 'cold1'"),
              std::string("UPDATE bots SET id = 'renamed' WHERE id = 'full'"),
              std::string("UPDATE bots SET id = 'renamed' WHERE id = 'cold1'"),
              std::string("INSERT OR REPLACE INTO bots (id, warmup_url, state_changed_at, "
                          "created_at, updated_at) VALUES ('cold1', 'http://x.test/c', 1, 1, 1)"),
              std::string("UPDATE bots SET client_id = 'beta', pool_client_id = 'beta' WHERE id "
                          "= 'full'"),
              std::string("UPDATE bots SET client_id = NULL, pool_client_id = NULL WHERE id = "
                          "'full'")}) {
            const auto e = tryExec(x.raw, sql);
            INFO(sql << ": " << e);
            CHECK(contains(e, "calltrack: "));
        }
        const auto full = f.get("full");
        CHECK(std::string(db::nameOf(full.state)) == "busy");
        CHECK(full.activeCalls == 1);
        CHECK(full.capacity == 1);
        CHECK(full.clientId == std::optional<std::string>("acme"));
        CHECK(f.state("cold1") == "cold");
        CHECK(scalar(x.raw, "SELECT count(*) FROM bots") == 4);
        CHECK(scalar(x.raw, "SELECT count(*) FROM bot_events") == events);
        // An idle bot may change hands by hand; its calls, if any, are over.
        CHECK(tryExec(x.raw,
                      "UPDATE bots SET client_id = 'beta', pool_client_id = 'beta' WHERE "
                      "id = 'cold1'") == "");
        // And the call still gives its capacity back when it ends.
        f.t.lifecycle->end(test::endReq(x.fullCall.id));
        CHECK(f.state("full") == "ready");
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("bot_events rows cannot be replaced either") {
        RawFixture x;
        const int64_t events = scalar(x.raw, "SELECT count(*) FROM bot_events");
        const std::string first = scalarText(x.raw,
                                             "SELECT bot_id || ' ' || to_state FROM "
                                             "bot_events WHERE id = 1");
        for (const char* verb : {"INSERT OR REPLACE", "REPLACE"}) {
            const auto e = tryExec(x.raw, std::string(verb) +
                                              " INTO bot_events (id, at, bot_id, to_state, "
                                              "active_calls) VALUES (1, 1, 'forged', 'cold', 0)");
            INFO(std::string(verb) << ": " << e);
            CHECK(contains(e, "append-only"));
        }
        CHECK(scalar(x.raw, "SELECT count(*) FROM bot_events") == events);
        CHECK(scalarText(x.raw, "SELECT bot_id || ' ' || to_state FROM bot_events WHERE id = 1") ==
              first);
        // A new row with a fresh id is an append: allowed.
        CHECK(tryExec(x.raw,
                      "INSERT INTO bot_events (at, bot_id, to_state, active_calls) VALUES "
                      "(1, 'note', 'cold', 0)") == "");
    }

    TEST_CASE("bot_events is append-only and a busy bot cannot be deleted") {
        RawFixture x;
        auto& f = x.f;
        const int64_t events = scalar(x.raw, "SELECT count(*) FROM bot_events");
        REQUIRE(events > 0);
        CHECK(contains(tryExec(x.raw, "UPDATE bot_events SET reason = 'x'"), "append-only"));
        CHECK(contains(tryExec(x.raw, "DELETE FROM bot_events"), "append-only"));
        CHECK(contains(tryExec(x.raw, "DELETE FROM bot_events WHERE bot_id = 'cold1'"),
                       "append-only"));
        CHECK(scalar(x.raw, "SELECT count(*) FROM bot_events") == events);

        const auto e = tryExec(x.raw, "DELETE FROM bots WHERE id = 'full'");
        INFO(e);
        CHECK(contains(e, "bot_busy"));
        CHECK(f.bots.find("full").has_value());
        CHECK(contains(tryExec(x.raw, "DELETE FROM bots"), "bot_busy"));
        CHECK(scalar(x.raw, "SELECT count(*) FROM bots") == 4);
        // An idle bot can go, and its going is recorded.
        CHECK(tryExec(x.raw, "DELETE FROM bots WHERE id = 'cold1'") == "");
        CHECK(f.lastBotEvent("cold1", "from_state || '>' || to_state") == "cold>deleted");
        CHECK_INVARIANTS(f.t);
    }
}

TEST_SUITE("warm pool target") {
    TEST_CASE("target = min(max_warm, usable, max(min_warm, ceil(need / capacity) + headroom))") {
        Fx f;
        // Three live calls admitted before the client needed bots: demand 3.
        f.t.clients->create("acme", test::limitPatch(20));
        for (int i = 0; i < 3; ++i) f.admitted("acme", "L" + std::to_string(i));
        db::ClientPatch on = policy(0, 1, std::nullopt);
        on.botsRequired = true;
        f.t.clients->update("acme", on);
        for (const auto& [id, capacity] : std::initializer_list<std::pair<const char*, int>>{
                 {"a1", 2}, {"a2", 2}, {"a3", 3}, {"a4", 2}, {"a5", 2}}) {
            f.bot(id, "acme", capacity);
        }
        f.t.clients->create("beta", botClient());
        f.bot("b1", "beta");  // not acme's: not usable by it

        auto s = f.pool("acme");
        CHECK(s.activeCalls == 3);
        CHECK(s.unmetDemand == 0);
        CHECK(s.usableBots == 5);
        CHECK(s.capacityPerBot == 2);  // the smallest
        CHECK(s.coldAvailable == 5);
        CHECK(s.target == 3);  // ceil(3 / 2) + 1
        INFO(s.why);
        CHECK(s.why ==
              "target 3: demand 3 calls (3 live + 0 refused bot_unavailable in the last minute) "
              "-> 2 bots of capacity 2 + headroom 1 = 3");

        f.t.clients->update("acme", policy(4, 0, std::nullopt));
        s = f.pool("acme");
        CHECK(s.target == 4);
        CHECK(contains(s.why, "= 2; raised to min_warm 4"));

        f.t.clients->update("acme", policy(1, 5, 4));
        s = f.pool("acme");
        CHECK(s.target == 4);
        CHECK(contains(s.why, "+ headroom 5 = 7; capped by max_warm 4"));

        f.t.clients->update("acme", policy(0, 10, std::nullopt));
        s = f.pool("acme");
        CHECK(s.target == 5);
        CHECK(contains(s.why, "only 5 bots can serve this client"));

        // A shared bot is usable too, and its capacity counts toward the smallest.
        f.bots.put("sh", botConfig(std::nullopt, 1, urlOf("sh")));
        f.t.clients->update("acme", policy(0, 1, std::nullopt));
        s = f.pool("acme");
        CHECK(s.usableBots == 6);
        CHECK(s.capacityPerBot == 1);
        CHECK(s.target == 4);  // ceil(3 / 1) + 1

        f.t.clients->update("acme", policy(0, 0, std::nullopt));
        CHECK(f.pool("acme").target == 3);

        db::ClientPatch off;
        off.botsRequired = false;
        f.t.clients->update("acme", off);
        s = f.pool("acme");
        CHECK(s.target == 0);
        CHECK(contains(s.why, "bots_required is off"));
        CHECK(test::thrownBy([&] { f.pool("ghost"); }).code == db::ErrorCode::not_found);
    }

    TEST_CASE("a schedule raises the target from starts_at - lead_time until ends_at") {
        Fx f;
        auto patch = botClient();
        patch.warmPool = policy(0, 1, std::nullopt).warmPool;
        patch.warmPool->leadTimeS = 120;
        f.t.clients->create("acme", patch);
        for (int i = 1; i <= 6; ++i) f.bot("w" + std::to_string(i), "acme");
        const int64_t t0 = f.now();
        const int64_t startsAt = t0 + 600 * kSecond, endsAt = t0 + 1200 * kSecond;
        const auto sched = f.schedules.add("acme", startsAt, endsAt, 4);
        CHECK(sched.id > 0);
        CHECK(sched.createdAt == t0);
        f.schedules.add("acme", endsAt + 3600 * kSecond, endsAt + 7200 * kSecond, 50);  // later

        CHECK(f.pool("acme").target == 1);
        f.t.clock.setMs(startsAt - 120 * kSecond - 1);
        CHECK(f.pool("acme").scheduledConcurrency == 0);
        CHECK(f.pool("acme").target == 1);
        CHECK(f.plan().jobs.size() == 1);

        f.t.clock.setMs(startsAt - 120 * kSecond);
        auto s = f.pool("acme");
        CHECK(s.scheduledConcurrency == 4);
        CHECK(s.target == 5);
        INFO(s.why);
        CHECK(contains(s.why, "scheduled 4 -> 4 bots of capacity 1 + headroom 1 = 5"));
        CHECK(f.plan().jobs.size() == 4);  // one was already warming
        CHECK(f.pool("acme").warming == 5);

        f.t.clock.setMs(endsAt - 1);
        CHECK(f.pool("acme").scheduledConcurrency == 4);
        f.t.clock.setMs(endsAt);
        s = f.pool("acme");
        CHECK(s.scheduledConcurrency == 0);
        CHECK(s.target == 1);

        const auto upcoming = f.schedules.upcoming("acme");
        REQUIRE(upcoming.size() == 1);
        CHECK(upcoming[0].expectedConcurrency == 50);
        f.schedules.remove("acme", upcoming[0].id);
        CHECK(f.schedules.upcoming("acme").empty());
        CHECK(test::thrownBy([&] { f.schedules.remove("acme", upcoming[0].id); }).code ==
              db::ErrorCode::not_found);
    }

    TEST_CASE("a schedule is validated") {
        Fx f;
        f.t.clients->create("acme", botClient());
        const int64_t t0 = f.now();
        const auto code = [&](int64_t s, int64_t e, int64_t n, const std::string& client = "acme") {
            return test::thrownBy([&] { f.schedules.add(client, s, e, n); }).code;
        };
        CHECK(code(t0 + 10, t0 + 10, 1) == db::ErrorCode::invalid_argument);
        CHECK(code(t0 + 10, t0 + 5, 1) == db::ErrorCode::invalid_argument);
        CHECK(code(t0 - 100, t0, 1) == db::ErrorCode::invalid_argument);  // over already
        CHECK(code(t0, t0 + 10, 0) == db::ErrorCode::invalid_argument);
        CHECK(code(t0, t0 + 10, 1'000'001) == db::ErrorCode::invalid_argument);
        CHECK(code(t0, t0 + 32 * 86'400'000LL, 1) == db::ErrorCode::invalid_argument);
        CHECK(code(t0, t0 + 10, 1, "ghost") == db::ErrorCode::not_found);
        CHECK_FALSE(code(t0 - 100, t0 + 1, 1).has_value());  // started, not over
        CHECK(scalar(f.t, "SELECT count(*) FROM demand_schedules") == 1);
    }

    TEST_CASE("calls refused for want of a bot in the last minute raise the target") {
        Fx f;
        auto patch = botClient();
        patch.warmPool = policy(0, 1, std::nullopt).warmPool;
        f.t.clients->create("acme", patch);
        f.t.clients->create("beta", test::limitPatch(0));
        for (int i = 1; i <= 6; ++i) f.bot("w" + std::to_string(i), "acme");
        REQUIRE(f.pool("acme").target == 1);

        for (const char* external : {"X1", "X2", "X2", "X3"})
            REQUIRE(f.admit("acme", external).refusal == Refusal::bot_unavailable);
        f.admit("beta", "Y1");  // another client, another reason: not acme's demand
        auto s = f.pool("acme");
        CHECK(s.unmetDemand == 3);  // distinct external ids
        CHECK(s.target == 4);
        INFO(s.why);
        CHECK(contains(s.why, "demand 3 calls (0 live + 3 refused bot_unavailable"));

        // X1 comes back and is admitted: live now, not unmet.
        f.advance(10 * kSecond);
        f.warm("w1");
        CHECK(f.admitted("acme", "X1").botId == std::optional<std::string>("w1"));
        s = f.pool("acme");
        CHECK(s.activeCalls == 1);
        CHECK(s.unmetDemand == 2);
        CHECK(s.target == 4);

        // A minute after the refusals they no longer count.
        f.advance(50 * kSecond - 1);
        CHECK(f.pool("acme").unmetDemand == 2);
        f.advance(1);
        s = f.pool("acme");
        CHECK(s.unmetDemand == 0);
        CHECK(s.target == 2);  // 1 live + headroom 1
    }
}

TEST_SUITE("warm-up claims") {
    TEST_CASE("plan claims no more than maxJobs and no more than the shortfall") {
        Fx f;
        auto patch = botClient();
        patch.warmPool = policy(4, 1, std::nullopt).warmPool;
        f.t.clients->create("acme", patch);
        for (int i = 1; i <= 6; ++i) f.bot("w" + std::to_string(i), "acme", 1, 2000 + i);
        int n = 0;
        db::PlanOptions o;
        o.newAttemptId = [&] { return "att-" + std::to_string(++n); };

        o.maxJobs = 3;
        auto r = f.claims.plan(o);
        REQUIRE(r.jobs.size() == 3);
        REQUIRE(r.pools.size() == 1);
        CHECK(r.pools[0].target == 4);
        CHECK(r.pools[0].warming == 0);  // as it was before the claims
        for (int i = 0; i < 3; ++i) {
            const auto& job = r.jobs[static_cast<size_t>(i)];
            CAPTURE(i);
            CHECK(job.botId == "w" + std::to_string(i + 1));
            CHECK(job.url == urlOf(job.botId));
            CHECK(job.timeoutMs == 2001 + i);
            CHECK(job.attemptId == "att-" + std::to_string(i + 1));
            CHECK(job.forClient == "acme");
            CHECK_FALSE(job.refresh);
            CHECK(job.failuresBefore == 0);
            const auto b = f.get(job.botId);
            CHECK(std::string(db::nameOf(b.state)) == "warming");
            CHECK(b.attemptId == job.attemptId);
            CHECK(b.warmingUntil ==
                  std::optional<int64_t>(f.now() + db::WarmupClaims::warmingGraceMs(2001 + i)));
            CHECK(f.lastBotEvent(job.botId, "from_state || '>' || to_state || ' ' || attempt_id") ==
                  "cold>warming " + job.attemptId);
        }
        r = f.claims.plan(o);
        REQUIRE(r.jobs.size() == 1);  // 3 warming count toward the 4
        CHECK(r.jobs[0].botId == "w4");
        CHECK(f.claims.plan(o).jobs.empty());
        o.maxJobs = 0;
        f.t.clients->update("acme", policy(6, 1, std::nullopt));
        CHECK(f.claims.plan(o).jobs.empty());
        CHECK(f.state("w5") == "cold");
        CHECK(scalar(f.t, "SELECT count(*) FROM bots WHERE state = 'warming'") == 4);
    }

    TEST_CASE("max_warm caps the claims; own cold bots are claimed before shared ones") {
        Fx f;
        auto patch = botClient();
        patch.warmPool = policy(2, 1, 2).warmPool;
        f.t.clients->create("acme", patch);
        f.bots.put("a-shared", botConfig(std::nullopt, 1, urlOf("a-shared")));
        f.bot("z-own", "acme");
        f.bot("y-own", "acme");
        auto r = f.plan();
        REQUIRE(r.jobs.size() == 2);
        CHECK(r.jobs[0].botId == "y-own");
        CHECK(r.jobs[1].botId == "z-own");
        CHECK(f.state("a-shared") == "cold");

        f.t.clients->update("acme", policy(3, 1, 3));
        r = f.plan();
        REQUIRE(r.jobs.size() == 1);
        CHECK(r.jobs[0].botId == "a-shared");
        CHECK(f.get("a-shared").poolClientId == std::optional<std::string>("acme"));
    }

    TEST_CASE("plan skips bots in flight and endpoints the breaker holds open") {
        Fx f;
        auto patch = botClient();
        patch.warmPool = policy(3, 0, std::nullopt).warmPool;
        f.t.clients->create("acme", patch);
        for (int i = 1; i <= 3; ++i) f.bot("w" + std::to_string(i), "acme");
        const std::string blocked = urlOf("w2");
        auto r = f.plan(10, {"w1"}, [&](const std::string& url) { return url != blocked; });
        REQUIRE(r.jobs.size() == 1);
        CHECK(r.jobs[0].botId == "w3");
        CHECK(f.state("w1") == "cold");
        CHECK(f.state("w2") == "cold");
        r = f.plan(10);
        CHECK(r.jobs.size() == 2);
    }

    TEST_CASE("success makes a bot ready; failure backs it off until retry_at") {
        Fx f;
        auto patch = botClient();
        patch.warmPool = policy(1, 0, std::nullopt, 300).warmPool;
        f.t.clients->create("acme", patch);
        f.bot("w1", "acme");
        auto job = f.claim("w1");
        f.advance(700);
        REQUIRE(f.claims.recordFailure(job, "timed out after 10000 ms", f.now() + 30 * kSecond));
        auto b = f.get("w1");
        CHECK(std::string(db::nameOf(b.state)) == "failed");
        CHECK(b.retryAt == std::optional<int64_t>(f.now() + 30 * kSecond));
        CHECK(b.failures == 1);
        CHECK(b.stateReason ==
              std::optional<std::string>("warm-up failed: timed out after 10000 ms"));
        CHECK_FALSE(b.warmingUntil.has_value());
        CHECK(f.pool("acme").failed == 1);

        f.advance(30 * kSecond - 1);
        CHECK(f.plan().jobs.empty());
        f.advance(1);
        auto r = f.plan();
        REQUIRE(r.jobs.size() == 1);
        CHECK(r.jobs[0].failuresBefore == 1);
        // A second failure, with a back-off already over: retried at once.
        REQUIRE(f.claims.recordFailure(r.jobs[0], "HTTP 502", f.now() - 5));
        CHECK(f.get("w1").retryAt == std::optional<int64_t>(f.now()));
        CHECK(f.get("w1").failures == 2);
        r = f.plan();
        REQUIRE(r.jobs.size() == 1);
        CHECK(r.jobs[0].failuresBefore == 2);

        f.advance(1500);
        REQUIRE(f.claims.recordSuccess(r.jobs[0], 1500));
        b = f.get("w1");
        CHECK(std::string(db::nameOf(b.state)) == "ready");
        CHECK(b.failures == 0);
        CHECK(b.lastWarmupMs == std::optional<int64_t>(1500));
        CHECK(b.idleUntil == std::optional<int64_t>(f.now() + 300 * kSecond));
        CHECK_FALSE(b.retryAt.has_value());
        CHECK(b.stateReason == std::optional<std::string>("warmed in 1500 ms"));
        CHECK(f.plan().jobs.empty());  // target 1 met
    }

    TEST_CASE("a stale or repeated outcome changes nothing and says so") {
        Fx f;
        auto patch = botClient();
        patch.warmPool = policy(1, 0, std::nullopt).warmPool;
        f.t.clients->create("acme", patch);
        f.bot("w1", "acme", 1, 1000);
        const auto job = f.claim("w1");
        const auto version = f.get("w1").version;

        auto other = job;
        other.attemptId = "wu-not-this-one";
        CHECK_FALSE(f.claims.recordSuccess(other, 10));
        CHECK_FALSE(f.claims.recordFailure(other, "x", f.now()));
        CHECK(f.state("w1") == "warming");
        CHECK(f.get("w1").version == version);

        SUBCASE("after the bot was reset by the next plan") {
            f.advance(db::WarmupClaims::warmingGraceMs(1000));
            const auto r = f.plan();
            CHECK(r.stuckReset == 1);
            REQUIRE(r.jobs.size() == 1);
            const auto retry = r.jobs[0];
            CHECK(retry.attemptId != job.attemptId);
            const auto events = f.botEvents("w1");
            CHECK_FALSE(f.claims.recordSuccess(job, 10));
            CHECK_FALSE(f.claims.recordFailure(job, "late", f.now()));
            CHECK(f.state("w1") == "warming");
            CHECK(f.get("w1").attemptId == retry.attemptId);
            CHECK(f.botEvents("w1") == events);
            CHECK(f.claims.recordSuccess(retry, 10));
            // Once recorded, the same outcome again is stale too.
            CHECK_FALSE(f.claims.recordSuccess(retry, 10));
            CHECK_FALSE(f.claims.recordFailure(retry, "late", f.now() + kSecond));
            CHECK(f.state("w1") == "ready");
            CHECK(f.botEvents("w1") == events + 1);
        }
        SUBCASE("after the bot was reset and not claimed again") {
            f.t.clients->update("acme", policy(0, 0, std::nullopt));
            f.advance(db::WarmupClaims::warmingGraceMs(1000));
            CHECK(f.plan().stuckReset == 1);
            REQUIRE(f.state("w1") == "cold");
            CHECK_FALSE(f.claims.recordSuccess(job, 10));
            CHECK_FALSE(f.claims.recordFailure(job, "late", f.now()));
            CHECK(f.state("w1") == "cold");
        }
        SUBCASE("after the bot was removed, and one of the same id registered") {
            f.bots.remove("w1");
            CHECK_FALSE(f.claims.recordSuccess(job, 10));
            f.bot("w1", "acme", 1, 1000);
            CHECK_FALSE(f.claims.recordSuccess(job, 10));
            CHECK_FALSE(f.claims.recordFailure(job, "late", f.now()));
            CHECK(f.state("w1") == "cold");
        }
        SUBCASE("after the bot was reconfigured") {
            f.bots.put("w1", botConfig("acme", 1, "http://elsewhere.test/w1"));
            REQUIRE(f.state("w1") == "cold");
            CHECK_FALSE(f.claims.recordSuccess(job, 10));
            CHECK_FALSE(f.claims.recordFailure(job, "late", f.now()));
            CHECK(f.state("w1") == "cold");
            CHECK(f.get("w1").failures == 0);
        }
    }

    TEST_CASE("a bot left warming by a dead leader goes cold at warming_until and is re-claimed") {
        Fx f;
        auto patch = botClient();
        patch.warmPool = policy(1, 0, std::nullopt).warmPool;
        f.t.clients->create("acme", patch);
        CHECK(db::WarmupClaims::warmingGraceMs(100) == 200);
        CHECK(db::WarmupClaims::warmingGraceMs(2000) == 4000);
        CHECK(db::WarmupClaims::warmingGraceMs(10'000) == 15'000);
        f.bot("w1", "acme", 1, 2000);
        const auto job = f.claim("w1");  // and then this leader dies
        REQUIRE(f.get("w1").warmingUntil == std::optional<int64_t>(f.now() + 4000));

        // A new leader, with nothing in flight.
        db::WarmupClaims next(f.t.database->writer(), f.t.clock);
        f.advance(4000 - 1);
        auto r = next.plan(db::PlanOptions{5, {}, {}, {}});
        CHECK(r.stuckReset == 0);
        CHECK(r.jobs.empty());  // still warming: counted, not re-sent
        CHECK(f.state("w1") == "warming");

        f.advance(1);
        r = next.plan(db::PlanOptions{5, {}, {}, {}});
        CHECK(r.stuckReset == 1);
        REQUIRE(r.jobs.size() == 1);
        CHECK(r.jobs[0].botId == "w1");
        CHECK(r.jobs[0].attemptId != job.attemptId);
        CHECK(f.history("w1") == "NULL>cold, cold>warming, warming>cold, cold>warming");
        CHECK(contains(scalarText(f.t,
                                  "SELECT reason FROM bot_events WHERE bot_id = 'w1' AND "
                                  "from_state = 'warming' AND to_state = 'cold'"),
                       "no warm-up result"));
        CHECK(next.recordSuccess(r.jobs[0], 300));
        CHECK(f.state("w1") == "ready");
        CHECK_FALSE(f.claims.recordSuccess(job, 300));  // the old leader's, if it ever came
    }

    TEST_CASE("an idle ready bot goes cold at the end of its TTL") {
        Fx f;
        auto patch = botClient();
        patch.warmPool = policy(1, 0, std::nullopt, 60).warmPool;
        f.t.clients->create("acme", patch);
        f.bot("w1", "acme");
        f.warm("w1");
        const int64_t idleUntil = *f.get("w1").idleUntil;
        f.t.clients->update("acme", policy(0, 0, std::nullopt, 60));  // target 0 now

        f.t.clock.setMs(idleUntil - 1);
        auto r = f.plan();
        CHECK(r.expired == 0);
        CHECK(r.jobs.empty());  // not within the target: no refresh either
        CHECK(f.state("w1") == "ready");

        f.advance(1);
        r = f.plan();
        CHECK(r.expired == 1);
        CHECK(r.jobs.empty());
        const auto b = f.get("w1");
        CHECK(std::string(db::nameOf(b.state)) == "cold");
        CHECK_FALSE(b.idleUntil.has_value());
        CHECK(b.stateChangedAt == f.now());
        CHECK(f.lastBotEvent("w1", "from_state || '>' || to_state || ' ' || reason") ==
              "ready>cold idle past its warm TTL");
        CHECK(f.plan().expired == 0);
    }

    TEST_CASE("idle ready bots above max_warm are cooled at once, the stalest first") {
        Fx f;
        auto patch = botClient();
        patch.warmPool = policy(3, 0, std::nullopt).warmPool;
        f.t.clients->create("acme", patch);
        for (const char* id : {"w1", "w2", "w3"}) {
            f.bot(id, "acme");
            f.warm(id);
            f.advance(kSecond);
        }
        SUBCASE("all idle") {
            f.t.clients->update("acme", policy(0, 0, 1));
            auto r = f.plan();
            CHECK(r.cooled == 2);
            CHECK(f.state("w1") == "cold");
            CHECK(f.state("w2") == "cold");
            CHECK(f.state("w3") == "ready");  // the freshest stays
            CHECK(f.lastBotEvent("w1", "reason") == "above max_warm 1");
            CHECK(f.plan().cooled == 0);
        }
        SUBCASE("one carries a call: only idle bots are cooled") {
            const auto call = f.admitted("acme", "CA1");
            REQUIRE(call.botId == std::optional<std::string>("w1"));
            f.t.clients->update("acme", policy(0, 0, 1));
            auto r = f.plan();
            CHECK(r.cooled == 2);
            CHECK(f.state("w1") == "busy");
            CHECK(f.state("w2") == "cold");
            CHECK(f.state("w3") == "cold");
            CHECK_INVARIANTS(f.t);
        }
    }

    TEST_CASE("a ready bot within the target is refreshed shortly before its TTL runs out") {
        Fx f;
        auto patch = botClient();
        patch.warmPool = policy(1, 0, std::nullopt, 300).warmPool;
        f.t.clients->create("acme", patch);
        f.bot("w1", "acme", 1, 10'000);
        const auto first = f.claim("w1");
        REQUIRE(f.claims.recordSuccess(first, 80));
        const int64_t idleUntil = *f.get("w1").idleUntil;
        // The margin: min(TTL / 2, timeout + 5 s) = 15 s.
        f.t.clock.setMs(idleUntil - 15'001);
        CHECK(f.plan().jobs.empty());
        f.advance(1);
        auto r = f.plan();
        REQUIRE(r.jobs.size() == 1);
        const auto job = r.jobs[0];
        CHECK(job.refresh);
        CHECK(job.botId == "w1");
        CHECK(job.attemptId != first.attemptId);
        CHECK(job.forClient == "acme");
        CHECK(f.state("w1") == "ready");
        CHECK(f.get("w1").attemptId == job.attemptId);
        // In flight: not sent twice.
        CHECK(f.plan(10, {"w1"}).jobs.empty());

        f.advance(2 * kSecond);
        SUBCASE("it answers: warm for another TTL, recorded as ready>ready") {
            const auto events = f.botEvents("w1");
            REQUIRE(f.claims.recordSuccess(job, 40));
            const auto b = f.get("w1");
            CHECK(std::string(db::nameOf(b.state)) == "ready");
            CHECK(b.idleUntil == std::optional<int64_t>(f.now() + 300 * kSecond));
            CHECK(b.lastWarmupMs == std::optional<int64_t>(40));
            CHECK(f.botEvents("w1") == events + 1);
            CHECK(f.lastBotEvent("w1",
                                 "from_state || '>' || to_state || ' ' || reason || ' ' || "
                                 "attempt_id || ' ' || active_calls || ' ' || at") ==
                  "ready>ready warm-up refreshed in 40 ms " + job.attemptId + " 0 " +
                      std::to_string(f.now()));
            f.t.clock.setMs(idleUntil + kSecond);
            CHECK(f.plan().expired == 0);
            CHECK(f.state("w1") == "ready");
        }
        SUBCASE("it fails: the bot is not warm after all") {
            REQUIRE(f.claims.recordFailure(job, "HTTP 500", f.now() + 10 * kSecond));
            const auto b = f.get("w1");
            CHECK(std::string(db::nameOf(b.state)) == "failed");
            CHECK(b.failures == 1);
            CHECK_FALSE(b.idleUntil.has_value());
            CHECK(b.retryAt == std::optional<int64_t>(f.now() + 10 * kSecond));
            CHECK(f.lastBotEvent("w1", "from_state || '>' || to_state || ' ' || reason") ==
                  "ready>failed refresh failed: HTTP 500");
            CHECK(f.admit("acme", "CA1").refusal == Refusal::bot_unavailable);
        }
        SUBCASE("it answers after the TTL ran out and the bot went cold: stale") {
            f.t.clock.setMs(idleUntil);
            f.t.clients->update("acme", policy(0, 0, std::nullopt, 300));
            CHECK(f.plan().expired == 1);
            CHECK_FALSE(f.claims.recordSuccess(job, 40));
            CHECK_FALSE(f.claims.recordFailure(job, "late", f.now()));
            CHECK(f.state("w1") == "cold");
        }
        CHECK_INVARIANTS(f.t);
    }
}

TEST_SUITE("invariant checker with bots") {
    TEST_CASE("passes after bot traffic and reports a bot whose counter is wrong") {
        Fx f;
        f.t.clients->create("acme", botClient());
        f.t.clients->create("beta", botClient());
        f.bot("b1", "acme", 3);
        f.bot("b2", "acme", 1);
        f.bots.put("sh", botConfig(std::nullopt, 2, urlOf("sh")));
        f.warm("b1");
        f.warm("b2");
        f.warm("sh");
        std::vector<db::Call> calls;
        for (int i = 0; i < 4; ++i) calls.push_back(f.admitted("acme", "A" + std::to_string(i)));
        calls.push_back(f.admitted("beta", "B0"));
        f.t.lifecycle->end(test::endReq(calls[0].id));
        f.t.lifecycle->applyStatus(test::statusEvent(calls[1].id, db::CallState::failed));
        f.advance(61 * kSecond);
        f.t.lifecycle->reapExpired(100);
        REQUIRE(f.admitted("acme", "C0").botId == std::optional<std::string>("b1"));
        const auto report = test::check(f.t);
        INFO(test::joined(report.violations));
        CHECK(report.ok());
        CHECK(contains(test::joined(report.passed),
                       "every bot's call count matches its live calls and is within its capacity"));
        CHECK(contains(test::joined(report.passed),
                       "every live call's bot exists and may serve its client"));

        // b1 carries one call (capacity 3); a counter of 2 passes the CHECKs.
        REQUIRE(scalar(f.t,
                       "SELECT count(*) FROM calls WHERE bot_id = 'b1' AND ended_at IS "
                       "NULL") == 1);
        auto raw = openRaw(f.t.options.path);
        REQUIRE(tryExec(raw, "UPDATE bots SET active_calls = 2 WHERE id = 'b1'") == "");
        const auto bad = test::check(f.t);
        CHECK_FALSE(bad.ok());
        CHECK(contains(test::joined(bad.violations),
                       "bot b1: counter says 2 calls (capacity 3), calls table has 1"));

        REQUIRE(tryExec(raw, "UPDATE bots SET active_calls = 1 WHERE id = 'b1'") == "");
        CHECK(test::check(f.t).ok());
    }
}

TEST_SUITE("schema upgrade with bots") {
    TEST_CASE("a v1 database with a live call keeps it through migrate, and bots then work") {
        test::TempDir dir;
        db::DatabaseOptions o;
        o.path = dir.file("v1.db");
        o.durability = db::Durability::normal;
        db::ManualClock clock;
        const int64_t t0 = clock.nowMs();
        {
            SQLite::Database raw(o.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
            raw.exec(readFile(std::string(CALLTRACK_SOURCE_DIR) + "/tests/schemas/v1.sql"));
            REQUIRE(scalar(raw, "PRAGMA user_version") == 1);
            raw.exec(
                "INSERT INTO clients (id, name, max_concurrent, created_at, updated_at) "
                "VALUES ('acme', 'Acme', 3, 1, 1)");
            raw.exec(
                "INSERT INTO calls (client_id, external_id, state, client_slot, global_slot, "
                "created_at, admitted_at, updated_at, expires_at) VALUES ('acme', 'OLD1', "
                "'ringing', 1, 1, " +
                std::to_string(t0) + ", " + std::to_string(t0) + ", " + std::to_string(t0) + ", " +
                std::to_string(t0 + 60'000) + ")");
            REQUIRE(scalar(raw, "SELECT active FROM clients WHERE id = 'acme'") == 1);
        }
        const auto m = db::Database::migrate(o);
        CHECK(m.fromVersion == 1);
        CHECK(m.toVersion == db::kSchemaVersion);

        db::Database database(o);
        db::ClientRegistry clients(database.writer(), database.readers(), clock);
        db::AdmissionEngine admission(database.writer(), clock);
        db::CallLifecycle lifecycle(database.writer(), clock);
        db::BotRegistry bots(database.writer(), database.readers(), clock);
        db::WarmupClaims claims(database.writer(), clock);
        const auto read = [&](const std::string& sql) {
            return database.readers().read(
                [&](db::Connection& c) { return scalar(c.handle(), sql); });
        };

        // The old call is still live and holds its slot; the client got the defaults.
        CHECK(read("SELECT count(*) FROM calls WHERE external_id = 'OLD1' AND ended_at IS NULL "
                   "AND bot_id IS NULL") == 1);
        auto acme = clients.find("acme");
        REQUIRE(acme.has_value());
        CHECK(acme->active == 1);
        CHECK_FALSE(acme->botsRequired);
        CHECK(acme->warmPool.headroom == 1);
        CHECK(acme->warmPool.warmTtlS == 300);

        // Now it needs bots: warm one through the scheduler's claims.
        db::ClientPatch on;
        on.botsRequired = true;
        clients.update("acme", on);
        bots.put("b1", botConfig("acme", 1, urlOf("b1")));
        auto refused = admission.admit(test::admitReq("acme", "NEW0"));
        CHECK(refused.refusal == Refusal::bot_unavailable);
        auto r = claims.plan(db::PlanOptions{5, {}, {}, {}});
        REQUIRE(r.jobs.size() == 1);
        REQUIRE(claims.recordSuccess(r.jobs[0], 100));
        auto a = admission.admit(test::admitReq("acme", "NEW1"));
        REQUIRE(a.outcome == AdmitResult::Outcome::admitted);
        CHECK(a.call->botId == std::optional<std::string>("b1"));
        CHECK(clients.find("acme")->active == 2);
        CHECK(admission.admit(test::admitReq("acme", "NEW2")).refusal == Refusal::bot_unavailable);

        // The old call ends without a bot to give back; the new one gives b1 back.
        db::EndRequest endOld;
        endOld.call = db::CallRef::byExternal("acme", "OLD1");
        auto oldEnd = lifecycle.end(endOld);
        CHECK(oldEnd.outcome == EventOutcome::applied);
        CHECK(read("SELECT active_calls FROM bots WHERE id = 'b1'") == 1);
        clock.advanceMs(kSecond);
        lifecycle.end(test::endReq(a.call->id));
        CHECK(read("SELECT active_calls FROM bots WHERE id = 'b1'") == 0);
        CHECK(read("SELECT state = 'ready' FROM bots WHERE id = 'b1'") == 1);
        CHECK(clients.find("acme")->active == 0);
        const auto report = database.readers().read(
            [&](db::Connection& c) { return db::InvariantChecker::run(c, clock.nowMs(), 5000); });
        INFO(test::joined(report.violations));
        CHECK(report.ok());
    }
}
