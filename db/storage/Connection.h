#pragma once
// One SQLite connection with calltrack's pragmas and a cache of prepared
// statements. Not thread-safe: a Connection belongs to one thread at a time
// (the writer thread, or whichever reader borrowed it from the ReadPool).

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace calltrack::db {

// FULL: every answered commit survives power loss (fsync per commit).
// NORMAL: fsync only at checkpoints; an application crash loses nothing, a
// power loss may roll back the last commits.
enum class Durability { full, normal };

struct ConnectionOptions {
    bool readOnly = false;
    bool create = false;  // create the file if it is missing
    int busyTimeoutMs = 5000;
    Durability durability = Durability::full;
    int cacheSizeKiB = 65536;  // keeps the live-call indexes in memory at 100k+ live calls
};

class Connection {
  public:
    Connection(const std::string& path, const ConnectionOptions& options);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // The statement for `sql`, prepared once per connection. `sql` must be a
    // string with static storage: the cache is keyed by its address.
    SQLite::Statement& prepared(const char* sql);
    SQLite::Database& handle() { return db_; }
    void exec(const char* sql) { db_.exec(sql); }
    int changes() const { return db_.getChanges(); }
    int64_t lastInsertRowid() const { return db_.getLastInsertRowid(); }
    // True when no transaction is open (SQLite rolls back on some errors).
    bool inAutocommit() const;
    const std::string& path() const { return path_; }
    int busyTimeoutMs() const { return busyTimeoutMs_; }
    // Lock waits so far (each wait for another connection's lock counted
    // once); readable from any thread.
    uint64_t lockWaits() const { return lockWaits_.load(std::memory_order_relaxed); }
    // While set, a statement waits for another connection's lock no later
    // than this (and never longer than the busy timeout), so a caller's
    // deadline bounds the wait: SQLite's own busy timeout counts from the
    // first retry, whatever the caller has left.
    void setLockDeadline(std::optional<std::chrono::steady_clock::time_point> deadline) {
        lockDeadline_ = deadline;
    }

  private:
    static int onBusy(void* self, int attempt);

    std::string path_;
    int busyTimeoutMs_;
    std::optional<std::chrono::steady_clock::time_point> lockDeadline_;
    std::chrono::steady_clock::time_point busySince_{};
    std::atomic<uint64_t> lockWaits_{0};
    SQLite::Database db_;
    // Declared after db_: statements are finalized before the database closes.
    std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> statements_;
};

// A borrowed prepared statement, reset and unbound when the scope ends, so a
// statement is never left mid-step (which would block checkpoints and COMMIT).
class Query {
  public:
    Query(Connection& connection, const char* sql) : statement_(connection.prepared(sql)) {}
    ~Query() {
        statement_.tryReset();
        try {
            statement_.clearBindings();  // sqlite3_clear_bindings cannot fail
        } catch (...) {
        }
    }
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;

    SQLite::Statement* operator->() { return &statement_; }
    SQLite::Statement& operator*() { return statement_; }
    bool step() { return statement_.executeStep(); }
    // Runs a statement that returns no rows; returns the rows changed.
    int run() { return statement_.exec(); }

  private:
    SQLite::Statement& statement_;
};

}  // namespace calltrack::db
