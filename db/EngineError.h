#pragma once
// The one exception type the db layer lets out. Each code is stable: the CLI
// maps it to an exit status and the HTTP layer to a status and error code.

#include <stdexcept>
#include <string>
#include <string_view>

namespace calltrack::db {

enum class ErrorCode {
    invalid_argument,      // the request itself is wrong (bad id, bad JSON, ...)
    not_found,             // no such call / client
    conflict,              // optimistic check failed, or the entity already exists
    provider_id_conflict,  // the call has another provider_call_id, or the id is another call's
    busy,                  // another writer held the database past the busy timeout
    deadline_exceeded,     // the operation could not start before its deadline
    storage_failure,       // I/O error, disk full, out of memory: nothing was committed
    storage_unavailable,   // a read failed (I/O, locked schema, no read connection in time)
    shutting_down,         // the writer is stopping and takes no new work
    database_unavailable,  // the database breaker is open: not tried, answered at once
    spool_full,            // the intake spool is at its size or age bound
    spool_unwritable,      // the intake spool's write or fsync failed
    schema_too_new,        // the database was written by a newer calltrack
    schema_too_old,        // the database needs `calltrack migrate`
    no_database,           // the database file does not exist
    internal,              // a bug: an unexpected constraint failure, say
};

std::string_view nameOf(ErrorCode code);

class EngineError : public std::runtime_error {
  public:
    EngineError(ErrorCode code, const std::string& message)
        : std::runtime_error(message), code_(code) {}
    ErrorCode code() const noexcept { return code_; }

  private:
    ErrorCode code_;
};

}  // namespace calltrack::db
