// Retention (issue 9 section 7): ended calls and their events, and bot
// events, older than settings.retention_hours are purged in bounded batches;
// the append-only guards allow exactly that, and nothing younger.

#include "app/jobs/PurgeJob.h"
#include "db/coordination/LeaderLease.h"
#include "db/history/UsageRecorder.h"
#include "db/storage/RetentionPurge.h"
#include "tests/QuietLog.h"
#include "tests/TestSupport.h"

#include <SQLiteCpp/Transaction.h>
#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace calltrack;
using test::scalar;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

constexpr int64_t kMinute = 60'000;

struct RetentionFixture {
    RetentionFixture() {
        t.clients->create("acme", test::limitPatch(1000));
        t.clients->setGlobalLimit(1000);
        purge.setRetentionHours(1);
    }
    int64_t admitEnded(const std::string& external) {
        const auto r = t.admission->admit(test::admitReq("acme", external));
        REQUIRE(r.outcome == db::AdmitResult::Outcome::admitted);
        t.lifecycle->end(test::endReq(r.call->id));
        return r.call->id;
    }
    int64_t count(const std::string& sql) { return scalar(t, sql); }
    // As in serve, the history job has counted the events first: retention
    // never deletes one it has not (test_history "retention never purges…").
    db::RetentionPurge::Totals purgeAll(int limit = 100) {
        history.fold(1000);
        return purge.purgeDue([] { return true; }, limit);
    }

    test::TestDatabase t;
    db::RetentionPurge purge{t.database->writer(), t.clock};
    db::UsageRecorder history{t.database->writer(), t.database->readers(), t.clock};
};

}  // namespace

