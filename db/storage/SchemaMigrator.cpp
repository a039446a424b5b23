#include "db/storage/SchemaMigrator.h"

#include "db/EngineError.h"
#include "db/storage/Migrations.h"
#include "db/storage/SchemaSql.h"

#include <SQLiteCpp/Exception.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace calltrack::db {

namespace {

bool hasUserTables(Connection& c) {
    Query q(c, "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'");
    q.step();
    return q->getColumn(0).getInt64() > 0;
}

std::string tooNewMessage(const std::string& path, int found) {
    return "database " + path + " has schema version " + std::to_string(found) +
           ", newer than this calltrack (" + std::to_string(kSchemaVersion) +
           "); upgrade calltrack";
}

// WAL must be switched on outside a transaction; it is persistent, and a
// no-op when already set. On a new file that another process is creating at
// the same moment, the pragma can fail with SQLITE_BUSY at once (it holds a
// read lock, so SQLite's busy handler does not wait): retry with back-off
// for as long as the busy timeout allows.
void switchToWal(Connection& c) {
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(c.busyTimeoutMs());
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
        const int rc = c.handle().tryExec("PRAGMA journal_mode = WAL");
        if (rc == SQLITE_OK) return;
        if ((rc & 0xFF) != SQLITE_BUSY && (rc & 0xFF) != SQLITE_LOCKED) {
            throw EngineError(ErrorCode::storage_failure,
                              "cannot switch " + c.path() + " to WAL: " + c.handle().getErrorMsg());
        }
        if (std::chrono::steady_clock::now() >= give_up) {
            throw EngineError(ErrorCode::busy,
                              "database " + c.path() + " is locked by another writer");
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
}

}  // namespace

int SchemaMigrator::version(Connection& c) {
    Query q(c, "PRAGMA user_version");
    q.step();
    return q->getColumn(0).getInt();
}

MigrationResult SchemaMigrator::migrate(Connection& c) {
    switchToWal(c);
    MigrationResult result;
    try {
        c.exec("BEGIN IMMEDIATE");
        const int found = version(c);
        result.fromVersion = found;
        result.toVersion = found;
        if (found > kSchemaVersion)
            throw EngineError(ErrorCode::schema_too_new, tooNewMessage(c.path(), found));
        if (found == 0) {
            if (hasUserTables(c)) {
                throw EngineError(
                    ErrorCode::invalid_argument,
                    "database " + c.path() +
                        " has tables but no calltrack schema version; refusing to touch it");
            }
            c.exec(kSchemaSql);
            result.created = true;
        } else {
            const auto& steps = upgradeSteps();
            for (int v = found; v < kSchemaVersion; ++v) {
                c.exec(steps.at(static_cast<size_t>(v - 1)));
                c.exec(("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
            }
        }
        result.toVersion = version(c);
        if (result.toVersion != kSchemaVersion) {
            throw EngineError(ErrorCode::internal,
                              "schema.sql and kSchemaVersion disagree: got version " +
                                  std::to_string(result.toVersion));
        }
        c.exec("COMMIT");
    } catch (const SQLite::Exception& e) {
        c.handle().tryExec("ROLLBACK");
        if (e.getErrorCode() == SQLITE_BUSY) {
            throw EngineError(ErrorCode::busy,
                              "database " + c.path() + " is locked by another writer");
        }
        throw EngineError(ErrorCode::storage_failure, std::string("migration failed: ") + e.what());
    } catch (...) {
        c.handle().tryExec("ROLLBACK");
        throw;
    }
    return result;
}

void SchemaMigrator::requireCurrent(Connection& c) {
    const int found = version(c);
    if (found == kSchemaVersion) return;
    if (found > kSchemaVersion)
        throw EngineError(ErrorCode::schema_too_new, tooNewMessage(c.path(), found));
    if (found == 0) {
        throw EngineError(ErrorCode::schema_too_old,
                          "database " + c.path() +
                              " has no calltrack schema; run `calltrack migrate --db " + c.path() +
                              "`");
    }
    throw EngineError(ErrorCode::schema_too_old,
                      "database " + c.path() + " has schema version " + std::to_string(found) +
                          ", older than this calltrack (" + std::to_string(kSchemaVersion) +
                          "); run `calltrack migrate --db " + c.path() + "`");
}

}  // namespace calltrack::db
