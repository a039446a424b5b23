#include "db/storage/Database.h"

#include "db/EngineError.h"
#include "db/storage/SchemaMigrator.h"

#include <SQLiteCpp/Exception.h>

#include <filesystem>

namespace calltrack::db {

namespace {

ConnectionOptions writerConnection(const DatabaseOptions& o, bool create) {
    ConnectionOptions c;
    c.create = create;
    c.busyTimeoutMs = o.busyTimeoutMs;
    c.durability = o.durability;
    return c;
}

// The auth readers look up one token row per request: a small cache holds
// the whole api_tokens table.
constexpr int kAuthReaderCacheKiB = 1024;

ConnectionOptions readerConnection(const DatabaseOptions& o, int cacheKiB) {
    ConnectionOptions c = writerConnection(o, false);
    c.cacheSizeKiB = cacheKiB;
    return c;
}

template <class F>
auto translateOpenErrors(const std::string& path, F&& fn) {
    try {
        return fn();
    } catch (const SQLite::Exception& e) {
        if (e.getErrorCode() == SQLITE_BUSY) {
            throw EngineError(ErrorCode::busy,
                              "database " + path + " is locked by another writer: " + e.what());
        }
        throw EngineError(ErrorCode::storage_failure,
                          "cannot open database " + path + ": " + e.what());
    }
}

}  // namespace

const DatabaseOptions& Database::prepare(const DatabaseOptions& options) {
    translateOpenErrors(options.path, [&] {
        const bool exists = std::filesystem::exists(options.path);
        if (!exists && !options.createIfMissing) {
            throw EngineError(ErrorCode::no_database,
                              "no database at " + options.path +
                                  " (create one with `calltrack migrate --db " + options.path +
                                  "`)");
        }
        Connection bootstrap(options.path, writerConnection(options, options.createIfMissing));
        if (options.createIfMissing && SchemaMigrator::version(bootstrap) == 0)
            SchemaMigrator::migrate(bootstrap);
        SchemaMigrator::requireCurrent(bootstrap);
        return 0;
    });
    return options;
}

Database::Database(const DatabaseOptions& options)
    : options_(prepare(options)),
      writer_(options_.path, WriterOptions{.connection = writerConnection(options_, false),
                                           .maxBatch = options_.maxBatch,
                                           .onBatch = options_.onBatch,
                                           .threadNiceAdjustment = options_.writerNiceAdjustment}),
      readers_(options_.path, options_.readers, readerConnection(options_, options_.readerCacheKiB),
               options_.readWait),
      authReaders_(options_.path, 2, readerConnection(options_, kAuthReaderCacheKiB),
                   options_.readWait) {}

MigrationResult Database::migrate(const DatabaseOptions& options) {
    return translateOpenErrors(options.path, [&] {
        Connection c(options.path, writerConnection(options, true));
        return SchemaMigrator::migrate(c);
    });
}

}  // namespace calltrack::db
