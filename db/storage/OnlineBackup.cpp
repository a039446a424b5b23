#include "db/storage/OnlineBackup.h"

#include "db/EngineError.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>

namespace calltrack::db {

namespace {

struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Handle = std::unique_ptr<sqlite3, Closer>;

Handle open(const std::string& path, int flags) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    Handle h(raw);
    if (rc != SQLITE_OK) {
        throw EngineError(
            ErrorCode::storage_failure,
            "cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
    }
    return h;
}

void fsyncPath(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0)
        throw EngineError(ErrorCode::storage_failure, "cannot open " + path + " to fsync it");
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0)
        throw EngineError(ErrorCode::storage_failure,
                          "fsync of " + path + " failed: " + std::strerror(errno));
}

}  // namespace

BackupResult OnlineBackup::copy(const std::string& source, const std::string& target,
                                int busyTimeoutMs) {
    if (std::filesystem::exists(target) || std::filesystem::exists(target + "-wal")) {
        throw EngineError(ErrorCode::invalid_argument,
                          "the backup target " + target + " exists; a backup never overwrites");
    }
    if (!std::filesystem::exists(source))
        throw EngineError(ErrorCode::no_database, "no database at " + source);
    // The name is taken first, exclusively: a file that appears meanwhile
    // is never overwritten (nor removed on failure).
    const int reserved = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (reserved < 0) {
        throw EngineError(ErrorCode::invalid_argument, "cannot create the backup target " + target +
                                                           ": " + std::strerror(errno));
    }
    ::close(reserved);
    Handle src = open(source, SQLITE_OPEN_READONLY);
    sqlite3_busy_timeout(src.get(), busyTimeoutMs);
    Handle dst = open(target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    sqlite3_backup* backup = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
    if (!backup) {
        const std::string why = sqlite3_errmsg(dst.get());
        dst.reset();
        std::filesystem::remove(target);
        throw EngineError(ErrorCode::storage_failure, "cannot start the backup: " + why);
    }
    // All pages in one step: one read transaction, one consistent state.
    const int rc = sqlite3_backup_step(backup, -1);
    BackupResult out;
    out.pages = sqlite3_backup_pagecount(backup);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
        const std::string why = sqlite3_errstr(rc);
        dst.reset();
        std::error_code ec;
        std::filesystem::remove(target, ec);
        std::filesystem::remove(target + "-wal", ec);
        std::filesystem::remove(target + "-shm", ec);
        throw EngineError(
            rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? ErrorCode::busy : ErrorCode::storage_failure,
            "backup failed, no copy left behind: " + why);
    }
    // The copy carries the source's WAL mode in its header (a restored copy
    // must run in WAL like the original): fold its own log into the file,
    // so that closing it leaves one self-contained file.
    sqlite3_wal_checkpoint_v2(dst.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    dst.reset();
    fsyncPath(target, O_RDONLY);
    const auto dir = std::filesystem::absolute(target).parent_path().string();
    fsyncPath(dir, O_RDONLY | O_DIRECTORY);
    out.bytes = std::filesystem::file_size(target);
    return out;
}

}  // namespace calltrack::db
