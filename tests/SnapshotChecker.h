#pragma once
// For the stress tests: a thread with its own read-only SQLite connection
// that polls PRAGMA data_version and, for every new commit it sees, runs
// checks inside one read transaction (one committed snapshot). Problems are
// collected, to be asserted on the main thread.
//
// SnapshotPoller runs any checks; SnapshotChecker is the one for the limits:
// with COUNT(*) over calls (not the counters), no client holds more live
// slot-holding calls than its limit and the system no more than the global
// limit.

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace calltrack::test {

// What the threads report back; asserted on the main thread.
struct Findings {
    std::mutex mutex;
    std::vector<std::string> problems;  // guarded by mutex
    void add(std::string p) {
        std::lock_guard lock(mutex);
        if (problems.size() < 20) problems.push_back(std::move(p));
    }
};

class SnapshotPoller {
  public:
    // Called once per snapshot, inside its read transaction; `at` names the
    // snapshot ("snapshot N: ") for messages.
    using Check = std::function<void(const std::string& at)>;
    // Prepares the checks' statements on the poller's connection, once.
    using CheckFactory = std::function<Check(SQLite::Database& ro, Findings& findings)>;

    SnapshotPoller(std::string path, Findings& findings, CheckFactory factory)
        : path_(std::move(path)), findings_(findings), factory_(std::move(factory)) {
        thread_ = std::thread([this] { loop(); });
    }
    ~SnapshotPoller() { stop(); }
    SnapshotPoller(const SnapshotPoller&) = delete;
    SnapshotPoller& operator=(const SnapshotPoller&) = delete;
    void stop() {
        done_ = true;
        if (thread_.joinable()) thread_.join();
    }
    int64_t snapshots() const { return snapshots_.load(); }

  private:
    void loop() {
        try {
            SQLite::Database ro(path_, SQLite::OPEN_READONLY, 5000);
            SQLite::Statement version(ro, "PRAGMA data_version");
            const Check check = factory_(ro, findings_);
            int64_t last = -1;
            bool finalPass = false;
            for (;;) {
                const bool stopping = done_.load();
                version.executeStep();
                const int64_t v = version.getColumn(0).getInt64();
                version.reset();
                if (v == last && !stopping) {
                    // Polling for the next commit, not waiting for a moment.
                    std::this_thread::sleep_for(std::chrono::microseconds(200));
                    continue;
                }
                last = v;
                ro.exec("BEGIN");
                check("snapshot " + std::to_string(v) + ": ");
                ro.exec("COMMIT");
                ++snapshots_;
                if (stopping) {
                    if (finalPass) break;
                    finalPass = true;  // one more look after the workers stopped
                }
            }
        } catch (const std::exception& e) {
            findings_.add(std::string("checker failed: ") + e.what());
        }
    }

    std::string path_;
    Findings& findings_;
    CheckFactory factory_;
    std::atomic<bool> done_{false};
    std::atomic<int64_t> snapshots_{0};
    std::thread thread_;
};

class SnapshotChecker : public SnapshotPoller {
  public:
    SnapshotChecker(std::string path, Findings& findings)
        : SnapshotPoller(std::move(path), findings, limitChecks) {}

  private:
    static Check limitChecks(SQLite::Database& ro, Findings& findings) {
        auto perClient = std::make_shared<SQLite::Statement>(
            ro,
            "SELECT k.id, k.max_concurrent, (SELECT count(*) FROM calls c "
            "WHERE c.client_id = k.id AND c.ended_at IS NULL AND c.client_slot IS "
            "NOT NULL) FROM clients k");
        auto global = std::make_shared<SQLite::Statement>(
            ro,
            "SELECT (SELECT count(*) FROM calls WHERE ended_at IS NULL AND "
            "client_slot IS NOT NULL), global_limit FROM settings");
        return [perClient, global, &findings](const std::string& at) {
            while (perClient->executeStep()) {
                const std::string id = perClient->getColumn(0).getString();
                const int64_t limit = perClient->getColumn(1).getInt64();
                const int64_t live = perClient->getColumn(2).getInt64();
                if (live > limit) {
                    findings.add(at + "client " + id + " has " + std::to_string(live) +
                                 " live calls, limit " + std::to_string(limit));
                }
            }
            perClient->reset();
            global->executeStep();
            const int64_t live = global->getColumn(0).getInt64();
            const int64_t limit = global->getColumn(1).getInt64();
            global->reset();
            if (live > limit) {
                findings.add(at + std::to_string(live) + " live calls, global limit " +
                             std::to_string(limit));
            }
        };
    }
};

}  // namespace calltrack::test
