#pragma once
// Schema versions live in PRAGMA user_version. A fresh database gets
// schema.sql whole; an older one gets the upgrade steps from its version on,
// each in the same BEGIN IMMEDIATE transaction, so a migration is atomic and
// serialised with every other writer (other calltrack processes wait on the
// busy timeout and then see either the old or the new schema, never a mix).

#include "db/storage/Connection.h"

namespace calltrack::db {

// The version schema.sql creates; tests check that the two agree.
inline constexpr int kSchemaVersion = 7;

struct MigrationResult {
    int fromVersion = 0;
    int toVersion = 0;
    bool created = false;
};

class SchemaMigrator {
  public:
    // Reads the version without changing anything; 0 = empty database.
    static int version(Connection& connection);
    // Creates or upgrades; throws EngineError schema_too_new for a database
    // written by a newer calltrack, invalid_argument for a non-calltrack file.
    static MigrationResult migrate(Connection& connection);
    // Throws unless the database is exactly at kSchemaVersion (what a binary
    // needs before it reads or writes).
    static void requireCurrent(Connection& connection);
};

}  // namespace calltrack::db
