#include "api/auth/Access.h"

#include "api/http/ApiError.h"

namespace calltrack::api {

void requireAdmin(const RequestContext& rc) {
    if (!rc.principal.isAdmin())
        throw ApiError(403, "forbidden", "this endpoint needs the admin token");
}

bool maySee(const RequestContext& rc, const std::string& clientId) {
    return rc.principal.isAdmin() ||
           (rc.principal.kind == Principal::Kind::client && rc.principal.clientId == clientId);
}

}  // namespace calltrack::api
