// The bot warm-up scheduler against a fake bot fleet (issue 4 §5): bounded
// parallelism, per-request timeouts, back-off, the circuit breaker, TTL
// cool-down, scheduled demand, the admission wake-up, capacity under
// concurrent admissions, and recovery from a leader that died mid-warm-up.
//
// Real database, real HTTP. Time that the scheduler reads (TTLs, back-off,
// cool-offs, schedules) is a ManualClock moved by the test; waiting for the
// network is polling the database with a generous deadline, never an
// assertion on how fast anything was. Planning passes run from the test
// thread (runOnce) as well as from the scheduler's own planner, which a
// finishing warm-up wakes; so the checks count what was dispatched
// (stats().dispatched, the fleet's requests) rather than which pass did it.

#include "api/logging/JsonLog.h"
#include "app/warmup/WarmupScheduler.h"
#include "db/bots/BotRegistry.h"
#include "db/bots/DemandSchedules.h"
#include "db/bots/WarmPoolPlanner.h"
#include "db/bots/WarmupClaims.h"
#include "db/coordination/LeaderLease.h"
#include "tests/CalltrackProcess.h"
#include "tests/FakeBotFleet.h"
#include "tests/SnapshotChecker.h"
#include "tests/TestSupport.h"

#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

namespace calltrack::app {
inline doctest::String toString(CircuitBreaker::State v) {
    return nameOf(v);
}
}  // namespace calltrack::app

using namespace calltrack;
using namespace std::chrono_literals;
using test::FakeBotFleet;
using test::scalar;
using test::scalarText;

namespace {

// Waits are for the network and other threads, never a measure of speed:
// generous, so that a slow sanitizer build on a busy machine still passes.
constexpr auto kDeadline = 20s;

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds within = kDeadline) {
    const auto until = std::chrono::steady_clock::now() + within;
    for (;;) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(5ms);
    }
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The scheduler's JSON log, kept in a file so that a failing check can show it.
struct CapturedLog {
    explicit CapturedLog(std::string path)
        : path_(std::move(path)),
          sink(std::fopen(path_.c_str(), "w")),
          log(api::LogLevel::debug, sink) {}
    ~CapturedLog() { std::fclose(sink); }
    std::string text() {
        std::fflush(sink);
        return slurp(path_);
    }
    std::string path_;
    std::FILE* sink;
    api::JsonLog log;
};

