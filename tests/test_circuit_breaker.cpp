// The scheduler's failure policies on their own, on a ManualClock: the
// per-endpoint circuit breaker, the per-bot exponential back-off with jitter,
// and how the warm-up client reads a warm-up URL. (The scheduler using them
// against a fake fleet: test_warmup_scheduler.)

#include "app/warmup/BotWarmupClient.h"
#include "app/warmup/CircuitBreaker.h"
#include "app/warmup/WarmupBackoff.h"
#include "db/Clock.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <vector>

namespace calltrack::app {
inline doctest::String toString(CircuitBreaker::State v) {
    return nameOf(v);
}
}  // namespace calltrack::app

using namespace calltrack;
using app::CircuitBreaker;
using app::WarmupBackoff;
using State = CircuitBreaker::State;

namespace {
const std::string kA = "http://bots.example/a";
const std::string kB = "http://bots.example/b";
}  // namespace

TEST_SUITE("circuit breaker") {
    TEST_CASE("closed until `threshold` consecutive failures; a success in between resets") {
        db::ManualClock clock;
        CircuitBreaker breaker(clock, {3, 10'000});
        CHECK(breaker.state(kA) == State::closed);
        CHECK(breaker.allow(kA));
        breaker.recordFailure(kA);
        breaker.recordFailure(kA);
        CHECK(breaker.state(kA) == State::closed);
        CHECK(breaker.allow(kA));
        breaker.recordSuccess(kA);  // not consecutive any more
        breaker.recordFailure(kA);
        breaker.recordFailure(kA);
        CHECK(breaker.state(kA) == State::closed);
        CHECK(breaker.openCount() == 0);
        breaker.recordFailure(kA);
        CHECK(breaker.state(kA) == State::open);
        CHECK_FALSE(breaker.allow(kA));
        CHECK(breaker.openCount() == 1);
    }

    TEST_CASE("open for the cool-off, then exactly one trial") {
        db::ManualClock clock;
        CircuitBreaker breaker(clock, {3, 10'000});
        for (int i = 0; i < 3; ++i) breaker.recordFailure(kA);
        clock.advanceMs(9'999);
        CHECK(breaker.state(kA) == State::open);
        CHECK_FALSE(breaker.allow(kA));
        clock.advanceMs(1);
        CHECK(breaker.state(kA) == State::half_open);
        CHECK(breaker.allow(kA));        // the trial
        CHECK_FALSE(breaker.allow(kA));  // while it is out, nothing else
        CHECK_FALSE(breaker.allow(kA));
        CHECK(breaker.openCount() == 1);

        SUBCASE("its success closes the breaker") {
            breaker.recordSuccess(kA);
            CHECK(breaker.state(kA) == State::closed);
            CHECK(breaker.allow(kA));
            CHECK(breaker.allow(kA));
            CHECK(breaker.openCount() == 0);
        }
        SUBCASE("its failure opens it for another full cool-off") {
            clock.advanceMs(500);
            breaker.recordFailure(kA);
            CHECK(breaker.state(kA) == State::open);
            clock.advanceMs(9'999);
            CHECK_FALSE(breaker.allow(kA));
            clock.advanceMs(1);
            CHECK(breaker.allow(kA));
            CHECK_FALSE(breaker.allow(kA));
        }
        SUBCASE("a trial that never reports back is replaced after another cool-off") {
            clock.advanceMs(9'999);
            CHECK_FALSE(breaker.allow(kA));
            clock.advanceMs(1);
            CHECK(breaker.allow(kA));
            CHECK_FALSE(breaker.allow(kA));
        }
    }

    TEST_CASE("endpoints are independent") {
        db::ManualClock clock;
        CircuitBreaker breaker(clock, {2, 1'000});
        breaker.recordFailure(kA);
        breaker.recordFailure(kA);
        breaker.recordFailure(kB);
        CHECK_FALSE(breaker.allow(kA));
        CHECK(breaker.allow(kB));
        CHECK(breaker.state(kB) == State::closed);
        CHECK(breaker.openCount() == 1);
        breaker.recordSuccess(kB);
        breaker.recordFailure(kB);
        CHECK(breaker.state(kB) == State::closed);  // kB's count restarted
    }
}

TEST_SUITE("warm-up back-off") {
    TEST_CASE("the ceiling doubles per failure from base, up to max") {
        WarmupBackoff backoff({1000, 60'000}, 1);
        CHECK(backoff.ceilingMs(1) == 1000);
        CHECK(backoff.ceilingMs(2) == 2000);
        CHECK(backoff.ceilingMs(3) == 4000);
        CHECK(backoff.ceilingMs(6) == 32'000);
        CHECK(backoff.ceilingMs(7) == 60'000);  // 64 s capped
        CHECK(backoff.ceilingMs(1'000'000) == 60'000);
        // Never below one failure's worth.
        CHECK(backoff.delayMs(0) >= 500);
        CHECK(backoff.delayMs(-5) <= 1000);
    }

    TEST_CASE("every delay is within [ceiling / 2, ceiling], spread over that range") {
        WarmupBackoff backoff({1000, 60'000}, 7);
        for (int64_t failures : {1, 2, 3, 5, 7, 30}) {
            CAPTURE(failures);
            const int64_t ceiling = backoff.ceilingMs(failures);
            std::vector<int64_t> delays;
            for (int i = 0; i < 2000; ++i) delays.push_back(backoff.delayMs(failures));
            const auto [lo, hi] = std::minmax_element(delays.begin(), delays.end());
            CHECK(*lo >= ceiling / 2);
            CHECK(*hi <= ceiling);
            // Jitter: retries of bots that failed together do not line up.
            CHECK(*lo < ceiling / 2 + ceiling / 10);
            CHECK(*hi > ceiling - ceiling / 10);
            CHECK(std::set<int64_t>(delays.begin(), delays.end()).size() > 100);
        }
    }

    TEST_CASE("the same seed gives the same delays") {
        WarmupBackoff a({1000, 60'000}, 99), b({1000, 60'000}, 99);
        for (int i = 1; i < 50; ++i) CHECK(a.delayMs(i % 8 + 1) == b.delayMs(i % 8 + 1));
    }
}

TEST_SUITE("warm-up client") {
    TEST_CASE("splitUrl separates origin and path") {
        std::string origin, path;
        REQUIRE(
            app::BotWarmupClient::splitUrl("http://127.0.0.1:8080/bots/a/warmup", origin, path));
        CHECK(origin == "http://127.0.0.1:8080");
        CHECK(path == "/bots/a/warmup");
        REQUIRE(app::BotWarmupClient::splitUrl("https://bots.example", origin, path));
        CHECK(origin == "https://bots.example");
        CHECK(path == "/");
        REQUIRE(app::BotWarmupClient::splitUrl("http://h:1?x=1", origin, path));
        CHECK(origin == "http://h:1");
        CHECK(path == "/?x=1");
        CHECK_FALSE(app::BotWarmupClient::splitUrl("ftp://h/x", origin, path));
        CHECK_FALSE(app::BotWarmupClient::splitUrl("http:///x", origin, path));
        CHECK_FALSE(app::BotWarmupClient::splitUrl("bots.example/x", origin, path));
    }
}
