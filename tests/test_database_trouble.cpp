// Database trouble (issue 10) through the real `calltrack serve`: an
// operator's shell holding the write lock for 12 s while Twilio's signed
// status callbacks (from the npm `twilio` package) keep coming. Twilio does
// not retry a 5xx status callback, so every delivery must be answered 2xx and
// every event applied once the lock is gone.

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

}  // namespace

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
            completed +=
                getJson(api, "/v1/calls/" + std::to_string(id))["call"]["state"] == "completed";
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
