// WAL growth under a reader that never ends (issue 10, section 3). Prints
// Markdown for docs/RELIABILITY.md.
//
// 32 threads admit and end calls through the engine (group commit,
// synchronous=FULL) for --seconds while a `sqlite3`-shell-like connection
// sits in `BEGIN; SELECT ...`. Reported each second: WAL size and what a
// passive checkpoint says. Then the reader ends and two things are compared
// on the same file: the WAL size after more writes with SQLite's own
// auto-checkpoint only (what calltrack had: journal_size_limit 64 MiB), and
// after one round of serve's checkpointer (WalCheckpointer).
//
// Usage: wal_bench [--seconds N] [--dir DIR]

#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/storage/Database.h"
#include "db/storage/WalCheckpointer.h"
#include "db/tenants/ClientRegistry.h"

#include <SQLiteCpp/Database.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

using namespace calltrack;

namespace {

uint64_t walBytes(const std::string& db) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(db + "-wal", ec);
    return ec ? 0 : n;
}

double mib(uint64_t b) {
    return static_cast<double>(b) / (1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
    int seconds = 10;
    std::string dir = "/tmp";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--seconds")) seconds = std::atoi(argv[i + 1]);
        if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    const std::string path = dir + "/wal-bench-" + std::to_string(::getpid()) + ".db";
    db::SystemClock clock;
    db::DatabaseOptions o;
    o.path = path;
    o.createIfMissing = true;
    auto database = std::make_unique<db::Database>(o);
    db::ClientRegistry clients(database->writer(), database->readers(), clock);
    db::AdmissionEngine admission(database->writer(), clock);
    db::CallLifecycle lifecycle(database->writer(), clock);
    db::ClientPatch p;
    p.maxConcurrent = 1000;
    clients.setGlobalLimit(1000);
    clients.create("acme", p);
    std::atomic<bool> stop{false};
    std::atomic<int64_t> pairs{0};
    auto worker = [&](int t) {
        for (int64_t i = 0; !stop.load(); ++i) {
            db::AdmitRequest r;
            r.clientId = "acme";
            r.externalId = std::to_string(t) + "-" + std::to_string(i);
            const auto a = admission.admit(r);
            db::EndRequest e;
            e.call = db::CallRef::byId(a.call->id);
            lifecycle.end(e);
            ++pairs;
        }
    };
    auto load = [&](int secs, bool print) {
        stop = false;
        std::vector<std::thread> threads;
        for (int t = 0; t < 32; ++t) threads.emplace_back(worker, t);
        db::WalCheckpointer probe(path, clock, {}, nullptr);
        for (int s = 1; s <= secs; ++s) {
            std::this_thread::sleep_for(std::chrono::seconds(1));
            if (print) {
                const auto st = probe.checkpoint();
                std::printf("| %d | %lld | %.1f | %lld |\n", s,
                            static_cast<long long>(pairs.load()), mib(walBytes(path)),
                            static_cast<long long>(st.logFrames - st.checkpointedFrames));
            }
        }
        stop = true;
        for (auto& t : threads) t.join();
    };

    SQLite::Database shell(path, SQLite::OPEN_READONLY);
    shell.exec("BEGIN");
    shell.execAndGet("SELECT count(*) FROM calls");
    std::printf(
        "Stuck reader (`BEGIN; SELECT count(*) FROM calls`), 32 threads admit+end, FULL:\n\n");
    std::printf("| second | admit+end pairs | WAL MiB | frames behind |\n|---|---|---|---|\n");
    load(seconds, true);
    const uint64_t pinned = walBytes(path);
    shell.exec("COMMIT");

    // Before: SQLite's auto-checkpoint only, on more writes.
    load(2, false);
    const uint64_t autoOnly = walBytes(path);
    // After: one round of the checkpointer once the writers pause.
    db::WalCheckpointer wal(path, clock, {}, nullptr);
    const auto st = wal.checkpoint();
    std::printf("\n| | WAL MiB |\n|---|---|\n");
    std::printf("| stuck reader, after %d s of load | %.1f |\n", seconds, mib(pinned));
    std::printf("| reader gone, 2 s more load, auto-checkpoint only (before) | %.1f |\n",
                mib(autoOnly));
    std::printf("| then one WalCheckpointer round (after; truncations=%llu) | %.1f |\n",
                static_cast<unsigned long long>(st.truncations), mib(walBytes(path)));
    database.reset();
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
    return 0;
}
