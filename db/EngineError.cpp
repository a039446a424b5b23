#include "db/EngineError.h"

namespace calltrack::db {

std::string_view nameOf(ErrorCode code) {
    switch (code) {
        case ErrorCode::invalid_argument:
            return "invalid_argument";
        case ErrorCode::not_found:
            return "not_found";
        case ErrorCode::conflict:
            return "conflict";
        case ErrorCode::provider_id_conflict:
            return "provider_call_id_conflict";
        case ErrorCode::busy:
            return "database_busy";
        case ErrorCode::deadline_exceeded:
            return "deadline_exceeded";
        case ErrorCode::storage_failure:
            return "storage_failure";
        case ErrorCode::storage_unavailable:
            return "storage_unavailable";
        case ErrorCode::shutting_down:
            return "shutting_down";
        case ErrorCode::database_unavailable:
            return "database_unavailable";
        case ErrorCode::spool_full:
            return "spool_full";
        case ErrorCode::spool_unwritable:
            return "spool_unwritable";
        case ErrorCode::schema_too_new:
            return "schema_too_new";
        case ErrorCode::schema_too_old:
            return "schema_too_old";
        case ErrorCode::no_database:
            return "no_database";
        case ErrorCode::internal:
            return "internal";
    }
    return "internal";
}

}  // namespace calltrack::db
