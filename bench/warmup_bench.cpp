// Bot warm-up benchmark (issue 4, section 5). Prints Markdown for
// docs/PERFORMANCE.md.
//
//  1. Time to ready: --bots bots whose warm-up takes --delay-ms each (the
//     fake fleet of the tests, on loopback) become ready through the real
//     scheduler (lease, planner, workers, database) with each concurrency in
//     --concurrency; the clock runs from start() until the last bot is ready
//     in the database. Expected: about ceil(bots / concurrency) * delay.
//  2. The extra admission cost of bot assignment: admit+end pairs per second
//     on one thread for a plain client and for a bots_required client with
//     ready bots, in alternating rounds in the same run (machine noise hits
//     both alike); medians and their ratio.
//
// Usage: warmup_bench [--bots N] [--delay-ms MS] [--concurrency 1,5,20]
//                     [--seconds S] [--rounds R] [--dir DIR]

#include "FakeBotFleet.h"
#include "app/warmup/WarmupScheduler.h"
#include "db/bots/BotRegistry.h"
#include "db/bots/WarmupClaims.h"
#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/coordination/LeaderLease.h"
#include "db/storage/Database.h"
#include "db/tenants/ClientRegistry.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace calltrack;
using Steady = std::chrono::steady_clock;

namespace {

struct Options {
    int bots = 100;
    int delayMs = 1000;
    std::vector<int> concurrency{1, 5, 20};
    double seconds = 2.0;
    int rounds = 5;
    std::string dir = "/tmp/calltrack-warmup-bench";
};

std::unique_ptr<db::Database> freshDatabase(const std::string& path, db::Durability durability) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    db::DatabaseOptions o;
    o.path = path;
    o.durability = durability;
    o.createIfMissing = true;
    return std::make_unique<db::Database>(o);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// Seconds until every bot is ready, and the most warm-ups the fleet saw at once.
std::pair<double, int> timeToReady(const Options& o, int concurrency) {
    db::SystemClock clock;
    auto database = freshDatabase(o.dir + "/ready.db", db::Durability::full);
    db::ClientRegistry clients(database->writer(), database->readers(), clock);
    db::BotRegistry bots(database->writer(), database->readers(), clock);
    db::ClientPatch patch;
    patch.maxConcurrent = 1000;
    patch.botsRequired = true;
    patch.warmPool = db::ClientPatch::WarmPool{.minWarm = o.bots, .headroom = 0};
    clients.create("bench", patch);
    test::FakeBotFleet fleet;
    test::FakeBotFleet::Behaviour slow;
    slow.delayMs = o.delayMs;
    fleet.setDefault(slow);
    for (int i = 0; i < o.bots; ++i) {
        const std::string id = "bot" + std::to_string(i);
        bots.put(id, db::BotConfig{"bench", fleet.url(id), 1, o.delayMs * 5});
    }
    db::WarmupClaims claims(database->writer(), clock);
    db::LeaderLease lease(database->writer(), clock, "bot-scheduler", "bench", 5000);
    api::JsonLog log(api::LogLevel::error);
    app::WarmupSchedulerOptions so;
    so.concurrency = concurrency;
    app::WarmupScheduler scheduler(claims, lease, clock, log, so);
    const auto started = Steady::now();
    scheduler.start();
    for (;;) {
        const auto ready = bots.list({.clientId = "bench", .state = db::BotState::ready}).size();
        if (static_cast<int>(ready) == o.bots) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const double seconds = std::chrono::duration<double>(Steady::now() - started).count();
    scheduler.stop();
    return {seconds, fleet.maxInFlight()};
}

// Admit+end pairs per second on one thread for client `client`.
double pairsPerSecond(db::AdmissionEngine& admission, db::CallLifecycle& lifecycle,
                      const std::string& client, double seconds, long& serial) {
    const auto until = Steady::now() + std::chrono::duration<double>(seconds);
    long pairs = 0;
    const auto started = Steady::now();
    while (Steady::now() < until) {
        auto r =
            admission.admit({.clientId = client, .externalId = "x" + std::to_string(serial++)});
        if (r.outcome != db::AdmitResult::Outcome::admitted) {
            std::fprintf(stderr, "unexpected refusal: %s\n", db::nameOf(r.refusal));
            std::exit(1);
        }
        lifecycle.end({.call = db::CallRef::byId(r.call->id)});
        ++pairs;
    }
    return pairs / std::chrono::duration<double>(Steady::now() - started).count();
}

void admissionCost(const Options& o, db::Durability durability, const char* label) {
    db::SystemClock clock;
    auto database = freshDatabase(o.dir + "/admit.db", durability);
    db::ClientRegistry clients(database->writer(), database->readers(), clock);
    db::BotRegistry bots(database->writer(), database->readers(), clock);
    db::AdmissionEngine admission(database->writer(), clock);
    db::CallLifecycle lifecycle(database->writer(), clock);
    clients.create("plain", db::ClientPatch{.maxConcurrent = 1000});
    db::ClientPatch withBots;
    withBots.maxConcurrent = 1000;
    withBots.botsRequired = true;
    withBots.warmPool = db::ClientPatch::WarmPool{.minWarm = 20, .headroom = 0, .warmTtlS = 86'400};
    clients.create("bots", withBots);
    for (int i = 0; i < 20; ++i) {
        bots.put("b" + std::to_string(i),
                 db::BotConfig{"bots", "http://127.0.0.1:9/warm", 1, 1000});
    }
    // Ready without any network: claim them all and record success.
    db::WarmupClaims claims(database->writer(), clock);
    const auto plan = claims.plan({.maxJobs = 100});
    for (const auto& job : plan.jobs) claims.recordSuccess(job, 1);

    std::vector<double> plain, withBot;
    long serial = 0;
    for (int round = 0; round < o.rounds; ++round) {
        plain.push_back(pairsPerSecond(admission, lifecycle, "plain", o.seconds, serial));
        withBot.push_back(pairsPerSecond(admission, lifecycle, "bots", o.seconds, serial));
    }
    const double p = median(plain), b = median(withBot);
    std::printf("| %s | %.0f | %.0f | %.2f | %.1f µs |\n", label, p, b, b / p, 1e6 / b - 1e6 / p);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--bots") {
            o.bots = std::stoi(next());
        } else if (a == "--delay-ms") {
            o.delayMs = std::stoi(next());
        } else if (a == "--concurrency") {
            o.concurrency.clear();
            std::stringstream list(next());
            for (std::string item; std::getline(list, item, ',');)
                o.concurrency.push_back(std::stoi(item));
        } else if (a == "--seconds") {
            o.seconds = std::stod(next());
        } else if (a == "--rounds") {
            o.rounds = std::stoi(next());
        } else if (a == "--dir") {
            o.dir = next();
        } else {
            std::fprintf(stderr,
                         "usage: warmup_bench [--bots N] [--delay-ms MS] [--concurrency 1,5,20] "
                         "[--seconds S] [--rounds R] [--dir DIR]\n");
            return 2;
        }
    }
    std::filesystem::create_directories(o.dir);

    std::printf("### Time for %d bots to become ready (warm-up latency %d ms)\n\n", o.bots,
                o.delayMs);
    std::printf("| concurrency | seconds | expected ≈ | max in flight (fleet) | speed-up vs %d |\n",
                o.concurrency.front());
    std::printf("|---|---|---|---|---|\n");
    double first = 0;
    for (int c : o.concurrency) {
        const auto [seconds, maxInFlight] = timeToReady(o, c);
        if (first == 0) first = seconds;
        const double expected = std::ceil(static_cast<double>(o.bots) / c) * o.delayMs / 1000.0;
        std::printf("| %d | %.1f | %.1f | %d | %.1f× |\n", c, seconds, expected, maxInFlight,
                    first / seconds);
        std::fflush(stdout);
    }

    std::printf(
        "\n### Admission cost of bot assignment (1 thread, admit+end pairs/s, median of "
        "%d rounds of %.1f s, alternating)\n\n",
        o.rounds, o.seconds);
    std::printf("| synchronous | plain client | bots_required client | ratio | extra per pair |\n");
    std::printf("|---|---|---|---|---|\n");
    admissionCost(o, db::Durability::full, "FULL");
    admissionCost(o, db::Durability::normal, "NORMAL");
    return 0;
}
