#include "api/http/ApiError.h"

namespace calltrack::api {

nlohmann::json ApiError::body(const ApiError& e, const std::string& requestId) {
    nlohmann::json out = {
        {"error", {{"code", e.code}, {"message", e.what()}, {"request_id", requestId}}}};
    if (e.retryAfterMs) out["retry_after_ms"] = *e.retryAfterMs;
    for (const auto& [name, value] : e.extra.items()) out[name] = value;
    return out;
}

ApiError ApiError::fromEngine(const db::EngineError& e) {
    using db::ErrorCode;
    switch (e.code()) {
        case ErrorCode::invalid_argument:
            return {400, "invalid_request", e.what()};
        case ErrorCode::not_found:
            return {404, "not_found", e.what()};
        case ErrorCode::conflict:
            return {409, "conflict", e.what()};
        case ErrorCode::provider_id_conflict:
            return {409, "provider_call_id_conflict", e.what()};
        case ErrorCode::busy:
        case ErrorCode::deadline_exceeded: {
            ApiError out(
                503, "database_busy",
                std::string("the database could not take the write in time; retry: ") + e.what());
            out.retryAfterMs = 1000;
            return out;
        }
        case ErrorCode::storage_failure: {
            ApiError out(503, "storage_failure", e.what());
            out.retryAfterMs = 1000;
            return out;
        }
        case ErrorCode::storage_unavailable: {
            ApiError out(503, "storage_unavailable",
                         std::string("the database could not be read; retry: ") + e.what());
            out.retryAfterMs = 1000;
            return out;
        }
        case ErrorCode::database_unavailable: {
            ApiError out(503, "database_unavailable", e.what());
            out.retryAfterMs = 1000;
            return out;
        }
        case ErrorCode::spool_full:
        case ErrorCode::spool_unwritable: {
            ApiError out(503, std::string(nameOf(e.code())),
                         std::string("the database could not take the event in time and the "
                                     "intake spool could not either: ") +
                             e.what());
            out.retryAfterMs = 1000;
            return out;
        }
        case ErrorCode::shutting_down: {
            ApiError out(503, "shutting_down", e.what());
            out.retryAfterMs = 1000;
            return out;
        }
        default:
            return {500, "internal", "internal error"};
    }
}

}  // namespace calltrack::api
