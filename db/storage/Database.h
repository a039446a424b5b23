#pragma once
// An open calltrack database: checks (or creates) the schema, then owns the
// process's single writer and its pool of read-only connections.

#include "db/storage/GroupCommitWriter.h"
#include "db/storage/ReadPool.h"
#include "db/storage/SchemaMigrator.h"

#include <chrono>
#include <string>

namespace calltrack::db {

struct DatabaseOptions {
    std::string path = "calltrack.db";
    Durability durability = Durability::full;
    int busyTimeoutMs = 5000;
    size_t readers = 4;
    // A read waits at most this for a free read connection (then 503).
    std::chrono::milliseconds readWait{2000};
    size_t maxBatch = 512;
    // Each general read connection's page cache. Smaller than the writer's
    // (ConnectionOptions::cacheSizeKiB): reads miss into the operating
    // system's page cache, and serve's six read connections with 64 MiB
    // would each grow towards a copy of the hot database (measured:
    // bench/rss_bench.sh, docs/PERFORMANCE.md issue 13).
    int readerCacheKiB = 8192;
    // Create the file and its schema when it does not exist (serve does;
    // commands that only inspect or change an existing database do not).
    bool createIfMissing = false;
    // WriterOptions::onBatch (serve's metrics)
    std::function<void(size_t ops, double seconds, bool committed)> onBatch{};
    // WriterOptions::threadNiceAdjustment (serve's --writer-nice)
    int writerNiceAdjustment = 0;
};

class Database {
  public:
    // Throws EngineError: no_database, schema_too_new, schema_too_old, busy, storage_failure.
    explicit Database(const DatabaseOptions& options);

    GroupCommitWriter& writer() { return writer_; }
    ReadPool& readers() { return readers_; }
    // Two read connections for authenticating requests only: slow listings
    // holding every general reader must not stall each authenticated call.
    ReadPool& authReaders() { return authReaders_; }
    const DatabaseOptions& options() const { return options_; }

    // For `migrate`: creates or upgrades the file at options.path.
    static MigrationResult migrate(const DatabaseOptions& options);

  private:
    static const DatabaseOptions& prepare(const DatabaseOptions& options);

    DatabaseOptions options_;
    GroupCommitWriter writer_;
    ReadPool readers_;
    ReadPool authReaders_;
};

}  // namespace calltrack::db
