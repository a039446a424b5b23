#pragma once
// The one error shape of the HTTP API:
//   {"error": {"code": "<stable code>", "message": "...", "request_id": "..."}}
// plus, for 429 and 503, "retry_after_ms" and a Retry-After header.
// Handlers throw ApiError; HttpServer turns it into the response.

#include "db/EngineError.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>

namespace calltrack::api {

class ApiError : public std::runtime_error {
  public:
    ApiError(int status, std::string code, const std::string& message)
        : std::runtime_error(message), status(status), code(std::move(code)) {}

    int status;
    std::string code;
    std::optional<int64_t> retryAfterMs;
    std::string allow;  // for 405
    // Fields beside "error" in the body (e.g. "call" for call_already_ended).
    nlohmann::json extra = nlohmann::json::object();

    static ApiError badRequest(const std::string& message) {
        return {400, "invalid_request", message};
    }
    static ApiError notFound(const std::string& code, const std::string& message) {
        return {404, code, message};
    }
    // A webhook whose signature did not verify (or whose account is unknown).
    static ApiError invalidSignature(const std::string& message) {
        return {403, "invalid_signature", message};
    }
    static ApiError unknownField(const std::string& message) {
        return {400, "unknown_field", message};
    }
    // {"error": {code, message, request_id}} plus retry_after_ms when set,
    // plus `extra`.
    static nlohmann::json body(const ApiError& e, const std::string& requestId);
    // Maps an engine error to its HTTP status and stable code.
    static ApiError fromEngine(const db::EngineError& e);
};

}  // namespace calltrack::api
