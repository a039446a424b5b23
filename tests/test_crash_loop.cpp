// Crash loop (issue 10, section 4): the real `calltrack serve` is SIGKILLed
// over and over under mixed load from several threads (admissions, a batch,
// signed Twilio callbacks, API events, heartbeats and ends), every third
// round while an operator's shell holds the write lock so that events are
// spooled when the kill comes. After every restart, once the spool is
// drained: every acknowledged (2xx) admission, event and end is in the
// database, every 202's spool record is applied (its key in spool_applied),
// `calltrack check` passes and no limit was exceeded.
//
// CALLTRACK_CRASH_ROUNDS (default 20) sets the number of kills; the bench
// run in docs/RELIABILITY.md uses 200.

#include "tests/ServeProcess.h"
#include "tests/TwilioSender.h"

#include <SQLiteCpp/Database.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

using namespace calltrack;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

const std::string kUrl = "https://calls.example.com";
const std::string kAccount = "AC00000000000000000000000000crash";
const std::string kToken = "crash-account-token";
constexpr int kClientLimit = 12;

std::string sidOf(int i) {
    std::string n = std::to_string(i);
    return "CA" + std::string(32 - n.size(), '0') + n;
}

// What the server acknowledged (2xx), and so must be in the database.
struct Acknowledged {
    std::mutex mutex;
    std::map<std::string, int64_t> admitted;   // external id -> call id
    std::set<int64_t> ended;                   // an end was answered 2xx
    std::set<std::string> completedByWebhook;  // external id: its completed callback was 2xx
    std::set<int64_t> answeredByApi;           // its in_progress event was 2xx
    std::map<int64_t, int> heartbeatsApplied;  // answered "applied" at once
    std::vector<std::string> spoolKeys;        // every 202
    int kills = 0, spooled = 0, acknowledgedTotal = 0;
};

httplib::Client clientFor(int port) {
    httplib::Client c("127.0.0.1", port);
    c.set_tcp_nodelay(true);
    c.set_connection_timeout(std::chrono::seconds(2));
    c.set_read_timeout(std::chrono::seconds(15));
    return c;
}

// 2xx, recorded: returns the parsed body, or null if not acknowledged.
json acked(Acknowledged& ack, const httplib::Result& res) {
    if (!res || res->status / 100 != 2) return nullptr;
    json body = json::parse(res->body, nullptr, false);
    if (body.is_discarded()) return nullptr;
    std::lock_guard lock(ack.mutex);
    ++ack.acknowledgedTotal;
    if (res->status == 202) {
        ack.spoolKeys.push_back(body["spool_key"]);
        ++ack.spooled;
    }
    return body;
}

struct Load {
    // Uses call ids up to `limit` (each round has its share of the signed flows).
    Load(int port, Acknowledged& ack, std::atomic<int>& nextId, int limit,
         const std::map<std::string, std::vector<test::SignedTwilioRequest>>& signedFlows)
        : port_(port), ack_(ack), nextId_(nextId), limit_(limit), flows_(signedFlows) {
        for (int t = 0; t < 4; ++t) threads_.emplace_back([this, t] { run(t); });
        threads_.emplace_back([this] { batches(); });
    }
    ~Load() {
        stop_ = true;
        for (auto& t : threads_) t.join();
    }

  private:
    void run(int t) {
        auto c = clientFor(port_);
        std::mt19937 rng(static_cast<unsigned>(t) * 7919u + static_cast<unsigned>(nextId_.load()));
        while (!stop_) {
            const int i = nextId_++;
            if (i >= limit_) return;
            const std::string ext = sidOf(i);
            const json admit = {{"client_id", "crash"}, {"external_id", ext}};
            auto res = c.Post("/v1/calls", admit.dump(), "application/json");
            while (res && res->status == 429 && !stop_) {
                // At the limit: this id waits for a slot.
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
                res = c.Post("/v1/calls", admit.dump(), "application/json");
            }
            const json body = acked(ack_, res);
            if (body.is_null() || !body.contains("call")) {
                if (!res) return;  // the server is gone: this round is over
                continue;
            }
            const int64_t id = body["call"]["id"];
            {
                std::lock_guard lock(ack_.mutex);
                ack_.admitted[ext] = id;
            }
            const std::string path = "/v1/calls/" + std::to_string(id);
            if (i % 2 == 0) {
                // The provider's flow, shuffled, one duplicated.
                auto flow = flows_.at(ext);
                flow.push_back(flow[rng() % flow.size()]);
                std::shuffle(flow.begin(), flow.end(), rng);
                for (const auto& r : flow) {
                    const json b = acked(ack_, test::postTwilio(c, r));
                    if (!b.is_null() && r.params["CallStatus"] == "completed") {
                        std::lock_guard lock(ack_.mutex);
                        ack_.completedByWebhook.insert(ext);
                    }
                }
            } else {
                // The dialer's own events: answered, heartbeats, end.
                const json ev = {{"status", "in_progress"}};
                if (!acked(ack_, c.Post(path + "/events", ev.dump(), "application/json"))
                         .is_null()) {
                    std::lock_guard lock(ack_.mutex);
                    ack_.answeredByApi.insert(id);
                }
                for (int h = 0; h < 2; ++h) {
                    const json b = acked(ack_, c.Post(path + "/heartbeat", "", "application/json"));
                    if (!b.is_null() && b["outcome"] == "applied") {
                        std::lock_guard lock(ack_.mutex);
                        ++ack_.heartbeatsApplied[id];
                    }
                }
                if (!acked(ack_, c.Post(path + "/end", "{}", "application/json")).is_null()) {
                    std::lock_guard lock(ack_.mutex);
                    ack_.ended.insert(id);
                }
            }
        }
    }