TEST_SUITE("retention") {
    TEST_CASE("ended calls and their events older than the retention go; nothing younger") {
        RetentionFixture f;
        const int64_t t0 = f.t.clock.nowMs();
        std::vector<int64_t> old;
        for (int i = 0; i < 50; ++i) old.push_back(f.admitEnded("old-" + std::to_string(i)));
        // A call still live (answered, long), and an ended one that gets a
        // late duplicate end 50 minutes later.
        const auto live = f.t.admission->admit(test::admitReq("acme", "live"));
        f.t.lifecycle->applyStatus(test::statusEvent(live.call->id, db::CallState::in_progress));
        const int64_t late = f.admitEnded("late");
        f.t.clock.advanceMs(50 * kMinute);
        f.t.lifecycle->end(test::endReq(late));  // after_end: an event naming the call
        REQUIRE(f.count("SELECT count(*) FROM call_events WHERE call_id = " +
                        std::to_string(late)) == 3);

        // Too young: nothing goes.
        auto none = f.purgeAll();
        CHECK(none.calls + none.events == 0);

        // An hour and a minute on (and a call made then, so the database's
        // newest row says so too): the first 50 and their events go.
        f.t.clock.advanceMs(11 * kMinute);
        f.t.lifecycle->heartbeat(db::CallRef::byId(live.call->id));
        f.admitEnded("fresh");
        const auto purged = f.purgeAll(7);  // small batches: many of them
        CHECK(purged.calls == 50);
        CHECK(purged.batches > 10);
        for (auto id : old)
            CHECK(f.count("SELECT count(*) FROM calls WHERE id = " + std::to_string(id)) == 0);
        CHECK(f.count("SELECT count(*) FROM call_events WHERE at < " +
                      std::to_string(t0 + kMinute)) == 0);
        // The live call stays (its admission record aged out with the rest);
        // the late one stays while its late event is young; the fresh one stays.
        CHECK(f.count("SELECT count(*) FROM calls WHERE ended_at IS NULL") == 1);
        CHECK(f.count("SELECT count(*) FROM calls WHERE id = " + std::to_string(late)) == 1);
        CHECK(f.count("SELECT count(*) FROM calls WHERE external_id = 'fresh'") == 1);
        CHECK(test::clientActive(f.t, "acme") == 1);
        CHECK_INVARIANTS(f.t);

        // Once the late event is old too, its call goes.
        f.t.clock.advanceMs(61 * kMinute);
        f.t.lifecycle->heartbeat(db::CallRef::byId(live.call->id));
        f.admitEnded("fresher");
        f.purgeAll();
        CHECK(f.count("SELECT count(*) FROM calls WHERE id = " + std::to_string(late)) == 0);
        CHECK(f.count("SELECT count(*) FROM calls WHERE ended_at IS NULL") == 1);
        CHECK_INVARIANTS(f.t);
    }

    TEST_CASE("the guards allow the purge and refuse deleting anything younger") {
        RetentionFixture f;
        const int64_t id = f.admitEnded("a");
        auto raw = test::openRaw(f.t.options.path);
        CHECK(contains(test::tryExec(raw, "DELETE FROM call_events"), "append-only"));
        CHECK(contains(test::tryExec(raw, "DELETE FROM calls WHERE id = " + std::to_string(id)),
                       "retention_hours"));
        CHECK(contains(test::tryExec(raw, "UPDATE call_events SET outcome = 'applied'"),
                       "append-only"));
        CHECK(f.count("SELECT count(*) FROM call_events") == 2);
        // With a 30-day retention an hour-old call is kept by the purge too.
        f.purge.setRetentionHours(720);
        f.t.clock.advanceMs(61 * kMinute);
        f.admitEnded("b");
        CHECK(f.purgeAll().calls == 0);
        CHECK(f.count("SELECT count(*) FROM calls") == 2);
    }

    TEST_CASE("bot events older than the retention go, in bounded batches") {
        RetentionFixture f;
        auto raw = test::openRaw(f.t.options.path);
        const int64_t t0 = f.t.clock.nowMs();
        for (int i = 0; i < 30; ++i) {
            raw.exec("INSERT INTO bot_events (at, bot_id, to_state, active_calls) VALUES (" +
                     std::to_string(t0 + i) + ", 'b', 'cold', 0)");
        }
        CHECK(contains(test::tryExec(raw, "DELETE FROM bot_events"), "append-only"));
        raw.exec("INSERT INTO bot_events (at, bot_id, to_state, active_calls) VALUES (" +
                 std::to_string(t0 + 61 * kMinute) + ", 'b', 'cold', 0)");
        f.t.clock.advanceMs(61 * kMinute);
        f.history.fold(1000);
        const auto b = f.purge.purgeBatch(10);
        CHECK(b.botEvents == 10);
        CHECK(b.more);
        CHECK(f.purgeAll(10).botEvents == 20);
        CHECK(f.count("SELECT count(*) FROM bot_events") == 1);
    }

    TEST_CASE(
        "PurgeJob purges keys past a full batch and retention, only while the reaper's lease is "
        "held, and nothing once stopped") {
        RetentionFixture f;
        test::QuietLog quiet;
        db::IdempotencyStore idempotency(f.t.database->writer(), f.t.clock);
        db::ProviderCallEvents providerEvents(f.t.database->writer(), f.t.clock);
        db::LeaderLease lease(f.t.database->writer(), f.t.clock, "reaper", "this", 10'000);
        db::LeaderLease other(f.t.database->writer(), f.t.clock, "reaper", "other", 10'000);
        app::PurgeJob job(idempotency, providerEvents, *f.t.intake, f.purge, lease, quiet.log,
                          std::chrono::hours(1));
        // More keys than one batch holds: the job must go on after a full one.
        const int keys = app::PurgeJob::kBatch + 500;
        {
            auto raw = test::openRaw(f.t.options.path);
            SQLite::Transaction tx(raw);
            SQLite::Statement insert(raw,
                                     "INSERT INTO idempotency_keys (scope, key, request_sha256, "
                                     "created_at) VALUES ('admin', ?1, 'h', ?2)");
            for (int i = 0; i < keys; ++i) {
                insert.bind(1, "k-" + std::to_string(i));
                insert.bind(2, static_cast<int64_t>(f.t.clock.nowMs()));
                insert.exec();
                insert.reset();
            }
            tx.commit();
        }
        for (int i = 0; i < 5; ++i) f.admitEnded("old-" + std::to_string(i));
        f.t.clock.advanceMs(db::IdempotencyStore::kKeepMs + 1);
        f.admitEnded("fresh");  // the database's own "now" moves on too
        f.history.fold(1000);
        const auto nothing = [](const app::PurgeTotals& p) {
            return p.idempotencyKeys + p.pendingEvents + p.spoolKeys + p.retention.calls +
                       p.retention.events + p.retention.botEvents ==
                   0;
        };

        // Another process holds the lease: it purges, this one does not.
        REQUIRE(other.acquireOrRenew());
        CHECK_FALSE(lease.acquireOrRenew());
        CHECK(nothing(job.runOnce()));
        CHECK(f.count("SELECT count(*) FROM idempotency_keys") == keys);
        CHECK(f.count("SELECT count(*) FROM calls") == 6);

        other.release();
        REQUIRE(lease.acquireOrRenew());
        const auto purged = job.runOnce();
        CHECK(purged.idempotencyKeys == keys);
        CHECK(purged.retention.calls == 5);
        CHECK(f.count("SELECT count(*) FROM idempotency_keys") == 0);
        CHECK(f.count("SELECT count(*) FROM calls") == 1);
        CHECK_INVARIANTS(f.t);

        // Stopped (serve shutting down): the lease is still held, yet the
        // job purges nothing more.
        f.t.clock.advanceMs(2 * db::IdempotencyStore::kKeepMs);
        f.admitEnded("later");
        f.history.fold(1000);
        job.stop();
        REQUIRE(lease.acquireOrRenew());
        CHECK(nothing(job.runOnce()));
        CHECK(f.count("SELECT count(*) FROM calls") == 2);
    }

    TEST_CASE("retention hours are bounded") {
        RetentionFixture f;
        CHECK(test::thrownBy([&] { f.purge.setRetentionHours(0); }).code ==
              db::ErrorCode::invalid_argument);
        CHECK(f.purge.retentionHours() == 1);
    }
}
