// Injected storage faults (issue 10, section 4): a VFS shim (FaultyVfs) makes
// the database's writes fail with EIO, its writes fail with a full disk, or
// its fsyncs fail, while the HTTP server takes admissions and call events.
// Every 2xx must be durable (found after the database is closed and opened
// again), every failure answered 503 (admissions: nothing written) or 202
// spooled (events), the process must recover without a restart once the
// fault is gone, and nothing may be applied twice.

#include "tests/ApiFixture.h"
#include "tests/FaultyVfs.h"
#include "tests/TestSupport.h"

#include <doctest/doctest.h>

#include <thread>

using namespace calltrack;
using nlohmann::json;
using test::FaultyVfs;

namespace {

// Applies the spool as serve's job would, once the breaker lets it.
db::ReplayRound drainWhenHealthy(test::ApiFixture& f) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    db::ReplayRound sum;
    while (std::chrono::steady_clock::now() < until) {
        const auto r = f.t.intake->drain([] { return true; }, std::chrono::seconds(1));
        sum.applied += r.applied;
        sum.alreadyApplied += r.alreadyApplied;
        sum.failed += r.failed;
        if (!r.blocked && f.t.spool->stats().pendingRecords == 0) return sum;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL("the spool did not drain after the fault was healed");
    return sum;
}

}  // namespace

TEST_CASE(
    "EIO on write, a full disk, EIO on fsync: every 2xx durable, every failure 503 or "
    "spooled, recovery without restart, nothing applied twice") {
    FaultyVfs& vfs = FaultyVfs::install();
    vfs.heal();
    test::ApiFixture f(std::nullopt, "", 4, std::chrono::milliseconds(500), true);
    REQUIRE(f.call("PUT", "/v1/limits/global", {{"max_concurrent", 1000}}).first == 200);
    REQUIRE(f.call("PUT", "/v1/clients/acme", {{"max_concurrent", 1000}}).first == 201);

    struct Fault {
        std::string name;
        std::function<void()> inject;
    };
    const std::vector<Fault> faults = {
        {"EIO on write", [&] { vfs.failWrites(FaultyVfs::Fault::io_error); }},
        {"disk full", [&] { vfs.failWrites(FaultyVfs::Fault::disk_full); }},
        {"EIO on fsync", [&] { vfs.failSyncs(true); }},
    };
    std::vector<int64_t> ackedCalls;   // admitted 201
    std::vector<int64_t> ackedEnds;    // ended 200 or 202
    std::vector<std::string> refused;  // admissions answered 503
    int next = 0;
    for (const auto& fault : faults) {
        CAPTURE(fault.name);
        // Healthy: calls to end later, under the fault.
        std::vector<int64_t> live;
        for (int i = 0; i < 6; ++i) {
            auto [s, body] =
                f.call("POST", "/v1/calls",
                       {{"client_id", "acme"}, {"external_id", "x" + std::to_string(next++)}});
            REQUIRE(s == 201);
            live.push_back(body["call"]["id"]);
            ackedCalls.push_back(live.back());
        }
        const int before = vfs.injected();
        fault.inject();
        for (int i = 0; i < 6; ++i) {
            const std::string ext = "x" + std::to_string(next++);
            auto [s, body] =
                f.call("POST", "/v1/calls", {{"client_id", "acme"}, {"external_id", ext}});
            CHECK(s == 503);
            test::checkErrorShape(body, "database_unavailable");
            refused.push_back(ext);
            auto [es, ended] =
                f.call("POST", "/v1/calls/" + std::to_string(live[static_cast<size_t>(i)]) + "/end",
                       json::object());
            CHECK(es == 202);
            CHECK(ended["outcome"] == "spooled");
            ackedEnds.push_back(live[static_cast<size_t>(i)]);
        }
        CHECK(vfs.injected() > before);
        auto ready = f.call("GET", "/readyz");
        CHECK(ready.first == 200);
        CHECK(ready.second["status"] == "degraded");
        vfs.heal();
        // Recovery in the same process: the spool drains, admissions work.
        const auto r = drainWhenHealthy(f);
        CHECK(r.applied == 6);
        CHECK(r.failed == 0);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        int status = 0;
        while (std::chrono::steady_clock::now() < until) {
            auto [s, body] =
                f.call("POST", "/v1/calls",
                       {{"client_id", "acme"}, {"external_id", "x" + std::to_string(next)}});
            status = s;
            if (s == 201) {
                ++next;
                ackedCalls.push_back(body["call"]["id"]);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        CHECK(status == 201);
        CHECK(f.call("GET", "/readyz").second["status"] == "ready");
    }
    // Closed and opened again: what was acknowledged is there, once.
    f.server->stop();
    f.t.reopen();
    for (const auto id : ackedCalls) {
        CHECK(test::scalar(f.t, "SELECT count(*) FROM calls WHERE id = " + std::to_string(id)) ==
              1);
    }
    for (const auto id : ackedEnds) {
        CHECK(test::scalar(f.t, "SELECT ended_at IS NOT NULL FROM calls WHERE id = " +
                                    std::to_string(id)) == 1);
        CHECK(test::scalar(
                  f.t, "SELECT count(*) FROM call_events WHERE call_id = " + std::to_string(id) +
                           " AND outcome = 'applied' AND to_state "
                           "IN ('completed', 'canceled')") == 1);
    }
    for (const auto& ext : refused) {
        CHECK(test::scalar(f.t, "SELECT count(*) FROM calls WHERE external_id = '" + ext + "'") ==
              0);
    }
    CHECK(test::scalar(f.t, "SELECT count(*) FROM spool_applied") == 18);
    CHECK_INVARIANTS(f.t);
}