    void batches() {
        auto c = clientFor(port_);
        while (!stop_) {
            const int i = nextId_++;
            if (i >= limit_) return;
            const std::string ext = "batch-" + std::to_string(i);
            const json batch = {{"items", {{{"client_id", "crash"}, {"external_id", ext}}}}};
            const json body =
                acked(ack_, c.Post("/v1/calls:batch", batch.dump(), "application/json"));
            if (!body.is_null() && body["results"][0]["status"] == 201) {
                const int64_t id = body["results"][0]["body"]["call"]["id"];
                std::lock_guard lock(ack_.mutex);
                ack_.admitted[ext] = id;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    int port_;
    Acknowledged& ack_;
    std::atomic<int>& nextId_;
    int limit_;
    const std::map<std::string, std::vector<test::SignedTwilioRequest>>& flows_;
    std::atomic<bool> stop_{false};
    std::vector<std::thread> threads_;
};

int64_t scalar(SQLite::Database& c, const std::string& sql) {
    return c.execAndGet(sql).getInt64();
}

void verify(const std::string& db, Acknowledged& ack, const test::TempDir& dir) {
    std::lock_guard lock(ack.mutex);
    SQLite::Database c(db, SQLite::OPEN_READONLY);
    for (const auto& [ext, id] : ack.admitted) {
        SQLite::Statement q(c, "SELECT external_id FROM calls WHERE id = ?");
        q.bind(1, static_cast<int64_t>(id));
        REQUIRE_MESSAGE(q.executeStep(),
                        "acknowledged admission of " << ext << " (call " << id << ") is missing");
        CHECK(q.getColumn(0).getString() == ext);
    }
    for (const auto id : ack.ended) {
        CHECK_MESSAGE(scalar(c, "SELECT ended_at IS NOT NULL FROM calls WHERE id = " +
                                    std::to_string(id)) == 1,
                      "acknowledged end of call " << id << " is not applied");
    }
    for (const auto& ext : ack.completedByWebhook) {
        const auto id = ack.admitted.at(ext);
        CHECK_MESSAGE(test::scalarText(c, "SELECT state FROM calls WHERE id = " +
                                              std::to_string(id)) == "completed",
                      "acknowledged completed callback of " << ext << " is not applied");
    }
    for (const auto& [id, n] : ack.heartbeatsApplied) {
        CHECK(scalar(c, "SELECT heartbeats FROM calls WHERE id = " + std::to_string(id)) >= n);
    }
    for (const auto id : ack.answeredByApi) {
        CHECK(scalar(c, "SELECT answered_at IS NOT NULL FROM calls WHERE id = " +
                            std::to_string(id)) == 1);
    }
    for (const auto& key : ack.spoolKeys) {
        SQLite::Statement q(c, "SELECT count(*) FROM spool_applied WHERE key = ?");
        q.bind(1, key);
        REQUIRE(q.executeStep());
        CHECK_MESSAGE(q.getColumn(0).getInt() == 1, "spooled record " << key << " never applied");
    }
    // Terminal events applied once per call; limits held.
    CHECK(scalar(c,
                 "SELECT count(*) FROM (SELECT call_id FROM call_events WHERE outcome = "
                 "'applied' AND to_state IN ('completed', 'canceled', 'failed', 'busy', "
                 "'no_answer', 'timed_out') GROUP BY call_id HAVING count(*) > 1)") == 0);
    CHECK(scalar(c,
                 "SELECT count(*) FROM calls WHERE client_id = 'crash' AND ended_at IS NULL AND "
                 "client_slot IS NOT NULL") <= kClientLimit);
    const pid_t pid =
        test::spawnCalltrack({"--db", db, "check"}, dir.file("check.out"), dir.file("check.err"));
    const auto status = test::waitExit(pid, std::chrono::seconds(60));
    REQUIRE(status);
    CHECK_MESSAGE(WEXITSTATUS(*status) == 0, test::slurp(dir.file("check.out")));
}

// Until this serve's spool and every other file in the directory is applied.
void waitDrained(test::ServeProcess& serve) {
    auto c = clientFor(serve.port());
    const auto until = SteadyClock::now() + std::chrono::seconds(30);
    while (SteadyClock::now() < until) {
        auto res = c.Get("/v1/usage");
        if (res && res->status == 200) {
            const auto spool = json::parse(res->body)["spool"];
            if (spool["pending_records"] == 0 && spool["other_process_bytes"] == 0) return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL("the spool was not drained within 30 s: " << serve.stderrLog());
}

}  // namespace

TEST_CASE("crash loop: SIGKILL under mixed load; every acknowledged write survives, once") {
    const char* env = std::getenv("CALLTRACK_CRASH_ROUNDS");
    const int rounds = env ? std::max(1, std::atoi(env)) : 20;
    const int calls = rounds * 300;
    std::vector<std::pair<std::string, json>> requests;
    const std::vector<std::string> statuses{"ringing", "in-progress", "completed"};
    for (int i = 0; i < calls; i += 2) {
        for (int s = 0; s < 3; ++s) {
            requests.push_back({"/v1/webhooks/twilio",
                                {{"AccountSid", kAccount},
                                 {"CallSid", sidOf(i)},
                                 {"CallStatus", statuses[static_cast<size_t>(s)]},
                                 {"SequenceNumber", std::to_string(s + 1)}}});
        }
    }
    const auto signedRequests = test::signTwilioRequests(kUrl, kToken, requests);
    std::map<std::string, std::vector<test::SignedTwilioRequest>> flows;
    for (int i = 0; i < calls; ++i) flows[sidOf(i)];
    for (const auto& r : signedRequests) flows[r.params["CallSid"]].push_back(r);

    test::TempDir dir;
    const std::string db = dir.file("calltrack.db");
    Acknowledged ack;
    std::atomic<int> nextId{0};
    std::mt19937 rng(20261201);
    for (int round = 0; round < rounds; ++round) {
        CAPTURE(round);
        test::ServeProcess serve(db, {"--public-url", kUrl, "--request-deadline-ms", "300"});
        if (round == 0) {
            auto c = clientFor(serve.port());
            REQUIRE(c.Put("/v1/limits/global", R"({"max_concurrent": 100})", "application/json")
                        ->status == 200);
            const json client = {{"max_concurrent", kClientLimit},
                                 {"twilio", {{"account_sid", kAccount}, {"auth_token", kToken}}}};
            REQUIRE(c.Put("/v1/clients/crash", client.dump(), "application/json")->status == 201);
        }
        waitDrained(serve);
        verify(db, ack, dir);
        // Ended and unanswered calls aside, keep the client under its limit
        // so that admissions keep coming: end what the last rounds left.
        {
            SQLite::Database c(db, SQLite::OPEN_READONLY);
            SQLite::Statement q(c, "SELECT id FROM calls WHERE ended_at IS NULL");
            auto api = clientFor(serve.port());
            while (q.executeStep())
                api.Post("/v1/calls/" + std::to_string(q.getColumn(0).getInt64()) + "/end", "{}",
                         "application/json");
        }
        const bool locked = round % 3 == 2;
        std::optional<SQLite::Database> shell;
        {
            const int share = calls / rounds;
            nextId = std::max(nextId.load(), round * share);
            Load load(serve.port(), ack, nextId, std::min(calls, nextId.load() + share), flows);
            std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 250));
            if (locked) {
                shell.emplace(db, SQLite::OPEN_READWRITE);
                shell->setBusyTimeout(5000);
                shell->exec("PRAGMA busy_timeout = 5000");  // serve writes every second
                shell->exec("BEGIN IMMEDIATE");
                std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 300));
            }
            serve.signal(SIGKILL);
            serve.waitOrKill(std::chrono::seconds(5));
        }
        if (shell) shell->exec("ROLLBACK");
        ++ack.kills;
    }
    {
        test::ServeProcess last(db, {"--public-url", kUrl});
        waitDrained(last);
        verify(db, ack, dir);
    }
    MESSAGE("kills: " << ack.kills << ", acknowledged writes: " << ack.acknowledgedTotal
                      << ", of them spooled: " << ack.spooled
                      << ", admissions: " << ack.admitted.size());
    CHECK(ack.kills == rounds);
    CHECK(ack.spooled > 0);
    CHECK(ack.admitted.size() > static_cast<size_t>(rounds));
}
