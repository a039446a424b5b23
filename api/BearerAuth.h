#pragma once
// Who is calling: `Authorization: Bearer <token>` checked against the admin
// token (constant-time). With no token configured the server runs open, which
// HttpServer allows only on a loopback address.

#include "api/RequestContext.h"

#include <optional>
#include <string>

namespace calltrack::api {

class BearerAuth {
  public:
    explicit BearerAuth(std::optional<std::string> adminToken)
        : adminToken_(std::move(adminToken)) {}

    bool open() const { return !adminToken_; }
    // The principal for an Authorization header value; nullopt = reject (401).
    std::optional<Principal> authenticate(const std::string& authorizationHeader) const;

  private:
    std::optional<std::string> adminToken_;
};

}  // namespace calltrack::api
