// Database trouble (issue 10) through the real `calltrack serve`: an
// operator's shell holding the write lock for 12 s while Twilio's signed
// status callbacks (from the npm `twilio` package) keep coming. Twilio does
// not retry a 5xx status callback, so every delivery must be answered 2xx and
// every event applied once the lock is gone.

#include "db/spool/IntakeSpool.h"
#include "tests/ServeProcess.h"
#include "tests/TwilioSender.h"

#include <SQLiteCpp/Database.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

using namespace calltrack;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

const std::string kAccount = "AC000000000000000000000000000storm";
const std::string kToken = "storm-account-token";

json callback(const std::string& callSid, const std::string& status, int sequence) {
    return {{"AccountSid", kAccount},
            {"CallSid", callSid},
            {"CallStatus", status},
            {"ApiVersion", "2010-04-01"},
            {"Direction", "outbound-api"},
            {"SequenceNumber", std::to_string(sequence)},
            {"CallbackSource", "call-progress-events"}};
}

std::string sidOf(int i) {
    std::string n = std::to_string(i);
    return "CA" + std::string(32 - n.size(), '0') + n;
}

httplib::Client clientOf(const test::ServeProcess& serve) {
    httplib::Client c("127.0.0.1", serve.port());
    c.set_tcp_nodelay(true);
    c.set_connection_timeout(std::chrono::seconds(5));
    // Twilio's read timeout.
    c.set_read_timeout(std::chrono::seconds(15));
    return c;
}

json getJson(httplib::Client& c, const std::string& path) {
    auto res = c.Get(path);
    REQUIRE(res);
    REQUIRE_MESSAGE(res->status == 200, path << ": " << res->body);
    return json::parse(res->body);
}

// A client "dialer" with the storm account and `calls` admitted calls.
std::vector<int64_t> admitCalls(httplib::Client& c, int calls) {
    REQUIRE(c.Put("/v1/limits/global", R"({"max_concurrent": 100})", "application/json")->status ==
            200);
    const json client = {{"max_concurrent", 50},
                         {"twilio", {{"account_sid", kAccount}, {"auth_token", kToken}}}};
    REQUIRE(c.Put("/v1/clients/dialer", client.dump(), "application/json")->status == 201);
    std::vector<int64_t> ids;
    for (int i = 0; i < calls; ++i) {
        auto res = c.Post("/v1/calls", R"({"client_id": "dialer"})", "application/json");
        REQUIRE(res);
        REQUIRE(res->status == 201);
        ids.push_back(json::parse(res->body)["call"]["id"]);
    }
    return ids;
}

struct Run {
    int status = -1;
    std::string out, err;
};

// `calltrack args...`, waited for (at most 60 s).
Run runCalltrack(const test::TempDir& dir, const std::vector<std::string>& args) {
    const std::string out = dir.file("cli.out"), err = dir.file("cli.err");
    const pid_t pid = test::spawnCalltrack(args, out, err);
    const auto status = test::waitExit(pid, std::chrono::seconds(60));
    REQUIRE_MESSAGE(status, "calltrack did not exit");
    Run r;
    r.status = WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
    r.out = test::slurp(out);
    r.err = test::slurp(err);
    return r;
}

std::string stateOf(const std::string& db, int64_t id) {
    SQLite::Database c(db, SQLite::OPEN_READONLY);
    SQLite::Statement q(c, "SELECT state FROM calls WHERE id = ?");
    q.bind(1, static_cast<int64_t>(id));
    REQUIRE(q.executeStep());
    return q.getColumn(0).getString();
}

// Signed callbacks (ringing, in-progress, completed) for each call.
std::vector<test::SignedTwilioRequest> flows(const std::vector<int64_t>& ids) {
    std::vector<std::pair<std::string, json>> requests;
    const std::vector<std::string> statuses{"ringing", "in-progress", "completed"};
    for (size_t i = 0; i < ids.size(); ++i) {
        for (int seq = 0; seq < 3; ++seq) {
            requests.push_back({"/v1/webhooks/twilio?call_id=" + std::to_string(ids[i]),
                                callback(sidOf(static_cast<int>(i)), statuses[seq], seq + 1)});
        }
    }
    return test::signTwilioRequests("https://calls.example.com", kToken, requests);
}

}  // namespace

