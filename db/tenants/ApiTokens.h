#pragma once
// API bearer tokens: created (shown once), listed, revoked, checked. Only
// their SHA-256 is stored.

#include "db/Clock.h"
#include "db/storage/Connection.h"
#include "db/storage/GroupCommitWriter.h"

#include <optional>
#include <string>
#include <vector>

namespace calltrack::db {

struct ApiToken {
    std::string id;                       // public handle, e.g. for revoke
    std::optional<std::string> clientId;  // absent: admin
    std::optional<std::string> label;
    int64_t createdAt = 0;
    std::optional<int64_t> revokedAt{};
};

struct CreatedToken {
    ApiToken token;
    std::string secret;  // the bearer token; not stored anywhere
};

class ApiTokens {
  public:
    // clientId absent: an admin token. Throws not_found for an unknown client.
    static CreatedToken create(GroupCommitWriter& writer, const Clock& clock,
                               const std::optional<std::string>& clientId,
                               const std::optional<std::string>& label);
    // False if no such (unrevoked) token.
    static bool revoke(GroupCommitWriter& writer, const Clock& clock, const std::string& id);
    static std::vector<ApiToken> list(Connection& c);
    // The unrevoked token with this secret, if any.
    static std::optional<ApiToken> find(Connection& c, const std::string& secret);
    static bool anyActive(Connection& c);
};

}  // namespace calltrack::db
