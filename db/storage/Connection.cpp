#include "db/storage/Connection.h"

#include <sqlite3.h>

#include <algorithm>
#include <mutex>
#include <thread>

namespace calltrack::db {

namespace {

// Process-wide SQLite settings, applied once before the first connection:
// memory statistics off, which removes a global mutex from every allocation
// SQLite makes (measured: ~10% of the admission path). Nothing else in the
// process reads SQLite's memory statistics.
void configureLibraryOnce() {
    static std::once_flag once;
    std::call_once(once, [] {
        // SQLITE_MISUSE (ignored) if SQLite was already initialised by
        // someone else in this process: then statistics simply stay on.
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    });
}

int openFlags(const ConnectionOptions& options) {
    if (options.readOnly) return SQLite::OPEN_READONLY;
    return SQLite::OPEN_READWRITE | (options.create ? SQLite::OPEN_CREATE : 0);
}
}  // namespace

Connection::Connection(const std::string& path, const ConnectionOptions& options)
    : path_((configureLibraryOnce(), path)),
      busyTimeoutMs_(options.busyTimeoutMs),
      db_(path, openFlags(options) | SQLITE_OPEN_NOMUTEX, options.busyTimeoutMs) {
    // Replaces the busy timeout SQLiteCpp installed: the same bound, plus
    // the lock deadline (setLockDeadline).
    sqlite3_busy_handler(db_.getHandle(), &Connection::onBusy, this);
    // Pragmas are per connection; journal_mode=WAL is persistent in the file
    // and is set by SchemaMigrator when the database is created.
    db_.exec("PRAGMA foreign_keys = ON");
    db_.exec("PRAGMA temp_store = MEMORY");
    db_.exec(("PRAGMA cache_size = -" + std::to_string(options.cacheSizeKiB)).c_str());
    if (options.readOnly) {
        db_.exec("PRAGMA query_only = ON");
    } else {
        db_.exec(options.durability == Durability::full ? "PRAGMA synchronous = FULL"
                                                        : "PRAGMA synchronous = NORMAL");
        // Truncate the WAL back to this size after checkpoints so a burst does
        // not leave a huge file behind.
        db_.exec("PRAGMA journal_size_limit = 67108864");
    }
}

SQLite::Statement& Connection::prepared(const char* sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
        it = statements_.emplace(sql, std::make_unique<SQLite::Statement>(db_, sql)).first;
    }
    return *it->second;
}

int Connection::onBusy(void* self, int attempt) {
    auto& c = *static_cast<Connection*>(self);
    const auto now = std::chrono::steady_clock::now();
    if (attempt == 0) {
        c.busySince_ = now;
        c.lockWaits_.fetch_add(1, std::memory_order_relaxed);
    }
    auto until = c.busySince_ + std::chrono::milliseconds(c.busyTimeoutMs_);
    if (c.lockDeadline_) until = std::min(until, *c.lockDeadline_);
    if (now >= until) return 0;  // give up: SQLITE_BUSY
    // Short polls at first (a writer's commit takes ~0.1-1 ms), then 5 ms.
    const auto pause =
        attempt < 20 ? std::chrono::microseconds(500) : std::chrono::microseconds(5000);
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, until - now));
    return 1;
}

bool Connection::inAutocommit() const {
    return sqlite3_get_autocommit(db_.getHandle()) != 0;
}

}  // namespace calltrack::db
