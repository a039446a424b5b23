#pragma once
// Exit statuses of the calltrack CLI (documented in README.md).

#include "db/EngineError.h"

namespace calltrack::app {

enum ExitCode : int {
    kOk = 0,
    kFailure = 1,        // storage failure, internal error, `check` found violations
    kUsage = 2,          // bad arguments or invalid input
    kBusy = 3,           // the database stayed locked past the busy timeout
    kRefused = 4,        // `admit`: the call was refused (the reason is printed)
    kNotFound = 5,       // no such client / call
    kWrongDatabase = 6,  // missing database, or schema newer/older than this binary
};

inline int exitCodeFor(db::ErrorCode code) {
    switch (code) {
        case db::ErrorCode::invalid_argument:
        case db::ErrorCode::conflict:
        case db::ErrorCode::provider_id_conflict:
            return kUsage;
        case db::ErrorCode::not_found:
            return kNotFound;
        case db::ErrorCode::busy:
        case db::ErrorCode::deadline_exceeded:
        case db::ErrorCode::database_unavailable:
            return kBusy;
        case db::ErrorCode::no_database:
        case db::ErrorCode::schema_too_new:
        case db::ErrorCode::schema_too_old:
            return kWrongDatabase;
        default:
            return kFailure;
    }
}

}  // namespace calltrack::app
