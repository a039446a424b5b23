// Retention benchmark (issue 9, section 7). Prints Markdown for
// docs/PERFORMANCE.md.
//
// 1 000 000 calls (admit, then end) go through the engine in-process with
// retention set to 1 hour, on a simulated clock that moves forward with the
// calls (--rate calls per simulated second: 50 by default, so the run spans
// about 5.6 simulated hours). A purge thread runs RetentionPurge every
// simulated minute, as serve's lease holder does, batch by batch. Reported
// per simulated hour: the admission latency (median, p99) seen by the
// submitting threads, the database size (file + WAL) and row counts at the
// end of the hour, and the purge batches' durations. Hour 1 has nothing to
// purge, so it is the side-by-side baseline for the hours that purge.
//
// Usage: retention_bench [--calls N] [--threads T] [--rate R] [--dir DIR]

#include "db/calls/AdmissionEngine.h"
#include "db/calls/CallLifecycle.h"
#include "db/history/UsageRecorder.h"
#include "db/storage/Database.h"
#include "db/storage/RetentionPurge.h"
#include "db/tenants/ClientRegistry.h"

#include <SQLiteCpp/Database.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace calltrack;
using Steady = std::chrono::steady_clock;

namespace {

// Simulated time: `rate` calls per second of it, from a fixed start.
class CallPacedClock final : public db::Clock {
  public:
    CallPacedClock(int64_t startMs, int64_t rate) : start_(startMs), rate_(rate) {}
    int64_t nowMs() const override { return start_ + done_.load() * 1000 / rate_; }
    void callDone() { done_.fetch_add(1); }
    int64_t hourOf(int64_t ms) const { return (ms - start_) / 3'600'000; }

  private:
    const int64_t start_;
    const int64_t rate_;
    std::atomic<int64_t> done_{0};
};

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int64_t fileSize(const std::string& path) {
    std::error_code ec;
    int64_t total = 0;
    for (const char* suffix : {"", "-wal"}) {
        const auto n = std::filesystem::file_size(path + suffix, ec);
        if (!ec) total += static_cast<int64_t>(n);
    }
    return total;
}

struct HourRow {
    int64_t calls = 0;
    std::vector<double> admitUs;
    std::vector<double> purgeBatchUs;
    int64_t purgedCalls = 0;
    int64_t bytes = 0;
    int64_t callRows = 0;
    int64_t eventRows = 0;
};

}  // namespace

