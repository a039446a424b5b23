// Alerting (db/alerts/, app/jobs/AlertJob): the state machine and its
// hysteresis, evaluation against the database on a ManualClock (restart and
// leader change included), and delivery to a fake receiver that fails,
// hangs or answers slowly (back-off, at-least-once across a restart, the
// per-receiver bound), signed as the npm standardwebhooks verifier accepts.

#include "TestDatabase.h"
#include "TestSupport.h"
#include "api/logging/JsonLog.h"
#include "app/jobs/AlertDelivery.h"
#include "app/jobs/AlertJob.h"
#include "db/alerts/AlertConfig.h"
#include "db/alerts/AlertEvaluator.h"
#include "db/alerts/AlertOutbox.h"
#include "db/alerts/AlertStateMachine.h"
#include "db/coordination/LeaderLease.h"
#include "tests/NodeSigner.h"
#include "tests/ServeProcess.h"

#include <httplib.h>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

using namespace calltrack;

namespace {
db::AlertRule utilization(double fire = 0.8, double clear = 0.6, int64_t forS = 60) {
    db::AlertRule r;
    r.id = "u";
    r.kind = "client_utilization";
    r.fireAt = fire;
    r.clearAt = clear;
    r.forS = forS;
    return r;
}

struct Run {
    db::AlertState s;
    std::vector<std::string> notified;
    int64_t now = 0;
    db::AlertRule rule = utilization();
    void feed(double v, int64_t forMs, int64_t everyMs = 1000) {
        for (int64_t t = 0; t < forMs; t += everyMs) {
            auto step = db::AlertStateMachine::step(s, v, rule, now);
            if (step.notify) notified.push_back(*step.notify);
            s = step.next;
            now += everyMs;
        }
    }
};

// A loopback HTTP receiver: fails the first `failFirst` requests with 500,
// holds each for `delayMs`, records what it accepted.
struct FakeReceiver {
    FakeReceiver() {
        server.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
            const int now = ++inFlight;
            {
                std::lock_guard lock(m);
                maxInFlight = std::max(maxInFlight, now);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(delayMs.load()));
            --inFlight;
            std::lock_guard lock(m);
            ++requests;
            if (requests <= failFirst.load()) {
                res.status = 500;
                return;
            }
            bodies.push_back(req.body);
            httplib::Headers h = req.headers;
            headers.push_back(std::move(h));
            res.status = 200;
            res.set_content("{}", "application/json");
        });
        port = server.bind_to_any_port("127.0.0.1");
        thread = std::thread([this] { server.listen_after_bind(); });
        for (int i = 0; i < 500 && !server.is_running(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ~FakeReceiver() {
        server.stop();
        thread.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hook"; }
    size_t accepted() {
        std::lock_guard lock(m);
        return bodies.size();
    }

    httplib::Server server;
    int port = 0;
    std::thread thread;
    std::mutex m;
    int requests = 0;                       // guarded by m
    int maxInFlight = 0;                    // guarded by m
    std::vector<std::string> bodies;        // guarded by m
    std::vector<httplib::Headers> headers;  // guarded by m
    std::atomic<int> failFirst{0};
    std::atomic<int> delayMs{0};
    std::atomic<int> inFlight{0};
};

int64_t count(test::TestDatabase& t, const std::string& sql) {
    return test::scalar(t, sql);
}

const char* const kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
}  // namespace

TEST_SUITE("alerts") {
    TEST_CASE("pending, then firing after for_s; no resolution between the thresholds") {
        Run r;
        r.feed(0.85, 59'000);
        CHECK(r.s.state == "pending");
        CHECK(r.notified.empty());
        r.feed(0.85, 2000);
        CHECK(r.s.state == "firing");
        REQUIRE(r.notified == std::vector<std::string>{"firing"});
        r.feed(0.7, 600'000);  // between clear_at and fire_at for 10 minutes
        CHECK(r.s.state == "firing");
        r.feed(0.5, 59'000);  // below clear_at, not yet for_s
        CHECK(r.s.state == "firing");
        r.feed(0.5, 2000);
        CHECK(r.s.state == "resolved");
        CHECK(r.notified == std::vector<std::string>{"firing", "resolved"});
        CHECK(r.s.endsAt.has_value());
    }

    TEST_CASE("a signal oscillating across both thresholds is one episode, not many") {
        Run r;
        r.feed(0.9, 61'000);
        for (int i = 0; i < 50; ++i) {
            r.feed(0.9, 20'000);
            r.feed(0.3, 20'000);  // below clear_at, but never for for_s
        }
        CHECK(r.s.state == "firing");
        CHECK(r.notified == std::vector<std::string>{"firing"});
        // Between the thresholds from the start: never pending.
        Run between;
        between.feed(0.7, 3'600'000, 10'000);
        CHECK(between.s.state == "inactive");
        // Dipping below fire_at while pending starts over.
        Run dip;
        dip.feed(0.85, 50'000);
        dip.feed(0.75, 1000);
        CHECK(dip.s.state == "inactive");
        dip.feed(0.85, 50'000);
        CHECK(dip.s.state == "pending");
        // for_s = 0 fires at once; an unknown signal changes nothing.
        Run now;
        now.rule = utilization(0.8, 0.6, 0);
        now.feed(0.8, 1000);
        CHECK(now.s.state == "firing");
        const auto same = db::AlertStateMachine::step(now.s, std::nullopt, now.rule, now.now);
        CHECK(same.next == now.s);
    }

    TEST_CASE("rules are validated: clear_at below fire_at, known kinds, per-client kinds") {
        db::AlertRule r = utilization(0.6, 0.8);
        CHECK_THROWS_AS(r.validate(), db::EngineError);
        r = utilization(0.8, 0.8);
        CHECK_THROWS_AS(r.validate(), db::EngineError);
        r = utilization();
        r.kind = "cpu";
        CHECK_THROWS_AS(r.validate(), db::EngineError);
        r = utilization();
        r.kind = "global_utilization";
        r.clientId = "acme";
        CHECK_THROWS_AS(r.validate(), db::EngineError);
        r = utilization();
        r.kind = "refusal_rate";
        r.fireAt = 2;
        r.clearAt = 1;
        CHECK_THROWS_AS(r.validate(), db::EngineError);
        db::AlertReceiver rcv{"r1", "ftp://x/y", "alertmanager"};
        CHECK_THROWS_AS(rcv.validate(), db::EngineError);
        rcv = {"r1", "http://127.0.0.1:9/hook", "standard-webhooks"};
        CHECK_THROWS_AS(rcv.validate(), db::EngineError);  // needs a secret
        rcv.secret = kSecret;
        CHECK_NOTHROW(rcv.validate());
    }

    TEST_CASE(
        "evaluation on the database: firing and resolved written with their notifications, "
        "state kept across a restart and a leader change") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(10));
        db::AlertConfig config(t.database->writer(), t.database->readers(), t.clock);
        db::AlertReceiver rcv{"ops", "http://127.0.0.1:9/hook", "alertmanager"};
        config.putReceiver(rcv);
        auto eval = std::make_unique<db::AlertEvaluator>(
            t.database->writer(), t.database->readers(), t.clock, "http://calltrack.test");
        for (int i = 0; i < 9; ++i)
            REQUIRE(t.admission->admit(test::admitReq("acme", "c" + std::to_string(i))).call);
        // The default rule: 0.8 / 0.6 for 60 s.
        auto changes = eval->evaluate();
        REQUIRE(changes.size() == 1);
        CHECK(changes[0].after.state == "pending");
        CHECK(changes[0].signal.clientId == "acme");
        CHECK(eval->evaluate().empty());  // nothing changed: nothing written
        t.clock.advanceMs(60'000);
        changes = eval->evaluate();
        REQUIRE(changes.size() == 1);
        CHECK(changes[0].notify == "firing");
        CHECK(count(t, "SELECT count(*) FROM alert_outbox WHERE status = 'firing'") == 1);
        const auto alert = nlohmann::json::parse(test::scalarText(
            *std::make_unique<SQLite::Database>(t.options.path), "SELECT alert FROM alert_outbox"));
        CHECK(alert["labels"]["alertname"] == "CalltrackClientUtilizationHigh");
        CHECK(alert["labels"]["client"] == "acme");
        CHECK(alert["labels"]["severity"] == "warning");
        CHECK(alert["endsAt"] == "0001-01-01T00:00:00Z");
        CHECK(alert["status"] == "firing");

        // A restart (the same file opened again) and another evaluator (a
        // new leader): the firing alert is not announced again.
        eval.reset();
        t.reopen();
        db::AlertEvaluator other(t.database->writer(), t.database->readers(), t.clock,
                                 "http://calltrack.test");
        t.clock.advanceMs(1000);
        CHECK(other.evaluate().empty());
        // Down to 7 of 10: between the thresholds, still firing.
        for (int i = 0; i < 2; ++i) {
            db::EndRequest e;
            e.call = db::CallRef::byExternal("acme", "c" + std::to_string(i));
            t.lifecycle->end(e);
        }
        t.clock.advanceMs(120'000);
        CHECK(other.evaluate().empty());
        // Down to 5: clearing, then resolved after 60 s.
        for (int i = 2; i < 4; ++i) {
            db::EndRequest e;
            e.call = db::CallRef::byExternal("acme", "c" + std::to_string(i));
            t.lifecycle->end(e);
        }
        CHECK(other.evaluate().size() == 1);  // clear_since set
        t.clock.advanceMs(60'000);
        changes = other.evaluate();
        REQUIRE(changes.size() == 1);
        CHECK(changes[0].notify == "resolved");
        CHECK(count(t, "SELECT count(*) FROM alert_outbox WHERE status = 'resolved'") == 1);
        // Its firing, never delivered (the receiver is down), is not sent
        // any more: "firing" must never arrive after "resolved".
        CHECK(count(t,
                    "SELECT count(*) FROM alert_outbox WHERE status = 'firing' AND gave_up_at "
                    "IS NOT NULL AND last_error LIKE 'superseded%'") == 1);
        CHECK(count(t, "SELECT count(*) FROM alert_history") == 3);  // pending, firing, resolved
        // A per-client rule replaces the default for its client.
        db::AlertRule mine = utilization(0.3, 0.1, 0);
        mine.id = "acme-low";
        mine.clientId = "acme";
        db::AlertConfig(t.database->writer(), t.database->readers(), t.clock).putRule(mine);
        changes = other.evaluate();
        REQUIRE(changes.size() == 1);
        CHECK(changes[0].signal.rule.id == "acme-low");
        CHECK(changes[0].notify == "firing");
        // Disabled, its firing alert resolves (it is evaluated no more);
        // the default rule applies to acme again (5 of 10: nothing).
        mine.enabled = false;
        db::AlertConfig(t.database->writer(), t.database->readers(), t.clock).putRule(mine);
        t.clock.advanceMs(1000);
        changes = other.evaluate();
        REQUIRE(changes.size() == 1);
        CHECK(changes[0].signal.rule.id == "acme-low");
        CHECK(changes[0].notify == "resolved");
        CHECK(other.evaluate().empty());
    }

    TEST_CASE(
        "delivery: retried with back-off until acknowledged, once; nothing lost across a "
        "restart; signed as standardwebhooks verifies") {
        FakeReceiver fake;
        fake.failFirst = 2;
        test::TestDatabase t;
        t.clock.setMs(std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
        t.clients->create("acme", test::limitPatch(1));
        db::AlertConfig config(t.database->writer(), t.database->readers(), t.clock);
        config.putReceiver({"am", fake.url(), "alertmanager"});
        db::AlertReceiver signedRcv{"sw", fake.url(), "standard-webhooks"};
        signedRcv.secret = kSecret;
        config.putReceiver(signedRcv);
        db::AlertRule now = utilization(0.8, 0.6, 0);
        now.id = "now";
        config.putRule(now);
        REQUIRE(t.admission->admit(test::admitReq("acme", "x")).call);

        std::FILE* devnull = std::fopen("/dev/null", "w");
        api::JsonLog log(api::LogLevel::error, devnull);
        db::AlertEvaluator eval(t.database->writer(), t.database->readers(), t.clock,
                                "http://calltrack.test");
        db::AlertOutbox outbox(t.database->writer(), t.database->readers(), t.clock);
        db::LeaderLease lease(t.database->writer(), t.clock, "alerts", "A", 5000);
        app::AlertJobOptions options;
        options.delivery.timeout = std::chrono::milliseconds(500);
        auto job = std::make_unique<app::AlertJob>(
            eval, outbox, lease, t.database->readers(), t.clock, log, [] { return false; },
            options);
        job->start(false);
        REQUIRE(job->runOnce());
        REQUIRE(job->waitIdle(std::chrono::seconds(10)));
        // Two notifications (firing of "now" and of the default? the default
        // needs 60 s): one per receiver for "now"; both failed once (500).
        CHECK(count(t, "SELECT count(*) FROM alert_outbox") == 2);
        CHECK(
            count(
                t,
                "SELECT count(*) FROM alert_outbox WHERE attempts = 1 AND delivered_at IS NULL") ==
            2);
        const int64_t firstRetry = count(t, "SELECT min(next_attempt_at) FROM alert_outbox");
        CHECK(firstRetry >= t.clock.nowMs() + 800);  // 1 s +- 20 %
        CHECK(firstRetry <= t.clock.nowMs() + 1200);
        // Not due yet: nothing is sent.
        job->runOnce();
        REQUIRE(job->waitIdle(std::chrono::seconds(10)));
        CHECK(fake.accepted() == 0);

        // A restart: the outbox is in the database, a new job delivers it.
        job->stop();
        job.reset();
        t.clock.advanceMs(1500);
        job = std::make_unique<app::AlertJob>(
            eval, outbox, lease, t.database->readers(), t.clock, log, [] { return false; },
            options);
        job->start(false);
        job->runOnce();
        REQUIRE(job->waitIdle(std::chrono::seconds(10)));
        t.clock.advanceMs(60'000);
        job->runOnce();
        REQUIRE(job->waitIdle(std::chrono::seconds(10)));
        // Both delivered exactly once after the two 500s; the default rule
        // fired meanwhile (60 s): two more.
        t.clock.advanceMs(1000);
        job->runOnce();
        REQUIRE(job->waitIdle(std::chrono::seconds(10)));
        CHECK(count(t, "SELECT count(*) FROM alert_outbox WHERE delivered_at IS NOT NULL") ==
              count(t, "SELECT count(*) FROM alert_outbox"));
        CHECK(fake.accepted() ==
              static_cast<size_t>(count(t, "SELECT count(*) FROM alert_outbox")));
        job->stop();

        // Alertmanager's payload, version 4; the standard-webhooks copy
        // verifies with the npm package.
        std::lock_guard lock(fake.m);
        bool sawAlertmanager = false, sawSigned = false;
        for (size_t i = 0; i < fake.bodies.size(); ++i) {
            const auto body = nlohmann::json::parse(fake.bodies[i]);
            if (body.contains("version")) {
                sawAlertmanager = true;
                CHECK(body["version"] == "4");
                // Grouped per alert and client.
                CHECK(body["groupLabels"]["client"] == "acme");
                CHECK(body["groupKey"].get<std::string>().find("client=\"acme\"") !=
                      std::string::npos);
                for (const char* k :
                     {"groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
                      "commonLabels", "commonAnnotations", "externalURL", "alerts"})
                    CHECK(body.contains(k));
                const auto& a = body["alerts"][0];
                for (const char* k : {"status", "labels", "annotations", "startsAt", "endsAt",
                                      "generatorURL", "fingerprint"})
                    CHECK(a.contains(k));
                CHECK(a["labels"].contains("alertname"));
                CHECK(a["labels"]["client"] == "acme");
            } else {
                sawSigned = true;
                CHECK(body["type"] == "alert.firing");
                const auto& h = fake.headers[i];
                nlohmann::json headers = {
                    {"webhook-id", h.find("webhook-id")->second},
                    {"webhook-timestamp", h.find("webhook-timestamp")->second},
                    {"webhook-signature", h.find("webhook-signature")->second}};
                const auto verdict =
                    test::NodeSigner::sign(nlohmann::json::array({{{"kind", "standard-verify"},
                                                                   {"secret", kSecret},
                                                                   {"headers", headers},
                                                                   {"body", fake.bodies[i]}}}));
                CHECK(verdict[0] == "ok");
                // The webhook-id is the notification id: the same on a retry.
                CHECK(headers["webhook-id"].get<std::string>().find(":firing:") !=
                      std::string::npos);
            }
        }
        CHECK(sawAlertmanager);
        CHECK(sawSigned);
        std::fclose(devnull);
    }

    TEST_CASE(
        "a receiver that hangs is cut off by the timeout; no more than the per-receiver bound "
        "at once") {
        FakeReceiver fake;
        fake.delayMs = 300;
        test::TestDatabase t;
        db::AlertConfig config(t.database->writer(), t.database->readers(), t.clock);
        config.putReceiver({"slow", fake.url(), "alertmanager"});
        for (int i = 0; i < 8; ++i) {
            const std::string id = "c" + std::to_string(i);
            t.clients->create(id, test::limitPatch(1));
            REQUIRE(t.admission->admit(test::admitReq(id, "x")).call);
        }
        db::AlertRule now = utilization(0.8, 0.6, 0);
        now.id = "now";
        config.putRule(now);
        std::FILE* devnull = std::fopen("/dev/null", "w");
        api::JsonLog log(api::LogLevel::error, devnull);
        db::AlertEvaluator eval(t.database->writer(), t.database->readers(), t.clock, "http://x");
        db::AlertOutbox outbox(t.database->writer(), t.database->readers(), t.clock);
        db::LeaderLease lease(t.database->writer(), t.clock, "alerts", "A", 5000);
        app::AlertJobOptions options;
        options.workers = 6;
        options.perReceiver = 2;
        options.delivery.timeout = std::chrono::milliseconds(150);  // shorter than the receiver
        app::AlertJob job(
            eval, outbox, lease, t.database->readers(), t.clock, log, [] { return false; },
            options);
        job.start(false);
        REQUIRE(job.runOnce());
        REQUIRE(job.waitIdle(std::chrono::seconds(20)));
        CHECK(count(t, "SELECT count(*) FROM alert_outbox") == 8);
        CHECK(count(t,
                    "SELECT count(*) FROM alert_outbox WHERE delivered_at IS NULL AND "
                    "last_error LIKE 'no answer%'") == 8);
        CHECK(job.stats().maxInFlightPerReceiver <= 2);
        // (The receiver itself saw more at once: requests we gave up on
        // still sleep in its handlers.) Slow but in time: delivered, and
        // the receiver sees two at once at most.
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        {
            std::lock_guard lock(fake.m);
            fake.maxInFlight = 0;
        }
        fake.delayMs = 50;
        t.clock.advanceMs(2000);
        job.runOnce();
        REQUIRE(job.waitIdle(std::chrono::seconds(20)));
        CHECK(count(t, "SELECT count(*) FROM alert_outbox WHERE delivered_at IS NOT NULL") == 8);
        CHECK(job.stats().maxInFlightPerReceiver <= 2);
        {
            std::lock_guard lock(fake.m);
            CHECK(fake.maxInFlight >= 1);
            CHECK(fake.maxInFlight <= 2);
        }
        job.stop();
        std::fclose(devnull);
    }

    TEST_CASE("database unavailable: stepped in memory, sent from memory, written once writable") {
        FakeReceiver fake;
        test::TestDatabase t;
        t.clock.setMs(std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
        db::AlertConfig config(t.database->writer(), t.database->readers(), t.clock);
        config.putReceiver({"ops", fake.url(), "alertmanager"});
        std::FILE* devnull = std::fopen("/dev/null", "w");
        api::JsonLog log(api::LogLevel::error, devnull);
        db::AlertEvaluator eval(t.database->writer(), t.database->readers(), t.clock, "http://x");
        db::AlertOutbox outbox(t.database->writer(), t.database->readers(), t.clock);
        // serve's TTL: the lock outlasts it, so nobody can renew the lease.
        db::LeaderLease lease(t.database->writer(), t.clock, "alerts", "A", 5000);
        std::atomic<bool> unavailable{false};
        app::AlertJob job(eval, outbox, lease, t.database->readers(), t.clock, log,
                          [&] { return unavailable.load(); }, {});
        job.start(false);
        REQUIRE(job.runOnce());
        // A shell holds the write lock: nothing can be written.
        SQLite::Database shell(t.options.path, SQLite::OPEN_READWRITE);
        shell.exec("PRAGMA busy_timeout = 0");
        shell.exec("BEGIN IMMEDIATE");
        unavailable = true;
        for (int i = 0; i < 12; ++i) {  // the default rule: 10 s
            job.runOnce();
            t.clock.advanceMs(1000);
        }
        REQUIRE(job.waitIdle(std::chrono::seconds(10)));
        REQUIRE(fake.accepted() == 1);  // sent from memory while nothing could be written
        {
            std::lock_guard lock(fake.m);
            const auto body = nlohmann::json::parse(fake.bodies[0]);
            CHECK(body["alerts"][0]["labels"]["alertname"] == "CalltrackDatabaseUnavailable");
            CHECK(body["status"] == "firing");
        }
        shell.exec("ROLLBACK");
        unavailable = false;
        // The writer's breaker (opened by the failed writes) closes after
        // its probe (real time, 1 s); then the episode is written.
        for (int i = 0; i < 100 && count(t,
                                         "SELECT count(*) FROM alert_outbox WHERE status = "
                                         "'resolved' AND delivered_at IS NOT NULL") == 0;
             ++i) {
            job.runOnce();
            t.clock.advanceMs(1000);
            job.waitIdle(std::chrono::seconds(10));
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        // The episode is in the tables now, and its resolution went out
        // through the outbox.
        CHECK(count(t, "SELECT count(*) FROM alert_history WHERE to_state = 'firing'") == 1);
        CHECK(count(t, "SELECT count(*) FROM alert_history WHERE to_state = 'resolved'") == 1);
        CHECK(count(t,
                    "SELECT count(*) FROM alert_outbox WHERE status = 'resolved' AND "
                    "delivered_at IS NOT NULL") == 1);
        job.stop();
        std::fclose(devnull);
    }

    TEST_CASE("a real serve: a rule put over the API fires and its notification arrives") {
        FakeReceiver fake;
        test::ServeProcess serve;
        httplib::Client api("127.0.0.1", serve.port());
        const auto put = [&](const std::string& path, const nlohmann::json& body) {
            auto r = api.Put(path, body.dump(), "application/json");
            REQUIRE(r);
            return r->status;
        };
        REQUIRE(put("/v1/clients/acme", {{"max_concurrent", 1}}) == 201);
        REQUIRE(put("/v1/alert-receivers/ops", {{"url", fake.url()}}) == 201);
        REQUIRE(put("/v1/alert-rules/full", {{"kind", "client_utilization"},
                                             {"client_id", "acme"},
                                             {"fire_at", 1.0},
                                             {"clear_at", 0.5},
                                             {"for_s", 0}}) == 201);
        auto admitted =
            api.Post("/v1/calls", nlohmann::json{{"client_id", "acme"}}.dump(), "application/json");
        REQUIRE(admitted);
        REQUIRE(admitted->status == 201);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (fake.accepted() == 0 && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        REQUIRE(fake.accepted() == 1);
        {
            std::lock_guard lock(fake.m);
            const auto body = nlohmann::json::parse(fake.bodies[0]);
            CHECK(body["version"] == "4");
            CHECK(body["status"] == "firing");
            CHECK(body["alerts"][0]["labels"]["client"] == "acme");
            CHECK(body["alerts"][0]["labels"]["rule"] == "full");
        }
        auto alerts = api.Get("/v1/alerts?state=firing");
        REQUIRE(alerts);
        const auto list = nlohmann::json::parse(alerts->body)["alerts"];
        REQUIRE(list.size() == 1);
        CHECK(list[0]["rule_id"] == "full");
        CHECK(list[0]["history"].size() == 1);
        auto receiver = api.Get("/v1/alert-receivers/ops");
        REQUIRE(receiver);
        const auto delivery = nlohmann::json::parse(receiver->body)["receiver"]["delivery"];
        CHECK(delivery["queued"] == 0);
        CHECK(delivery["last_success_at"].is_string());
    }
}
