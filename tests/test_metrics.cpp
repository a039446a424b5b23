// GET /metrics on a real `calltrack serve`: the exposition passes
// `promtool check metrics` (Debian's prometheus package), and after a
// scripted load (admissions, refusals for each reason, ends, timeouts) its
// values equal what the database holds. Also the history and capacity
// endpoints over the same load, and the client-label bound.

#include "tests/ApiFixture.h"
#include "tests/ServeProcess.h"
#include "tests/TestSupport.h"

#include <SQLiteCpp/Database.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <doctest/doctest.h>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

using namespace calltrack;

namespace {
using Series = std::map<std::string, double>;  // `name{labels}` as exposed -> value

Series parse(const std::string& text) {
    Series out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto space = line.rfind(' ');
        out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
}

double value(const Series& s, const std::string& key) {
    const auto it = s.find(key);
    if (it == s.end()) FAIL("no series " << key);
    return it->second;
}

std::pair<int, std::string> run(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    REQUIRE(pipe);
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

int64_t count(const std::string& db, const std::string& where) {
    SQLite::Database raw(db, SQLite::OPEN_READONLY);
    return raw.execAndGet("SELECT count(*) FROM call_events WHERE " + where).getInt64();
}

struct Api {
    explicit Api(int port) : http("127.0.0.1", port) {
        http.set_read_timeout(std::chrono::seconds(10));
    }
    int put(const std::string& path, const nlohmann::json& body) {
        auto r = http.Put(path, body.dump(), "application/json");
        REQUIRE(r);
        return r->status;
    }
    int post(const std::string& path, const nlohmann::json& body) {
        auto r = http.Post(path, body.dump(), "application/json");
        REQUIRE(r);
        return r->status;
    }
    std::pair<int, std::string> get(const std::string& path) {
        auto r = http.Get(path);
        REQUIRE(r);
        return {r->status, r->body};
    }
    httplib::Client http;
};

void admit(Api& api, const std::string& client, const std::string& external, int expected) {
    CAPTURE(client);
    CAPTURE(external);
    CHECK(api.post("/v1/calls", {{"client_id", client}, {"external_id", external}}) == expected);
}
}  // namespace

TEST_SUITE("metrics") {
    TEST_CASE("the exposition passes promtool and equals the database after a scripted load") {
        const auto [promtoolFound, where] = run("command -v promtool");
        REQUIRE_MESSAGE(promtoolFound == 0,
                        "promtool missing: scripts/install-deps installs "
                        "Debian's prometheus package");
        test::ServeProcess serve({"--reaper-interval-ms", "100", "--history-interval-s", "1"});
        Api api(serve.port());
        REQUIRE(api.put("/v1/limits/global", {{"max_concurrent", 4}}) == 200);
        REQUIRE(api.put("/v1/clients/a", {{"max_concurrent", 2}, {"ring_timeout_s", 1}}) / 100 ==
                2);
        REQUIRE(api.put("/v1/clients/b", {{"max_concurrent", 5}}) / 100 == 2);
        REQUIRE(api.put("/v1/clients/off", {{"max_concurrent", 5}, {"enabled", false}}) / 100 == 2);
        REQUIRE(api.put("/v1/clients/botty", {{"max_concurrent", 5}, {"bots_required", true}}) /
                    100 ==
                2);

        admit(api, "botty", "v1", 429);  // bot_unavailable: it has no bot
        admit(api, "a", "a1", 201);
        admit(api, "a", "a2", 201);
        admit(api, "a", "a3", 429);  // client_limit_reached
        admit(api, "b", "b1", 201);
        admit(api, "b", "b2", 201);
        admit(api, "b", "b3", 429);      // global_limit_reached (4 live)
        admit(api, "off", "o1", 429);    // client_disabled
        admit(api, "ghost", "g1", 404);  // unknown_client
        admit(api, "a", "a1", 200);      // a retry: duplicate
        CHECK(api.post("/v1/clients/b/calls/b1/end", {{"reason", "completed"}}) == 200);
        // a1 and a2 ring out after 1 s: the reaper times them out.
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (count(serve.db(), "kind = 'timeout'") < 2 &&
               std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        REQUIRE(count(serve.db(), "kind = 'timeout'") == 2);

        const auto [status, text] = api.get("/metrics");
        REQUIRE(status == 200);
        const std::string file = serve.file("metrics.txt");
        std::ofstream(file) << text;
        const auto [lint, lintOut] = run("promtool check metrics < " + file);
        CHECK_MESSAGE(lint == 0, lintOut);

        const auto s = parse(text);
        SQLite::Database raw(serve.db(), SQLite::OPEN_READONLY);
        const auto db = [&](const std::string& sql) { return raw.execAndGet(sql).getDouble(); };
        for (const std::string k : {"a", "b", "off", "botty"}) {
            CAPTURE(k);
            const std::string l = "{client=\"" + k + "\"}";
            CHECK(value(s, "calltrack_calls_active" + l) ==
                  db("SELECT active FROM clients WHERE id = '" + k + "'"));
            CHECK(value(s, "calltrack_client_limit" + l) ==
                  db("SELECT max_concurrent FROM clients WHERE id = '" + k + "'"));
            CHECK(
                value(s, "calltrack_admissions_total{client=\"" + k + "\",outcome=\"admitted\"}") ==
                count(serve.db(),
                      "kind = 'admit' AND outcome = 'admitted' AND client_id = '" + k + "'"));
            for (const std::string reason : {"client_limit_reached", "global_limit_reached",
                                             "client_disabled", "bot_unavailable"}) {
                CAPTURE(reason);
                CHECK(value(s, "calltrack_refusals_total{client=\"" + k + "\",reason=\"" + reason +
                                   "\"}") ==
                      count(serve.db(), "outcome = 'refused' AND reason = '" + reason +
                                            "' AND client_id = '" + k + "'"));
            }
            CHECK(value(s, "calltrack_timeouts_total" + l) ==
                  db("SELECT count(*) FROM calls WHERE state = 'timed_out' AND client_id = '" + k +
                     "'"));
        }
        CHECK(value(s, "calltrack_refusals_total{client=\"a\",reason=\"client_limit_reached\"}") ==
              1);
        CHECK(value(s, "calltrack_refusals_total{client=\"b\",reason=\"global_limit_reached\"}") ==
              1);
        CHECK(value(s, "calltrack_refusals_total{client=\"off\",reason=\"client_disabled\"}") == 1);
        CHECK(value(s, "calltrack_refusals_total{client=\"botty\",reason=\"bot_unavailable\"}") ==
              1);
        CHECK(value(s, "calltrack_refusals_total{client=\"_unknown\",reason=\"unknown_client\"}") ==
              1);
        CHECK(value(s, "calltrack_admissions_total{client=\"a\",outcome=\"duplicate\"}") == 1);
        CHECK(value(s, "calltrack_timeouts_total{client=\"a\"}") == 2);
        CHECK(value(s, "calltrack_calls_ended_total{client=\"b\",outcome=\"canceled\"}") == 1);
        CHECK(value(s, "calltrack_call_duration_seconds_count{client=\"a\"}") == 2);
        CHECK(value(s, "calltrack_call_duration_seconds_bucket{client=\"a\",le=\"5\"}") == 2);
        CHECK(value(s, "calltrack_global_calls_active") ==
              db("SELECT global_active FROM settings"));
        CHECK(value(s, "calltrack_global_limit") == 4);
        CHECK(value(s,
                    "calltrack_events_total{client=\"a\",source=\"reaper\",outcome=\"applied\"}") ==
              2);
        // Per-process series carry the process label; HTTP by route and status.
        bool sawAdmitRoute = false;
        for (const auto& [key, v] : s)
            if (key.rfind("calltrack_http_requests_total{", 0) == 0 &&
                key.find("route=\"/v1/calls\"") != std::string::npos &&
                key.find("status=\"201\"") != std::string::npos &&
                key.find("process=\"") != std::string::npos) {
                sawAdmitRoute = true;
                CHECK(v == 4);  // a1, a2, b1, b2
            }
        CHECK(sawAdmitRoute);
        CHECK(text.find("calltrack_lease_held{lease=\"history\"") != std::string::npos);
        CHECK(text.find("# TYPE calltrack_writer_batch_duration_seconds histogram") !=
              std::string::npos);

        // The history saw the same load (the lease holder folds every second).
        nlohmann::json history;
        for (int i = 0; i < 50; ++i) {
            history = nlohmann::json::parse(api.get("/v1/usage/history?client_id=a").second);
            int64_t admissions = 0, timeouts = 0;
            for (const auto& sample : history["samples"]) {
                admissions += sample["admissions"].get<int64_t>();
                timeouts += sample["timeouts"].get<int64_t>();
            }
            if (admissions == 2 && timeouts == 2) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        int64_t admissions = 0, refused = 0, peak = 0;
        for (const auto& sample : history["samples"]) {
            admissions += sample["admissions"].get<int64_t>();
            refused += sample["refusals"]["client_limit_reached"].get<int64_t>();
            peak = std::max(peak, sample["active_max"].get<int64_t>());
        }
        CHECK(admissions == 2);
        CHECK(refused == 1);
        CHECK(peak <= 2);
        CHECK(api.get("/v1/usage/history?client_id=a&bogus=1").first == 400);
        CHECK(api.get("/v1/usage/history?client_id=nobody").first == 404);
        CHECK(api.get("/v1/usage/history?from=2026-13-01T00:00:00Z").first == 400);
        CHECK(api.get("/v1/usage/history?step=61").first == 400);
        CHECK(api.get("/v1/usage/history?from=2000-01-01T00:00:00Z&step=60").first == 400);
        const auto capacity = nlohmann::json::parse(api.get("/v1/capacity?blocking=0.01").second);
        CHECK(capacity["clients"].size() == 4);
        CHECK(capacity["global"]["current_limit"] == 4);
        CHECK(api.get("/v1/capacity?blocking=1.5").first == 400);
    }

    TEST_CASE("client labels are bounded: clients past the bound are summed under _other") {
        test::TempDir dir;
        const std::string db = dir.file("bound.db");
        {
            test::ServeProcess serve(db, {"--metrics-max-clients", "1"});
            Api api(serve.port());
            for (const std::string k : {"c1", "c2", "c3"})
                REQUIRE(api.put("/v1/clients/" + k, {{"max_concurrent", 3}}) / 100 == 2);
            admit(api, "c1", "x", 201);
            admit(api, "c2", "x", 201);
            admit(api, "c3", "x", 201);
            admit(api, "c3", "y", 201);
            const auto s = parse(api.get("/metrics").second);
            CHECK(value(s, "calltrack_calls_active{client=\"c1\"}") == 1);
            CHECK(value(s, "calltrack_calls_active{client=\"_other\"}") == 3);
            CHECK(value(s, "calltrack_client_limit{client=\"_other\"}") == 6);
            CHECK(value(s, "calltrack_admissions_total{client=\"_other\",outcome=\"admitted\"}") ==
                  3);
            CHECK(s.count("calltrack_calls_active{client=\"c2\"}") == 0);
        }
    }

    TEST_CASE("with no read connection in time, /metrics still exports this process's series") {
        // Four slow readers hold every read connection (a slow listing, a
        // backup): the scrape must not fail as a whole, since this is when
        // the breaker, spool and connection series matter.
        test::ApiFixture f;
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
        auto res = f.send("GET", "/metrics");
        {
            std::lock_guard lock(m);
            release = true;
        }
        cv.notify_all();
        for (auto& h : holders) h.join();
        REQUIRE(res);
        CHECK(res->status == 200);
        const auto s = parse(res->body);
        CHECK(value(s, "calltrack_metrics_database_read_ok{process=\"unnamed\"}") == 0);
        CHECK(s.count("calltrack_database_breaker_state{process=\"unnamed\",state=\"closed\"}") ==
              1);
        CHECK(s.count("calltrack_global_limit") == 0);
        // Once a reader is free again, everything is back.
        const auto again = parse(f.send("GET", "/metrics")->body);
        CHECK(value(again, "calltrack_metrics_database_read_ok{process=\"unnamed\"}") == 1);
        CHECK(again.count("calltrack_global_limit") == 1);
    }
}
