#pragma once
// Keeps the write-ahead log bounded and its state visible. SQLite's own
// auto-checkpoint runs after commits, passively: a reader that never ends (a
// forgotten `BEGIN; SELECT ...` in a sqlite3 shell) pins the WAL, which then
// grows with every write, and once the reader is gone nothing shrinks it
// until enough new writes come. So, every few seconds:
//   * a PASSIVE checkpoint (never waits, never blocks a writer), which tells
//     how far behind the log is;
//   * when that completed and the file is larger than `truncateAboveBytes`,
//     a TRUNCATE checkpoint with a short busy timeout gives the disk back;
//   * when checkpoints have not completed for `warnAfterMs`, the caller is
//     told (serve logs a warning naming the WAL size), again every
//     `warnAfterMs` while it lasts.
// Its own read-write connection, used only from the thread that calls
// checkpoint() (serve's checkpoint job).

#include "db/Clock.h"
#include "db/storage/Connection.h"

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace calltrack::db {

struct WalStatus {
    uint64_t walBytes = 0;  // size of the -wal file
    int64_t logFrames = 0;  // frames in the log at the last checkpoint
    int64_t checkpointedFrames = 0;
    int64_t lastAttemptAtMs = 0;   // 0: none yet
    int64_t lastCompleteAtMs = 0;  // the last checkpoint that reached the end of the log
    int64_t behindSinceMs = 0;     // > 0: incomplete since then (a reader pins the log)
    uint64_t truncations = 0;
    std::string lastError;
};

class WalCheckpointer {
  public:
    struct Options {
        uint64_t truncateAboveBytes = 4ull * 1024 * 1024;
        int64_t warnAfterMs = 60'000;
        int truncateBusyMs = 100;
    };
    using Warn = std::function<void(const WalStatus& status)>;

    WalCheckpointer(const std::string& path, const Clock& clock, Options options, Warn warn);

    // One round; returns the status after it. Never throws for the
    // database's trouble (it is in lastError).
    WalStatus checkpoint();
    WalStatus status() const;  // any thread

  private:
    std::string walPath_;
    const Clock& clock_;
    Options options_;
    Warn warn_;
    Connection connection_;
    int64_t lastWarnAtMs_ = 0;  // checkpoint()'s thread only
    mutable std::mutex mutex_;
    WalStatus status_;  // guarded by mutex_
};

}  // namespace calltrack::db
