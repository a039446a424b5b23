// Engine benchmark (issue 2, section 8). Prints Markdown for docs/PERFORMANCE.md.
//
//  1. Throughput: admit+end pairs per second, in-process, with 1, 8 and 32
//     submitting threads, synchronous=FULL and NORMAL. Each thread admits a
//     call and ends it, in a loop, for a fixed time; each cell runs --repeat
//     times, FULL and NORMAL alternating, and the median is reported. The
//     file system's fsync latency is measured in the same run: with
//     synchronous=FULL a batch cannot commit faster than one fsync, and a
//     batch holds at most one operation per submitting thread.
//  2. Admission latency with 1 000 vs 100 000 (--live N) live calls: the two databases
//     are measured in alternating rounds in the same run, so machine noise
//     hits both alike; medians and their ratio are reported.
//
// Usage: engine_bench [--seconds S] [--repeat N] [--rounds R] [--dir DIR] [--live N]
//                     [--sections all|latency] [--cell N --workload admits|pairs
//                     --durability full|normal] [--cell -N]

#include "app/MemoryAllocator.h"
#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/storage/Database.h"
#include "db/tenants/ClientRegistry.h"

#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

using namespace calltrack;
using Clock = std::chrono::steady_clock;

namespace {

struct Fixture {
    Fixture(const std::string& path, db::Durability durability) {
        std::filesystem::remove(path);
        std::filesystem::remove(path + "-wal");
        std::filesystem::remove(path + "-shm");
        db::DatabaseOptions o;
        o.path = path;
        o.durability = durability;
        o.createIfMissing = true;
        database = std::make_unique<db::Database>(o);
        clients =
            std::make_unique<db::ClientRegistry>(database->writer(), database->readers(), clock);
        admission = std::make_unique<db::AdmissionEngine>(database->writer(), clock);
        lifecycle = std::make_unique<db::CallLifecycle>(database->writer(), clock);
        clients->setGlobalLimit(10'000'000);
        for (int i = 0; i < 8; ++i)
            clients->create("c" + std::to_string(i), db::ClientPatch{.maxConcurrent = 10'000'000});
    }
    db::SystemClock clock;
    std::unique_ptr<db::Database> database;
    std::unique_ptr<db::ClientRegistry> clients;
    std::unique_ptr<db::AdmissionEngine> admission;
    std::unique_ptr<db::CallLifecycle> lifecycle;
};

// Admit-only runs keep every call live (the limits are far above what a run
// admits), so they measure the admission write alone.
enum class Workload { pairs, admits };

double throughput(const std::string& path, db::Durability durability, int threads, double seconds,
                  Workload workload = Workload::pairs) {
    Fixture f(path, durability);
    std::atomic<bool> stop{false};
    std::atomic<long> pairs{0};
    std::vector<std::thread> workers;
    const auto start = Clock::now();
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            long n = 0;
            const std::string client = "c" + std::to_string(t % 8);
            while (!stop.load(std::memory_order_relaxed)) {
                auto r = f.admission->admit(
                    {.clientId = client,
                     .externalId = "t" + std::to_string(t) + "-" + std::to_string(n)});
                if (workload == Workload::pairs)
                    f.lifecycle->end({.call = db::CallRef::byId(r.call->id)});
                ++n;
            }
            pairs += n;
        });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& w : workers) w.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const auto stats = f.database->writer().stats();
    std::fprintf(stderr, "  %s threads=%d: %ld pairs, %llu commits, largest batch %llu\n",
                 durability == db::Durability::full ? "FULL" : "NORMAL", threads, pairs.load(),
                 static_cast<unsigned long long>(stats.commits),
                 static_cast<unsigned long long>(stats.largestBatch));
    return static_cast<double>(pairs.load()) / elapsed;
}

// Fills the database with `live` live calls spread over the clients, in
// large writer batches (one transaction per 5 000 admissions).
void populate(Fixture& f, int live) {
    int done = 0;
    while (done < live) {
        const int n = std::min(5000, live - done);
        f.database->writer().run([&](db::Connection& c) {
            for (int i = 0; i < n; ++i) {
                db::AdmitRequest r{.clientId = "c" + std::to_string((done + i) % 8),
                                   .externalId = "live-" + std::to_string(done + i)};
                db::AdmissionEngine::admitIn(c, f.clock.nowMs() + 3'600'000, r);
            }
        });
        done += n;
    }
}

// CPU per admission inside the writer, without commits or hand-offs:
// `n` admissions run in one writer op (one transaction); µs per admission.
double inTransactionMicros(const std::string& path, int n) {
    Fixture f(path, db::Durability::full);
    const auto t0 = Clock::now();
    f.database->writer().run([&](db::Connection& c) {
        for (int i = 0; i < n; ++i) {
            db::AdmitRequest r{.clientId = "c" + std::to_string(i % 8),
                               .externalId = "cpu-" + std::to_string(i)};
            db::AdmissionEngine::admitIn(c, f.clock.nowMs(), r);
        }
    });
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / n;
}

