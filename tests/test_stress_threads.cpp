// Many threads of one process hammering the engine with admissions, status
// events, ends, heartbeats and reaps against small limits, while an
// independent read-only connection checks every commit it sees: no snapshot
// may ever hold more live slot-holding calls than a limit (counted with
// COUNT(*) over calls, not read from the counters).
//
// CALLTRACK_STRESS_OPS sets the total number of operations (default 12000).

#include "tests/SnapshotChecker.h"
#include "tests/TestSupport.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

using namespace calltrack;
using db::CallState;
using test::Findings;
using test::scalar;
using test::SnapshotChecker;

namespace {

constexpr int kThreads = 16;
constexpr int64_t kGlobalLimit = 10;

int totalOps() {
    if (const char* env = std::getenv("CALLTRACK_STRESS_OPS")) {
        const int n = std::atoi(env);
        if (n > 0) return n;
    }
    return 12000;
}

struct Counts {
    std::atomic<int> admitted{0}, existing{0}, refused{0}, applied{0}, notApplied{0}, reaped{0};
};

using test::KnownCalls;

const char* const kClients[] = {"c2", "c3", "c4", "c5", "obs"};
const CallState kEventStates[] = {CallState::initiated, CallState::ringing, CallState::in_progress,
                                  CallState::completed, CallState::busy,    CallState::failed,
                                  CallState::no_answer, CallState::canceled};

void worker(int index, int ops, test::TestDatabase& t, KnownCalls& known, Counts& counts,
            Findings& findings) {
    std::mt19937_64 rng(0xC0FFEEull * static_cast<uint64_t>(index + 1));
    std::vector<std::string> mine;
    for (int n = 0; n < ops; ++n) {
        const int dice = static_cast<int>(rng() % 100);
        try {
            if (dice < 38) {
                const std::string client = kClients[rng() % 5];
                std::string external = "t" + std::to_string(index) + "-" + std::to_string(n);
                if (!mine.empty() && rng() % 10 == 0)
                    external = mine[rng() % mine.size()];  // a retry
                auto r = t.admission->admit(test::admitReq(client, external));
                if (r.outcome == db::AdmitResult::Outcome::refused) {
                    ++counts.refused;
                } else {
                    r.outcome == db::AdmitResult::Outcome::admitted ? ++counts.admitted
                                                                    : ++counts.existing;
                    if (r.outcome == db::AdmitResult::Outcome::admitted) {
                        known.add(r.call->id);
                        mine.push_back(external);
                    }
                    if (r.call->holdsSlot &&
                        (r.client.active > r.client.limit || r.global.active > kGlobalLimit)) {
                        findings.add("admission reported usage over a limit: client " +
                                     std::to_string(r.client.active) + "/" +
                                     std::to_string(r.client.limit) + ", global " +
                                     std::to_string(r.global.active));
                    }
                }
            } else if (dice < 64) {
                const auto id = known.pick(rng);
                if (!id) continue;
                auto ev = test::statusEvent(*id, kEventStates[rng() % 8]);
                if (rng() % 3 == 0) ev.sequence = static_cast<int64_t>(rng() % 6);
                if (rng() % 4 == 0) ev.eventId = "ev-" + std::to_string(rng() % 400);
                auto r = t.lifecycle->applyStatus(ev);
                r.outcome == db::EventOutcome::applied ? ++counts.applied : ++counts.notApplied;
            } else if (dice < 84) {
                const auto id = known.pick(rng);
                if (!id) continue;
                auto r = t.lifecycle->end(test::endReq(*id));
                r.outcome == db::EventOutcome::applied ? ++counts.applied : ++counts.notApplied;
            } else if (dice < 96) {
                const auto id = known.pick(rng);
                if (!id) continue;
                t.lifecycle->heartbeat(db::CallRef::byId(*id));
            } else {
                t.clock.advanceMs(static_cast<int64_t>(rng() % 20'000));
                counts.reaped += t.lifecycle->reapExpired(50);
            }
        } catch (const std::exception& e) {
            findings.add("thread " + std::to_string(index) + " op " + std::to_string(n) + ": " +
                         e.what());
        }
    }
}

}  // namespace

TEST_CASE("16 threads against small limits: no committed snapshot ever exceeds a limit") {
    test::TestDatabase t;
    for (int limit = 2; limit <= 5; ++limit) {
        t.clients->create("c" + std::to_string(limit), test::limitPatch(limit));
    }
    db::ClientPatch observe = test::limitPatch(2);
    observe.mode = db::ClientMode::observe;
    t.clients->create("obs", observe);
    t.clients->setGlobalLimit(kGlobalLimit);

    const int total = totalOps();
    const int perThread = std::max(1, total / kThreads);
    Findings findings;
    Counts counts;
    KnownCalls known(64);  // mostly recent calls: those are the live ones
    const auto started = std::chrono::steady_clock::now();
    {
        SnapshotChecker checker(t.options.path, findings);
        std::vector<std::thread> threads;
        for (int i = 0; i < kThreads; ++i) {
            threads.emplace_back(worker, i, perThread, std::ref(t), std::ref(known),
                                 std::ref(counts), std::ref(findings));
        }
        for (auto& th : threads) th.join();
        checker.stop();
        const auto seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        MESSAGE("snapshot checker verified "
                << checker.snapshots() << " committed snapshots; " << perThread * kThreads
                << " ops in " << seconds << " s: " << counts.admitted.load() << " admitted, "
                << counts.existing.load() << " existing, " << counts.refused.load() << " refused, "
                << counts.applied.load() << " events/ends applied, " << counts.notApplied.load()
                << " not applied, " << counts.reaped.load() << " reaped");
        CHECK(checker.snapshots() > 1);
    }
    INFO(test::joined(findings.problems));
    CHECK(findings.problems.empty());
    // The workload exercised both sides of the limits.
    CHECK(counts.admitted > 0);
    CHECK(counts.refused > 0);

    // Counters equal the live calls.
    for (const char* client : kClients) {
        CAPTURE(client);
        CHECK(test::clientActive(t, client) == test::liveSlotted(t, client));
    }
    CHECK(test::globalActive(t) == test::liveSlotted(t));
    CHECK(test::liveSlotted(t) <= kGlobalLimit);
    CHECK(scalar(t, "SELECT count(*) FROM clients WHERE active < 0 OR active > max_concurrent") ==
          0);
    CHECK_INVARIANTS(t);
}

TEST_CASE("the snapshot checker reports a snapshot with more live calls than a limit") {
    // The oracle of the stress tests must be able to fail: lowering a limit
    // under live calls (allowed, LIFECYCLE.md) leaves exactly such a snapshot.
    test::TestDatabase t;
    t.clients->create("acme", test::limitPatch(3));
    for (int i = 0; i < 3; ++i) t.admission->admit(test::admitReq("acme", "o" + std::to_string(i)));
    Findings findings;
    {
        SnapshotChecker checker(t.options.path, findings);
        t.clients->update("acme", test::limitPatch(1));
        t.clients->setGlobalLimit(2);
        checker.stop();
        CHECK(checker.snapshots() >= 1);
    }
    std::string all = test::joined(findings.problems);
    INFO(all);
    CHECK(all.find("client acme has 3 live calls, limit 1") != std::string::npos);
    CHECK(all.find("3 live calls, global limit 2") != std::string::npos);
}
