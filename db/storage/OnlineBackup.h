#pragma once
// `calltrack backup PATH`: a consistent copy of a live database, taken with
// SQLite's online backup API in one step under one read transaction (so
// writers in every process go on meanwhile, and the copy is one committed
// state), then fsynced with its directory. The target must not exist: a
// backup never overwrites anything.

#include <cstdint>
#include <string>

namespace calltrack::db {

struct BackupResult {
    int64_t pages = 0;
    uint64_t bytes = 0;
};

class OnlineBackup {
  public:
    // Throws EngineError: invalid_argument (the target exists or cannot be
    // created), busy, storage_failure.
    static BackupResult copy(const std::string& source, const std::string& target,
                             int busyTimeoutMs);
};

}  // namespace calltrack::db
