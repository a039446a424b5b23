// Helper process for test_stress_processes: opens its own db::Database on an
// existing file (its own writer, as a separate calltrack process would) and
// runs random admissions, status events and ends.
//
//   stress_worker <db path> <worker index> <ops>
//
// Exit 0: every operation returned normally and no admission reported usage
// over a limit. Exit 1: something failed (printed on stderr). Exit 2: usage.

#include "db/Clock.h"
#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/storage/Database.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <vector>

using namespace calltrack;

namespace {

const char* const kClients[] = {"p2", "p3", "p4", "p5"};
const db::CallState kEventStates[] = {db::CallState::initiated,   db::CallState::ringing,
                                      db::CallState::in_progress, db::CallState::completed,
                                      db::CallState::busy,        db::CallState::no_answer};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: stress_worker <db path> <worker index> <ops>\n");
        return 2;
    }
    const std::string path = argv[1];
    const int index = std::atoi(argv[2]);
    const int ops = std::atoi(argv[3]);
    int failures = 0, admitted = 0, refused = 0, ended = 0;
    try {
        db::DatabaseOptions options;
        options.path = path;
        options.durability = db::Durability::normal;
        // Processes wait for each other's write lock; a long timeout keeps a
        // slow (sanitizer) run from failing on lock waits rather than bugs.
        options.busyTimeoutMs = 60'000;
        options.readers = 1;
        db::Database database(options);
        db::SystemClock clock;
        db::AdmissionEngine admission(database.writer(), clock);
        db::CallLifecycle lifecycle(database.writer(), clock);

        std::mt19937_64 rng(0xBADC0DEull + static_cast<uint64_t>(index));
        std::vector<int64_t> live;
        for (int n = 0; n < ops; ++n) {
            const int dice = static_cast<int>(rng() % 100);
            try {
                if (dice < 50 || live.empty()) {
                    db::AdmitRequest req;
                    req.clientId = kClients[rng() % 4];
                    req.externalId = "w" + std::to_string(index) + "-" + std::to_string(n);
                    req.source = "stress";
                    const auto r = admission.admit(req);
                    if (r.outcome == db::AdmitResult::Outcome::refused) {
                        ++refused;
                        continue;
                    }
                    ++admitted;
                    live.push_back(r.call->id);
                    if (r.client.active > r.client.limit || r.global.active > r.global.limit) {
                        std::fprintf(
                            stderr, "worker %d: admission reported usage over a limit: %lld/%lld\n",
                            index, static_cast<long long>(r.client.active),
                            static_cast<long long>(r.client.limit));
                        ++failures;
                    }
                } else if (dice < 75) {
                    const size_t k = rng() % live.size();
                    db::StatusEvent ev;
                    ev.call = db::CallRef::byId(live[k]);
                    ev.status = kEventStates[rng() % 6];
                    ev.source = "stress";
                    lifecycle.applyStatus(ev);
                } else {
                    const size_t k = rng() % live.size();
                    db::EndRequest req;
                    req.call = db::CallRef::byId(live[k]);
                    req.source = "stress";
                    lifecycle.end(req);
                    live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
                    ++ended;
                }
            } catch (const std::exception& e) {
                std::fprintf(stderr, "worker %d op %d: %s\n", index, n, e.what());
                if (++failures > 20) return 1;
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "worker %d: %s\n", index, e.what());
        return 1;
    }
    std::printf("worker %d: %d admitted, %d refused, %d ended, %d failures\n", index, admitted,
                refused, ended, failures);
    return failures == 0 ? 0 : 1;
}
