#include "db/storage/WalCheckpointer.h"

#include <sqlite3.h>
#include <sys/stat.h>

namespace calltrack::db {

namespace {

ConnectionOptions checkpointConnection() {
    ConnectionOptions c;
    c.busyTimeoutMs = 0;  // a passive checkpoint never waits; TRUNCATE sets its own
    c.cacheSizeKiB = 2048;
    return c;
}

uint64_t fileBytes(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

WalCheckpointer::WalCheckpointer(const std::string& path, const Clock& clock, Options options,
                                 Warn warn)
    : walPath_(path + "-wal"),
      clock_(clock),
      options_(options),
      warn_(std::move(warn)),
      connection_(path, checkpointConnection()) {}

WalStatus WalCheckpointer::checkpoint() {
    sqlite3* db = connection_.handle().getHandle();
    const int64_t now = clock_.nowMs();
    int logFrames = 0, done = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &logFrames, &done);
    WalStatus s = status();
    s.lastAttemptAtMs = now;
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        s.lastError = sqlite3_errmsg(db);
    } else {
        s.lastError.clear();
        s.logFrames = logFrames;
        s.checkpointedFrames = done;
        // A busy passive checkpoint (another process checkpointing) is
        // neither progress nor a pinned log.
        const bool complete = rc == SQLITE_OK && done >= logFrames;
        if (complete) {
            s.lastCompleteAtMs = now;
            s.behindSinceMs = 0;
            if (fileBytes(walPath_) > options_.truncateAboveBytes) {
                sqlite3_busy_timeout(db, options_.truncateBusyMs);
                if (sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                              nullptr) == SQLITE_OK) {
                    ++s.truncations;
                }
                sqlite3_busy_timeout(db, 0);
            }
        } else if (rc == SQLITE_OK && s.behindSinceMs == 0) {
            s.behindSinceMs = now;
        }
    }
    s.walBytes = fileBytes(walPath_);
    {
        std::lock_guard lock(mutex_);
        status_ = s;
    }
    if (s.behindSinceMs > 0 && now - s.behindSinceMs >= options_.warnAfterMs &&
        now - lastWarnAtMs_ >= options_.warnAfterMs && warn_) {
        lastWarnAtMs_ = now;
        warn_(s);
    }
    return s;
}

WalStatus WalCheckpointer::status() const {
    std::lock_guard lock(mutex_);
    return status_;
}

}  // namespace calltrack::db