int main(int argc, char** argv) {
    int64_t calls = 1'000'000;
    int threads = 8;
    int64_t rate = 50;
    std::string dir = "/tmp/calltrack-retention-bench";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--calls")) calls = std::atoll(argv[i + 1]);
        if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
        if (!std::strcmp(argv[i], "--rate")) rate = std::atoll(argv[i + 1]);
        if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/retention.db";
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);

    CallPacedClock clock(db::SystemClock().nowMs(), rate);
    db::DatabaseOptions o;
    o.path = path;
    o.createIfMissing = true;
    db::Database database(o);
    db::ClientRegistry clients(database.writer(), database.readers(), clock);
    db::AdmissionEngine admission(database.writer(), clock);
    db::CallLifecycle lifecycle(database.writer(), clock);
    db::RetentionPurge purge(database.writer(), clock);
    db::UsageRecorder history(database.writer(), database.readers(), clock);
    clients.setGlobalLimit(1'000'000);
    for (int t = 0; t < threads; ++t)
        clients.create("c" + std::to_string(t), db::ClientPatch{.maxConcurrent = 1'000'000});
    purge.setRetentionHours(1);

    const int64_t hours = calls / rate / 3600 + 2;
    std::vector<HourRow> rows(static_cast<size_t>(hours));
    std::mutex rowsMutex;
    std::atomic<int64_t> next{0};
    std::atomic<bool> done{false};

    std::thread purger([&] {
        int64_t lastMinute = -1;
        while (!done.load()) {
            const int64_t minute = (clock.nowMs()) / 60'000;
            if (minute == lastMinute) {
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
                continue;
            }
            lastMinute = minute;
            // As serve's history job: retention deletes only counted events.
            history.fold(1000);
            int64_t cursor = 0;
            for (bool more = true; more && !done.load();) {
                const auto t0 = Steady::now();
                const auto b = purge.purgeBatch(100, cursor);
                const double us =
                    std::chrono::duration<double, std::micro>(Steady::now() - t0).count();
                cursor = b.callCursor;
                more = b.more;
                if (b.events + b.calls + b.botEvents == 0) continue;
                std::lock_guard lock(rowsMutex);
                auto& row = rows[static_cast<size_t>(clock.hourOf(clock.nowMs()))];
                row.purgeBatchUs.push_back(us);
                row.purgedCalls += b.calls;
            }
        }
    });

    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::vector<std::pair<int64_t, double>> mine;
            const std::string client = "c" + std::to_string(t);
            for (int64_t n = next.fetch_add(1); n < calls; n = next.fetch_add(1)) {
                db::AdmitRequest req;
                req.clientId = client;
                req.externalId = "x" + std::to_string(n);
                const auto t0 = Steady::now();
                const auto r = admission.admit(req);
                const double us =
                    std::chrono::duration<double, std::micro>(Steady::now() - t0).count();
                mine.emplace_back(clock.hourOf(clock.nowMs()), us);
                db::EndRequest end;
                end.call = db::CallRef::byId(r.call->id);
                end.reason = "bench";
                lifecycle.end(end);
                clock.callDone();
                if (mine.size() >= 4096) {
                    std::lock_guard lock(rowsMutex);
                    for (auto& [h, v] : mine) {
                        rows[static_cast<size_t>(h)].admitUs.push_back(v);
                        ++rows[static_cast<size_t>(h)].calls;
                    }
                    mine.clear();
                }
            }
            std::lock_guard lock(rowsMutex);
            for (auto& [h, v] : mine) {
                rows[static_cast<size_t>(h)].admitUs.push_back(v);
                ++rows[static_cast<size_t>(h)].calls;
            }
        });
    }
    // Size and rows at each simulated hour's end.
    std::thread sampler([&] {
        int64_t hour = 0;
        SQLite::Database ro(path, SQLite::OPEN_READONLY);
        while (!done.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            const int64_t now = clock.hourOf(clock.nowMs());
            if (now == hour) continue;
            const int64_t callRows = ro.execAndGet("SELECT count(*) FROM calls").getInt64();
            const int64_t eventRows = ro.execAndGet("SELECT count(*) FROM call_events").getInt64();
            std::lock_guard lock(rowsMutex);
            auto& row = rows[static_cast<size_t>(hour)];
            row.bytes = fileSize(path);
            row.callRows = callRows;
            row.eventRows = eventRows;
            hour = now;
        }
    });
    for (auto& w : workers) w.join();
    done.store(true);
    purger.join();
    sampler.join();

    std::printf(
        "%lld calls, %d threads, %lld calls per simulated second, retention 1 hour, "
        "synchronous=FULL\n\n",
        static_cast<long long>(calls), threads, static_cast<long long>(rate));
    std::printf(
        "| simulated hour | calls | admit p50 µs | admit p99 µs | p50 / hour 1 | purge "
        "batches | batch p50 µs | batch max µs | calls purged | calls rows | event rows "
        "| db+wal MiB |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    double base = 0;
    for (size_t h = 0; h < rows.size(); ++h) {
        auto& r = rows[h];
        if (r.calls == 0) continue;
        const double p50 = percentile(r.admitUs, 0.5);
        const double p99 = percentile(r.admitUs, 0.99);
        if (h == 0) base = p50;
        const size_t batches = r.purgeBatchUs.size();
        const double bp50 = percentile(r.purgeBatchUs, 0.5);
        const double bmax = r.purgeBatchUs.empty() ? 0 : r.purgeBatchUs.back();
        std::printf(
            "| %zu | %lld | %.0f | %.0f | %.2f | %zu | %.0f | %.0f | %lld | %lld | %lld | "
            "%s |\n",
            h + 1, static_cast<long long>(r.calls), p50, p99, base > 0 ? p50 / base : 0, batches,
            bp50, bmax, static_cast<long long>(r.purgedCalls), static_cast<long long>(r.callRows),
            static_cast<long long>(r.eventRows),
            r.bytes ? (std::to_string(r.bytes / 1048576)).c_str() : "(end)");
    }
    std::printf("\nfinal db+wal: %lld MiB\n", static_cast<long long>(fileSize(path) / 1048576));
    return 0;
}
