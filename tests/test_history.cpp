// Utilization history (db/history/UsageRecorder, app/jobs/HistoryJob) on a
// ManualClock: what is folded from call_events, sampling, the rollup into
// hours, the retention, and a leader change between two processes' jobs.

#include "TestDatabase.h"
#include "TestSupport.h"
#include "api/logging/JsonLog.h"
#include "app/jobs/HistoryJob.h"
#include "db/coordination/LeaderLease.h"
#include "db/history/UsageHistory.h"
#include "db/history/UsageRecorder.h"
#include "db/history/UsageTotals.h"
#include "db/storage/RetentionPurge.h"

#include <doctest/doctest.h>

#include <cstdio>

using namespace calltrack;

namespace {
constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;

int64_t col(test::TestDatabase& t, const std::string& client, int64_t bucket, const char* column,
            int64_t step = 60) {
    return test::scalar(t, "SELECT coalesce((SELECT " + std::string(column) +
                               " FROM usage_history WHERE step_s = " + std::to_string(step) +
                               " AND bucket_at = " + std::to_string(bucket) + " AND client_id = '" +
                               client + "'), -1)");
}

int64_t total(test::TestDatabase& t, const std::string& client, const std::string& counter) {
    return test::scalar(t, "SELECT coalesce((SELECT value FROM usage_totals WHERE client_id = '" +
                               client + "' AND counter = '" + counter + "'), 0)");
}

int64_t minuteOf(int64_t t) {
    return t - t % kMinute;
}

void end(test::TestDatabase& t, const std::string& client, const std::string& external) {
    db::EndRequest e;
    e.call = db::CallRef::byExternal(client, external);
    e.reason = "completed";
    t.lifecycle->end(e);
}
}  // namespace