TEST_CASE(
    "a serve killed with events in its spool: `spool show` lists them, `spool replay` applies "
    "them once, and a restarted serve has nothing left to do") {
    test::TempDir dir;
    const std::string db = dir.file("calltrack.db");
    std::vector<int64_t> ids;
    {
        test::ServeProcess serve(db, {"--public-url", "https://calls.example.com"});
        auto api = clientOf(serve);
        ids = admitCalls(api, 3);
        SQLite::Database shell(db, SQLite::OPEN_READWRITE);
        // serve writes every second (history, alerts): wait for a gap, as an
        // operator retrying would
        shell.exec("PRAGMA busy_timeout = 5000");
        shell.exec("BEGIN IMMEDIATE");
        // One write failed; the rest were spooled behind it without trying
        // (their answers say so). How many writes failed in all depends on
        // how long this took: serve's own jobs write every second.
        const std::string behind = "earlier events are still waiting in the spool";
        int answered = 0, spooledBehind = 0;
        for (const auto& r : flows(ids)) {
            auto res = test::postTwilio(api, r);
            REQUIRE(res);
            CHECK(res->status == 202);
            const auto answer = json::parse(res->body);
            // value(): operator[] on a const json with a missing key is
            // undefined behaviour, and a missing field must fail, not crash.
            CHECK(answer.value("outcome", "") == "spooled");
            const std::string detail = answer.value("detail", "");
            const bool isBehind = detail.find(behind) != std::string::npos;
            CHECK_MESSAGE(isBehind == (answered++ > 0), detail);
            spooledBehind += isBehind;
        }
        CHECK(spooledBehind == 8);
        // Answered while the lock is held (the breaker answers at once).
        auto usage = getJson(api, "/v1/usage");
        CHECK(usage["database"]["wal"]["wal_bytes"].is_number());
        CHECK(usage["database"]["breaker"]["consecutive_failures"] >= 1);
        CHECK(usage["spool"]["pending_records"] == 9);
        CHECK(usage["spool"]["spooled_answers"] == 9);
        auto ready = api.Get("/readyz");
        REQUIRE(ready);
        CHECK(ready->status == 200);
        CHECK(json::parse(ready->body)["status"] == "degraded");
        serve.signal(SIGKILL);
        serve.waitOrKill(std::chrono::seconds(5));
        shell.exec("ROLLBACK");
    }
    for (const auto id : ids) CHECK(stateOf(db, id) == "reserved");
    auto shown = runCalltrack(dir, {"--db", db, "spool", "show", "--json"});
    REQUIRE_MESSAGE(shown.status == 0, shown.err);
    const auto doc = json::parse(shown.out);
    CHECK(doc["pending_records"] == 9);
    CHECK(doc["segments"].size() == 1);
    CHECK(doc["segments"][0]["held_by_live_process"] == false);

    auto replayed = runCalltrack(dir, {"--db", db, "spool", "replay"});
    REQUIRE_MESSAGE(replayed.status == 0, replayed.err);
    CHECK(replayed.out.find("applied 9") != std::string::npos);
    for (const auto id : ids) CHECK(stateOf(db, id) == "completed");
    CHECK(json::parse(
              runCalltrack(dir, {"--db", db, "spool", "show", "--json"}).out)["pending_records"] ==
          0);
    CHECK(runCalltrack(dir, {"--db", db, "check"}).status == 0);
    // The client option from the CLI too.
    auto set = runCalltrack(dir, {"--db", db, "client", "set", "dialer",
                                  "--on-database-unavailable", "admit_within_share"});
    CHECK_MESSAGE(set.status == 0, set.err);
    CHECK(runCalltrack(dir, {"--db", db, "client", "show", "dialer"})
              .out.find("admit_within_share") != std::string::npos);
    CHECK(runCalltrack(
              dir, {"--db", db, "client", "set", "dialer", "--on-database-unavailable", "maybe"})
              .status == 2);
}