app::WarmupSchedulerOptions options(int concurrency) {
    app::WarmupSchedulerOptions o;
    o.concurrency = concurrency;
    // Planning is driven by runOnce() and by finished warm-ups waking the
    // planner, not by the timer (the test's clock does not move by itself).
    o.interval = std::chrono::hours(1);
    o.backoff = {100, 200};
    o.breaker = {100, 10'000};  // effectively off unless a test sets it
    return o;
}

// A database, a fleet, and a scheduler (not started) on the database's
// ManualClock. Members are destroyed in reverse: the scheduler stops (its
// hung requests aborted) before the fleet and the database go.
struct Rig {
    explicit Rig(app::WarmupSchedulerOptions o)
        : log(t.dir.file("scheduler.log")),
          bots(t.database->writer(), t.database->readers(), t.clock),
          schedules(t.database->writer(), t.database->readers(), t.clock),
          lease(t.database->writer(), t.clock, "bot-scheduler", "test-leader", 60'000),
          claims(t.database->writer(), t.clock),
          scheduler(claims, lease, t.clock, log.log, o) {}

    void client(const std::string& id, int64_t minWarm, int64_t headroom, int64_t ttlS = 300,
                int64_t leadS = 120, int64_t maxConcurrent = 100) {
        db::ClientPatch p;
        p.maxConcurrent = maxConcurrent;
        p.botsRequired = true;
        p.warmPool = db::ClientPatch::WarmPool{minWarm, headroom, std::nullopt, ttlS, leadS};
        t.clients->put(id, p);
    }
    // A bot of `clientId` whose warm-up URL is the fleet's `endpoint` (its own id by default).
    void bot(const std::string& id, const std::string& clientId, int64_t timeoutMs = 5000,
             int64_t capacity = 1, const std::string& endpoint = "") {
        db::BotConfig c;
        c.clientId = clientId;
        c.warmupUrl = fleet.url(endpoint.empty() ? id : endpoint);
        c.capacity = capacity;
        c.warmupTimeoutMs = timeoutMs;
        bots.put(id, c);
    }

    std::string state(const std::string& botId) {
        return scalarText(t, "SELECT state FROM bots WHERE id = '" + botId + "'");
    }
    int64_t column(const std::string& botId, const std::string& column) {
        return scalar(t, "SELECT " + column + " FROM bots WHERE id = '" + botId + "'");
    }
    int64_t inState(const std::string& state) {
        return scalar(t, "SELECT count(*) FROM bots WHERE state = '" + state + "'");
    }
    // The bot's states in order, from bot_events: "cold>warming>ready".
    std::string history(const std::string& botId) {
        return t.database->readers().read([&](db::Connection& c) {
            SQLite::Statement s(c.handle(),
                                "SELECT to_state FROM bot_events WHERE bot_id = ? ORDER BY id");
            s.bind(1, botId);
            std::string out;
            while (s.executeStep()) out += (out.empty() ? "" : ">") + s.getColumn(0).getString();
            return out;
        });
    }
    db::WarmPoolStatus pool(const std::string& clientId) {
        return t.database->readers().read([&](db::Connection& c) {
            return db::WarmPoolPlanner::statusIn(c, t.clock.nowMs(), clientId);
        });
    }
    app::WarmupScheduler::Stats stats() const { return scheduler.stats(); }

    test::TestDatabase t;
    CapturedLog log;
    FakeBotFleet fleet;
    db::BotRegistry bots;
    db::DemandSchedules schedules;
    db::LeaderLease lease;
    db::WarmupClaims claims;
    app::WarmupScheduler scheduler;
};

}  // namespace

TEST_SUITE("warm-up scheduler") {
    TEST_CASE("never more than `concurrency` warm-ups in flight, and every bot gets warm") {
        Rig r(options(3));
        r.client("acme", /*minWarm*/ 20, /*headroom*/ 0);
        std::vector<std::string> ids;
        for (int i = 0; i < 20; ++i) {
            ids.push_back("bot-" + std::to_string(100 + i));
            r.bot(ids.back(), "acme");
            r.fleet.setDelay(ids.back(), 200 + (i * 37) % 101);  // 200..300 ms
        }
        r.scheduler.start();
        INFO(r.log.text());
        REQUIRE(waitFor([&] { return r.inState("ready") == 20 && r.stats().succeeded == 20; }));

        CHECK(r.fleet.maxInFlight() <= 3);
        CHECK(r.fleet.maxInFlight() >= 2);  // and it did run in parallel
        const auto s = r.stats();
        CHECK(s.maxInFlight <= 3);
        CHECK(s.maxInFlight >= 2);
        CHECK(s.dispatched == 20);
        CHECK(s.failed == 0);
        CHECK(s.stale == 0);
        CHECK(s.inFlight == 0);
        CHECK(r.fleet.total() == 20);
        for (const auto& id : ids) {
            CAPTURE(id);
            CHECK(r.fleet.requests(id) == 1);
            // The correlation id in the request is the one the database recorded.
            const auto seen = r.fleet.attemptIds(id);
            REQUIRE(seen.size() == 1);
            CHECK(seen[0] == r.bots.find(id)->attemptId.value_or("<none>"));
            CHECK(r.column(id, "last_warmup_ms") >= 200);
            CHECK(r.history(id) == "cold>warming>ready");
        }
        // Every outcome is logged with its correlation id and duration.
        std::map<std::string, int64_t> logged;  // attempt id -> duration_ms
        std::istringstream lines(r.log.text());
        for (std::string line; std::getline(lines, line);) {
            const auto j = nlohmann::json::parse(line, nullptr, false);
            if (!j.is_discarded() && j.value("msg", "") == "warm-up done")
                logged[j.value("attempt_id", "")] = j.value("duration_ms", int64_t{-1});
        }
        CHECK(logged.size() == 20);
        for (const auto& id : ids) {
            CAPTURE(id);
            const auto attempt = r.fleet.attemptIds(id).at(0);
            REQUIRE(logged.count(attempt) == 1);
            CHECK(logged[attempt] >= 200);
        }
        CHECK_INVARIANTS(r.t);
    }

    TEST_CASE("a hung bot times out on its own; the bots warmed beside it become ready") {
        Rig r(options(3));
        r.client("acme", /*minWarm*/ 7, /*headroom*/ 0);
        // Claimed first (by id): two hung bots take two of the three workers.
        r.bot("a-hang", "acme", /*timeoutMs*/ 300);
        r.bot("b-forever", "acme", /*timeoutMs*/ 60'000);  // outlasts the test
        r.fleet.setHang("a-hang", true);
        r.fleet.setHang("b-forever", true);
        for (int i = 1; i <= 5; ++i) {
            r.bot("c" + std::to_string(i), "acme");
            r.fleet.setDelay("c" + std::to_string(i), 50);
        }
        r.scheduler.start();
        INFO(r.log.text());
        REQUIRE(waitFor([&] { return r.inState("ready") == 5; }));
        REQUIRE(waitFor([&] { return r.state("a-hang") == "failed"; }));

        // b-forever has been hanging all along, holding a worker: the others
        // were warmed beside it, not after it.
        CHECK(r.state("b-forever") == "warming");
        CHECK(r.fleet.hanging() >= 1);
        const std::string reason =
            scalarText(r.t, "SELECT state_reason FROM bots WHERE id = 'a-hang'");
        CHECK(reason.find("timed out after 300 ms") != std::string::npos);
        CHECK(scalar(
                  r.t,
                  "SELECT count(*) FROM bot_events WHERE bot_id = 'a-hang' AND "
                  "from_state = 'warming' AND to_state = 'failed' AND reason LIKE '%timed out%'") ==
              1);
        CHECK(r.column("a-hang", "failures") == 1);
        // Back-off: not retried while the (manual) clock stands still.
        CHECK(r.fleet.requests("a-hang") == 1);

        // stop() aborts the request still hanging instead of waiting 60 s for it.
        const auto before = std::chrono::steady_clock::now();
        r.scheduler.stop();
        CHECK(std::chrono::steady_clock::now() - before < 15s);
    }

    TEST_CASE("a bot that trickles its answer fails at its overall deadline") {
        // Every read gets a byte within the read timeout, so only the overall
        // deadline (BotWarmupClient::stopOverdue) can end this request.
        Rig r(options(2));
        r.client("acme", /*minWarm*/ 2, /*headroom*/ 0);
        r.bot("a-trickle", "acme", /*timeoutMs*/ 400);
        r.bot("b-ok", "acme");
        test::FakeBotFleet::Behaviour trickle;
        trickle.trickleMs = 50;
        r.fleet.set("a-trickle", trickle);
        r.scheduler.start();
        INFO(r.log.text());
        REQUIRE(waitFor([&] { return r.state("a-trickle") == "failed"; }));
        CHECK(r.state("b-ok") == "ready");
        const std::string reason =
            scalarText(r.t, "SELECT state_reason FROM bots WHERE id = 'a-trickle'");
        CHECK(reason.find("timed out after 400 ms") != std::string::npos);
        CHECK(r.column("a-trickle", "failures") == 1);
        r.scheduler.stop();
    }

    TEST_CASE("a bot whose answer is huge fails without being read whole (issue 9)") {
        Rig r(options(1));
        r.client("acme", /*minWarm*/ 1, /*headroom*/ 0);
        r.bot("a-huge", "acme");
        test::FakeBotFleet::Behaviour huge;
        huge.bodyBytes = 8 * 1024 * 1024;
        r.fleet.set("a-huge", huge);
        r.scheduler.start();
        INFO(r.log.text());
        REQUIRE(waitFor([&] { return r.state("a-huge") == "failed"; }));
        const std::string reason =
            scalarText(r.t, "SELECT state_reason FROM bots WHERE id = 'a-huge'");
        CHECK(reason.find("over 64 KiB") != std::string::npos);
        r.scheduler.stop();
    }

    TEST_CASE("failed warm-ups back off exponentially with jitter, then succeed") {
        auto o = options(1);
        o.backoff = {2000, 60'000};
        Rig r(o);
        r.client("acme", /*minWarm*/ 1, /*headroom*/ 0);
        r.bot("flaky", "acme");
        r.fleet.failNext("flaky", 2);
        r.scheduler.start();
        INFO(r.log.text());

        // First failure: back-off of base 2 s, of which up to half is jitter.
        REQUIRE(waitFor([&] { return r.column("flaky", "failures") == 1; }));
        CHECK(r.state("flaky") == "failed");
        const int64_t t1 = r.t.clock.nowMs();
        const int64_t retry1 = r.column("flaky", "retry_at");
        CHECK(retry1 >= t1 + 1000);
        CHECK(retry1 <= t1 + 2000);

        r.t.clock.setMs(retry1 - 1);
        r.scheduler.runOnce();
        CHECK(r.state("flaky") == "failed");  // not claimed before retry_at
        CHECK(r.stats().dispatched == 1);

        r.t.clock.setMs(retry1);
        r.scheduler.runOnce();
        REQUIRE(waitFor([&] { return r.column("flaky", "failures") == 2; }));
        CHECK(r.state("flaky") == "failed");
        CHECK(r.fleet.requests("flaky") == 2);
        // Second failure: twice the base, same equal jitter.
        const int64_t retry2 = r.column("flaky", "retry_at");
        CHECK(retry2 - retry1 >= 2000);
        CHECK(retry2 - retry1 <= 4000);

        r.t.clock.setMs(retry2 - 1);
        r.scheduler.runOnce();
        CHECK(r.state("flaky") == "failed");
        CHECK(r.stats().dispatched == 2);

        r.t.clock.setMs(retry2);
        r.scheduler.runOnce();
        REQUIRE(waitFor([&] { return r.state("flaky") == "ready"; }));
        CHECK(r.column("flaky", "failures") == 0);
        CHECK(r.fleet.requests("flaky") == 3);
        const auto attempts = r.fleet.attemptIds("flaky");
        REQUIRE(attempts.size() == 3);
        CHECK(attempts[0] != attempts[1]);  // each attempt its own correlation id
        CHECK(attempts[1] != attempts[2]);
        CHECK(r.history("flaky") == "cold>warming>failed>warming>failed>warming>ready");
    }

    TEST_CASE("the circuit breaker stops requests to a failing endpoint for its cool-off") {
        auto o = options(3);
        o.breaker = {3, 10'000};
        Rig r(o);
        r.client("acme", /*minWarm*/ 4, /*headroom*/ 0);
        // Bots behind one endpoint that answers 503. Three to start with:
        // with N warm-ups in flight, up to threshold + N - 1 requests can
        // reach an endpoint before its breaker opens (a slot frees at each
        // failure), so the count is exact only when there are no more bots.
        for (int i = 1; i <= 3; ++i) r.bot("b" + std::to_string(i), "acme", 5000, 1, "down");
        r.fleet.setErrorStatus("down", 503);
        r.fleet.setFailureRate("down", 1.0);
        const std::string url = r.fleet.url("down");
        const int64_t t0 = r.t.clock.nowMs();
        r.scheduler.start();
        INFO(r.log.text());

        REQUIRE(waitFor([&] { return r.stats().failed == 3; }));
        CHECK(r.scheduler.breaker().state(url) == app::CircuitBreaker::State::open);
        CHECK(r.fleet.requests("down") == 3);
        CHECK(r.inState("failed") == 3);
        // A fourth bot behind the open endpoint: cold, and not warmed either.
        r.bot("b4", "acme", 5000, 1, "down");

        // The bots' back-off (at most 200 ms) has run out, the cool-off has not.
        r.t.clock.setMs(t0 + 5000);
        CHECK(scalar(r.t, "SELECT count(*) FROM bots WHERE state = 'failed' AND retry_at <= " +
                              std::to_string(r.t.clock.nowMs())) == 3);
        r.scheduler.runOnce();
        r.t.clock.setMs(t0 + 9999);
        r.scheduler.runOnce();
        CHECK(r.stats().dispatched == 3);
        CHECK(r.fleet.requests("down") == 3);
        CHECK(r.state("b4") == "cold");

        // Cool-off over: exactly one trial, however many passes run.
        r.t.clock.setMs(t0 + 10'000);
        CHECK(r.scheduler.breaker().state(url) == app::CircuitBreaker::State::half_open);
        for (int i = 0; i < 3; ++i) r.scheduler.runOnce();
        CHECK(r.stats().dispatched == 4);
        REQUIRE(waitFor([&] { return r.stats().failed == 4; }));
        // The trial failed: open for another full cool-off.
        CHECK(r.scheduler.breaker().state(url) == app::CircuitBreaker::State::open);
        r.t.clock.setMs(t0 + 19'999);
        r.scheduler.runOnce();
        CHECK(r.stats().dispatched == 4);
        CHECK(r.fleet.requests("down") == 4);

        // The endpoint recovers: the next trial succeeds, the breaker closes,
        // and the remaining bots are warmed at once.
        r.fleet.answerAllOk();
        r.t.clock.setMs(t0 + 20'000);
        r.scheduler.runOnce();
        REQUIRE(waitFor([&] { return r.inState("ready") == 4; }));
        CHECK(r.scheduler.breaker().state(url) == app::CircuitBreaker::State::closed);
        CHECK(r.fleet.requests("down") == 3 + 1 + 1 + 3);
        CHECK(r.stats().dispatched == 8);
    }

    TEST_CASE("an idle ready bot goes cold after its TTL; one within the target is refreshed") {
        Rig r(options(3));
        // TTL 60 s; with the bots' 1 s timeout a kept bot is refreshed in the
        // last min(TTL / 2, timeout + 5 s) = 6 s before its TTL runs out.
        r.client("acme", /*minWarm*/ 3, /*headroom*/ 0, /*ttlS*/ 60);
        for (const char* id : {"t1", "t2", "t3"}) r.bot(id, "acme", /*timeoutMs*/ 1000);
        const int64_t t0 = r.t.clock.nowMs();
        r.scheduler.start();
        INFO(r.log.text());
        REQUIRE(waitFor([&] { return r.inState("ready") == 3 && r.stats().succeeded == 3; }));
        CHECK(r.column("t1", "idle_until") == t0 + 60'000);

        // Demand falls: only one bot is within the target now, two are surplus.
        db::ClientPatch lower;
        lower.warmPool = db::ClientPatch::WarmPool{};
        lower.warmPool->minWarm = 1;
        r.t.clients->update("acme", lower);
        CHECK(r.pool("acme").target == 1);

        r.t.clock.setMs(t0 + 53'000);  // 7 s left: not yet
        r.scheduler.runOnce();
        CHECK(r.stats().dispatched == 3);

        r.t.clock.setMs(t0 + 55'000);  // 5 s left: the kept bot (t1, by id) is refreshed
        r.scheduler.runOnce();
        REQUIRE(waitFor([&] { return r.stats().succeeded == 4; }));
        CHECK(r.stats().dispatched == 4);
        CHECK(r.fleet.requests("t1") == 2);
        CHECK(r.fleet.requests("t2") == 1);
        CHECK(r.fleet.requests("t3") == 1);
        CHECK(r.column("t1", "idle_until") == t0 + 55'000 + 60'000);
        CHECK(scalar(r.t,
                     "SELECT count(*) FROM bot_events WHERE bot_id = 't1' AND from_state = "
                     "'ready' AND to_state = 'ready' AND reason LIKE 'warm-up refreshed%'") == 1);

        r.t.clock.setMs(t0 + 60'000);  // the surplus bots' TTL
        r.scheduler.runOnce();
        CHECK(r.state("t1") == "ready");
        CHECK(r.state("t2") == "cold");
        CHECK(r.state("t3") == "cold");
        CHECK(scalarText(r.t, "SELECT state_reason FROM bots WHERE id = 't2'") ==
              "idle past its warm TTL");
        CHECK(r.history("t2") == "cold>warming>ready>cold");
        // Surplus: neither refreshed nor warmed again.
        CHECK(r.stats().dispatched == 4);
        CHECK(r.fleet.total() == 4);
        CHECK(r.pool("acme").ready == 1);
    }

    TEST_CASE("scheduled demand is warmed lead_time ahead, and only then") {
        Rig r(options(3));
        r.client("acme", /*minWarm*/ 0, /*headroom*/ 0, /*ttlS*/ 3600, /*leadS*/ 300);
        for (const char* id : {"s1", "s2", "s3", "s4"}) r.bot(id, "acme");
        const int64_t t0 = r.t.clock.nowMs();
        const int64_t startsAt = t0 + 600'000, endsAt = t0 + 1'200'000;
        r.schedules.add("acme", startsAt, endsAt, 3);
        r.scheduler.start();
        INFO(r.log.text());

        r.scheduler.runOnce();
        r.t.clock.setMs(startsAt - 300'001);
        r.scheduler.runOnce();
        CHECK(r.pool("acme").target == 0);
        CHECK(r.stats().dispatched == 0);
        CHECK(r.fleet.total() == 0);

        r.t.clock.setMs(startsAt - 300'000);  // the warm window opens
        const auto pool = r.pool("acme");
        CHECK(pool.target == 3);
        CHECK(pool.why.find("scheduled 3") != std::string::npos);
        r.scheduler.runOnce();
        REQUIRE(waitFor([&] { return r.inState("ready") == 3; }));
        CHECK(r.stats().dispatched == 3);
        CHECK(scalar(r.t, "SELECT max(state_changed_at) FROM bots WHERE state = 'ready'") <
              startsAt);
        CHECK(r.state("s4") == "cold");

        r.t.clock.setMs(endsAt - 1);
        CHECK(r.pool("acme").target == 3);
        r.t.clock.setMs(endsAt);
        CHECK(r.pool("acme").target == 0);
        // Not needed any more: no refresh as their TTL nears; cold after it.
        const int64_t idleUntil = r.column("s1", "idle_until");
        r.t.clock.setMs(idleUntil - 1000);
        r.scheduler.runOnce();
        r.t.clock.setMs(idleUntil);
        r.scheduler.runOnce();
        CHECK(r.inState("cold") == 4);
        CHECK(r.stats().dispatched == 3);
        CHECK(r.fleet.total() == 3);
    }

    TEST_CASE("a bot_unavailable refusal wakes the scheduler; the retry is admitted with a bot") {
        Rig r(options(2));
        r.client("acme", /*minWarm*/ 0, /*headroom*/ 0);
        r.bot("w1", "acme");
        r.fleet.setDelay("w1", 50);
        r.t.admission->onBotShortage([&](const std::string&) { r.scheduler.wake(); });
        r.scheduler.start();
        INFO(r.log.text());
        // start() plans once at once. Wait for that pass to end (it holds the
        // lease by then; runOnce waits for it), so that from here on, with a
        // one-hour interval, only a wake-up can plan.
        REQUIRE(waitFor([&] {
            return scalar(r.t, "SELECT count(*) FROM leases WHERE name = 'bot-scheduler'") == 1;
        }));
        CHECK(r.scheduler.runOnce() == 0);
        CHECK(r.pool("acme").target == 0);

        const auto refused = r.t.admission->admit(test::admitReq("acme", "call-1"));
        CHECK(refused.outcome == db::AdmitResult::Outcome::refused);
        CHECK(refused.refusal == db::Refusal::bot_unavailable);
        CHECK(refused.botShortage);
        CHECK(refused.retryAfterMs.has_value());

        REQUIRE(waitFor([&] { return r.state("w1") == "ready"; }));
        CHECK(r.stats().dispatched == 1);
        const auto admitted = r.t.admission->admit(test::admitReq("acme", "call-1"));
        REQUIRE(admitted.outcome == db::AdmitResult::Outcome::admitted);
        REQUIRE(admitted.call);
        CHECK(admitted.call->botId == std::optional<std::string>("w1"));
        CHECK(r.state("w1") == "busy");
        CHECK_INVARIANTS(r.t);
    }

    TEST_CASE("16 threads admit and end calls while bots are warmed: no bot over capacity") {
        auto o = options(3);
        o.interval = 20ms;  // real time: the pool follows the changing demand
        Rig r(o);
        // A short TTL on a clock that runs fast (below): idle bots keep
        // expiring, being refreshed and warmed again while calls take them.
        r.client("acme", /*minWarm*/ 2, /*headroom*/ 2, /*ttlS*/ 10, 120, /*maxConcurrent*/ 1000);
        for (int i = 0; i < 8; ++i) {
            const std::string id = "cap-" + std::to_string(i);
            r.bot(id, "acme", 5000, /*capacity*/ 1 + i % 2);
            r.fleet.setDelay(id, 10 + 5 * i);
        }
        r.t.admission->onBotShortage([&](const std::string&) { r.scheduler.wake(); });
        r.scheduler.start();
        INFO(r.log.text());
        REQUIRE(waitFor([&] { return r.inState("ready") >= 2; }));

        // An independent read-only connection: in no committed snapshot may
        // a bot carry more live calls than its capacity, or than its counter says.
        test::Findings findings;
        std::atomic<bool> running{true};
        std::atomic<int64_t> snapshots{0}, fullestPair{0};
        std::thread reader([&] {
            try {
                SQLite::Database ro(r.t.options.path, SQLite::OPEN_READONLY, 5000);
                SQLite::Statement bad(
                    ro,
                    "SELECT b.id, b.capacity, b.active_calls, (SELECT count(*) FROM calls c "
                    "WHERE c.bot_id = b.id AND c.ended_at IS NULL) AS live FROM bots b "
                    "WHERE live > b.capacity OR live <> b.active_calls OR b.active_calls > "
                    "b.capacity");
                SQLite::Statement pairs(ro,
                                        "SELECT coalesce(max(active_calls), 0) FROM bots "
                                        "WHERE capacity = 2");
                while (running) {
                    while (bad.executeStep()) {
                        findings.add("bot " + bad.getColumn(0).getString() + ": capacity " +
                                     bad.getColumn(1).getString() + ", counter " +
                                     bad.getColumn(2).getString() + ", live calls " +
                                     bad.getColumn(3).getString());
                    }
                    bad.reset();
                    if (pairs.executeStep())
                        fullestPair = std::max<int64_t>(fullestPair, pairs.getColumn(0).getInt64());
                    pairs.reset();
                    ++snapshots;
                }
            } catch (const std::exception& e) {
                findings.add(std::string("reader: ") + e.what());
            }
        });
        // A second of the scheduler's time every 5 ms: a 10 s TTL runs out in
        // about 50 ms, so idle bots expire, are refreshed (often too late) and
        // warmed again while the admitting threads take them.
        std::thread ticker([&] {
            while (running) {
                r.t.clock.advanceMs(1000);
                std::this_thread::sleep_for(5ms);
            }
        });

        std::atomic<int> admitted{0}, refused{0}, withoutBot{0}, errors{0};
        std::vector<std::thread> threads;
        for (int k = 0; k < 16; ++k) {
            threads.emplace_back([&, k] {
                std::deque<int64_t> live;  // up to two calls at a time per thread
                const auto endOne = [&] {
                    r.t.lifecycle->end(test::endReq(live.front()));
                    live.pop_front();
                };
                try {
                    int mine = 0;
                    for (int i = 0; i < 400 && mine < 15; ++i) {
                        auto res = r.t.admission->admit(test::admitReq(
                            "acme", "t" + std::to_string(k) + "-" + std::to_string(i)));
                        if (res.outcome == db::AdmitResult::Outcome::admitted) {
                            ++admitted;
                            ++mine;
                            if (!res.call->botId) ++withoutBot;
                            live.push_back(res.call->id);
                            if (live.size() > 1 || i % 3 == 0) endOne();
                        } else {
                            ++refused;
                            if (res.refusal != db::Refusal::bot_unavailable) ++errors;
                            if (!live.empty()) endOne();  // make room for others
                            std::this_thread::sleep_for(1ms);
                        }
                    }
                    while (!live.empty()) endOne();
                } catch (const std::exception& e) {
                    findings.add(std::string("admitting thread: ") + e.what());
                    ++errors;
                }
            });
        }
        for (auto& th : threads) th.join();
        running = false;
        ticker.join();
        reader.join();
        r.scheduler.stop();

        INFO(test::joined(findings.problems));
        CHECK(findings.problems.empty());
        CHECK(errors == 0);
        CHECK(withoutBot == 0);
        CHECK(admitted > 16 * 5);  // the pool did serve calls
        CHECK(snapshots > 0);
        CHECK(fullestPair == 2);  // capacity 2 was used, not just capacity 1
        CHECK(r.stats().dispatched >= 8);
        CHECK(scalar(r.t, "SELECT count(*) FROM calls WHERE ended_at IS NULL") == 0);
        CHECK(scalar(r.t, "SELECT coalesce(sum(active_calls), 0) FROM bots") == 0);
        CHECK(r.inState("busy") == 0);
        CHECK_INVARIANTS(r.t);
        // How much the pool churned depends on timing: reported, not asserted.
        MESSAGE("admitted " << admitted.load() << ", refused bot_unavailable " << refused.load()
                            << ", " << snapshots.load() << " snapshots checked, "
                            << r.stats().dispatched << " warm-ups, "
                            << scalar(r.t,
                                      "SELECT count(*) FROM bot_events WHERE to_state = "
                                      "'cold' AND from_state IN ('ready', 'warming')")
                            << " bots gone cold");
    }

    TEST_CASE("stop() mid-warm-up charges the bot nothing; the next leader resets and warms it") {
        Rig r(options(2));
        r.client("acme", /*minWarm*/ 2, /*headroom*/ 0);
        r.bot("h1", "acme", /*timeoutMs*/ 10'000);
        r.bot("h2", "acme", /*timeoutMs*/ 10'000);
        r.fleet.setDefault(FakeBotFleet::Behaviour{.hang = true});
        r.scheduler.start();
        INFO(r.log.text());
        REQUIRE(waitFor([&] { return r.fleet.hanging() == 2; }));
        CHECK(r.inState("warming") == 2);
        r.scheduler.stop();  // the leader goes away with both warm-ups unanswered

        // An aborted request is not the bot's failure: no failed state, no
        // back-off, no failure count; it stays warming until its deadline.
        CHECK(r.inState("warming") == 2);
        CHECK(r.column("h1", "failures") == 0);
        const int64_t until = r.column("h1", "warming_until");

        r.fleet.answerAllOk();
        db::LeaderLease lease2(r.t.database->writer(), r.t.clock, "bot-scheduler", "leader-2",
                               60'000);
        app::WarmupScheduler next(r.claims, lease2, r.t.clock, r.log.log, options(2));
        next.start();
        next.runOnce();
        CHECK(r.inState("warming") == 2);  // not before warming_until
        r.t.clock.setMs(until);
        next.runOnce();
        REQUIRE(waitFor([&] { return r.inState("ready") == 2; }));
        for (const char* id : {"h1", "h2"}) {
            CAPTURE(id);
            CHECK(r.history(id) == "cold>warming>cold>warming>ready");
        }
        CHECK(scalar(r.t,
                     "SELECT count(*) FROM bot_events WHERE from_state = 'warming' AND to_state = "
                     "'cold' AND reason LIKE 'no warm-up result%'") == 2);
        next.stop();
    }
}

namespace {

// SIGKILLs the child on the way out, whatever a failed REQUIRE skipped.
struct ChildGuard {
    pid_t pid = -1;
    ~ChildGuard() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
    bool exited() {
        if (pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == pid) pid = -1;
        return pid <= 0;
    }
};

std::string serveHelp(const test::TempDir& dir) {
    const pid_t pid =
        test::spawnCalltrack({"serve", "--help"}, dir.file("help.out"), dir.file("help.err"));
    ::waitpid(pid, nullptr, 0);
    return slurp(dir.file("help.out")) + slurp(dir.file("help.err"));
}

}  // namespace

TEST_SUITE("warm-up scheduler") {
    TEST_CASE("a leader killed mid-warm-up: the next leader resets its bots and warms them") {
        test::TempDir dir;
        const std::string help = serveHelp(dir);
        INFO(help);
        REQUIRE_MESSAGE(help.find("--warmup-concurrency") != std::string::npos,
                        "calltrack serve has no --warmup-concurrency option");

        FakeBotFleet fleet;
        fleet.setDefault(FakeBotFleet::Behaviour{.hang = true});
        db::SystemClock clock;
        db::DatabaseOptions dbOptions;
        dbOptions.path = dir.file("calltrack.db");
        dbOptions.createIfMissing = true;
        dbOptions.durability = db::Durability::normal;
        db::Database database(dbOptions);
        db::ClientRegistry clients(database.writer(), database.readers(), clock);
        db::BotRegistry bots(database.writer(), database.readers(), clock);
        db::ClientPatch p;
        p.maxConcurrent = 10;
        p.botsRequired = true;
        p.warmPool = db::ClientPatch::WarmPool{3, 0, std::nullopt, 300, 120};
        clients.put("acme", p);
        for (const char* id : {"k1", "k2", "k3"}) {
            // 3 s: the leader is killed well before its requests time out;
            // warming_until is 6 s after the claim.
            bots.put(id, db::BotConfig{"acme", fleet.url(id), 1, 3000});
        }
        const auto read = [&](const std::string& sql) {
            return database.readers().read(
                [&](db::Connection& c) { return scalar(c.handle(), sql); });
        };
        const auto readText = [&](const std::string& sql) {
            return database.readers().read(
                [&](db::Connection& c) { return scalarText(c.handle(), sql); });
        };

        // The first leader: the real server, two warm-ups at a time, both hang.
        ChildGuard serve;
        serve.pid =
            test::spawnCalltrack({"--db", dbOptions.path, "serve", "--listen", "127.0.0.1:0",
                                  "--warmup-concurrency", "2", "--log-level", "debug"},
                                 dir.file("serve.out"), dir.file("serve.err"));
        INFO(slurp(dir.file("serve.err")));
        REQUIRE(waitFor([&] { return fleet.hanging() == 2 || serve.exited(); }));
        REQUIRE(serve.pid > 0);
        ::kill(serve.pid, SIGKILL);
        ::waitpid(serve.pid, nullptr, 0);
        serve.pid = -1;

        std::vector<std::string> cut;  // the bots it left warming
        database.readers().read([&](db::Connection& c) {
            SQLite::Statement s(c.handle(),
                                "SELECT id FROM bots WHERE state = 'warming' ORDER BY id");
            while (s.executeStep()) cut.push_back(s.getColumn(0).getString());
            return 0;
        });
        REQUIRE(cut.size() == 2);
        for (const auto& id : cut) {
            // The correlation id the dead leader sent is the one it recorded.
            const auto seen = fleet.attemptIds(id);
            REQUIRE(seen.size() == 1);
            CHECK(seen[0] == readText("SELECT attempt_id FROM bots WHERE id = '" + id + "'"));
        }

        // The fleet is healthy again; a new leader (this process) takes over
        // once the dead one's lease and the bots' warming_until have passed.
        fleet.answerAllOk();
        CapturedLog log(dir.file("leader2.log"));
        db::LeaderLease lease(database.writer(), clock, "bot-scheduler", "leader-2", 5000);
        db::WarmupClaims claims(database.writer(), clock);
        auto o = options(2);
        o.interval = 100ms;  // real time now: the timer drives it
        app::WarmupScheduler next(claims, lease, clock, log.log, o);
        next.start();
        INFO(log.text());
        REQUIRE(waitFor(
            [&] { return read("SELECT count(*) FROM bots WHERE state = 'ready'") == 3; }, 30s));
        next.stop();

        for (const auto& id : cut) {
            CAPTURE(id);
            CHECK(readText("SELECT group_concat(to_state, '>') FROM (SELECT to_state FROM "
                           "bot_events WHERE bot_id = '" +
                           id + "' ORDER BY id)") == "cold>warming>cold>warming>ready");
            CHECK(read("SELECT count(*) FROM bot_events WHERE bot_id = '" + id +
                       "' AND from_state = 'warming' AND to_state = 'cold' AND reason LIKE "
                       "'no warm-up result%'") == 1);
            CHECK(fleet.requests(id) == 2);
        }
        CHECK(read("SELECT count(*) FROM bots WHERE failures > 0") == 0);
        CHECK(database.readers().read([&](db::Connection& c) {
            return db::InvariantChecker::run(c, clock.nowMs(), 5000).ok();
        }));
    }
}
