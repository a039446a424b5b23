// Capacity planning: Erlang B against the published table
// (../shared/domain/OPERATIONS.md, copied here), and CapacityReport's
// figures and verdicts on synthetic history written with SQL.

#include "TestDatabase.h"
#include "TestSupport.h"
#include "db/history/CapacityReport.h"
#include "db/history/ErlangB.h"

#include <doctest/doctest.h>

#include <cmath>

using namespace calltrack;
using db::ErlangB;

namespace {
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;

struct Row {
    int64_t lines;
    double onePercent, tenthPercent;
};
// Traffic (Erlangs) m lines carry at 1 % and 0.1 % blocking.
const Row kTable[] = {{5, 1.361, 0.762},   {10, 4.461, 3.092},   {15, 8.108, 6.077},
                      {20, 12.031, 9.411}, {50, 37.901, 32.512}, {100, 84.064, 75.242}};

// One minute row of history for `client` (and nothing else).
void minute(test::TestDatabase& t, const std::string& client, int64_t at, int64_t activeMax,
            int64_t admissions, int64_t refused, int64_t ended, int64_t holdingMs, int64_t limit) {
    SQLite::Database raw(t.options.path, SQLite::OPEN_READWRITE);
    SQLite::Statement q(
        raw,
        "INSERT INTO usage_history (step_s, bucket_at, client_id, samples, "
        "active_max, active_sum, limit_seen, admissions, refused_client_limit, "
        "ended_completed, holding_ms_sum) VALUES (60, ?, ?, 6, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, at - at % 60'000);
    q.bind(2, client);
    q.bind(3, activeMax);
    q.bind(4, activeMax * 6);
    q.bind(5, limit);
    q.bind(6, admissions);
    q.bind(7, refused);
    q.bind(8, ended);
    q.bind(9, holdingMs);
    q.exec();
}
}  // namespace

TEST_SUITE("capacity") {
    TEST_CASE("Erlang B matches the table at 1 % and 0.1 %") {
        for (const auto& r : kTable) {
            CAPTURE(r.lines);
            CHECK(ErlangB::trafficFor(r.lines, 0.01) ==
                  doctest::Approx(r.onePercent).epsilon(0.0002));
            CHECK(ErlangB::trafficFor(r.lines, 0.001) ==
                  doctest::Approx(r.tenthPercent).epsilon(0.0002));
            // Lines for a little less than the table's traffic: exactly m.
            CHECK(ErlangB::linesFor(r.onePercent - 0.001, 0.01) == r.lines);
            CHECK(ErlangB::linesFor(r.tenthPercent - 0.001, 0.001) == r.lines);
            CHECK(ErlangB::linesFor(r.onePercent + 0.01, 0.01) == r.lines + 1);
        }
        CHECK(ErlangB::blocking(25, 30) == doctest::Approx(0.0526).epsilon(0.001));
        CHECK(ErlangB::blocking(0, 0) == 1.0);
        CHECK(ErlangB::blocking(5, 0) == 1.0);
        CHECK(ErlangB::linesFor(0, 0.01) == 0);
    }

    TEST_CASE("large groups: 10 000 lines without overflow") {
        const double carried = ErlangB::trafficFor(10'000, 0.01);
        CHECK(std::isfinite(carried));
        CHECK(carried > 9'800);
        CHECK(carried < 10'000 / 0.99);
        const double b = ErlangB::blocking(carried, 10'000);
        CHECK(b == doctest::Approx(0.01).epsilon(0.001));
        CHECK(ErlangB::linesFor(carried - 0.01, 0.01) == 10'000);
        // Far over capacity the recurrence still stays in [0, 1].
        const double over = ErlangB::blocking(1'000'000, 10'000);
        CHECK(over > 0.98);
        CHECK(over <= 1.0);
        // A million Erlangs need about that many lines (large groups run
        // close to full at low blocking).
        const int64_t lines = ErlangB::linesFor(ErlangB::kMaxErlangs, 0.001);
        CHECK(lines > 990'000);
        CHECK(lines < 1'010'000);
    }

    TEST_CASE("verdicts: under-provisioned, fits, over-provisioned") {
        CHECK(db::CapacityReport::verdictFor(14, 15) == "under-provisioned");
        CHECK(db::CapacityReport::verdictFor(15, 15) == "fits");
        CHECK(db::CapacityReport::verdictFor(18, 15) == "fits");  // within 25 %
        CHECK(db::CapacityReport::verdictFor(19, 15) == "fits");
        CHECK(db::CapacityReport::verdictFor(20, 15) == "over-provisioned");
        CHECK(db::CapacityReport::verdictFor(3, 1) == "fits");  // at least 2 lines of room
        CHECK(db::CapacityReport::verdictFor(4, 1) == "over-provisioned");
    }

    TEST_CASE("a report from synthetic history: busy hour, Erlangs, blocking, peaks, trend") {
        test::TestDatabase t;
        const int64_t today = 1'800'000'000'000 - 1'800'000'000'000 % kDay;
        t.clock.setMs(today + 12 * kHour);
        t.clients->create("acme", test::limitPatch(10));
        // 20 days: a busy hour at 10:00 with 100 admissions of 3 minutes
        // each (5 Erlangs) and 5 refusals; daily peak grows 1 per 2 days.
        for (int d = 19; d >= 0; --d) {
            const int64_t day = today - d * kDay;
            const int64_t peak = 4 + (19 - d) / 2;
            // The same rows for the system: those minutes were sampled.
            for (const char* who : {"acme", "*"}) {
                for (int m = 0; m < 60; m += 10)
                    minute(t, who, day + 10 * kHour + m * 60'000, peak, 100 / 6 + (m == 0 ? 4 : 0),
                           m == 0 ? 5 : 0, 100 / 6 + (m == 0 ? 4 : 0),
                           (100 / 6 + (m == 0 ? 4 : 0)) * 180'000, 10);
                minute(t, who, day + 3 * kHour, 1, 2, 0, 2, 2 * 180'000, 10);
            }
        }
        db::CapacityOptions options;
        const auto r = t.database->readers().read([&](db::Connection& c) {
            return db::CapacityReport::forClient(c, "acme", t.clock.nowMs(), options);
        });
        CHECK(r.currentLimit == 10);
        CHECK(r.busyHourAdmissions == 100);
        REQUIRE(r.meanHoldingS);
        CHECK(*r.meanHoldingS == doctest::Approx(180));
        REQUIRE(r.offeredErlangs);
        CHECK(*r.offeredErlangs == doctest::Approx(5.0));
        CHECK(r.recommendedLimit == ErlangB::linesFor(5.0, 0.01));
        CHECK(*r.recommendedLimit == 11);
        CHECK(r.verdict == "under-provisioned");
        CHECK(r.attempts == 20 * 102 + 20 * 5);
        CHECK(r.refusals == 20 * 5);
        CHECK(*r.measuredBlocking == doctest::Approx(100.0 / 2140.0));
        REQUIRE(r.peaks.size() == 20);
        CHECK(r.peaks.back().max == 13);
        CHECK(r.peaks.back().p99 == 13);
        CHECK(r.trend == "growing");
        REQUIRE(r.growthPerDay);
        CHECK(*r.growthPerDay == doctest::Approx(0.5).epsilon(0.05));
        REQUIRE(r.daysUntilLimit);
        CHECK(*r.daysUntilLimit == doctest::Approx(0.0));  // already past it

        // A generous limit: over-provisioned, and days until the limit at this growth.
        t.clients->update("acme", test::limitPatch(40));
        const auto roomy = t.database->readers().read([&](db::Connection& c) {
            return db::CapacityReport::forClient(c, "acme", t.clock.nowMs(), options);
        });
        CHECK(roomy.verdict == "over-provisioned");
        REQUIRE(roomy.daysUntilLimit);
        CHECK(*roomy.daysUntilLimit == doctest::Approx((40 - 13.5) / 0.5).epsilon(0.1));
        // JSON keeps the shape the API documents.
        const auto j = roomy.toJson(0.01);
        CHECK(j["verdict"] == "over-provisioned");
        CHECK(j["busy_hour"]["offered_erlangs"].get<double>() == doctest::Approx(5.0));
        CHECK(j["trend"]["status"] == "growing");
    }

    TEST_CASE("too little history: no recommendation, no trend") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(10));
        const auto empty = t.database->readers().read([&](db::Connection& c) {
            return db::CapacityReport::forClient(c, "acme", t.clock.nowMs(), {});
        });
        CHECK(empty.verdict == "not enough history");
        CHECK(empty.trend == "not enough history");
        CHECK_FALSE(empty.recommendedLimit);
        minute(t, "acme", t.clock.nowMs(), 3, 10, 0, 10, 10 * 60'000, 10);
        const auto oneDay = t.database->readers().read([&](db::Connection& c) {
            return db::CapacityReport::forClient(c, "acme", t.clock.nowMs(), {});
        });
        CHECK(oneDay.recommendedLimit);
        CHECK(oneDay.trend == "not enough history");
    }

    TEST_CASE("peaks count sampled buckets only, with zeros where the client had no live call") {
        test::TestDatabase t;
        const int64_t today = 1'800'000'000'000 - 1'800'000'000'000 % kDay;
        t.clock.setMs(today + 12 * kHour);
        t.clients->create("acme", test::limitPatch(10));
        // The system was sampled in 100 minutes today; acme had calls in 3.
        for (int m = 0; m < 100; ++m) minute(t, "*", today + m * 60'000, 0, 0, 0, 0, 0, 100);
        for (int m = 0; m < 3; ++m) minute(t, "acme", today + m * 60'000, 9, 1, 0, 1, 60'000, 10);
        // Yesterday only backfilled (folded from events, never sampled).
        {
            SQLite::Database raw(t.options.path, SQLite::OPEN_READWRITE);
            raw.exec(
                "INSERT INTO usage_history (step_s, bucket_at, client_id, admissions) VALUES "
                "(60, " +
                std::to_string(today - kDay) + ", 'acme', 5), (60, " +
                std::to_string(today - kDay) + ", '*', 5)");
        }
        const auto r = t.database->readers().read([&](db::Connection& c) {
            return db::CapacityReport::forClient(c, "acme", t.clock.nowMs(), {});
        });
        REQUIRE(r.peaks.size() == 1);  // the unsampled day is not a peak of 0
        CHECK(r.peaks[0].max == 9);
        CHECK(r.peaks[0].p95 == 0);  // 97 of 100 sampled minutes had none
        CHECK(r.peaks[0].p99 == 9);
        CHECK(r.attempts == 8);  // admissions still count, sampled or not
    }

    TEST_CASE("blocking counts refusals by a limit; disabled, unknown and bot refusals apart") {
        test::TestDatabase t;
        t.clients->create("acme", test::limitPatch(10));
        SQLite::Database raw(t.options.path, SQLite::OPEN_READWRITE);
        raw.exec(
            "INSERT INTO usage_history (step_s, bucket_at, client_id, samples, admissions, "
            "refused_client_limit, refused_global_limit, refused_disabled, refused_bot, "
            "refused_other) VALUES (60, " +
            std::to_string(t.clock.nowMs() - t.clock.nowMs() % 60'000) +
            ", 'acme', 1, 6, 2, 2, 7, 8, 9)");
        const auto r = t.database->readers().read([&](db::Connection& c) {
            return db::CapacityReport::forClient(c, "acme", t.clock.nowMs(), {});
        });
        CHECK(r.refusals == 4);
        CHECK(r.otherRefusals == 24);
        CHECK(r.attempts == 10);
        CHECK(*r.measuredBlocking == doctest::Approx(0.4));
    }

    TEST_CASE("a million lines: bounded work, a sane answer") {
        const double carried = ErlangB::trafficFor(ErlangB::kMaxLines, 0.01);
        CHECK(std::isfinite(carried));
        // Large groups run close to full: about lines / (1 - blocking).
        CHECK(carried > 1'000'000);
        CHECK(carried < 1'000'000 / 0.99 + 1);
    }
}