TEST_CASE("a restarted serve adopts a crashed one's spool and applies it before it reaps") {
    test::TempDir dir;
    const std::string db = dir.file("calltrack.db");
    std::vector<int64_t> ids;
    {
        test::ServeProcess serve(db, {"--public-url", "https://calls.example.com"});
        auto api = clientOf(serve);
        ids = admitCalls(api, 2);
        SQLite::Database shell(db, SQLite::OPEN_READWRITE);
        // serve writes every second (history, alerts): wait for a gap, as an
        // operator retrying would
        shell.exec("PRAGMA busy_timeout = 5000");
        shell.exec("BEGIN IMMEDIATE");
        for (const auto& r : flows(ids)) REQUIRE(test::postTwilio(api, r)->status == 202);
        serve.signal(SIGKILL);
        serve.waitOrKill(std::chrono::seconds(5));
        shell.exec("ROLLBACK");
    }
    test::ServeProcess again(db, {"--public-url", "https://calls.example.com"});
    auto api = clientOf(again);
    const auto until = SteadyClock::now() + std::chrono::seconds(10);
    while (SteadyClock::now() < until &&
           (stateOf(db, ids[0]) != "completed" || stateOf(db, ids[1]) != "completed")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (const auto id : ids) CHECK(stateOf(db, id) == "completed");
    const auto usage = getJson(api, "/v1/usage");
    CHECK(usage["spool"]["segments_adopted"] == 1);
    CHECK(usage["spool"]["pending_records"] == 0);
    CHECK(again.stderrLog().find("adopted intake spool segments") != std::string::npos);
}

TEST_CASE(
    "while the database is locked: a bad signature is 403 and never spooled; an admission "
    "is 503 database_unavailable, counted, nothing written") {
    test::ServeProcess serve({"--public-url", "https://calls.example.com"});
    auto api = clientOf(serve);
    const auto ids = admitCalls(api, 1);
    SQLite::Database shell(serve.db(), SQLite::OPEN_READWRITE);
    // serve writes every second (history, alerts): wait for a gap, as an
    // operator retrying would
    shell.exec("PRAGMA busy_timeout = 5000");
    shell.exec("BEGIN IMMEDIATE");
    auto forged = flows(ids)[0];
    forged.signature = "bm90IGEgc2lnbmF0dXJl";
    auto res = test::postTwilio(api, forged);
    REQUIRE(res);
    CHECK(res->status == 403);
    auto admit = api.Post("/v1/calls", R"({"client_id": "dialer"})", "application/json");
    REQUIRE(admit);
    CHECK(admit->status == 503);
    const auto body = json::parse(admit->body);
    CHECK(body["error"]["code"] == "database_unavailable");
    CHECK(admit->get_header_value("Retry-After") == "1");
    const auto usage = getJson(api, "/v1/usage");
    CHECK(usage["spool"]["appended"] == 0);
    CHECK(usage["database"]["admissions_refused_unavailable"] == 1);
    shell.exec("ROLLBACK");
    SQLite::Database check(serve.db(), SQLite::OPEN_READONLY);
    CHECK(check.execAndGet("SELECT count(*) FROM calls").getInt() == 1);
    CHECK(db::IntakeSpool::inspect(db::SpoolOptions::directoryFor(serve.db())).empty());
}

namespace {

json usageOf(const test::ServeProcess& serve) {
    auto c = clientOf(serve);
    return getJson(c, "/v1/usage");
}

// Until the process sees `n` live processes and has read the free slots.
void waitForShares(const test::ServeProcess& serve, int n) {
    const auto until = SteadyClock::now() + std::chrono::seconds(10);
    while (SteadyClock::now() < until) {
        const auto o = usageOf(serve)["database"]["offline_admissions"];
        if (o["live_processes"] == n && !o["free_slots_seen_at"].is_null()) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL("serve did not see " << n << " live processes");
}

int admitAs(const test::ServeProcess& serve, const std::string& ext, json* body = nullptr) {
    auto c = clientOf(serve);
    const json req = {{"client_id", "share"}, {"external_id", ext}};
    auto res = c.Post("/v1/calls", req.dump(), "application/json");
    REQUIRE(res);
    if (body) *body = json::parse(res->body);
    return res->status;
}

}  // namespace

TEST_CASE(
    "admit_within_share: with the database locked, each serve admits its share of the free "
    "slots offline; they are written afterwards, and a share that proved too large is flagged") {
    test::TempDir dir;
    const std::string db = dir.file("calltrack.db");
    const std::vector<std::string> args{"--request-deadline-ms", "300"};
    test::ServeProcess a(db, args);
    {
        auto c = clientOf(a);
        REQUIRE(
            c.Put("/v1/limits/global", R"({"max_concurrent": 100})", "application/json")->status ==
            200);
        REQUIRE(c.Put("/v1/clients/share",
                      R"({"max_concurrent": 10, "on_database_unavailable": "admit_within_share"})",
                      "application/json")
                    ->status == 201);
        REQUIRE(
            c.Put("/v1/clients/strict", R"({"max_concurrent": 10})", "application/json")->status ==
            201);
    }
    test::ServeProcess b(db, args);
    REQUIRE(admitAs(a, "before-1") == 201);
    REQUIRE(admitAs(a, "before-2") == 201);
    waitForShares(a, 2);
    waitForShares(b, 2);

    // 10 - 2 = 8 free slots, 2 processes: 4 each.
    SQLite::Database shell(db, SQLite::OPEN_READWRITE);
    // serve writes every second (history, alerts): wait for a gap, as an
    // operator retrying would
    shell.exec("PRAGMA busy_timeout = 5000");
    shell.exec("BEGIN IMMEDIATE");
    int offline = 0, refused = 0;
    for (int i = 0; i < 6; ++i) {
        json body;
        const int status = admitAs(a, "a" + std::to_string(i), &body);
        if (status == 202) {
            CHECK(body["outcome"] == "admitted_offline");
            CHECK(body["external_id"] == "a" + std::to_string(i));
            ++offline;
        } else {
            CHECK(status == 503);
            CHECK(body["error"]["code"] == "database_unavailable");
            ++refused;
        }
    }
    CHECK(offline == 4);
    CHECK(refused == 2);
    CHECK(admitAs(a, "a0") == 202);  // a retry gets its grant again, no second share
    for (int i = 0; i < 4; ++i) CHECK(admitAs(b, "b" + std::to_string(i)) == 202);
    CHECK(admitAs(b, "b4") == 503);
    // A client without the option is refused.
    {
        auto c = clientOf(a);
        auto res = c.Post("/v1/calls", R"({"client_id": "strict"})", "application/json");
        REQUIRE(res);
        CHECK(res->status == 503);
    }
    // Events for an offline call go by its external id, behind its admission.
    {
        auto c = clientOf(a);
        auto res = c.Post("/v1/clients/share/calls/a1/events", R"({"status": "ringing"})",
                          "application/json");
        REQUIRE(res);
        CHECK(res->status == 202);
    }
    // A third process started during the outage cannot write its heartbeat:
    // it counts 2 processes and takes a share of 4 too; 4 more than fit.
    test::ServeProcess late(db, args);
    waitForShares(late, 2);
    for (int i = 0; i < 4; ++i) CHECK(admitAs(late, "c" + std::to_string(i)) == 202);
    CHECK(usageOf(a)["database"]["offline_admissions"]["waiting"] == 4);
    shell.exec("ROLLBACK");

    const auto until = SteadyClock::now() + std::chrono::seconds(15);
    for (const auto* s : {&a, &b, &late}) {
        while (SteadyClock::now() < until &&
               usageOf(*s)["database"]["offline_admissions"]["waiting"] != 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    SQLite::Database check(db, SQLite::OPEN_READONLY);
    const auto count = [&](const std::string& where) {
        return check.execAndGet("SELECT count(*) FROM calls WHERE client_id = 'share' AND " + where)
            .getInt();
    };
    CHECK(count("admitted_offline = 1") == 12);
    CHECK(count("admitted_offline = 1 AND would_refuse = 'client_limit_reached' AND client_slot "
                "IS NULL") == 4);
    CHECK(count("ended_at IS NULL AND client_slot IS NOT NULL") <= 10);
    CHECK(count("external_id = 'a1' AND state = 'ringing'") == 1);
    CHECK(check.execAndGet("SELECT flagged_total FROM clients WHERE id = 'share'").getInt() == 4);
    const auto r = runCalltrack(dir, {"--db", db, "check"});
    CHECK_MESSAGE(r.status == 0, r.out);
}

TEST_CASE(
    "lock storm: a shell holds the write lock for 12 s while signed Twilio callbacks for 20 calls "
    "come shuffled and duplicated; every delivery is answered 2xx and every call completes") {
    test::ServeProcess serve({"--public-url", "https://calls.example.com"});
    auto api = clientOf(serve);
    const auto ids = admitCalls(api, 20);

    std::vector<std::pair<std::string, json>> requests;
    const std::vector<std::string> statuses{"ringing", "in-progress", "completed"};
    for (size_t i = 0; i < ids.size(); ++i) {
        for (int seq = 0; seq < 3; ++seq) {
            requests.push_back({"/v1/webhooks/twilio?call_id=" + std::to_string(ids[i]),
                                callback(sidOf(static_cast<int>(i)), statuses[seq], seq + 1)});
        }
    }
    const auto signedRequests =
        test::signTwilioRequests("https://calls.example.com", kToken, requests);
    std::vector<const test::SignedTwilioRequest*> deliveries;
    for (size_t i = 0; i < signedRequests.size(); ++i) {
        deliveries.push_back(&signedRequests[i]);
        if (i % 3 == 2) deliveries.push_back(&signedRequests[i]);  // Twilio's retry
    }
    std::mt19937 rng(20261201);
    std::shuffle(deliveries.begin(), deliveries.end(), rng);

    // An operator's sqlite3 shell: BEGIN IMMEDIATE, then 12 s of thinking.
    SQLite::Database shell(serve.db(), SQLite::OPEN_READWRITE);
    // serve writes every second (history, alerts): wait for a gap, as an
    // operator retrying would
    shell.exec("PRAGMA busy_timeout = 5000");
    shell.exec("BEGIN IMMEDIATE");
    const auto lockedAt = SteadyClock::now();

    std::atomic<size_t> next{0};
    std::mutex mutex;
    std::map<int, int> statusCounts;
    std::vector<std::string> failures;
    std::vector<std::thread> senders;
    for (int t = 0; t < 8; ++t) {
        senders.emplace_back([&] {
            auto c = clientOf(serve);
            for (size_t i; (i = next++) < deliveries.size();) {
                auto res = test::postTwilio(c, *deliveries[i]);
                std::lock_guard lock(mutex);
                if (!res) {
                    failures.push_back("no answer: " + httplib::to_string(res.error()));
                    continue;
                }
                ++statusCounts[res->status];
                if (res->status / 100 != 2)
                    failures.push_back(std::to_string(res->status) + " " + res->body);
            }
        });
    }
    for (auto& s : senders) s.join();
    const auto sentIn = SteadyClock::now() - lockedAt;
    // Every delivery was answered while the lock was still held.
    CHECK(sentIn < std::chrono::seconds(12));
    std::this_thread::sleep_until(lockedAt + std::chrono::seconds(12));
    shell.exec("ROLLBACK");

    INFO("answers by status: " << json(statusCounts).dump());
    CHECK(failures.empty());
    for (size_t i = 0; i < std::min<size_t>(failures.size(), 5); ++i) MESSAGE(failures[i]);

    // Applied soon after the lock is gone.
    const auto until = SteadyClock::now() + std::chrono::seconds(20);
    int completed = 0;
    while (SteadyClock::now() < until) {
        completed = 0;
        for (const auto id : ids) {
            // A new connection: the one used before the lock sat idle past
            // the server's keep-alive timeout.
            auto poll = clientOf(serve);
            if (!poll.Get("/healthz")) FAIL("serve does not answer: " << serve.stderrLog());
            completed +=
                getJson(poll, "/v1/calls/" + std::to_string(id))["call"]["state"] == "completed";
        }
        if (completed == static_cast<int>(ids.size())) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(completed == static_cast<int>(ids.size()));
    SQLite::Database check(serve.db(), SQLite::OPEN_READONLY);
    for (const auto id : ids) {
        SQLite::Statement q(check,
                            "SELECT count(*) FROM call_events WHERE call_id = ? AND outcome = "
                            "'applied' AND to_state = 'completed'");
        q.bind(1, static_cast<int64_t>(id));
        REQUIRE(q.executeStep());
        CHECK_MESSAGE(q.getColumn(0).getInt() == 1, "call " << id);
    }
    CHECK(check.execAndGet("SELECT active FROM clients WHERE id = 'dialer'").getInt() == 0);
    CHECK(check.execAndGet("SELECT global_active FROM settings").getInt() == 0);
}