TEST_SUITE("history") {
    TEST_CASE(
        "admissions, refusals by reason, ends and timeouts are folded once into minutes and "
        "totals") {
        test::TestDatabase t;
        t.clock.setMs(1'800'000'000'000 - 1'800'000'000'000 % kHour);  // on the hour
        t.clients->create("acme", test::limitPatch(2));
        auto off = test::limitPatch(5);
        off.enabled = false;
        t.clients->create("off", off);
        db::UsageRecorder recorder(t.database->writer(), t.database->readers(), t.clock);
        const int64_t m0 = t.clock.nowMs();

        REQUIRE(t.admission->admit(test::admitReq("acme", "a1")).call);
        REQUIRE(t.admission->admit(test::admitReq("acme", "a2")).call);
        CHECK(t.admission->admit(test::admitReq("acme", "a3")).refusal ==
              db::Refusal::client_limit_reached);
        CHECK(t.admission->admit(test::admitReq("off", "o1")).refusal ==
              db::Refusal::client_disabled);
        CHECK(t.admission->admit(test::admitReq("ghost", "g1")).refusal ==
              db::Refusal::unknown_client);
        t.admission->admit(test::admitReq("acme", "a1"));  // a retry: duplicate
        t.clock.advanceMs(30'000);
        end(t, "acme", "a1");  // held 30 s
        CHECK(recorder.sample());
        CHECK_FALSE(recorder.sample());  // within half an interval: not again

        CHECK(recorder.fold(10) > 0);
        CHECK(recorder.fold(10) == 0);  // nothing twice
        CHECK(col(t, "acme", m0, "admissions") == 2);
        CHECK(col(t, "acme", m0, "refused_client_limit") == 1);
        CHECK(col(t, "off", m0, "refused_disabled") == 1);
        CHECK(col(t, "*", m0, "admissions") == 2);
        CHECK(col(t, "*", m0, "refused_other") == 1);  // the unknown client: system only
        CHECK(col(t, "*", m0, "refused_client_limit") == 1);
        CHECK(col(t, "acme", m0, "ended_canceled") == 1);  // ended before it was answered
        CHECK(col(t, "acme", m0, "holding_ms_sum") == 30'000);
        CHECK(col(t, "acme", m0, "samples") == 1);
        CHECK(col(t, "acme", m0, "active_max") == 1);
        CHECK(col(t, "*", m0, "samples") == 1);
        CHECK(col(t, "ghost", m0, "admissions") == -1);  // no row for an unknown id
        CHECK(total(t, "acme", "admitted") == 2);
        CHECK(total(t, "acme", "duplicate") == 1);
        CHECK(total(t, "acme", "refused:client_limit_reached") == 1);
        CHECK(total(t, "?", "refused:unknown_client") == 1);
        CHECK(total(t, "acme", "ended:canceled") == 1);
        CHECK(total(t, "acme", "duration_le:30") == 1);

        // The reaper's timeouts: a2 rings out after 60 s.
        t.clock.advanceMs(61'000);
        CHECK(t.lifecycle->reapExpired(100) == 1);
        // Read before folding: the totals already include the tail.
        const auto values = t.database->readers().read(
            [](db::Connection& c) { return db::UsageTotals::current(c); });
        CHECK(values.at({"acme", "ended:timed_out"}) == 1);
        CHECK(values.at({"acme", "event:reaper:applied"}) == 1);
        recorder.fold(10);
        const int64_t m1 = minuteOf(t.clock.nowMs());
        CHECK(col(t, "acme", m1, "timeouts") == 1);
        CHECK(total(t, "acme", "ended:timed_out") == 1);

        // Read back at a 5-minute step: one sample with everything.
        const auto samples = t.database->readers().read([&](db::Connection& c) {
            return db::UsageHistory::range(c, "acme", m0, m0 + 10 * kMinute, 300);
        });
        REQUIRE(samples.size() == 1);
        CHECK(samples[0].stepS == 300);
        CHECK(samples[0].counts.admissions == 2);
        CHECK(samples[0].counts.refused() == 1);
        CHECK(samples[0].counts.ended() == 2);
        CHECK(samples[0].activeMax == 1);
    }

    TEST_CASE(
        "minute rows roll up into hours after the minute retention and go after the retention") {
        test::TestDatabase t;
        t.clock.setMs(1'800'000'000'000 - 1'800'000'000'000 % kHour);
        t.clients->create("acme", test::limitPatch(10));
        db::HistoryOptions options;
        options.minuteRowsKeptMs = 2 * kDay;
        options.keptMs = 5 * kDay;
        db::UsageRecorder recorder(t.database->writer(), t.database->readers(), t.clock, options);
        const int64_t h0 = t.clock.nowMs();
        // Two minutes of one hour, with a live call sampled in each.
        REQUIRE(t.admission->admit(test::admitReq("acme", "a1")).call);
        CHECK(recorder.sample());
        t.clock.advanceMs(kMinute);
        REQUIRE(t.admission->admit(test::admitReq("acme", "a2")).call);
        CHECK(recorder.sample());
        recorder.fold(10);
        CHECK(test::scalar(t, "SELECT count(*) FROM usage_history WHERE step_s = 60") == 4);

        t.clock.setMs(h0 + 2 * kDay + kHour - 1);  // the hour is not wholly past the cutoff
        CHECK_FALSE(recorder.rollUpOldestHour());
        t.clock.setMs(h0 + 2 * kDay + kHour);
        CHECK(recorder.rollUpOldestHour());
        CHECK_FALSE(recorder.rollUpOldestHour());
        CHECK(test::scalar(t, "SELECT count(*) FROM usage_history WHERE step_s = 60") == 0);
        CHECK(col(t, "acme", h0, "admissions", 3600) == 2);
        CHECK(col(t, "acme", h0, "samples", 3600) == 2);
        CHECK(col(t, "acme", h0, "active_max", 3600) == 2);
        CHECK(col(t, "acme", h0, "active_sum", 3600) == 3);
        CHECK(col(t, "*", h0, "samples", 3600) == 2);
        const auto hourly = t.database->readers().read([&](db::Connection& c) {
            return db::UsageHistory::range(c, "acme", h0, h0 + kHour, 60);
        });
        REQUIRE(hourly.size() == 1);
        CHECK(hourly[0].stepS == 3600);  // never finer than the rows
        CHECK(hourly[0].activeMean == doctest::Approx(1.5));

        t.clock.setMs(h0 + 5 * kDay + kHour - 1);
        CHECK_FALSE(recorder.purgeOldestHour());
        t.clock.setMs(h0 + 5 * kDay + kHour);
        CHECK(recorder.purgeOldestHour());
        CHECK(test::scalar(t, "SELECT count(*) FROM usage_history") == 0);
        // The totals stay: counters never go down.
        CHECK(total(t, "acme", "admitted") == 2);
    }

    TEST_CASE(
        "a leader change between two processes leaves no gap over one interval and no double "
        "count") {
        test::TestDatabase t;
        t.clock.setMs(1'800'000'000'000 - 1'800'000'000'000 % kHour);
        t.clients->create("acme", test::limitPatch(1000));
        // A second process: its own Database (writer, readers) on the same file.
        db::Database other(t.options);
        std::FILE* devnull = std::fopen("/dev/null", "w");
        api::JsonLog log(api::LogLevel::error, devnull);
        db::UsageRecorder recA(t.database->writer(), t.database->readers(), t.clock);
        db::UsageRecorder recB(other.writer(), other.readers(), t.clock);
        db::LeaderLease leaseA(t.database->writer(), t.clock, "history", "A", 5000);
        db::LeaderLease leaseB(other.writer(), t.clock, "history", "B", 5000);
        app::HistoryJob jobA(recA, leaseA, t.clock, log);
        app::HistoryJob jobB(recB, leaseB, t.clock, log);

        int admitted = 0;
        std::vector<int64_t> sampleTimes;
        const auto tick = [&](bool aAlive) {
            REQUIRE(
                t.admission->admit(test::admitReq("acme", "c" + std::to_string(admitted++))).call);
            const int64_t before = test::scalar(t, "SELECT sampled_at FROM usage_cursor");
            if (aAlive) jobA.runOnce();
            jobB.runOnce();
            const int64_t after = test::scalar(t, "SELECT sampled_at FROM usage_cursor");
            if (after != before) sampleTimes.push_back(after);
            t.clock.advanceMs(1000);
        };
        for (int i = 0; i < 30; ++i) tick(true);
        CHECK(leaseA.held());
        CHECK_FALSE(leaseB.held());
        // A dies without giving the lease up; B takes over once it expires.
        for (int i = 0; i < 40; ++i) tick(false);
        CHECK(leaseB.held());
        REQUIRE(sampleTimes.size() >= 6);
        for (size_t i = 1; i < sampleTimes.size(); ++i)
            CHECK(sampleTimes[i] - sampleTimes[i - 1] <= 10'000);
        recB.fold(100);
        CHECK(total(t, "acme", "admitted") == admitted);
        CHECK(
            test::scalar(t, "SELECT sum(admissions) FROM usage_history WHERE client_id = 'acme'") ==
            admitted);
        CHECK(test::scalar(t, "SELECT sum(samples) FROM usage_history WHERE client_id = '*'") ==
              static_cast<int64_t>(sampleTimes.size()));
        // Both folding at once (a lease lost mid-tick): still once.
        REQUIRE(t.admission->admit(test::admitReq("acme", "last")).call);
        recA.foldOnce();
        recB.foldOnce();
        CHECK(total(t, "acme", "admitted") == admitted + 1);
        jobA.stop();
        jobB.stop();
        std::fclose(devnull);
    }

    TEST_CASE("a locked database delays the fold; nothing is lost or counted twice") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(10));
        db::UsageRecorder recorder(t.database->writer(), t.database->readers(), t.clock);
        REQUIRE(t.admission->admit(test::admitReq("acme", "a1")).call);
        {
            SQLite::Database shell(t.options.path, SQLite::OPEN_READWRITE);
            shell.exec("BEGIN IMMEDIATE");
            CHECK_THROWS_AS(
                recorder.fold(1, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)),
                db::EngineError);
            shell.exec("ROLLBACK");
        }
        CHECK(total(t, "acme", "admitted") == 0);
        recorder.fold(1);
        CHECK(total(t, "acme", "admitted") == 1);
        recorder.fold(1);
        CHECK(total(t, "acme", "admitted") == 1);
    }

    TEST_CASE("retention never purges an event the history has not counted") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(10));
        db::RetentionPurge retention(t.database->writer(), t.clock);
        retention.setRetentionHours(1);
        REQUIRE(t.admission->admit(test::admitReq("acme", "a1")).call);
        end(t, "acme", "a1");
        t.clock.advanceMs(2 * kHour);
        REQUIRE(t.admission->admit(test::admitReq("acme", "a2")).call);  // the newest stays anyway
        const int64_t before = test::scalar(t, "SELECT count(*) FROM call_events");
        retention.purgeDue([] { return true; });
        CHECK(test::scalar(t, "SELECT count(*) FROM call_events") == before);  // none folded yet
        db::UsageRecorder recorder(t.database->writer(), t.database->readers(), t.clock);
        recorder.fold(10);
        retention.purgeDue([] { return true; });
        CHECK(test::scalar(t, "SELECT count(*) FROM call_events") < before);
        CHECK(total(t, "acme", "admitted") == 2);
        CHECK(total(t, "acme", "ended:canceled") == 1);
    }

    TEST_CASE("an event counts for the client it names, whatever clients exist when it is folded") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(10));
        // Refused as unknown, then created before the fold: the refusal
        // stays with '?', the client's counters start at its creation.
        CHECK(t.admission->admit(test::admitReq("later", "x")).refusal ==
              db::Refusal::unknown_client);
        const auto tail = t.database->readers().read(
            [](db::Connection& c) { return db::UsageTotals::current(c); });
        CHECK(tail.at({"?", "refused:unknown_client"}) == 1);
        t.clients->create("later", test::limitPatch(1));
        db::UsageRecorder recorder(t.database->writer(), t.database->readers(), t.clock);
        recorder.fold(10);
        CHECK(total(t, "?", "refused:unknown_client") == 1);
        CHECK(test::scalar(t, "SELECT count(*) FROM usage_totals WHERE client_id = 'later'") == 0);
        CHECK(col(t, "later", minuteOf(t.clock.nowMs()), "refused_other") == -1);
    }

    TEST_CASE("sampling goes on after the clock steps back") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(10));
        db::UsageRecorder recorder(t.database->writer(), t.database->readers(), t.clock);
        CHECK(recorder.sample());
        t.clock.advanceMs(-3600 * 1000);  // an hour back (NTP step)
        CHECK(recorder.sample());
        CHECK_FALSE(recorder.sample());
        t.clock.advanceMs(10'000);
        CHECK(recorder.sample());
    }

    TEST_CASE("a range starting inside an hour includes that hour's rolled-up row") {
        test::TestDatabase t;
        t.clock.setMs(1'800'000'000'000 - 1'800'000'000'000 % kHour);
        t.clients->create("acme", test::limitPatch(10));
        db::HistoryOptions options;
        options.minuteRowsKeptMs = kDay;
        db::UsageRecorder recorder(t.database->writer(), t.database->readers(), t.clock, options);
        const int64_t h0 = t.clock.nowMs();
        REQUIRE(t.admission->admit(test::admitReq("acme", "a1")).call);
        recorder.fold(10);
        t.clock.setMs(h0 + kDay + kHour);
        CHECK(recorder.rollUpOldestHour());
        const auto samples = t.database->readers().read([&](db::Connection& c) {
            return db::UsageHistory::range(c, "acme", h0 + 30 * kMinute, h0 + 2 * kHour, 300);
        });
        REQUIRE(samples.size() == 1);
        CHECK(samples[0].at == h0);
        CHECK(samples[0].stepS == 3600);
        CHECK(samples[0].counts.admissions == 1);
        CHECK(db::UsageHistory::validStep(300));
        CHECK_FALSE(db::UsageHistory::validStep(420));  // would straddle hourly rows
        CHECK(db::UsageHistory::validStep(7200));
        CHECK(db::UsageHistory::defaultStep(3600) == 60);
        CHECK(db::UsageHistory::defaultStep(86400) == 120);
        CHECK(db::UsageHistory::validStep(db::UsageHistory::defaultStep(400LL * 86400)));
    }
}
