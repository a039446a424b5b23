// Cost of the utilization history: how long folding call_events into
// usage_history/usage_totals takes per event (UsageRecorder::fold, the
// history job's work every second), and a /metrics read of the counters
// with the same events past the cursor (UsageTotals::current). Prints
// Markdown for docs/PERFORMANCE.md; medians of --repeat runs.
//
// Usage: history_bench [--pairs N] [--repeat R] [--dir DIR]

#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/history/UsageRecorder.h"
#include "db/history/UsageTotals.h"
#include "db/storage/Database.h"
#include "db/tenants/ClientRegistry.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

using namespace calltrack;
using Steady = std::chrono::steady_clock;

int main(int argc, char** argv) {
    int pairs = 20000, repeat = 5;
    std::string dir = std::filesystem::temp_directory_path() / "calltrack-history-bench";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--pairs")) pairs = std::atoi(argv[i + 1]);
        if (!std::strcmp(argv[i], "--repeat")) repeat = std::atoi(argv[i + 1]);
        if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    db::DatabaseOptions options;
    options.path = dir + "/h.db";
    options.durability = db::Durability::normal;
    options.createIfMissing = true;
    db::Database database(options);
    db::SystemClock clock;
    db::ClientRegistry clients(database.writer(), database.readers(), clock);
    db::AdmissionEngine admission(database.writer(), clock);
    db::CallLifecycle lifecycle(database.writer(), clock);
    db::ClientPatch patch;
    patch.maxConcurrent = 1000000;
    for (int k = 0; k < 10; ++k) clients.create("client" + std::to_string(k), patch);
    clients.setGlobalLimit(1000000);
    // Events to fold: admit+end pairs over 10 clients, from 16 threads.
    {
        std::vector<std::thread> threads;
        for (int t = 0; t < 16; ++t) {
            threads.emplace_back([&, t] {
                for (int i = t; i < pairs; i += 16) {
                    db::AdmitRequest r;
                    r.clientId = "client" + std::to_string(i % 10);
                    r.externalId = "x" + std::to_string(i);
                    auto a = admission.admit(r);
                    db::EndRequest e;
                    e.call = db::CallRef::byId(a.call->id);
                    lifecycle.end(e);
                }
            });
        }
        for (auto& th : threads) th.join();
    }
    const int64_t events = 2LL * pairs;
    std::vector<double> foldNs, totalsNs;
    for (int r = 0; r < repeat; ++r) {
        // Fold everything from scratch: the cursor and the tables reset.
        database.writer().run([](db::Connection& c) {
            c.exec("DELETE FROM usage_history");
            c.exec("DELETE FROM usage_totals");
            c.exec("UPDATE usage_cursor SET last_event_id = 0");
        });
        auto start = Steady::now();
        const auto tail = database.readers().read(
            [](db::Connection& c) { return db::UsageTotals::current(c, 1'000'000); });
        totalsNs.push_back(std::chrono::duration<double, std::nano>(Steady::now() - start).count() /
                           static_cast<double>(events));
        db::UsageRecorder recorder(database.writer(), database.readers(), clock);
        start = Steady::now();
        const int64_t folded = recorder.fold(1000);
        foldNs.push_back(std::chrono::duration<double, std::nano>(Steady::now() - start).count() /
                         static_cast<double>(events));
        if (folded != events) {
            std::fprintf(stderr, "folded %lld of %lld events\n", static_cast<long long>(folded),
                         static_cast<long long>(events));
            return 1;
        }
        (void)tail;
    }
    std::sort(foldNs.begin(), foldNs.end());
    std::sort(totalsNs.begin(), totalsNs.end());
    const double fold = foldNs[foldNs.size() / 2], totals = totalsNs[totalsNs.size() / 2];
    std::printf(
        "| what (%lld events, 10 clients, median of %d) | ns per event | at 24 000 events/s |\n",
        static_cast<long long>(events), repeat);
    std::printf("|---|---:|---:|\n");
    std::printf("| fold into history and totals (history job) | %.0f | %.1f %% of one core |\n",
                fold, fold * 24000 / 1e7);
    std::printf(
        "| counters with every event past the cursor (/metrics) | %.0f | %.1f %% of one core |\n",
        totals, totals * 24000 / 1e7);
    std::filesystem::remove_all(dir);
    return 0;
}
