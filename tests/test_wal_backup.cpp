// The WAL and backups (issue 10, section 3): a reader that never ends pins
// the log, which grows with every write; the checkpointer reports it, warns
// once it has lasted, and gives the disk back once the reader is gone. A
// backup taken while a real `calltrack serve` is writing is one consistent
// state that passes `calltrack check`.

#include "db/storage/WalCheckpointer.h"
#include "tests/ServeProcess.h"
#include "tests/TestSupport.h"

#include <doctest/doctest.h>

#include <SQLiteCpp/Database.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <thread>

using namespace calltrack;
using test::TestDatabase;

namespace {

void admitAndEnd(TestDatabase& t, int n, int& next) {
    for (int i = 0; i < n; ++i, ++next) {
        const auto r = t.admission->admit(test::admitReq("acme", "w" + std::to_string(next)));
        t.lifecycle->end(test::endReq(r.call->id));
    }
}

}  // namespace

TEST_CASE(
    "a stuck reader pins the WAL: reported, warned about after a minute, and the file "
    "shrinks once it is gone") {
    TestDatabase t;
    t.clients->create("acme", test::limitPatch(10));
    std::vector<db::WalStatus> warnings;
    db::WalCheckpointer wal(t.options.path, t.clock, {},
                            [&](const db::WalStatus& s) { warnings.push_back(s); });
    int next = 0;
    admitAndEnd(t, 50, next);
    auto s = wal.checkpoint();
    CHECK(s.behindSinceMs == 0);
    CHECK(s.lastCompleteAtMs == t.clock.nowMs());

    // An operator's `sqlite3` shell: BEGIN; SELECT ... and then lunch.
    SQLite::Database shell(t.options.path, SQLite::OPEN_READONLY);
    shell.exec("BEGIN");
    CHECK(shell.execAndGet("SELECT count(*) FROM calls").getInt() == 50);
    uint64_t before = 0;
    for (int round = 0; round < 4; ++round) {
        admitAndEnd(t, 500, next);
        t.clock.advanceMs(20'000);
        s = wal.checkpoint();
        CHECK(s.behindSinceMs > 0);
        CHECK(s.logFrames > s.checkpointedFrames);
        CHECK(s.walBytes > before);  // grows with every write
        before = s.walBytes;
    }
    // Behind since the first round: 60 s later, one warning (not one per round).
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].walBytes > 4 * 1024 * 1024);
    t.clock.advanceMs(20'000);
    wal.checkpoint();
    CHECK(warnings.size() == 1);
    MESSAGE("WAL with a stuck reader after 2000 admit+end pairs: " << before << " bytes");

    shell.exec("COMMIT");
    s = wal.checkpoint();
    CHECK(s.behindSinceMs == 0);
    CHECK(s.truncations == 1);
    CHECK(s.walBytes == 0);  // without a write: the disk given back
    admitAndEnd(t, 10, next);
    CHECK(std::filesystem::file_size(t.options.path + "-wal") < 4 * 1024 * 1024);
    CHECK_INVARIANTS(t);
}

TEST_CASE(
    "calltrack backup: a consistent copy while serve writes; it passes check and never "
    "overwrites") {
    test::ServeProcess serve;
    httplib::Client api("127.0.0.1", serve.port());
    api.set_tcp_nodelay(true);
    REQUIRE(
        api.Put("/v1/limits/global", R"({"max_concurrent": 100})", "application/json")->status ==
        200);
    REQUIRE(api.Put("/v1/clients/acme", R"({"max_concurrent": 20})", "application/json")->status ==
            201);
    std::atomic<bool> stop{false};
    std::atomic<int> pairs{0};
    std::thread load([&] {
        httplib::Client c("127.0.0.1", serve.port());
        c.set_tcp_nodelay(true);
        while (!stop.load()) {
            auto r = c.Post("/v1/calls", R"({"client_id": "acme"})", "application/json");
            if (!r || r->status != 201) continue;
            const int64_t id = nlohmann::json::parse(r->body)["call"]["id"];
            c.Post("/v1/calls/" + std::to_string(id) + "/end", "{}", "application/json");
            ++pairs;
        }
    });
    while (pairs.load() < 200) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    test::TempDir dir;
    const std::string copy = dir.file("copy.db");
    const auto run = [&](const std::vector<std::string>& args) {
        const pid_t pid = test::spawnCalltrack(args, dir.file("out"), dir.file("err"));
        const auto status = test::waitExit(pid, std::chrono::seconds(60));
        REQUIRE(status);
        return std::make_pair(WEXITSTATUS(*status),
                              test::slurp(dir.file("out")) + test::slurp(dir.file("err")));
    };
    auto [status, out] = run({"--db", serve.db(), "backup", copy});
    CHECK_MESSAGE(status == 0, out);
    CHECK(out.find("copy checked: ok") != std::string::npos);
    stop = true;
    load.join();
    CHECK_FALSE(std::filesystem::exists(copy + "-wal"));
    auto [checked, report] = run({"--db", copy, "check"});
    CHECK_MESSAGE(checked == 0, report);
    {
        SQLite::Database c(copy, SQLite::OPEN_READONLY);
        CHECK(c.execAndGet("PRAGMA journal_mode").getString() == "wal");
        CHECK(c.execAndGet("SELECT count(*) FROM calls").getInt() > 0);
        CHECK(c.execAndGet("SELECT global_active FROM settings").getInt() ==
              c.execAndGet("SELECT count(*) FROM calls WHERE ended_at IS NULL AND global_slot IS "
                           "NOT NULL")
                  .getInt());
    }
    auto [again, refused] = run({"--db", serve.db(), "backup", copy});
    CHECK(again == 2);
    CHECK(refused.find("never overwrites") != std::string::npos);
}
