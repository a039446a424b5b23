#pragma once
// Who is calling: `Authorization: Bearer <token>`, checked against the admin
// token from the environment (constant-time) and the tokens in the database
// (`calltrack token create`; only their hashes are stored). With neither, the
// server runs open, which HttpServer allows only on a loopback address.

#include "api/http/RequestContext.h"

#include <functional>
#include <optional>
#include <string>

namespace calltrack::api {

class BearerAuth {
  public:
    // Looks a presented token up in the database.
    using TokenLookup = std::function<std::optional<Principal>(const std::string& token)>;

    BearerAuth(std::optional<std::string> adminToken, TokenLookup lookup, bool databaseHasTokens)
        : adminToken_(std::move(adminToken)),
          lookup_(std::move(lookup)),
          databaseHasTokens_(databaseHasTokens) {}

    bool open() const { return !adminToken_ && !databaseHasTokens_; }
    // The principal for an Authorization header value; nullopt = reject (401).
    std::optional<Principal> authenticate(const std::string& authorizationHeader) const;

  private:
    std::optional<std::string> adminToken_;
    TokenLookup lookup_;
    bool databaseHasTokens_;
};

}  // namespace calltrack::api
