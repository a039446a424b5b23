#pragma once
// The text of schema.sql, compiled in by CMake (db/storage/SchemaSql.cpp.in).

namespace calltrack::db {
extern const char* const kSchemaSql;
}
