// db::GroupCommitWriter: ops share a transaction, but each op succeeds or
// fails on its own (savepoints); results come back only after the COMMIT;
// deadlines; shutdown.

#include "db/storage/GroupCommitWriter.h"
#include "tests/TestSupport.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <thread>

using namespace calltrack;
using test::scalar;

namespace {

using Op = std::function<int(db::Connection&)>;

void createScratchTable(db::GroupCommitWriter& w) {
    w.run([](db::Connection& c) {
        c.exec("CREATE TABLE scratch (k TEXT PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))");
    });
}

void put(db::Connection& c, const std::string& k, int v) {
    SQLite::Statement s(c.handle(), "INSERT INTO scratch (k, v) VALUES (?1, ?2)");
    s.bind(1, k);
    s.bind(2, v);
    s.exec();
}

int64_t rows(test::TestDatabase& t, const std::string& where = "1") {
    return scalar(t, "SELECT count(*) FROM scratch WHERE " + where);
}

test::Thrown errorOf(const std::exception_ptr& e) {
    return test::thrownBy([&] {
        if (e) std::rethrow_exception(e);
    });
}

}  // namespace

TEST_SUITE("group commit") {
    TEST_CASE("an op that throws fails alone; its batch-mates commit") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(1));
        auto& w = t.database->writer();
        createScratchTable(w);
        const auto before = w.stats();

        std::vector<Op> ops;
        ops.push_back([](db::Connection& c) {
            put(c, "a", 1);
            return 1;
        });
        ops.push_back([](db::Connection& c) -> int {
            put(c, "b", 2);  // written, then rolled back with its op
            throw db::EngineError(db::ErrorCode::conflict, "op b changed its mind");
        });
        ops.push_back([](db::Connection& c) {
            put(c, "c", 3);
            put(c, "c2", -1);  // CHECK constraint
            return 3;
        });
        ops.push_back([](db::Connection& c) {
            put(c, "e", 5);
            // The schema's limit guard: slot 2 of a client whose limit is 1.
            c.exec(
                "INSERT INTO calls (client_id, external_id, state, client_slot, global_slot, "
                "created_at, "
                "admitted_at, updated_at, expires_at) VALUES ('acme', 'x', 'reserved', 2, 2, 1, 1, "
                "1, 9)");
            return 5;
        });
        ops.push_back([](db::Connection& c) {
            put(c, "d", 4);
            return 4;
        });
        auto results = w.runAll<int>(std::move(ops));
        REQUIRE(results.size() == 5);

        CHECK(results[0].first == 1);
        CHECK_FALSE(results[0].second);

        const auto b = errorOf(results[1].second);
        CHECK(b.code == db::ErrorCode::conflict);
        CHECK(b.message == "op b changed its mind");
        CHECK_FALSE(results[1].first.has_value());

        const auto c = errorOf(results[2].second);
        CHECK(c.code.has_value());  // a database refusal, reported as an EngineError
        CHECK(c.message.find("CHECK constraint failed") != std::string::npos);
        CHECK_FALSE(results[2].first.has_value());

        const auto e = errorOf(results[3].second);
        CHECK(e.code.has_value());
        CHECK_FALSE(results[3].first.has_value());

        CHECK(results[4].first == 4);
        CHECK_FALSE(results[4].second);

        CHECK(rows(t) == 2);
        CHECK(rows(t, "k IN ('a', 'd')") == 2);
        CHECK(scalar(t, "SELECT count(*) FROM calls") == 0);
        CHECK(test::clientActive(t, "acme") == 0);

        // One batch, one commit.
        const auto after = w.stats();
        CHECK(after.commits == before.commits + 1);
        CHECK(after.ops == before.ops + 5);
        CHECK(after.largestBatch >= 5);
        CHECK(after.failedBatches == before.failedBatches);
    }

    TEST_CASE("a result is handed back only after the COMMIT that contains it") {
        test::TestDatabase t;
        auto& w = t.database->writer();
        createScratchTable(w);
        SQLite::Database observer(t.options.path, SQLite::OPEN_READONLY);

        std::vector<Op> ops;
        ops.push_back([](db::Connection& c) {
            put(c, "first", 1);
            return 1;
        });
        ops.push_back([&](db::Connection& c) {
            // Runs after `first` in the same transaction: not committed yet.
            const int visible = static_cast<int>(
                scalar(observer, "SELECT count(*) FROM scratch WHERE k = 'first'"));
            put(c, "second", 2);
            return visible;
        });
        auto results = w.runAll<int>(std::move(ops));
        REQUIRE(results.size() == 2);
        CHECK(results[0].first == 1);
        CHECK(results[1].first == 0);  // another connection could not see `first` during the batch
        // Once returned, both are committed.
        CHECK(scalar(observer, "SELECT count(*) FROM scratch") == 2);
    }

    TEST_CASE("when the COMMIT fails, every op of the batch fails and nothing is written") {
        test::TestDatabase t;
        auto& w = t.database->writer();
        createScratchTable(w);
        // A deferred foreign key is checked at COMMIT: the op succeeds, the commit does not.
        w.run([](db::Connection& c) {
            c.exec(
                "CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (id INTEGER "
                "PRIMARY KEY, "
                "parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)");
        });
        const auto before = w.stats();

        std::vector<Op> ops;
        ops.push_back([](db::Connection& c) {
            put(c, "innocent", 1);
            return 1;
        });
        ops.push_back([](db::Connection& c) {
            c.exec("INSERT INTO child (parent_id) VALUES (42)");
            return 2;
        });
        auto results = w.runAll<int>(std::move(ops));
        REQUIRE(results.size() == 2);
        for (const auto& [value, error] : results) {
            CHECK_FALSE(value.has_value());
            CHECK(errorOf(error).code.has_value());
        }
        CHECK(rows(t) == 0);
        CHECK(scalar(t, "SELECT count(*) FROM child") == 0);
        CHECK(w.stats().failedBatches == before.failedBatches + 1);

        // The writer goes on.
        CHECK(w.run([](db::Connection& c) {
            put(c, "after", 1);
            return 7;
        }) == 7);
        CHECK(rows(t) == 1);
    }

    TEST_CASE("an op whose deadline has passed is not run: deadline_exceeded, nothing written") {
        test::TestDatabase t;
        auto& w = t.database->writer();
        createScratchTable(w);
        std::atomic<bool> ran{false};
        const auto past = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
        const auto thrown = test::thrownBy([&] {
            w.run(
                [&](db::Connection& c) {
                    ran = true;
                    put(c, "late", 1);
                },
                past);
        });
        CHECK(thrown.code == db::ErrorCode::deadline_exceeded);
        // Through the engine too.
        t.clients->create("acme", test::limitPatch(1));
        const auto admit =
            test::thrownBy([&] { t.admission->admit(test::admitReq("acme", "late"), past); });
        CHECK(admit.code == db::ErrorCode::deadline_exceeded);

        w.run([](db::Connection&) {});  // anything still queued has run by now
        CHECK_FALSE(ran.load());
        CHECK(rows(t) == 0);
        CHECK(scalar(t, "SELECT count(*) FROM calls") == 0);
    }

    TEST_CASE("an op queued behind a long batch past its deadline is withdrawn, never run") {
        test::TestDatabase t;
        auto& w = t.database->writer();
        createScratchTable(w);
        std::promise<void> started, release;
        auto releaseFuture = release.get_future().share();
        std::thread blocker([&] {
            w.run([&](db::Connection& c) {
                put(c, "blocker", 1);
                started.set_value();
                releaseFuture.wait();
            });
        });
        started.get_future().wait();

        std::atomic<bool> ran{false};
        const auto thrown = test::thrownBy([&] {
            w.run(
                [&](db::Connection& c) {
                    ran = true;
                    put(c, "queued", 1);
                },
                std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
        });
        CHECK(thrown.code == db::ErrorCode::deadline_exceeded);
        release.set_value();
        blocker.join();
        w.run([](db::Connection&) {});
        CHECK_FALSE(ran.load());
        CHECK(rows(t, "k = 'queued'") == 0);
        CHECK(rows(t, "k = 'blocker'") == 1);
    }

    TEST_CASE("after stop() the writer takes no new work: shutting_down") {
        test::TestDatabase t;
        auto& w = t.database->writer();
        createScratchTable(w);
        w.stop();
        std::atomic<bool> ran{false};
        const auto thrown = test::thrownBy([&] {
            w.run([&](db::Connection& c) {
                ran = true;
                put(c, "x", 1);
            });
        });
        CHECK(thrown.code == db::ErrorCode::shutting_down);
        std::vector<Op> ops;
        ops.push_back([&](db::Connection&) {
            ran = true;
            return 1;
        });
        const auto all = test::thrownBy([&] { w.runAll<int>(std::move(ops)); });
        CHECK(all.code == db::ErrorCode::shutting_down);
        const auto admit = test::thrownBy([&] { t.admission->admit(test::admitReq("acme", "x")); });
        CHECK(admit.code == db::ErrorCode::shutting_down);
        CHECK_FALSE(ran.load());
        CHECK(rows(t) == 0);
    }

    TEST_CASE("many threads submitting at once all get their own result") {
        test::TestDatabase t;
        auto& w = t.database->writer();
        createScratchTable(w);
        const auto before = w.stats();
        constexpr int kThreads = 8, kEach = 40;
        std::atomic<int> wrong{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < kThreads; ++i) {
            threads.emplace_back([&, i] {
                for (int j = 0; j < kEach; ++j) {
                    const int v = i * 1000 + j;
                    const int got = w.run([&](db::Connection& c) {
                        put(c, "k" + std::to_string(v), v);
                        return v;
                    });
                    if (got != v) ++wrong;
                }
            });
        }
        for (auto& th : threads) th.join();
        CHECK(wrong.load() == 0);
        CHECK(rows(t) == kThreads * kEach);
        const auto after = w.stats();
        CHECK(after.ops - before.ops == kThreads * kEach);
        CHECK(after.commits - before.commits <= kThreads * kEach);
        CHECK(after.largestBatch >= 1);
        MESSAGE("largest batch " << after.largestBatch << ", " << (after.commits - before.commits)
                                 << " commits for " << kThreads * kEach << " ops");
    }
}