// Median latency of a 4 KiB write + fdatasync on the benchmark's file
// system: the floor under every synchronous=FULL commit.
double fsyncMicros(const std::string& dir) {
    const std::string path = dir + "/fsync-probe";
    const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0) return 0;
    std::vector<char> page(4096, 'x');
    std::vector<double> us;
    for (int i = 0; i < 200; ++i) {
        const auto t0 = Clock::now();
        if (::pwrite(fd, page.data(), page.size(), static_cast<off_t>(i) * 4096) < 0 ||
            ::fdatasync(fd) != 0)
            break;
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    ::close(fd);
    std::filesystem::remove(path);
    std::sort(us.begin(), us.end());
    return us.empty() ? 0 : us[us.size() / 2];
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// One round: `n` sequential admit+end pairs; per-admission latencies in µs.
void latencyRound(Fixture& f, int n, int round, std::vector<double>& out) {
    for (int i = 0; i < n; ++i) {
        const auto t0 = Clock::now();
        auto r = f.admission->admit(
            {.clientId = "c" + std::to_string(i % 8),
             .externalId = "r" + std::to_string(round) + "-" + std::to_string(i)});
        const auto t1 = Clock::now();
        f.lifecycle->end({.call = db::CallRef::byId(r.call->id)});
        out.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
}

}  // namespace

int main(int argc, char** argv) {
    calltrack::app::configureMemoryAllocator();  // as `calltrack serve` runs
    double seconds = 3;
    int rounds = 6;
    int repeat = 3;
    std::string dir = "bench-data";
    // --cell N: one throughput cell (N submitters) only, e.g. under a
    // profiler; --cell -N: N admissions in one transaction (CPU per admission); --workload
    // admits|pairs and --durability full|normal pick it.
    int cell = 0;
    // --live N: live calls in the latency comparison's large database.
    int largeLive = 100'000;
    // --sections latency: the latency comparison alone.
    bool throughputSection = true;
    Workload workload = Workload::pairs;
    db::Durability durability = db::Durability::full;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--sections"))
            throughputSection = std::strcmp(argv[i + 1], "latency") != 0;
        else if (!std::strcmp(argv[i], "--live"))
            largeLive = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--cell"))
            cell = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--workload"))
            workload = std::strcmp(argv[i + 1], "admits") ? Workload::pairs : Workload::admits;
        else if (!std::strcmp(argv[i], "--durability"))
            durability =
                std::strcmp(argv[i + 1], "normal") ? db::Durability::full : db::Durability::normal;
        else if (!std::strcmp(argv[i], "--seconds"))
            seconds = std::atof(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--rounds"))
            rounds = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--repeat"))
            repeat = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
    }
    std::filesystem::create_directories(dir);
    if (cell < 0) {
        std::vector<double> us;
        for (int r = 0; r < repeat; ++r) us.push_back(inTransactionMicros(dir + "/cpu.db", -cell));
        std::printf("in-transaction CPU per admission, %d admissions, median of %d: %.2f us\n",
                    -cell, repeat, median(us));
        return 0;
    }
    if (cell > 0) {
        std::vector<double> rates;
        for (int r = 0; r < repeat; ++r)
            rates.push_back(throughput(dir + "/tp.db", durability, cell, seconds, workload));
        std::printf("%s/s, %d submitters, %s, median of %d: %.0f\n",
                    workload == Workload::admits ? "admissions" : "admit+end pairs", cell,
                    durability == db::Durability::full ? "FULL" : "NORMAL", repeat, median(rates));
        return 0;
    }

    if (throughputSection) {
        const double fsyncBefore = fsyncMicros(dir);
        std::printf("## Admit+end throughput, median of %d runs of %.0f s per cell\n\n", repeat,
                    seconds);
        std::printf(
            "pairs/s = admissions/s; write ops/s = 2 x pairs/s (each admit and each end is one "
            "committed operation)\n\n");
        std::printf(
            "| threads | FULL pairs/s | FULL write ops/s | NORMAL pairs/s | NORMAL write ops/s | "
            "NORMAL/FULL |\n|---:|---:|---:|---:|---:|---:|\n");
        for (int threads : {1, 8, 32}) {
            std::vector<double> full, normal;
            for (int r = 0; r < repeat; ++r) {
                full.push_back(throughput(dir + "/tp.db", db::Durability::full, threads, seconds));
                normal.push_back(
                    throughput(dir + "/tp.db", db::Durability::normal, threads, seconds));
            }
            const double f = median(full), n = median(normal);
            std::printf("| %d | %.0f | %.0f | %.0f | %.0f | %.2f |\n", threads, f, 2 * f, n, 2 * n,
                        n / f);
            std::fflush(stdout);
        }
        const double fsyncAfter = fsyncMicros(dir);
        std::printf(
            "\nfsync (4 KiB pwrite + fdatasync) median on this file system: %.0f us before, %.0f "
            "us "
            "after the throughput runs\n",
            fsyncBefore, fsyncAfter);
    }

    std::printf(
        "\n## Admission latency vs live calls (synchronous=FULL, 1 thread, %d alternating "
        "rounds)\n\n",
        rounds);
    Fixture small(dir + "/small.db", db::Durability::full);
    Fixture large(dir + "/large.db", db::Durability::full);
    populate(small, 1'000);
    populate(large, largeLive);
    std::vector<double> smallLat, largeLat;
    for (int round = 0; round < rounds; ++round) {
        latencyRound(small, 500, round, smallLat);
        latencyRound(large, 500, round, largeLat);
    }
    const double ms = median(smallLat), ml = median(largeLat);
    std::printf("| live calls | median admission µs | p90 µs |\n|---:|---:|---:|\n");
    auto p90 = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() * 9 / 10];
    };
    std::printf("| 1 000 | %.1f | %.1f |\n| %d | %.1f | %.1f |\n", ms, p90(smallLat), largeLive, ml,
                p90(largeLat));
    std::printf("\nratio %d / 1 000 (medians): %.2f\n", largeLive, ml / ms);
    return 0;
}
