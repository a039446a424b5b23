// ConnectionPool, the HTTP server's threads (one per open connection): a
// thread that has waited `idleHint` for its next connection runs the idle
// hook once (serve gives its malloc cache back there), and again only after
// it served another connection. Runs under ThreadSanitizer in CI: the hook
// runs with the pool's lock released. Every wait is a liveness bound.

#include "api/connection/ConnectionPool.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

using calltrack::api::ConnectionPool;
using namespace std::chrono_literals;

namespace {

// Waits (at most 10 s) until `done()`; false if it never was.
template <class F>
bool eventually(F&& done) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

}  // namespace

TEST_CASE("an idle connection thread runs the idle hook once per connection it served") {
    std::mutex mutex;
    std::set<std::thread::id> hookThreads;  // guarded by mutex
    std::atomic<int> hooks{0};
    std::promise<std::thread::id> served;
    {
        ConnectionPool pool(
            4, 1, 30s,
            [&] {
                std::lock_guard lock(mutex);
                hookThreads.insert(std::this_thread::get_id());
                hooks.fetch_add(1);
            },
            20ms);
        pool.enqueue([&] { served.set_value(std::this_thread::get_id()); });
        const auto worker = served.get_future().get();
        REQUIRE(eventually([&] { return hooks.load() == 1; }));
        {
            std::lock_guard lock(mutex);
            CHECK(hookThreads == std::set<std::thread::id>{worker});
        }
        // Idle on: not again (ten hints' worth of waiting).
        std::this_thread::sleep_for(200ms);
        CHECK(hooks.load() == 1);
        // Another connection, another hook once it is over.
        std::promise<void> second;
        pool.enqueue([&] { second.set_value(); });
        second.get_future().get();
        REQUIRE(eventually([&] { return hooks.load() == 2; }));
        pool.shutdown();
    }
    CHECK(hooks.load() == 2);
}
