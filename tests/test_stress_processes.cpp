// Several calltrack processes on one database file, each with its own writer:
// the limits must hold across processes (SQLite's file locks serialise the
// writers; the schema's slot guard holds whoever writes). The parent checks
// every committed snapshot it sees, as in test_stress_threads.
//
// The workers are separate executables started with posix_spawn before the
// parent opens any connection (a SQLite connection must never cross a fork).
// CALLTRACK_STRESS_OPS / 3 sets the total number of worker operations
// (default 4000).

#include "tests/SnapshotChecker.h"
#include "tests/TestSupport.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

extern char** environ;

using namespace calltrack;
using test::scalar;

namespace {

constexpr int kWorkers = 4;
constexpr int64_t kGlobalLimit = 8;
const char* const kClients[] = {"p2", "p3", "p4", "p5"};

int totalOps() {
    if (const char* env = std::getenv("CALLTRACK_STRESS_OPS")) {
        const int n = std::atoi(env);
        if (n > 0) return std::max(kWorkers, n / 3);
    }
    return 4000;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

pid_t spawnWorker(const std::string& db, int index, int ops, const std::string& outputFile) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, outputFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::string binary = STRESS_WORKER_BINARY;
    std::string indexArg = std::to_string(index);
    std::string opsArg = std::to_string(ops);
    std::string dbArg = db;
    char* argv[] = {binary.data(), dbArg.data(), indexArg.data(), opsArg.data(), nullptr};
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    return rc == 0 ? pid : -1;
}

}  // namespace

TEST_CASE("4 processes admitting and ending on one file never exceed a limit in any snapshot") {
    test::TempDir dir;
    const std::string path = dir.file("shared.db");
    {
        // Set up, then close every connection before spawning.
        db::DatabaseOptions o;
        o.path = path;
        o.createIfMissing = true;
        o.durability = db::Durability::normal;
        db::Database database(o);
        db::ManualClock clock;
        db::ClientRegistry registry(database.writer(), database.readers(), clock);
        for (int limit = 2; limit <= 5; ++limit) {
            registry.create("p" + std::to_string(limit), test::limitPatch(limit));
        }
        registry.setGlobalLimit(kGlobalLimit);
    }

    const int perWorker = std::max(1, totalOps() / kWorkers);
    std::vector<pid_t> pids;
    std::vector<std::string> outputs;
    for (int i = 0; i < kWorkers; ++i) {
        outputs.push_back(dir.file("worker" + std::to_string(i) + ".out"));
        const pid_t pid = spawnWorker(path, i, perWorker, outputs.back());
        REQUIRE(pid > 0);
        pids.push_back(pid);
    }

    test::Findings findings;
    int64_t snapshots = 0;
    std::vector<int> statuses;
    {
        test::SnapshotChecker checker(path, findings);
        for (const pid_t pid : pids) {
            int status = 0;
            waitpid(pid, &status, 0);
            statuses.push_back(status);
        }
        checker.stop();
        snapshots = checker.snapshots();
    }

    for (int i = 0; i < kWorkers; ++i) {
        CAPTURE(i);
        INFO(readFile(outputs[static_cast<size_t>(i)]));
        CHECK(WIFEXITED(statuses[static_cast<size_t>(i)]));
        CHECK(WEXITSTATUS(statuses[static_cast<size_t>(i)]) == 0);
    }
    MESSAGE("snapshot checker verified " << snapshots << " committed snapshots of " << kWorkers
                                         << " processes x " << perWorker << " ops");
    INFO(test::joined(findings.problems));
    CHECK(findings.problems.empty());
    CHECK(snapshots > 1);

    // Final state, seen through a fresh engine.
    db::DatabaseOptions o;
    o.path = path;
    o.durability = db::Durability::normal;
    db::Database database(o);
    const auto count = [&](const std::string& sql) {
        return database.readers().read([&](db::Connection& c) { return scalar(c.handle(), sql); });
    };
    CHECK(count("SELECT count(*) FROM calls") > 0);
    CHECK(count("SELECT count(*) FROM call_events WHERE outcome = 'refused'") > 0);
    for (const char* client : kClients) {
        CAPTURE(client);
        const std::string id = client;
        const int64_t live = count("SELECT count(*) FROM calls WHERE client_id = '" + id +
                                   "' AND ended_at IS NULL AND client_slot IS NOT NULL");
        CHECK(count("SELECT active FROM clients WHERE id = '" + id + "'") == live);
        CHECK(live <= count("SELECT max_concurrent FROM clients WHERE id = '" + id + "'"));
    }
    const int64_t live =
        count("SELECT count(*) FROM calls WHERE ended_at IS NULL AND client_slot IS NOT NULL");
    CHECK(count("SELECT global_active FROM settings") == live);
    CHECK(live <= kGlobalLimit);
    const auto report = database.readers().read([&](db::Connection& c) {
        return db::InvariantChecker::run(c, db::SystemClock().nowMs(), 3'600'000);
    });
    INFO(test::joined(report.violations));
    CHECK(report.ok());
}
