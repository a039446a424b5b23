#pragma once
// What a handler knows about the request beyond its HTTP form: its id, who
// sent it, and fields for the access log.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace calltrack::api {

struct Principal {
    enum class Kind { anonymous, admin, client } kind = Kind::anonymous;
    std::string clientId;  // for Kind::client
    bool isAdmin() const { return kind == Kind::admin; }
};

struct RequestContext {
    std::string requestId;
    Principal principal;
    std::string route;                  // the matched pattern, for logs
    std::optional<std::string> client;  // for logs
    std::optional<int64_t> call;        // for logs
    // More fields for the access log line (webhooks: the provider's call and
    // event ids and the outcome, so an operator can trace every delivery).
    // Null until a handler sets a field (operator[] makes it an object), so
    // a request without such fields allocates nothing for it.
    nlohmann::json log;
};

}  // namespace calltrack::api
